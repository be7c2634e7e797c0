"""Kill the loader with SIGKILL at random points, rerun, and lose or duplicate nothing.

Each file version is committed in one DuckDB transaction together with its ledger row, so a
kill leaves either all of a file or none of it, and the rerun picks up what is missing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import duckdb

from ingest.registry import load_registry
from outreach.demo import write_demo_inbox

KILLS = 20

LOADER = """
import sys
from pathlib import Path
from zoneinfo import ZoneInfo
from ingest.pipeline import run_ingest
from outreach.settings import DEFAULT_GAZETTEER
run_ingest(Path(sys.argv[1]), Path(sys.argv[2]), DEFAULT_GAZETTEER, b"k" * 32, sys.argv[3], ZoneInfo("Asia/Shanghai"))
"""


def _start(inbox, db, load_id):
    return subprocess.Popen(
        [sys.executable, "-c", LOADER, str(inbox), str(db), load_id],
        start_new_session=True,  # its own process group: the kill takes its workers too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _state(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = {}
        for name in load_registry():
            rows[name] = sorted(
                con.execute(
                    f"select source_file, sheet_name, row_number from raw.{name}"
                ).fetchall()
            )
        rows["quarantine_rows"] = sorted(
            con.execute(
                "select source_file, sheet_name, row_number, rule_id from raw.quarantine_rows"
            ).fetchall()
        )
        rows["current"] = sorted(
            con.execute(
                "select source_file, file_sha256 from raw.file_versions where status = 'current'"
            ).fetchall()
        )
        return rows
    finally:
        con.close()


def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path):
    inbox = tmp_path / "inbox"
    write_demo_inbox(inbox)
    reference = tmp_path / "reference.duckdb"
    started = time.monotonic()
    assert _start(inbox, reference, "ref").wait(timeout=600) == 0
    full = time.monotonic() - started

    db = tmp_path / "killed.duckdb"
    rng = random.Random(20140630)
    kills = 0
    for i in range(KILLS):
        proc = _start(inbox, db, f"run{i}")
        # early enough that most runs are cut short; each run still gets some files in
        time.sleep(rng.uniform(0.5, max(1.0, full / 4)))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
    assert kills >= KILLS * 3 // 4  # most runs really were cut short
    assert _start(inbox, db, "final").wait(timeout=600) == 0

    got, want = _state(db), _state(reference)
    for table in want:
        assert len(got[table]) == len(set(got[table])), f"duplicated rows in {table}"
        assert got[table] == want[table], f"rows lost or invented in {table}"
