"""The fetch ledger: one row per object intake saw, in SQLite under ``OUTREACH_HOME/intake``.

Not the build file: intake writes it while the night may be running, and the night's one writer
copies it into ``raw`` (``marts.fct_submissions``). SQLite in WAL mode lets the night read while
intake writes.

``objects``: one row per attachment, zip member, remote file or refused mail: channel, source
key (``<uidvalidity>:<uid>`` of a message, a remote file's path), message id, sender, provider,
unit, original name, landed path (under the inbox), sha256, size, fetched at, status
(``landed``, ``duplicate``, ``refused``, ``unknown_sender``) and the reason in Chinese.
``messages``: each message handled, by channel + UIDVALIDITY + UID and by Message-ID + sha256
of its bytes (when the server's UIDVALIDITY changes, the same mail is known by those).
``remote_files``: what a folder's last listings showed (path, size, mtime or etag), so a file is
taken once its size is stable across two listings and never twice unchanged.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

STATUSES = ("landed", "duplicate", "refused", "unknown_sender")
# how each status is shown to people (the run report, the portal's 我的报送)
INTAKE_STATUS_LABELS = {
    "landed": "已收取",
    "duplicate": "重复",
    "refused": "拒收",
    "unknown_sender": "发件人未登记",
}

_SCHEMA = """
create table if not exists objects (
    id integer primary key,
    channel text not null,
    source_key text not null,
    message_id text,
    sender text,
    provider text,
    unit text,
    original_name text,
    landed_path text,
    sha256 text,
    size integer,
    fetched_at text not null,
    status text not null check (status in ('landed', 'duplicate', 'refused', 'unknown_sender')),
    reason text,
    received_at text
);
create index if not exists objects_by_sha on objects (provider, unit, sha256);
create table if not exists messages (
    channel text not null,
    uidvalidity text not null,
    uid integer not null,
    message_id text,
    sha256 text not null,
    handled_at text not null,
    primary key (channel, uidvalidity, uid)
);
create index if not exists messages_by_id on messages (channel, message_id, sha256);
create table if not exists remote_files (
    channel text not null,
    path text not null,
    size integer not null,
    stamp text not null,
    seen_at text not null,
    taken integer not null default 0,
    primary key (channel, path)
);
"""


@dataclass(frozen=True)
class Entry:
    channel: str
    source_key: str
    status: str
    reason: str | None = None
    message_id: str | None = None
    sender: str | None = None
    provider: str | None = None
    unit: str | None = None
    original_name: str | None = None
    landed_path: str | None = None
    sha256: str | None = None
    size: int | None = None
    received_at: str | None = None  # when the server received it (IMAP INTERNALDATE; a
    # remote file: the listing that first showed this version), ISO


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        self.path = path
        self.con = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.con.execute("pragma journal_mode=wal")
        self.con.execute("pragma synchronous=full")
        self.con.executescript(_SCHEMA)
        columns = {r[1] for r in self.con.execute("pragma table_info(objects)")}
        if "received_at" not in columns:  # a ledger written before the column existed
            self.con.execute("alter table objects add column received_at text")

    def close(self) -> None:
        self.con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic step: what a message or a file did is recorded all at once, or not."""
        self.con.execute("begin immediate")
        try:
            yield self.con
        except BaseException:
            self.con.execute("rollback")
            raise
        self.con.execute("commit")

    @staticmethod
    def add(con: sqlite3.Connection, entry: Entry) -> None:
        assert entry.status in STATUSES, entry.status
        row = asdict(entry)
        row["fetched_at"] = now()
        columns = ", ".join(row)
        con.execute(
            f"insert into objects ({columns}) values ({', '.join('?' * len(row))})",
            list(row.values()),
        )

    def landed_sha(self, provider: str, unit: str, sha256: str) -> str | None:
        """The inbox path that holds this unit's same bytes now, if one does: the bytes landed
        there and nothing else landed there since (a path resent with other bytes, then with the
        first ones again, holds the second version: the third send is not a duplicate)."""
        row = self.con.execute(
            """
            select o.landed_path from objects as o
            where o.provider = ? and o.unit = ? and o.sha256 = ? and o.status = 'landed'
              and not exists (
                select 1 from objects as later
                where later.landed_path = o.landed_path and later.status = 'landed'
                  and later.id > o.id and later.sha256 <> o.sha256
              )
            order by o.id desc limit 1
            """,
            (provider, unit, sha256),
        ).fetchone()
        return row[0] if row else None

    def message_seen(
        self, channel: str, uidvalidity: str, uid: int, message_id: str | None, sha256: str | None
    ) -> bool:
        if self.con.execute(
            "select 1 from messages where channel = ? and uidvalidity = ? and uid = ?",
            (channel, uidvalidity, uid),
        ).fetchone():
            return True
        if sha256 is None:
            return False
        # under another UIDVALIDITY only: the same mail delivered twice into one mailbox is two
        # messages (its attachments are then recorded as duplicates)
        return bool(
            self.con.execute(
                "select 1 from messages where channel = ? and sha256 = ? and uidvalidity <> ? "
                "and coalesce(message_id, '') = coalesce(?, '')",
                (channel, sha256, uidvalidity, message_id),
            ).fetchone()
        )

    def known_uids(self, channel: str, uidvalidity: str) -> set[int]:
        return {
            uid
            for (uid,) in self.con.execute(
                "select uid from messages where channel = ? and uidvalidity = ?",
                (channel, uidvalidity),
            )
        }

    @staticmethod
    def message_handled(
        con: sqlite3.Connection,
        channel: str,
        uidvalidity: str,
        uid: int,
        message_id: str | None,
        sha256: str,
    ) -> None:
        con.execute(
            "insert or ignore into messages values (?, ?, ?, ?, ?, ?)",
            (channel, uidvalidity, uid, message_id, sha256, now()),
        )

    def entries(self, **where: str) -> list[dict]:
        clause = " and ".join(f"{k} = ?" for k in where) or "true"
        cur = self.con.execute(
            f"select * from objects where {clause} order by id", list(where.values())
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def open_ledger(intake_dir: Path) -> Ledger:
    return Ledger(intake_dir / "ledger.sqlite3")


def open_read_only(intake_dir: Path) -> sqlite3.Connection | None:
    """A read-only connection to the ledger (intake may be writing: SQLite's WAL gives the
    reader the last committed state); None when intake never ran."""
    path = intake_dir / "ledger.sqlite3"
    if not path.exists():
        return None
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def read_objects(intake_dir: Path) -> list[tuple]:
    """Every row of the ledger's ``objects``, read-only (intake may be writing: SQLite's WAL
    gives this reader the last committed state); none when intake never ran."""
    con = open_read_only(intake_dir)
    if con is None:
        return []
    try:
        return con.execute(
            "select id, channel, source_key, message_id, sender, provider, unit, original_name, "
            "landed_path, sha256, size, fetched_at, status, reason, received_at from objects "
            "order by id"
        ).fetchall()
    finally:
        con.close()


def copy_into_raw(con, intake_dir: Path, tz: dt.tzinfo) -> int:
    """Replace the rows of ``raw.intake_submissions`` in the build file (``con``, the night's
    writer; the loader creates the table) with the ledger's, fetched_at on the county's clock
    ``tz`` (as the loader's first_seen). Returns the rows copied."""
    from ingest.load import SUPPORT_TABLES

    def local(stamp: str | None) -> dt.datetime | None:
        return (
            dt.datetime.fromisoformat(stamp).astimezone(tz).replace(tzinfo=None) if stamp else None
        )

    rows = [
        (*row[:11], local(row[11]), *row[12:14], local(row[14])) for row in read_objects(intake_dir)
    ]
    width = len(SUPPORT_TABLES["intake_submissions"].split(", "))
    con.execute("begin")
    try:
        con.execute("delete from raw.intake_submissions")
        if rows:
            con.executemany(
                f"insert into raw.intake_submissions values ({', '.join('?' * width)})", rows
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return len(rows)
