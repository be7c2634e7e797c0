"""The DAG's ingest: plan -> parse batches (staged as Arrow IPC + JSON) -> one loader.

It must leave exactly the raw layer that the one-process loader leaves, whatever order the batches
ran in, and refuse to load when a batch's results are missing.
"""

from __future__ import annotations

import json
import os
import stat
from zoneinfo import ZoneInfo

import duckdb
import pytest

from ingest import staging
from ingest.pipeline import batch_files, load_staged, parse_batch, plan_ingest, run_ingest
from outreach.demo import write_demo_inbox
from outreach.settings import DEFAULT_GAZETTEER
from tests.raw_layer import raw_tables
from tests.workbooks import write_csv

TZ = ZoneInfo("Asia/Shanghai")
KEY = b"k" * 32


def _staged(inbox, db, folder, order=None, load_id="L1"):
    plan = plan_ingest(inbox, db, folder)
    for batch in order or plan["batches"]:
        parse_batch(folder, batch, DEFAULT_GAZETTEER, TZ)
    summary = load_staged(folder, db, DEFAULT_GAZETTEER, KEY, load_id, TZ)
    return plan, summary.as_dict()


@pytest.fixture(scope="module")
def demo_inbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "inbox"
    write_demo_inbox(root)
    return root


def test_staged_ingest_leaves_the_same_raw_layer_as_the_one_process_loader(
    demo_inbox, tmp_path, monkeypatch
):
    # small batches, so that several parse tasks run, and in reverse order
    monkeypatch.setattr("ingest.pipeline.BATCH_FILES", 20)
    direct_db, staged_db = tmp_path / "direct.duckdb", tmp_path / "staged.duckdb"
    direct = run_ingest(demo_inbox, direct_db, DEFAULT_GAZETTEER, KEY, "L1", TZ).as_dict()
    folder = tmp_path / "staging" / "run1"
    plan = plan_ingest(demo_inbox, staged_db, folder)
    assert len(plan["batches"]) >= 6 and plan["changed"] == plan["files"]
    mode = stat.S_IMODE(os.stat(folder).st_mode)
    assert mode == 0o700  # it will hold ID numbers
    for batch in reversed(plan["batches"]):
        parse_batch(folder, batch, DEFAULT_GAZETTEER, TZ)
    staged = load_staged(folder, staged_db, DEFAULT_GAZETTEER, KEY, "L1", TZ).as_dict()

    assert staged["files"] == direct["files"] and staged["rows"] == direct["rows"]
    assert staged["file_details"] == direct["file_details"]
    assert raw_tables(staged_db) == raw_tables(direct_db)
    assert not folder.exists()  # the staged personal data is gone once committed


def test_a_rerun_plans_only_new_or_changed_files(tmp_path):
    inbox = tmp_path / "inbox"
    header = [
        "走访日期",
        "干部编号",
        "走访干部",
        "户编号",
        "乡镇",
        "村委会",
        "走访方式",
        "走访内容",
    ]
    row = ["2013-04-02", "C001", "张三", "H001", "什玲镇", "什玲村", "上门", "拉家常"]
    write_csv(inbox / "townships/什玲镇/a.csv", [header, row])
    write_csv(inbox / "townships/什玲镇/b.csv", [header, row])
    db = tmp_path / "b.duckdb"
    _staged(inbox, db, tmp_path / "s1")

    plan = plan_ingest(inbox, db, tmp_path / "s2")
    assert plan == {"files": 2, "changed": 0, "unchanged": 2, "batches": []}
    _, summary = _staged(inbox, db, tmp_path / "s2b", load_id="L2")
    assert summary["files"] == {"loaded": 0, "unchanged": 2, "quarantined": 0}

    write_csv(inbox / "townships/什玲镇/b.csv", [header, row, row[:1] + ["C002"] + row[2:]])
    plan, summary = _staged(inbox, db, tmp_path / "s3", load_id="L3")
    assert (plan["changed"], plan["unchanged"]) == (1, 1)
    assert summary["files"] == {"loaded": 1, "unchanged": 1, "quarantined": 0}
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from raw.visits").fetchone()[0] == 3
    con.close()


