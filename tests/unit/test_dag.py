"""The DAG file: it parses with nothing heavy at import and without running dbt, wires the
stages in order (the build stage a task group with one task per dbt model), and a 02:00 nightly
run reports on the previous day in Asia/Shanghai.

How long it takes to parse is measured by bench/dag_parse.py (target < 1 s), never asserted."""

import datetime as dt
import functools
import json
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pendulum
import pytest

from outreach.airflow import dbt_tasks
from outreach.airflow.embedded import DAG_FILE, WRITER_POOL, load_dag, logical_date_for
from outreach.pipeline import dbt_runner
from outreach.pipeline.context import RunContext, as_of_for_logical_date
from outreach.settings import load_settings

TZ = ZoneInfo("Asia/Shanghai")


def _build_tasks(dag):
    return [t for t in dag.tasks if t.task_id.startswith("build.")]


def _model_id(task) -> str | None:
    return getattr(task, "model_unique_id", None)


def test_dag_wiring_and_schedule():
    dag = load_dag()
    assert dag.dag_id == "outreach_nightly"
    assert dag.catchup is False and dag.max_active_runs == 1
    outside = [
        "claim_warehouse",
        "prepare",
        "plan_ingest",
        "parse_files",
        "load_raw",
        "needs_build",
    ]
    after = ["check", "publish", "report", "verdict"]
    group = dag.task_group_dict["build"]
    assert set(dag.task_ids) - {t.task_id for t in _build_tasks(dag)} == set(outside + after)
    # claim >> prepare >> plan >> parse (mapped) >> load >> gate >> build (the group) >> check
    for upstream, downstream in zip(outside, outside[1:], strict=False):
        assert downstream in dag.get_task(upstream).downstream_task_ids, upstream
    gate = dag.get_task("needs_build")
    # every task it skips (the group's, check, publish), so that a skip reaches them all in
    # one step; report and verdict, which must run, are not among them
    assert {t.task_id for t in _build_tasks(dag)} | {"check", "publish"} == (
        gate.downstream_task_ids
    )
    assert {t.task_id for t in group.roots} & dag.get_task("load_raw").downstream_task_ids == set()
    assert {t.task_id for t in group.leaves} <= dag.get_task("check").upstream_task_ids
    # nothing changed: the gate skips the group's first tasks only, the rest follow their
    # trigger rules: the group and check and publish are skipped, report and verdict run
    # (tests/integration/test_rebuild_gate.py runs it)
    assert type(gate).__name__ == "_ShortCircuitDecoratedOperator"
    assert gate.ignore_downstream_trigger_rules is False
    assert {dag.get_task(t).trigger_rule for t in ("check", "publish", "verdict")} == {
        "all_success"
    }
    for upstream, downstream in zip(after, after[1:], strict=False):
        assert downstream in dag.get_task(upstream).downstream_task_ids, upstream
    assert dag.get_task("claim_warehouse").mode == "reschedule"  # waits without a worker slot
    assert dag.get_task("report").trigger_rule == "all_done"  # gives the run lease back
    # nothing changed: the parse tasks are skipped and the loader still runs
    assert dag.get_task("load_raw").trigger_rule == "none_failed"
    assert dag.get_task("load_raw").retries >= 1
    writers = {t.task_id for t in dag.tasks if t.pool == WRITER_POOL}
    others = writers - {t.task_id for t in _build_tasks(dag)}
    assert others == {"plan_ingest", "load_raw", "needs_build", "check", "publish"}
    assert dag.get_task("parse_files").pool != WRITER_POOL  # parsing writes no database
    assert [o.name for o in dag.get_task("publish").outlets] == ["outreach_published_warehouse"]
    assert dag.on_failure_callback is not None and dag.deadline is not None  # alerts by mail
    assert dag.doc_md and "outreach dbt-manifest" in dag.doc_md


def test_the_build_group_has_one_task_per_model_of_the_manifest():
    dag = load_dag()
    tasks = _build_tasks(dag)
    by_model = {_model_id(t): t for t in tasks if _model_id(t)}
    assert sorted(by_model) == dbt_runner.manifest_models()
    # the dbt graph is the task graph: a model task waits for the tasks of the models it selects
    nodes = json.loads(dbt_runner.MANIFEST_PATH.read_text(encoding="utf-8"))["nodes"]
    for model, task in by_model.items():
        parents = {n for n in nodes[model]["depends_on"]["nodes"] if n in by_model}
        assert {by_model[p].task_id for p in parents} <= task.upstream_task_ids, model
    # one dbt command builds the models (no tests: they run in check); the rest are model tasks
    producer = dag.get_task("build.dbt_producer_watcher")
    assert producer.base_cmd == ["build"]
    flags = producer.dbt_cmd_flags
    assert flags.count("--resource-type") >= 1 and "model" in flags and "test" not in flags
    others = {t.task_id for t in tasks} - {t.task_id for t in by_model.values()}
    assert others == {"build.dbt_producer_watcher", "build.dbt_producer_watcher_done"}


