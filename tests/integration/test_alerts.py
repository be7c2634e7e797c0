"""Alert mail through Airflow's SMTP connection, received by a real SMTP server on 127.0.0.1.

The connection ``smtp_default`` comes from ``AIRFLOW_CONN_SMTP_DEFAULT`` (no metadata DB is
needed); the server is aiosmtpd's ``Controller`` on a free port, keeping every message it gets.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
from email import message_from_bytes, policy
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from outreach.airflow import alerts
from outreach.pipeline.stages import PublishBlocked, RunFailed

TZ = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
RUN_ID = "2014-06-30_20140630T180012345678Z"
BLOCKED = PublishBlocked(
    "error-severity checks failed, not publishing:\n"
    "fact_key_not_unique (2 处): visit_key 重复 例: 青山镇|2014-06-12|王建国; 青山镇|2014-06-12|王建国\n"
    "dq_township_unknown (1 处): 乡镇不在名录中 例: 清山镇"
)


class Inbox:
    """aiosmtpd handler: keeps each message as an ``email.message.EmailMessage``."""

    def __init__(self) -> None:
        self.messages = []
        self.recipients = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _use_smtp(monkeypatch, port: int, **extra) -> None:
    conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {
            "to": ["zuzhibu@example.org"],
            "from_email": "outreach@example.org",
            "disable_ssl": True,
            "disable_tls": True,
            "timeout": 5,
            "retry_limit": 0,
            **extra,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(conn))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def inbox(monkeypatch, home):
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    _use_smtp(monkeypatch, controller.port)
    yield handler
    controller.stop()


def _text(message) -> str:
    return message.get_body(preferencelist=("html", "plain")).get_content()


class StandInTI:
    """What a callback sees as ``task_instance``: a task id and XCom of earlier tasks."""

    def __init__(self, task_id: str, xcom: dict | None = None) -> None:
        self.task_id = task_id
        self._xcom = xcom or {}

    def xcom_pull(self, task_ids=None, key="return_value", **kwargs):
        return self._xcom.get(task_ids)


def _context(task_id: str, **more) -> dict:
    logical = dt.datetime(2014, 6, 30, 2, 0, tzinfo=TZ).astimezone(UTC)
    run_id = f"scheduled__{logical.isoformat()}"
    dag_run = SimpleNamespace(
        dag_id="outreach_nightly", run_id=run_id, logical_date=logical, conf={}
    )
    ti = StandInTI(task_id, {"prepare": {"run_id": RUN_ID, "as_of": "2014-06-30"}})
    return {
        "dag": SimpleNamespace(dag_id="outreach_nightly"),
        "dag_run": dag_run,
        "run_id": run_id,
        "logical_date": logical,
        "task_instance": ti,
        "ti": ti,
        **more,
    }


def test_a_blocked_publish_mails_the_failing_rule(inbox, home):
    alerts.on_failure(_context("check", exception=BLOCKED))

    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert inbox.recipients == [["zuzhibu@example.org"]]
    assert mail["From"] == "outreach@example.org"
    subject = str(mail["Subject"])
    assert subject.startswith("[outreach_nightly] 运行失败 / run failed: 2014-06-30")
    assert "fact_key_not_unique" in subject and "dq_township_unknown" in subject
    body = _text(mail)
    assert "fact_key_not_unique (2 处)" in body
    assert "青山镇|2014-06-12|王建国" in body  # the sample rows, unmangled
    assert "PublishBlocked" in body
    assert "failed task:  check" in body
    assert "2014-06-30 02:00 CST" in body  # the logical date on the county's clock
    assert str(home / "reports" / RUN_ID / "summary.md") in body


def test_the_dag_level_callback_reads_why_from_the_run_report(inbox, home):
    # A DAG-level on_failure_callback gets no exception: the reasons come from run.json.
    run_dir = home / "reports" / RUN_ID
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(
        json.dumps({"published": False, "reasons": [f"check: PublishBlocked: {BLOCKED}"]}),
        encoding="utf-8",
    )
    alerts.on_failure(_context("verdict", reason="task_failure"))

    (mail,) = inbox.messages
    assert "fact_key_not_unique" in str(mail["Subject"])
    body = _text(mail)
    assert "check: PublishBlocked: error-severity checks failed" in body
    assert "failed task:  verdict  (task_failure)" in body


class NoXComTI(StandInTI):
    """A DAG-level callback under ``dag.test()``: the task instance cannot reach XCom."""

    def xcom_pull(self, task_ids=None, key="return_value", **kwargs):
        raise ImportError("cannot import name 'SUPERVISOR_COMMS'")


def test_without_xcom_the_newest_report_of_the_as_of_date_is_used(inbox, home):
    older = "2014-06-30_20140630T170000000000Z"  # an earlier run for the same day
    for run_id, reason in ((older, "ingest: old failure"), (RUN_ID, f"check: {BLOCKED}")):
        (home / "reports" / run_id).mkdir(parents=True)
        (home / "reports" / run_id / "run.json").write_text(
            json.dumps({"published": False, "reasons": [reason]}), encoding="utf-8"
        )
    context = _context("verdict", reason="task_failure")
    context["task_instance"] = context["ti"] = NoXComTI("verdict")
    alerts.on_failure(context)

    (mail,) = inbox.messages
    assert "fact_key_not_unique" in str(mail["Subject"])
    body = _text(mail)
    assert str(home / "reports" / RUN_ID / "summary.md") in body
    assert "old failure" not in body


def test_the_verdict_message_names_the_rule_too(inbox, home):
    failed = RunFailed(f"run {RUN_ID} (as-of 2014-06-30) did not publish:\ncheck: {BLOCKED}")
    alerts.on_failure(_context("verdict", exception=failed))

    (mail,) = inbox.messages
    assert "fact_key_not_unique dq_township_unknown" in str(mail["Subject"])
    assert "RunFailed: run 2014-06-30_" in _text(mail)


def test_a_failure_before_prepare_still_mails(inbox, home):
    context = _context("prepare", exception=ValueError("inbox missing"))
    context["task_instance"] = context["ti"] = StandInTI("prepare")  # no XCom yet
    alerts.on_failure(context)

    (mail,) = inbox.messages
    assert str(mail["Subject"]) == "[outreach_nightly] 运行失败 / run failed: 2014-06-30"
    body = _text(mail)
    assert "ValueError: inbox missing" in body
    assert "2014-06-30_*/summary.md (run id unknown" in body


def _deadline_context(run_type: str = "scheduled", queued_at: str | None = None) -> dict:
    """What the scheduler hands a deadline callback (``Deadline.handle_miss``)."""
    return {
        "dag_run": {
            "dag_run_id": "scheduled__2014-06-29T18:00:00+00:00",
            "dag_id": "outreach_nightly",
            "logical_date": "2014-06-29T18:00:00Z",
            "queued_at": queued_at or "2014-06-30T18:00:01Z",
            "start_date": "2014-06-30T18:00:05Z",
            "run_after": "2014-06-30T18:00:00Z",
            "run_type": run_type,
            "state": "running",
            "conf": {},
        },
        "deadline": {
            "id": "0190b7a4-0000-7000-8000-000000000000",
            "deadline_time": dt.datetime(2014, 6, 30, 22, 0, tzinfo=UTC),
        },
    }


def _run_like_the_triggerer(alert, context: dict) -> list[dict]:
    """Run the alert's callback through Airflow's own ``CallbackTrigger``, as the triggerer does."""
    from airflow.triggers.callback import CallbackTrigger

    trigger = CallbackTrigger(
        callback_path=alert.callback.path,
        callback_kwargs={**alert.callback.kwargs, "context": context},
    )

    async def events():
        return [event.payload async for event in trigger.run()]

    return asyncio.run(events())


def test_the_missed_deadline_mails_through_the_triggerer_callback(inbox, home):
    alert = alerts.nightly_deadline()
    events = _run_like_the_triggerer(alert, _deadline_context())

    assert events[-1]["state"] == "success", events
    (mail,) = inbox.messages
    assert str(mail["Subject"]) == (
        "[outreach_nightly] 06:00 前未完成 / missed its 06:00 deadline: 2014-06-30"
    )
    body = _text(mail)
    assert "deadline:     2014-07-01 06:00 CST" in body
    assert "state then:   running" in body


def test_a_backfill_queued_after_its_deadline_sends_nothing(inbox, home):
    late = _deadline_context(run_type="backfill", queued_at="2014-08-01T09:00:00Z")
    asyncio.run(alerts.deadline_missed(context=late))
    assert inbox.messages == []
    # ...but a scheduled run queued late (scheduler down all night) is reported.
    asyncio.run(alerts.deadline_missed(context=_deadline_context(queued_at="2014-06-30T23:00:00Z")))
    assert len(inbox.messages) == 1


def test_an_unreachable_mail_server_never_raises(monkeypatch, home, caplog):
    _use_smtp(monkeypatch, _free_port())  # nothing listens there
    alerts.on_failure(_context("check", exception=BLOCKED))
    asyncio.run(alerts.deadline_missed(context=_deadline_context()))
    assert alerts.send_mail("s", "b") is False
    assert asyncio.run(alerts.asend_mail("s", "b")) is False
    assert "alert not sent" in caplog.text


def test_no_connection_or_no_recipients_never_raises(monkeypatch, home, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    alerts.on_failure(_context("check", exception=BLOCKED))
    assert alerts.send_mail("s", "b") is False
    assert asyncio.run(alerts.asend_mail("s", "b")) is False
    assert "alert not sent: no connection 'smtp_default'" in caplog.text
    _use_smtp(monkeypatch, _free_port(), to=[])
    assert alerts.send_mail("s", "b") is False
    assert "has no 'to'" in caplog.text


def test_the_deadline_is_0600_shanghai_on_the_morning_the_run_starts():
    from airflow.sdk import AsyncCallback, DeadlineReference
    from airflow.serialization.decoders import decode_deadline_alert
    from airflow.serialization.encoders import encode_deadline_alert

    alert = alerts.nightly_deadline()
    assert alert.reference == DeadlineReference.DAGRUN_LOGICAL_DATE
    assert alert.interval == dt.timedelta(hours=28)
    assert isinstance(alert.callback, AsyncCallback)
    assert alert.callback.path == "outreach.airflow.alerts.deadline_missed"

    # What the scheduler computes: the alert as stored in the DAG's serialization, evaluated
    # for the run whose logical date is 2014-06-30 02:00 Asia/Shanghai.
    stored = decode_deadline_alert(json.loads(json.dumps(encode_deadline_alert(alert))))
    logical = dt.datetime(2014, 6, 30, 2, 0, tzinfo=TZ).astimezone(UTC)

    class OneDagRun:  # the session: the dag_run row holds that logical date
        def execute(self, query):
            return SimpleNamespace(one_or_none=lambda: (logical,))

    deadline = stored.reference.evaluate_with(
        session=OneDagRun(),
        interval=stored.interval,
        dag_id="outreach_nightly",
        run_id="scheduled__2014-06-29T18:00:00+00:00",
    )
    assert deadline == dt.datetime(2014, 6, 30, 22, 0, tzinfo=UTC)
    assert deadline.astimezone(TZ) == dt.datetime(2014, 7, 1, 6, 0, tzinfo=TZ)


def test_every_nightly_run_of_a_year_is_due_at_0600_the_morning_it_starts():
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    timetable = coerce_to_core_timetable(
        CronDataIntervalTimetable("0 2 * * *", timezone="Asia/Shanghai")
    )
    interval = alerts.nightly_deadline().interval
    last = None
    start = dt.datetime(2014, 1, 1, 2, 0, tzinfo=TZ)
    restriction = TimeRestriction(earliest=start, latest=None, catchup=True)
    for _ in range(365):
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction
        )
        due = (info.logical_date + interval).astimezone(TZ)
        starts = info.run_after.astimezone(TZ)
        assert due.date() == starts.date() and due.time() == dt.time(6, 0), info
        last = DataInterval(info.data_interval.start, info.data_interval.end)
