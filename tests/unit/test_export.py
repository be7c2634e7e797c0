"""``outreach export`` without a real warehouse: the report quarter, and every file it must refuse
(with a clear message and nothing written). The reports themselves are tested on the demo's
warehouse in ``tests/analysts/test_export.py``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from outreach.cli import main
from outreach.outputs.quarterly_report import previous_quarter, published_dates, report_quarter


@pytest.mark.parametrize(
    ("as_of", "quarter"),
    [
        ("2014-06-30", "2014Q2"),  # a quarter's last day: that quarter
        ("2014-06-29", "2014Q1"),  # a day before it: the quarter before
        ("2014-08-15", "2014Q2"),
        ("2014-01-01", "2013Q4"),
        ("2013-12-31", "2013Q4"),
        ("2012-03-31", "2012Q1"),
    ],
)
def test_the_report_quarter_is_the_newest_quarter_ended_by_the_as_of_date(as_of, quarter):
    assert report_quarter(dt.date.fromisoformat(as_of)) == quarter


def test_the_quarter_before():
    assert previous_quarter("2014Q1") == "2013Q4"
    assert previous_quarter("2014Q3") == "2014Q2"


def _published(home: Path, as_of: str | None, name: str = "outreach.duckdb") -> Path:
    """A DuckDB file with a publication stamp and the quarters table, nothing else."""
    folder = home / "published" if name == "outreach.duckdb" else home / "published" / "history"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        if as_of is not None:
            con.execute(
                "create table marts.publication as select 'run-1' as run_id, "
                "?::date as as_of, now() as published_at",
                [as_of],
            )
        con.execute("create table marts.dim_quarters as select '2012Q1' as quarter")
    finally:
        con.close()
    return path


def _export(monkeypatch, home: Path, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("OUTREACH_HOME", str(home))
    code = main(["export", *args])
    return code, capsys.readouterr().err


def test_before_any_quarter_ended_there_is_nothing_to_report(tmp_path, monkeypatch, capsys):
    _published(tmp_path, "2012-03-30")
    code, err = _export(monkeypatch, tmp_path, capsys)
    assert code == 1 and "no quarter of the programme has ended yet" in err
    assert not (tmp_path / "reports").exists()


def test_a_file_that_is_no_warehouse_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "published").mkdir()
    (tmp_path / "published" / "outreach.duckdb").write_text("not a database", encoding="utf-8")
    code, err = _export(monkeypatch, tmp_path, capsys)
    assert code == 1 and "cannot be read as a DuckDB warehouse" in err
    (tmp_path / "published" / "outreach.duckdb").unlink()
    _published(tmp_path, None)  # DuckDB, but never published
    code, err = _export(monkeypatch, tmp_path, capsys)
    assert code == 1 and "is not a published warehouse" in err


def test_a_file_of_marts_without_the_report_tables_is_refused(tmp_path, monkeypatch, capsys):
    _published(tmp_path, "2014-06-30")
    code, err = _export(monkeypatch, tmp_path, capsys)
    assert code == 1 and "does not hold the marts the report reads" in err
    assert not (tmp_path / "reports").exists()


def test_a_history_file_must_hold_its_date(tmp_path, monkeypatch, capsys):
    _published(tmp_path, "2014-06-30")
    _published(tmp_path, "2014-06-30", name="2014-03-31.duckdb")  # misnamed
    code, err = _export(monkeypatch, tmp_path, capsys, "--as-of", "2014-03-31")
    assert code == 1 and "does not hold the warehouse of 2014-03-31" in err
    assert published_dates(tmp_path / "published" / "outreach.duckdb") == [
        "2014-03-31",
        "2014-06-30",
    ]
    code, err = _export(monkeypatch, tmp_path, capsys, "--as-of", "2013-12-31")
    assert code == 1 and "published as-of dates: 2014-03-31, 2014-06-30" in err
