"""A receipt (回执) to every registered sender, within the intake run that took the mail.

One Chinese mail per message, to the address it came from, through ``smtp_default``: what
arrived; for each file whether it was taken, refused (why) or a duplicate; for a file taken,
whether it can be read, the datasets recognised, how many rows would load and how many are
returned and why (a dry run of the night's own reading, in the sandbox: ``dry_run.py``), with
that file's 退回清单 attached. Masks only: no ID or phone number is written.

Never two: a receipt is ``pending`` from the transaction that records its message, ``sending``
(committed) before the SMTP conversation starts and ``sent`` after it. A pull that finds a
receipt still ``sending`` died during that conversation and cannot know whether the mail went
out: it marks it ``unknown`` (listed for the department) and never sends it again. Mail from an
unregistered address gets no receipt (answering unknown senders would turn the mailbox into a
source of backscatter); the department sees it in the ledger.
"""

from __future__ import annotations

import html
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ingest.discover import PROVIDER_NAMES
from ingest.pii import mask_text
from ingest.registry import load_registry
from ingest.senders import sender_of
from outreach.intake.attachments import decode_name
from outreach.intake.dry_run import FileCheck, dry_run
from outreach.intake.ledger import Ledger, now
from outreach.settings import Settings

log = logging.getLogger("outreach.intake.receipts")

SMTP_CONN_ID = "smtp_default"

_SCHEMA = """
create table if not exists receipts (
    channel text not null,
    source_key text not null,
    recipient text not null,
    subject text,
    state text not null check (state in ('pending', 'sending', 'sent', 'unknown', 'failed', 'unsent')),
    created_at text not null,
    sent_at text,
    error text,
    primary key (channel, source_key)
);
"""

_STATUS = {"landed": "已收取", "duplicate": "重复，未再次保存", "refused": "未收取"}


def ensure_table(ledger: Ledger) -> None:
    ledger.con.executescript(_SCHEMA)


def owe_receipt(con, channel: str, source_key: str, recipient: str, subject: str | None) -> None:
    """In the transaction that records a message from a registered sender."""
    con.execute(
        "insert or ignore into receipts (channel, source_key, recipient, subject, state, "
        "created_at) values (?, ?, ?, ?, 'pending', ?)",
        (channel, source_key, recipient, subject, now()),
    )


@dataclass
class Receipt:
    channel: str
    source_key: str
    recipient: str
    subject: str
    entries: list[dict]


def _decoded(subject: str | None) -> str:
    """The mail's subject as text (encoded words and odd charsets as names are decoded),
    masked."""
    return mask_text(decode_name(subject or "")) or "（无主题）"


def _file_lines(entry: dict, check: FileCheck | None) -> list[str]:
    name = mask_text(entry["original_name"] or "（无文件名）")
    status = entry["status"]
    if status != "landed":
        reason = mask_text(entry["reason"] or "")
        return [f"{name}：{_STATUS.get(status, status)}。{reason}".rstrip()]
    if check is None:
        return [f"{name}：已收取，将在今晚入库时读取。"]
    if not check.readable:
        return [f"{name}：已收取，但无法读取：{check.problem}"]
    lines = [f"{name}：已收取，可以读取。"]
    for sheet in check.sheets:
        text = f"  工作表“{sheet.sheet}”识别为“{sheet.dataset_name}”：可加载 {sheet.rows_ok} 行"
        if sheet.rows_returned:
            text += f"，退回 {sheet.rows_returned} 行（见附件退回清单）"
        lines.append(text + "。")
    for sheet, _header in check.unmatched:
        lines.append(f"  工作表“{sheet}”未能识别为任何报送表，未读取（请使用报送模板的表头）。")
    if not check.sheets and not check.unmatched:
        lines.append("  没有找到有数据的工作表。")
    for r in check.returned[:5]:
        column = f"“{r.column}”" if r.column else ""
        lines.append(f"    退回：工作表“{r.sheet}”第 {r.row_number} 行{column}：{r.problem}")
    if len(check.returned) > 5:
        lines.append(f"    ……其余 {len(check.returned) - 5} 行见附件退回清单。")
    return lines


def compose(receipt: Receipt, checks: dict[str, FileCheck], unit: str) -> tuple[str, str]:
    subject = f"报送回执：{receipt.subject}"
    lines = [
        f"{unit}：",
        "",
        f"县委组织部报送收取已收到你单位报送的“{receipt.subject}”，"
        f"共 {len(receipt.entries)} 个文件，结果如下：",
        "",
    ]
    for i, entry in enumerate(receipt.entries, 1):
        block = _file_lines(entry, checks.get(entry["landed_path"] or ""))
        lines.append(f"{i}. {block[0]}")
        lines.extend(f"   {line}" for line in block[1:])
    lines += [
        "",
        "以上是收到文件时按入库规则所做的预检查；数据在当晚统一入库。退回的行请按退回清单改正后，"
        "用原文件名重新发送整个文件，新版本会替换旧版本。",
        "本邮件由系统自动发送；如有疑问请与县委组织部联系。",
    ]
    return subject, "\n".join(lines)


