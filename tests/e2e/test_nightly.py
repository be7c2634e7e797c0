"""End to end: the real DAG through ``dag.test()`` on the demo inbox, as ``outreach run`` runs it.

One demo run is shared by the module (it takes about a minute). A second run (a rebuild asked
for) proves that a reader holding the published file open never blocks the nightly writer; a
third, with nothing new, skips build, check and publish and keeps the published file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time

import duckdb
import pytest

from ingest.pii import ID_IN_TEXT as ID_PATTERN
from ingest.pii import MOBILE_IN_TEXT as MOBILE_PATTERN
from outreach.demo import DEMO_AS_OF, EXPECTED_HEADLINES, PLANTED
from tests.article import ARTICLE
from tests.demo_warehouse import copy_of, run_output

pytestmark = pytest.mark.slow


def _run(home, *args, background=False):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OUTREACH_"))}
    env["OUTREACH_HOME"] = str(home)
    cmd = [sys.executable, "-m", "outreach.cli", "run", *args]
    if background:
        return subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def demo_home(demo_home, tmp_path_factory):
    """A copy of the session's demo night (``tests/demo_warehouse.py``: ``outreach run
    --demo-if-empty`` through the DAG), for this module to run more nights in and break, with
    what that run printed."""
    home = copy_of(demo_home, tmp_path_factory.mktemp("nightly") / "home")
    return home, run_output(demo_home).read_text(encoding="utf-8")


def _published(home):
    return duckdb.connect(str(home / "published" / "outreach.duckdb"), read_only=True)


def test_make_run_prints_headlines_flags_and_paths(demo_home):
    _, out = demo_home
    assert "cadres_talked" in out and "186" in out
    assert "dq_missing_quarterly_visits" in out
    assert "published:" in out and "DAG run state: success" in out
    # what the calendar has due next after the as-of date (2014-06-30)
    assert (
        "Due next (outreach calendar): 本周拉家常安排 2014-07-07; 一月一议议题清单 2014-07-21"
        in out
    )


def test_published_headlines_equal_the_article(demo_home):
    home, _ = demo_home
    con = _published(home)
    rows = dict(con.execute("select metric, value from marts.program_headlines").fetchall())
    as_of = {
        r[0] for r in con.execute("select distinct as_of from marts.program_headlines").fetchall()
    }
    assert as_of == {DEMO_AS_OF}
    for metric, value in ARTICLE.items():
        assert float(rows[metric]) == value, metric
    assert rows["enterprise_problems_solved"] >= 130
    for metric, value in EXPECTED_HEADLINES.items():
        assert float(rows[metric]) == pytest.approx(float(value), abs=1e-4), metric


def test_planted_breaches_are_found_exactly(demo_home):
    home, _ = demo_home
    con = _published(home)
    missed = con.execute(
        "select cadre_code, household_code, quarter from marts.dq_missing_quarterly_visits order by 1, 2, 3"
    ).fetchall()
    assert len(missed) == len(PLANTED["missed_quarterly_visits"])
    assert sorted(tuple(m) for m in missed) == sorted(
        tuple(p) for p in PLANTED["missed_quarterly_visits"]
    )
    talks = con.execute("select cadre_code, year from marts.dq_missing_annual_talks").fetchall()
    assert sorted((c, int(y)) for c, y in talks) == sorted(
        (c, int(y)) for c, y in PLANTED["missed_annual_talks"]
    )
    branches = con.execute(
        "select joint_branch_name, quarter from marts.dq_missing_branch_activities"
    ).fetchall()
    assert sorted(branches) == sorted(tuple(b) for b in PLANTED["missed_branch_quarters"])
    load = dict(
        con.execute(
            "select cadre_code, active_pairings from marts.dq_org_cadre_pairing_load"
        ).fetchall()
    )
    assert load == dict(PLANTED["org_cadre_pairing_load"])
    # the calendar's rules: warnings in dq_results, one per planted talk and overdue matter
    found = dict(
        con.execute(
            "select rule_id, count(*) from marts.dq_results where rule_id in ("
            "'talk_wrong_leader', 'talk_missing_topics', 'matter_not_decided_at_meeting', "
            "'matter_decided_off_meeting_day') and severity = 'warning' group by 1"
        ).fetchall()
    )
    assert found == {
        "talk_wrong_leader": len(PLANTED["talks_wrong_leader"]),
        "talk_missing_topics": len(PLANTED["talks_missing_topics"]),
        "matter_not_decided_at_meeting": len(PLANTED["matters_not_decided_at_meeting"]),
    }


def test_the_calendars_plans_are_the_truths_on_the_demo_date(demo_home):
    """On 2014-06-30: the talks still owed in 2014 by leader, the pack for July's meeting (the
    three matters for several departments led by the head), and the quarter's reminders, which
    on the quarter's last day are exactly its missed pairings."""
    from outreach.demo import demo_truth
    from outreach.demo.truth import REQUIRED_ROLE, last_friday

    home, _ = demo_home
    con = _published(home)
    t = demo_truth()
    talked = {x.cadre_code for x in t.talks if x.talk_date.year == 2014}
    owed = sorted(
        (REQUIRED_ROLE[c.rank], c.code) for c in t.roster if c.rank and c.code not in talked
    )
    plan = con.execute(
        "select interviewer_role, cadre_code, queue_position, talks_left, tuesdays_left "
        "from marts.rpt_talk_plan order by 1, 2"
    ).fetchall()
    assert [(r, c) for r, c, *_ in plan] == owed
    after = [DEMO_AS_OF + dt.timedelta(days=n) for n in range(1, 185)]
    tuesdays = sum(d.weekday() == 1 and d.year == 2014 for d in after)
    assert {n for *_, n in plan} == {tuesdays} == {27}  # 2014's Tuesdays after 30 June
    assert all(left == sum(r == role for r, _ in owed) for role, _, _, left, _ in plan)
    agenda = con.execute(
        "select distinct next_meeting, last_meeting from marts.rpt_meeting_agenda"
    ).fetchall()
    assert agenda == [(last_friday(2014, 7), last_friday(2014, 6))]
    led = con.execute(
        "select matter_code from marts.rpt_meeting_agenda where lead = '部长牵头' order by 1"
    ).fetchall()
    assert [m for (m,) in led] == PLANTED["matters_several_departments"]
    last = last_friday(2014, 6)  # raised since June's meeting, or still open
    expected = sorted(
        m.matter_code for m in t.matters if m.raised_on > last or m.status != "已办结"
    )
    on_agenda = con.execute(
        "select matter_code from marts.rpt_meeting_agenda order by 1"
    ).fetchall()
    assert [m for (m,) in on_agenda] == expected
    reminders = con.execute(
        "select cadre_code, household_code, quarter from marts.rpt_visit_reminders order by all"
    ).fetchall()
    missed = [tuple(m) for m in PLANTED["missed_quarterly_visits"] if m[2] == "2014Q2"]
    assert reminders == sorted(missed) and reminders


