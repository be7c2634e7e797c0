"""One DAG run at a time owns the build file, from its claim to its report.

The writer pool lets one task write DuckDB at a time, but a run is several tasks: ingest, build,
check and publish must see each other's work and nobody else's. The DAG's ``max_active_runs=1``
does not cover a backfill (Airflow applies a backfill's own ``max_active_runs`` independently),
so a backfill run and the 02:00 night could interleave their builds. The lease closes that gap:
the first task of a run claims ``$OUTREACH_HOME/run.lease`` (under an exclusive ``flock``, so
exactly one claimant wins; on a shared OUTREACH_HOME this needs NFSv4 or another filesystem
with working locks, as the DuckDB file does), the report task gives it back, and a claimant that finds the lease held by a run
that is no longer running (failed, killed, deleted) takes it over.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

LEASE_NAME = "run.lease"


def lease_path(home: Path) -> Path:
    return home / LEASE_NAME


def holder(home: Path) -> dict | None:
    try:
        return json.loads(lease_path(home).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # half-written by a claimant that died: nobody holds it
        return {"dag_id": None, "run_id": None}


@contextmanager
def _locked(home: Path):
    """Claims and releases are short critical sections under an exclusive ``flock``."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / f"{LEASE_NAME}.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def try_claim(
    home: Path, dag_id: str, run_id: str, is_running: Callable[[str, str], bool]
) -> dict | None:
    """Claim the lease for ``run_id``; ``None`` when this run holds it now, else the holder.

    ``is_running(dag_id, run_id)`` tells whether a holder's run is still queued or running.
    Claiming again from the same run (a retried or rescheduled task) succeeds.
    """
    with _locked(home):
        current = holder(home)
        if current is not None:
            if (current.get("dag_id"), current.get("run_id")) == (dag_id, run_id):
                return None
            if current.get("run_id") and is_running(current["dag_id"], current["run_id"]):
                return current
        me = {"dag_id": dag_id, "run_id": run_id, "since": dt.datetime.now(dt.UTC).isoformat()}
        tmp = lease_path(home).with_name(f".{LEASE_NAME}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(me), encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, lease_path(home))
        return None


def release(home: Path, dag_id: str, run_id: str) -> bool:
    """Give the lease back if this run holds it; never removes another run's lease."""
    with _locked(home):
        current = holder(home)
        if current is None or (current.get("dag_id"), current.get("run_id")) != (dag_id, run_id):
            return False
        lease_path(home).unlink(missing_ok=True)
        return True
