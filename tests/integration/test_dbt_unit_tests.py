"""dbt's unit tests (the models' SQL on hand-made rows: edge dates, unknown members, merges) run
here, in CI, against the demo's built warehouse, not in every night's check stage, which runs the
data tests only."""

from __future__ import annotations

import datetime as dt
import shutil

from outreach.pipeline import dbt_runner
from outreach.settings import load_settings


def test_every_dbt_unit_test_passes(demo_home, tmp_path):
    built = load_settings({"OUTREACH_HOME": str(demo_home)}).build_db
    home = tmp_path / "home"
    settings = load_settings({"OUTREACH_HOME": str(home)})
    settings.build_db.parent.mkdir(parents=True)
    shutil.copyfile(built, settings.build_db)  # dbt opens the copy; the shared night stays
    nodes = dbt_runner.run_unit_tests(settings, dt.date(2014, 6, 30))
    assert nodes and {n.resource_type for n in nodes} == {"unit_test"}
    failed = [f"{n.unique_id}: {n.message}" for n in nodes if n.status != "pass"]
    assert failed == []


def test_the_nights_check_runs_data_tests_only(demo_home):
    import json

    tests = json.loads(
        (demo_home / "reports" / "latest" / "tests.json").read_text(encoding="utf-8")
    )["tests"]
    assert tests and {t["resource_type"] for t in tests} == {"test"}
