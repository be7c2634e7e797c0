"""The programme's calendar in dates (docs/RULES.md, "The programme's calendar"): the 一月一议
meeting is the last Friday of every month, the talks are on Tuesdays, the visit reminders start
15 days before a quarter ends; which plan is due on which day (``outreach.outputs.calendar``
makes them). Only dates here: the demo's generator and the DAG read them too."""

from __future__ import annotations

import datetime as dt

TALK_PLAN = "talk_plan"
MEETING_PACK = "meeting_pack"
VISIT_REMINDERS = "visit_reminders"
KINDS = (TALK_PLAN, MEETING_PACK, VISIT_REMINDERS)
KIND_NAMES = {
    TALK_PLAN: "本周拉家常安排",
    MEETING_PACK: "一月一议议题清单",
    VISIT_REMINDERS: "本季度走访提醒",
}
REMINDER_DAYS = 15  # reminders start this many days before a quarter ends
TALK_DAY = 1  # Tuesday (date.weekday())


# --- the dates ---------------------------------------------------------------------------------


def last_friday(year: int, month: int) -> dt.date:
    """The 一月一议 meeting of a month: its last Friday."""
    nxt = dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - 4) % 7)


def next_meeting(day: dt.date) -> dt.date:
    """The first meeting on or after ``day``."""
    meeting = last_friday(day.year, day.month)
    if day <= meeting:
        return meeting
    return last_friday(day.year + day.month // 12, day.month % 12 + 1)


def quarter_end(day: dt.date) -> dt.date:
    month = (day.month - 1) // 3 * 3 + 3
    return dt.date(day.year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def due(day: dt.date) -> list[str]:
    """The plans due on ``day``, in the order of KINDS."""
    out = []
    if day.weekday() == 0:  # the Monday before the Tuesday talks
        out.append(TALK_PLAN)
    meeting = next_meeting(day)
    if day == meeting - dt.timedelta(days=4):  # the Monday of the meeting's week
        out.append(MEETING_PACK)
    end = quarter_end(day)
    start = end - dt.timedelta(days=REMINDER_DAYS)
    if day == start or (start < day <= end and day.weekday() == 0):
        out.append(VISIT_REMINDERS)
    return out


def next_due(day: dt.date) -> dict[str, dt.date]:
    """Each plan's next day on or after ``day``."""
    found: dict[str, dt.date] = {}
    for n in range(0, 120):
        d = day + dt.timedelta(days=n)
        for kind in due(d):
            found.setdefault(kind, d)
        if len(found) == len(KINDS):
            break
    return {k: found[k] for k in KINDS if k in found}
