"""Bad input never loses data: the hostile corpus beside the demo inbox, crashes, time-outs,
paths, and SQL look-alikes. Every data row of every readable sheet is loaded or quarantined."""

from __future__ import annotations

import json
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from ingest.guard import Limits
from ingest.pipeline import plan_ingest, run_ingest
from ingest.registry import load_registry
from ingest.sandbox import SandboxLimits
from outreach.demo import PLANTED, write_demo_inbox
from outreach.settings import DEFAULT_GAZETTEER
from tests.hostile import write_hostile_corpus

TZ = ZoneInfo("Asia/Shanghai")
KEY = b"k" * 32


def _ingest(
    inbox: Path, db: Path, quarantine: Path | None = None, limits: SandboxLimits | None = None
) -> dict:
    return run_ingest(
        inbox, db, DEFAULT_GAZETTEER, KEY, "L1", TZ, quarantine_dir=quarantine, limits=limits
    ).as_dict()


@pytest.fixture(scope="module")
def demo_and_hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    inbox = root / "inbox"
    write_demo_inbox(inbox)
    expected = write_hostile_corpus(inbox)
    summary = _ingest(inbox, root / "b.duckdb", root / "quarantine")
    return root, expected, summary


def test_hostile_files_are_quarantined_with_their_reasons_and_the_demo_still_loads(
    demo_and_hostile,
):
    root, expected, summary = demo_and_hostile
    by_file = {f["file"]: f for f in summary["file_details"]}
    for rel, outcome in expected.items():
        f = by_file[rel]
        got = f["problem"]["rule_id"] if f["problem"] else f["status"]
        assert got == outcome, rel
        if outcome != "loaded":
            assert f["problem"]["message"]  # a reason in Chinese for the sender
            assert (root / "quarantine" / "L1" / rel).read_bytes() == (
                root / "inbox" / rel
            ).read_bytes()
    assert by_file["townships/毛感乡/hostile/macro.xlsm"]["has_macros"] is True
    demo = [f for f in summary["file_details"] if f["file"] not in expected]
    assert demo and all(f["status"] == "loaded" for f in demo)
    quarantined = sum(1 for o in expected.values() if o != "loaded")
    assert summary["files"] == {
        "loaded": len(demo) + len(expected) - quarantined,
        "unchanged": 0,
        "quarantined": quarantined,
    }
    assert summary["rows"]["quarantined"] == PLANTED["quarantined_rows"]


def test_every_data_row_is_loaded_or_quarantined_and_the_counts_agree(demo_and_hostile):
    root, _, summary = demo_and_hostile
    con = duckdb.connect(str(root / "b.duckdb"), read_only=True)
    union = " union all ".join(f"select source_file from raw.{name}" for name in load_registry())
    loaded = dict(con.execute(f"select source_file, count(*) from ({union}) group by 1").fetchall())
    quarantined = dict(
        con.execute("select source_file, count(*) from raw.quarantine_rows group by 1").fetchall()
    )
    for rel, dataset_rows, rows_loaded, rows_quarantined in con.execute(
        "select source_file, dataset_rows, rows_loaded, rows_quarantined from raw.file_versions"
    ).fetchall():
        assert dataset_rows == rows_loaded + rows_quarantined, rel
        assert loaded.get(rel, 0) == rows_loaded, rel
        assert quarantined.get(rel, 0) == rows_quarantined, rel
    # the run's own counts equal the ledger and quarantine tables
    assert summary["rows"]["loaded"] == sum(loaded.values())
    assert summary["rows"]["quarantined"] == sum(quarantined.values())
    assert (
        summary["files"]["quarantined"]
        == con.execute("select count(*) from raw.quarantine_files").fetchone()[0]
    )
    assert (
        summary["sheets_unmatched"]
        == con.execute("select count(*) from raw.unmatched_sheets").fetchone()[0]
    )


def test_sheet_names_headers_and_cells_that_look_like_sql_are_data(demo_and_hostile):
    root, _, _ = demo_and_hostile
    con = duckdb.connect(str(root / "b.duckdb"), read_only=True)
    row = con.execute(
        "select sheet_name, household_code from raw.visits where source_file = 'townships/毛感乡/hostile/sql.xlsx'"
    ).fetchone()
    assert row == ("x'); DROP TABLE raw.visits; --", "H001")
    assert con.execute("select count(*) from raw.file_versions").fetchone()[0] > 100


