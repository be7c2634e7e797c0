"""Publish: copy the checked marts into a new file and atomically rename it into place.

Analysts hold read-only connections to ``published/outreach.duckdb`` at any time. We never open
that file for writing: a new file is built next to it, checkpointed and closed, and renamed over
it. Readers that already had the old file open keep reading it; new readers get the new one.
The published file holds the marts only: no raw schema, no personal data. Beside schema
``marts`` it has schema ``marts_cn``: a view per mart with Chinese table and column names for
BI tools (``outreach/pipeline/marts_cn.py``), created before the checkpoint.

History: every publish also keeps its file as ``published/history/<as-of date>.duckdb`` (a rerun
of the same date replaces it, atomically). ``published/outreach.duckdb`` is the newest as-of date
published: a backfill of earlier dates fills the history and leaves the current file alone.

Parquet (``published/parquet/``): a publish that moves the current file also exports every
table of ``marts`` to ``runs/<run id>/<table>.parquet`` with a ``_manifest.json``, from a
read-only connection to the new file, before that file is renamed into place; the folder is
written under a hidden name and renamed whole. Then the symlink ``current`` is replaced by a new
one pointing at ``runs/<run id>`` (``os.replace``), so ``current/*.parquet`` is always one whole
run. Readers take no lock. The last ``KEEP_PARQUET_RUNS`` runs are kept (and always the one
``current`` names), so a reader still on the previous run keeps its files. A backfill writes no
Parquet: the per-date history is the DuckDB files (docs/PUBLISHED_FILES.md).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
from pathlib import Path

import duckdb

from outreach.checks.gate import mart_tables
from outreach.pipeline import marts_cn
from outreach.settings import DUCKDB_MEMORY_LIMIT

log = logging.getLogger("outreach.pipeline.publish")

KEEP_PARQUET_RUNS = 3
MANIFEST = "_manifest.json"


class PublishError(RuntimeError):
    pass


# What analysts read is readable by every local user, whatever the umask (the build file, the
# reports and the quarantine are the service user's alone: outreach.settings.ensure_dirs).
READABLE_FILE, READABLE_DIR = 0o644, 0o755


def _readable_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, READABLE_DIR)


def publish(build_db: Path, published_db: Path, run_id: str, as_of: dt.date) -> dict:
    _readable_dir(published_db.parent)
    tmp = published_db.with_name(f".{published_db.name}.{run_id}.tmp")
    wal = tmp.with_name(tmp.name + ".wal")
    for leftover in (tmp, wal):
        leftover.unlink(missing_ok=True)
    root, folder = parquet_dir(published_db), None
    try:
        con = duckdb.connect(str(tmp), config={"memory_limit": DUCKDB_MEMORY_LIMIT})
        try:
            con.execute(f"attach '{build_db}' as build (read_only)")
            con.execute("create schema marts")
            tables = [
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables where table_catalog = 'build' "
                    "and table_schema = 'marts' and table_type = 'BASE TABLE' order by 1"
                ).fetchall()
            ]
            counts = {}
            for table in tables:
                con.execute(f'create table marts."{table}" as select * from build.marts."{table}"')
                counts[table] = con.execute(f'select count(*) from marts."{table}"').fetchone()[0]
            con.execute("detach build")
            con.execute(
                "create table marts.publication as select ?::varchar as run_id, ?::date as as_of, "
                "current_timestamp as published_at",
                [run_id, as_of],
            )
            cn = marts_cn.create_views(con)
            con.execute("checkpoint")
        finally:
            con.close()
        if wal.exists():
            raise PublishError(f"refusing to publish: {wal.name} was left behind after CHECKPOINT")
        _verify(tmp, set(tables) | {"publication"}, cn)
        current = publication_info(published_db)
        newer = current is not None and dt.date.fromisoformat(current["as_of"]) > as_of
        # Parquet first: when the export fails, nothing at all has changed
        folder = None if newer else export_parquet(tmp, root, run_id)
        history = history_path(published_db, as_of)
        _readable_dir(history.parent)
        staged = history.with_name(f".{history.name}.{run_id}.tmp")
        shutil.copyfile(tmp, staged)
        os.chmod(staged, READABLE_FILE)
        os.replace(staged, history)
        parquet = None
        if newer:  # a backfill: the analysts' current file (and Parquet) stay on its later date
            tmp.unlink()
        else:
            os.chmod(tmp, READABLE_FILE)
            os.replace(tmp, published_db)
            switch_current(root, folder)
            try:
                pruned = prune_parquet_runs(root)
            except OSError as exc:  # published already: an old folder stays until next time
                log.warning("could not prune %s: %s", root / "runs", exc)
                pruned = []
            parquet = {"path": str(root / "current"), "run_path": str(folder), "pruned": pruned}
    except BaseException:
        for leftover in (tmp, wal):
            leftover.unlink(missing_ok=True)
        if folder is not None and parquet_current(root) != folder.resolve():
            shutil.rmtree(folder, ignore_errors=True)  # exported, never switched to
        raise
    return {
        "path": str(published_db),
        "history_path": str(history),
        "current": not newer,
        "current_as_of": current["as_of"] if newer else as_of.isoformat(),
        "tables": counts,
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "marts_cn": cn.as_dict(),
        "parquet": parquet,
    }


def _verify(db: Path, expected: set[str], cn: marts_cn.CnViews) -> None:
    check = duckdb.connect(str(db), read_only=True)
    try:
        if set(mart_tables(check)) != expected:
            raise PublishError("the new file does not hold every mart")
        views = set(mart_tables(check, marts_cn.SCHEMA))
        if views != set(cn.views.values()) or set(cn.views) != expected:
            raise PublishError(f"the new file does not hold a {marts_cn.SCHEMA} view per mart")
        for view in views:  # each view binds: every column it names is there
            check.execute(f"select * from {marts_cn.SCHEMA}.{marts_cn.quote(view)} limit 0")
    finally:
        check.close()


def history_path(published_db: Path, as_of: dt.date) -> Path:
    """The kept warehouse of one as-of date: ``published/history/2014-06-30.duckdb``."""
    return published_db.parent / "history" / f"{as_of.isoformat()}.duckdb"


def parquet_dir(published_db: Path) -> Path:
    """``published/parquet/``: ``current`` (a symlink to ``runs/<run id>``) and ``runs/``."""
    return published_db.parent / "parquet"


def _folder_name(run_id: str) -> str:
    """A run id as one safe folder name (an Airflow run id holds ':' and '+')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", run_id).lstrip(".") or "run"


