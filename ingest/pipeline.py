"""The loader's flow, top to bottom: discover -> (sandbox: guard -> read -> header -> validate)
-> load.

``parse.process_file`` is pure (no database) and runs in sandboxed workers. Two ways through:

- ``run_ingest`` walks the inbox, skips versions already loaded, and commits the new versions
  as the single writer as their sandboxed parses come back, a group of whole files per
  transaction (one process: tests, benches);
- the DAG splits the same work in three: ``plan_ingest`` (which files are new or changed, in
  batches) -> ``parse_batch`` once per batch (mapped tasks, in parallel, possibly on several
  machines; results staged as Arrow IPC + JSON, see ``staging.py``) -> ``load_staged`` (the one
  writer commits them in the plan's order, in groups too).

A file counts as done (its progress line, its place in the summary, its quarantine copy) only
once the group holding it is committed.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest import staging
from ingest.discover import (
    InboxFile,
    SkippedPath,
    describe,
    discover,
    open_discovered,
    printable,
)
from ingest.load import CommitGroup, PiiKeyMismatch, RawStore
from ingest.parse import FileOutcome, failed
from ingest.places import load_gazetteer
from ingest.registry import load_registry
from ingest.sandbox import ParserBug, Sandbox, SandboxLimits

log = logging.getLogger("outreach.ingest")


@dataclass
class IngestSummary:
    load_id: str
    files: list[dict] = field(default_factory=list)
    skipped_paths: list[SkippedPath] = field(default_factory=list)
    # where the time went, in seconds: this process's steps (discover, open, wait, load) and the
    # workers' (guard, read, normalise) summed over files; for the benchmark, not the report
    timings: dict[str, float] = field(default_factory=dict)

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


def _our_failure(file: InboxFile, exc: Exception, raise_bugs: bool, doing: str) -> FileOutcome:
    """The loader's own code failed on ``file`` while ``doing``: its parser_error quarantine, or
    (``raise_bugs``, the tests) the failure itself, naming the file."""
    if raise_bugs:
        raise ParserBug(failed(file, exc)) from exc
    outcome = failed(file, exc)
    log.error(
        "the loader failed on %s while %s: %s\n%s",
        printable(file.rel),
        doing,
        outcome.detail,
        outcome.traceback,
    )
    return outcome


class _Committer:
    """Stages each parsed file in the store's open group, commits the group when it is due,
    and only then counts its files as done.

    A file the loader's own code fails to stage (a value it cannot type, say) is staged as a
    ``parser_error`` quarantine instead, so that one file never stops the others, unless
    ``raise_bugs`` (tests) asks for the failure itself.
    """

    def __init__(
        self,
        store: RawStore,
        load_id: str,
        pii_key: bytes,
        quarantine_dir: Path | None,
        done: Callable[[FileOutcome], None],
        raise_bugs: bool = False,
    ):
        self.store, self.load_id, self.pii_key = store, load_id, pii_key
        self.quarantine_dir, self.done = quarantine_dir, done
        self.raise_bugs = raise_bugs
        self.waiting: list[FileOutcome] = []

    def _stage(self, outcome: FileOutcome) -> None:
        self.store.stage_file(
            outcome.file,
            self.load_id,
            self.pii_key,
            outcome.sheets,
            outcome.unmatched,
            outcome.problem,
            outcome.detail,
        )

    def add(self, outcome: FileOutcome) -> None:
        try:
            self._stage(outcome)
        except PiiKeyMismatch:
            raise
        except Exception as exc:
            outcome = _our_failure(outcome.file, exc, self.raise_bugs, "staging it in DuckDB")
            self._stage(outcome)
        self.waiting.append(outcome)
        if self.store.group_due():
            self.flush()

    def flush(self) -> None:
        self.store.commit_group()
        waiting, self.waiting = self.waiting, []
        for outcome in waiting:
            if outcome.problem is not None and self.quarantine_dir is not None:
                _keep_copy(outcome.file, self.quarantine_dir / self.load_id)
            self.done(outcome)


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
    group: CommitGroup | None = None,
) -> IngestSummary:
    """Load every new or changed file of the inbox; the same bytes again change nothing.

    New versions are parsed in sandboxed workers; this process is the single writer and commits
    them as their accounts come back, whole files in groups (``group``, see ``CommitGroup``),
    one transaction per group. A file quarantined whole is copied to
    ``quarantine_dir/<load id>/`` for the people who follow it up.
    """
    clock = time.perf_counter()
    timings = dict.fromkeys(("discover", "open", "wait", "load", "guard", "read", "normalise"), 0.0)

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] += now - clock
        clock = now

    registry = load_registry()
    gazetteer = load_gazetteer(gazetteer_path)
    files, skipped = discover(inbox)
    for s in skipped:
        log.warning("skipped %s: %s", printable(s.rel), s.reason)
    summary = IngestSummary(load_id=load_id, skipped_paths=skipped, timings=timings)
    lap("discover")
    store = RawStore(build_db, registry, tz, group or CommitGroup())
    done = 0

    def record(outcome: FileOutcome) -> None:
        nonlocal done
        done += 1
        summary.files.append(outcome.summary())
        if progress is not None:
            progress(done, len(files), outcome)

    try:
        changed = []
        for file in files:
            if store.current_sha256(file.rel) == file.sha256:
                record(FileOutcome(file, "unchanged"))
            else:
                changed.append(file)
        with Sandbox(gazetteer_path, tz, limits or SandboxLimits()) as sandbox:
            if changed:  # the workers start up while this process gets ready to write
                sandbox.start()
                store.warm_up()
            store.write_townships(gazetteer)
            lap("open")
            committer = _Committer(
                store, load_id, pii_key, quarantine_dir, record, sandbox.limits.raise_bugs
            )
            for outcome in sandbox.parse(changed):
                lap("wait")
                for step, seconds in outcome.timings.items():
                    timings[step] += seconds
                committer.add(outcome)
                lap("load")
            committer.flush()
    finally:
        store.close()
        lap("load")
    summary.files.sort(key=lambda f: f["file"])
    return summary


def _keep_copy(file: InboxFile, target_root: Path) -> None:
    """A copy of the quarantined file for the people who follow it up, made from the inode that
    was parsed (opened without following a link: a file swapped for a link since copies
    nothing), private to the service user (0600 in 0700 folders), never written through a link
    planted in the quarantine."""
    target = target_root / file.rel
    try:
        target_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open_discovered(file) as src:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
            with os.fdopen(os.open(target, flags, 0o600), "wb") as dst:
                os.fchmod(dst.fileno(), 0o600)
                shutil.copyfileobj(src, dst)
    except OSError as exc:  # gone, replaced or unreadable: the ledger still has its reason
        log.warning("could not keep a copy of %s: %s", printable(file.rel), exc)


# A batch of small files is one parse task; a big file is a task of its own. Airflow expands a
# mapped task to at most 1024 instances by default, so batches grow when there are many files.
BATCH_FILES = 50
BATCH_BYTES = 32 * 1024**2
MAX_BATCHES = 256


def batch_files(
    sizes: list[int],
    max_files: int | None = None,
    max_bytes: int | None = None,
    max_batches: int | None = None,
) -> list[list[int]]:
    """Indices of ``sizes`` cut, in order, into batches of at most ``max_files`` files and about
    ``max_bytes`` bytes (a file bigger than that is alone), and never more than ``max_batches``."""
    if not sizes:
        return []
    max_files, max_bytes = max_files or BATCH_FILES, max_bytes or BATCH_BYTES
    max_batches = max_batches or MAX_BATCHES
    max_files = max(max_files, math.ceil(len(sizes) / max_batches))
    max_bytes = max(max_bytes, math.ceil(sum(sizes) / max_batches))
    batches: list[list[int]] = []
    current: list[int] = []
    weight = 0
    for i, size in enumerate(sizes):
        if current and (len(current) >= max_files or weight + size > max_bytes):
            batches.append(current)
            current, weight = [], 0
        current.append(i)
        weight += size
    batches.append(current)
    return batches


def _current_versions(build_db: Path) -> dict[str, str]:
    """Path -> sha256 of every current file version, read without taking the writer's lock for
    longer than the query (a missing build file or ledger means nothing is loaded yet)."""
    if not build_db.exists():
        return {}
    import duckdb

    con = duckdb.connect(str(build_db), read_only=True)
    try:
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'raw' and table_name = 'file_versions'"
        ).fetchone()[0]
        if not exists:
            return {}
        rows = con.execute(
            "select source_file, file_sha256 from raw.file_versions where status = 'current'"
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


def plan_ingest(inbox: Path, build_db: Path, folder: Path, max_batches: int | None = None) -> dict:
    """Decide what this run parses: every file whose bytes are not the path's current version.

    Writes ``folder/plan.json`` (a fresh, private staging folder for the run) and returns a
    small summary with the batch numbers to map the parse tasks over (at most ``max_batches``,
    default ``MAX_BATCHES``).
    """
    if folder.exists():  # a retried plan starts clean: stale accounts must not be loaded
        staging.remove(folder)
    staging.make_private_dir(folder)
    files, skipped = discover(inbox)
    for s in skipped:
        log.warning("skipped %s: %s", printable(s.rel), s.reason)
    current = _current_versions(build_db)
    changed = [f for f in files if current.get(f.rel) != f.sha256]
    unchanged = [f for f in files if current.get(f.rel) == f.sha256]
    batches = batch_files([f.size for f in changed], max_batches=max_batches)
    plan = {
        "inbox": str(inbox.resolve()),
        "changed": [f.rel for f in changed],
        "unchanged": [FileOutcome(f, "unchanged").summary() for f in unchanged],
        "skipped": [{"rel": s.rel, "reason": s.reason} for s in skipped],
        "batches": batches,
    }
    (folder / "plan.json").write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    return {
        "files": len(files),
        "changed": len(changed),
        "unchanged": len(unchanged),
        "batches": list(range(len(batches))),
    }


def _read_plan(folder: Path) -> dict:
    path = folder / "plan.json"
    if not path.exists():
        raise staging.StagingError(f"no ingest plan at {path}: run the plan task first")
    return json.loads(path.read_text(encoding="utf-8"))


def parse_batch(
    folder: Path,
    batch: int,
    gazetteer_path: Path,
    tz: ZoneInfo,
    limits: SandboxLimits | None = None,
) -> dict:
    """Parse the files of one batch of the plan in sandboxed workers and stage the results.

    The files are described again from the inbox: a file replaced since the plan is parsed as
    it is now (its account carries the new sha256), a file gone is staged as skipped.
    """
    plan = _read_plan(folder)
    inbox = Path(plan["inbox"])
    registry = load_registry()
    load_gazetteer(gazetteer_path)  # a broken configuration fails the task, not every file
    indices = plan["batches"][batch]
    by_rel: dict[str, int] = {}
    files: list[InboxFile] = []
    for i in indices:
        found = describe(inbox, inbox / plan["changed"][i])
        if isinstance(found, SkippedPath):
            staging.write_skipped(folder, i, found)
        else:
            by_rel[found.rel] = i
            files.append(found)
    statuses: dict[str, int] = {}
    with Sandbox(gazetteer_path, tz, limits or SandboxLimits()) as sandbox:
        for outcome in sandbox.parse(files):
            index = by_rel[outcome.file.rel]
            try:
                staging.write_outcome(folder, index, outcome, registry)
            except Exception as exc:  # a value the stager cannot type: that file, not the batch
                outcome = _our_failure(
                    outcome.file, exc, sandbox.limits.raise_bugs, "writing its parse result"
                )
                staging.write_outcome(folder, index, outcome, registry)
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    return {"batch": batch, "files": len(indices), "statuses": statuses}


def load_staged(
    folder: Path,
    build_db: Path,
    gazetteer_path: Path,
    pii_key: bytes,
    load_id: str,
    tz: ZoneInfo,
    progress: Callable[[int, int, FileOutcome], None] | None = None,
    quarantine_dir: Path | None = None,
    group: CommitGroup | None = None,
    raise_bugs: bool = False,
) -> IngestSummary:
    """Commit every staged parse result of the plan, in the plan's order, as the single writer
    (whole files in groups, see ``CommitGroup``); then delete the staging folder (it holds
    personal data). ``raise_bugs``: see ``_Committer``."""
    plan = _read_plan(folder)
    registry = load_registry()
    summary = IngestSummary(
        load_id=load_id,
        skipped_paths=[SkippedPath(s["rel"], s["reason"]) for s in plan["skipped"]],
    )
    summary.files.extend(plan["unchanged"])
    total = len(plan["changed"]) + len(plan["unchanged"])
    # every account must be there before anything is committed
    outcomes = [(i, rel) for i, rel in enumerate(plan["changed"])]
    for i, rel in outcomes:
        if not (folder / f"{i}.json").exists():
            raise staging.StagingError(
                f"no parse result for {rel}: its parse task did not finish; rerun it (or the run)"
            )
    store = RawStore(build_db, registry, tz, group or CommitGroup())

    def record(outcome: FileOutcome) -> None:
        summary.files.append(outcome.summary())
        if progress is not None:
            progress(len(summary.files), total, outcome)

    try:
        store.write_townships(load_gazetteer(gazetteer_path))
        committer = _Committer(store, load_id, pii_key, quarantine_dir, record, raise_bugs)
        for i, rel in outcomes:
            outcome = staging.read_outcome(folder, i, rel)
            if isinstance(outcome, SkippedPath):
                log.warning("skipped %s: %s", printable(outcome.rel), outcome.reason)
                summary.skipped_paths.append(outcome)
                continue
            committer.add(outcome)
        committer.flush()
    finally:
        store.close()
    staging.remove(folder)
    summary.files.sort(key=lambda f: f["file"])
    return summary
