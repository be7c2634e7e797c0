"""The programme's calendar (docs/RULES.md, "The programme's calendar"): what is due on a day,
and the plans made for it from the published warehouse, before the deadline.

- 本周拉家常安排 (``talk_plan``): every Monday, for the Tuesday talks (拉家常活动日): the cadres
  still owed a talk this year, by the leader who must hold it (``marts.rpt_talk_plan``).
- 一月一议议题清单 (``meeting_pack``): on the Monday of the week of each month's last Friday
  (the meeting): the matters on its agenda (``marts.rpt_meeting_agenda``).
- 本季度走访提醒 (``visit_reminders``): 15 days before a quarter ends, then every Monday until it
  ends: for each township, the pairings not visited yet this quarter
  (``marts.rpt_visit_reminders``), one workbook per township.

The plans of day D are read from the warehouse published as of D - 1 (the night of D reports on
the day before): the current file or ``published/history/<D - 1>.duckdb``; the build file is never
opened. Workbooks go to ``reports/calendar/<D>/``, in Chinese, with masks only (the household by
its code and masked ID; cadres are officials, named as published).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.pii import mask_text
from outreach.outputs.calendar_dates import (
    KINDS,
    MEETING_PACK,
    TALK_DAY,
    TALK_PLAN,
    VISIT_REMINDERS,
    due,
)
from outreach.outputs.followup_lists import HEADERS, quarter_label, safe_township
from outreach.outputs.quarterly_report import ExportError, source_for
from outreach.outputs.workbook import HEADER, safe_workbook
from outreach.settings import Settings


class CalendarError(RuntimeError):
    """The day's plans cannot be made (no warehouse of the day before, an unknown kind)."""


# --- the plans ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    kind: str
    path: Path
    township: str | None  # a township's visit reminder; None: the department's
    rows: int


def _rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _write(
    path: Path, title: str, sheets: list[tuple[str, list[str], list[list]]], notes: list[str]
) -> None:
    with safe_workbook(path) as workbook:
        title_fmt = workbook.add_format({"bold": True, "font_size": 14})
        header_fmt = workbook.add_format(HEADER)
        cell_fmt = workbook.add_format({"border": 1, "valign": "top", "text_wrap": True})
        date_fmt = workbook.add_format({"border": 1, "valign": "top", "num_format": "yyyy-mm-dd"})
        for name, headers, rows in sheets:
            ws = workbook.add_worksheet(name)
            ws.write_string(0, 0, title, title_fmt)
            for c, header in enumerate(headers):
                ws.write_string(1, c, header, header_fmt)
                ws.set_column(c, c, max(10, min(40, len(header) * 2 + 2)))
            for r, row in enumerate(rows, start=2):
                for c, value in enumerate(row):
                    if value is None:
                        ws.write_blank(r, c, None, cell_fmt)
                    elif isinstance(value, dt.date):
                        ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
                    elif isinstance(value, (int, float)) and not isinstance(value, bool):
                        ws.write_number(r, c, value, cell_fmt)
                    else:
                        ws.write_string(r, c, mask_text(str(value)), cell_fmt)
            for i, note in enumerate(notes):
                ws.write_string(len(rows) + 3 + i, 0, note)
            ws.freeze_panes(2, 0)


def _talk_plan(con, folder: Path, day: dt.date) -> list[Output]:
    rows = _rows(con, "select * from marts.rpt_talk_plan order by interviewer_role, queue_position")
    tuesday = day + dt.timedelta(days=(TALK_DAY - day.weekday()) % 7)
    # each leader's figures (rpt_talk_plan) stand on every one of its rows; none owed: 0
    first = {r["interviewer_role"]: r for r in rows if r["queue_position"] == 1}
    summary = [
        [role, *(first[role][k] for k in ("talks_left", "tuesdays_left", "talks_per_tuesday"))]
        if role in first
        else [role, 0, None, None]
        for role in ("组织部长", "副部长", "干部科长")
    ]
    path = folder / f"本周拉家常安排_{tuesday.isoformat()}.xlsx"
    _write(
        path,
        f"本周拉家常安排（{tuesday.isoformat()} 拉家常活动日）",
        [
            (
                "汇总",
                ["约谈人", "本年度剩余应谈人数", "剩余活动日（周二）数", "每个活动日至少应谈"],
                summary,
            ),
            (
                "安排",
                ["约谈人", "顺序", "干部编号", "干部姓名", "工作单位", "职级", "上次约谈日期"],
                [
                    [
                        r["interviewer_role"],
                        r["queue_position"],
                        r["cadre_code"],
                        r["cadre_name"],
                        r["unit"],
                        r["rank"],
                        r["last_talk_date"],
                    ]
                    for r in rows
                ],  # fmt: skip
            ),
        ],
        [
            "正科由组织部长、副科由副部长、一般干部由干部科长约谈，每次约谈须谈及六必谈全部内容。",
            "顺序：上次约谈最早（或从未约谈）的排在最前。",
        ],  # fmt: skip
    )
    return [Output(TALK_PLAN, path, None, len(rows))]


