"""Publishing: marts only, atomic rename, readers never blocked, never a half-built file."""

from __future__ import annotations

import datetime as dt

import duckdb

from outreach.publish import publication_info, publish

AS_OF = dt.date(2014, 6, 30)


def _build(path, visits: int):
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists raw; create schema if not exists marts")
    con.execute(
        "create or replace table raw.households as select '469029198001010024' as head_id_number"
    )
    con.execute(
        f"create or replace table marts.fct_visits as select range as visit_id from range({visits})"
    )
    con.execute("create or replace view marts.v as select 1")
    con.close()


def test_publish_copies_marts_only_and_stamps_the_run(tmp_path):
    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    _build(build, 3)
    result = publish(build, published, "run1", AS_OF)
    assert result["tables"] == {"fct_visits": 3}
    con = duckdb.connect(str(published), read_only=True)
    schemas = {
        r[0]
        for r in con.execute(
            "select distinct table_schema from information_schema.tables"
        ).fetchall()
    }
    assert schemas == {"marts"}
    con.close()
    assert publication_info(published)["run_id"] == "run1"
    assert not list(published.parent.glob("*.tmp")) and not list(published.parent.glob("*.wal"))


def test_a_reader_keeps_its_file_while_a_new_one_is_published(tmp_path):
    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    _build(build, 3)
    publish(build, published, "run1", AS_OF)
    reader = duckdb.connect(str(published), read_only=True)
    _build(build, 5)
    publish(build, published, "run2", AS_OF)  # would fail if it needed a write lock on the file
    assert reader.execute("select count(*) from marts.fct_visits").fetchone()[0] == 3
    reader.close()
    fresh = duckdb.connect(str(published), read_only=True)
    assert fresh.execute("select count(*) from marts.fct_visits").fetchone()[0] == 5
    fresh.close()
