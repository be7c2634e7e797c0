"""Kill the loader with SIGKILL at random points, rerun, and lose or duplicate nothing.

File versions are committed in groups of whole files, one DuckDB transaction per group with
the files' ledger rows, so a kill leaves either all of a file or none of it, and the rerun picks
up what is missing. The loader here commits groups of two files, so that kills land between
groups and inside a group's transaction.
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

# The loader prints a line when it starts and after each file it commits (a group's files one
# after another once the group is in), so the test can kill it at a chosen point of its
# progress: between commits, or while the next group is being written.
LOADER = """
import sys
from pathlib import Path
from zoneinfo import ZoneInfo
from ingest.load import CommitGroup
from ingest.pipeline import run_ingest
from outreach.settings import DEFAULT_GAZETTEER
print("start", flush=True)
run_ingest(Path(sys.argv[1]), Path(sys.argv[2]), DEFAULT_GAZETTEER, b"k" * 32, sys.argv[3],
           ZoneInfo("Asia/Shanghai"), progress=lambda i, n, o: print(i, o.status, flush=True),
           group=CommitGroup(files=2))
"""


def _start(inbox, db, load_id):
    return subprocess.Popen(
        [sys.executable, "-c", LOADER, str(inbox), str(db), load_id],
        start_new_session=True,  # its own process group: the kill takes its workers too
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
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
    ref = _start(inbox, reference, "ref")
    ref.communicate(timeout=600)
    assert ref.returncode == 0

    db = tmp_path / "killed.duckdb"
    rng = random.Random(20140630)
    kills = 0
    for i in range(KILLS):
        proc = _start(inbox, db, f"run{i}")
        commits_before_kill = rng.randint(0, 5)
        seen = -1  # the "start" line
        for line in proc.stdout:
            if line.split()[-1] == "unchanged":  # loaded by an earlier run: not a commit
                continue
            seen += 1
            if seen >= commits_before_kill:
                time.sleep(rng.uniform(0, 0.05))  # sometimes inside the next group's transaction
                os.killpg(proc.pid, signal.SIGKILL)
                kills += 1
                break
        proc.wait(timeout=60)
    assert kills == KILLS  # every run was cut short before the demo's last file
    final = _start(inbox, db, "final")
    final.communicate(timeout=600)
    assert final.returncode == 0

    got, want = _state(db), _state(reference)
    for table in want:
        assert len(got[table]) == len(set(got[table])), f"duplicated rows in {table}"
        assert got[table] == want[table], f"rows lost or invented in {table}"
