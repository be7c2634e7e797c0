"""Alert mail for the nightly run: it failed (``on_failure``) or missed 06:00 (``nightly_deadline``).

Both send through Airflow's SMTP connection ``smtp_default`` (:data:`SMTP_CONN_ID`) with the hook
of ``apache-airflow-providers-smtp``, which ``apache-airflow-core`` itself depends on. The
connection says who gets the mail, in its extra (there is no ``OUTREACH_*`` variable for it)::

    AIRFLOW_CONN_SMTP_DEFAULT='{"conn_type": "smtp", "host": "mail.example.org", "port": 465,
      "login": "outreach@example.org", "password": "...",
      "extra": {"to": ["zuzhibu@example.org"], "from_email": "outreach@example.org"}}'

| extra key | meaning |
|---|---|
| ``to`` | recipients: a list, or one string separated by ``,`` or ``;`` (required) |
| ``calendar_to`` | who gets the calendar's talk plan and meeting pack (outreach/outputs/calendar.py); defaults to ``to`` |
| ``from_email`` | sender; defaults to the login, else ``outreach-warehouse@localhost`` |
| ``disable_ssl`` / ``disable_tls`` | the hook's own: plain SMTP instead of SMTPS / STARTTLS |
| ``timeout`` / ``retry_limit`` | the hook's own (30 s, 5 retries) |

Without the connection or without ``to`` nothing is sent and a warning is logged. An alert never
raises: a mail server that is down must not hide, or replace, the failure it was reporting.

Nothing heavy is imported at module level (the DAG file imports this module at parse time).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

from outreach.settings import NIGHT_DEADLINE, NIGHT_STARTS_AT, load_settings

log = logging.getLogger("outreach.airflow.alerts")

SMTP_CONN_ID = "smtp_default"
DAG_ID = "outreach_nightly"
DEFAULT_FROM = "outreach-warehouse@localhost"

# One line per blocking rule, as outreach.pipeline.stages.check writes it: "<rule_id> (<n> 处): ...".
_RULE_LINE = re.compile(r"^\s*([A-Za-z_][\w.-]*) \(\d+ 处\)", re.MULTILINE)


# --- sending ----------------------------------------------------------------------------------


def recipients(extra: dict, key: str = "to") -> list[str]:
    """The addresses of ``extra[key]``: a list, or one string separated by ``,`` or ``;``."""
    to = extra.get(key) or []
    if isinstance(to, str):
        to = re.split(r"\s*[,;]\s*", to)
    return [str(a).strip() for a in to if str(a).strip()]


def sender(conn) -> str:
    extra = conn.extra_dejson
    if extra.get("from_email"):
        return str(extra["from_email"])
    if conn.login and "@" in conn.login:
        return conn.login
    return DEFAULT_FROM


def _html(text: str) -> str:
    # The hook sends HTML only; <pre> keeps the sample rows' columns and line breaks.
    return (
        '<pre style="font-family: monospace; white-space: pre-wrap">' + html.escape(text) + "</pre>"
    )


def send_mail(subject: str, text: str, conn_id: str = SMTP_CONN_ID) -> bool:
    """Send ``text`` to the connection's recipients; True when sent. Never raises."""
    try:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        try:
            conn = SmtpHook.get_connection(conn_id)
        except Exception as exc:  # not configured (the usual case on a laptop): no traceback
            return _not_sent(conn_id, subject, exc)
        to = recipients(conn.extra_dejson)
        if not to:
            return _not_sent(conn_id, subject)
        with SmtpHook(smtp_conn_id=conn_id) as hook:
            hook.send_email_smtp(
                to=to, from_email=sender(conn), subject=subject, html_content=_html(text)
            )
    except Exception:
        log.exception("alert not sent through connection %r: %s", conn_id, subject)
        return False
    log.info("alert sent to %s: %s", ", ".join(to), subject)
    return True


def _not_sent(conn_id: str, subject: str, missing: Exception | None = None) -> bool:
    """Log why an alert could not go out (no connection, or no recipients); False."""
    if missing is not None:
        log.warning("alert not sent: no connection %r (%s): %s", conn_id, missing, subject)
    else:
        log.warning("alert not sent: connection %r has no 'to' in its extra: %s", conn_id, subject)
    return False


