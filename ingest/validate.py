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

from ingest import normalise as n
from ingest.header import HeaderMatch, header_names_of
from ingest.places import Gazetteer, canonical_village
from ingest.read import Sheet
from ingest.registry import ColumnSpec, DatasetSpec
from ingest.text import cell_text, compact

EARLIEST_DATE = dt.date(2012, 1, 1)
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
    columns: dict[str, list] = field(default_factory=dict)
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
        return canonical_village(str(value)), None
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


def validate_sheet(
    sheet: Sheet,
    match: HeaderMatch,
    dataset: DatasetSpec,
    gazetteer: Gazetteer,
    arrived_on: dt.date,
) -> SheetRows:
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
                            f"“{spec.header}”{value.isoformat()} 不在 2012-01-01 至报送日 {arrived_on.isoformat()} 之间",
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
