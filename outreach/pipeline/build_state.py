"""Whether the warehouse already holds what a build would make: the skip of an unchanged night.

A build's output depends on the raw layer (the file versions the ledger holds, the rows in each
raw table, the gazetteer loaded with them, the PII key the tokens were made with), the as-of
date, the dbt project, and the pipeline's own code and libraries. ``fingerprint`` hashes all of
them (a few milliseconds; the raw layer through one read-only connection). Publishing records
the fingerprint of what it published in ``warehouse/build_state.json``, next to the build file;
a run whose fingerprint equals it, and whose published file is still the one recorded, has
nothing to build, check or publish (``decide``). Any build that starts removes the record first
(``invalidate``), so a backfill of another date, a failed build or a build outside the DAG can
never leave a record that the build file no longer matches. Anything that cannot be read means
"build": skipping is an optimisation, never a guess.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from outreach.settings import DBT_PROJECT_DIR, Settings

STATE_FILE = "build_state.json"
ROOT = Path(__file__).resolve().parent.parent
# the pipeline's code: whatever it changes can change what a build makes
CODE_DIRS = ("outreach", "ingest", "expectations", "dags")
CODE_SUFFIXES = {".py", ".yml", ".yaml", ".json", ".sql"}
LIBRARIES = ("dbt-core", "dbt-duckdb", "duckdb", "great-expectations", "pyarrow", "pandas")
DBT_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".py", ".md"}
DBT_NOT_SOURCES = {"target", "logs", "dbt_packages"}


@dataclass(frozen=True)
class Fingerprint:
    digest: str
    parts: dict[str, str]  # what went into it, each hashed: raw, as_of, dbt, code, ...

    def changed_parts(self, other: dict[str, str] | None) -> list[str]:
        """The parts that differ from ``other`` (a recorded fingerprint's parts)."""
        other = other or {}
        return sorted(
            k for k in self.parts.keys() | other.keys() if self.parts.get(k) != other.get(k)
        )


@dataclass(frozen=True)
class Decision:
    build: bool
    reason: str  # for people: why the run builds, or why it need not
    fingerprint: str | None
    changed: tuple[str, ...] = ()  # the fingerprint parts that changed since the last publish
    reuses_run: str | None = None  # the run whose published warehouse is still current

    def as_dict(self) -> dict:
        return asdict(self)


def _hash_files(files: list[Path], root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _walk(top: Path, suffixes: set[str], skip: set[str] = frozenset()) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if not d.startswith((".", "__")) and d not in skip]
        out += [
            Path(root) / f for f in files if Path(f).suffix in suffixes and not f.startswith(".")
        ]
    return out


def code_version() -> str:
    """The pipeline's code (its packages and the DAG) and the libraries that build and check."""
    from importlib.metadata import PackageNotFoundError, version

    files = [p for d in CODE_DIRS for p in _walk(ROOT / d, CODE_SUFFIXES)]
    libs = []
    for name in LIBRARIES:
        try:
            libs.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            libs.append(f"{name} missing")
    return hashlib.sha256((_hash_files(files, ROOT) + ";" + ";".join(libs)).encode()).hexdigest()


def dbt_project_version() -> str:
    """Every source of the dbt project: models, macros, tests, sources, dbt_project.yml."""
    top = DBT_PROJECT_DIR
    files = [
        p
        for p in _walk(top, DBT_SUFFIXES)
        if not set(p.relative_to(top).parts[:1]) & DBT_NOT_SOURCES
    ]
    return _hash_files(files, top)


# The raw layer as the models see it. The ledger changes with every file version loaded,
# superseded or quarantined; the row counts and key state catch any other writer of raw.
_RAW_QUERIES = {
    "file_versions": (
        "select coalesce(md5(string_agg(concat_ws('|', source_file, provider, file_sha256, "
        "size_bytes, first_seen, file_mtime, status, dataset_rows, rows_loaded, rows_quarantined, "
        "load_id), chr(10) order by source_file, file_sha256, first_seen, status)), '') "
        "from raw.file_versions"
    ),
    "townships": (
        "select coalesce(md5(string_agg(concat_ws('|', township_code, township_name, county_code, "
        "county_name), chr(10) order by township_code, township_name)), '') from raw.townships"
    ),
    "pii_key_state": (
        "select coalesce(md5(string_agg(fingerprint, chr(10) order by fingerprint)), '') "
        "from raw.pii_key_state"
    ),
}


def raw_version(build_db: Path) -> str:
    """The raw layer of ``build_db``: its ledger, gazetteer and key state, and the rows of every
    raw table (counts: a load changes the ledger in the same transaction)."""
    import duckdb

    con = duckdb.connect(str(build_db), read_only=True)
    try:
        parts = [f"{k}={con.execute(q).fetchone()[0]}" for k, q in _RAW_QUERIES.items()]
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw' "
                "order by table_name"
            ).fetchall()
        ]
        for table in tables:
            n = con.execute(f'select count(*) from raw."{table}"').fetchone()[0]
            parts.append(f"{table}:{n}")
    finally:
        con.close()
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def fingerprint(settings: Settings, as_of: dt.date) -> Fingerprint:
    """What a build for ``as_of`` would be made from, hashed."""
    parts = {
        "raw": raw_version(settings.build_db),
        "as_of": as_of.isoformat(),
        "dbt": dbt_project_version(),
        "code": code_version(),
        "gazetteer": hashlib.sha256(Path(settings.gazetteer).read_bytes()).hexdigest(),
        "timezone": str(settings.tz),
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return Fingerprint(digest, parts)


def state_path(settings: Settings) -> Path:
    return settings.build_db.parent / STATE_FILE


def read_state(settings: Settings) -> dict | None:
    """The record of the last publish, or None when there is none or it cannot be read."""
    try:
        state = json.loads(state_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = (
        isinstance(state, dict)
        and isinstance(state.get("fingerprint"), str)
        and isinstance(state.get("parts"), dict)
        and isinstance(state.get("published_files"), list)
    )
    return state if ok else None


def invalidate(settings: Settings) -> None:
    """A build is starting: the build file will no longer be what the record describes."""
    state_path(settings).unlink(missing_ok=True)


def _file_id(path: Path) -> dict | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def record_published(settings: Settings, fp: Fingerprint, run_id: str, result: dict) -> None:
    """After a publish (``publish.publish``'s result): the build file and the files just
    published are what ``fp`` makes."""
    files = [_file_id(Path(result["history_path"]))]
    if result.get("current"):
        files.append(_file_id(Path(result["path"])))
    state = {
        "fingerprint": fp.digest,
        "parts": fp.parts,
        "run_id": run_id,
        "as_of": fp.parts["as_of"],
        "published_files": files,
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    path = state_path(settings)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def decide(settings: Settings, as_of: dt.date, force: bool = False) -> Decision:
    """Build, or not: not when the last publish recorded this very fingerprint and its files
    are still in place."""
    try:
        fp = fingerprint(settings, as_of)
    except Exception as exc:  # no raw layer yet, a locked or broken file: build
        return Decision(True, f"could not tell whether anything changed ({exc}); building", None)
    if force:
        return Decision(True, "a rebuild was asked for", fp.digest)
    state = read_state(settings)
    if state is None:
        return Decision(True, "no published build is recorded for this build file", fp.digest)
    changed = fp.changed_parts(state.get("parts"))
    if state.get("fingerprint") != fp.digest or changed:
        what = {
            "raw": "the raw layer (new, changed or quarantined files)",
            "as_of": f"the as-of date (last published: {state.get('as_of')})",
            "dbt": "the dbt project",
            "code": "the pipeline's code or libraries",
            "gazetteer": "the gazetteer",
            "timezone": "the time zone",
        }
        names = ", ".join(what.get(k, k) for k in changed) or "the fingerprint"
        return Decision(
            True, f"changed since run {state.get('run_id')}: {names}", fp.digest, tuple(changed)
        )
    for recorded in state["published_files"]:
        if not isinstance(recorded, dict) or _file_id(Path(str(recorded.get("path")))) != recorded:
            where = recorded.get("path") if isinstance(recorded, dict) else "a published file"
            return Decision(
                True, f"{where} is not the file run {state.get('run_id')} published", fp.digest
            )
    return Decision(
        False,
        f"nothing changed since run {state.get('run_id')} published as-of {state.get('as_of')}: "
        "the same raw file versions, as-of date, dbt project and code; its published warehouse "
        "is current",
        fp.digest,
        reuses_run=state.get("run_id"),
    )