async def asend_mail(subject: str, text: str, conn_id: str = SMTP_CONN_ID) -> bool:
    """:func:`send_mail` for the triggerer's event loop (aiosmtplib). Never raises."""
    try:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        try:
            conn = await SmtpHook.aget_connection(conn_id)
        except Exception as exc:  # not configured (the usual case on a laptop): no traceback
            return _not_sent(conn_id, subject, exc)
        to = recipients(conn.extra_dejson)
        if not to:
            return _not_sent(conn_id, subject)
        async with SmtpHook(smtp_conn_id=conn_id) as hook:
            await hook.asend_email_smtp(
                to=to, from_email=sender(conn), subject=subject, html_content=_html(text)
            )
    except Exception:
        log.exception("alert not sent through connection %r: %s", conn_id, subject)
        return False
    log.info("alert sent to %s: %s", ", ".join(to), subject)
    return True


# --- reading a callback's context -------------------------------------------------------------


def _get(obj: Any, name: str) -> Any:
    """A field of a context value that may be a dict (JSON) or an object (Airflow models)."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _county_tz() -> ZoneInfo:
    """The county's time zone (OUTREACH_TIMEZONE), the one the schedule runs on."""
    return load_settings().tz


def _local(value: Any) -> str:
    moment = _as_datetime(value)
    if moment is None:
        return "?"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(_county_tz()).strftime("%Y-%m-%d %H:%M %Z (UTC%z)")


def _as_of(conf: Any, logical_date: Any, prepared: dict | None) -> str:
    """The day the run reports on: what ``prepare`` decided, else conf, else the logical date."""
    if prepared and prepared.get("as_of"):
        return str(prepared["as_of"])
    if isinstance(conf, dict) and conf.get("as_of"):
        return str(conf["as_of"])
    moment = _as_datetime(logical_date)
    if moment is not None:
        from outreach.pipeline.context import as_of_for_logical_date

        return as_of_for_logical_date(moment, _county_tz()).isoformat()
    return "?"


def _prepared(ti: Any) -> dict | None:
    """``prepare``'s XCom (``{"run_id", "as_of"}``), when the run got that far."""
    if ti is None or not hasattr(ti, "xcom_pull"):
        return None
    try:
        value = ti.xcom_pull(task_ids="prepare")
    except Exception as exc:  # no XCom backend reachable here: the mail goes without it
        log.info("no XCom from prepare: %s", exc)
        return None
    return value if isinstance(value, dict) else None


def _reports_dir() -> Path | None:
    try:
        from outreach.settings import load_settings

        return load_settings().reports_dir
    except Exception as exc:
        log.info("settings unreadable, report path unknown: %s", exc)
        return None


def _reasons_from_report(run_dir: Path) -> list[str]:
    """Why the run did not publish, as ``report`` recorded it (or the stages, if it did not)."""
    try:
        run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        if run.get("reasons"):
            return [str(r) for r in run["reasons"]]
    except (OSError, ValueError):
        pass
    reasons = []
    for path in sorted(run_dir.glob("*.error.json")):
        try:
            reasons.append(f"{path.name.split('.')[0]}: {json.loads(path.read_text())['error']}")
        except (OSError, ValueError, KeyError):
            continue
    return reasons


def _newest_run_for(reports: Path, as_of: str) -> str | None:
    """The newest ``reports/<as_of>_<start>`` folder: run ids sort by their start time.

    Used only when ``prepare``'s XCom cannot be read (a DAG-level callback under ``dag.test()``)
    and the failing task came after ``prepare``, so this run's folder exists and, with
    ``max_active_runs=1``, is the newest for its as-of date.
    """
    try:
        runs = sorted(p.name for p in reports.glob(f"{as_of}_*") if p.is_dir())
    except OSError:
        return None
    return runs[-1] if runs else None


def rule_ids(text: str) -> list[str]:
    """The blocking rules named in a ``PublishBlocked`` / ``RunFailed`` message, in order."""
    return list(dict.fromkeys(_RULE_LINE.findall(text or "")))


def _exception_text(exc: Any) -> str:
    if exc is None:
        return ""
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {exc}"
    return str(exc)


# --- the failure mail -------------------------------------------------------------------------


