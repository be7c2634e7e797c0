"""The calendar's mail, through a local SMTP server: the talk plan and the meeting pack to the
department, each township's visit reminder to the address its files come from (and to no other
township), attachments with masks only; a township with no registered address gets nothing; the
DAG's task on a day with nothing due makes and sends nothing."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import os
import re

import openpyxl

from ingest.pii import ID_IN_TEXT, MOBILE_IN_TEXT
from outreach.airflow.calendar_mail import mail
from outreach.outputs import calendar
from outreach.settings import DAGS_DIR, load_settings
from tests.demo_warehouse import copy_of

SENDERS = """
senders:
  - {address: bcz@county.test, provider: townships, unit: 保城镇}
  - {address: slz@county.test, provider: townships, unit: 什玲镇}
"""
EVERY = list(calendar.KINDS)


def _settings(demo_home, tmp_path):
    home = copy_of(demo_home, tmp_path / "home")
    senders = tmp_path / "senders.yml"
    senders.write_text(SENDERS, encoding="utf-8")
    return load_settings({"OUTREACH_HOME": str(home), "OUTREACH_SENDERS": str(senders)})


def _to_department(monkeypatch):
    conn = json.loads(os.environ["AIRFLOW_CONN_SMTP_DEFAULT"])
    conn["extra"]["calendar_to"] = "zuzhibu@county.test; ganbuke@county.test"
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(conn))


def _attachments(message) -> dict[str, str]:
    out = {}
    for part in message.iter_attachments():
        book = openpyxl.load_workbook(io.BytesIO(part.get_content()), read_only=True)
        out[part.get_filename()] = "\n".join(
            str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
            for v in row if v is not None
        )  # fmt: skip
    return out


def test_the_department_and_each_township_get_their_own_plans(
    demo_home, smtp, monkeypatch, tmp_path
):
    _to_department(monkeypatch)
    settings = _settings(demo_home, tmp_path)
    day = dt.date(2014, 7, 1)
    outputs = calendar.produce(settings, day, EVERY)
    counts = mail(settings, day, outputs)
    reminded = {o.township for o in outputs if o.township}
    assert {"保城镇", "什玲镇"} <= reminded and len(reminded) > 2
    # the department's mail, 保城镇's and 什玲镇's; the other townships have no address
    assert counts == {"sent": 3, "skipped": len(reminded) - 2, "failed": 0}
    by_to = {tuple(to): message for to, message in smtp.messages}
    department = by_to[("zuzhibu@county.test", "ganbuke@county.test")]
    assert "本周拉家常安排" in department["subject"] and "一月一议议题清单" in department["subject"]
    assert sorted(_attachments(department)) == [
        "一月一议议题清单_2014-07-25.xlsx",
        "本周拉家常安排_2014-07-01.xlsx",
    ]
    for address, township in (("bcz@county.test", "保城镇"), ("slz@county.test", "什玲镇")):
        message = by_to[(address,)]
        assert township in message["subject"]
        books = _attachments(message)
        assert list(books) == [f"本季度走访提醒_{township}_2014-07-01.xlsx"]
        others = reminded - {township}
        assert not any(o in books[next(iter(books))] for o in others)  # no other township's rows
    text = "\n".join(t for _, m in smtp.messages for t in _attachments(m).values())
    assert not re.search(ID_IN_TEXT, text) and not re.search(MOBILE_IN_TEXT, text)


def test_no_connection_sends_nothing_and_keeps_the_plans(demo_home, tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    settings = _settings(demo_home, tmp_path)
    outputs = calendar.produce(settings, dt.date(2014, 7, 1), [calendar.TALK_PLAN])
    assert mail(settings, dt.date(2014, 7, 1), outputs)["sent"] == 0
    assert outputs[0].path.is_file()


def _dag():
    spec = importlib.util.spec_from_file_location("calendar_dag", DAGS_DIR / "outreach_calendar.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.calendar_dag


def test_the_dag_runs_every_morning_on_the_countys_clock_and_does_nothing_on_a_quiet_day(
    demo_home, smtp, tmp_path, monkeypatch
):
    dag = _dag()
    assert dag.dag_id == "outreach_calendar" and dag.catchup is False
    assert dag.timetable.expression == "0 7 * * *"
    assert str(dag.timetable.timezone) == "Asia/Shanghai"
    settings = _settings(demo_home, tmp_path)
    monkeypatch.setenv("OUTREACH_HOME", str(settings.home))
    monkeypatch.setenv("OUTREACH_SENDERS", str(settings.senders))
    result = dag.get_task("plans").python_callable(day="2014-07-01")  # a Tuesday
    assert result["plans"] == [] and result["mail"]["sent"] == 0 and smtp.messages == []
    assert not (settings.reports_dir / "calendar" / "2014-07-01").exists()
