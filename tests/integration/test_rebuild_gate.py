"""The gate before the build on a real warehouse: after the demo night is built, checked and
published through the stage functions the DAG calls, a run with nothing new skips build, check
and publish and still reports (the published file untouched, the verdict passing); another
as-of date, a changed model, a resent file or a new file rebuild. And in the DAG itself
(``dag.test()``): when the gate says nothing changed, every task of the dbt group, check and
publish end *skipped* (not failed), report and verdict run, and the DAG run succeeds."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.pipeline import run_ingest
from outreach.demo import DEMO_AS_OF
from outreach.pipeline import build_state, stages
from outreach.pipeline.context import RunContext
from outreach.settings import load_settings
from tests.demo_warehouse import copy_of

REPO = Path(__file__).resolve().parents[2]
REAL_DBT_PROJECT_VERSION = build_state.dbt_project_version


@pytest.fixture(scope="module", autouse=True)
def same_code():
    """The pipeline's code and dbt project as they are when the module starts: an edit of the
    working tree while it runs (by whoever shares it) must not count as a change here
    (tests/unit/test_build_state.py tests that one does)."""
    code, dbt = build_state.code_version(), build_state.dbt_project_version()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build_state, "code_version", lambda: code)
        mp.setattr(build_state, "dbt_project_version", lambda: dbt)
        yield


def _ctx(settings, as_of=DEMO_AS_OF) -> RunContext:
    return RunContext.from_xcom(stages.prepare(settings, None, {"as_of": as_of.isoformat()}))


def _ingest(settings, ctx) -> dict:
    return run_ingest(
        settings.inbox,
        settings.build_db,
        settings.gazetteer,
        settings.pii_key(),
        ctx.run_id,
        settings.tz,
        quarantine_dir=settings.quarantine_dir,
    ).as_dict()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def night(demo_home, tmp_path_factory):
    """The demo night (ingest, gate, build, check, publish, report: the session's, in a copy
    this module may change), and the context of the run that published it."""
    home = copy_of(demo_home, tmp_path_factory.mktemp("gate") / "home")
    settings = load_settings({"OUTREACH_HOME": str(home)})
    run = json.loads((settings.reports_dir / "latest" / "run.json").read_text(encoding="utf-8"))
    assert run["published"] is True
    return settings, RunContext.from_xcom(run)


def test_a_night_with_nothing_new_skips_the_build_and_keeps_the_published_file(night):
    settings, first = night
    published = _sha(settings.published_db)
    inode = settings.published_db.stat().st_ino
    ctx = _ctx(settings)
    ingested = _ingest(settings, ctx)
    assert ingested["files"]["loaded"] == 0 and ingested["files"]["unchanged"] == 133
    assert stages.decide_build(settings, ctx) is False
    stages.report(settings, ctx)
    run_dir = ctx.report_dir(settings)
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["published"] is False and run["up_to_date"] is True and run["reasons"] == []
    assert run["build"]["skipped"] is True and run["build"]["reuses_run"] == first.run_id
    assert "nothing changed" in run["build"]["reason"]
    # the checks of the build still published are reported, with their Data Docs
    first_run = json.loads((first.report_dir(settings) / "run.json").read_text(encoding="utf-8"))
    assert run["checks"] == first_run["checks"] and run["obligations"] == first_run["obligations"]
    assert run["headlines"] == first_run["headlines"]
    assert (run_dir / "data_docs" / "index.html").exists()
    assert (settings.reports_dir / "latest" / "data_docs" / "index.html").exists()
    assert {"prepare", "gate", "report"} <= set(run["timings"])  # (ingest ran outside stages)
    assert not {"build", "check", "publish"} & set(run["timings"])
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert f"无需重新发布：自运行 {first.run_id} 发布以来" in summary
    assert stages.verdict(settings, ctx) == {"published": False, "up_to_date": True}
    assert _sha(settings.published_db) == published
    assert settings.published_db.stat().st_ino == inode


def test_another_as_of_date_rebuilds(night):
    settings, _ = night
    d = build_state.decide(settings, dt.date(2014, 5, 31))
    assert d.build and d.changed == ("as_of",)
    assert not build_state.decide(settings, DEMO_AS_OF).build


def test_a_changed_model_rebuilds(night, tmp_path, monkeypatch):
    settings, _ = night
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setattr(build_state, "DBT_PROJECT_DIR", project)
    monkeypatch.setattr(build_state, "dbt_project_version", REAL_DBT_PROJECT_VERSION)
    assert not build_state.decide(settings, DEMO_AS_OF).build  # the same sources
    model = project / "models" / "marts" / "program_headlines.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    d = build_state.decide(settings, DEMO_AS_OF)
    assert d.build and d.changed == ("dbt",)


def test_a_resent_file_rebuilds(night):
    settings, _ = night
    path = next(settings.inbox.glob("townships/什玲镇/2013/*补报*.xlsx"))
    stamp = path.stat().st_mtime
    # the clerk resends the 补报 file with its three resent visits only
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb.worksheets[0]
    ws.delete_rows(ws.max_row - 2, 3)
    wb.save(path)
    os.utime(path, (stamp + 86400, stamp + 86400))
    ingested = _ingest(settings, _ctx(settings))
    assert ingested["files"]["loaded"] == 1
    d = build_state.decide(settings, DEMO_AS_OF)
    assert d.build and d.changed == ("raw",) and "raw layer" in d.reason


def test_a_new_file_rebuilds(night):
    settings, _ = night
    src = next(settings.inbox.glob("townships/保城镇/走访记录/2014年/*第二季度*.xlsx"))
    new = src.with_name("保城镇2014年第二季度走访记录（补报二）.xlsx")
    shutil.copyfile(src, new)  # its rows are duplicates: merged, and flagged, by the build
    before = build_state.fingerprint(settings, DEMO_AS_OF)
    ingested = _ingest(settings, _ctx(settings))
    assert ingested["files"]["loaded"] == 1
    after = build_state.fingerprint(settings, DEMO_AS_OF)
    assert after.changed_parts(before.parts) == ["raw"]


DAG_SCRIPT = textwrap.dedent(
    """
    import datetime as dt, json, sys
    from outreach.airflow import embedded
    from outreach.pipeline import stages
    from outreach.settings import load_settings

    called = []

    def stand_in(name, result):
        def stage(*args, **kwargs):
            called.append(name)
            return result
        return stage

    # every stage a stand-in: only the DAG's wiring and Airflow's trigger rules are under test
    for name, result in [("plan_ingest", {"batches": []}), ("load_raw", {}), ("check", {}),
                         ("publish", {}), ("report", {}), ("verdict", {})]:
        setattr(stages, name, stand_in(name, result))
    stages.decide_build = stand_in("decide_build", False)  # the gate: nothing changed
    state = embedded.run_once(load_settings(), dt.date(2014, 6, 30))

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == "outreach_nightly")
        states = {ti.task_id: str(ti.state) for ti in tis}
    print("RESULT " + json.dumps({"state": state, "called": called, "states": states}))
    """
)


def test_the_dag_skips_build_check_and_publish_when_nothing_changed(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OUTREACH_"))}
    env["OUTREACH_HOME"] = str(tmp_path / "home")
    out = subprocess.run(
        [sys.executable, "-c", DAG_SCRIPT],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    assert out.returncode == 0 and lines, out.stdout[-3000:] + out.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    states = result["states"]
    assert result["state"] == "success"
    assert result["called"] == ["plan_ingest", "load_raw", "decide_build", "report", "verdict"]
    group = {k: v for k, v in states.items() if k.startswith("build.")}
    assert len(group) > 50
    # every task of the group skipped by the gate at once, cosmos' own producer_done too
    assert "build.dbt_producer_watcher_done" in group
    assert set(group.values()) == {"skipped"}
    assert states["check"] == states["publish"] == "skipped"
    assert states["needs_build"] == states["report"] == states["verdict"] == "success"
    assert states["parse_files"] == "skipped"  # nothing to parse: no batch
    assert "failed" not in states.values() and "upstream_failed" not in states.values()
