"""One pull of every configured channel into the inbox: ``outreach pull`` and the intake DAG.

Per message (or remote file), in this order: sort its attachments out (``attachments.py``), land
what is taken (``land.py``), then record everything it did in the ledger in one transaction with
the message marked handled. Killed half-way, a rerun finds the message not yet handled and does
it again: the same bytes land at the same path (no second copy) and are recorded once. Intake
never takes the build file's lock: the night reads what has landed by the time it starts.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from outreach.intake import imap, receipts
from outreach.intake.attachments import Refusal, attachment_name, header_text, sort_out
from outreach.intake.folders import FolderError, pull_folder
from outreach.intake.land import CannotLand, keep_version, land, sha256_of
from outreach.intake.ledger import Entry, Ledger, open_ledger
from outreach.intake.senders import Channel, SenderMap, Unit, load_senders
from outreach.settings import Settings

log = logging.getLogger("outreach.intake")


@dataclass
class PullResult:
    channels: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)  # status -> objects
    messages: int = 0
    errors: list[str] = field(default_factory=list)  # a channel that could not be read
    receipts: Counter = field(default_factory=Counter)  # receipt state -> receipts

    def as_dict(self) -> dict:
        return {
            "channels": self.channels,
            "messages": self.messages,
            "objects": dict(self.counts),
            "errors": self.errors,
            "receipts": dict(self.receipts),
        }


def credentials(conn_id: str) -> imap.Credentials:
    """An Airflow Connection's host, port, login and password (environment variable,
    secrets backend or Airflow's metadata: wherever the deployment keeps it)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    return imap.Credentials(
        host=conn.host or "",
        port=conn.port,
        login=conn.login or "",
        password=conn.password or "",
        extra=conn.extra_dejson or {},
    )


def _attachments(message) -> list[tuple[str, bytes]]:
    out = []
    for part in message.walk():
        if part.is_multipart():
            continue
        name = attachment_name(part)
        disposition = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
        if not name and disposition != "attachment":
            continue  # the mail's text
        out.append((name, part.get_payload(decode=True) or b""))
    return out


def handle_message(
    ledger: Ledger,
    settings: Settings,
    senders: SenderMap,
    channel: Channel,
    fetched: imap.Fetched,
) -> list[Entry]:
    """Land or refuse what one message holds, and record it with the message handled."""
    message = imap.parse(fetched.raw)
    sender = imap.sender_address(message)
    mid = imap.message_id(message)
    sha = sha256_of(fetched.raw)
    key = f"{fetched.uidvalidity}:{fetched.uid}"
    base = {
        "channel": channel.name,
        "source_key": key,
        "message_id": mid,
        "sender": sender,
        "received_at": fetched.received_at,
    }
    entries: list[Entry] = []
    receipt_to: str | None = None
    if ledger.message_seen(channel.name, fetched.uidvalidity, fetched.uid, mid, sha):
        pass  # the same mail under a new UIDVALIDITY: known by Message-ID and bytes
    else:
        unit = senders.for_address(sender) if sender else None
        files = _attachments(message)
        if unit is None:
            kept = _keep_aside(settings, sha, fetched.raw)
            reason = f"发件人 {sender or '（无）'} 不在报送单位名单（config/senders.yml）中，邮件已留存待组织部核实：{kept}"
            names = [name for name, _ in files] or [None]
            entries = [
                Entry(**base, status="unknown_sender", reason=reason, original_name=n)
                for n in names
            ]
        elif not files:
            receipt_to = sender
            entries = [Entry(**base, status="refused", provider=unit.provider, unit=unit.label,
                             reason="邮件没有附件；请把表格作为附件发送")]  # fmt: skip
        else:
            receipt_to = sender
            landed_now: dict[str, str] = {}  # sha256 -> path, of this message's files
            for name, data in files:
                entries.extend(take(ledger, settings, unit, base, name, data, landed_now))
    with ledger.transaction() as con:
        for entry in entries:
            Ledger.add(con, entry)
        Ledger.message_handled(con, channel.name, fetched.uidvalidity, fetched.uid, mid, sha)
        if receipt_to:
            receipts.owe_receipt(
                con, channel.name, key, receipt_to, header_text(message, "Subject")
            )
    return entries


def take(
    ledger: Ledger,
    settings: Settings,
    unit: Unit,
    base: dict,
    name: str,
    data: bytes,
    landed_now: dict[str, str] | None = None,
) -> list[Entry]:
    """Sort out one file a unit sent and land what is taken; ``landed_now``: what the same
    message or listing already landed (not yet in the ledger), so a copy in it is a duplicate."""
    landed_now = {} if landed_now is None else landed_now
    pieces, refused = sort_out(name, data)
    who = {**base, "provider": unit.provider, "unit": unit.label}
    entries = [_refused(who, r) for r in refused]
    for piece in pieces:
        sha = sha256_of(piece.data)
        shown = piece.name if piece.inside is None else f"{piece.inside}/{piece.name}"
        common = {**who, "original_name": shown, "sha256": sha, "size": len(piece.data)}
        earlier = landed_now.get(sha) or ledger.landed_sha(unit.provider, unit.label, sha)
        if earlier is not None:
            entries.append(Entry(**common, status="duplicate", landed_path=earlier,
                                 reason=f"与已收到的 {earlier} 内容完全相同，未重复保存"))  # fmt: skip
            continue
        name = _distinct(piece.name, landed_now)
        try:
            landed = land(settings.inbox, unit, name, piece.data)
        except CannotLand as exc:
            entries.append(Entry(**common, status="refused", reason=str(exc)))
            continue
        landed_now[sha] = landed.rel
        keep_version(settings.intake_dir, sha, piece.data)
        reason = "同名文件已更新为本次发送的版本" if landed.replaced else None
        entries.append(Entry(**common, status="landed", landed_path=landed.rel, reason=reason))
    return entries


