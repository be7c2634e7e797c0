"""Parse results on disk, between the parse tasks and the single loader.

In the Airflow DAG the parsing fans out over mapped tasks (possibly on several Celery workers,
which share ``OUTREACH_HOME``) while only one task may write DuckDB. Each parse task leaves, per
file, an account (``<n>.json``: what the file is, its problem or unmatched sheets, its
quarantined rows) and one Arrow IPC file per sheet of rows (``<n>.<sheet>.arrow``, typed with
the raw table's column types). The loader reads them back in the plan's order and commits them
(whole files, in groups), exactly as if it had parsed the files itself.

Both kinds of file are written to a temporary name and renamed, so a parse task that dies leaves
either a whole account or none; the loader refuses to run with an account missing. The staging
folder holds the original ID and phone numbers (like ``raw``): it is created 0700 and the loader
deletes it once everything is committed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from ingest.discover import InboxFile, SkippedPath
from ingest.load import _ARROW_TYPES, raw_columns
from ingest.parse import FileOutcome
from ingest.registry import DatasetSpec
from ingest.validate import QuarantinedRow, SheetRows

ROW_NUMBER = "__row_number"


class StagingError(RuntimeError):
    """A parse result the loader needs is missing or unreadable."""


def make_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _file_dict(file: InboxFile) -> dict:
    data = asdict(file)
    data["path"] = str(file.path)
    return data


def _file_from(data: dict) -> InboxFile:
    return InboxFile(**{**data, "path": Path(data["path"])})


def _sheet_table(rows: SheetRows, dataset: DatasetSpec) -> pa.Table:
    types = {name: _ARROW_TYPES[sql] for name, sql in raw_columns(dataset)}
    arrays = {c: pa.array(v, type=types[c]) for c, v in rows.columns.items()}
    arrays[ROW_NUMBER] = pa.array(rows.row_numbers, type=pa.int32())
    return pa.table(arrays)


def write_outcome(
    folder: Path, index: int, outcome: FileOutcome, registry: dict[str, DatasetSpec]
) -> None:
    """Stage one file's parse result: the Arrow files first, the account last (it marks done)."""
    sheets = []
    for i, rows in enumerate(outcome.sheets):
        name = f"{index}.{i}.arrow"
        sink = pa.BufferOutputStream()
        table = _sheet_table(rows, registry[rows.dataset])
        with ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        _atomic_write_bytes(folder / name, sink.getvalue().to_pybytes())
        sheets.append(
            {
                "dataset": rows.dataset,
                "sheet_name": rows.sheet_name,
                "rows": name,
                "quarantined": [asdict(q) for q in rows.quarantined],
                "skipped": dict(rows.skipped),
            }
        )
    account = {
        "file": _file_dict(outcome.file),
        "status": outcome.status,
        "sheets": sheets,
        "unmatched": [list(u) for u in outcome.unmatched],
        "problem": list(outcome.problem) if outcome.problem else None,
        "detail": outcome.detail,
        "skipped_rows": dict(outcome.skipped_rows),
        "has_macros": outcome.has_macros,
    }
    text = json.dumps(account, ensure_ascii=False)
    _atomic_write_bytes(folder / f"{index}.json", text.encode("utf-8"))


def write_skipped(folder: Path, index: int, skipped: SkippedPath) -> None:
    """A planned file that was no longer there (or no longer a file) when its task ran."""
    text = json.dumps({"skipped": asdict(skipped)}, ensure_ascii=False)
    _atomic_write_bytes(folder / f"{index}.json", text.encode("utf-8"))


def read_outcome(folder: Path, index: int, rel: str) -> FileOutcome | SkippedPath:
    path = folder / f"{index}.json"
    if not path.exists():
        raise StagingError(
            f"no parse result for {rel} ({path}): its parse task did not finish; "
            "rerun the failed parse task (or the run)"
        )
    account = json.loads(path.read_text(encoding="utf-8"))
    if "skipped" in account:
        return SkippedPath(**account["skipped"])
    sheets = []
    for s in account["sheets"]:
        with pa.memory_map(str(folder / s["rows"])) as source:
            table = ipc.open_file(source).read_all()
        # the rows stay Arrow arrays (typed as the raw table's columns): the loader inserts them
        # as they are, without a round trip through Python objects
        columns = {
            c: table.column(c).combine_chunks() for c in table.column_names if c != ROW_NUMBER
        }
        sheets.append(
            SheetRows(  # columns: lists from a parse, Arrow arrays from staging; load takes both
                dataset=s["dataset"],
                sheet_name=s["sheet_name"],
                columns=columns,
                row_numbers=table.column(ROW_NUMBER).to_pylist(),
                quarantined=[QuarantinedRow(**q) for q in s["quarantined"]],
                skipped=Counter(s["skipped"]),
            )
        )
    return FileOutcome(
        file=_file_from(account["file"]),
        status=account["status"],
        sheets=sheets,
        unmatched=[tuple(u) for u in account["unmatched"]],
        problem=tuple(account["problem"]) if account["problem"] else None,
        detail=account.get("detail"),
        skipped_rows=Counter(account["skipped_rows"]),
        has_macros=account["has_macros"],
    )


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
