"""A dry run of the night's reading of one landed file: the same sandboxed parse, header match,
validation and sender screening the loader does, with nothing written to the warehouse.

It answers what a sender needs on the spot (the receipt, and the portal later): for each sheet
the dataset recognised, the rows that would load, the rows returned with row number, column and
why; sheets no dataset matched; and a file that cannot be read at all, with the reason. Every
text that comes from the file is masked (IDs, phone numbers) before it leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ingest.discover import InboxFile, SkippedPath, describe
from ingest.pii import mask_text
from ingest.registry import load_registry
from ingest.sandbox import Sandbox, SandboxLimits
from outreach.settings import Settings


@dataclass(frozen=True)
class Returned:
    sheet: str
    dataset: str
    rule: str
    row_number: int
    column: str
    problem: str
    original: str  # the row's cells as JSON (header -> text), for the 退回清单


@dataclass
class SheetCheck:
    sheet: str
    dataset: str
    dataset_name: str
    rows_ok: int
    rows_returned: int


@dataclass
class FileCheck:
    rel: str  # under the inbox
    readable: bool
    problem: str | None = None  # why the whole file cannot be read (Chinese)
    problem_rule: str | None = None
    sheets: list[SheetCheck] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (sheet, header JSON)
    returned: list[Returned] = field(default_factory=list)

    @property
    def rows_ok(self) -> int:
        return sum(s.rows_ok for s in self.sheets)

    @property
    def rows_returned(self) -> int:
        return sum(s.rows_returned for s in self.sheets)


def _header(registry, dataset: str, column: str | None) -> str:
    """The column as the template heads it (走访日期), not its name in the warehouse."""
    if not column:
        return ""
    try:
        return registry[dataset].column(column).header
    except KeyError:
        return column


def _check(outcome, names: dict[str, str], registry) -> FileCheck:
    rel = outcome.file.rel
    if outcome.status == "quarantined" and outcome.problem:
        rule, message = outcome.problem
        return FileCheck(rel, False, mask_text(message), rule)
    check = FileCheck(rel, True)
    for sheet in outcome.sheets:
        check.sheets.append(
            SheetCheck(
                mask_text(sheet.sheet_name),
                sheet.dataset,
                names.get(sheet.dataset, sheet.dataset),
                len(sheet.row_numbers),
                len(sheet.quarantined),
            )
        )
        check.returned.extend(
            Returned(
                mask_text(sheet.sheet_name),
                sheet.dataset,
                q.rule_id,
                q.row_number,
                mask_text(_header(registry, sheet.dataset, q.column_name)),
                mask_text(q.message),
                q.original,
            )
            for q in sheet.quarantined
        )
    check.unmatched = [(mask_text(s), h) for s, h in outcome.unmatched]
    return check


def dry_run(settings: Settings, rels: list[str], root: Path | None = None) -> dict[str, FileCheck]:
    """The checks of the files ``rels`` (paths under the inbox, or under ``root``, laid out as
    the inbox is: ``<provider>/<unit>/<name>``, so the sender is screened the same way), parsed
    in the sandbox."""
    registry = load_registry()
    names = {key: spec.title for key, spec in registry.items()}
    inbox = (root or settings.inbox).resolve()
    files: list[InboxFile] = []
    out: dict[str, FileCheck] = {}
    for rel in rels:
        found = describe(inbox, inbox / rel)
        if isinstance(found, SkippedPath):
            out[rel] = FileCheck(rel, False, f"文件无法读取（{found.reason}）", found.reason)
        else:
            files.append(found)
    if files:
        limits = SandboxLimits(raise_bugs=settings.raise_parser_bugs)
        with Sandbox(Path(settings.gazetteer), settings.tz, limits) as sandbox:
            for outcome in sandbox.parse(files):
                out[outcome.file.rel] = _check(outcome, names, registry)
    return out
