"""The calendar's dates: the meeting is the month's last Friday; the talk plan is due every
Monday, the meeting pack on the Monday of the meeting's week, the visit reminders 15 days before
a quarter ends and then every Monday until it ends (the edge dates of dbt's unit tests of
int_matter_meetings, in dbt_project/models/intermediate/_intermediate__models.yml)."""

from __future__ import annotations

import datetime as dt

import pytest

from outreach.outputs.calendar_dates import (
    MEETING_PACK,
    TALK_PLAN,
    VISIT_REMINDERS,
    due,
    last_friday,
    next_due,
    next_meeting,
    quarter_end,
)

D = dt.date


@pytest.mark.parametrize(
    ("year", "month", "friday"),
    [(2013, 4, D(2013, 4, 26)), (2013, 12, D(2013, 12, 27)), (2012, 2, D(2012, 2, 24)),
     (2016, 2, D(2016, 2, 26)), (2014, 6, D(2014, 6, 27)), (2013, 5, D(2013, 5, 31))],
)  # fmt: skip
def test_the_meeting_is_the_months_last_friday(year, month, friday):
    assert last_friday(year, month) == friday
    assert friday.weekday() == 4 and (friday + dt.timedelta(days=7)).month != month


def test_the_next_meeting_after_a_day():
    assert next_meeting(D(2013, 4, 26)) == D(2013, 4, 26)  # the meeting day itself
    assert next_meeting(D(2013, 4, 27)) == D(2013, 5, 31)
    assert next_meeting(D(2013, 12, 28)) == D(2014, 1, 31)  # after December's last Friday
    assert next_meeting(D(2012, 2, 25)) == D(2012, 3, 30)  # leap February: the 24th
    assert quarter_end(D(2012, 2, 29)) == D(2012, 3, 31)
    assert quarter_end(D(2014, 12, 1)) == D(2014, 12, 31)


@pytest.mark.parametrize(
    ("day", "plans"),
    [
        (D(2014, 7, 1), []),  # a Tuesday: nothing
        (D(2014, 7, 4), []),  # a Friday that is no meeting
        (D(2014, 7, 7), [TALK_PLAN]),
        (D(2014, 7, 21), [TALK_PLAN, MEETING_PACK]),  # the meeting is Friday 25 July
        (D(2014, 9, 15), [TALK_PLAN, VISIT_REMINDERS]),  # 15 days before 30 September
        (D(2014, 6, 15), [VISIT_REMINDERS]),  # a Sunday, 15 days before 30 June
        (D(2014, 6, 23), [TALK_PLAN, MEETING_PACK, VISIT_REMINDERS]),
        (D(2014, 6, 14), []),  # a Saturday before the reminders start
        (D(2014, 12, 22), [TALK_PLAN, MEETING_PACK, VISIT_REMINDERS]),  # December's last week
        (D(2012, 2, 20), [TALK_PLAN, MEETING_PACK]),  # leap February's meeting on the 24th
    ],
)
def test_what_is_due_on_a_day(day, plans):
    assert due(day) == plans


def test_next_due_names_each_plans_next_day():
    assert next_due(D(2014, 7, 1)) == {
        TALK_PLAN: D(2014, 7, 7),
        MEETING_PACK: D(2014, 7, 21),
        VISIT_REMINDERS: D(2014, 9, 15),
    }
