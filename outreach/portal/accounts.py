"""The portal's accounts: one per unit (a township of the gazetteer, a joint branch, an
enterprise) and the department's (组织部) admins, in their own SQLite file under
``OUTREACH_HOME/portal`` (never the build file: the portal writes it while the night runs).

Passwords are hashed with argon2 (pwdlib). An account starts with a random first password that
must be changed at the first sign-in; ``reset`` gives a new one the same way. Five wrong
passwords in a row lock the account for fifteen minutes. Every sign-in, failure, lock, change,
reset and disable is a row of the audit log. The account decides the unit a file lands for,
never the file or a form field.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ingest.places import load_gazetteer
from outreach.intake.senders import SendersError, Unit, parse_unit

ROLES = ("unit", "admin")
# The signed-in session's cookie, set by the portal and read by the dashboard (same host name)
SESSION_COOKIE = "portal_session"
MAX_FAILURES = 5
LOCK_FOR = dt.timedelta(minutes=15)
MIN_PASSWORD = 10
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")

_SCHEMA = """
create table if not exists accounts (
    username text primary key,
    role text not null check (role in ('unit', 'admin')),
    provider text,
    unit text,
    password_hash text not null,
    must_change integer not null default 1,
    disabled integer not null default 0,
    failures integer not null default 0,
    locked_until text,
    created_at text not null,
    updated_at text not null
);
create table if not exists sessions (
    id text primary key,
    username text not null,
    csrf text not null,
    expires_at text not null
);
create table if not exists audit (
    id integer primary key,
    at text not null,
    username text not null,
    event text not null,
    detail text
);
"""


class AccountError(ValueError):
    """What was asked of the accounts cannot be done; the message says why (Chinese first)."""


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    unit: Unit | None  # None for an admin
    must_change: bool
    disabled: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class SignIn:
    account: Account | None  # None: refused
    reason: str | None = None  # why, when refused (the same words for a wrong name or password)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hasher():
    from pwdlib import PasswordHash

    return PasswordHash.recommended()


def first_password() -> str:
    """A random password to hand over once (16 characters, no look-alikes)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


