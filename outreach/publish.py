"""Publish: copy the checked marts into a new file and atomically rename it into place.

Analysts hold read-only connections to ``published/outreach.duckdb`` at any time. We never open
that file for writing: a new file is built next to it, checkpointed and closed, and renamed over
it. Readers that already had the old file open keep reading it; new readers get the new one.
The published file holds the marts only: no raw schema, no personal data.
"""

from __future__ import annotations

import datetime as dt
import json
import os
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
    os.replace(tmp, published_db)
    return {
        "path": str(published_db),
        "tables": counts,
        "run_id": run_id,
        "as_of": as_of.isoformat(),
    }


def publication_info(published_db: Path) -> dict | None:
    if not published_db.exists():
        return None
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        row = con.execute("select run_id, as_of, published_at from marts.publication").fetchone()
    finally:
        con.close()
    return json.loads(
        json.dumps({"run_id": row[0], "as_of": row[1], "published_at": row[2]}, default=str)
    )