def export_parquet(db: Path, root: Path, run_id: str) -> Path:
    """Every table of ``marts`` in ``db`` (the new file, read-only) as
    ``root/runs/<run id>/<table>.parquet`` plus ``_manifest.json``; the folder appears whole."""
    runs = root / "runs"
    _readable_dir(root)
    _readable_dir(runs)
    for stale in runs.glob(".*.tmp"):  # a publish that died while exporting (runs hold a lease)
        shutil.rmtree(stale, ignore_errors=True)
    name = _folder_name(run_id)
    folder, n = runs / name, 1
    while folder.exists():  # the same run published again (a retried task): never touch a
        n += 1  # folder that `current` may name
        folder = runs / f"{name}.{n}"
    staging = runs / f".{folder.name}.tmp"
    staging.mkdir()
    rows: dict[str, int] = {}
    con = duckdb.connect(str(db), read_only=True, config={"memory_limit": DUCKDB_MEMORY_LIMIT})
    try:
        stamp = con.execute("select run_id, as_of, published_at from marts.publication").fetchone()
        for table in mart_tables(con):
            path = staging / f"{table}.parquet"
            con.execute(f'copy marts."{table}" to {marts_cn.literal(str(path))} (format parquet)')
            rows[table] = con.execute(f'select count(*) from marts."{table}"').fetchone()[0]
            written = con.execute("select count(*) from read_parquet(?)", [str(path)]).fetchone()[0]
            if written != rows[table]:
                raise PublishError(f"{path.name} holds {written} rows, marts.{table} {rows[table]}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        con.close()
    manifest = {
        "run_id": stamp[0],
        "as_of": stamp[1].isoformat(),
        "published_at": stamp[2].isoformat(),
        "exported_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "tables": rows,
    }
    (staging / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    for path in staging.iterdir():
        os.chmod(path, READABLE_FILE)
    os.chmod(staging, READABLE_DIR)
    os.replace(staging, folder)
    return folder


def switch_current(root: Path, folder: Path) -> None:
    """Point ``root/current`` at ``folder`` in one rename: a new relative symlink replaces the
    old one, so a reader resolves the previous run or this one, never neither."""
    link = root / "current"
    for stale in root.glob(".current.*.tmp"):  # left by a publish that died here
        stale.unlink(missing_ok=True)
    staged = root / f".current.{os.getpid()}.tmp"
    os.symlink(Path(folder.parent.name) / folder.name, staged)
    try:
        os.replace(staged, link)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        raise PublishError(f"cannot switch {link} to {folder.name}: {exc}") from exc


def parquet_current(root: Path) -> Path | None:
    """The run folder ``root/current`` points at, or None."""
    link = root / "current"
    return link.resolve() if link.is_symlink() and link.exists() else None


def _exported_at(folder: Path) -> str:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["exported_at"]
    except (OSError, ValueError, KeyError):  # no manifest: by the folder's time
        return dt.datetime.fromtimestamp(folder.stat().st_mtime, dt.UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )


def prune_parquet_runs(root: Path, keep: int = KEEP_PARQUET_RUNS) -> list[str]:
    """Delete the run folders older than the newest ``keep`` ones, never the one ``current``
    names. A reader with a file open keeps reading it (the inode lives on); a failure here is
    logged, never fatal: the publish has already happened."""
    runs = root / "runs"
    current = parquet_current(root)
    folders = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    folders.sort(key=_exported_at, reverse=True)
    pruned = []
    for folder in folders[keep:]:
        if current is not None and folder.resolve() == current:
            continue
        try:
            shutil.rmtree(folder)
            pruned.append(folder.name)
        except OSError as exc:
            log.warning("could not delete the old Parquet run %s: %s", folder, exc)
    return pruned


def publication_info(published_db: Path) -> dict | None:
    if not published_db.exists():
        return None
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        row = con.execute("select run_id, as_of, published_at from marts.publication").fetchone()
    except duckdb.CatalogException:  # a file published before the stamp existed
        return None
    finally:
        con.close()
    return json.loads(
        json.dumps({"run_id": row[0], "as_of": row[1], "published_at": row[2]}, default=str)
    )


def baseline_for(published_db: Path, as_of: dt.date) -> Path:
    """The published warehouse a run for ``as_of`` is compared with (a mart that emptied since):
    the newest one on or before that date. For a nightly run that is the current file; for a
    backfill of an earlier date, the history file before it (or none: a path that does not
    exist). Never a later date: an earlier as-of date legitimately has fewer rows."""
    current = publication_info(published_db)
    if current is not None and dt.date.fromisoformat(current["as_of"]) <= as_of:
        return published_db
    folder = published_db.parent / "history"
    kept = sorted(folder.glob("????-??-??.duckdb")) if folder.exists() else []
    earlier = [p for p in kept if p.stem <= as_of.isoformat()]
    return earlier[-1] if earlier else folder / "none.duckdb"