class Accounts:
    def __init__(self, path: Path, gazetteer: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        self.gazetteer = gazetteer
        self.con = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.con.execute("pragma journal_mode=wal")
        self.con.executescript(_SCHEMA)

    def close(self) -> None:
        self.con.close()

    def _audit(self, username: str, event: str, detail: str | None = None) -> None:
        self.con.execute(
            "insert into audit (at, username, event, detail) values (?, ?, ?, ?)",
            (_now().isoformat(timespec="seconds"), username, event, detail),
        )

    def _row(self, username: str):
        return self.con.execute(
            "select username, role, provider, unit, password_hash, must_change, disabled, "
            "failures, locked_until from accounts where username = ?",
            (username,),
        ).fetchone()

    @staticmethod
    def _account(row) -> Account:
        username, role, provider, unit, *_rest = row
        must_change, disabled = row[5], row[6]
        folders = tuple(unit.split("/")) if unit else ()
        return Account(
            username,
            role,
            Unit(provider, folders) if role == "unit" else None,
            bool(must_change),
            bool(disabled),
        )

    def add(
        self, username: str, role: str, provider: str | None = None, unit: str | None = None
    ) -> str:
        """A new account; returns its first password (shown once, to hand over)."""
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise AccountError(
                f"用户名“{username}”不可用：3 到 40 个小写字母、数字或 . _ -，以字母或数字开头"
            )
        if role not in ROLES:
            raise AccountError(f"角色须为 {' 或 '.join(ROLES)}，而不是 {role!r}")
        if role == "admin":
            if provider or unit:
                raise AccountError("组织部管理员账号不属于任何报送单位")
            label = None
        else:
            try:
                parsed = parse_unit(
                    {"provider": provider, "unit": unit}, load_gazetteer(self.gazetteer), username
                )
            except SendersError as exc:
                raise AccountError(f"报送单位不可用：{exc}") from exc
            provider, label = parsed.provider, "/".join(parsed.folders) or None
        password = first_password()
        now = _now().isoformat(timespec="seconds")
        try:
            self.con.execute(
                "insert into accounts (username, role, provider, unit, password_hash, "
                "must_change, created_at, updated_at) values (?, ?, ?, ?, ?, 1, ?, ?)",
                (username, role, provider, label, _hasher().hash(password), now, now),
            )
        except sqlite3.IntegrityError as exc:
            raise AccountError(f"用户名“{username}”已存在") from exc
        self._audit(username, "added", f"{role} {provider or ''} {label or ''}".strip())
        return password

    def get(self, username: str) -> Account | None:
        row = self._row(username.strip().lower())
        return self._account(row) if row else None

    def list(self) -> list[Account]:
        rows = self.con.execute(
            "select username, role, provider, unit, password_hash, must_change, disabled, "
            "failures, locked_until from accounts order by role, provider, unit, username"
        ).fetchall()
        return [self._account(r) for r in rows]

    def sign_in(self, username: str, password: str, now: dt.datetime | None = None) -> SignIn:
        """The account, when the password is right and the account usable. A wrong name and a
        wrong password are refused in the same words; the fifth wrong password in a row locks
        the account for fifteen minutes (the right one is refused meanwhile too)."""
        now = now or _now()
        name = username.strip().lower()
        refused = "用户名或密码不正确"
        row = self._row(name)
        hasher = _hasher()
        if row is None:
            hasher.hash(password)  # the same time as a real check: names cannot be probed
            return SignIn(None, refused)
        locked_until = dt.datetime.fromisoformat(row[8]) if row[8] else None
        if row[6]:
            self._audit(name, "sign_in_refused", "disabled")
            return SignIn(None, "账号已停用，请与县委组织部联系")
        if locked_until and now < locked_until:
            self._audit(name, "sign_in_refused", "locked")
            return SignIn(None, f"密码错误次数过多，账号已锁定至 {locked_until:%H:%M}（UTC）")
        if not hasher.verify(password, row[4]):
            failures = row[7] + 1
            lock = (
                (now + LOCK_FOR).isoformat(timespec="seconds") if failures >= MAX_FAILURES else None
            )
            self.con.execute(
                "update accounts set failures = ?, locked_until = ? where username = ?",
                (0 if lock else failures, lock, name),
            )
            self._audit(name, "locked" if lock else "sign_in_failed", f"failure {failures}")
            return SignIn(None, refused)
        self.con.execute(
            "update accounts set failures = 0, locked_until = null where username = ?", (name,)
        )
        self._audit(name, "signed_in")
        return SignIn(self._account(self._row(name)))

    def change_password(self, username: str, old: str, new: str) -> None:
        name = username.strip().lower()
        row = self._row(name)
        if row is None or not _hasher().verify(old, row[4]):
            raise AccountError("原密码不正确")
        if len(new) < MIN_PASSWORD:
            raise AccountError(f"新密码至少 {MIN_PASSWORD} 个字符")
        if new == old or name in new.lower():
            raise AccountError("新密码不能与原密码相同，也不能包含用户名")
        self._update(
            name, "password_changed", "password_hash = ?, must_change = 0", _hasher().hash(new)
        )

    def reset(self, username: str) -> str:
        """A new first password (to be changed at the next sign-in); unlocks the account."""
        name = username.strip().lower()
        if self._row(name) is None:
            raise AccountError(f"没有用户名为“{name}”的账号")
        password = first_password()
        changes = "password_hash = ?, must_change = 1, failures = 0, locked_until = null"
        self._update(name, "reset", changes, _hasher().hash(password))
        return password

    def disable(self, username: str) -> None:
        name = username.strip().lower()
        if self._row(name) is None:
            raise AccountError(f"没有用户名为“{name}”的账号")
        self._update(name, "disabled", "disabled = 1")

    def new_session(
        self, username: str, lifetime: dt.timedelta = dt.timedelta(hours=8)
    ) -> tuple[str, str]:
        """A signed-in session: its id (the cookie) and its CSRF token (every form)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = (_now() + lifetime).isoformat(timespec="seconds")
        self.con.execute("insert into sessions values (?, ?, ?, ?)", (sid, username, csrf, expires))
        return sid, csrf

    def session(self, sid: str | None) -> tuple[Account, str] | None:
        """The account and CSRF token of a live session of a usable account, else None."""
        if not sid:
            return None
        row = self.con.execute(
            "select username, csrf, expires_at from sessions where id = ?", (sid,)
        ).fetchone()
        if row is None or dt.datetime.fromisoformat(row[2]) < _now():
            return None
        account = self.get(row[0])
        if account is None or account.disabled:
            return None
        return account, row[1]

    def end_session(self, sid: str | None) -> None:
        if sid:
            self.con.execute("delete from sessions where id = ?", (sid,))

    def audit(self, username: str, event: str, detail: str | None = None) -> None:
        self._audit(username, event, detail)

    def _update(self, name: str, event: str, changes: str, *values) -> None:
        """``changes`` (code, never input) to the account, which ends its sessions: a password
        change, a reset or a disable signs it out everywhere."""
        self.con.execute(
            f"update accounts set {changes}, updated_at = ? where username = ?",
            (*values, _now().isoformat(timespec="seconds"), name),
        )
        self.con.execute("delete from sessions where username = ?", (name,))
        self._audit(name, event)

    def audit_log(self, username: str | None = None) -> list[tuple[str, str, str, str | None]]:
        where, params = ("where username = ?", [username]) if username else ("", [])
        return self.con.execute(
            f"select at, username, event, detail from audit {where} order by id", params
        ).fetchall()


def open_accounts(settings) -> Accounts:
    return Accounts(settings.home / "portal" / "accounts.sqlite3", Path(settings.gazetteer))


def signed_in(settings, sid: str | None) -> tuple[Account, str] | None:
    """The account and CSRF token of the live session ``sid`` (the session cookie), else None."""
    accounts = open_accounts(settings)
    try:
        return accounts.session(sid)
    finally:
        accounts.close()
