"""The dashboard's tests share one published warehouse, built once per session from the demo
inbox by ``outreach run --demo-if-empty``: the night run's own path (the DAG through
``dag.test()``), so the dashboard is tested on exactly what a night run publishes. About two
minutes, once."""

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
    home = tmp_path_factory.mktemp("dashboard-home")
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


@pytest.fixture
def dashboard_home(monkeypatch, demo_home) -> Path:
    """The dashboard in this process (AppTest) reads the demo's published warehouse."""
    monkeypatch.setenv("OUTREACH_HOME", str(demo_home))
    return demo_home