def test_every_build_task_that_can_write_duckdb_takes_the_writer_slot():
    from airflow.providers.standard.operators.empty import EmptyOperator

    for task in _build_tasks(load_dag()):
        if isinstance(task, EmptyOperator):
            continue  # dbt_producer_watcher_done: runs nothing
        # the producer runs dbt build; a model task runs dbt for its model on a retry
        assert task.pool == WRITER_POOL, task.task_id
        if _model_id(task):
            # waits without holding the slot (nor a trigger dag.test() would run inline)
            assert task.mode == "reschedule" and task.deferrable is False, task.task_id


def test_as_of_and_the_build_file_are_set_when_dbt_starts_not_when_the_dag_is_parsed(
    tmp_path, monkeypatch
):
    dag = load_dag()
    producer = dag.get_task("build.dbt_producer_watcher")
    assert not producer.vars and "OUTREACH_BUILD_DB" not in (producer.env or {})
    for task in _build_tasks(dag):
        if hasattr(task, "interceptors"):
            (interceptor,) = task.interceptors
            assert interceptor.func is dbt_tasks.set_run_time_config, task.task_id
            assert interceptor.keywords == {"run_task_id": "prepare"}
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path))
    ctx = RunContext(run_id="2014-06-30_x", as_of=dt.date(2014, 6, 30))
    ti = SimpleNamespace(
        xcom_pull=lambda task_ids: ctx.to_xcom() if task_ids == "prepare" else None
    )
    operator = SimpleNamespace(vars=None, env=None)
    dbt_tasks.set_run_time_config({"ti": ti}, operator, run_task_id="prepare")
    assert operator.vars == {"as_of": "2014-06-30", "programme_start": "2012-01-01"}
    assert operator.env["OUTREACH_BUILD_DB"] == str(load_settings().build_db)


def test_each_dbt_command_merges_its_model_results_into_build_json(tmp_path, monkeypatch):
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path / "home"))
    settings = load_settings()
    ctx = RunContext(run_id="2014-06-30_x", as_of=dt.date(2014, 6, 30))
    context = {"ti": SimpleNamespace(xcom_pull=lambda task_ids: ctx.to_xcom())}
    record = functools.partial(dbt_tasks.record_results, run_task_id="prepare")

    def dbt_ran(*results):
        project = tmp_path / f"project{len(list(tmp_path.iterdir()))}"
        (project / "target").mkdir(parents=True)
        rows = [{"unique_id": u, "status": s, "message": m} for u, s, m in results]
        (project / "target" / "run_results.json").write_text(json.dumps({"results": rows}))
        record(str(project), context=context)
        run_dir = ctx.report_dir(settings)
        error = run_dir / "build.error.json"
        models = json.loads((run_dir / "build.json").read_text())["models"]
        return {m["unique_id"]: m["status"] for m in models}, (
            json.loads(error.read_text())["error"] if error.exists() else None
        )

    # the producer's dbt build: one model fails, the one after it is skipped
    models, error = dbt_ran(
        ("model.outreach.a", "success", "OK"),
        ("model.outreach.b", "error", "Binder Error: no column x"),
        ("model.outreach.c", "skipped", None),
    )
    assert models == {
        "model.outreach.a": "success",
        "model.outreach.b": "error",
        "model.outreach.c": "skipped",
    }
    assert "model.outreach.b: Binder Error: no column x" in error
    # the failed model's task, retried, runs dbt for that model alone: its result replaces
    models, error = dbt_ran(("model.outreach.b", "success", "OK"))
    assert models["model.outreach.b"] == "success" and error is None
    # a task failing before dbt wrote anything is still named (unless models already are)
    dbt_tasks.record_failure(
        {
            "ti": SimpleNamespace(xcom_pull=lambda task_ids: ctx.to_xcom(), task_id="build.c_run"),
            "exception": RuntimeError("boom"),
        },
        run_task_id="prepare",
    )
    error = json.loads((ctx.report_dir(settings) / "build.error.json").read_text())["error"]
    assert error == "build.c_run: RuntimeError: boom"


