"""How the build group's tasks behave when a DAG run is cleared and run again.

Cosmos' watcher mode (``outreach/airflow/dbt_tasks.py``) treats every attempt after the first as a
*retry*: the producer skips itself ("does not support Airflow retries") and each model task runs
``dbt run --select <model>`` on its own. For one failed model that is right. For a whole run
cleared and run again (the README's "rerun one night", ``airflow backfill create
--reprocess-behavior completed``) it is not: some 50 dbt commands one after another behind the
single writer slot, each paying dbt's start-up (measured in the production-mode test on this
machine: more than 15 minutes, against about one for the producer's single ``dbt build``).

So the group's tasks tell the two cases apart by the DAG run's ``clear_number``, which Airflow
increments every time tasks of the run are cleared:

* the producer always runs its ``dbt build`` (a cleared producer means "build everything
  again") and records the ``clear_number`` it built in (XCom ``outreach_build_round``);
* a model task on a later attempt, when the producer built in *this* round and reported the
  model as built or skipped, takes that result as on a first attempt (``"watch"``); while the
  producer of this round has not finished, it waits (``"wait"``); otherwise (only this task was
  cleared, or its model failed and this is the retry) it runs its model alone, as cosmos does
  (``"alone"``).

Imported only while the DAG builds its task group (it imports cosmos). The operators are
cosmos' own with only this decision added (``adopt`` swaps the classes of the group's tasks
after cosmos has built them); ``rerun_decision`` is the whole rule, unit-tested.

**Cosmos' internals.** Cosmos has no public way to give a task group's watcher tasks another
operator class or to read the producer's state and a node's status, so this module leans on
what 1.15 has inside: the class swap, ``_get_node_status``, ``_get_producer_task_status`` and
the status sets of ``cosmos.operators._watcher.state`` (``COSMOS_INTERNALS`` lists them).
``tests/unit/test_cosmos_watch.py`` fails when cosmos is not the version this was written
against or any of them is gone, so an upgrade of cosmos re-reads this module first.
"""

from __future__ import annotations

from typing import Any

from cosmos.operators._watcher.state import is_dbt_node_status_failed, is_producer_task_terminated
from cosmos.operators.watcher import DbtProducerWatcherOperator, DbtRunWatcherOperator

ROUND_KEY = "outreach_build_round"
# The cosmos release these internals were read in, and the internals themselves.
COSMOS_VERSION = "1.15.1"
COSMOS_INTERNALS = {
    "cosmos.operators._watcher.state": ("is_dbt_node_status_failed", "is_producer_task_terminated"),
    "cosmos.operators.watcher.DbtRunWatcherOperator": (
        "_get_node_status",
        "_get_producer_task_status",
    ),
}


def rerun_decision(
    *,
    try_number: int,
    round_now: int,
    built_round: int | None,
    status: str | None,
    producer_done: bool,
) -> str:
    """What a model task does on this poke: ``first`` (cosmos' first attempt), ``watch`` (take
    the producer's result as on a first attempt), ``wait`` (poke again later) or ``alone``
    (cosmos' retry: run the model by itself)."""
    if try_number <= 1:
        return "first"
    if built_round == round_now:
        if status is not None and not is_dbt_node_status_failed(status):
            return "watch"
        return "alone" if producer_done else "wait"
    # The results in XCom, if any, are from an earlier round: useless for this one.
    return "alone" if producer_done else "wait"


class _AsFirstAttempt:
    """A task instance that tells cosmos it is on its first attempt; everything else is the
    real one (XCom, ids, attributes cosmos sets)."""

    try_number = 1

    def __init__(self, ti: Any) -> None:
        object.__setattr__(self, "_ti", ti)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_ti"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_ti"), name, value)


def _first_attempt(context: Any) -> dict:
    proxy = _AsFirstAttempt(context["ti"])
    return {**context, "ti": proxy, "task_instance": proxy}


def _round(context: Any) -> int:
    return int(getattr(context["dag_run"], "clear_number", 0) or 0)


class OutreachProducer(DbtProducerWatcherOperator):
    """Cosmos' producer, which builds on every attempt and records in which round."""

    def execute(self, context: Any, **kwargs: Any) -> Any:
        context["ti"].xcom_push(key=ROUND_KEY, value=_round(context))
        return super().execute(_first_attempt(context), **kwargs)


class OutreachModelWatcher(DbtRunWatcherOperator):
    """Cosmos' model task, which on a cleared run takes the producer's new result."""

    def poke(self, context: Any) -> bool:
        ti = context["ti"]
        if ti.try_number <= 1:
            return super().poke(context)
        built_round = ti.xcom_pull(task_ids=self.producer_task_id, key=ROUND_KEY)
        decision = rerun_decision(
            try_number=ti.try_number,
            round_now=_round(context),
            built_round=built_round,
            status=self._get_node_status(ti, context) if built_round is not None else None,
            producer_done=is_producer_task_terminated(self._get_producer_task_status(context)),
        )
        self.log.info(
            "attempt %s of a cleared or retried run (round %s, producer built in round %s): %s",
            ti.try_number,
            _round(context),
            built_round,
            decision,
        )
        if decision == "watch":
            return super().poke(_first_attempt(context))
        if decision == "wait":
            return False
        return super().poke(context)


_CLASSES = {
    DbtProducerWatcherOperator: OutreachProducer,
    DbtRunWatcherOperator: OutreachModelWatcher,
}


def adopt(group: Any) -> Any:
    """Give the tasks cosmos built for ``group`` the classes above (same state, one method
    more); returns the group."""
    for task in group.children.values():
        replacement = _CLASSES.get(type(task))
        if replacement is not None:
            task.__class__ = replacement
    return group
