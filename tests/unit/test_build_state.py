"""The gate before the build (outreach/pipeline/build_state.py, stages.decide_build): a run with nothing
new skips build, check and publish only when every input of a build is what the last publish
recorded and the published files are still the ones it wrote; anything else builds."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from outreach.pipeline import build_state, stages, timings
from outreach.pipeline.context import RunContext
from outreach.settings import load_settings

AS_OF = dt.date(2014, 6, 30)
REPO = Path(__file__).resolve().parents[2]
REAL_CODE_VERSION = build_state.code_version
REAL_DBT_PROJECT_VERSION = build_state.dbt_project_version


@pytest.fixture(autouse=True)
def same_code(monkeypatch):
    """The code and dbt project fixed for each test: an edit of the working tree while the test
    runs (by whoever shares it) is not the change under test. The two tests of those parts
    put the real functions back on trees of their own."""
    monkeypatch.setattr(build_state, "code_version", lambda: "code-1")
    monkeypatch.setattr(build_state, "dbt_project_version", lambda: "dbt-1")


def _raw_layer(db: Path) -> None:
    con = duckdb.connect(str(db))
    con.execute("create schema raw")
    con.execute(
        "create table raw.file_versions (source_file VARCHAR, provider VARCHAR, file_sha256 "
        "VARCHAR, size_bytes BIGINT, first_seen TIMESTAMP, status VARCHAR, dataset_rows INTEGER, "
        "rows_loaded INTEGER, rows_quarantined INTEGER, load_id VARCHAR, file_mtime TIMESTAMP)"
    )
    con.execute(
        "insert into raw.file_versions values ('townships/a.xlsx', 'townships', 'aa', 10, "
        "'2014-07-01 08:00', 'current', 3, 3, 0, 'run1', '2014-07-01 07:00')"
    )
    con.execute(
        "create table raw.townships (township_code VARCHAR, township_name VARCHAR, "
        "county_code VARCHAR, county_name VARCHAR)"
    )
    con.execute("insert into raw.townships values ('100', '保城镇', '469029', '保亭县')")
    con.execute("create table raw.pii_key_state (fingerprint VARCHAR)")
    con.execute("insert into raw.pii_key_state values ('k1')")
    con.execute("create table raw.visits (source_file VARCHAR, household_code VARCHAR)")
    con.execute(
        "insert into raw.visits values ('townships/a.xlsx', 'H1'), ('townships/a.xlsx', 'H2')"
    )
    con.close()


def _sql(db: Path, sql: str) -> None:
    con = duckdb.connect(str(db))
    con.execute(sql)
    con.close()


@pytest.fixture
def home(tmp_path):
    settings = load_settings({"OUTREACH_HOME": str(tmp_path / "home")})
    settings.ensure_dirs()
    _raw_layer(settings.build_db)
    return settings


def _publish(settings, run_id="run1", as_of=AS_OF, current=True) -> dict:
    """What publish.publish leaves: the history file of the date and (current) the file."""
    history = settings.published_dir / "history" / f"{as_of}.duckdb"
    history.parent.mkdir(parents=True, exist_ok=True)
    history.write_bytes(b"history " + run_id.encode())
    if current:
        settings.published_db.write_bytes(b"current " + run_id.encode())
    result = {"path": str(settings.published_db), "history_path": str(history), "current": current}
    build_state.record_published(settings, build_state.fingerprint(settings, as_of), run_id, result)
    return result


def test_no_published_build_recorded_builds(home):
    d = build_state.decide(home, AS_OF)
    assert d.build and "no published build" in d.reason and d.fingerprint


def test_nothing_changed_skips_and_names_the_run_it_reuses(home):
    _publish(home)
    d = build_state.decide(home, AS_OF)
    assert not d.build and d.reuses_run == "run1" and "nothing changed" in d.reason
    assert build_state.decide(home, AS_OF) == d  # deciding changes nothing


def test_a_backfill_publish_is_recorded_too(home):
    _publish(home, as_of=dt.date(2014, 3, 31), current=False)
    assert not build_state.decide(home, dt.date(2014, 3, 31)).build
    assert build_state.decide(home, AS_OF).build


@pytest.mark.parametrize(
    ("change", "part"),
    [
        # a new file version
        (
            "insert into raw.file_versions values ('townships/b.xlsx', 'townships', 'bb', 5, "
            "'2014-07-02 08:00', 'current', 1, 1, 0, 'run2', null)",
            "raw",
        ),
        # new bytes at the same path: the old version superseded
        ("update raw.file_versions set status = 'superseded'", "raw"),
        # rows written to raw by anything else
        ("insert into raw.visits values ('x', 'H3')", "raw"),
        ("delete from raw.visits where household_code = 'H2'", "raw"),
        # a rotated PII key: every token changes
        ("update raw.pii_key_state set fingerprint = 'k2'", "raw"),
        ("update raw.townships set township_name = '保城'", "raw"),
        # a raw table added by a new version of the loader
        ("create table raw.new_dataset (x integer)", "raw"),
    ],
)
def test_a_changed_raw_layer_builds(home, change, part):
    _publish(home)
    _sql(home.build_db, change)
    d = build_state.decide(home, AS_OF)
    assert d.build and d.changed == (part,) and "raw layer" in d.reason


def test_another_as_of_date_builds(home):
    _publish(home)
    d = build_state.decide(home, dt.date(2014, 7, 1))
    assert d.build and d.changed == ("as_of",) and "2014-06-30" in d.reason


def test_a_changed_dbt_project_builds(home, tmp_path, monkeypatch):
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setattr(build_state, "DBT_PROJECT_DIR", project)
    monkeypatch.setattr(build_state, "dbt_project_version", REAL_DBT_PROJECT_VERSION)
    _publish(home)
    assert not build_state.decide(home, AS_OF).build
    # dbt's own output is not a source
    (project / "target").mkdir(exist_ok=True)
    (project / "target" / "run_results.json").write_text("{}")
    (project / "logs").mkdir(exist_ok=True)
    (project / "logs" / "dbt.log").write_text("x")
    assert not build_state.decide(home, AS_OF).build
    model = project / "models" / "marts" / "fct_visits.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n-- changed\n", encoding="utf-8")
    d = build_state.decide(home, AS_OF)
    assert d.build and d.changed == ("dbt",) and "dbt project" in d.reason


def test_changed_code_builds(home, tmp_path, monkeypatch):
    root = tmp_path / "src"
    for name in build_state.CODE_DIRS:
        (root / name).mkdir(parents=True)
        (root / name / "m.py").write_text("x = 1\n")
    monkeypatch.setattr(build_state, "ROOT", root)
    monkeypatch.setattr(build_state, "code_version", REAL_CODE_VERSION)
    _publish(home)
    (root / "outreach" / "__pycache__").mkdir()
    (root / "outreach" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    assert not build_state.decide(home, AS_OF).build  # compiled files are not code
    (root / "ingest" / "registry.yml").write_text("visits: {}\n")
    d = build_state.decide(home, AS_OF)
    assert d.build and d.changed == ("code",)


@pytest.mark.parametrize("which", ["current", "history"])
def test_a_replaced_or_missing_published_file_builds(home, which):
    result = _publish(home)
    path = Path(result["path"] if which == "current" else result["history_path"])
    path.write_bytes(b"something else, longer than before")
    d = build_state.decide(home, AS_OF)
    assert d.build and str(path) in d.reason
    path.unlink()
    assert build_state.decide(home, AS_OF).build


def test_rebuild_asked_for_builds(home):
    _publish(home)
    d = build_state.decide(home, AS_OF, force=True)
    assert d.build and "asked for" in d.reason


def test_a_build_that_starts_invalidates_the_record(home):
    _publish(home)
    build_state.invalidate(home)
    assert build_state.decide(home, AS_OF).build


@pytest.mark.parametrize("state", ["", "{not json", '{"fingerprint": 1}', "[]"])
def test_a_broken_record_builds(home, state):
    _publish(home)
    build_state.state_path(home).write_text(state)
    assert build_state.decide(home, AS_OF).build


@pytest.mark.parametrize("broken", ["missing", "not a database", "no raw schema"])
def test_an_unreadable_build_file_builds(home, broken):
    _publish(home)
    home.build_db.unlink()
    if broken == "not a database":
        home.build_db.write_bytes(b"this is not duckdb")
    elif broken == "no raw schema":
        duckdb.connect(str(home.build_db)).close()
    d = build_state.decide(home, AS_OF)
    assert d.build and "could not tell" in d.reason and d.fingerprint is None


def test_the_gate_stage_records_its_decision_and_time(home):
    ctx = RunContext("2014-06-30_a", AS_OF)
    assert stages.decide_build(home, ctx) is True
    run_dir = ctx.report_dir(home)
    decision = json.loads((run_dir / "build_decision.json").read_text(encoding="utf-8"))
    assert decision["build"] is True and decision["fingerprint"]
    assert "gate" in timings.collect(run_dir)
    _publish(home)
    ctx2 = RunContext("2014-06-30_b", AS_OF)
    assert stages.decide_build(home, ctx2) is False
    assert build_state.read_state(home)["run_id"] == "run1"  # a skip keeps the record
    assert stages.decide_build(home, RunContext("2014-06-30_c", AS_OF), rebuild=True) is True
    assert build_state.read_state(home) is None  # a build that starts removes it


def test_timings_are_gathered_per_stage(tmp_path):
    timings.record(tmp_path, "load_raw", 1.23456, part=0.5)
    with timings.timed(tmp_path, "check") as parts:
        watch = timings.Stopwatch(parts)
        watch.lap("dbt_test")
    timings.record(tmp_path, "parse_0", 2.0)
    timings.record(tmp_path, "parse_1", 3.0)
    (tmp_path / "timings" / "broken.json").write_text("{half")
    got = timings.collect(tmp_path)
    assert got["load_raw"] == {"seconds": 1.235, "part": 0.5}
    assert set(got["check"]) == {"seconds", "dbt_test"}
    assert got["parse"] == {"seconds": 5.0, "batches": 2}
    assert "broken" not in got
    assert timings.collect(tmp_path / "nowhere") == {}
