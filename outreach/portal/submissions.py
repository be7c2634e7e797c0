"""我的报送: every file a unit sent, by any channel (the fetch ledger), with what the night made
of it (the published ``marts.fct_submissions``), and for a resent file what changed.

A unit's account sees its own unit's rows only; a department account sees every unit's. An id
in a URL that is another unit's is answered as one that does not exist.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import duckdb

from outreach.intake.land import version_path
from outreach.intake.ledger import INTAKE_STATUS_LABELS, open_read_only
from outreach.portal.accounts import Account
from outreach.portal.resend import ResendDiff, diff_versions
from outreach.settings import Settings

LOAD_LABELS = {
    "current": "已入库",
    "superseded": "已入库，后被新版本替换",
    "quarantined": "整份文件未能读取，已隔离",
}

_COLUMNS = (
    "id, channel, provider, unit, original_name, landed_path, sha256, fetched_at, status, reason"
)


@dataclass(frozen=True)
class Submission:
    id: int
    channel: str
    provider: str | None
    unit: str | None
    original_name: str | None
    landed_path: str | None
    sha256: str | None
    fetched_at: str
    status: str
    reason: str | None
    # after the night that read it (marts.fct_submissions of the published file), else None
    load_status: str | None = None
    rows_loaded: int | None = None
    rows_returned: int | None = None

    @property
    def outcome(self) -> str:
        """What became of it, in Chinese: intake's result, then the night's."""
        if self.status != "landed":
            return INTAKE_STATUS_LABELS.get(self.status, self.status)
        if self.load_status is None:
            return "已收取，待夜间入库"
        label = LOAD_LABELS.get(self.load_status, self.load_status)
        if self.load_status == "quarantined":
            return label
        return f"{label}：加载 {self.rows_loaded or 0} 行，退回 {self.rows_returned or 0} 行"


def _ledger(settings: Settings) -> sqlite3.Connection | None:
    return open_read_only(settings.intake_dir)


def _scope(account: Account) -> tuple[str, list]:
    if account.unit is None:  # the department sees every unit
        return "true", []
    return "provider = ? and unit is ?", [account.unit.provider, account.unit.label or None]


def _night(settings: Settings, ids: list[int]) -> dict[int, tuple]:
    """submission id -> (load status, rows loaded, rows returned) of the published warehouse."""
    db = settings.published_db
    if not ids or not db.exists():
        return {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select submission_id, load_status, rows_loaded, rows_quarantined "
            "from marts.fct_submissions where submission_id in (select unnest(?))",
            [ids],
        ).fetchall()
    except duckdb.CatalogException:  # a warehouse published before intake existed
        return {}
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


def listed(settings: Settings, account: Account, limit: int = 200) -> list[Submission]:
    """The account's unit's submissions (every unit's for the department), newest first."""
    con = _ledger(settings)
    if con is None:
        return []
    where, params = _scope(account)
    try:
        rows = con.execute(
            f"select {_COLUMNS} from objects where {where} order by id desc limit ?",
            [*params, limit],
        ).fetchall()
    finally:
        con.close()
    night = _night(settings, [r[0] for r in rows])
    return [Submission(*r, *night.get(r[0], ())) for r in rows]


def one(settings: Settings, account: Account, submission_id: int) -> Submission | None:
    """The submission, if it is the account's unit's (any for the department), else None."""
    con = _ledger(settings)
    if con is None:
        return None
    where, params = _scope(account)
    try:
        row = con.execute(
            f"select {_COLUMNS} from objects where id = ? and {where}", [submission_id, *params]
        ).fetchone()
    finally:
        con.close()
    if row is None:
        return None
    return Submission(*row, *_night(settings, [row[0]]).get(row[0], ()))


def previous(settings: Settings, sub: Submission) -> Submission | None:
    """The version that this landed file replaced (the last other bytes landed at its path)."""
    if sub.status != "landed" or not sub.landed_path:
        return None
    con = _ledger(settings)
    try:
        row = con.execute(
            f"select {_COLUMNS} from objects where landed_path = ? and status = 'landed' "
            "and id < ? and sha256 <> ? order by id desc limit 1",
            [sub.landed_path, sub.id, sub.sha256],
        ).fetchone()
    finally:
        con.close()
    return Submission(*row) if row else None


def changes(settings: Settings, sub: Submission) -> tuple[Submission, ResendDiff] | None:
    """For a resent file: the version before it and what changed; None for a first version."""
    before = previous(settings, sub)
    if before is None:
        return None
    old, new = (version_path(settings.intake_dir, s.sha256) for s in (before, sub))
    if not old.is_file() or not new.is_file():
        return before, ResendDiff(problem="没有保存该文件早先版本的内容，无法比较")
    return before, diff_versions(settings, sub.landed_path, old, new)