def test_the_loader_refuses_when_a_batch_did_not_finish_and_commits_nothing(
    demo_inbox, tmp_path, monkeypatch
):
    monkeypatch.setattr("ingest.pipeline.BATCH_FILES", 40)
    db, folder = tmp_path / "b.duckdb", tmp_path / "staging"
    plan = plan_ingest(demo_inbox, db, folder)
    for batch in plan["batches"][:-1]:  # the last parse task never ran
        parse_batch(folder, batch, DEFAULT_GAZETTEER, TZ)
    with pytest.raises(staging.StagingError, match="did not finish"):
        load_staged(folder, db, DEFAULT_GAZETTEER, KEY, "L1", TZ)
    assert not db.exists()  # nothing was committed
    assert folder.exists()  # the finished batches are kept for the retry
    parse_batch(folder, plan["batches"][-1], DEFAULT_GAZETTEER, TZ)
    summary = load_staged(folder, db, DEFAULT_GAZETTEER, KEY, "L1", TZ).as_dict()
    assert summary["files"]["loaded"] + summary["files"]["quarantined"] == plan["files"]


def test_a_file_replaced_or_removed_after_the_plan_is_read_as_it_is_then(tmp_path):
    inbox = tmp_path / "inbox"
    header = [
        "走访日期",
        "干部编号",
        "走访干部",
        "户编号",
        "乡镇",
        "村委会",
        "走访方式",
        "走访内容",
    ]
    row = ["2013-04-02", "C001", "张三", "H001", "什玲镇", "什玲村", "上门", "拉家常"]
    write_csv(inbox / "townships/什玲镇/a.csv", [header, row])
    write_csv(inbox / "townships/什玲镇/b.csv", [header, row])
    db, folder = tmp_path / "b.duckdb", tmp_path / "staging"
    plan = plan_ingest(inbox, db, folder)
    write_csv(inbox / "townships/什玲镇/a.csv", [header, row, row])  # resent meanwhile
    (inbox / "townships/什玲镇/b.csv").unlink()  # taken back meanwhile
    for batch in plan["batches"]:
        parse_batch(folder, batch, DEFAULT_GAZETTEER, TZ)
    summary = load_staged(folder, db, DEFAULT_GAZETTEER, KEY, "L1", TZ).as_dict()
    assert summary["rows"]["loaded"] == 2
    assert {"path": "townships/什玲镇/b.csv", "reason": "vanished"} in summary["skipped_paths"]
    con = duckdb.connect(str(db), read_only=True)
    ledger = con.execute("select source_file, rows_loaded from raw.file_versions").fetchall()
    con.close()
    assert ledger == [("townships/什玲镇/a.csv", 2)]


def test_a_quarantined_file_travels_through_staging_with_its_reason(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "townships/什玲镇").mkdir(parents=True)
    (inbox / "townships/什玲镇/坏文件.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    (inbox / "townships/什玲镇/空.csv").write_bytes(b"")
    db = tmp_path / "b.duckdb"
    _, summary = _staged(inbox, db, tmp_path / "s")
    problems = {f["file"]: f["problem"]["rule_id"] for f in summary["file_details"]}
    direct = run_ingest(inbox, tmp_path / "d.duckdb", DEFAULT_GAZETTEER, KEY, "L1", TZ)
    assert problems == {
        f["file"]: f["problem"]["rule_id"] for f in direct.as_dict()["file_details"]
    }
    assert all(problems.values())


def test_a_missing_plan_is_a_clear_error(tmp_path):
    with pytest.raises(staging.StagingError, match="no ingest plan"):
        parse_batch(tmp_path / "nowhere", 0, DEFAULT_GAZETTEER, TZ)


def test_a_retried_plan_starts_from_an_empty_staging_folder(tmp_path):
    folder = tmp_path / "staging"
    folder.mkdir()
    (folder / "0.json").write_text(json.dumps({"stale": True}))
    (tmp_path / "inbox").mkdir()
    plan_ingest(tmp_path / "inbox", tmp_path / "b.duckdb", folder)
    assert sorted(p.name for p in folder.iterdir()) == ["plan.json"]


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([], []),
        ([1, 1], [[0, 1]]),
        ([1] * 5, [[0, 1], [2, 3], [4]]),  # max two files
        ([1, 100, 1], [[0], [1], [2]]),  # the big file is alone
        ([60, 60, 1], [[0], [1, 2]]),
    ],
)
def test_batches_respect_the_file_and_byte_limits(sizes, expected):
    assert batch_files(sizes, max_files=2, max_bytes=100) == expected


