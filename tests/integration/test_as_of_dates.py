"""Backfills: one correct warehouse per as-of date, from one raw layer.

The demo inbox is loaded once and the night of the demo's as-of date (2014-06-30) is built,
checked and published, as ``outreach run`` would. Then two earlier dates are backfilled out of
order (a mid-quarter date, then the end of the programme's first quarter, when half the work
teams had not arrived yet) and the mid-quarter date is run again: only dbt and the checks
rerun, through the same stage functions the DAG calls. Each date's ``marts.program_headlines``
must equal ``headlines_as_of(truth, date)``, computed from the demo's truth records and
docs/RULES.md, not from the SQL; the earlier dates must pass the gate (rows dated after the as-of
date are later data, not errors) and leave the analysts' current file on 2014-06-30.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from outreach.demo import DEMO_AS_OF, EXPECTED_HEADLINES, demo_truth
from outreach.demo.truth import (
    headlines_as_of,
    matters_decided_off_meeting_day,
    matters_not_decided_at_meeting,
    missed_annual_talks,
    missed_branch_quarters,
    missed_quarterly_visits,
    org_cadre_pairing_load,
    talks_missing_topics,
    wrong_leader_talks,
)
from outreach.pipeline import stages
from outreach.pipeline.context import RunContext
from outreach.pipeline.publish import history_path, publication_info
from outreach.settings import Settings, load_settings
from tests.demo_warehouse import copy_of

NIGHT = DEMO_AS_OF  # 2014-06-30: the demo's own date, the article's figures
MID_QUARTER = dt.date(2013, 8, 15)  # 2013Q3 is running: owed quarters end with 2013Q2
FIRST_QUARTER = dt.date(2012, 3, 31)  # 30 of the 62 work teams stationed; only 2012Q1 owed
DATES = (FIRST_QUARTER, MID_QUARTER, NIGHT)
RATE = "quarterly_visit_rate"


# the calendar's rules in dq_results (docs/RULES.md) and the truth's names for what they find
CALENDAR_RULES = {
    "talks_wrong_leader": "talk_wrong_leader",
    "talks_missing_topics": "talk_missing_topics",
    "matters_not_decided_at_meeting": "matter_not_decided_at_meeting",
    "matters_decided_off_meeting_day": "matter_decided_off_meeting_day",
}


def _key(entity: str) -> tuple | str:
    """dq_results' entity text back to the truth's key: (talk_date, cadre_code) of a talk, the
    code of a matter."""
    parts = dict(kv.split("=", 1) for kv in entity.split(", "))
    if "matter_code" in parts:
        return parts["matter_code"]
    return (dt.date.fromisoformat(parts["talk_date"]), parts["cadre_code"])


@dataclass(frozen=True)
class Run:
    as_of: dt.date
    checked: dict  # stages.check's summary: blocking and warning counts
    published: dict  # stages.publish's result
    headlines: dict[str, Decimal]  # the run's published history file, metric -> value
    headline_dates: set[dt.date]  # marts.program_headlines.as_of
    obligations: dict[str, list]


def _published_state(path: Path) -> tuple[dict[str, Decimal], set[dt.date], dict[str, list]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("select metric, value, as_of from marts.program_headlines").fetchall()
        obligations = {
            "missed_quarterly_visits": con.execute(
                "select cadre_code, household_code, quarter "
                "from marts.dq_missing_quarterly_visits order by all"
            ).fetchall(),
            "missed_annual_talks": con.execute(
                "select cadre_code, cast(year as integer) from marts.dq_missing_annual_talks "
                "order by all"
            ).fetchall(),
            "missed_branch_quarters": con.execute(
                "select joint_branch_name, quarter from marts.dq_missing_branch_activities "
                "order by all"
            ).fetchall(),
            "org_cadre_pairing_load": con.execute(
                "select cadre_code, active_pairings from marts.dq_org_cadre_pairing_load "
                "order by all"
            ).fetchall(),
            **{
                name: [
                    _key(entity)
                    for (entity,) in con.execute(
                        "select entity from marts.dq_results where rule_id = ? order by entity",
                        [rule],
                    ).fetchall()
                ]
                for name, rule in CALENDAR_RULES.items()
            },  # fmt: skip
        }
    finally:
        con.close()
    return {m: v for m, v, _ in rows}, {d for _, _, d in rows}, obligations


def _run(settings: Settings, ctx: RunContext) -> Run:
    """dbt, the gate and publishing for one as-of date (the DAG's build -> check -> publish);
    ``stages.check`` raises PublishBlocked when an error-severity check fails."""
    stages.build(settings, ctx)
    checked = stages.check(settings, ctx)
    published = stages.publish(settings, ctx)
    headlines, dates, obligations = _published_state(Path(published["history_path"]))
    return Run(ctx.as_of, checked, published, headlines, dates, obligations)


def _context(settings: Settings, as_of: dt.date) -> RunContext:
    return RunContext.from_xcom(stages.prepare(settings, None, {"as_of": as_of.isoformat()}))


def _night(settings: Settings) -> Run:
    """The session's demo night (ingest, build, check, publish through the DAG), as _run would
    have returned it: its check and publish results are in its run's reports."""
    run = json.loads((settings.reports_dir / "latest" / "run.json").read_text(encoding="utf-8"))
    run_dir = settings.reports_dir / run["run_id"]
    check = json.loads((run_dir / "check.json").read_text(encoding="utf-8"))
    published = json.loads((run_dir / "publish.json").read_text(encoding="utf-8"))
    checked = {"blocking": len(check["blocking"])}
    # the run wrote the paths of the session's home; the copy holds the same files
    published["history_path"] = str(history_path(settings.published_db, NIGHT))
    headlines, dates, obligations = _published_state(Path(published["history_path"]))
    return Run(NIGHT, checked, published, headlines, dates, obligations)


@pytest.fixture(scope="module")
def backfill(demo_home, tmp_path_factory):
    """The night (the session's, in a copy), then a backfill of two earlier dates out of order,
    then a rerun."""
    home = copy_of(demo_home, tmp_path_factory.mktemp("as_of") / "home")
    settings = load_settings({"OUTREACH_HOME": str(home)})
    runs = {NIGHT: _night(settings)}
    for day in (MID_QUARTER, FIRST_QUARTER):
        runs[day] = _run(settings, _context(settings, day))
    rerun = _run(settings, _context(settings, MID_QUARTER))
    return settings, runs, rerun


def _assert_equal_figures(actual: dict[str, Decimal], expected: dict, as_of: dt.date) -> None:
    assert set(actual) == set(expected), as_of
    for metric, want in expected.items():
        got = actual[metric]
        if metric == RATE:
            # DECIMAL(18,4): the exact ratio rounded to four places
            assert abs(float(got) - want) <= 0.00005 + 1e-12, (as_of, metric, got, want)
        else:  # counts exactly; funding exactly to the fen
            assert got == Decimal(str(want)), (as_of, metric, got, want)


def test_the_truth_of_the_demo_date_is_the_expected_headlines():
    assert headlines_as_of(demo_truth(), NIGHT) == EXPECTED_HEADLINES


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_each_as_of_date_reports_the_truth_of_that_date(backfill, as_of):
    _, runs, _ = backfill
    run = runs[as_of]
    assert run.headline_dates == {as_of}
    _assert_equal_figures(run.headlines, headlines_as_of(demo_truth(), as_of), as_of)


def test_the_dates_give_clearly_different_figures(backfill):
    _, runs, _ = backfill
    truth = demo_truth()
    expected = [headlines_as_of(truth, d) for d in DATES]
    assert len({tuple(sorted(h.items())) for h in expected}) == len(DATES)
    assert len({tuple(sorted(runs[d].headlines.items())) for d in DATES}) == len(DATES)
    # every metric but the rate grows or stays from date to date; the ones a mix-up of two dates
    # would hide differ between every pair
    for earlier, later in zip(expected, expected[1:], strict=False):
        assert all(earlier[m] <= later[m] for m in earlier if m != RATE)
    for metric in ("cadres_talked", "households_visited", "funding_yuan", "cadres_stationed"):
        assert len({h[metric] for h in expected}) == len(DATES), metric
    first, mid, _ = expected
    assert first["work_teams"] < mid["work_teams"] == EXPECTED_HEADLINES["work_teams"]
    assert first[RATE] != mid[RATE] != EXPECTED_HEADLINES[RATE]


def _row(r) -> tuple | str:
    return r if isinstance(r, str) else tuple(r)


def test_obligation_flags_follow_the_as_of_date(backfill):
    _, runs, _ = backfill
    t = demo_truth()
    for as_of, run in runs.items():
        expected = {
            "missed_quarterly_visits": missed_quarterly_visits(t.pairings, t.visits, as_of),
            "missed_annual_talks": missed_annual_talks(t.roster, t.talks, as_of),
            "missed_branch_quarters": missed_branch_quarters(t.branch_activities, as_of),
            "org_cadre_pairing_load": sorted(
                org_cadre_pairing_load(t.cadres, t.pairings, as_of).items()
            ),
            "talks_wrong_leader": wrong_leader_talks(t.roster, t.talks),
            "talks_missing_topics": talks_missing_topics(t.talks),
            "matters_not_decided_at_meeting": matters_not_decided_at_meeting(t.matters, as_of),
            "matters_decided_off_meeting_day": matters_decided_off_meeting_day(t.matters),
        }
        assert expected["talks_wrong_leader"] and expected["matters_not_decided_at_meeting"]
        got = {k: sorted(_row(r) for r in rows) for k, rows in run.obligations.items()}
        assert got == {k: sorted(_row(r) for r in v) for k, v in expected.items()}, as_of


def test_earlier_dates_pass_the_gate_and_leave_the_current_file_alone(backfill):
    settings, runs, rerun = backfill
    for run in (*runs.values(), rerun):
        assert run.checked["blocking"] == 0, run.as_of  # stages.check did not raise either
        assert Path(run.published["history_path"]) == history_path(settings.published_db, run.as_of)
        assert run.published["current"] is (run.as_of == NIGHT), run.as_of
    assert publication_info(settings.published_db)["as_of"] == NIGHT.isoformat()
    current, dates, _ = _published_state(settings.published_db)
    assert dates == {NIGHT}
    _assert_equal_figures(current, EXPECTED_HEADLINES, NIGHT)
    kept = sorted(p.name for p in (settings.published_db.parent / "history").iterdir())
    assert kept == [f"{d.isoformat()}.duckdb" for d in DATES]


def test_a_rerun_of_the_same_date_gives_identical_figures(backfill):
    settings, runs, rerun = backfill
    first = runs[MID_QUARTER]
    assert rerun.headlines == first.headlines  # Decimal for Decimal, not within a tolerance
    assert rerun.headline_dates == first.headline_dates == {MID_QUARTER}
    assert rerun.obligations == first.obligations
    # the history of checks keeps one row per rule for the date: the rerun replaced its rows
    con = duckdb.connect(str(settings.build_db), read_only=True)
    try:
        per_date = dict(
            con.execute(
                "select as_of, count(*) = count(distinct (rule_id, severity)) "
                "from marts.dq_history group by as_of"
            ).fetchall()
        )
    finally:
        con.close()
    assert per_date == {d: True for d in DATES}
