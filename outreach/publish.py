"""Publish: copy the checked marts into a new file and atomically rename it into place.

Analysts hold read-only connections to ``published/outreach.duckdb`` at any time. We never open
that file for writing: a new file is built next to it, checkpointed and closed, and renamed over
it. Readers that already had the old file open keep reading it; new readers get the new one.
The published file holds the marts only: no raw schema, no personal data.

History: every publish also keeps its file as ``published/history/<as-of date>.duckdb`` (a rerun
of the same date replaces it, atomically). ``published/outreach.duckdb`` is the newest as-of date
published: a backfill of earlier dates fills the history and leaves the current file alone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import duckdb

from outreach.checks import mart_tables


class PublishError(RuntimeError):
    pass


def publish(build_db: Path, published_db: Path, run_id: str, as_of: dt.date) -> dict:
    published_db.parent.mkdir(parents=True, exist_ok=True)
    tmp = published_db.with_name(f".{published_db.name}.{run_id}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
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
        con.execute("checkpoint")
    finally:
        con.close()
    wal = tmp.with_name(tmp.name + ".wal")
    if wal.exists():
        tmp.unlink(missing_ok=True)
        raise PublishError(f"refusing to publish: {wal.name} was left behind after CHECKPOINT")
    check = duckdb.connect(str(tmp), read_only=True)
    try:
        if set(mart_tables(check)) != set(tables) | {"publication"}:
            raise PublishError("the new file does not hold every mart")
    finally:
        check.close()
    history = history_path(published_db, as_of)
    history.parent.mkdir(parents=True, exist_ok=True)
    staged = history.with_name(f".{history.name}.{run_id}.tmp")
    shutil.copyfile(tmp, staged)
    os.replace(staged, history)
    current = publication_info(published_db)
    newer = current is not None and dt.date.fromisoformat(current["as_of"]) > as_of
    if newer:  # a backfill: the analysts' current file stays on its later date
        tmp.unlink()
    else:
        os.replace(tmp, published_db)
    return {
        "path": str(published_db),
        "history_path": str(history),
        "current": not newer,
        "current_as_of": current["as_of"] if newer else as_of.isoformat(),
        "tables": counts,
        "run_id": run_id,
        "as_of": as_of.isoformat(),
    }


def history_path(published_db: Path, as_of: dt.date) -> Path:
    """The kept warehouse of one as-of date: ``published/history/2014-06-30.duckdb``."""
    return published_db.parent / "history" / f"{as_of.isoformat()}.duckdb"


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
