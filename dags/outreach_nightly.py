"""
### outreach_nightly

Every night at 02:00 Asia/Shanghai: partners' spreadsheets in the inbox -> raw layer of the build
file -> dbt models -> checks (dq_results rebuilt, dbt tests, Great Expectations, personal data,
emptied marts) -> publish a new read-only warehouse (Asset ``outreach_published_warehouse``) ->
run report -> verdict. Tasks that write the build file share the one slot of pool
``duckdb_writer``.

**As-of date.** The schedule is a data interval from 02:00 to 02:00. The run that starts at
02:00 on 1 July covers the interval that began on 30 June; its logical date is 30 June 02:00
(Asia/Shanghai), and it reports on **30 June**, the last full day. ``dag_run.conf["as_of"]``
overrides it for a manual run.

**Gate.** A failed error-severity check fails the ``check`` task: nothing is published, the last
good warehouse stays, ``report`` (which always runs) records ``"published": false`` with the
reasons, and ``verdict`` fails the DAG run with the same reasons (rule and sample rows).

**Alerts.** A failed run, and a run not finished by 06:00 Asia/Shanghai (a DeadlineAlert), send
mail through the ``smtp_default`` connection (recipients in its extra ``{"to": [...]}``).

**Ingest fans out.** ``plan_ingest`` lists the new or changed files and cuts them into batches
(a big file alone, small files by the 50); ``parse_files`` is mapped over the batches and parses
in sandboxed worker processes, writing Arrow IPC files and a JSON account per file under
``$OUTREACH_HOME/staging/<run id>/`` (no database: on Celery they spread over the workers, which
share ``OUTREACH_HOME``); ``load_raw``, the one writer, commits them in the plan's order and
deletes the staging folder. When nothing changed the parse tasks are skipped and ``load_raw``
still runs. ``dag_run.conf["parse_batches"]`` caps the number of batches: ``outreach run``
(dag.test, one process, the mapped tasks one after another) asks for one.

**Nothing new, nothing rebuilt.** ``needs_build`` (a short-circuit after ``load_raw``)
compares a fingerprint of what a build would be made from (the raw layer's file versions, the
as-of date, the dbt project, the pipeline's code and libraries) with the one recorded by the
last publish (``outreach/pipeline/build_state.py``). When they are equal and the published file is still
the one recorded, the build group, ``check`` and ``publish`` are skipped (not failed): the
published warehouse stays as it is, ``report`` still runs and says so (``run.json``:
``"up_to_date": true`` and ``"build": {"skipped": true, ...}``), and ``verdict`` passes. A new or
changed file, another as-of date, a changed model or ``dag_run.conf["rebuild"]`` builds.

**dbt, one task per model.** ``build`` is a task group (astronomer-cosmos, ``ExecutionMode.WATCHER``,
rendered from the prebuilt ``dbt_project/target/manifest.json``; ``outreach/airflow/dbt_tasks.py``):
``dbt_producer_watcher`` runs one ``dbt build`` of the models (no tests: they run in ``check``),
and each ``<model>_run`` task turns green or red with its model as dbt reports it; retrying a
failed model task runs dbt for that model alone. Every task of the group takes the
``duckdb_writer`` slot (a model task writes when it runs dbt itself); the model tasks are
``reschedule``-mode sensors, so they never hold the slot while waiting. Why not one dbt command
per model (``ExecutionMode.LOCAL``): each command pays dbt's start-up (about 7 s here), serialised
by the single writer: measured in ``dag.test()``, the group took 478 s against 30 s for the
watcher and 17 s for one plain ``dbt run``. ``as_of`` (from ``prepare``) and the build file (from
``outreach.settings``) are set when each dbt command starts; the results go to
``reports/<run id>/build.json``. Parsing this file reads the manifest and never runs dbt; a
missing or outdated manifest is an import error: run ``outreach dbt-manifest`` (``outreach run``
and ``make test`` do it when a file under ``dbt_project/`` is newer; the image builds it).

This file only wires tasks; every task body calls ``outreach.pipeline.stages`` (the dbt group: cosmos).
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import (
    Asset,
    CronDataIntervalTimetable,
    TriggerRule,
    dag,
    task,
)

from outreach.airflow.alerts import nightly_deadline, on_failure
from outreach.airflow.dbt_tasks import build_task_group

# DuckDB allows one writer: every task that writes the build file takes this pool's only slot.
from outreach.airflow.embedded import WRITER_POOL
from outreach.airflow.operators import ClaimWarehouse
from outreach.settings import NIGHT_STARTS_AT, PROGRAMME_START, county_timezone

# the county's clock (OUTREACH_TIMEZONE), and the programme's facts from outreach.settings
TZ = county_timezone()
# parse tasks of one run at a time (each runs its own sandboxed worker processes)
MAX_PARSE_TASKS = 4
# Every task is bounded (a hung task must not hold the build file until morning); what a file
# does is bounded tighter, per file, by the sandbox (5 minutes, then parser_timeout). The night
# owes its result at 06:00, four hours after it starts: no wait is longer than that.
NIGHT = dt.timedelta(hours=4)
TIMEOUTS = {
    "prepare": dt.timedelta(minutes=10),
    "plan_ingest": dt.timedelta(minutes=30),
    "parse_files": dt.timedelta(hours=2),
    "load_raw": dt.timedelta(hours=1),
    "needs_build": dt.timedelta(minutes=15),
    "build": dt.timedelta(hours=2),  # dbt, and each poke of a model's sensor
    "check": dt.timedelta(hours=1),
    "publish": dt.timedelta(hours=1),
    "report": dt.timedelta(minutes=30),
    "verdict": dt.timedelta(minutes=10),
}
# Other DAGs (exports, dashboard refresh) can be scheduled on a new published warehouse.
PUBLISHED = Asset("outreach_published_warehouse")


def _settings():
    from outreach.settings import load_settings

    return load_settings()


def _ctx(run: dict):
    from outreach.pipeline.context import RunContext

    return RunContext.from_xcom(run)


@dag(
    dag_id="outreach_nightly",
    schedule=CronDataIntervalTimetable(
        f"{NIGHT_STARTS_AT.minute} {NIGHT_STARTS_AT.hour} * * *", timezone=TZ
    ),
    # the programme's first day: a run for any as-of date since then has tasks (Airflow creates
    # none before the start_date); catchup=False, so nothing runs by itself for the past
    start_date=pendulum.datetime(
        PROGRAMME_START.year, PROGRAMME_START.month, PROGRAMME_START.day, tz=TZ
    ),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 1,
        "retry_delay": dt.timedelta(minutes=5),
        "execution_timeout": dt.timedelta(hours=1),
    },
    # mail through Airflow's smtp_default connection: a failed night, and a night not done by 06:00
    on_failure_callback=on_failure,
    deadline=nightly_deadline(),
    doc_md=__doc__,
    tags=["outreach"],
)
def outreach_nightly():
    @task(retries=0, execution_timeout=TIMEOUTS["prepare"])
    def prepare(**context) -> dict:
        from outreach.pipeline import stages

        return stages.prepare(_settings(), context.get("logical_date"), context["dag_run"].conf)

    @task(pool=WRITER_POOL, execution_timeout=TIMEOUTS["plan_ingest"])
    def plan_ingest(run: dict, **context) -> list[int]:
        """New or changed files, in batches; the batch numbers fan the parse tasks out (at most
        ``dag_run.conf["parse_batches"]`` of them when given)."""
        from outreach.pipeline import stages

        limit = stages.parse_batches_limit((context["dag_run"].conf or {}).get("parse_batches"))
        return stages.plan_ingest(_settings(), _ctx(run), max_batches=limit)["batches"]

    @task(max_active_tis_per_dagrun=MAX_PARSE_TASKS, execution_timeout=TIMEOUTS["parse_files"])
    def parse_files(run: dict, batch: int) -> dict:
        """One batch of files, parsed in sandboxed workers into Arrow files (no database)."""
        from outreach.pipeline import stages

        return stages.parse_batch(_settings(), _ctx(run), batch)

    # runs also when no file changed (the parse tasks are then skipped), never after a failure
    @task(
        pool=WRITER_POOL,
        trigger_rule=TriggerRule.NONE_FAILED,
        execution_timeout=TIMEOUTS["load_raw"],
    )
    def load_raw(run: dict) -> dict:
        """The single writer of the ingest: commits every staged parse result."""
        from outreach.pipeline import stages

        return stages.load_raw(_settings(), _ctx(run))

    # skips only the build group's first tasks; the rest follow their trigger rules (check and
    # publish are skipped after them, report and verdict still run)
    @task.short_circuit(
        ignore_downstream_trigger_rules=False,
        pool=WRITER_POOL,
        execution_timeout=TIMEOUTS["needs_build"],
    )
    def needs_build(run: dict, **context) -> bool:
        """False when nothing changed since the last publish: build, check, publish skipped."""
        from outreach.pipeline import stages

        conf = context["dag_run"].conf or {}
        return stages.decide_build(_settings(), _ctx(run), rebuild=bool(conf.get("rebuild")))

    @task(retries=0, pool=WRITER_POOL, execution_timeout=TIMEOUTS["check"])
    def check(run: dict) -> dict:
        from outreach.pipeline import stages

        return stages.check(_settings(), _ctx(run))

    @task(pool=WRITER_POOL, outlets=[PUBLISHED], execution_timeout=TIMEOUTS["publish"])
    def publish(run: dict) -> dict:
        from outreach.pipeline import stages

        return stages.publish(_settings(), _ctx(run))

    @task(retries=0, trigger_rule=TriggerRule.ALL_DONE, execution_timeout=TIMEOUTS["report"])
    def report(run: dict, **context) -> dict:
        from outreach.pipeline import stages

        try:
            return stages.report(_settings(), _ctx(run), stages.failed_tasks(context))
        finally:
            stages.release(_settings(), context)

    @task(retries=0, execution_timeout=TIMEOUTS["verdict"])
    def verdict(run: dict) -> dict:
        """Fails the DAG run when nothing was published, naming why: ``report`` always runs and
        succeeds, so without this a blocked publish would look like a good night."""
        from outreach.pipeline import stages

        return stages.verdict(_settings(), _ctx(run))

    # waits (without holding a worker slot) while another run, e.g. a backfill's, owns the build
    claim = ClaimWarehouse(
        task_id="claim_warehouse",
        poke_interval=60,
        timeout=NIGHT.total_seconds(),
        execution_timeout=dt.timedelta(minutes=5),  # each look at the lease
        mode="reschedule",
        retries=0,
    )
    run = prepare()
    claim >> run
    batches = plan_ingest(run)
    parsed = parse_files.partial(run=run).expand(batch=batches)
    ingested = load_raw(run)
    batches >> parsed >> ingested
    built, checked, published, reported = (
        # a task group: one task per dbt model (outreach/airflow/dbt_tasks.py)
        build_task_group(run, timeout=TIMEOUTS["build"], wait=NIGHT),
        check(run),
        publish(run),
        report(run),
    )
    gate = needs_build(run)
    ingested >> gate >> built >> checked >> published >> reported >> verdict(run)
    # the gate is upstream of every task it skips (the group's, check, publish), not only of the
    # group's first ones, so that a skip reaches them all at once: the scheduler (and
    # dag.test(), which idles a second per loop) settles trigger rules one level of the graph
    # per loop, and the dbt graph is eight levels deep
    gate >> [*built.iter_tasks(), checked, published]


nightly = outreach_nightly()
