"""The dashboard's tests share one published warehouse, built once per session from the demo
inbox by ``outreach run --demo-if-empty``: the night run's own path (the DAG through
``dag.test()``), so the dashboard is tested on exactly what a night run publishes. About two
minutes, once. The fixtures ``demo_home`` and ``published_db`` live in ``tests/demo_warehouse.py``
(shared with the analysts' tests, so one session builds it once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach.dashboard import ui
from tests.dashboard.helpers import portal_session


@pytest.fixture
def dashboard_home(monkeypatch, demo_home) -> Path:
    """The dashboard in this process (AppTest) reads the demo's published warehouse, looked at by
    a department account signed in at the portal. AppTest cannot send cookies, so the browser's
    cookie is what is given here: a real session of a real account, checked as the server does
    (the real cookie through a real server: test_browser.py)."""
    monkeypatch.setenv("OUTREACH_HOME", str(demo_home))
    sid = portal_session(demo_home)
    monkeypatch.setattr(ui, "session_cookie", lambda: sid)
    return demo_home
