"""Run dbt (build, test, parse) against the build file, each time in a child process.

Also owns the prebuilt manifest (``dbt_project/target/manifest.json``) from which the DAG renders
one Airflow task per model (``outreach/airflow/dbt_tasks.py``): ``build_manifest`` writes it with
``dbt parse``, ``manifest_stale_reason`` says whether a file of the project is newer than it.
Nothing here imports dbt: it is safe to import while Airflow parses the DAG file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from outreach.settings import DBT_PROJECT_DIR, PROGRAMME_START, Settings

# Where ``outreach dbt-manifest`` writes the manifest the DAG is rendered from (gitignored, and
# built into the image by the Dockerfile).
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
# Files whose change can change the manifest; dbt's own output folders are not sources.
_MANIFEST_SOURCE_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".py"}
_NOT_SOURCES = {"target", "logs", "dbt_packages"}


@dataclass(frozen=True)
class DbtNodeResult:
    unique_id: str
    resource_type: str
    status: str  # success | error | fail | warn | pass | skipped
    message: str | None
    failures: int | None
    severity: str | None


class DbtError(RuntimeError):
    """dbt could not build the warehouse (a model failed to compile or run)."""


def dbt_vars(as_of: dt.date | str | None = None) -> dict[str, str]:
    """The project's vars for one dbt command: the programme's start (from outreach.settings,
    never dbt_project.yml's default alone) and the as-of date when there is one."""
    out = {"programme_start": PROGRAMME_START.isoformat()}
    if as_of is not None:
        out["as_of"] = as_of if isinstance(as_of, str) else as_of.isoformat()
    return out


def dbt_env(build_db: Path) -> dict[str, str]:
    """What every dbt command needs in its environment besides ours: the database profiles.yml
    opens, and no usage tracking."""
    return {"OUTREACH_BUILD_DB": str(build_db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def dbt_command(
    args: list[str], target: Path, logs: Path, as_of: dt.date | str | None = None
) -> list[str]:
    """The command line of one dbt invocation on the project, in this environment's dbt."""
    return [
        str(Path(sys.executable).with_name("dbt")),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(logs),
        "--vars",
        json.dumps(dbt_vars(as_of)),
    ]


def run_dbt(
    args: list[str], build_db: Path, target: Path, logs: Path, as_of: dt.date | str | None = None
) -> subprocess.CompletedProcess:
    """One dbt command in a child process, output captured."""
    return subprocess.run(
        dbt_command(args, target, logs, as_of),
        env={**os.environ, **dbt_env(build_db)},
        capture_output=True,
        text=True,
    )


def _invoke(args: list[str], settings: Settings, as_of: dt.date) -> list[DbtNodeResult]:
    """Run dbt in a child process: it releases the build file when it exits (dbt-duckdb keeps
    its connection open for the life of the process) and keeps dbt's global state out of ours."""
    target = settings.home / "dbt" / "target"
    logs = settings.home / "dbt" / "logs"
    run_results = target / "run_results.json"
    run_results.unlink(missing_ok=True)
    proc = run_dbt(args, settings.build_db, target, logs, as_of)
    if not run_results.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise DbtError(
            f"dbt {args[0]} failed before running anything (exit {proc.returncode}):\n{tail}"
        )
    return read_results(target)


def read_results(target: Path) -> list[DbtNodeResult]:
    """The nodes of the last dbt invocation whose target path is ``target`` (its
    ``run_results.json``, typed with its ``manifest.json``); empty when dbt ran nothing."""
    nodes: list[DbtNodeResult] = []
    manifest = _load_json(target / "manifest.json")
    for r in _load_json(target / "run_results.json").get("results", []):
        node = manifest.get("nodes", {}).get(r["unique_id"]) or manifest.get("unit_tests", {}).get(
            r["unique_id"], {}
        )
        nodes.append(
            DbtNodeResult(
                unique_id=r["unique_id"],
                resource_type=node.get("resource_type", r["unique_id"].split(".")[0]),
                status=r["status"],
                message=r.get("message"),
                failures=r.get("failures"),
                severity=(node.get("config") or {}).get("severity"),
            )
        )
    return nodes


def _load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def build_models(
    settings: Settings, as_of: dt.date, select: str | None = None
) -> list[DbtNodeResult]:
    """Build every model, or the ``select``ed ones (no tests): errors here mean there is no
    warehouse to check."""
    nodes = _invoke(["run", *(["--select", select] if select else [])], settings, as_of)
    broken = [n for n in nodes if n.status == "error"]
    if broken:
        details = "; ".join(f"{n.unique_id}: {n.message}" for n in broken[:5])
        raise DbtError(f"dbt could not build {len(broken)} model(s): {details}")
    return nodes


def run_tests(settings: Settings, as_of: dt.date) -> list[DbtNodeResult]:
    """The data tests, the night's business; failures are returned, not raised: the gate
    decides. dbt's unit tests check the models' SQL, not the data, so they run in CI
    (:func:`run_unit_tests`, ``tests/integration/test_dbt_unit_tests.py``), not every night."""
    return _invoke(["test", "--select", "test_type:data"], settings, as_of)


def run_unit_tests(settings: Settings, as_of: dt.date) -> list[DbtNodeResult]:
    """dbt's unit tests of the models, against a built warehouse (they read its relations'
    columns); failures are returned."""
    return _invoke(["test", "--select", "test_type:unit"], settings, as_of)


def _manifest_sources() -> list[Path]:
    sources = []
    for root, dirs, files in os.walk(DBT_PROJECT_DIR):
        if Path(root) == DBT_PROJECT_DIR:
            dirs[:] = [d for d in dirs if d not in _NOT_SOURCES]
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        sources += [
            Path(root) / f
            for f in files
            if not f.startswith(".") and Path(f).suffix in _MANIFEST_SOURCE_SUFFIXES
        ]
    return sources


def manifest_stale_reason(manifest: Path | None = None) -> str | None:
    """Why ``manifest`` (default ``MANIFEST_PATH``) cannot be trusted (missing, or older than a
    file of the dbt project), or None. Only file times are read: a few milliseconds, safe at DAG
    parse time."""
    manifest = manifest or MANIFEST_PATH
    if not manifest.is_file():
        return f"{manifest} does not exist"
    built = manifest.stat().st_mtime
    newer = [p for p in _manifest_sources() if p.stat().st_mtime > built]
    if newer:
        names = ", ".join(str(p.relative_to(DBT_PROJECT_DIR)) for p in sorted(newer)[:3])
        more = f" and {len(newer) - 3} more" if len(newer) > 3 else ""
        return f"{manifest} is older than {names}{more}"
    return None


def build_manifest(settings: Settings, manifest: Path | None = None) -> Path:
    """``dbt parse`` into ``manifest`` (default ``MANIFEST_PATH``): the model graph the DAG
    renders, without running anything against the warehouse (parse opens no connection; the
    build file need not exist).

    dbt writes into a private folder first and the manifest is then moved into place, so a DAG
    parsed at the same moment reads the old manifest or the new one, never half of one. Its time
    is set to when the parse started (or to the newest project file if that is later, as with a
    clock-skewed checkout), so a file edited during the parse still marks it stale."""
    manifest = manifest or MANIFEST_PATH
    started = time.time()
    newest = max((p.stat().st_mtime for p in _manifest_sources()), default=started)
    work = manifest.parent / f".parse-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        proc = run_dbt(["parse"], settings.build_db, work, work)
        if proc.returncode != 0 or not (work / "manifest.json").is_file():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise DbtError(f"dbt parse failed (exit {proc.returncode}):\n{tail}")
        os.replace(work / "manifest.json", manifest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stamp = max(started, newest)
    os.utime(manifest, (stamp, stamp))
    return manifest


def ensure_manifest(settings: Settings, manifest: Path | None = None) -> bool:
    """Rebuild ``manifest`` when it is missing or stale; True when it was rebuilt."""
    if manifest_stale_reason(manifest) is None:
        return False
    build_manifest(settings, manifest)
    return True


def manifest_models(manifest: Path | None = None) -> list[str]:
    """The unique ids of the models in ``manifest`` (default ``MANIFEST_PATH``), sorted."""
    nodes = _load_json(manifest or MANIFEST_PATH).get("nodes", {})
    return sorted(k for k, v in nodes.items() if v.get("resource_type") == "model")
