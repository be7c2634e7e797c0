"""The demo's published warehouse, built once per test session and shared by every test that
reads what analysts read (the dashboard's, the README's analyst queries, ``outreach docs`` and
``outreach export``): ``outreach run --demo-if-empty`` into a temporary OUTREACH_HOME, the night
run's own path (the DAG through ``dag.test()``), so they test exactly what a night run
publishes. About two minutes, once. Registered for the whole suite by ``tests/conftest.py``
(``pytest_plugins``), so a session that runs several of those folders builds it once.

Tests must treat it as read-only: a test that replaces or changes the published file works on
a copy (``tests/dashboard/helpers.py: home_with_copy``).

``backfilled_home``: a copy of that home in which ``outreach run --as-of 2014-03-31`` then ran,
as a backfill does: ``published/history/2014-03-31.duckdb`` holds the end of 2014Q1 (with the
facts dated later, as a backfilled file does), and the current file stays on 2014-06-30. Built
once, only for the tests that ask for it (a few minutes: dbt and the checks run again). Not an
earlier date: the DAG's start_date is 2014-01-01, and a run for an as-of date before it creates
no task at all.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from outreach.settings import load_settings

BACKFILL_AS_OF = dt.date(2014, 3, 31)


def _outreach_run(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OUTREACH_"))}
    env["OUTREACH_HOME"] = str(home)
    proc = subprocess.run(
        [sys.executable, "-m", "outreach.cli", "run", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """An OUTREACH_HOME whose published warehouse holds the demo, as of 2014-06-30."""
    home = tmp_path_factory.mktemp("demo-home")
    out = _outreach_run(home, "--demo-if-empty")
    run_output(home).write_text(out, encoding="utf-8")
    assert load_settings({"OUTREACH_HOME": str(home)}).published_db.exists()
    return home


def run_output(home: Path) -> Path:
    """Where ``demo_home`` keeps what ``outreach run --demo-if-empty`` printed (beside it)."""
    return home.with_name(home.name + ".stdout")


def copy_of(home: Path, target: Path) -> Path:
    """A private copy of a built home (inbox, build file, published files, Airflow's metadata)
    for a test that changes it: a night run in the copy works as in the original."""
    shutil.copytree(home, target, symlinks=True)
    return target


@pytest.fixture(scope="session")
def backfilled_home(demo_home, tmp_path_factory) -> Path:
    """A copy of ``demo_home`` after a backfill of 2014-03-31 (see the module docstring)."""
    home = copy_of(demo_home, tmp_path_factory.mktemp("backfilled-home") / "home")
    _outreach_run(home, "--as-of", BACKFILL_AS_OF.isoformat())
    assert (home / "published" / "history" / f"{BACKFILL_AS_OF}.duckdb").exists()
    return home


@pytest.fixture(scope="session")
def published_db(demo_home) -> Path:
    return load_settings({"OUTREACH_HOME": str(demo_home)}).published_db
