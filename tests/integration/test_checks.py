"""The Python checks of the gate: personal data outside raw, a mart that emptied, severities."""

from __future__ import annotations

import random

import duckdb
import pytest

from ingest.pii import ID_IN_TEXT as ID_PATTERN
from ingest.pii import MOBILE_IN_TEXT as MOBILE_PATTERN
from ingest.pii import PII_IN_TEXT as PII_PATTERN
from ingest.pii import token
from outreach.checks.gate import (
    Check,
    CheckReport,
    emptied_marts,
    scan_personal_data,
)


def _db(path, rows):
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.fct_visits (visit_id varchar, notes varchar, file_sha256 varchar, n int)"
    )
    if rows:
        con.executemany("insert into marts.fct_visits values (?, ?, ?, ?)", rows)
    return con


def test_id_and_phone_patterns_are_found_even_inside_free_text(tmp_path):
    con = _db(
        tmp_path / "b.duckdb",
        [
            ("a", "拉家常，户主身份证46902919800101002X，已核实", None, 1),
            ("b", "联系电话：13812343210", None, 2),
            ("c", "电话138 1234 3210 已隐去", None, 3),  # spaced: a number all the same
            ("d", "2014-06-30_20261204T140626354701Z 与 H20201006", None, 4),  # no number
        ],
    )
    hits = scan_personal_data(con, ("marts",))
    assert [(h.rule_id, h.failures) for h in hits] == [("pii_outside_raw", 3)]
    assert all("4690291980" not in s for s in hits[0].sample)  # the sample never repeats the number


def test_tokens_keys_masks_and_file_hashes_are_not_personal_data(tmp_path):
    con = _db(
        tmp_path / "b.duckdb",
        [
            (
                token("46902919800101002X", b"k" * 16),
                "469029********002X 138****3210",
                "e13466047549bca5e648ea6e71898cd2b24948cfb27b573f9fd4288942fa56bb",
                1,
            ),
        ],
    )
    assert [h.failures for h in scan_personal_data(con, ("marts",))] == [0]


def test_a_mart_that_emptied_since_the_last_publish_is_an_error(tmp_path):
    published = tmp_path / "published.duckdb"
    _db(published, [("a", "", None, 1)]).close()
    con = _db(tmp_path / "b.duckdb", [])
    (check,) = emptied_marts(con, published)
    assert check.severity == "error" and check.failures == 1 and "fct_visits" in check.sample[0]
    con.execute("insert into marts.fct_visits values ('a', '', null, 1)")
    assert emptied_marts(con, published)[0].failures == 0
    assert emptied_marts(con, tmp_path / "none.duckdb")[0].failures == 0


def test_only_failed_errors_block():
    report = CheckReport(
        checks=[
            Check("funding_over_million", "warning", 3, "dbt_results"),
            Check("fact_key_not_unique", "error", 0, "dbt_results"),
            Check("dangling_foreign_key", "error", 2, "dbt_results"),
        ],
        obligations={"dq_missing_quarterly_visits": 50},
    )
    assert [c.rule_id for c in report.blocking] == ["dangling_foreign_key"]
    assert [c.rule_id for c in report.warnings] == ["funding_over_million"]


def test_the_publication_stamp_is_not_a_mart_that_emptied(tmp_path):
    published = tmp_path / "published.duckdb"
    prev = _db(published, [("a", "", None, 1)])
    prev.execute("create table marts.publication as select 'run1' as run_id")
    prev.close()
    con = _db(tmp_path / "b.duckdb", [("a", "", None, 1)])
    assert emptied_marts(con, published)[0].failures == 0


def test_an_obligation_table_that_empties_does_not_block(tmp_path):
    """Every cadre visited every household this quarter: the flag table empties, rightly."""
    published = tmp_path / "published.duckdb"
    prev = _db(published, [("a", "", None, 1)])
    prev.execute("create table marts.dq_missing_quarterly_visits as select 'C1' as cadre_code")
    prev.close()
    con = _db(tmp_path / "b.duckdb", [("a", "", None, 1)])
    con.execute("create table marts.dq_missing_quarterly_visits (cadre_code varchar)")
    assert emptied_marts(con, published)[0].failures == 0


@pytest.mark.parametrize("plan", ["rpt_talk_plan", "rpt_meeting_agenda", "rpt_visit_reminders"])
def test_a_calendar_plan_with_nothing_due_does_not_block(tmp_path, plan):
    """Every cadre talked with this year, no matter open, every pairing visited: the plan
    empties, rightly."""
    published = tmp_path / "published.duckdb"
    prev = _db(published, [("a", "", None, 1)])
    prev.execute(f"create table marts.{plan} as select 'C1' as cadre_code")
    prev.close()
    con = _db(tmp_path / "b.duckdb", [("a", "", None, 1)])
    con.execute(f"create table marts.{plan} (cadre_code varchar)")
    assert emptied_marts(con, published)[0].failures == 0


def test_the_scan_s_one_pattern_finds_exactly_what_the_id_or_the_phone_pattern_finds():
    rng = random.Random(20140630)
    alphabet = "0123456789" * 6 + "13" * 4 + "Xx|-，号 "
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    texts += ["46902919800101002X", "13812343210", "113812343210", "1381234321", "a13912345678b"]
    con = duckdb.connect()
    got = con.execute(
        "select t, regexp_matches(t, ?), regexp_matches(t, ?), regexp_matches(t, ?) "
        "from unnest(?::varchar[]) as u(t)",
        [PII_PATTERN, ID_PATTERN, MOBILE_PATTERN, texts],
    ).fetchall()
    assert [t for t, one, id_, phone in got if one != (id_ or phone)] == []
    # the random texts hit each pattern often enough for the comparison to mean something
    assert sum(id_ for *_, id_, _ in got) > 50 and sum(phone for *_, phone in got) > 10
