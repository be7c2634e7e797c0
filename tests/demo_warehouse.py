"""The demo's published warehouse, built once per test session and shared by every test that
reads what analysts read (the dashboard's, the README's analyst queries, ``outreach docs`` and
``outreach export``): ``outreach run --demo-if-empty`` into a temporary OUTREACH_HOME, the night
run's own path (the DAG through ``dag.test()``), so they test exactly what a night run
publishes. About two minutes, once. Registered for the whole suite by ``tests/conftest.py``
(``pytest_plugins``), so a session that runs several of those folders builds it once.

Tests must treat it as read-only: a test that replaces or changes the published file works on
a copy (``tests/dashboard/helpers.py: home_with_copy``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from outreach.settings import load_settings


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """An OUTREACH_HOME whose published warehouse holds the demo, as of 2014-06-30."""
    home = tmp_path_factory.mktemp("demo-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OUTREACH_"))}
    env["OUTREACH_HOME"] = str(home)
    proc = subprocess.run(
        [sys.executable, "-m", "outreach.cli", "run", "--demo-if-empty"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert load_settings({"OUTREACH_HOME": str(home)}).published_db.exists()
    return home


@pytest.fixture(scope="session")
def published_db(demo_home) -> Path:
    return load_settings({"OUTREACH_HOME": str(demo_home)}).published_db
