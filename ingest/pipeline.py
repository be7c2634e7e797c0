"""The loader's flow, top to bottom: discover -> read -> find header -> validate -> load.

``process_file`` is pure (no database): it reads one file and returns its account, so it can run
in a worker. ``run_ingest`` walks the inbox, skips versions already loaded, and hands each new
version to the single writer.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.discover import InboxFile, SkippedPath, discover
from ingest.header import find_header, header_cells
from ingest.load import RawStore
from ingest.places import Gazetteer, load_gazetteer
from ingest.read import ReadError, read_sheets
from ingest.registry import DatasetSpec, load_registry
from ingest.validate import SheetRows, validate_sheet

log = logging.getLogger("outreach.ingest")


@dataclass
class FileOutcome:
    file: InboxFile
    status: str  # loaded | unchanged | quarantined
    sheets: list[SheetRows] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (sheet, header JSON)
    problem: tuple[str, str] | None = None  # (rule_id, Chinese message) for a whole file
    skipped_rows: Counter = field(default_factory=Counter)

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
            "problem": None
            if self.problem is None
            else {"rule_id": self.problem[0], "message": self.problem[1]},
        }


@dataclass
class IngestSummary:
    load_id: str
    files: list[dict] = field(default_factory=list)
    skipped_paths: list[SkippedPath] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f["status"] == status)

    def as_dict(self) -> dict:
        return {
            "load_id": self.load_id,
            "files": {s: self.count(s) for s in ("loaded", "unchanged", "quarantined")},
            "rows": {
                "loaded": sum(f["rows_loaded"] for f in self.files),
                "quarantined": sum(f["rows_quarantined"] for f in self.files),
            },
            "sheets_unmatched": sum(len(f["sheets_unmatched"]) for f in self.files),
            "skipped_paths": [{"path": s.rel, "reason": s.reason} for s in self.skipped_paths],
            "file_details": self.files,
        }


def process_file(
    file: InboxFile, registry: dict[str, DatasetSpec], gazetteer: Gazetteer, tz: ZoneInfo
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
    try:
        sheets = read_sheets(file.path, file.kind)
    except ReadError as exc:
        return FileOutcome(file, "quarantined", problem=(exc.rule_id, exc.message))
    arrived_on = dt.datetime.fromtimestamp(file.mtime, tz).date()
    outcome = FileOutcome(file, "loaded")
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
    return outcome


def run_ingest(
    inbox: Path,
    build_db: Path,
    gazetteer_path: Path,
    pii_key: bytes,
    load_id: str,
    tz: ZoneInfo,
    progress: Callable[[int, int, FileOutcome], None] | None = None,
) -> IngestSummary:
    registry = load_registry()
    gazetteer = load_gazetteer(gazetteer_path)
    files, skipped = discover(inbox)
    for s in skipped:
        log.warning("skipped %s: %s", s.rel, s.reason)
    summary = IngestSummary(load_id=load_id, skipped_paths=skipped)
    store = RawStore(build_db, registry)
    try:
        store.write_townships(gazetteer)
        for i, file in enumerate(files, start=1):
            if store.current_sha256(file.rel) == file.sha256:
                outcome = FileOutcome(file, "unchanged")
            else:
                outcome = process_file(file, registry, gazetteer, tz)
                store.commit_file(
                    file, load_id, pii_key, outcome.sheets, outcome.unmatched, outcome.problem
                )
            summary.files.append(outcome.summary())
            if progress is not None:
                progress(i, len(files), outcome)
    finally:
        store.close()
    return summary