def test_there_are_never_more_batches_than_airflow_can_map():
    batches = batch_files([1] * 100_000, max_files=50, max_bytes=10**9, max_batches=256)
    assert len(batches) <= 256
    assert sorted(i for b in batches for i in b) == list(range(100_000))


def _parse_in_daemon(folder, batch, results):
    try:
        results.put(parse_batch(folder, batch, DEFAULT_GAZETTEER, TZ))
    except BaseException as exc:  # reported to the test, not lost with the process
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("pool", ["multiprocessing", "billiard"])
def test_a_parse_task_can_run_inside_a_daemonic_worker_process(tmp_path, pool):
    """Celery's prefork pool (billiard) runs tasks in processes that multiprocessing calls
    daemonic, with billiard's own process object; the sandbox must still start its workers."""
    import multiprocessing

    import billiard

    inbox = tmp_path / "inbox"
    header = [
        "走访日期",
        "干部编号",
        "走访干部",
        "户编号",
        "乡镇",
        "村委会",
        "走访方式",
        "走访内容",
    ]
    row = ["2013-04-02", "C001", "张三", "H001", "什玲镇", "什玲村", "上门", ""]
    write_csv(inbox / "townships/什玲镇/a.csv", [header, row])
    folder = tmp_path / "staging"
    plan_ingest(inbox, tmp_path / "b.duckdb", folder)
    ctx = multiprocessing.get_context("fork") if pool == "multiprocessing" else billiard
    results = ctx.Queue()
    proc = ctx.Process(target=_parse_in_daemon, args=(folder, 0, results), daemon=True)
    proc.start()
    outcome = results.get(timeout=120)
    proc.join(30)
    assert outcome == {"batch": 0, "files": 1, "statuses": {"loaded": 1}}, outcome


_GUARDED_MAIN = """
import json, sys
from pathlib import Path
from zoneinfo import ZoneInfo
if __name__ != "__main__":  # what Airflow's main module does in a task process: it cannot start
    raise RuntimeError("the parent's main module ran again in a sandbox worker")
from ingest.pipeline import parse_batch
from outreach.settings import DEFAULT_GAZETTEER
result = parse_batch(Path(sys.argv[1]), 0, DEFAULT_GAZETTEER, ZoneInfo("Asia/Shanghai"))
print(json.dumps(result))
"""


def test_sandbox_workers_do_not_run_the_parents_main_module_again(tmp_path):
    """Under Airflow the main module is the ``airflow`` command, which cannot be imported in a
    task's child (no database URL there): workers that re-ran it died before parsing."""
    import subprocess
    import sys

    inbox = tmp_path / "inbox"
    header = [
        "走访日期",
        "干部编号",
        "走访干部",
        "户编号",
        "乡镇",
        "村委会",
        "走访方式",
        "走访内容",
    ]
    row = ["2013-04-02", "C001", "张三", "H001", "什玲镇", "什玲村", "上门", ""]
    write_csv(inbox / "townships/什玲镇/a.csv", [header, row])
    folder = tmp_path / "staging"
    plan_ingest(inbox, tmp_path / "b.duckdb", folder)
    script = tmp_path / "main.py"
    script.write_text(_GUARDED_MAIN)
    proc = subprocess.run(
        [sys.executable, str(script), str(folder)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1])["statuses"] == {"loaded": 1}, proc.stderr[
        -3000:
    ]