def _distinct(name: str, landed_now: dict[str, str]) -> str:
    """``name``, or 名（2）.xlsx when another file of the same message or zip already landed
    under it (two attachments, or a zip's a/报表.xlsx and b/报表.xlsx): none overwrites another."""
    taken = {path.rsplit("/", 1)[-1] for path in landed_now.values()}
    if name not in taken:
        return name
    stem, dot, ext = name.rpartition(".")
    stem, ext = (stem, f".{ext}") if dot and stem else (name, "")
    n = 2
    while f"{stem}（{n}）{ext}" in taken:
        n += 1
    return f"{stem}（{n}）{ext}"


def _refused(who: dict, refusal: Refusal) -> Entry:
    name = refusal.name if refusal.inside is None else f"{refusal.inside}/{refusal.name}"
    return Entry(
        **who, status="refused", original_name=name, size=refusal.size, reason=refusal.reason
    )


def _keep_aside(settings: Settings, sha: str, raw: bytes) -> str:
    """Mail from an unknown sender, kept whole for the department: ``intake/kept_aside``."""
    folder = settings.intake_dir / "kept_aside"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha[:16]}.eml"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(raw)
        os.replace(tmp, path)
    return str(path.relative_to(settings.home))


def _unreadable(
    ledger: Ledger, settings: Settings, channel: Channel, fetched, exc: Exception
) -> list[Entry]:
    """A message intake's own code failed on: kept aside whole, recorded as refused with the
    error, and marked handled, so that it never blocks the mail after it. What it may have
    landed before the failure stays in the inbox (the night reads it)."""
    sha = sha256_of(fetched.raw)
    kept = _keep_aside(settings, sha, fetched.raw)
    key = f"{fetched.uidvalidity}:{fetched.uid}"
    entry = Entry(
        channel=channel.name,
        source_key=key,
        status="refused",
        reason=f"邮件无法处理（{type(exc).__name__}），已留存待组织部核实：{kept}",
    )
    with ledger.transaction() as con:
        Ledger.add(con, entry)
        Ledger.message_handled(con, channel.name, fetched.uidvalidity, fetched.uid, None, sha)
    return [entry]


def pull_mailbox(
    ledger: Ledger, settings: Settings, senders: SenderMap, channel: Channel, result: PullResult
) -> None:
    try:
        creds = credentials(channel.connection)
    except Exception as exc:  # no such connection: this channel fails, the others still run
        raise imap.MailboxError(
            f"找不到连接 {channel.connection}：{type(exc).__name__}: {exc}"
        ) from exc
    client = imap.connect(creds)
    try:
        uidvalidity = imap.examine(client, channel.folder)
        known = ledger.known_uids(channel.name, uidvalidity)
        handled = []
        for fetched in imap.new_messages(client, channel, known):
            try:
                entries = handle_message(ledger, settings, senders, channel, fetched)
            except Exception as exc:
                log.exception("intake could not handle message %s of %s", fetched.uid, channel.name)
                entries = _unreadable(ledger, settings, channel, fetched, exc)
            for entry in entries:
                result.counts[entry.status] += 1
            result.messages += 1
            handled.append(fetched.uid)
        imap.move(client, channel, handled)
    finally:
        try:
            client.logout()
        except (OSError, imap.imaplib.IMAP4.error):
            pass


def pull(settings: Settings, only: str | None = None) -> PullResult:
    """Every configured channel once (or the one named ``only``). A channel that cannot be read
    is reported and the others still run."""
    senders = load_senders(settings.senders, settings.gazetteer)
    result = PullResult()
    channels = [c for c in senders.channels if only in (None, c.name)]
    if not channels:
        return result
    with _one_pull_at_a_time(settings):
        _clear_half_landed(settings.inbox)
        _pull_channels(settings, senders, channels, result)
    return result


@contextmanager
def _one_pull_at_a_time(settings: Settings):
    """An exclusive lock on ``intake/pull.lock``: the DAG and ``outreach pull`` never pull at
    once (the second waits), so what a pull finds half-done was left by one that died."""
    settings.intake_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.intake_dir, 0o700)
    with open(settings.intake_dir / "pull.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _clear_half_landed(inbox: Path) -> None:
    """Temporary files of a landing a killed pull never renamed (hidden: the night never read
    them); the message they came from was not recorded, so this pull lands it again."""
    if inbox.is_dir():
        for path in inbox.rglob(".landing-*"):
            if path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)


def _pull_channels(
    settings: Settings, senders: SenderMap, channels: list, result: PullResult
) -> None:
    ledger = open_ledger(settings.intake_dir)
    receipts.ensure_table(ledger)
    try:
        for channel in channels:
            result.channels.append(channel.name)
            try:
                if channel.kind == "imap":
                    pull_mailbox(ledger, settings, senders, channel, result)
                else:
                    pull_folder(ledger, settings, senders, channel, result)
            except (imap.MailboxError, FolderError) as exc:
                result.errors.append(f"{channel.name}: {exc}")
        run_id = dt.datetime.now(dt.UTC).strftime("intake_%Y%m%dT%H%M%SZ")
        result.receipts.update(receipts.send_receipts(settings, ledger, run_id))
    finally:
        ledger.close()
