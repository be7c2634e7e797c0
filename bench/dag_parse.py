"""How long Airflow takes to parse dags/outreach_nightly.py (target: under a second).

Prints what ``airflow dags report`` measures, the median of several runs. Nothing is asserted:
benchmarks print figures, tests never time anything.
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


def parse_seconds(env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "report", "-o", "plain"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        if "outreach_nightly.py" in line:
            match = re.search(r"(\d+):(\d+):(\d+(?:\.\d+)?)", line)
            if match:
                h, m, s = match.groups()
                return int(h) * 3600 + int(m) * 60 + float(s)
    raise SystemExit(f"airflow dags report did not list the DAG file:\n{out}")


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        }
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=env,
            check=True,
            capture_output=True,
        )
        times = [parse_seconds(env) for _ in range(RUNS)]
    print(
        f"DAG parse time (airflow dags report), {RUNS} runs: median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s, max {max(times):.3f} s (target < 1 s)"
    )


if __name__ == "__main__":
    main()
