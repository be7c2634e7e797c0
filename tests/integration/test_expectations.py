"""The Great Expectations suites over a small build file, with and without Data Docs."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from expectations.runner import run_suites
from expectations.suites import HEADLINE_METRICS, build_suites

AS_OF = dt.date(2014, 6, 30)
PRESENT = {"fct_visits", "fct_matters", "program_headlines"}


def _make_build(path) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        con.execute(
            "create table marts.fct_visits (visit_id VARCHAR, visit_date DATE, cadre_id VARCHAR,"
            " household_id VARCHAR, quarter VARCHAR, visit_mode VARCHAR)"
        )
        con.execute(
            "insert into marts.fct_visits values"
            " ('v1', '2013-04-02', 'c1', 'h1', '2013Q2', '入户'),"
            " ('v2', '2013-05-06', 'c1', 'h2', '2013Q2', '电话'),"
            " ('v2', '2013-05-06', 'c1', 'h2', '2013Q2', '电话'),"  # the duplicated key
            " ('v3', '2011-12-31', 'c2', 'h3', '2011Q4', '座谈')"  # before 2012: an error
        )
        con.execute(
            "create table marts.fct_matters (matter_id VARCHAR, matter_code VARCHAR,"
            " status VARCHAR, days_to_close INTEGER)"
        )
        con.execute(
            "insert into marts.fct_matters values"
            " ('m1', 'YS001', '已办结', 12), ('m2', 'YS002', '已办结', -3),"  # a warning
            " ('m3', 'YS003', '待议', NULL)"
        )
        con.execute(
            "create table marts.program_headlines (metric VARCHAR, value DOUBLE, as_of DATE)"
        )
        con.executemany(
            "insert into marts.program_headlines values (?, ?, ?)",
            [[m, float(i), AS_OF] for i, m in enumerate(HEADLINE_METRICS)],
        )
    finally:
        con.close()


@pytest.fixture(scope="module")
def build_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("gx") / "outreach_build.duckdb"
    _make_build(path)
    return path


@pytest.fixture(scope="module")
def results(build_db):
    return run_suites(build_db, AS_OF)


def _by_rule(results):
    return {r.rule_id: r for r in results}


def test_duplicated_key_is_a_failed_error(results):
    dup = _by_rule(results)["gx:fct_visits:column_values_to_be_unique:visit_id"]
    assert dup.entity == "fct_visits"
    assert dup.severity == "error"
    assert dup.failures == 2
    assert "v2" in dup.sample

    early = _by_rule(results)["gx:fct_visits:column_values_to_be_between:visit_date"]
    assert early.severity == "error" and early.failures == 1


def test_warning_stays_a_warning(results):
    days = _by_rule(results)["gx:fct_matters:column_values_to_be_between:days_to_close"]
    assert days.severity == "warning"
    assert days.failures == 1
    assert "-3" in days.sample[0]


def test_passing_and_missing_marts(results):
    rules = _by_rule(results)
    headlines = [r for r in results if r.entity == "program_headlines"]
    assert headlines and all(r.failures == 0 for r in headlines)
    assert rules["gx:fct_visits:column_values_to_be_unique:visit_id"].failures
    for mart in set(build_suites(AS_OF)) - PRESENT:
        missing = rules[f"gx:{mart}:missing"]
        assert missing.severity == "error" and missing.failures == 1
    assert not [
        r for r in results if r.failures and r.entity == "fct_matters" and r.severity == "error"
    ]


def test_data_docs(build_db, results, tmp_path):
    docs = tmp_path / "report" / "data_docs"
    with_docs = run_suites(build_db, AS_OF, docs_dir=docs)
    assert with_docs == results  # the docs change nothing in what the gate reads

    index = docs / "index.html"
    assert index.exists()
    html = index.read_text(encoding="utf-8")
    for mart in PRESENT:
        assert mart in html
        pages = list((docs / "validations" / mart).rglob("*.html"))
        assert len(pages) == 1
    visits_page = next((docs / "validations" / "fct_visits").rglob("*.html"))
    assert "visit_id" in visits_page.read_text(encoding="utf-8")

    # a rerun replaces the site: still one validation result per suite
    assert run_suites(build_db, AS_OF, docs_dir=docs) == results
    for mart in PRESENT:
        assert len(list((docs / "validations" / mart).rglob("*.html"))) == 1
    assert not list(docs.parent.glob(".*building"))


def test_data_docs_never_replaces_other_directories(build_db, tmp_path):
    other = tmp_path / "not_docs"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a Data Docs site"):
        run_suites(build_db, AS_OF, docs_dir=other)
    assert (other / "keep.txt").read_text() == "mine"


def test_data_docs_failure_is_logged_not_raised(build_db, results, tmp_path, monkeypatch, caplog):
    from great_expectations.data_context.data_context.abstract_data_context import (
        AbstractDataContext,
    )

    docs = tmp_path / "data_docs"
    docs.mkdir()
    (docs / "index.html").write_text("an earlier attempt")

    def broken(self, *args, **kwargs):
        raise RuntimeError("renderer broke")

    monkeypatch.setattr(AbstractDataContext, "build_data_docs", broken)
    assert run_suites(build_db, AS_OF, docs_dir=docs) == results
    assert "Data Docs not built" in caplog.text
    assert not docs.exists()  # no stale site passes for this attempt's


def test_gx_reads_only_the_columns_its_expectations_name():
    from great_expectations import expectations as E

    from expectations.runner import _columns_read

    visits = build_suites(AS_OF)["fct_visits"]
    named = {e.column for e in visits}
    assert _columns_read(visits) == ", ".join(
        f'"{c}"' for c in dict.fromkeys(e.column for e in visits)
    )
    assert named == {"visit_id", "visit_date", "cadre_id", "household_id", "quarter", "visit_mode"}
    # an expectation about the whole table needs every column
    assert _columns_read([*visits, E.ExpectTableRowCountToBeBetween(min_value=1)]) == "*"


def test_a_mart_with_more_columns_gives_the_same_results(build_db, results, tmp_path):
    """Free text beside the columns the suite reads changes nothing (it is never read)."""
    wide = tmp_path / "wide.duckdb"
    _make_build(wide)
    con = duckdb.connect(str(wide))
    con.execute("alter table marts.fct_visits add column notes VARCHAR default '走访拉家常'")
    con.close()
    assert [(r.rule_id, r.failures, r.sample) for r in run_suites(wide, AS_OF)] == [
        (r.rule_id, r.failures, r.sample) for r in results
    ]


def test_a_column_the_suite_names_but_the_mart_lacks_fails_its_expectation(tmp_path):
    narrow = tmp_path / "narrow.duckdb"
    _make_build(narrow)
    con = duckdb.connect(str(narrow))
    con.execute("alter table marts.fct_visits drop column visit_mode")
    con.close()
    rules = _by_rule(run_suites(narrow, AS_OF))
    missing = rules["gx:fct_visits:column_values_to_be_in_set:visit_mode"]
    assert missing.severity == "error" and missing.failures >= 1
    assert rules["gx:fct_visits:column_values_to_be_unique:visit_id"].failures == 2