def return_list(
    path: Path,
    provider: str | None,
    checks: list[FileCheck],
    run_id: str,
    townships: frozenset[str],
) -> bool:
    """The 退回清单 of files checked on arrival (the night's own writer), when they have
    something to fix; the receipts' attachment and the portal's download."""
    from outreach.outputs.return_lists import Findings, write_unit_workbook

    if all(c.readable and not c.returned and not c.unmatched for c in checks):
        return False
    p = provider or ""
    rows = [
        (p, c.rel, r.sheet, r.row_number, r.dataset, r.rule, r.problem, r.original)
        for c in checks
        for r in c.returned
    ]
    files = [(p, c.rel, c.problem_rule, c.problem) for c in checks if not c.readable]
    sheets = [(p, c.rel, s, h) for c in checks for s, h in c.unmatched]
    findings = Findings(rows=rows, files=files, sheets=sheets, townships=sorted(townships))
    write_unit_workbook(
        path, sender_of(checks[0].rel, townships), run_id, findings, load_registry()
    )
    return True


def _html(text: str) -> str:
    return (
        '<pre style="font-family: sans-serif; white-space: pre-wrap">'
        + html.escape(text)
        + "</pre>"
    )


def send_receipts(settings: Settings, ledger: Ledger, run_id: str) -> dict[str, int]:
    """Send every pending receipt once; returns how many ended in each state."""
    ensure_table(ledger)
    counts: dict[str, int] = {}
    with ledger.transaction() as con:  # a pull died mid-send: it may have gone out
        stale = con.execute(
            "update receipts set state = 'unknown', error = '上次收取在发送时中断，无法确定是否已发出，不再重发' "
            "where state = 'sending'"
        ).rowcount
    if stale:
        counts["unknown"] = stale
    pending = [
        Receipt(
            channel,
            key,
            recipient,
            _decoded(subject),
            ledger.entries(channel=channel, source_key=key),
        )
        for channel, key, recipient, subject in ledger.con.execute(
            "select channel, source_key, recipient, subject from receipts where state = 'pending' "
            "order by created_at"
        ).fetchall()
    ]
    if not pending:
        return counts
    try:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        conn = SmtpHook.get_connection(SMTP_CONN_ID)
    except Exception as exc:  # not configured: the receipts wait, listed, never sent late
        with ledger.transaction() as con:
            con.execute(
                "update receipts set state = 'unsent', error = ? where state = 'pending'",
                (f"未配置发信连接 {SMTP_CONN_ID}：{type(exc).__name__}",),
            )
        counts["unsent"] = counts.get("unsent", 0) + len(pending)
        return counts
    landed = sorted(
        {e["landed_path"] for r in pending for e in r.entries if e["status"] == "landed"}
    )
    try:
        checks = dry_run(settings, landed) if landed else {}
    except Exception:  # the receipts still go, saying the files will be read tonight
        log.exception("the receipts' dry run failed")
        checks = {}
    from_email = (conn.extra_dejson or {}).get("from_email") or conn.login or "outreach@localhost"
    for receipt in pending:
        try:
            state, error = _send_one(settings, ledger, receipt, checks, run_id, from_email)
        except Exception as exc:  # composing it failed: recorded, the other receipts still go
            state, error = "failed", f"{type(exc).__name__}: {mask_text(str(exc))[:500]}"
            with ledger.transaction() as con:
                con.execute(
                    "update receipts set state = 'failed', error = ? "
                    "where channel = ? and source_key = ? and state = 'pending'",
                    (error, receipt.channel, receipt.source_key),
                )
        counts[state] = counts.get(state, 0) + 1
        if error:
            log.warning("receipt to %s not sent: %s", receipt.recipient, error)
    return counts


def _send_one(
    settings, ledger, receipt: Receipt, checks, run_id, from_email
) -> tuple[str, str | None]:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from ingest.places import load_gazetteer
    from ingest.senders import township_names

    townships = frozenset(township_names(load_gazetteer(Path(settings.gazetteer))))

    first = receipt.entries[0] if receipt.entries else {}
    provider, unit = first.get("provider"), first.get("unit")
    who = (
        f"{PROVIDER_NAMES.get(provider, '')}{unit or ''}" if provider != "county" else "县委组织部"
    )
    subject, text = compose(receipt, checks, mask_text(who or "报送单位"))
    with tempfile.TemporaryDirectory(prefix="outreach-receipt-") as tmp:
        files = []
        for entry in receipt.entries:
            check = checks.get(entry["landed_path"] or "")
            if entry["status"] != "landed" or check is None:
                continue
            stem = Path(mask_text(entry["original_name"] or "文件")).stem[:60]
            path = Path(tmp) / f"退回清单_{stem}.xlsx"
            if return_list(path, provider, [check], run_id, townships):
                files.append(str(path))
        with ledger.transaction() as con:
            con.execute(
                "update receipts set state = 'sending' where channel = ? and source_key = ?",
                (receipt.channel, receipt.source_key),
            )
        try:
            with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as hook:
                hook.send_email_smtp(
                    to=[receipt.recipient],
                    from_email=from_email,
                    subject=subject,
                    html_content=_html(text),
                    files=files,
                )
            state, error = "sent", None
        except Exception as exc:  # refused by the server: recorded, not retried (never two)
            state, error = "failed", f"{type(exc).__name__}: {mask_text(str(exc))[:500]}"
    with ledger.transaction() as con:
        con.execute(
            "update receipts set state = ?, sent_at = ?, error = ? where channel = ? and source_key = ?",
            (state, now() if state == "sent" else None, error, receipt.channel, receipt.source_key),
        )
    return state, error
