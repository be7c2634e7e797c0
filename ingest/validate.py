"""Turn a recognised sheet into typed rows: skip what is not data, normalise, validate.

Every row below the header ends in exactly one of three places, and is counted there:
- skipped, with a reason, when it is not data (blank, 合计/小计/总计, a footer such as 填表人：);
- loaded, with every cell normalised to its contract type;
- quarantined, with the rule it breaks, a message in Chinese and its original cells.
Validation returns this account; it never raises on bad data.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ingest import normalise as n
from ingest.header import HeaderMatch, header_names_of
from ingest.places import Gazetteer, canonical_village
from ingest.read import Sheet
from ingest.registry import ColumnSpec, DatasetSpec
from ingest.text import cell_text, compact
from outreach.settings import PROGRAMME_START

if TYPE_CHECKING:  # the workers never import pyarrow: only staged accounts hold Arrow arrays
    import pyarrow as pa

EARLIEST_DATE = PROGRAMME_START
DITTO = "同上"
_TOTAL_MARKS = ("合计", "小计", "总计", "累计")
# Footers, and the 填写说明 notes row under the header of our own templates (outreach templates).
_FOOTER_MARKS = (
    "填写说明",
    "填表人",
    "审核人",
    "注:",
    "注：",
    "制表人",
    "填报人",
    "制表",
    "填报日期",
    "负责人",
    "说明:",
    "说明：",
)


@dataclass(frozen=True)
class QuarantinedRow:
    row_number: int  # 1-based, as the sender sees it
    rule_id: str
    column_name: str | None
    message: str
    original: str  # JSON object header -> original cell text


@dataclass
class SheetRows:
    dataset: str
    sheet_name: str
    # column -> values of the loaded rows: lists from validation, Arrow arrays when read back
    # from staging (see staging.py)
    columns: dict[str, list | pa.Array] = field(default_factory=dict)
    row_numbers: list[int] = field(default_factory=list)
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)

    @property
    def data_rows(self) -> int:
        return len(self.row_numbers) + len(self.quarantined)


def _row_kind(cells: list) -> str | None:
    texts = [compact(cell_text(v)) for v in cells if not n.is_blank(v)]
    if not texts:
        return "blank"
    first = texts[0]
    if any(t.startswith(_TOTAL_MARKS) for t in texts[:3]) or first in ("合", "计"):
        return "total"
    if first.startswith(_FOOTER_MARKS):
        return "footer"
    return None


def _convert(spec: ColumnSpec, value, unit, gazetteer: Gazetteer):
    t = spec.type
    if t == "text":
        return n.to_text(value)
    if t == "longtext":
        return n.to_longtext(value)
    if t == "date":
        return n.to_date(value)
    if t == "money":
        return n.to_money(value, unit)
    if t == "int":
        return n.to_int(value)
    if t == "decimal":
        return n.to_decimal(value)
    if t == "bool":
        return n.to_bool(value)
    if t == "enum":
        return n.to_enum(value, spec.enum_lookup(), spec.values)
    if t == "resident_id":
        return n.to_resident_id(value)
    if t == "phone":
        return n.to_phone(value)
    if t == "credit_code":
        return n.to_credit_code(value)
    if t == "place_township":
        township, problem = gazetteer.match_township(value)
        return (township, problem)
    if t == "place_village":
        village = canonical_village(str(value))
        problem = n.personal_number_in(village)
        return (None, problem) if problem else (village, None)
    raise AssertionError(f"unhandled column type {t}")  # a registry bug, not bad data


def _original(names: list[str], cells: list) -> str:
    out = {}
    for idx, name in enumerate(names):
        value = cells[idx] if idx < len(cells) else None
        if value is None:
            continue
        key = name or f"第{idx + 1}列"
        out[key] = value.isoformat() if isinstance(value, dt.date | dt.datetime) else value
    return json.dumps(out, ensure_ascii=False, default=str)


def validate_sheet_reference(
    sheet: Sheet,
    match: HeaderMatch,
    dataset: DatasetSpec,
    gazetteer: Gazetteer,
    arrived_on: dt.date,
) -> SheetRows:
    """The row-by-row definition of validation, one cell at a time: what ``validate_sheet``
    must give, exactly. Kept for the tests that hold the fast path to it."""
    out = SheetRows(dataset=dataset.name, sheet_name=sheet.name)
    header_names = header_names_of(sheet, match)
    for spec in dataset.columns:
        out.columns[spec.name] = []
        if spec.type == "place_township":
            out.columns["township_code"] = []
    mapped = {spec.name: (idx, spec, unit) for idx, spec, unit in match.columns}
    previous: dict[str, object] = {}
    for r in range(match.data_start, len(sheet.rows)):
        cells = sheet.rows[r]
        kind = _row_kind(cells)
        if kind is not None:
            out.skipped[kind] += 1
            continue
        row_number = r + 1
        values: dict[str, object] = {}
        problems: list[tuple[str, n.Problem]] = []
        raw_now: dict[str, object] = {}
        for name, (idx, spec, unit) in mapped.items():
            raw = cells[idx] if idx < len(cells) else None
            if isinstance(raw, str) and compact(raw) == DITTO:
                if name not in previous:
                    problems.append(
                        (
                            name,
                            n.Problem(
                                "ditto_without_above",
                                f"“{spec.header}”填了“同上”，但上面没有可沿用的值",
                            ),
                        )
                    )
                    continue
                raw = previous[name]
            raw_now[name] = raw
            if n.is_blank(raw):
                values[name] = None
                continue
            value, problem = _convert(spec, raw, unit or match.sheet_unit, gazetteer)
            if problem is not None:
                problems.append((name, problem))
            values[name] = value
        previous = {k: v for k, v in raw_now.items() if not n.is_blank(v)}
        for spec in dataset.required:
            if values.get(spec.name) is None and not any(p[0] == spec.name for p in problems):
                problems.append(
                    (spec.name, n.Problem("required_missing", f"必填项“{spec.header}”为空"))
                )
        for name, value in values.items():
            spec = mapped[name][1]
            if (
                spec.type == "date"
                and value is not None
                and not (EARLIEST_DATE <= value <= arrived_on)
            ):
                problems.append(
                    (
                        name,
                        n.Problem(
                            "date_out_of_range",
                            f"“{spec.header}”{value.isoformat()} 不在 {EARLIEST_DATE.isoformat()} 至报送日 {arrived_on.isoformat()} 之间",
                        ),
                    )
                )
        if problems:
            column, first = problems[0]
            message = "；".join(p.message for _, p in problems)
            out.quarantined.append(
                QuarantinedRow(
                    row_number, first.rule_id, column, message, _original(header_names, cells)
                )
            )
            continue
        out.row_numbers.append(row_number)
        for spec in dataset.columns:
            value = values.get(spec.name)
            if spec.type == "place_township":
                out.columns[spec.name].append(value.name if value else None)
                out.columns["township_code"].append(value.code if value else None)
            else:
                out.columns[spec.name].append(value)
    return out


# ---------------------------------------------------------------------------- the fast path
#
# ``validate_sheet`` gives exactly what ``validate_sheet_reference`` gives (tests hold it to that
# on the demo inbox, on every spelling the normalisers accept and on random sheets), but works a
# column at a time: a cell's outcome (its value, its problem, whether it is 同上 or blank, its
# date-range problem) depends only on the cell's value and its column, so each distinct value of
# a column is normalised once, by the same per-cell functions, and every other cell with that
# value reuses the outcome. Only what depends on neighbours is sequential: 同上 takes the cell
# above, and a row's problems are gathered, in the reference's order, only for rows that have one.

_BLANK = object()  # outcome of a blank cell
_DITTO = object()  # outcome of a 同上 cell


# Cells whose text (``cell_text``) is ASCII digits, signs, dots, 'e', 'True'…: it never starts with a
# total or footer mark, so ``_row_kind`` needs only their place among the first three cells.
_ASCII_TEXT_TYPES = frozenset({int, float, bool, dt.date, dt.datetime, dt.time, dt.timedelta})


def _row_kind_fast(cells: list) -> str | None:
    """``_row_kind``, reading only the first three non-blank cells (all it ever looks at)."""
    texts: list[str] = []
    for v in cells:
        if v is None:
            continue
        if type(v) in _ASCII_TEXT_TYPES:
            texts.append("")
        elif isinstance(v, str) and v.strip() in ("", "\u3000"):
            continue
        else:
            texts.append(compact(cell_text(v)))
        if len(texts) == 3:
            break
    if not texts:
        return "blank"
    first = texts[0]
    if any(t.startswith(_TOTAL_MARKS) for t in texts) or first in ("合", "计"):
        return "total"
    if first.startswith(_FOOTER_MARKS):
        return "footer"
    return None


def _outcome_of(spec: ColumnSpec, unit, gazetteer: Gazetteer):
    """The per-cell outcome function of one column: _DITTO, _BLANK, or (value, problem),
    computed by the reference's own functions."""

    def outcome(raw):
        if isinstance(raw, str) and compact(raw) == DITTO:
            return _DITTO
        if n.is_blank(raw):
            return _BLANK
        return _convert(spec, raw, unit, gazetteer)

    return outcome


