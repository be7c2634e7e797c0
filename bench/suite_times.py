"""Wall times of the test suite, from a fresh clone: `make venv` (the setup both commands
share), `make test` (the whole suite, CI's command) and `make test-fast` (the edit loop).

Prints the figures and the slowest tests of the whole suite (pytest's --durations); never an
assertion. Usage: python bench/suite_times.py [--fast-only] [--keep DIR]

The targets (issue 14): `make test` at most 12 minutes, `make test-fast` at most 3, on the
project's two-core machine. The figures go to bench/RESULTS.md by hand, with the date.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _timed(cmd: list[str], cwd: Path, log: Path) -> tuple[float, int]:
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    return time.monotonic() - started, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast-only", action="store_true", help="time make test-fast only")
    parser.add_argument("--keep", type=Path, help="clone into DIR and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="suite-times-"))
    clone = work / "clone"
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True
    ).stdout.strip()
    print(f"fresh clone of {commit} in {clone}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")

    rows = []
    seconds, rc = _timed(["make", "venv"], clone, work / "venv.log")
    rows.append(("make venv (setup, shared)", seconds, rc))
    seconds, rc = _timed(["make", "test-fast"], clone, work / "test-fast.log")
    rows.append(("make test-fast", seconds, rc))
    if not args.fast_only:
        # the whole suite, with pytest's list of the slowest tests
        env_cmd = ["make", "test", "PYTEST_ARGS=--durations=25"]
        seconds, rc = _timed(env_cmd, clone, work / "test.log")
        rows.append(("make test", seconds, rc))

    print("\n| command | wall time | exit |\n|---|---:|---:|")
    for name, seconds, rc in rows:
        print(f"| `{name}` | {seconds / 60:.1f} min ({seconds:.0f} s) | {rc} |")
    for name in ("test-fast", "test"):
        log = work / f"{name}.log"
        if log.exists():
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()
            summary = [line for line in tail if re.search(r"\d+ passed", line)]
            print(f"\n{name}: {summary[-1] if summary else 'no pytest summary'}")
    test_log = work / "test.log"
    if test_log.exists():
        text = test_log.read_text(encoding="utf-8", errors="replace")
        block = text.split("slowest 25 durations", 1)
        if len(block) == 2:
            print("\nslowest tests (make test):")
            for line in block[1].splitlines()[1:26]:
                if line.strip():
                    print("  " + line)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
