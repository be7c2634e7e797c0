"""The loader's flow, top to bottom: discover -> (sandbox: guard -> read -> header -> validate)
-> load.

``parse.process_file`` is pure (no database) and runs in sandboxed workers. ``run_ingest`` walks
the inbox, skips versions already loaded, and commits each new version as the single writer.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.discover import InboxFile, SkippedPath, discover
from ingest.load import RawStore
from ingest.parse import FileOutcome
from ingest.places import load_gazetteer
from ingest.registry import load_registry
from ingest.sandbox import Sandbox, SandboxLimits

log = logging.getLogger("outreach.ingest")


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


def run_ingest(
    inbox: Path,
    build_db: Path,
    gazetteer_path: Path,
    pii_key: bytes,
    load_id: str,
    tz: ZoneInfo,
    progress: Callable[[int, int, FileOutcome], None] | None = None,
    quarantine_dir: Path | None = None,
    limits: SandboxLimits | None = None,
) -> IngestSummary:
    """Load every new or changed file of the inbox; the same bytes again change nothing.

    New versions are parsed in sandboxed workers; this process is the single writer and commits
    each file as one transaction as soon as its account comes back. A file quarantined whole is
    copied to ``quarantine_dir/<load id>/`` for the people who follow it up.
    """
    registry = load_registry()
    gazetteer = load_gazetteer(gazetteer_path)
    files, skipped = discover(inbox)
    for s in skipped:
        log.warning("skipped %s: %s", s.rel, s.reason)
    summary = IngestSummary(load_id=load_id, skipped_paths=skipped)
    store = RawStore(build_db, registry, tz)
    done = 0

    def record(outcome: FileOutcome) -> None:
        nonlocal done
        done += 1
        summary.files.append(outcome.summary())
        if progress is not None:
            progress(done, len(files), outcome)

    try:
        store.write_townships(gazetteer)
        changed = []
        for file in files:
            if store.current_sha256(file.rel) == file.sha256:
                record(FileOutcome(file, "unchanged"))
            else:
                changed.append(file)
        with Sandbox(gazetteer_path, tz, limits or SandboxLimits()) as sandbox:
            for outcome in sandbox.parse(changed):
                file = outcome.file
                store.commit_file(
                    file, load_id, pii_key, outcome.sheets, outcome.unmatched, outcome.problem
                )
                if outcome.problem is not None and quarantine_dir is not None:
                    _keep_copy(file, quarantine_dir / load_id)
                record(outcome)
    finally:
        store.close()
    summary.files.sort(key=lambda f: f["file"])
    return summary


def _keep_copy(file: InboxFile, target_root: Path) -> None:
    target = target_root / file.rel
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(file.path, target)
    except OSError as exc:  # the file may be gone or unreadable: the ledger still has its reason
        log.warning("could not keep a copy of %s: %s", file.rel, exc)
