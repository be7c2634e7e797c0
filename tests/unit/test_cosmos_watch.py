"""A cleared DAG run builds again in one dbt command; a retried or cleared model runs alone."""

from types import SimpleNamespace

import pytest
from cosmos.operators.watcher import DbtProducerWatcherOperator, DbtRunWatcherOperator

from outreach.airflow import cosmos_watch
from outreach.airflow.cosmos_watch import (
    ROUND_KEY,
    OutreachModelWatcher,
    OutreachProducer,
    rerun_decision,
)
from outreach.airflow.embedded import load_dag


@pytest.mark.parametrize(
    ("try_number", "round_now", "built_round", "status", "producer_done", "expected"),
    [
        # a first attempt: cosmos as it is
        (1, 0, None, None, False, "first"),
        (1, 3, 2, "success", True, "first"),
        # the whole run cleared: the producer built again in this round
        (2, 1, 1, "success", True, "watch"),
        (2, 1, 1, "skipped", True, "watch"),
        (2, 1, 1, None, False, "wait"),  # the producer has not reached the model yet
        (2, 1, 1, None, True, "alone"),  # the producer ended without building it
        # the model failed in this round's build and this is its retry
        (2, 0, 0, "error", True, "alone"),
        (2, 0, 0, "error", False, "wait"),  # never beside the producer
        # the producer of this round has not run yet: what XCom holds is the last round's
        (2, 1, 0, "success", False, "wait"),
        (2, 1, None, None, False, "wait"),
        # only this model task was cleared: the producer stays in the last round
        (2, 1, 0, "success", True, "alone"),
        (3, 2, None, None, True, "alone"),
    ],
)
def test_rerun_decision(try_number, round_now, built_round, status, producer_done, expected):
    assert (
        rerun_decision(
            try_number=try_number,
            round_now=round_now,
            built_round=built_round,
            status=status,
            producer_done=producer_done,
        )
        == expected
    )


def test_the_group_uses_the_adopted_classes():
    tasks = [t for t in load_dag().tasks if t.task_id.startswith("build.")]
    kinds = {type(t) for t in tasks}
    assert DbtProducerWatcherOperator not in kinds and DbtRunWatcherOperator not in kinds
    assert OutreachProducer in kinds and OutreachModelWatcher in kinds
    models = [t for t in tasks if isinstance(t, OutreachModelWatcher)]
    assert len(models) > 20 and all(t.model_unique_id for t in models)


class FakeTI:
    def __init__(self, try_number: int, xcom: dict):
        self.try_number = try_number
        self.xcom = xcom
        self.pushed = {}

    def xcom_pull(self, task_ids=None, key="return_value"):
        return self.xcom.get(key)

    def xcom_push(self, key, value):
        self.pushed[key] = value


def _sensor_and_calls(monkeypatch, status, producer_state):
    task = next(t for t in load_dag().tasks if isinstance(t, OutreachModelWatcher))
    seen = []
    monkeypatch.setattr(
        DbtRunWatcherOperator,
        "poke",
        lambda self, context: seen.append(context["ti"].try_number) or "cosmos",
    )
    monkeypatch.setattr(OutreachModelWatcher, "_get_node_status", lambda self, ti, ctx: status)
    monkeypatch.setattr(
        OutreachModelWatcher, "_get_producer_task_status", lambda self, ctx: producer_state
    )
    return task, seen


def test_a_cleared_run_takes_the_producers_new_result_as_a_first_attempt(monkeypatch):
    task, seen = _sensor_and_calls(monkeypatch, "success", "success")
    ti = FakeTI(2, {ROUND_KEY: 1})
    assert task.poke({"ti": ti, "dag_run": SimpleNamespace(clear_number=1)}) == "cosmos"
    assert seen == [1]  # cosmos saw a first attempt: it reads the result, it runs no dbt


def test_a_cleared_model_task_runs_its_model_alone(monkeypatch):
    task, seen = _sensor_and_calls(monkeypatch, "success", "success")
    ti = FakeTI(2, {ROUND_KEY: 0})
    assert task.poke({"ti": ti, "dag_run": SimpleNamespace(clear_number=1)}) == "cosmos"
    assert seen == [2]  # cosmos saw the retry: it runs dbt for the model


def test_a_model_task_waits_for_this_rounds_producer(monkeypatch):
    task, seen = _sensor_and_calls(monkeypatch, "success", "queued")
    ti = FakeTI(2, {ROUND_KEY: 0})
    assert task.poke({"ti": ti, "dag_run": SimpleNamespace(clear_number=1)}) is False
    assert seen == []


def test_the_producer_builds_on_every_attempt_and_records_its_round(monkeypatch):
    producer = next(t for t in load_dag().tasks if isinstance(t, OutreachProducer))
    seen = []
    monkeypatch.setattr(
        DbtProducerWatcherOperator,
        "execute",
        lambda self, context, **kw: seen.append(context["ti"].try_number),
    )
    ti = FakeTI(3, {})
    producer.execute({"ti": ti, "dag_run": SimpleNamespace(clear_number=2)})
    assert seen == [1] and ti.pushed == {ROUND_KEY: 2}


def test_the_first_attempt_view_forwards_everything_else():
    ti = FakeTI(4, {"k": "v"})
    view = cosmos_watch._AsFirstAttempt(ti)
    assert view.try_number == 1 and view.xcom_pull(key="k") == "v"
    view.cosmos_buffer = {}  # cosmos keeps its state on the task instance
    assert ti.cosmos_buffer == {} and ti.try_number == 4


def test_every_as_of_date_since_the_programme_start_gets_tasks():
    """A logical date before the DAG's start_date gets no task instances (found with a
    backfill of 2013): the DAG starts on the programme's first day, the dbt var's too."""
    import yaml

    from outreach.airflow.embedded import logical_date_for
    from outreach.settings import DBT_PROJECT_DIR, PROGRAMME_START, load_settings

    dag = load_dag()
    assert logical_date_for(PROGRAMME_START, load_settings()) >= dag.start_date
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    assert project["vars"]["programme_start"] == PROGRAMME_START.isoformat()


def test_the_cosmos_internals_we_lean_on_are_those_of_the_version_we_read():
    """cosmos_watch uses cosmos' internals (no public API does what it needs): an upgrade of
    cosmos fails here first, so the module is read again against the new release."""
    import importlib
    from importlib.metadata import version

    assert version("astronomer-cosmos") == cosmos_watch.COSMOS_VERSION, (
        "cosmos was upgraded: re-read outreach/airflow/cosmos_watch.py against it, then "
        "update COSMOS_VERSION"
    )
    for where, names in cosmos_watch.COSMOS_INTERNALS.items():
        try:
            owner = importlib.import_module(where)
        except ModuleNotFoundError:
            module, _, cls = where.rpartition(".")
            owner = getattr(importlib.import_module(module), cls)
        for name in names:
            assert hasattr(owner, name), f"{where}.{name} is gone"