def _memo_key(raw):
    """A dictionary key that tells apart what Python calls equal but the normalisers do not:
    1, 1.0 and True; 0.0 and -0.0 (their messages differ), a str and a str subclass."""
    t = type(raw)
    if t is str:
        return raw
    if t is float and raw == 0.0:
        return (t, raw, str(raw))
    return (t, raw)


# Outcomes are kept across the sheets and files a worker parses (the same names, dates and places
# recur in every quarter's sheet), per column spec and unit; all are dropped past a bound so that
# a worker's memory stays flat whatever it reads.
_MEMOS: dict[tuple, dict] = {}
_MEMO_CELLS = 400_000


def _memo_for(spec: ColumnSpec, unit, gazetteer: Gazetteer) -> dict:
    key = (spec, unit, gazetteer if spec.type == "place_township" else None)
    memo = _MEMOS.get(key)
    if memo is None:
        if sum(map(len, _MEMOS.values())) > _MEMO_CELLS:
            _MEMOS.clear()
        memo = _MEMOS[key] = {}
    return memo


def _column_outcomes(
    cells: list, spec: ColumnSpec, unit, gazetteer: Gazetteer, arrived_on: dt.date
):
    """Every cell of a column resolved: values (None where blank or bad), problems by row
    position (同上 and conversion), dates out of range by row position."""
    outcome = _outcome_of(spec, unit, gazetteer)
    memo = _memo_for(spec, unit, gazetteer)
    if len(memo) > _MEMO_CELLS:
        memo.clear()
    ditto_problem = n.Problem(
        "ditto_without_above", f"“{spec.header}”填了“同上”，但上面没有可沿用的值"
    )
    is_date = spec.type == "date"
    values: list = [None] * len(cells)
    problems: dict[int, n.Problem] = {}
    late: dict[int, n.Problem] = {}
    above = _BLANK  # outcome of the cell above after 同上 is resolved; _BLANK when there is none
    for i, raw in enumerate(cells):
        if raw is None:
            above = _BLANK
            continue
        key = raw if type(raw) is str else _memo_key(raw)  # most cells are text: no call
        try:
            got = memo.get(key)
            if got is None:
                got = memo[key] = outcome(raw)
        except TypeError:  # an unhashable cell (never from a reader): no memo for it
            got = outcome(raw)
        if got is _DITTO:
            if above is _BLANK:
                problems[i] = ditto_problem
                continue  # the reference keeps no value for this cell: the next 同上 has none
            got = above
        if got is _BLANK:
            above = _BLANK
            continue
        above = got
        value, problem = got
        if problem is not None:
            problems[i] = problem
        else:
            values[i] = value
            if is_date and value is not None and not (EARLIEST_DATE <= value <= arrived_on):
                late[i] = n.Problem(
                    "date_out_of_range",
                    f"“{spec.header}”{value.isoformat()} 不在 {EARLIEST_DATE.isoformat()} 至报送日 {arrived_on.isoformat()} 之间",
                )
    return values, problems, late


