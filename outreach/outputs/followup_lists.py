"""Follow-up lists for the townships: one Chinese workbook per township with missed visits.

Reads ``marts.dq_missing_quarterly_visits`` of the build file (read-only) and writes
``待走访清单_<乡镇>.xlsx`` for every township with at least one pairing-quarter owed a visit and
not met: a title, one row per missed pairing-quarter (sorted by cadre, quarter, household), a
count and what the township is asked to do. A township with nothing missed gets no workbook.

No personal data leaves this module: the household appears only by its code and the masked head
ID (the mart's ``head_name`` is never read), and every string written goes through
:func:`ingest.pii.mask_text` as a second line of defence.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.pii import mask_text
from outreach.outputs.workbook import HEADER, safe_workbook

FILE_PREFIX = "待走访清单_"
UNKNOWN_TOWNSHIP = "未知乡镇"
DEADLINE_LINE = "请于收到清单后10个工作日内完成补访并报送走访记录。"

HEADERS = [
    "序号",
    "帮扶干部编号",
    "帮扶干部",
    "工作单位",
    "村委会",
    "户编号",
    "户主身份证号（已脱敏）",
    "应走访季度",
    "结对日期",
    "结对结束日期",
    "最近一次走访日期",
    "备注",
]
WIDTHS = [6, 14, 10, 28, 16, 12, 22, 16, 12, 14, 18, 36]
DATE_COLUMNS = {8, 9, 10}

# Only the columns the list shows: head_name is deliberately not selected.
_QUERY = """
    select
        township_name,
        cadre_code,
        cadre_name,
        unit,
        village_name,
        household_code,
        head_id_number_mask,
        quarter,
        pair_start,
        pair_end,
        last_visit_date
    from marts.dq_missing_quarterly_visits
    order by
        cadre_code nulls last,
        quarter nulls last,
        household_code nulls last,
        pair_start nulls last,
        pairing_quarter_id
"""


@dataclass(frozen=True)
class _Missed:
    township: str
    cadre_code: str
    cadre_name: str
    unit: str
    village: str
    household_code: str
    head_mask: str
    quarter: str
    pair_start: dt.date | None
    pair_end: dt.date | None
    last_visit: dt.date | None


def _text(value: object) -> str:
    return mask_text(str(value).strip()) if value is not None else ""


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def safe_township(name: object) -> str:
    """A township name fit for a file name: no path separators, no characters Windows refuses,
    no control characters or leading dots. Empty or the dimension's "unknown" member: 未知乡镇."""
    text = unicodedata.normalize("NFKC", str(name or "")).strip()
    text = re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]+', "_", text).strip(" ._")
    if not text or text in ("未知", "-1"):
        return UNKNOWN_TOWNSHIP
    return text[:40]


def followup_name(township: str) -> str:
    """``待走访清单_什玲镇.xlsx``."""
    return f"{FILE_PREFIX}{safe_township(township)}.xlsx"


def quarter_label(quarter: str) -> str:
    """``2014Q1`` -> ``2014年第1季度``; anything else is shown as it is."""
    m = re.fullmatch(r"(\d{4})Q([1-4])", quarter or "")
    return f"{m.group(1)}年第{m.group(2)}季度" if m else quarter


