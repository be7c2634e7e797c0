"""The calendar's mail (outreach/outputs/calendar.py makes the plans; this sends them) through
Airflow's ``smtp_default``: the talk plan and the meeting pack to the department (the
connection's extra ``calendar_to``, else ``to``: outreach/airflow/alerts.py), each township's
visit reminder to the addresses ``config/senders.yml`` registers for that township. Called by the
``outreach_calendar`` DAG."""

from __future__ import annotations

import datetime as dt
import html
import logging
from pathlib import Path

from ingest.pii import mask_text
from outreach.outputs.calendar import Output
from outreach.outputs.calendar_dates import KIND_NAMES
from outreach.settings import Settings

log = logging.getLogger("outreach.airflow.calendar_mail")


def _township_addresses(settings: Settings) -> dict[str, list[str]]:
    """township -> the addresses its files come from (config/senders.yml), for its reminder."""
    from outreach.intake.senders import SendersError, load_senders

    try:
        senders = load_senders(Path(settings.senders), Path(settings.gazetteer))
    except (SendersError, OSError) as exc:
        log.warning("calendar: no township addresses (%s)", exc)
        return {}
    out: dict[str, list[str]] = {}
    for address, unit in sorted(senders.by_address.items()):
        if unit.provider == "townships" and unit.folders:
            out.setdefault(unit.folders[0], []).append(address)
    return out


def _text(day: dt.date, outputs: list[Output]) -> str:
    lines = [f"{day.isoformat()} 的工作安排（附件为 Excel 表，个人信息已脱敏）：", ""]
    for out in outputs:
        whose = f"（{out.township}）" if out.township else ""
        lines.append(f"- {KIND_NAMES[out.kind]}{whose}：{out.rows} 条，见附件 {out.path.name}")
    lines += ["", "本邮件由系统按联系服务群众工作日历自动发送；如有疑问请与县委组织部联系。"]
    return "\n".join(lines)


def mail(settings: Settings, day: dt.date, outputs: list[Output]) -> dict[str, int]:
    """Send the day's plans through ``smtp_default``: the talk plan and the meeting pack to the
    department (the connection's extra ``calendar_to``, else ``to``), each township's reminder
    to the addresses its files come from. No connection or no recipient: nothing is sent for
    that part (counted ``skipped``); a refusal is counted ``failed`` and logged, never raised
    (the plans are on disk either way)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from outreach.airflow.alerts import SMTP_CONN_ID, recipients, sender

    counts = {"sent": 0, "skipped": 0, "failed": 0}
    if not outputs:
        return counts
    try:
        conn = SmtpHook.get_connection(SMTP_CONN_ID)
    except Exception as exc:  # noqa: BLE001 (no connection: the plans stay on disk)
        log.warning("calendar: no mail sent, connection %r: %s", SMTP_CONN_ID, exc)
        counts["skipped"] = len(outputs)
        return counts
    extra = conn.extra_dejson
    department = recipients(extra, "calendar_to") or recipients(extra)
    addresses = _township_addresses(settings)
    groups = [(department, [o for o in outputs if o.township is None])]
    groups += [(addresses.get(o.township, []), [o]) for o in outputs if o.township]
    for to, parts in groups:
        if not parts:
            continue
        if not to:
            counts["skipped"] += len(parts)
            continue
        names = "、".join(KIND_NAMES[o.kind] for o in parts)
        whose = f"（{parts[0].township}）" if parts[0].township else ""
        subject = f"{names}{whose} {day.isoformat()}"
        body = '<pre style="font-family: sans-serif; white-space: pre-wrap">'
        body += html.escape(_text(day, parts)) + "</pre>"
        try:
            with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as hook:
                hook.send_email_smtp(
                    to=to,
                    from_email=sender(conn),
                    subject=subject,
                    html_content=body,
                    files=[str(o.path) for o in parts],
                )
            counts["sent"] += 1
        except Exception as exc:  # noqa: BLE001 (recorded; the plans are on disk)
            log.error("calendar: mail %r not sent: %s", subject, mask_text(str(exc))[:300])
            counts["failed"] += 1
    return counts
