"""
### outreach_intake

Every 30 minutes in working hours (Asia/Shanghai, Monday to Friday; ``OUTREACH_INTAKE_SCHEDULE``
sets another cron): pull from every channel of ``config/senders.yml`` into the inbox, the
department's collection mailbox (IMAP, read-only: nothing is marked read) and partners' remote
folders (SFTP, FTP). Who sent a file decides where it lands:
``inbox/<provider>/<unit>/<original file name>``. What arrived, landed, was a duplicate or was
refused (and why, in Chinese) is one row each in the fetch ledger
(``$OUTREACH_HOME/intake/ledger.sqlite3``), which the night publishes.

Intake never takes the build file's lock: it may run while the night runs, and a file that lands
mid-night is read the next night. With no channel configured (the embedded default) the task
pulls nothing and succeeds. A channel that cannot be read (a wrong password, a server down)
fails the task after the other channels have been pulled, so the failure shows and mails.

This file only wires tasks; the task body calls ``outreach.intake.pull``.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

from outreach.airflow.alerts import on_intake_failure
from outreach.settings import PROGRAMME_START, county_timezone, intake_schedule

TZ = county_timezone()


@dag(
    dag_id="outreach_intake",
    schedule=CronTriggerTimetable(intake_schedule(), timezone=TZ),
    start_date=pendulum.datetime(
        PROGRAMME_START.year, PROGRAMME_START.month, PROGRAMME_START.day, tz=TZ
    ),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 0, "execution_timeout": dt.timedelta(minutes=25)},
    on_failure_callback=on_intake_failure,
    doc_md=__doc__,
    tags=["outreach"],
)
def outreach_intake():
    @task
    def pull() -> dict:
        from outreach.intake.pull import pull as pull_channels
        from outreach.settings import load_settings

        result = pull_channels(load_settings())
        if result.errors:
            raise RuntimeError("; ".join(result.errors))
        return result.as_dict()

    pull()


intake = outreach_intake()
