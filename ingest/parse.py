"""Parse one untrusted file into its account: the pure half of the loader (no database).

Runs inside a sandboxed worker process (see ``sandbox.py``): guard -> read -> find header ->
validate. ``process_file`` returns a ``FileOutcome`` and raises only on bugs;
``process_file_safely`` never raises: whatever happens while one file is parsed (an exception
of any class, a Rust panic, running out of memory) becomes that file's quarantine, described in
plain data (:func:`failed`), so nothing a parser raised ever has to cross a process boundary.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
import traceback
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError
from zoneinfo import ZoneInfo

from ingest.discover import InboxFile, read_file, sniff_bytes
from ingest.guard import DEFAULT_LIMITS, Limits, has_macros, inspect, too_large
from ingest.header import find_header, header_cells
from ingest.pii import mask_text
from ingest.places import Gazetteer
from ingest.read import ReadError, read_sheets
from ingest.registry import DatasetSpec
from ingest.senders import screen, sender_of, township_names
from ingest.validate import SheetRows, validate_sheet

# A bug of the loader itself (not of the file): quarantined with the exception in the detail in
# a night, raised in tests (``OUTREACH_PARSER_BUGS=raise``).
PARSER_ERROR = "parser_error"
# What the libraries that read files raise on a file they cannot read: the file is broken.
_FILE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    csv.Error,
    UnicodeError,
    ParseError,
    ExpatError,
)
_FILE_ERROR_MODULES = ("python_calamine", "pyo3_runtime", "defusedxml")
_NOTHING_IN_IT = (
    "empty_file",
    "文件里没有任何内容（每个工作表都是空的）；请确认报送的是填好的文件",
)


@dataclass
class FileOutcome:
    file: InboxFile
    status: str  # loaded | unchanged | quarantined
    sheets: list[SheetRows] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (sheet, header JSON)
    problem: tuple[str, str] | None = None  # (rule_id, Chinese message) for a whole file
    # for the people who run the loader: the exception (class and message, masked) behind a
    # problem the loader did not name itself; its traceback only for a parser_error
    detail: str | None = None
    traceback: str | None = None
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
            else {"rule_id": self.problem[0], "message": self.problem[1], "detail": self.detail},
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
    if file.size > limits.max_file_bytes:  # not even read into memory
        finding = too_large(file.size, limits)
        return FileOutcome(file, "quarantined", problem=(finding.rule_id, finding.message))
    data, file = read_file(file, limits.max_file_bytes)  # safely, once: the steps below use these
    kind = sniff_bytes(data, file.path.name)
    finding = inspect(data, kind, len(data), limits)
    t1 = time.perf_counter()
    timings = {"guard": t1 - t0}
    if finding is not None:
        return FileOutcome(
            file, "quarantined", problem=(finding.rule_id, finding.message), timings=timings
        )
    try:
        sheets = read_sheets(data, kind, limits, name=file.path.name)
    except ReadError as exc:
        timings["read"] = time.perf_counter() - t1
        return FileOutcome(file, "quarantined", problem=(exc.rule_id, exc.message), timings=timings)
    arrived_on = dt.datetime.fromtimestamp(file.mtime, tz).date()
    sender = sender_of(file.rel, township_names(gazetteer))
    outcome = FileOutcome(
        file,
        "loaded",
        has_macros=kind == "xlsx" and has_macros(data),
        timings=timings,
    )
    t2 = time.perf_counter()
    timings["read"] = t2 - t1
    if not any(any(v is not None for v in row) for sheet in sheets for row in sheet.rows):
        outcome.status, outcome.problem = "quarantined", _NOTHING_IN_IT
        return outcome
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
        rows = screen(rows, sheet, match, registry[match.dataset], sender, gazetteer)
        outcome.skipped_rows.update(rows.skipped)
        outcome.sheets.append(rows)
    timings["normalise"] = time.perf_counter() - t2
    return outcome


def describe_exception(exc: BaseException) -> str:
    """``module.Class: message`` of any exception, masked (a message may quote a cell), short;
    never raises (an exception's ``__str__`` is code too)."""
    kind = type(exc)
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 (a broken __str__ must not hide the failure)
        message = "<message unreadable>"
    name = f"{kind.__module__}.{kind.__qualname__}".removeprefix("builtins.")
    return mask_text(f"{name}: {message}" if message else name)[:1000]


def failed(file: InboxFile, exc: BaseException) -> FileOutcome:
    """The quarantine of a file whose parse raised ``exc``: a broken file as ``corrupt``, a
    file too big for the worker's memory as ``too_large``, anything else as a bug of ours
    (``parser_error``, with its traceback)."""
    detail = describe_exception(exc)
    if isinstance(exc, MemoryError):
        problem = ("too_large", "读取该文件所需内存超过上限；请拆分后重新报送")
        return FileOutcome(file, "quarantined", problem=problem, detail=detail)
    if isinstance(exc, OSError) and not isinstance(exc, _FILE_ERRORS):
        problem = ("unreadable", "文件无法打开（读取时已被移走、删除，或没有读取权限）；请重新报送")
        return FileOutcome(file, "quarantined", problem=problem, detail=detail)
    if isinstance(exc, _FILE_ERRORS) or type(exc).__module__.startswith(_FILE_ERROR_MODULES):
        problem = (
            "corrupt",
            "文件已损坏或结构异常，读取时出错；请用 Excel（或 WPS）打开后另存为新的 .xlsx 再报送",
        )
        return FileOutcome(file, "quarantined", problem=problem, detail=detail)
    problem = (
        PARSER_ERROR,
        "读取该文件时系统内部出错；文件已留存，管理员会处理，无需重复报送。"
        "如急需入库，可用 Excel 另存为新的 .xlsx 后重新报送",
    )
    trace = mask_text("".join(traceback.format_exception(exc)))[-8000:]
    return FileOutcome(file, "quarantined", problem=problem, detail=detail, traceback=trace)


def process_file_safely(
    file: InboxFile,
    registry: dict[str, DatasetSpec],
    gazetteer: Gazetteer,
    tz: ZoneInfo,
    limits: Limits = DEFAULT_LIMITS,
) -> FileOutcome:
    """``process_file`` that never raises: a failure is the file's quarantine (:func:`failed`)."""
    try:
        return process_file(file, registry, gazetteer, tz, limits)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 (a Rust panic is a BaseException)
        return failed(file, exc)
