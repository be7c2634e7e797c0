"""Parse one untrusted file into its account: the pure half of the loader (no database).

Runs inside a sandboxed worker process (see ``sandbox.py``): guard -> read -> find header ->
validate. Returns a ``FileOutcome``; raises only on bugs.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ingest.discover import InboxFile
from ingest.guard import DEFAULT_LIMITS, Limits, has_macros, inspect
from ingest.header import find_header, header_cells
from ingest.places import Gazetteer
from ingest.read import ReadError, read_sheets
from ingest.registry import DatasetSpec
from ingest.validate import SheetRows, validate_sheet


@dataclass
class FileOutcome:
    file: InboxFile
    status: str  # loaded | unchanged | quarantined
    sheets: list[SheetRows] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (sheet, header JSON)
    problem: tuple[str, str] | None = None  # (rule_id, Chinese message) for a whole file
    skipped_rows: Counter = field(default_factory=Counter)
    has_macros: bool = False  # an .xlsm: its values are read, its macros never run
    # seconds spent in each step in the worker (guard, read, normalise: header + validation),
    # for the benchmark's breakdown; not part of the file's account
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        return sum(len(s.row_numbers) for s in self.sheets)

    @property
    def rows_quarantined(self) -> int:
        return sum(len(s.quarantined) for s in self.sheets)

    def summary(self) -> dict:
        return {
            "file": self.file.rel,
            "provider": self.file.provider,
            "sha256": self.file.sha256,
            "status": self.status,
            "datasets": sorted({s.dataset for s in self.sheets}),
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "rows_skipped": dict(self.skipped_rows),
            "sheets_unmatched": [name for name, _ in self.unmatched],
            "unmatched_headers": {name: json.loads(header) for name, header in self.unmatched},
            "has_macros": self.has_macros,
            "problem": None
            if self.problem is None
            else {"rule_id": self.problem[0], "message": self.problem[1]},
        }


def process_file(
    file: InboxFile,
    registry: dict[str, DatasetSpec],
    gazetteer: Gazetteer,
    tz: ZoneInfo,
    limits: Limits = DEFAULT_LIMITS,
) -> FileOutcome:
    if file.provider is None:
        return FileOutcome(
            file,
            "quarantined",
            problem=(
                "unknown_provider",
                "文件不在 townships/、joint_branches/、enterprises/、county/ 任一目录下，无法确定报送单位",
            ),
        )
    t0 = time.perf_counter()
    finding = inspect(file.path, file.kind, file.size, limits)
    t1 = time.perf_counter()
    timings = {"guard": t1 - t0}
    if finding is not None:
        return FileOutcome(
            file, "quarantined", problem=(finding.rule_id, finding.message), timings=timings
        )
    try:
        sheets = read_sheets(file.path, file.kind)
    except ReadError as exc:
        timings["read"] = time.perf_counter() - t1
        return FileOutcome(file, "quarantined", problem=(exc.rule_id, exc.message), timings=timings)
    arrived_on = dt.datetime.fromtimestamp(file.mtime, tz).date()
    outcome = FileOutcome(
        file,
        "loaded",
        has_macros=file.kind == "xlsx" and has_macros(file.path),
        timings=timings,
    )
    t2 = time.perf_counter()
    timings["read"] = t2 - t1
    for sheet in sheets:
        if not any(any(v is not None for v in row) for row in sheet.rows):
            outcome.skipped_rows["empty_sheet"] += 1
            continue
        match = find_header(sheet, registry)
        if match is None:
            outcome.unmatched.append(
                (sheet.name, json.dumps(header_cells(sheet), ensure_ascii=False))
            )
            continue
        rows = validate_sheet(sheet, match, registry[match.dataset], gazetteer, arrived_on)
        outcome.skipped_rows.update(rows.skipped)
        outcome.sheets.append(rows)
    timings["normalise"] = time.perf_counter() - t2
    return outcome
