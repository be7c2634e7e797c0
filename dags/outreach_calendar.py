"""
### outreach_calendar

Every morning at 07:00 on the county's clock (after the night's 06:00 deadline): the plans due
that day (``outreach.outputs.calendar_dates.due``): 本周拉家常安排 on Mondays, 一月一议议题清单
on the Monday of the week of the month's last Friday, 本季度走访提醒 from 15 days before a quarter
ends. They are made from the warehouse published as of the day before (never the build file)
into ``reports/calendar/<date>/`` and mailed through ``smtp_default``: the talk plan and the
meeting pack to the department (the connection's extra ``calendar_to``, else ``to``), each
township's reminder to the addresses ``config/senders.yml`` registers for it. A day with nothing
due does nothing. ``outreach calendar --date D`` does the same by hand and for backfills.

This file only wires tasks; the task body calls ``outreach.outputs.calendar``.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task

from outreach.settings import CALENDAR_STARTS_AT, PROGRAMME_START, county_timezone

TZ = county_timezone()


@dag(
    dag_id="outreach_calendar",
    schedule=CronTriggerTimetable(
        f"{CALENDAR_STARTS_AT.minute} {CALENDAR_STARTS_AT.hour} * * *", timezone=TZ
    ),
    start_date=pendulum.datetime(
        PROGRAMME_START.year, PROGRAMME_START.month, PROGRAMME_START.day, tz=TZ
    ),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "execution_timeout": dt.timedelta(minutes=30)},
    doc_md=__doc__,
    tags=["outreach"],
)
def outreach_calendar():
    @task
    def plans(day: str | None = None) -> dict:
        """The plans of the run's day (its logical date on the county's clock), made and mailed."""
        from outreach.airflow.calendar_mail import mail
        from outreach.outputs import calendar
        from outreach.settings import load_settings

        settings = load_settings()
        if day is None:
            logical = get_current_context()["logical_date"]
            date = logical.astimezone(settings.tz).date()
        else:
            date = dt.date.fromisoformat(day)
        outputs = calendar.produce(settings, date)
        return {
            "date": date.isoformat(),
            "plans": [
                {"kind": o.kind, "township": o.township, "rows": o.rows, "path": str(o.path)}
                for o in outputs
            ],  # fmt: skip
            "mail": mail(settings, date, outputs),
        }

    plans()


calendar_dag = outreach_calendar()