def _date_label(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _read(build_db: Path) -> list[_Missed] | None:
    """The missed pairing-quarters in list order; None when the build file has no such mart."""
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        try:
            rows = con.execute(_QUERY).fetchall()
        except duckdb.CatalogException:  # a build that never got as far as the marts
            return None
    finally:
        con.close()
    return [
        _Missed(
            township=safe_township(township),
            cadre_code=_text(cadre_code),
            cadre_name=_text(cadre_name),
            unit=_text(unit),
            village=_text(village),
            household_code=_text(household_code),
            head_mask=_text(head_mask),
            quarter=_text(quarter),
            pair_start=_date(pair_start),
            pair_end=_date(pair_end),
            last_visit=_date(last_visit),
        )
        for (
            township,
            cadre_code,
            cadre_name,
            unit,
            village,
            household_code,
            head_mask,
            quarter,
            pair_start,
            pair_end,
            last_visit,
        ) in rows
    ]


def _note(row: _Missed, as_of: dt.date) -> str:
    notes = []
    if row.last_visit is None:
        notes.append("截至该季度末从未走访")
    if row.pair_end is not None and row.pair_end <= as_of:
        notes.append("结对已结束，请补报或说明情况")
    if row.township == UNKNOWN_TOWNSHIP:
        notes.append("户编号不在农户名册中，请核对")
    return "；".join(notes)


def _write_workbook(
    path: Path, county: str, township: str, as_of: dt.date, rows: list[_Missed]
) -> None:
    # text comes from the partners' sheets: safe_workbook keeps it text
    with safe_workbook(path) as workbook:
        ws = workbook.add_worksheet("待走访清单")
        title_fmt = workbook.add_format(
            {"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"}
        )
        header_fmt = workbook.add_format(HEADER)
        cell_fmt = workbook.add_format({"border": 1, "valign": "top", "text_wrap": True})
        number_fmt = workbook.add_format({"border": 1, "valign": "top", "align": "center"})
        date_fmt = workbook.add_format(
            {"border": 1, "valign": "top", "num_format": "yyyy-mm-dd", "align": "center"}
        )
        footer_fmt = workbook.add_format({"bold": True})

        last_col = len(HEADERS) - 1
        title = f"{county}{township}结对帮扶季度走访未完成清单（截至{_date_label(as_of)}）"
        ws.merge_range(0, 0, 0, last_col, title, title_fmt)
        ws.set_row(0, 30)
        for c, header in enumerate(HEADERS):
            ws.write_string(1, c, header, header_fmt)
            ws.set_column(c, c, WIDTHS[c])

        for i, row in enumerate(rows, start=1):
            r = i + 1
            values: list[object] = [
                i,
                row.cadre_code,
                row.cadre_name,
                row.unit,
                row.village,
                row.household_code,
                row.head_mask,
                quarter_label(row.quarter),
                row.pair_start,
                row.pair_end,
                row.last_visit,
                _note(row, as_of),
            ]
            for c, value in enumerate(values):
                if c == 0:
                    ws.write_number(r, c, value, number_fmt)
                elif c in DATE_COLUMNS:
                    if value is None:
                        ws.write_blank(r, c, None, date_fmt)
                    else:
                        ws.write_datetime(r, c, value, date_fmt)
                else:
                    ws.write_string(r, c, str(value), cell_fmt)

        last_row = len(rows) + 1
        cadres = len({r.cadre_code for r in rows})
        households = len({r.household_code for r in rows})
        ws.write_string(
            last_row + 2,
            0,
            f"合计：共 {len(rows)} 条未完成走访（涉及帮扶干部 {cadres} 名、困难户 {households} 户）。",
            footer_fmt,
        )
        ws.write_string(last_row + 3, 0, DEADLINE_LINE, footer_fmt)
        ws.write_string(
            last_row + 4,
            0,
            "说明：为保护个人信息，户主姓名已隐去，身份证号已脱敏，请按户编号核对。",
        )

        ws.freeze_panes(2, 0)
        ws.autofilter(1, 0, last_row, last_col)
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.repeat_rows(1)
        ws.fit_to_pages(1, 0)


def _county_short_name(gazetteer: Path | None) -> str:
    from ingest.places import load_gazetteer

    if gazetteer is None:
        from outreach.settings import load_settings

        gazetteer = load_settings().gazetteer
    return load_gazetteer(Path(gazetteer)).county_short_name


def write_followups(
    build_db: Path,
    report_dir: Path,
    as_of: dt.date,
    *,
    county: str | None = None,
    gazetteer: Path | None = None,
) -> list[Path]:
    """Write one ``待走访清单_<乡镇>.xlsx`` per township with missed quarterly visits.

    Stale lists in ``report_dir`` (an earlier attempt of the same run) are removed first, so a
    township that caught up gets none. No build file, or no mart in it: nothing is written.
    ``county`` names the county in the titles (default: the gazetteer's short name, 保亭县).
    Returns the paths written, sorted.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    for stale in report_dir.glob(f"{FILE_PREFIX}*.xlsx"):
        stale.unlink()
    for stale in report_dir.glob(f".{FILE_PREFIX}*.xlsx.tmp"):
        stale.unlink()

    rows = _read(build_db) if build_db.exists() else None
    if not rows:
        return []
    county = county if county is not None else _county_short_name(gazetteer)

    by_township: dict[str, list[_Missed]] = {}
    for row in rows:  # already in list order; grouping keeps it
        by_township.setdefault(row.township, []).append(row)

    written = []
    for township, township_rows in by_township.items():
        path = report_dir / followup_name(township)
        _write_workbook(path, county, township, as_of, township_rows)
        written.append(path)
    return sorted(written)
