"""How long Airflow takes to parse dags/outreach_nightly.py (target: under a second).

Prints what ``airflow dags report`` measures, the median of several runs, for the real DAG: its
build stage is the dbt task group (one task per model) rendered from the prebuilt manifest, which
is built first if it is missing or stale (``outreach dbt-manifest``; never timed). A DAG file that
fails to import would parse fast and prove nothing, so an import error stops the benchmark.
Nothing is asserted: benchmarks print figures, tests never time anything.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5


def parse_seconds(env: dict[str, str]) -> tuple[float, int]:
    """``airflow dags report``'s duration for the DAG file, and its number of tasks."""
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "report", "-o", "plain"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        if "outreach_nightly.py" in line:
            match = re.search(r"(\d+):(\d+):(\d+(?:\.\d+)?)\s+(\d+)\s+(\d+)", line)
            if match:
                h, m, s, dags, tasks = match.groups()
                if int(dags) != 1:
                    raise SystemExit(f"the DAG file did not define its DAG:\n{line}")
                return int(h) * 3600 + int(m) * 60 + float(s), int(tasks)
    raise SystemExit(f"airflow dags report did not list the DAG file:\n{out}")


def import_errors(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "list-import-errors", "-o", "plain"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return "" if "No data found" in out else out


def main() -> None:
    from outreach.pipeline.dbt_runner import ensure_manifest, manifest_models
    from outreach.settings import load_settings

    with tempfile.TemporaryDirectory() as home:
        if ensure_manifest(load_settings({"OUTREACH_HOME": home})):
            print("built the dbt manifest first (outreach dbt-manifest)")
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        }
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=env,
            check=True,
            capture_output=True,
        )
        measured = [parse_seconds(env) for _ in range(RUNS)]
        errors = import_errors(env)
        if errors:
            raise SystemExit(f"the DAG file does not import:\n{errors}")
    times = [t for t, _ in measured]
    tasks = measured[-1][1]
    print(
        f"DAG parse time (airflow dags report), {RUNS} runs: median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s, max {max(times):.3f} s (target < 1 s); "
        f"{tasks} tasks, of which {len(manifest_models())} dbt models"
    )


if __name__ == "__main__":
    main()
