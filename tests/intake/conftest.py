"""The intake tests' servers: a Dovecot IMAP server (tests/intake/mailserver.py) and the
collection mailbox's Airflow Connection in the environment, as a deployment sets it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.intake.mailserver import DOVECOT, Dovecot
from tests.intake.sshserver import SSHD, Sshd

MAILBOX = "collect@county.test"
PASSWORD = "collect-pass-2026"


@pytest.fixture(scope="session")
def dovecot():
    if not Path(DOVECOT).exists():
        pytest.fail("Dovecot is not installed: `make mail-deps` installs dovecot-imapd")
    # not under pytest's tmp folders (0700 for root): Dovecot's mail processes run as nobody
    root = Path(tempfile.mkdtemp(prefix="outreach-dovecot-"))
    os.chmod(root, 0o755)
    server = Dovecot(root)
    server.add_user(MAILBOX, PASSWORD)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mailbox(dovecot, monkeypatch):
    """An empty collection mailbox and its Connection (``outreach_mailbox``)."""
    dovecot.stop()
    maildir = dovecot.mail / MAILBOX / "Maildir"
    for path in list(maildir.iterdir()):
        if path.name not in ("new", "cur", "tmp"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for sub in ("new", "cur", "tmp"):
        for path in (maildir / sub).iterdir():
            path.unlink()
    dovecot.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_OUTREACH_MAILBOX",
        f"imap://{MAILBOX.replace('@', '%40')}:{PASSWORD}@127.0.0.1:{dovecot.port}/?security=none",
    )
    return dovecot


@pytest.fixture(scope="session")
def sshd():
    if not Path(SSHD).exists():
        pytest.fail("OpenSSH's sshd is not installed: `make mail-deps` installs openssh-server")
    server = Sshd(Path(tempfile.mkdtemp(prefix="outreach-sshd-")))
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def share(sshd, tmp_path, monkeypatch):
    """A partner's upload folder on the SFTP server, and its Connection (``outreach_sftp``)."""
    import json
    import urllib.parse

    folder = tmp_path / "upload"
    folder.mkdir()
    extra = urllib.parse.quote(
        json.dumps({"key_file": str(sshd.client_key), "host_key": sshd.host_key_line})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_OUTREACH_SFTP",
        f"sftp://{sshd.user}@127.0.0.1:{sshd.port}/?__extra__={extra}",
    )
    return folder


class SmtpInbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch):
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {
            "from_email": "shouqu@county.test",
            "disable_ssl": True,
            "disable_tls": True,
            "timeout": 5,
            "retry_limit": 0,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(conn))
    yield inbox
    controller.stop()


def intake_home(tmp_path: Path, senders: str):
    """Settings of a fresh OUTREACH_HOME under ``tmp_path`` whose senders file holds ``senders``."""
    from outreach.settings import load_settings

    path = tmp_path / "senders.yml"
    path.write_text(senders, encoding="utf-8")
    return load_settings({"OUTREACH_HOME": str(tmp_path / "home"), "OUTREACH_SENDERS": str(path)})
