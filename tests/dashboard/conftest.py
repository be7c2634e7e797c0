"""The dashboard's tests share one published warehouse, built once per session from the demo
inbox by ``outreach run --demo-if-empty``: the night run's own path (the DAG through
``dag.test()``), so the dashboard is tested on exactly what a night run publishes. About two
minutes, once. The fixtures ``demo_home`` and ``published_db`` live in ``tests/demo_warehouse.py``
(shared with the analysts' tests, so one session builds it once)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def dashboard_home(monkeypatch, demo_home) -> Path:
    """The dashboard in this process (AppTest) reads the demo's published warehouse."""
    monkeypatch.setenv("OUTREACH_HOME", str(demo_home))
    return demo_home