def validate_sheet(
    sheet: Sheet,
    match: HeaderMatch,
    dataset: DatasetSpec,
    gazetteer: Gazetteer,
    arrived_on: dt.date,
) -> SheetRows:
    """Skip what is not data, normalise and validate every row: the account of the sheet."""
    out = SheetRows(dataset=dataset.name, sheet_name=sheet.name)
    for spec in dataset.columns:
        out.columns[spec.name] = []
        if spec.type == "place_township":
            out.columns["township_code"] = []
    rows = sheet.rows
    data_rows: list[list] = []
    data_index: list[int] = []
    for r in range(match.data_start, len(rows)):
        kind = _row_kind_fast(rows[r])
        if kind is None:
            data_rows.append(rows[r])
            data_index.append(r)
        else:
            out.skipped[kind] += 1
    if not data_rows:
        return out

    mapped = {spec.name: (idx, spec, unit) for idx, spec, unit in match.columns}
    widest = max(idx for idx, _, _ in mapped.values())
    rectangular = min(map(len, data_rows)) > widest
    resolved: dict[str, tuple[list, dict, dict]] = {}
    for name, (idx, spec, unit) in mapped.items():
        if rectangular:
            cells = [row[idx] for row in data_rows]
        else:
            cells = [row[idx] if idx < len(row) else None for row in data_rows]
        resolved[name] = _column_outcomes(
            cells, spec, unit or match.sheet_unit, gazetteer, arrived_on
        )

    # rows with a problem: a bad cell, a late date, or a required column left empty
    bad: set[int] = set()
    for _, problems, late in resolved.values():
        bad.update(problems)
        bad.update(late)
    required = [(spec, resolved[spec.name]) for spec in dataset.required if spec.name in resolved]
    for _, (values, problems, _) in required:
        bad.update(i for i, v in enumerate(values) if v is None and i not in problems)

    if bad:
        header_names = header_names_of(sheet, match)
        for i in sorted(bad):
            found: list[tuple[str, n.Problem]] = []
            for name, (_, problems, _) in resolved.items():
                if i in problems:
                    found.append((name, problems[i]))
            for spec, (values, problems, _) in required:
                if values[i] is None and i not in problems:
                    found.append(
                        (spec.name, n.Problem("required_missing", f"必填项“{spec.header}”为空"))
                    )
            for name, (_, _, late) in resolved.items():
                if i in late:
                    found.append((name, late[i]))
            column, first = found[0]
            out.quarantined.append(
                QuarantinedRow(
                    data_index[i] + 1,
                    first.rule_id,
                    column,
                    "；".join(p.message for _, p in found),
                    _original(header_names, data_rows[i]),
                )
            )

    keep = [i for i in range(len(data_rows)) if i not in bad] if bad else range(len(data_rows))
    out.row_numbers = [data_index[i] + 1 for i in keep]
    for spec in dataset.columns:
        if spec.name not in resolved:
            out.columns[spec.name] = [None] * len(out.row_numbers)
            if spec.type == "place_township":
                out.columns["township_code"] = [None] * len(out.row_numbers)
            continue
        values = resolved[spec.name][0]
        kept = values if not bad else [values[i] for i in keep]
        if spec.type == "place_township":
            out.columns[spec.name] = [t.name if t else None for t in kept]
            out.columns["township_code"] = [t.code if t else None for t in kept]
        else:
            out.columns[spec.name] = list(kept)
    return out


def refuse_rows(
    rows: SheetRows,
    sheet: Sheet,
    match: HeaderMatch,
    refused: dict[int, tuple[str, str | None, str]],
) -> SheetRows:
    """The account with the loaded rows ``refused`` names (row number -> rule, column, message)
    moved to its quarantined rows, with their original cells, in row order."""
    if not refused:
        return rows
    header_names = header_names_of(sheet, match)
    loaded = set(rows.row_numbers)
    keep = [i for i, r in enumerate(rows.row_numbers) if r not in refused]
    moved = [
        QuarantinedRow(r, rule, column, message, _original(header_names, sheet.rows[r - 1]))
        for r, (rule, column, message) in refused.items()
        if r in loaded
    ]
    return SheetRows(
        dataset=rows.dataset,
        sheet_name=rows.sheet_name,
        columns={c: [v[i] for i in keep] for c, v in rows.columns.items()},
        row_numbers=[rows.row_numbers[i] for i in keep],
        quarantined=sorted([*rows.quarantined, *moved], key=lambda q: q.row_number),
        skipped=rows.skipped,
    )