def test_importing_the_dag_never_runs_dbt():
    """Neither the dbt executable nor dbt's Python API (dbtRunner) while the DAG file is
    imported: the group is rendered from the prebuilt manifest."""
    code = """
import os, runpy, subprocess, sys

class NoDbt:  # import dbt (dbtRunner) fails
    def find_spec(self, name, path=None, target=None):
        if name == "dbt" or name.startswith("dbt."):
            raise ImportError("the DAG file imported " + name)

spawn = subprocess.Popen.__init__

def no_dbt_process(self, args, *rest, **kwargs):  # other programs (croniter runs `file`) may run
    words = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
    if any(os.path.basename(os.fsdecode(w)).startswith("dbt") for w in words):
        raise AssertionError(f"the DAG file ran dbt: {args!r}")
    spawn(self, args, *rest, **kwargs)

sys.meta_path.insert(0, NoDbt())
subprocess.Popen.__init__ = no_dbt_process
module = runpy.run_path(sys.argv[1])
print("TASKS", len(module["nightly"].task_ids))
"""
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAG_FILE)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("TASKS ")]
    assert int(line.split()[1]) > len(dbt_runner.manifest_models())


@pytest.mark.parametrize("problem", ["missing", "stale"])
def test_without_an_up_to_date_manifest_the_dag_is_an_import_error_saying_what_to_do(
    problem, tmp_path, monkeypatch
):
    from airflow.dag_processing.dagbag import DagBag

    manifest = tmp_path / "manifest.json"
    if problem == "stale":
        shutil.copyfile(dbt_runner.MANIFEST_PATH, manifest)
        os.utime(manifest, (0, 0))  # 1970: older than every file of the dbt project
    monkeypatch.setattr(dbt_runner, "MANIFEST_PATH", manifest)
    with pytest.raises(dbt_tasks.ManifestError, match="outreach dbt-manifest"):
        load_dag()
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert "outreach_nightly" not in bag.dags
    (error,) = bag.import_errors.values()
    assert "Run `outreach dbt-manifest`" in error
    assert ("does not exist" if problem == "missing" else "is older than") in error


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
        "print('HEAVY', ','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAG_FILE)], capture_output=True, text=True, check=True
    )
    # (cosmos logs to stdout while it renders the group)
    assert [x for x in out.stdout.splitlines() if x.startswith("HEAVY")] == ["HEAVY "]


def test_dbt_manifest_command_builds_a_missing_manifest_and_then_leaves_it(
    tmp_path, monkeypatch, capsys
):
    from outreach.cli import main

    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path / "home"))
    manifest = tmp_path / "target" / "manifest.json"
    manifest.parent.mkdir()
    monkeypatch.setattr(dbt_runner, "MANIFEST_PATH", manifest)
    assert main(["dbt-manifest", "--if-stale"]) == 0  # missing: dbt parse writes it
    assert "dbt manifest written to" in capsys.readouterr().out
    assert dbt_runner.manifest_models(manifest) == dbt_runner.manifest_models(
        DAG_FILE.parent.parent / "dbt_project" / "target" / "manifest.json"
    )
    assert dbt_runner.manifest_stale_reason(manifest) is None
    built = manifest.stat().st_mtime_ns
    assert main(["dbt-manifest", "--if-stale"]) == 0  # up to date: nothing runs
    assert "up to date" in capsys.readouterr().out
    assert manifest.stat().st_mtime_ns == built
    assert not list(manifest.parent.glob(".parse-*"))  # dbt's work folder is gone


@pytest.mark.parametrize("given, limit", [(None, None), (1, 1), ("8", 8), (" 256 ", 256)])
def test_parse_batches_from_the_run_configuration(given, limit):
    from outreach.pipeline.stages import parse_batches_limit

    assert parse_batches_limit(given) == limit


@pytest.mark.parametrize("bad", [0, -3, "0", "two", "1.5", 2.0, True, [], {"n": 1}])
def test_a_bad_parse_batches_is_refused_with_the_reason(bad):
    from outreach.pipeline.stages import parse_batches_limit

    with pytest.raises(ValueError, match="parse_batches must be a whole number from 1 up"):
        parse_batches_limit(bad)


def test_one_parse_batch_holds_every_file_big_or_small():
    """``outreach run`` (dag.test, one process) plans one batch: a mapped task each would run
    one after another, each paying its own start-up."""
    from ingest.pipeline import batch_files

    sizes = [10, 64 * 1024**2, 5, 7] * 40
    assert batch_files(sizes, max_batches=1) == [list(range(len(sizes)))]
    assert len(batch_files(sizes)) > 1


def test_every_task_is_bounded_and_no_wait_outlasts_the_night():
    """Review: a hung task held the build file until morning; the model sensors' timeout was
    Airflow's default of seven days."""
    from airflow.sdk import BaseSensorOperator

    dag = load_dag()
    night = dt.timedelta(hours=4)
    for task in dag.tasks:
        assert task.execution_timeout is not None, task.task_id
        assert task.execution_timeout <= night, task.task_id
        if isinstance(task, BaseSensorOperator):
            assert dt.timedelta(seconds=task.timeout) <= night, task.task_id
    sensors = [t for t in dag.tasks if isinstance(t, BaseSensorOperator)]
    assert len(sensors) > 50  # the claim and one per dbt model
