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


def _visits(path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select count(*) from marts.fct_visits").fetchone()[0]
    finally:
        con.close()


def test_every_as_of_date_is_kept_and_a_backfill_leaves_the_current_file_alone(tmp_path):
    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    history = published.parent / "history"
    _build(build, 6)
    publish(build, published, "night", AS_OF)
    current_bytes = published.read_bytes()

    # a backfill of two earlier dates, out of order
    for visits, day in ((4, dt.date(2013, 12, 31)), (2, dt.date(2013, 6, 30))):
        _build(build, visits)
        result = publish(build, published, f"backfill-{day}", day)
        assert result["current"] is False and result["current_as_of"] == "2014-06-30"
    assert published.read_bytes() == current_bytes
    assert sorted(p.name for p in history.iterdir()) == [
        "2013-06-30.duckdb",
        "2013-12-31.duckdb",
        "2014-06-30.duckdb",
    ]
    assert [
        _visits(history / f"{d}.duckdb") for d in ("2013-06-30", "2013-12-31", "2014-06-30")
    ] == [
        2,
        4,
        6,
    ]
    assert publication_info(history / "2013-06-30.duckdb")["as_of"] == "2013-06-30"

    # a rerun of one date replaces its history file; a later date moves the current file on
    _build(build, 3)
    publish(build, published, "rerun", dt.date(2013, 6, 30))
    assert _visits(history / "2013-06-30.duckdb") == 3
    _build(build, 7)
    assert publish(build, published, "next-night", dt.date(2014, 7, 1))["current"] is True
    assert publication_info(published)["as_of"] == "2014-07-01" and _visits(published) == 7
    leftovers = [p.name for p in history.iterdir() if p.name.startswith(".")]
    assert leftovers == [] and not list(published.parent.glob(".*tmp"))


def test_a_run_is_compared_with_the_newest_warehouse_on_or_before_its_date(tmp_path):
    from outreach.publish import baseline_for

    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    assert not baseline_for(published, AS_OF).exists()  # nothing published yet
    _build(build, 2)
    for day in (dt.date(2013, 3, 31), dt.date(2013, 12, 31), AS_OF):
        publish(build, published, str(day), day)
    assert baseline_for(published, dt.date(2014, 7, 1)) == published  # the next night
    assert baseline_for(published, AS_OF) == published  # a rerun
    # a backfill never compares with a later date
    assert baseline_for(published, dt.date(2014, 3, 31)).name == "2013-12-31.duckdb"
    assert baseline_for(published, dt.date(2013, 3, 31)).name == "2013-03-31.duckdb"
    assert not baseline_for(published, dt.date(2012, 12, 31)).exists()
