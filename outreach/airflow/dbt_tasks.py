"""The build stage as a dbt task group: one Airflow task per dbt model (astronomer-cosmos).

``build_task_group(run)`` renders the models of the prebuilt manifest
(``dbt_project/target/manifest.json``, written by ``outreach dbt-manifest``) as a cosmos
``DbtTaskGroup`` in ``ExecutionMode.WATCHER``:

* ``dbt_producer_watcher`` runs **one** ``dbt build --resource-type model ...`` (models only: the
  tests run in the check stage) in a child process and publishes each model's result to XCom as
  dbt reports it;
* one ``<model>_run`` task per model, wired like the dbt graph, turns green or red with its
  model's result; it runs dbt for its model itself only when it has to (its model failed and the
  task is retried, or the producer died before reaching it).

Every task of the group can write the build file (the producer always, a model task when it runs
dbt itself), so every one takes the single slot of the ``duckdb_writer`` pool. Model tasks are
sensors in ``reschedule`` mode: one that starts before the producer gives its slot back at once
and looks again later, so there is no deadlock on the pool, and ``dag.test()`` (``outreach run``,
which runs tasks one at a time) never waits on a trigger for a producer it has not run yet.

Nothing of the run is fixed when the DAG is parsed: an interceptor sets ``--vars {as_of: ...}``
from the ``prepare`` task's XCom and ``OUTREACH_BUILD_DB`` from ``outreach.settings`` just before
each dbt command. After each dbt command a callback merges its model results into
``reports/<run id>/build.json`` (and keeps ``build.error.json`` in step), as the report expects.

Parsing the DAG reads the manifest (a JSON file) and never runs dbt; a missing or stale manifest
is an import error that says to run ``outreach dbt-manifest``.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
import time
from pathlib import Path
from typing import Any

from outreach.airflow.embedded import WRITER_POOL
from outreach.pipeline import dbt_runner
from outreach.settings import DBT_PROJECT_DIR

GROUP_ID = "build"
# How often a model task looks at the producer's results while the producer still runs.
POKE_SECONDS = 10


class ManifestError(RuntimeError):
    """The prebuilt dbt manifest is missing or older than the dbt project."""


def check_manifest(manifest: Path | None = None) -> Path:
    """``manifest`` (default ``dbt_runner.MANIFEST_PATH``), or a ManifestError telling how to
    rebuild it."""
    manifest = manifest or dbt_runner.MANIFEST_PATH
    reason = dbt_runner.manifest_stale_reason(manifest)
    if reason is not None:
        raise ManifestError(
            f"the dbt manifest the DAG is rendered from cannot be used: {reason}. "
            "Run `outreach dbt-manifest` (it runs `dbt parse`), then let Airflow parse the DAG again."
        )
    return manifest


def _run_context(context: Any, run_task_id: str):
    from outreach.pipeline.context import RunContext

    return RunContext.from_xcom(context["ti"].xcom_pull(task_ids=run_task_id))


def set_run_time_config(context: Any, operator: Any, *, run_task_id: str) -> None:
    """Cosmos interceptor, called just before each dbt command: the run's as-of date (from the
    ``prepare`` task's XCom) and the build file (from ``outreach.settings``)."""
    from outreach.settings import load_settings

    settings = load_settings()
    ctx = _run_context(context, run_task_id)
    operator.vars = {**(operator.vars or {}), **dbt_runner.dbt_vars(ctx.as_of)}
    operator.env = {**(operator.env or {}), **dbt_runner.dbt_env(settings.build_db)}
    # when this dbt command started, for the build stage's time (record_results)
    operator.outreach_dbt_started = time.monotonic()


def record_results(project_dir: str, *, context: Any, run_task_id: str) -> None:
    """Cosmos callback, called after each dbt command with its (temporary) project folder:
    merge its model results into ``reports/<run id>/build.json``."""
    from outreach.pipeline import stages
    from outreach.settings import load_settings

    results = dbt_runner.read_results(Path(project_dir) / "target")
    started = getattr(context.get("task"), "outreach_dbt_started", None)
    stages.record_build(
        load_settings(),
        _run_context(context, run_task_id),
        results,
        seconds=None if started is None else time.monotonic() - started,
    )


def record_failure(context: Any, *, run_task_id: str) -> None:
    """A task of the group failed for good: make sure the report names the build as a reason,
    also when dbt failed before writing any result (``record_results`` names failed models)."""
    from outreach.pipeline import stages
    from outreach.settings import load_settings

    exc = context.get("exception")
    stages.record_build_failure(
        load_settings(),
        _run_context(context, run_task_id),
        f"{context['ti'].task_id}: {type(exc).__name__}: {exc}" if exc else context["ti"].task_id,
    )


def build_task_group(
    run: Any,
    group_id: str = GROUP_ID,
    timeout: dt.timedelta = dt.timedelta(hours=2),
    wait: dt.timedelta = dt.timedelta(hours=4),
):
    """The build stage: a cosmos DbtTaskGroup, one task per model of the manifest.

    ``run`` is the ``prepare`` task's output (its XCom holds the run context). ``timeout``
    bounds each task's run (the dbt command, a sensor's poke); ``wait`` how long a model's
    sensor waits for its model in all (a sensor's own default is seven days)."""
    manifest = check_manifest()

    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    run_task_id = run.operator.task_id
    project = ProjectConfig(
        dbt_project_path=DBT_PROJECT_DIR,
        manifest_path=manifest,
        project_name="outreach",
        install_dbt_deps=False,
    )
    # Cosmos wraps the manifest path in an ObjectStoragePath (for s3:// and the like), whose
    # open() loads every Airflow plugin first: half a second of the DAG's parse time. The
    # manifest is a local file, and every use cosmos makes of it works on a pathlib.Path.
    project.manifest_path = manifest
    from outreach.airflow.cosmos_watch import adopt

    # adopt: a cleared run builds again in one dbt command, not one per model (cosmos_watch.py)
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=project,
        profile_config=ProfileConfig(
            profile_name="outreach",
            target_name="dev",
            profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            # A child process per dbt command, never dbtRunner in the task's process:
            # dbt-duckdb keeps the build file locked for the life of the process that ran it,
            # and dag.test() runs every task in one process (the check stage would be locked out).
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # (only for LoadMode.DBT_LS, never used here; the default makes cosmos look for dbt)
            invocation_mode=InvocationMode.SUBPROCESS,
            # models only: dbt tests run in the check stage, after dq_results is rebuilt
            test_behavior=TestBehavior.NONE,
            emit_datasets=False,
        ),
        operator_args={
            "pool": WRITER_POOL,
            "interceptors": [functools.partial(set_run_time_config, run_task_id=run_task_id)],
            "callback": functools.partial(record_results, run_task_id=run_task_id),
            "on_failure_callback": functools.partial(record_failure, run_task_id=run_task_id),
            # model tasks (sensors) only; the producer ignores them
            "deferrable": False,
            "mode": "reschedule",
            "poke_interval": POKE_SECONDS,
            "timeout": wait.total_seconds(),
            "execution_timeout": timeout,
        },
    )
    return adopt(group)
