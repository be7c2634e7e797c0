"""What a resent file changed: rows added, removed and changed against the version before it,
each shown by the row's natural key (the contract's ``natural_key`` of its dataset).

Both versions are read the way the night reads them (the sandboxed parse, header match and
validation: ``ingest.sandbox``), from the bytes intake keeps of every landed version
(``outreach.intake.land.version_path``), laid out under the unit's folder of a private temporary
inbox so that the sender is screened as in the night. Only the rows that would load are compared
(a returned row is in the 退回清单, not in the warehouse). Values are masked (IDs, phone numbers)
and a column holding personal data shows only that it changed.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ingest.discover import SkippedPath, describe
from ingest.pii import mask_text
from ingest.registry import load_registry
from ingest.sandbox import Sandbox, SandboxLimits
from outreach.settings import Settings

PERSONAL = "（个人信息，已更改）"


@dataclass(frozen=True)
class RowChange:
    dataset: str  # the dataset's Chinese title
    key: str  # 户编号=H0001；走访日期=2014-01-06
    # (column header, before, after) of each changed column; empty for an added or removed row
    columns: tuple[tuple[str, str, str], ...] = ()


@dataclass
class ResendDiff:
    added: list[RowChange] = field(default_factory=list)
    removed: list[RowChange] = field(default_factory=list)
    changed: list[RowChange] = field(default_factory=list)
    unchanged: int = 0
    problem: str | None = None  # a version that could not be read (Chinese)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return mask_text(str(value))


def _rows(outcome, registry) -> tuple[dict[tuple[str, tuple], dict], str | None]:
    """(dataset, natural key) -> the row's values by column, of the rows that would load."""
    if outcome.status == "quarantined" and outcome.problem:
        return {}, mask_text(outcome.problem[1])
    rows: dict[tuple[str, tuple], dict] = {}
    for sheet in outcome.sheets:
        spec = registry[sheet.dataset]
        names = [c.name for c in spec.columns if c.name in sheet.columns]
        for i in range(len(sheet.row_numbers)):
            row = {name: sheet.columns[name][i] for name in names}
            key = tuple(row.get(k) for k in spec.natural_key)
            rows[(sheet.dataset, key)] = row  # a key twice: the later row, as the loader keeps
    return rows, None


def _key_text(spec, key: tuple) -> str:
    return "；".join(
        f"{spec.column(name).header}={_text(value)}"
        for name, value in zip(spec.natural_key, key, strict=True)
    )


def compare(before: dict, after: dict, registry) -> ResendDiff:
    diff = ResendDiff()
    for dataset, key in sorted(after.keys() - before.keys(), key=str):
        spec = registry[dataset]
        diff.added.append(RowChange(spec.title, _key_text(spec, key)))
    for dataset, key in sorted(before.keys() - after.keys(), key=str):
        spec = registry[dataset]
        diff.removed.append(RowChange(spec.title, _key_text(spec, key)))
    for dataset, key in sorted(before.keys() & after.keys(), key=str):
        spec = registry[dataset]
        old, new = before[(dataset, key)], after[(dataset, key)]
        columns = []
        for col in spec.columns:
            a, b = old.get(col.name), new.get(col.name)
            if a == b or (a is None and b is None):
                continue
            if col.pii:
                columns.append((col.header, PERSONAL, PERSONAL))
            else:
                columns.append((col.header, _text(a), _text(b)))
        if columns:
            diff.changed.append(RowChange(spec.title, _key_text(spec, key), tuple(columns)))
        else:
            diff.unchanged += 1
    return diff


def diff_versions(settings: Settings, rel: str, before: Path, after: Path) -> ResendDiff:
    """The rows of ``after`` (the resent version) against ``before``; ``rel``: the file's path
    under the inbox (``townships/保城镇/走访.xlsx``)."""
    registry = load_registry()
    work = Path(tempfile.mkdtemp(prefix="outreach-resend-"))
    try:
        files = {}
        for label, source in (("before", before), ("after", after)):
            root = (work / label).resolve()
            target = root / rel
            target.parent.mkdir(parents=True)
            shutil.copyfile(source, target)
            found = describe(root, target)
            if isinstance(found, SkippedPath):
                return ResendDiff(problem=f"文件无法读取（{found.reason}）")
            files[label] = found
        label_of = {found.path: label for label, found in files.items()}
        outcomes = {}
        limits = SandboxLimits(raise_bugs=settings.raise_parser_bugs)
        with Sandbox(Path(settings.gazetteer), settings.tz, limits) as sandbox:
            for outcome in sandbox.parse(list(files.values())):
                outcomes[label_of[outcome.file.path]] = outcome
        old, old_problem = _rows(outcomes["before"], registry)
        new, new_problem = _rows(outcomes["after"], registry)
        if new_problem:
            return ResendDiff(problem=f"本次版本无法读取：{new_problem}")
        diff = compare(old, new, registry)
        if old_problem:
            diff.problem = f"上一版本无法读取（{old_problem}），本次所有行都算作新增"
        return diff
    finally:
        shutil.rmtree(work, ignore_errors=True)