def test_the_calendar_writes_the_plans_of_a_day_from_the_warehouse_of_the_day_before(demo_home):
    """`outreach calendar`: on 1 July (a Tuesday) nothing is due; asked for every plan, it
    writes them from the warehouse of 30 June, in Chinese with masks only; a day whose day
    before was never published is refused with the dates that were."""
    from openpyxl import load_workbook

    home, _ = demo_home
    env = {**os.environ, "OUTREACH_HOME": str(home)}
    run = [sys.executable, "-m", "outreach.cli", "calendar", "--date", "2014-07-01"]
    got = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert got.returncode == 0 and "nothing is due" in got.stdout and "2014-07-07" in got.stdout
    every = [a for k in ("talk_plan", "meeting_pack", "visit_reminders") for a in ("--plan", k)]
    got = subprocess.run(run + every, env=env, capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stderr
    folder = home / "reports" / "calendar" / "2014-07-01"
    con = _published(home)
    books = {p.name: load_workbook(p, read_only=True) for p in folder.glob("*.xlsx")}

    def cells(name: str) -> list[list]:
        return [
            [c for c in row]
            for ws in books[name].worksheets
            for row in ws.iter_rows(values_only=True)
        ]

    plan = con.execute("select count(*) from marts.rpt_talk_plan").fetchall()[0][0]
    arranged = books["本周拉家常安排_2014-07-01.xlsx"]["安排"].iter_rows(values_only=True)
    assert sum(1 for r in arranged if r[0] in ("组织部长", "副部长", "干部科长")) == plan
    agenda = con.execute("select count(*) from marts.rpt_meeting_agenda").fetchall()[0][0]
    assert len(cells("一月一议议题清单_2014-07-25.xlsx")) == agenda + 2 + 3  # title, header, notes
    reminders = dict(
        con.execute(
            "select township_name, count(*) from marts.rpt_visit_reminders group by 1"
        ).fetchall()
    )
    for township, n in reminders.items():
        rows = cells(f"本季度走访提醒_{township}_2014-07-01.xlsx")
        assert sum(1 for r in rows if isinstance(r[0], int)) == n
    text = "\n".join(str(c) for name in books for r in cells(name) for c in r if c is not None)
    assert not re.search(ID_PATTERN, text) and not re.search(MOBILE_PATTERN, text)
    refused = subprocess.run(
        [sys.executable, "-m", "outreach.cli", "calendar", "--date", "2014-07-07"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 1 and "published as-of dates: 2014-06-30" in refused.stderr


def test_run_json_reports_the_run(demo_home):
    home, _ = demo_home
    run = json.loads((home / "reports" / "latest" / "run.json").read_text(encoding="utf-8"))
    assert run["as_of"] == DEMO_AS_OF.isoformat() and run["published"] is True
    assert set(run) >= {
        "as_of",
        "published",
        "files",
        "rows",
        "sheets_unmatched",
        "checks",
        "headlines",
    }
    assert run["files"]["quarantined"] == 0 and run["files"]["loaded"] > 50
    # in one process the plan is one parse batch (by default the 133 files would make three)
    assert run["timings"]["parse"]["batches"] == 1
    assert run["rows"]["quarantined"] == PLANTED["quarantined_rows"]
    assert run["sheets_unmatched"] == len(PLANTED["unmatched_sheets"])
    assert run["headlines"]["cadres_talked"] == 186
    assert all(c["severity"] in ("error", "warning") for c in run["checks"])
    assert not [c for c in run["checks"] if c["severity"] == "error" and c["failures"]]
    warnings = {c["rule_id"] for c in run["checks"] if c["severity"] == "warning" and c["failures"]}
    assert {
        "visit_unpaired",
        "funding_over_million",
        "duplicate_merged",
        "unknown_household",
    } <= warnings
    # warnings publish and keep their rows: the visits naming unknown households are in the fact
    con = _published(home)
    unknown = con.execute(
        "select count(*) from marts.fct_visits where household_id = '-1'"
    ).fetchone()[0]
    assert unknown == sum(
        1 for dataset, column, _ in PLANTED["unknown_codes"] if column == "household_code"
    )
    summary = (home / "reports" / run["run_id"] / "summary.md").read_text(encoding="utf-8")
    assert "单笔资金超过100万元" in summary
    per_run = home / "reports" / run["run_id"]
    assert (per_run / "run.json").exists() and "数据仓库运行报告" in (
        per_run / "summary.md"
    ).read_text(encoding="utf-8")


def test_published_file_holds_marts_only_and_no_personal_data(demo_home):
    home, _ = demo_home
    con = _published(home)
    schemas = {
        r[0]
        for r in con.execute(
            "select distinct table_schema from information_schema.tables"
        ).fetchall()
    }
    assert schemas == {"marts", "marts_cn"}  # marts_cn: views of marts with Chinese names
    hits = []
    for table, column in con.execute(
        "select table_name, column_name from information_schema.columns where data_type = 'VARCHAR' and table_schema = 'marts'"
    ).fetchall():
        n = con.execute(
            f'select count(*) from marts."{table}" where regexp_matches("{column}", ?) or regexp_matches("{column}", ?)',
            [ID_PATTERN, MOBILE_PATTERN],
        ).fetchone()[0]
        if n:
            hits.append((table, column, n))
    assert hits == []


def test_a_reader_on_the_published_file_never_blocks_the_night_run(demo_home):
    home, _ = demo_home
    published = home / "published" / "outreach.duckdb"
    before = published.stat().st_ino
    # nothing is new: without --rebuild the gate would rightly skip the build (next test)
    proc = _run(home, "--as-of", "2014-06-30", "--rebuild", background=True)
    reads = 0
    reader = duckdb.connect(str(published), read_only=True)  # held open for the whole run
    try:
        while proc.poll() is None:
            assert reader.execute("select count(*) from marts.fct_visits").fetchone()[0] > 0
            reads += 1
            time.sleep(0.5)
    finally:
        reader.close()
    out = proc.stdout.read()
    assert proc.returncode == 0, out[-4000:]
    assert reads > 0
    assert published.stat().st_ino != before  # a new file was renamed into place
    assert "unchanged" in out
    con = duckdb.connect(str(published), read_only=True)
    runs = con.execute(
        "select as_of, count(distinct run_id) from marts.dq_history group by 1"
    ).fetchall()
    assert runs == [(DEMO_AS_OF, 1)]  # the rerun replaced that date's rows


def test_a_night_with_nothing_new_skips_the_build_and_keeps_the_published_file(demo_home):
    import hashlib
    import sqlite3

    home, _ = demo_home
    published = home / "published" / "outreach.duckdb"
    sha, inode = hashlib.sha256(published.read_bytes()).hexdigest(), published.stat().st_ino
    previous = json.loads((home / "reports" / "latest" / "run.json").read_text(encoding="utf-8"))
    proc = _run(home, "--as-of", "2014-06-30")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "DAG run state: success" in proc.stdout and "nothing to rebuild" in proc.stdout
    run = json.loads((home / "reports" / "latest" / "run.json").read_text(encoding="utf-8"))
    assert run["run_id"] != previous["run_id"]
    assert run["published"] is False and run["up_to_date"] is True and run["reasons"] == []
    assert run["build"]["skipped"] is True and run["build"]["reuses_run"] == previous["run_id"]
    assert run["files"]["loaded"] == 0 and run["files"]["unchanged"] > 50
    assert run["headlines"] == previous["headlines"] and run["checks"] == previous["checks"]
    assert hashlib.sha256(published.read_bytes()).hexdigest() == sha
    assert published.stat().st_ino == inode
    # in Airflow: the dbt group, check and publish skipped, not failed
    con = sqlite3.connect(home / "airflow" / "airflow.db")
    try:
        (last,) = con.execute(
            "select run_id from dag_run where dag_id = 'outreach_nightly' "
            "order by start_date desc limit 1"
        ).fetchone()
        states = dict(
            con.execute(
                "select task_id, state from task_instance where dag_id = 'outreach_nightly' "
                "and run_id = ?",
                (last,),
            ).fetchall()
        )
    finally:
        con.close()
    assert states["needs_build"] == states["report"] == states["verdict"] == "success"
    assert states["check"] == states["publish"] == states["build.dbt_producer_watcher"] == "skipped"
    models = [v for k, v in states.items() if k.startswith("build.") and k.endswith("_run")]
    assert len(models) > 50 and set(models) == {"skipped"}


def test_follow_up_lists_feedback_workbooks_and_data_docs(demo_home):
    import openpyxl

    home, _ = demo_home
    run = json.loads((home / "reports" / "latest" / "run.json").read_text(encoding="utf-8"))
    run_dir = home / "reports" / run["run_id"]
    planted = {(c, h, q) for c, h, q in PLANTED["missed_quarterly_visits"]}
    found = set()
    for path in sorted(run_dir.glob("待走访清单_*.xlsx")):
        sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        rows = [r for r in sheet.iter_rows(values_only=True)]
        header = next(i for i, r in enumerate(rows) if r and "帮扶干部编号" in r)
        cols = rows[header]
        for r in rows[header + 1 :]:
            if r[0] is None or not isinstance(r[0], int | float):
                continue  # the footer
            quarter = r[cols.index("应走访季度")]
            year, q = quarter.replace("年第", " ").replace("季度", "").split()
            found.add((r[cols.index("帮扶干部编号")], r[cols.index("户编号")], f"{year}Q{q}"))
    assert found == planted  # every missed visit, in its township's list
    assert (run_dir / "退回清单_townships_保城镇.xlsx").exists()  # one per unit
    assert (run_dir / "data_docs" / "index.html").exists()
    assert (home / "reports" / "latest" / "data_docs" / "index.html").exists()


def test_report_timeliness_from_the_ledger(demo_home):
    from outreach.demo import arrival_times

    home, _ = demo_home
    con = _published(home)
    rows = con.execute(
        "select township_name, quarter, quarter_end, due_on, first_arrived_on, days_after_quarter_end, status, is_late "
        "from marts.fct_report_timeliness"
    ).fetchall()
    # a township owes a report for each quarter in which a household of it was paired
    owed = set(
        con.execute(
            "select distinct h.township_name, pq.quarter from marts.fct_pairing_quarters pq "
            "join marts.dim_households h using (household_id) where h.township_id <> '-1'"
        ).fetchall()
    )
    assert {(r[0], r[1]) for r in rows} == owed
    assert len(rows) == 9 * 10  # in the demo every township owes visits from 2012Q1 to 2014Q2
    arrived = {t.date() for t in arrival_times().values()}
    for township, quarter, end, due, on, days, status, late in rows:
        if on is not None:
            assert on in arrived and days == (on - end).days and on <= DEMO_AS_OF
            assert status == ("按时" if on <= due else "迟报")
        assert late == (status in ("迟报", "未报送")), (township, quarter)
    assert {r[6] for r in rows} >= {"按时", "迟报"}
    run = json.loads((home / "reports" / "latest" / "run.json").read_text(encoding="utf-8"))
    assert len(run["late_reports"]) == sum(1 for r in rows if r[7])


def test_dq_history_keeps_one_set_of_rows_per_as_of_date(demo_home):
    home, _ = demo_home
    con = _published(home)
    per_rule = con.execute(
        "select as_of, rule_id, severity, count(*) from marts.dq_history group by all having count(*) > 1"
    ).fetchall()
    assert per_rule == []
    findings = dict(
        con.execute(
            "select rule_id, failures from marts.dq_history where severity = 'finding'"
        ).fetchall()
    )
    assert findings["dq_missing_quarterly_visits"] == len(PLANTED["missed_quarterly_visits"])


def test_the_gates_checks_have_their_own_table_and_dq_results_stays_dbts(demo_home):
    """Every check of the gate that is not a dq_results rule (dbt tests, expectations, Python
    checks) is one row of ``marts.dq_checks`` with its outcome as check.json gives it; the
    per-record ``dq_results`` holds dbt's rules only, its columns as dbt wrote them."""
    home, _ = demo_home
    con = _published(home)
    # the run that published the file (a later night with nothing new checks nothing)
    published_by = con.execute("select run_id from marts.publication").fetchone()[0]
    check = json.loads((home / "reports" / published_by / "check.json").read_text(encoding="utf-8"))
    expected = sorted(
        (c["rule_id"], c["severity"], c["source"], c["failures"])
        for c in check["checks"]
        if c["source"] != "dbt_results"
    )
    got = con.execute(
        "select rule_id, severity, source, failures from marts.dq_checks order by all"
    ).fetchall()
    assert sorted(got) == expected
    assert {r[2] for r in got} == {"dbt_test", "gx", "python"}
    run_id, as_of = con.execute("select run_id, as_of from marts.publication").fetchone()
    assert con.execute("select distinct run_id, as_of from marts.dq_checks").fetchall() == [
        (run_id, as_of)
    ]
    dbt_rules = {c["rule_id"] for c in check["checks"] if c["source"] == "dbt_results"}
    rows = con.execute("select distinct rule_id from marts.dq_results").fetchall()
    assert {r for (r,) in rows} == dbt_rules
    assert not any(r.startswith(("dbt:", "gx", "pii_", "mart_")) for r in dbt_rules)


def test_the_demo_inbox_is_the_same_bytes_every_time(demo_home, tmp_path):
    from outreach.demo import write_demo_inbox

    home, _ = demo_home
    write_demo_inbox(tmp_path / "again")
    first = sorted(
        p.relative_to(home / "inbox")
        for p in (home / "inbox").rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    second = sorted(
        p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file()
    )
    assert first == second
    for rel in first:
        assert (home / "inbox" / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), rel


# Each breaks other rows (the first visits, the last one, one in the middle, a matter), so
# applied together none undoes another.
TAMPERINGS = {
    # a duplicated fact key
    "fact_key_not_unique": "insert into marts.fct_visits "
    "select * from marts.fct_visits order by visit_id limit 2",
    # a raw row that never reaches its fact (and with the two above, rows from nowhere)
    "rows_not_conserved": "delete from marts.fct_visits where visit_id in "
    "(select visit_id from marts.fct_visits order by visit_id desc limit 1)",
    # a foreign key that points at no dimension row
    "dangling_foreign_key": "update marts.fct_visits set cadre_id = 'nosuchcadre' where visit_id "
    "in (select visit_id from marts.fct_visits order by visit_id limit 1 offset 100)",
    # a phone number in a mart
    "pii_outside_raw": "update marts.fct_matters set matter_code = matter_code || ' 13812343210' "
    "where matter_id in (select matter_id from marts.fct_matters limit 1)",
}


def test_a_broken_build_is_never_published(demo_home):
    """The build file is broken on purpose between build and check, four ways at once (one
    check stage for all: each rule is its own query, so one break cannot hide another): the
    check fails naming every rule, nothing is published (same sha256), run.json says why, and
    the DAG run would fail naming them."""
    import hashlib
    import shutil

    from outreach.pipeline import stages
    from outreach.pipeline.context import new_run_context
    from outreach.settings import load_settings

    home, _ = demo_home
    settings = load_settings({"OUTREACH_HOME": str(home)})
    pristine = home / "pristine_build.duckdb"
    shutil.copyfile(settings.build_db, pristine)
    before = hashlib.sha256(settings.published_db.read_bytes()).hexdigest()
    con = duckdb.connect(str(settings.build_db))
    for tampering in TAMPERINGS.values():
        con.execute(tampering)
    con.execute("checkpoint")
    con.close()
    ctx = new_run_context(DEMO_AS_OF)
    with pytest.raises(stages.PublishBlocked) as blocked:
        stages.check(settings, ctx)
    for rule in TAMPERINGS:
        assert rule in str(blocked.value), rule
    stages.report(settings, ctx)
    run = json.loads((settings.reports_dir / ctx.run_id / "run.json").read_text(encoding="utf-8"))
    assert run["published"] is False
    for rule in TAMPERINGS:
        assert any(rule in r for r in run["reasons"]), rule
    assert hashlib.sha256(settings.published_db.read_bytes()).hexdigest() == before
    with pytest.raises(stages.RunFailed) as failed:
        stages.verdict(settings, ctx)  # the DAG run fails, naming the rules
    for rule in TAMPERINGS:
        assert rule in str(failed.value), rule
    shutil.copyfile(pristine, settings.build_db)
    before = hashlib.sha256(settings.published_db.read_bytes()).hexdigest()
    con = duckdb.connect(str(settings.build_db))
    con.execute(TAMPERINGS[rule])
    con.execute("checkpoint")
    con.close()
    ctx = new_run_context(DEMO_AS_OF)
    with pytest.raises(stages.PublishBlocked, match=rule):
        stages.check(settings, ctx)
    stages.report(settings, ctx)
    run = json.loads((settings.reports_dir / ctx.run_id / "run.json").read_text(encoding="utf-8"))
    assert run["published"] is False
    assert any(rule in r for r in run["reasons"])
    assert hashlib.sha256(settings.published_db.read_bytes()).hexdigest() == before
    with pytest.raises(stages.RunFailed, match=rule):
        stages.verdict(settings, ctx)  # the DAG run fails, naming the rule
    shutil.copyfile(pristine, settings.build_db)
