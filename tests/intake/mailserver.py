"""A real IMAP server for the intake tests: Dovecot (Debian's dovecot-imapd, installed by
``make mail-deps``), run from a configuration in a temporary folder on a free loopback port,
with passwd-file logins and Maildir mailboxes. Mail is delivered as Dovecot's own LDA would
leave it: a file in the mailbox's ``Maildir/new``. Dovecot refuses uid 0 for a mail user, so
the mailboxes belong to ``nobody`` when the tests run as root."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """A server process of its own session group on a loopback port: started until it listens,
    stopped with its children."""

    name = "server"
    port: int
    proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def log(self) -> str:
        return ""

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                output = self.proc.stdout.read().decode(errors="replace")
                raise RuntimeError(f"{self.name} exited: {output}\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not listen on {self.port}\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


class Dovecot(LocalServer):
    name = "dovecot"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.users: dict[str, str] = {}
        owner = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        self.uid, self.gid = owner.pw_uid, owner.pw_gid
        self.mail = root / "mail"
        self.mail.mkdir(parents=True)
        self._chown(self.mail)
        self.config = root / "dovecot.conf"

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self.uid, self.gid)

    def add_user(self, login: str, password: str) -> None:
        self.users[login] = password
        home = self.mail / login
        for sub in ("", "Maildir", "Maildir/new", "Maildir/cur", "Maildir/tmp"):
            (home / sub).mkdir(exist_ok=True)
            self._chown(home / sub)
        lines = [
            f"{u}:{{PLAIN}}{p}:{self.uid}:{self.gid}::{self.mail / u}::"
            for u, p in self.users.items()
        ]
        (self.root / "passwd").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def write_config(self) -> None:
        run = self.root / "run"
        run.mkdir(exist_ok=True)
        me = pwd.getpwuid(os.geteuid()).pw_name
        self.config.write_text(
            f"""
base_dir = {run}
state_dir = {self.root / "state"}
log_path = {self.root / "dovecot.log"}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {me if os.geteuid() else "dovecot"}
default_login_user = {me if os.geteuid() else "dovenull"}
mail_location = maildir:~/Maildir
first_valid_uid = {min(self.uid, 500) if os.geteuid() else 1}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root / "passwd"}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.root / "passwd"}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service auth {{
  user = {"root" if os.geteuid() == 0 else me}
}}
""",
            encoding="utf-8",
        )
        (self.root / "state").mkdir(exist_ok=True)

    def command(self) -> list[str]:
        self.write_config()
        return [DOVECOT, "-F", "-c", str(self.config)]

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def deliver(self, login: str, raw: bytes) -> Path:
        """A message in the mailbox, unread, as a delivery agent leaves it."""
        maildir = self.mail / login / "Maildir"
        name = f"{time.time_ns()}.{uuid.uuid4().hex}.outreach-test"
        tmp = maildir / "tmp" / name
        tmp.write_bytes(raw)
        self._chown(tmp)
        final = maildir / "new" / name
        os.replace(tmp, final)
        return final

    def reset_uidvalidity(self, login: str) -> None:
        """Forget the mailbox's UID list and indexes, as a rebuilt server does: every message
        gets a new UID under a new UIDVALIDITY."""
        self.stop()
        time.sleep(1.1)  # UIDVALIDITY is a time in seconds
        maildir = self.mail / login / "Maildir"
        for path in maildir.rglob("dovecot*"):
            if path.is_file():
                path.unlink()
        self.start()

    def client(self, login: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        client.login(login, self.users[login])
        return client

    def flags(self, login: str, folder: str = "INBOX") -> list[str]:
        """Every message's flags, read without changing them (EXAMINE)."""
        client = self.client(login)
        try:
            typ, data = client.select(folder, readonly=True)
            if typ != "OK" or int(data[0] or 0) == 0:
                return []
            typ, data = client.fetch("1:*", "(FLAGS)")
            return [d.decode() for d in data if d] if typ == "OK" else []
        finally:
            client.logout()
