"""Helpers of the dashboard's tests: a home of their own, a night run's rename, and a signed-in
session of the portal (the dashboard shows its pages only to a department account)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb

from outreach.portal.accounts import open_accounts
from outreach.settings import load_settings


def portal_session(home: Path, username: str = "zzb-dashboard", **unit: str) -> str:
    """A live session (its cookie's value) of an account of ``home``'s portal, past its first
    password: a department (admin) account, or a unit's when ``provider=``/``unit=`` are given."""
    accounts = open_accounts(load_settings({"OUTREACH_HOME": str(home)}))
    try:
        if accounts.get(username) is None:
            first = accounts.add(username, "unit" if unit else "admin", **unit)
            accounts.change_password(username, first, "a-long-enough-password")
        sid, _ = accounts.new_session(username)
        return sid
    finally:
        accounts.close()


def home_with_copy(published_db: Path, home: Path) -> Path:
    """A fresh OUTREACH_HOME holding a copy of the published file (for tests that replace it)."""
    target = load_settings({"OUTREACH_HOME": str(home)}).published_db
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(published_db, target)
    return target


def republish(published_db: Path, as_of: dt.date, cadres_talked: int) -> None:
    """What the night run does, with other figures: a new file is written and checkpointed
    beside the published one, then renamed over it (outreach/pipeline/publish.py)."""
    staged = published_db.with_name(f".{published_db.name}.next.tmp")
    shutil.copyfile(published_db, staged)
    con = duckdb.connect(str(staged))
    try:
        for table in ("program_headlines", "rpt_headlines"):  # the figure, and as it is shown
            con.execute(f"update marts.{table} set as_of = ?", [as_of])
            con.execute(
                f"update marts.{table} set value = ? where metric = 'cadres_talked'",
                [cadres_talked],
            )
        con.execute(
            "update marts.publication set as_of = ?, run_id = ?, published_at = current_timestamp",
            [as_of, f"{as_of.isoformat()}_swapped"],
        )
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(staged, published_db)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m outreach.dashboard`` (or ``module``: ``outreach.portal``) on a free port,
    over the given OUTREACH_HOME; ``ports``: the OUTREACH_*_PORT settings both servers share
    (the portal links to the dashboard and back)."""

    def __init__(
        self,
        home: Path,
        log: Path,
        module: str = "outreach.dashboard",
        ports: dict[str, int] | None = None,
    ) -> None:
        portal = module == "outreach.portal"
        ports = ports or {}
        key = "OUTREACH_PORTAL_PORT" if portal else "OUTREACH_DASHBOARD_PORT"
        self.port = ports.get(key) or free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
        env |= {k: str(v) for k, v in ports.items()}
        env |= {"OUTREACH_HOME": str(home), key: str(self.port)}
        self.log = log
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}/"
        health, healthy = ("login", None) if portal else ("_stcore/health", b"ok")
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + health, timeout=2) as r:
                    if healthy is None or r.read() == healthy:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{module} did not start:\n{log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
