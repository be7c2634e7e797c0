"""Run dbt (build, test) against the build file, in-process through dbt's Python API."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from outreach.settings import DBT_PROJECT_DIR, Settings


@dataclass(frozen=True)
class DbtNodeResult:
    unique_id: str
    resource_type: str
    status: str  # success | error | fail | warn | pass | skipped
    message: str | None
    failures: int | None
    severity: str | None


class DbtError(RuntimeError):
    """dbt could not build the warehouse (a model failed to compile or run)."""


def _invoke(args: list[str], settings: Settings, as_of: dt.date) -> list[DbtNodeResult]:
    """Run dbt in a child process: it releases the build file when it exits (dbt-duckdb keeps
    its connection open for the life of the process) and keeps dbt's global state out of ours."""
    target = settings.home / "dbt" / "target"
    logs = settings.home / "dbt" / "logs"
    run_results = target / "run_results.json"
    run_results.unlink(missing_ok=True)
    command = [
        str(Path(sys.executable).with_name("dbt")),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(logs),
        "--vars",
        json.dumps({"as_of": as_of.isoformat()}),
    ]
    env = {
        **os.environ,
        "OUTREACH_BUILD_DB": str(settings.build_db),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    if not run_results.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise DbtError(
            f"dbt {args[0]} failed before running anything (exit {proc.returncode}):\n{tail}"
        )
    nodes: list[DbtNodeResult] = []
    manifest = _load_json(target / "manifest.json")
    for r in _load_json(run_results)["results"]:
        node = manifest.get("nodes", {}).get(r["unique_id"]) or manifest.get("unit_tests", {}).get(
            r["unique_id"], {}
        )
        nodes.append(
            DbtNodeResult(
                unique_id=r["unique_id"],
                resource_type=node.get("resource_type", r["unique_id"].split(".")[0]),
                status=r["status"],
                message=r.get("message"),
                failures=r.get("failures"),
                severity=(node.get("config") or {}).get("severity"),
            )
        )
    return nodes


def _load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def build_models(
    settings: Settings, as_of: dt.date, select: str | None = None
) -> list[DbtNodeResult]:
    """Build every model, or the ``select``ed ones (no tests): errors here mean there is no
    warehouse to check."""
    nodes = _invoke(["run", *(["--select", select] if select else [])], settings, as_of)
    broken = [n for n in nodes if n.status == "error"]
    if broken:
        details = "; ".join(f"{n.unique_id}: {n.message}" for n in broken[:5])
        raise DbtError(f"dbt could not build {len(broken)} model(s): {details}")
    return nodes


def run_tests(settings: Settings, as_of: dt.date) -> list[DbtNodeResult]:
    """Data tests and unit tests; failures are returned, not raised: the gate decides."""
    return _invoke(["test"], settings, as_of)
