"""The README's ten analyst questions, read from README.md itself and run on the demo warehouse.

Each ```sql block of the README's analyst section whose first line is ``-- qNN`` is run as it
stands on a read-only connection, on the demo's published file (as of 2014-06-30) and on the
history file of a backfilled quarter end (2014-03-31), and its answer is compared with the same
question answered from the demo's truth (``outreach.demo``: the generator's clean records and
docs/RULES.md's rules), never from SQL. So the README and the test cannot drift apart, and a query
that forgets the as-of date fails on the backfilled file, which holds later facts too.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from outreach.demo import DEMO_AS_OF, demo_truth
from outreach.demo.periods import owed_quarters, quarter_bounds, quarter_label, quarter_of
from outreach.demo.truth import (
    matter_done_by,
    missed_annual_talks,
    missed_branch_quarters,
    missed_quarterly_visits,
)
from outreach.settings import PROJECT_ROOT
from tests.demo_warehouse import BACKFILL_AS_OF

SECTION = "## For analysts"
QUERY_IDS = [f"q{n:02d}" for n in range(1, 11)]


def readme_queries(readme: Path = PROJECT_ROOT / "README.md") -> dict[str, str]:
    """qNN -> SQL, from the ```sql blocks of the README's analyst section."""
    text = readme.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end > 0 else len(text)]
    queries: dict[str, str] = {}
    for block in re.findall(r"```sql\n(.*?)```", section, re.DOTALL):
        tag = re.match(r"-- (q\d\d) ", block)
        if tag:
            assert tag.group(1) not in queries, f"{tag.group(1)} appears twice in the README"
            queries[tag.group(1)] = block
    return queries


def _rows(db: Path, sql: str) -> list[dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def _last_quarter(as_of: dt.date) -> tuple[int, int]:
    """The newest quarter ended on or before as_of."""
    y, q = quarter_of(as_of)
    if quarter_bounds(y, q)[1] > as_of:
        y, q = (y - 1, 4) if q == 1 else (y, q - 1)
    return y, q


# --- each question answered from the truth --------------------------------------------------


def _q01(t, a):
    last = quarter_label(*_last_quarter(a))
    return sorted(
        (c, h) for c, h, q in missed_quarterly_visits(t.pairings, t.visits, a) if q == last
    )


def _q02(t, a):
    last = _last_quarter(a)
    seen = {(v.cadre_code, v.household_code, quarter_of(v.visit_date)) for v in t.visits}
    owed, met = Counter(), Counter()
    for p in t.pairings:
        if last in owed_quarters(p.pair_start, p.pair_end, a):
            owed[p.township] += 1
            met[p.township] += (p.cadre_code, p.household_code, last) in seen
    return {k: (owed[k], met[k]) for k in owed}


def _funding_by(t, a, key):
    sums, items = defaultdict(Decimal), Counter()
    for f in t.funding:
        if f.funded_on <= a:
            sums[key(f)] += f.amount_yuan
            items[key(f)] += 1
    return {k: (items[k], sums[k]) for k in sums}


def _q03(t, a):
    return _funding_by(t, a, lambda f: (f.township or "（县级）", f.village or "（未落到村）"))


def _q04(t, a):
    return _funding_by(t, a, lambda f: f.source_type)


def _q05(t, a):
    return {
        m.matter_code: (a - m.raised_on).days
        for m in t.matters
        if m.raised_on <= a and not matter_done_by(m, a) and (a - m.raised_on).days > 60
    }


def _q06(t, a):
    days = defaultdict(list)
    for m in t.matters:
        if m.status == "已办结" and m.closed_on and m.closed_on <= a:
            if (m.closed_on - m.raised_on).days >= 0:
                days[m.category].append((m.closed_on - m.raised_on).days)
    return {k: (len(v), statistics.median(v), max(v)) for k, v in days.items()}


def _q07(t, a):
    year = (a + dt.timedelta(days=1)).year - 1
    return year, sorted(c for c, y in missed_annual_talks(t.roster, t.talks, a) if y == year)


def _q08(t, a):
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for p in t.projects:
        if p.started_on <= a:
            row = out[p.township or "（县级）"]
            row[0] += p.project_type == "专业合作社"
            row[1] += p.is_capacity_building
            row[2] += 1
    return {k: tuple(v) for k, v in out.items()}


def _q09(t, a):
    return missed_branch_quarters(t.branch_activities, a)


def _q10(t, a):
    teams, villages, ever, now = (defaultdict(set) for _ in range(4))
    for m in t.team_members:
        if m.start_date <= a:
            teams[m.township].add(m.team_code)
            villages[m.township].add(m.village)
            ever[m.township].add(m.cadre_code)
            if m.end_date is None or m.end_date >= a:
                now[m.township].add(m.cadre_code)
    return {k: (len(teams[k]), len(villages[k]), len(ever[k]), len(now[k])) for k in teams}


# --- the tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["current", "history"])
def warehouse(request, published_db):
    """(file, as-of date): the published file, and the history file of a backfilled date."""
    if request.param == "current":
        return published_db, DEMO_AS_OF
    home = request.getfixturevalue("backfilled_home")
    return home / "published" / "history" / f"{BACKFILL_AS_OF}.duckdb", BACKFILL_AS_OF


@pytest.fixture(scope="module")
def queries() -> dict[str, str]:
    return readme_queries()


def test_the_readme_has_ten_tagged_questions(queries):
    assert sorted(queries) == QUERY_IDS
    for qid, sql in queries.items():
        assert "marts." in sql and sql.rstrip().endswith(";"), qid


def test_q01_missed_visits_last_quarter(queries, warehouse):
    db, as_of = warehouse
    rows = _rows(db, queries["q01"])
    assert rows, "the demo plants missed visits in every quarter"
    assert sorted((r["cadre_code"], r["household_code"]) for r in rows) == _q01(demo_truth(), as_of)
    assert all(re.fullmatch(r"\d{6}\*{8}\d{3}[\dX]", r["head_id_number_mask"]) for r in rows)
    assert "head_name" not in rows[0]  # the list shows no household names


def test_q02_completion_by_township(queries, warehouse):
    db, as_of = warehouse
    rows = _rows(db, queries["q02"])
    expected = _q02(demo_truth(), as_of)
    assert {r["township_name"]: (r["owed"], r["visited"]) for r in rows} == expected
    for r in rows:
        assert r["rate_pct"] == round(100.0 * r["visited"] / r["owed"], 1)
    assert [r["rate_pct"] for r in rows] == sorted(r["rate_pct"] for r in rows)


def test_q03_funding_per_village(queries, warehouse):
    db, as_of = warehouse
    rows = _rows(db, queries["q03"])
    got = {(r["township_name"], r["village_name"]): (r["items"], r["yuan"]) for r in rows}
    assert got == _q03(demo_truth(), as_of)
    assert len(got) == len(rows)
    assert all(abs(r["wan_yuan"] - float(r["yuan"]) / 10000) <= 0.005 + 1e-9 for r in rows)


def test_q04_funding_by_source(queries, warehouse):
    db, as_of = warehouse
    rows = _rows(db, queries["q04"])
    assert {r["source_type"]: (r["items"], r["yuan"]) for r in rows} == _q04(demo_truth(), as_of)
    assert sum(r["share_pct"] for r in rows) == pytest.approx(100, abs=0.3)
    if as_of == DEMO_AS_OF:  # the article's 517万元
        assert sum(r["yuan"] for r in rows) == Decimal("5170000.00")


def test_q05_matters_open_more_than_60_days(queries, warehouse):
    db, as_of = warehouse
    rows = _rows(db, queries["q05"])
    expected = _q05(demo_truth(), as_of)
    assert expected, "the demo has long-open matters on both dates"
    assert {r["matter_code"]: r["days_open"] for r in rows} == expected
    assert len(rows) == len(expected)


def test_q06_days_to_close_by_category(queries, warehouse):
    db, as_of = warehouse
    rows = _rows(db, queries["q06"])
    got = {r["category"]: (r["closed"], r["median_days"], r["max_days"]) for r in rows}
    assert got == _q06(demo_truth(), as_of)


def test_q07_cadres_not_talked_with_last_year(queries, warehouse):
    db, as_of = warehouse
    rows = _rows(db, queries["q07"])
    year, expected = _q07(demo_truth(), as_of)
    assert expected
    assert {r["year"] for r in rows} == {year}
    assert sorted(r["cadre_code"] for r in rows) == expected


def test_q08_cooperatives_by_township(queries, warehouse):
    db, as_of = warehouse
    rows = _rows(db, queries["q08"])
    got = {
        r["township_name"]: (r["cooperatives"], r["capacity_projects"], r["projects"]) for r in rows
    }
    assert got == _q08(demo_truth(), as_of)
    if as_of == DEMO_AS_OF:  # the article's 148 cooperatives and 12 capacity projects
        assert sum(v[0] for v in got.values()) == 148 and sum(v[1] for v in got.values()) == 12


def test_q09_branches_without_organisational_life(queries, warehouse):
    db, as_of = warehouse
    rows = _rows(db, queries["q09"])
    expected = _q09(demo_truth(), as_of)
    assert expected
    assert sorted((r["joint_branch_name"], r["quarter"]) for r in rows) == expected


def test_q10_work_teams_by_township(queries, warehouse):
    db, as_of = warehouse
    rows = _rows(db, queries["q10"])
    got = {
        r["township_name"]: (r["teams"], r["villages"], r["cadres_ever"], r["cadres_now"])
        for r in rows
    }
    assert got == _q10(demo_truth(), as_of)
    if as_of == DEMO_AS_OF:  # the article's 62 teams and 260 cadres stationed
        assert sum(v[0] for v in got.values()) == 62 and sum(v[2] for v in got.values()) == 260


def test_the_two_dates_give_different_answers(queries, published_db, backfilled_home):
    """A query that ignored the as-of date would answer the same on both files."""
    history = backfilled_home / "published" / "history" / f"{BACKFILL_AS_OF}.duckdb"
    for qid in ("q01", "q02", "q03", "q05", "q06", "q08", "q09"):
        assert _rows(published_db, queries[qid]) != _rows(history, queries[qid]), qid


def test_the_extractor_finds_what_the_readme_holds(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "# x\n\n## For analysts (分析人员)\n\n```sql\n-- q01 a\nselect 1;\n```\n\n"
        "```sql\nselect 'untagged';\n```\n\n## Next\n\n```sql\n-- q02 outside\nselect 2;\n```\n",
        encoding="utf-8",
    )
    assert readme_queries(readme) == {"q01": "-- q01 a\nselect 1;\n"}
