"""Embedded Airflow: run ``outreach_nightly`` once, in this process, on SQLite metadata.

``outreach run`` needs no server: Airflow's metadata lives in ``$OUTREACH_HOME/airflow``
(SQLite), the DAG runs through ``dag.test()``. A production deployment sets its own
``AIRFLOW__*`` variables (PostgreSQL, Celery); the embedded defaults never override them.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from outreach.settings import DAGS_DIR, NIGHT_STARTS_AT, Settings

DAG_FILE = DAGS_DIR / "outreach_nightly.py"
# The pool whose single slot every DuckDB-writing task of the DAG takes.
WRITER_POOL = "duckdb_writer"


def embedded_environment(settings: Settings) -> dict[str, str]:
    home = settings.airflow_home
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        # astronomer-cosmos (the dbt task group) reports usage over HTTP unless told not to;
        # the pipeline runs offline (the image sets the same).
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # (and copies the dbt build's XComs to a Variable for a retry we do not use: cosmos_watch)
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        "OUTREACH_HOME": str(settings.home),
        "OUTREACH_INBOX": str(settings.inbox),
    }


def configure(settings: Settings) -> None:
    """Set the embedded Airflow variables before airflow is imported (explicit ones win)."""
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    for key, value in embedded_environment(settings).items():
        os.environ.setdefault(key, value)


def migrate(settings: Settings) -> None:
    """``airflow db migrate`` and the writer pool, once per Airflow version and metadata DB
    (a few seconds); a no-op afterwards."""
    from importlib.metadata import version

    stamp = settings.airflow_home / f".migrated-{version('apache-airflow')}-pool"
    db_url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if stamp.exists() and stamp.read_text() == db_url:
        return
    for command in (
        ["db", "migrate"],
        ["pools", "set", WRITER_POOL, "1", "the single DuckDB writer"],
    ):
        subprocess.run(
            [sys.executable, "-m", "airflow", *command],
            check=True,
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
        )
    stamp.write_text(db_url)


def refresh_manifest(settings: Settings) -> None:
    """Rebuild the dbt manifest the DAG's build group is rendered from when a file under
    ``dbt_project/`` is newer than it (or it is missing), before the DAG is loaded."""
    from outreach.pipeline import dbt_runner, progress

    reason = dbt_runner.manifest_stale_reason()
    if reason is not None:
        progress.stage("dbt", f"{reason}: rebuilding it (dbt parse)")
        dbt_runner.build_manifest(settings)


def load_dag():
    spec = importlib.util.spec_from_file_location("outreach_nightly_dag", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.nightly


def logical_date_for(as_of: dt.date, settings: Settings) -> dt.datetime:
    """The logical date of the nightly run that reports on ``as_of``: the night's start (02:00)
    that day, county time."""
    return dt.datetime.combine(as_of, NIGHT_STARTS_AT, tzinfo=settings.tz)


def run_once(settings: Settings, as_of: dt.date, rebuild: bool = False) -> str:
    """Run the whole DAG once; returns the DAG run's final state. ``rebuild``: build, check and
    publish even when nothing changed since the last publish."""
    configure(settings)
    migrate(settings)
    refresh_manifest(settings)
    dag = load_dag()
    for task in dag.tasks:
        # At a terminal, fail fast: the scheduled nightly run is the one that retries.
        task.retries = 0
    # The 06:00 deadline belongs to the scheduled night: in-process there is no triggerer to
    # fire it, and dag.test() in Airflow 3.3.2 fails on a DAG that declares one (it looks the
    # serialized alert up by a dict instead of its id).
    dag.deadline = None
    conf = {
        "as_of": as_of.isoformat(),
        # dag.test() runs the mapped parse tasks one after another in this process, each paying
        # a task's overhead and a sandbox start-up (about 3 s): one batch, parsed by the
        # sandbox's two workers, is fastest (x100: 252 batches of 50 files took 935 s to
        # ingest, one batch 150 s). Fanning out pays only with workers to fan out to.
        "parse_batches": 1,
        **({"rebuild": True} if rebuild else {}),
    }
    dag_run = dag.test(logical_date=logical_date_for(as_of, settings), run_conf=conf)
    return str(dag_run.state)


def latest_run_json(settings: Settings) -> Path:
    return settings.reports_dir / "latest" / "run.json"