def failure_mail(context: dict) -> tuple[str, str]:
    """Subject and body of the failure mail for an Airflow callback ``context``."""
    dag_run = context.get("dag_run")
    ti = context.get("task_instance") or context.get("ti")
    dag_id = _get(context.get("dag"), "dag_id") or _get(dag_run, "dag_id") or DAG_ID
    airflow_run_id = context.get("run_id") or _get(dag_run, "run_id") or "?"
    logical_date = context.get("logical_date") or _get(dag_run, "logical_date")
    prepared = _prepared(ti)
    as_of = _as_of(_get(dag_run, "conf"), logical_date, prepared)
    task_id = _get(ti, "task_id")

    why = _exception_text(context.get("exception"))
    reports = _reports_dir()
    run_id = (prepared or {}).get("run_id")
    guessed = False
    if not run_id and reports is not None and task_id not in (None, "prepare"):
        run_id, guessed = _newest_run_for(reports, as_of), True
    if run_id and reports is not None:
        report = str(reports / run_id / "summary.md")
        if guessed:
            report += " (the newest run for this as-of date; XCom was not reachable)"
        if not why:
            why = "\n".join(_reasons_from_report(reports / run_id))
    elif reports is not None:
        report = f"{reports}/{as_of}_*/summary.md (run id unknown; see also {reports}/latest/)"
    else:
        report = f"reports/{as_of}_*/summary.md (run id unknown)"

    rules = rule_ids(why)
    subject = f"[{dag_id}] 运行失败 / run failed: {as_of}"
    if rules:
        subject += " " + " ".join(rules)
    lines = [
        "夜间运行失败。除非运行报告显示已发布，分析人员看到的仍是上一次成功发布的数据仓库。\n"
        "The nightly run failed. Unless its report says it published, analysts still see the "
        "last good warehouse.",
        "",
        f"DAG:                    {dag_id}",
        f"Airflow 运行 / run:     {airflow_run_id}",
        f"逻辑日期 / logical date: {_local(logical_date)}",
        f"统计截止 / as-of:        {as_of}",
        f"失败任务 / failed task:  {task_id or '?'}"
        + (f"  ({context['reason']})" if context.get("reason") else ""),
        f"运行报告 / report:       {report}",
    ]
    if rules:
        lines.append(f"未通过的规则 / failing rules: {', '.join(rules)}")
    lines += [
        "",
        "原因 / why:",
        why or "(no exception in the callback context; see the task log in Airflow)",
    ]
    return subject, "\n".join(lines)


def on_failure(context: dict) -> None:
    """``on_failure_callback`` (DAG or task level): mail what failed and why. Never raises."""
    try:
        subject, body = failure_mail(context)
    except Exception:
        log.exception("could not compose the failure alert")
        subject = f"[{DAG_ID}] 运行失败 / run failed"
        body = f"The run failed; composing the details failed too.\n{context.get('exception')!r}"
    send_mail(subject, body)


def on_intake_failure(context: dict) -> None:
    """``on_failure_callback`` of outreach_intake: which channel could not be read, and why (a
    wrong password, a server down). Nothing was changed at the source; the channels that could be
    read were pulled. Never raises."""
    try:
        dag_run = context.get("dag_run")
        run_id = context.get("run_id") or _get(dag_run, "run_id") or "?"
        why = _exception_text(context.get("exception")) or "?"
        subject = "[outreach_intake] 收取失败 / intake failed"
        body = (
            "报送收取未能读取部分渠道（邮箱或共享文件夹）；其余渠道已收取，来源处未作任何改动。\n"
            "Intake could not read a channel (mailbox or shared folder); the others were pulled, "
            "nothing was changed at the source.\n\n"
            f"Airflow 运行 / run:  {run_id}\n"
            f"原因 / why:          {why}\n"
        )
    except Exception:
        log.exception("could not compose the intake alert")
        subject, body = "[outreach_intake] 收取失败 / intake failed", repr(context.get("exception"))
    send_mail(subject, body)


# --- the 06:00 deadline -----------------------------------------------------------------------


def _deadline_interval() -> dt.timedelta:
    """From a scheduled run's logical date to 06:00 on the morning it runs.

    The timetable is a data interval from 02:00 to 02:00: the run for logical date D 02:00 starts
    at D+1 02:00 and must be done by D+1 06:00, i.e. one day and four hours after its logical
    date. The county's zone (Asia/Shanghai) has no daylight saving time, so this is always 06:00
    on the wall clock.
    """
    day = dt.date(2000, 1, 1)
    return dt.timedelta(days=1) + (
        dt.datetime.combine(day, NIGHT_DEADLINE) - dt.datetime.combine(day, NIGHT_STARTS_AT)
    )


