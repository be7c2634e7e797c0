"""How long each stage of a run took: ``reports/<run id>/timings/<stage>.json``, gathered into
``run.json`` ("timings") by the report stage.

One small file per stage (and per parse batch) rather than one shared file: parse tasks run at
the same time on several workers, and a stage that fails still leaves its time behind. Wall
seconds, measured by the stage itself (Airflow's own scheduling and task start-up between stages
is not in them; the benchmark measures the whole run from outside).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DIR = "timings"


def _path(run_dir: Path, name: str) -> Path:
    return run_dir / DIR / f"{name}.json"


def record(run_dir: Path, name: str, seconds: float, **detail: float) -> None:
    """Write stage ``name``'s time (and named parts of it, in seconds); replaces an earlier one
    (a retried task's last try wins)."""
    path = _path(run_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"seconds": round(seconds, 3), **{k: round(v, 3) for k, v in detail.items()}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


@contextmanager
def timed(run_dir: Path, name: str) -> Iterator[dict[str, float]]:
    """Time the block as stage ``name``; the block may add parts to the yielded dict."""
    parts: dict[str, float] = {}
    started = time.perf_counter()
    try:
        yield parts
    finally:
        record(run_dir, name, time.perf_counter() - started, **parts)


class Stopwatch:
    """Named parts of one stage: ``lap(name)`` ends the part that began at the previous lap."""

    def __init__(self, parts: dict[str, float]):
        self.parts = parts
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.parts[name] = self.parts.get(name, 0.0) + now - self._last
        self._last = now


def collect(run_dir: Path) -> dict[str, dict[str, float]]:
    """Every stage time of the run, by stage; the parse batches also summed as ``parse``."""
    out: dict[str, dict[str, float]] = {}
    folder = run_dir / DIR
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a half-written file of a task killed mid-write: its time is unknown
    batches = [v["seconds"] for k, v in out.items() if k.startswith("parse_")]
    if batches:
        out["parse"] = {"seconds": round(sum(batches), 3), "batches": len(batches)}
    return out