def test_a_parser_crash_is_isolated_to_its_file(tmp_path):
    inbox = tmp_path / "inbox"
    expected = write_hostile_corpus(inbox)
    keep = {
        "townships/毛感乡/hostile/far_cell.xlsx",
        "townships/毛感乡/hostile/lying.xls",
        "townships/毛感乡/hostile/sql.xlsx",
    }
    for rel in expected:
        if rel not in keep:
            (inbox / rel).unlink()
    # Without the guard, python-calamine aborts its process on a cell at XFD1048576.
    no_guard = SandboxLimits(guard=Limits(max_cells=10**13))
    summary = _ingest(inbox, tmp_path / "b.duckdb", limits=no_guard)
    outcome = {
        f["file"]: (f["problem"] or {}).get("rule_id", f["status"]) for f in summary["file_details"]
    }
    assert outcome == {
        "townships/毛感乡/hostile/far_cell.xlsx": "parser_crashed",
        "townships/毛感乡/hostile/lying.xls": "loaded",
        "townships/毛感乡/hostile/sql.xlsx": "loaded",
    }


def test_a_file_that_takes_too_long_is_stopped_and_quarantined(tmp_path):
    inbox = tmp_path / "inbox"
    write_hostile_corpus(inbox)
    summary = _ingest(
        inbox, tmp_path / "b.duckdb", limits=SandboxLimits(workers=1, seconds_per_file=0.001)
    )
    rules = {(f["problem"] or {}).get("rule_id") for f in summary["file_details"]}
    assert "parser_timeout" in rules
    assert summary["files"]["loaded"] + summary["files"]["quarantined"] == len(
        summary["file_details"]
    )


def test_paths_that_leave_the_inbox_fifos_and_lock_files_are_skipped_with_a_reason(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "townships").mkdir(parents=True)
    outside = tmp_path / "secret.xlsx"
    outside.write_bytes(b"not for us")
    os.symlink(outside, inbox / "townships" / "link.xlsx")
    os.symlink(tmp_path, inbox / "townships" / "up")
    os.mkfifo(inbox / "townships" / "pipe.xlsx")
    (inbox / "townships" / "~$open.xlsx").write_bytes(b"lock")
    (inbox / "townships" / "a..b.xlsx").write_bytes(b"")
    summary = _ingest(inbox, tmp_path / "b.duckdb")
    skipped = {s["path"]: s["reason"] for s in summary["skipped_paths"]}
    assert skipped == {
        "townships/link.xlsx": "symlink_outside_inbox",
        "townships/up": "symlink_outside_inbox",
        "townships/pipe.xlsx": "not_a_regular_file",
        "townships/~$open.xlsx": "hidden_or_lock_file",
    }
    assert [f["file"] for f in summary["file_details"]] == [
        "townships/a..b.xlsx"
    ]  # a name, not a path


def test_quarantined_row_keeps_its_original_cells(demo_and_hostile):
    root, _, _ = demo_and_hostile
    con = duckdb.connect(str(root / "b.duckdb"), read_only=True)
    for rule, original in con.execute(
        "select rule_id, original_values from raw.quarantine_rows"
    ).fetchall():
        assert rule and json.loads(original)


def test_a_file_name_that_is_not_utf8_is_skipped_with_a_reason_and_stops_nothing(tmp_path):
    """A zip packed on a Chinese Windows keeps GBK names when unpacked here: 走访.csv arrives as
    the bytes D7DF B7C3. Its name can be stored nowhere, so it is listed, and the rest loads."""
    township = tmp_path / "inbox" / "townships" / "毛感乡"
    township.mkdir(parents=True)
    body = "走访日期,干部编号,户编号\n2014-04-02,C1,H1\n".encode()
    (township / "好.csv").write_bytes(body)
    with open(bytes(township) + b"/" + "走访.csv".encode("gbk"), "wb") as fh:
        fh.write(body)
    summary = _ingest(tmp_path / "inbox", tmp_path / "b.duckdb")
    assert [f["file"] for f in summary["file_details"]] == ["townships/毛感乡/好.csv"]
    assert summary["skipped_paths"] == [
        {"path": "townships/毛感乡/走访.csv（文件名非 UTF-8）", "reason": "name_not_utf8"}
    ]
    plan = plan_ingest(tmp_path / "inbox", tmp_path / "b.duckdb", tmp_path / "staging")
    assert plan["files"] == 1


def test_a_file_the_disk_cannot_read_is_skipped_and_tried_again(tmp_path, monkeypatch):
    import errno

    import ingest.discover as discover_module

    township = tmp_path / "inbox" / "townships" / "毛感乡"
    township.mkdir(parents=True)
    for name in ("好.csv", "坏盘.csv"):
        (township / name).write_text("走访日期,干部编号,户编号\n2014-04-02,C1,H1\n")
    real = discover_module.open_in_inbox

    def open_in_inbox(inbox, rel):
        if rel.endswith("坏盘.csv"):
            raise OSError(errno.EIO, "Input/output error")
        return real(inbox, rel)

    monkeypatch.setattr(discover_module, "open_in_inbox", open_in_inbox)
    summary = _ingest(tmp_path / "inbox", tmp_path / "b.duckdb")
    assert [f["file"] for f in summary["file_details"]] == ["townships/毛感乡/好.csv"]
    assert summary["skipped_paths"] == [
        {"path": "townships/毛感乡/坏盘.csv", "reason": "unreadable"}
    ]