def nightly_deadline() -> DeadlineAlert:
    """``DeadlineAlert``: the run must finish by 06:00 county time on the night it runs.

    Measured from the DAG run's logical date (+28 h), not from when it was queued: a run that
    starts late (the scheduler was down, or last night's run still held ``max_active_runs=1``)
    still owes its result at 06:00, which a queued-at reference would quietly move. A run
    without a logical date gets no deadline (Airflow skips it). A backfill or an old night
    triggered by hand is queued after its 06:00 has passed and would be "missed" at once:
    :func:`deadline_missed` recognises such an unscheduled run and sends nothing.
    """
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=_deadline_interval(),
        # Async: it runs in the triggerer, which every executor supports, and the mail goes out
        # through the hook's aiosmtplib client without blocking the triggerer's loop.
        callback=AsyncCallback(deadline_missed),
        name=f"finish by {NIGHT_DEADLINE:%H:%M} county time",
    )


def deadline_mail(context: dict) -> tuple[str, str] | None:
    """Subject and body of the deadline mail, or None when the deadline was never reachable.

    ``context`` is what the scheduler hands a deadline callback: ``{"dag_run": <the DAG run as
    JSON>, "deadline": {"id", "deadline_time"}}``.
    """
    dag_run = context.get("dag_run") or {}
    deadline_time = _as_datetime(_get(context.get("deadline"), "deadline_time"))
    queued = _as_datetime(_get(dag_run, "queued_at")) or _as_datetime(_get(dag_run, "start_date"))
    run_type = str(_get(dag_run, "run_type") or "")
    if (
        run_type != "scheduled"
        and deadline_time is not None
        and queued is not None
        and queued >= deadline_time
    ):
        # A backfill or an old night run by hand: its 06:00 had passed before it was queued.
        # A scheduled run queued late (scheduler down all night) is exactly what to report.
        log.info(
            "%s run %s was queued at %s, after its deadline %s: not a late night, no mail",
            run_type or "unscheduled",
            _get(dag_run, "dag_run_id"),
            queued,
            deadline_time,
        )
        return None
    dag_id = _get(dag_run, "dag_id") or DAG_ID
    logical_date = _get(dag_run, "logical_date")
    as_of = _as_of(_get(dag_run, "conf"), logical_date, None)
    reports = _reports_dir()
    subject = f"[{dag_id}] 06:00 前未完成 / missed its 06:00 deadline: {as_of}"
    lines = [
        f"夜间运行到 {NIGHT_DEADLINE:%H:%M} 仍未完成；新的数据仓库尚未发布，上一次成功发布的仍在使用。\n"
        f"The nightly run had not finished by {NIGHT_DEADLINE:%H:%M}; nothing new is published yet "
        f"and the last good warehouse stays.",
        "",
        f"DAG:                    {dag_id}",
        f"Airflow 运行 / run:     {_get(dag_run, 'dag_run_id') or '?'}",
        f"逻辑日期 / logical date: {_local(logical_date)}",
        f"统计截止 / as-of:        {as_of}",
        f"截止时间 / deadline:     {_local(deadline_time)}",
        f"排队 / queued at:        {_local(_get(dag_run, 'queued_at'))}",
        f"开始 / started at:       {_local(_get(dag_run, 'start_date'))}",
        f"当时状态 / state then:   {_get(dag_run, 'state') or '?'}",
        f"运行报告 / report:       {reports or 'reports'}/{as_of}_*/summary.md (written when the run ends)",
    ]
    return subject, "\n".join(lines)


async def deadline_missed(context: dict | None = None, **kwargs: Any) -> None:
    """The deadline's callback, run by the triggerer when 06:00 passes. Never raises."""
    try:
        mail = deadline_mail(context or {})
    except Exception:
        log.exception("could not compose the deadline alert")
        mail = (f"[{DAG_ID}] 06:00 前未完成 / missed its 06:00 deadline", repr(context))
    if mail is not None:
        await asend_mail(*mail)


__all__ = [
    "SMTP_CONN_ID",
    "deadline_mail",
    "deadline_missed",
    "failure_mail",
    "nightly_deadline",
    "on_failure",
    "rule_ids",
    "send_mail",
]