def _meeting_pack(con, folder: Path) -> list[Output]:
    rows = _rows(
        con,
        "select * from marts.rpt_meeting_agenda order by category, is_new desc, raised_on, matter_code",
    )
    meeting = rows[0]["next_meeting"] if rows else None
    name = meeting.isoformat() if meeting else "无议题"
    path = folder / f"一月一议议题清单_{name}.xlsx"
    _write(
        path,
        f"一月一议议题清单（{name} 会议）",
        [
            (
                "议题",
                [
                    "类别",
                    "问题编号",
                    "来源",
                    "反映日期",
                    "新反映",
                    "状态",
                    "乡镇",
                    "村委会或企业",
                    "问题描述",
                    "责任单位",
                    "牵头方式",
                    "已反映天数",
                ],
                [
                    [
                        r["category"],
                        r["matter_code"],
                        r["source"],
                        r["raised_on"],
                        "是" if r["is_new"] else "否",
                        r["status"],
                        r["township_name"],
                        r["place_or_partner"],
                        r["description"],
                        r["owner_unit"],
                        r["lead"],
                        r["days_open"],
                    ]
                    for r in rows
                ],  # fmt: skip
            )
        ],
        [
            "新反映：上次会议以来反映的问题；其余为此前反映、仍未办结的问题。",
            "涉及多个部门的问题由部长牵头；一个乡镇或一个部门能解决的由责任人跟踪。",
        ],  # fmt: skip
    )
    return [Output(MEETING_PACK, path, None, len(rows))]


def _visit_reminders(con, folder: Path, day: dt.date) -> list[Output]:
    rows = _rows(
        con,
        "select * from marts.rpt_visit_reminders order by township_code, cadre_code, household_code",
    )
    out = []
    for township in sorted({r["township_name"] for r in rows}):
        mine = [r for r in rows if r["township_name"] == township]
        first = mine[0]
        path = folder / f"本季度走访提醒_{safe_township(township)}_{day.isoformat()}.xlsx"
        _write(
            path,
            f"{township}{quarter_label(first['quarter'])}走访提醒（距季度结束还有 {first['days_left']} 天）",
            [
                (
                    "未走访结对",
                    # the follow-up list's columns, before the quarter has ended
                    [*HEADERS[:7], HEADERS[8], HEADERS[10]],
                    [
                        [
                            i,
                            r["cadre_code"],
                            r["cadre_name"],
                            r["unit"],
                            r["village_name"],
                            r["household_code"],
                            r["head_id_number_mask"],
                            r["pair_start"],
                            r["last_visit_date"],
                        ]
                        for i, r in enumerate(mine, start=1)
                    ],  # fmt: skip
                )
            ],
            [
                f"以上结对本季度尚未走访，请于 {first['quarter_end'].isoformat()} 前完成入户走访并报送走访记录。",
                "为保护个人信息，户主姓名已隐去，身份证号已脱敏，请按户编号核对。",
            ],  # fmt: skip
        )
        out.append(Output(VISIT_REMINDERS, path, township, len(mine)))
    return out


def produce(settings: Settings, day: dt.date, kinds: list[str] | None = None) -> list[Output]:
    """Make the plans due on ``day`` (or ``kinds``) from the warehouse published as of the day
    before, into ``reports/calendar/<day>/``."""
    kinds = due(day) if kinds is None else kinds
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise CalendarError(f"unknown plan(s) {unknown}; known: {', '.join(KINDS)}")
    if not kinds:
        return []
    try:
        source, _ = source_for(settings, day - dt.timedelta(days=1))
    except ExportError as exc:
        raise CalendarError(
            f"the plans of {day} read the warehouse of the day before: {exc}"
        ) from exc
    folder = settings.reports_dir / "calendar" / day.isoformat()
    con = duckdb.connect(str(source), read_only=True)
    try:
        out: list[Output] = []
        if TALK_PLAN in kinds:
            out += _talk_plan(con, folder, day)
        if MEETING_PACK in kinds:
            out += _meeting_pack(con, folder)
        if VISIT_REMINDERS in kinds:
            out += _visit_reminders(con, folder, day)
    finally:
        con.close()
    return out
