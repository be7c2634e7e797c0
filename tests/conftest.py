"""Test-wide setup: Airflow must never touch ~/airflow or a developer's settings."""

import os
import tempfile

import pytest

# demo_home / published_db: the demo's published warehouse, built once per session
pytest_plugins = ["tests.demo_warehouse"]

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="outreach-test-airflow-")
for key in [k for k in os.environ if k.startswith(("AIRFLOW__", "OUTREACH_"))]:
    del os.environ[key]
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
# A bug of the loader's own code fails the run in tests; a night quarantines the file instead.
os.environ["OUTREACH_PARSER_BUGS"] = "raise"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# astronomer-cosmos (the DAG's dbt task group) would report usage over HTTP; tests run offline.
os.environ["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] = "False"
os.environ["AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY"] = "False"


def pytest_sessionstart(session):
    """The DAG renders its dbt task group from dbt_project/target/manifest.json, which is not in
    git: build it (``dbt parse``, about ten seconds) on a fresh clone or after a change under
    dbt_project/, before any test imports the DAG. A no-op when it is up to date."""
    from outreach.pipeline.dbt_runner import ensure_manifest
    from outreach.settings import load_settings

    ensure_manifest(load_settings({"OUTREACH_HOME": os.path.join(_AIRFLOW_HOME, "outreach")}))


# Tests that read or copy a built demo night (tests/demo_warehouse.py) are marked ``night``:
# `make test-fast` leaves them out, `make test` runs them. A module whose own fixtures build a
# night or start servers says so itself (``pytestmark = pytest.mark.night``).
NIGHT_FIXTURES = frozenset({"demo_home", "published_db", "backfilled_home"})


# `make test` runs the suite on two pytest-xdist workers, a test file at a time (--dist loadfile:
# a module's fixtures are built once, on one worker). The production module (a cluster under the
# real scheduler, the longest file) is handed out first, then the files that read the session's
# demo night, so the other worker builds that night early and its tests reuse it.
FIRST_FILES = ("tests/production/",)


def pytest_collection_modifyitems(config, items):
    nights = set()
    for item in items:
        if NIGHT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.night)
            nights.add(item.nodeid.split("::", 1)[0])

    def rank(item):
        path = item.nodeid.split("::", 1)[0]
        if path.startswith(FIRST_FILES):
            return 0
        return 1 if path in nights else 2

    items.sort(key=rank)  # stable: within a rank, the collection's order


def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, except that a worker still busy with a FIRST_FILES module (xdist hands a
    worker its next file before its last test runs) is handed the queue's last file (a unit
    test's, a few seconds), not the next long one that would then wait for the production
    module to end."""
    if config.getoption("dist", "no") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFileFirst(LoadFileScheduling):
        def _assign_work_unit(self, node) -> None:
            busy = any(
                scope.startswith(FIRST_FILES) and not all(unit.values())
                for scope, unit in self.assigned_work.get(node, {}).items()
            )
            if busy and len(self.workqueue) > 1:
                self.workqueue.move_to_end(next(reversed(self.workqueue)), last=False)
            super()._assign_work_unit(node)

    return LongestFileFirst(config, log)
