"""The department's collection mailbox, read over IMAP without touching the clerks' mail.

The folder is opened with ``EXAMINE`` (read-only) and messages fetched with ``BODY.PEEK[]``, so
nothing is marked read and nothing is deleted. Airflow's ImapHook is not used: it selects
read-write, fetches ``RFC822`` (which sets ``\\Seen``) and drops the sender and Message-ID.
A message is known by UIDVALIDITY + UID; when the server's UIDVALIDITY changes (a rebuilt
mailbox numbers everything anew) by Message-ID + the sha256 of its bytes, so nothing is taken
twice. Handled mail is moved to ``move_to`` only when the channel names one.

The credentials are an Airflow Connection: host, port, login, password; ``extra``
``{"security": "ssl"}`` (the default on port 993), ``"starttls"`` or ``"none"`` (plain text:
allowed only to this machine, as the tests' server is).
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import email.utils
import imaplib
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from outreach.intake.senders import Channel


class MailboxError(RuntimeError):
    """The mailbox could not be read (connection, login, folder); nothing was changed."""


@dataclass(frozen=True)
class Credentials:
    host: str
    port: int | None
    login: str
    password: str
    extra: dict[str, Any]


@dataclass(frozen=True)
class Fetched:
    uidvalidity: str
    uid: int
    raw: bytes
    received_at: str | None = None  # the server's INTERNALDATE (when the mail arrived), ISO


def is_loopback(host: str) -> bool:
    try:
        return all(
            ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None)
        )
    except (OSError, ValueError):
        return False


def connect(creds: Credentials, timeout: float = 60) -> imaplib.IMAP4:
    security = str(
        creds.extra.get("security") or ("ssl" if creds.port in (None, 993) else "starttls")
    )
    client: imaplib.IMAP4 | None = None
    try:
        if security == "ssl":
            client = imaplib.IMAP4_SSL(
                creds.host,
                creds.port or 993,
                ssl_context=ssl.create_default_context(),
                timeout=timeout,
            )
        else:
            client = imaplib.IMAP4(creds.host, creds.port or 143, timeout=timeout)
            if security == "starttls":
                client.starttls(ssl.create_default_context())
            elif security != "none" or not is_loopback(creds.host):
                client.shutdown()
                raise MailboxError(
                    f"不加密的 IMAP 连接只允许连到本机，{creds.host} 请设 security 为 ssl 或 starttls"
                )
        client.login(creds.login, creds.password)
    except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
        if client is not None:  # a refused login leaves the socket open
            try:
                client.shutdown()
            except OSError:
                pass
        raise MailboxError(f"无法登录邮箱 {creds.login}@{creds.host}：{exc}") from exc
    return client


def _utf7(folder: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 5.1.3): 已收取 is ``&XfJlNlPW-``."""
    out, run = [], []

    def flush() -> None:
        if run:
            b64 = base64.b64encode("".join(run).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + b64.replace("/", ",") + "-")
            run.clear()

    for ch in folder:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def _quote(folder: str) -> str:
    return '"' + _utf7(folder).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(result: tuple[str, list], what: str) -> list:
    typ, data = result
    if typ != "OK":
        raise MailboxError(f"{what}：{data!r}")
    return data


def examine(client: imaplib.IMAP4, folder: str) -> str:
    """Open ``folder`` read-only (EXAMINE); its UIDVALIDITY."""
    _ok(client.select(_quote(folder), readonly=True), f"无法打开邮件夹 {folder}")
    value = client.untagged_responses.get("UIDVALIDITY", [None])[-1]
    if value is None:
        _, data = client.status(_quote(folder), "(UIDVALIDITY)")
        m = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
        value = m.group(1) if m else b"0"
    return value.decode() if isinstance(value, bytes) else str(value)


def uids(client: imaplib.IMAP4) -> list[int]:
    data = _ok(client.uid("SEARCH", None, "ALL"), "无法列出邮件")
    return sorted(int(u) for u in (data[0] or b"").split())


_INTERNALDATE = re.compile(rb'INTERNALDATE "\s?(\d{1,2}-\w{3}-\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4})"')


def fetch(client: imaplib.IMAP4, uid: int) -> tuple[bytes, str | None] | None:
    """The whole message, without setting \\Seen, and when the server received it (its
    INTERNALDATE, ISO); None when it is gone."""
    data = _ok(client.uid("FETCH", str(uid), "(INTERNALDATE BODY.PEEK[])"), f"无法读取邮件 {uid}")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            found = _INTERNALDATE.search(item[0])
            received = None
            if found:
                try:
                    stamp = dt.datetime.strptime(found.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")
                    received = stamp.astimezone(dt.UTC).isoformat(timespec="seconds")
                except ValueError:
                    received = None
            return item[1], received
    return None


def new_messages(client: imaplib.IMAP4, channel: Channel, known: set[int]) -> Iterator[Fetched]:
    uidvalidity = examine(client, channel.folder)
    for uid in uids(client):
        if uid in known:
            continue
        got = fetch(client, uid)
        if got is not None:
            yield Fetched(uidvalidity, uid, got[0], got[1])


def move(client: imaplib.IMAP4, channel: Channel, handled: list[int]) -> None:
    """Move handled mail to ``channel.move_to`` (its flags, unread included, kept)."""
    if not channel.move_to or not handled:
        return
    _ok(client.select(_quote(channel.folder)), f"无法打开邮件夹 {channel.folder}")
    target = _quote(channel.move_to)
    client.create(target)  # already there: a NO answer, harmless
    typ, data = client.capability()  # what the server offers once logged in
    capabilities = set(data[-1].decode().upper().split()) if typ == "OK" and data else set()
    if "MOVE" not in capabilities and "UIDPLUS" not in capabilities:
        # COPY + EXPUNGE would also remove mail the clerks marked deleted themselves
        raise MailboxError(
            f"邮件服务器不支持 MOVE 或 UIDPLUS，无法只移动已收取的邮件到 {channel.move_to}"
        )
    for uid in handled:
        if "MOVE" in capabilities:
            _ok(client.uid("MOVE", str(uid), target), f"无法移动邮件 {uid}")
        else:
            _ok(client.uid("COPY", str(uid), target), f"无法复制邮件 {uid}")
            _ok(client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), "无法标记邮件")
            _ok(client.uid("EXPUNGE", str(uid)), f"无法移动邮件 {uid}")  # this one only


def parse(raw: bytes) -> email.message.Message:
    """The message in the compat32 policy: raw header values, decoded by ``attachments``."""
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def sender_address(message: email.message.Message) -> str:
    return email.utils.parseaddr(str(message.get("From", "")))[1].strip().lower()


def message_id(message: email.message.Message) -> str | None:
    value = str(message.get("Message-ID", "") or "").strip()
    return value or None
