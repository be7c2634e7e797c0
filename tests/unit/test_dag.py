"""The DAG file: it parses fast with nothing heavy at import, wires the stages in order, and a
02:00 nightly run reports on the previous day in Asia/Shanghai."""

import datetime as dt
import subprocess
import sys
from zoneinfo import ZoneInfo

import pendulum

from outreach.airflow_env import DAG_FILE, load_dag, logical_date_for
from outreach.context import as_of_for_logical_date
from outreach.settings import load_settings

TZ = ZoneInfo("Asia/Shanghai")


def test_dag_wiring_and_schedule():
    dag = load_dag()
    assert dag.dag_id == "outreach_nightly"
    assert dag.catchup is False and dag.max_active_runs == 1
    order = [
        "claim_warehouse",
        "prepare",
        "plan_ingest",
        "parse_files",
        "load_raw",
        "build",
        "check",
        "publish",
        "report",
        "verdict",
    ]
    assert set(dag.task_ids) == set(order)
    for upstream, downstream in zip(order[2:], order[3:], strict=False):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    assert "prepare" in dag.get_task("claim_warehouse").downstream_task_ids
    assert dag.get_task("claim_warehouse").mode == "reschedule"  # waits without a worker slot
    assert dag.get_task("report").trigger_rule == "all_done"  # gives the run lease back
    # nothing changed: the parse tasks are skipped and the loader still runs
    assert dag.get_task("load_raw").trigger_rule == "none_failed"
    assert dag.get_task("load_raw").retries >= 1
    writers = {t.task_id for t in dag.tasks if t.pool == "duckdb_writer"}
    assert writers == {"plan_ingest", "load_raw", "build", "check", "publish"}
    assert dag.get_task("parse_files").pool != "duckdb_writer"  # parsing writes no database
    assert [o.name for o in dag.get_task("publish").outlets] == ["outreach_published_warehouse"]
    assert dag.on_failure_callback is not None and dag.deadline is not None  # alerts by mail
    assert dag.doc_md


def test_the_0200_run_reports_on_the_previous_day_in_shanghai():
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    timetable = coerce_to_core_timetable(load_dag().timetable)
    previous = DataInterval(
        pendulum.datetime(2014, 6, 29, 2, 0, tz="Asia/Shanghai"),
        pendulum.datetime(2014, 6, 30, 2, 0, tz="Asia/Shanghai"),
    )
    info = timetable.next_dagrun_info(
        last_automated_data_interval=previous,
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    # The run that fires at 2014-07-01 02:00 Asia/Shanghai...
    assert info.run_after == pendulum.datetime(2014, 7, 1, 2, 0, tz="Asia/Shanghai")
    # ...has the logical date 2014-06-30 02:00 Asia/Shanghai, which is 2014-06-29 in UTC,
    logical = info.data_interval.start
    assert logical.in_timezone("UTC").date() == dt.date(2014, 6, 29)
    # ...and reports on 2014-06-30.
    assert as_of_for_logical_date(logical, TZ) == dt.date(2014, 6, 30)


def test_outreach_run_uses_the_logical_date_of_that_night(tmp_path):
    settings = load_settings({"OUTREACH_HOME": str(tmp_path)})
    logical = logical_date_for(dt.date(2014, 6, 30), settings)
    assert as_of_for_logical_date(logical, TZ) == dt.date(2014, 6, 30)


def test_the_dag_file_imports_nothing_heavy():
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "heavy = [m for m in ('duckdb', 'pandas', 'great_expectations', 'dbt', 'python_calamine') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAG_FILE)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1:] in ([], [""])
