"""The raw layer of the build DuckDB file: the only module of the loader that writes to DuckDB.

File versions are committed in groups, each group one transaction: every row the group's paths'
previous versions contributed is deleted, the new rows, quarantined rows and unmatched sheets
are inserted, and the file ledger (``raw.file_versions``) records the versions. A transaction
holds whole files only, so a kill leaves every file either all in (rows and ledger row) or not
at all, and the next run loads what is missing. Rows go in as Arrow tables, one insert per raw
table per group: a durable DuckDB commit costs milliseconds here, more than a small file's rows,
so a group of files (``CommitGroup``) pays it once. ``commit_file`` is a group of one.

The ledger is read once when the store opens and kept up to date after every commit (this
connection is the only writer): a path the ledger has never seen has no rows anywhere in
``raw`` (every row goes in with its ledger row, in one transaction), so a new file's commit
skips the deletes a resend needs, and "is this version loaded" costs no query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from ingest.discover import InboxFile
from ingest.pii import mask, token
from ingest.places import Gazetteer
from ingest.registry import DatasetSpec
from ingest.validate import SheetRows

_SQL_TYPES = {
    "text": "VARCHAR",
    "longtext": "VARCHAR",
    "enum": "VARCHAR",
    "credit_code": "VARCHAR",
    "place_township": "VARCHAR",
    "place_village": "VARCHAR",
    "date": "DATE",
    "money": "DECIMAL(18,2)",
    "int": "INTEGER",
    "decimal": "DECIMAL(10,2)",
    "bool": "BOOLEAN",
    "resident_id": "VARCHAR",
    "phone": "VARCHAR",
}
_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "DECIMAL(18,2)": pa.decimal128(18, 2),
    "DECIMAL(10,2)": pa.decimal128(10, 2),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
}
UTC = ZoneInfo("UTC")

LINEAGE = [
    ("provider", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("file_sha256", "VARCHAR"),
    ("sheet_name", "VARCHAR"),
    ("row_number", "INTEGER"),
    ("load_id", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
]

SUPPORT_TABLES = {
    "townships": "township_code VARCHAR, township_name VARCHAR, county_code VARCHAR, county_name VARCHAR",
    "file_versions": (
        "source_file VARCHAR, provider VARCHAR, file_sha256 VARCHAR, size_bytes BIGINT, "
        "first_seen TIMESTAMP, status VARCHAR, dataset_rows INTEGER, rows_loaded INTEGER, "
        "rows_quarantined INTEGER, load_id VARCHAR, file_mtime TIMESTAMP"
    ),
    "quarantine_rows": (
        "provider VARCHAR, source_file VARCHAR, file_sha256 VARCHAR, sheet_name VARCHAR, "
        "row_number INTEGER, dataset VARCHAR, rule_id VARCHAR, column_name VARCHAR, "
        "message VARCHAR, original_values VARCHAR, load_id VARCHAR"
    ),
    "quarantine_files": (
        "provider VARCHAR, source_file VARCHAR, file_sha256 VARCHAR, rule_id VARCHAR, "
        "message VARCHAR, load_id VARCHAR, detail VARCHAR"
    ),
    "unmatched_sheets": (
        "provider VARCHAR, source_file VARCHAR, file_sha256 VARCHAR, sheet_name VARCHAR, "
        "header_cells VARCHAR, load_id VARCHAR"
    ),
    # one row: the fingerprint of the key the raw layer's tokens were made with
    "pii_key_state": "fingerprint VARCHAR",
    # intake's fetch ledger (outreach/intake/ledger.py), copied whole by load_raw every night;
    # fetched_at on the county's clock, as first_seen
    "intake_submissions": (
        "ledger_id BIGINT, channel VARCHAR, source_key VARCHAR, message_id VARCHAR, "
        "sender VARCHAR, provider VARCHAR, unit VARCHAR, original_name VARCHAR, "
        "landed_path VARCHAR, sha256 VARCHAR, size BIGINT, fetched_at TIMESTAMP, "
        "status VARCHAR, reason VARCHAR, received_at TIMESTAMP"
    ),
}


def _column_types(table: str) -> list[tuple[str, str]]:
    """(name, SQL type) of a support table's columns."""
    return [(c.split()[0], c.split()[1]) for c in SUPPORT_TABLES[table].split(", ")]


_QUARANTINE_COLUMNS = _column_types("quarantine_rows")

ROTATE_COMMAND = "outreach rotate-pii-key"

_LEDGER_COLUMNS = _column_types("file_versions")
_FILE_TABLES = ("quarantine_rows", "unmatched_sheets", "quarantine_files")


@dataclass(frozen=True)
class CommitGroup:
    """When the open group of staged files is committed: as soon as it holds ``files`` files or
    ``rows`` rows, or its first file has waited ``seconds`` (looked at as each file is staged),
    and always at the end of a run.

    Bigger groups pay DuckDB's commit less often; a kill loses at most the open group's work,
    which the next run repeats (nothing half-loaded: see the module's docstring). ``rows``
    bounds the memory the open group holds (its rows as Arrow tables and as the workers'
    values).
    """

    files: int = 100
    rows: int = 50_000
    seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.files < 1 or self.rows < 1 or self.seconds < 0:
            raise ValueError(f"a commit group needs at least one file and one row: {self}")


@dataclass
class _Staged:
    """A file version in the open group: what its commit changes besides inserting rows."""

    file: InboxFile
    status: str  # current | quarantined
    replaces_path: bool  # a readable version of a path the ledger knows: the path's rows go
    known_version: bool  # this very version is in the ledger already (a file put back)
    first_seen: dt.datetime


class PiiKeyMismatch(RuntimeError):
    """The configured PII key is not the one the raw layer's tokens were made with.

    Loading anyway would mix two keys in one table: the same person would get two tokens and
    every join on a token would silently lose rows.
    """

    def __init__(self) -> None:
        super().__init__(
            "原始层的身份证号/电话令牌不是用当前配置的 PII 密钥生成的，已停止入库。 "
            "The configured PII key (OUTREACH_PII_KEY, or $OUTREACH_HOME/pii.key) is not the key "
            "the raw layer's ID and phone tokens were made with: loading with it would mix two "
            "keys and break every join on tokens, so nothing was loaded. If a key rotation was "
            f"interrupted, run `{ROTATE_COMMAND}` to finish it; after rotating a key set in "
            "OUTREACH_PII_KEY, set it to the new key and restart the services. "
            "See docs/PII_KEY_ROTATION.md."
        )


def _as_arrow(values: list | pa.Array, arrow_type: pa.DataType) -> pa.Array:
    return values if isinstance(values, pa.Array) else pa.array(values, type=arrow_type)


def key_fingerprint(key: bytes) -> str:
    """Names the key that made a set of tokens without storing the key: an HMAC of a fixed
    string, so it can sit in the raw layer (and be compared) without revealing anything."""
    return hmac.new(key, b"outreach pii key fingerprint v1", hashlib.sha256).hexdigest()[:32]


def raw_columns(dataset: DatasetSpec) -> list[tuple[str, str]]:
    """The raw table's columns in order: data columns (with token and mask beside PII), lineage."""
    cols: list[tuple[str, str]] = []
    for spec in dataset.columns:
        cols.append((spec.name, _SQL_TYPES[spec.type]))
        if spec.type == "place_township":
            cols.append(("township_code", "VARCHAR"))
        if spec.pii:
            cols += [(f"{spec.name}_token", "VARCHAR"), (f"{spec.name}_mask", "VARCHAR")]
    return cols + LINEAGE


class RawStore:
    """A write connection to the build file's ``raw`` schema."""

    def __init__(
        self,
        db_path: Path,
        registry: dict[str, DatasetSpec],
        tz: ZoneInfo = UTC,
        group: CommitGroup = CommitGroup(),
    ):
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.registry = registry
        self.tz = tz  # timestamps in the ledger are the county's wall-clock time
        self.group = group
        self.con = duckdb.connect(str(db_path))
        os.chmod(db_path, 0o600)  # the raw layer holds IDs and phone numbers, whatever the umask
        # One thread for the many small statements of the commits: a second one only contends
        # with the sandbox's two workers for the two cores. The checkpoint at close gets them all.
        self.con.execute("set threads = 1")
        self._ensure_schema()
        self._pii_fingerprint: str | None = None  # the key checked against the raw layer
        self._current: dict[str, str] = {}  # path -> sha256 of its current version
        # (path, sha256) of every version in the ledger -> when it was first seen
        self._versions: dict[tuple[str, str], dt.datetime | None] = {}
        for rel, sha, first_seen, current in self.con.execute(
            "select source_file, file_sha256, min(first_seen), bool_or(status = 'current') "
            "from raw.file_versions group by all"
        ).fetchall():
            self._versions[(rel, sha)] = first_seen
            if current:
                self._current[rel] = sha
        self._paths = {rel for rel, _ in self._versions}  # every path the ledger knows
        self._tokens: dict[tuple[bytes, str], str] = {}  # the same ID recurs in many rows
        # the open group: staged files, and per raw table the Arrow tables to insert for them
        self._staged: list[_Staged] = []
        self._staged_paths: set[str] = set()
        self._tables: dict[str, list[pa.Table]] = {}
        self._file_tables: dict[str, list[pa.Table]] = {}  # of the file being staged
        self._staged_rows = 0
        self._group_started = 0.0

    def _ensure_schema(self) -> None:
        self.con.execute("create schema if not exists raw")
        for name, dataset in self.registry.items():
            cols = ", ".join(f'"{c}" {t}' for c, t in raw_columns(dataset))
            self.con.execute(f"create table if not exists raw.{name} ({cols})")
        for name, cols in SUPPORT_TABLES.items():
            self.con.execute(f"create table if not exists raw.{name} ({cols})")
        # warehouses built before the ledger kept file times, or quarantines their detail
        self.con.execute(
            "alter table raw.file_versions add column if not exists file_mtime timestamp"
        )
        self.con.execute(
            "alter table raw.intake_submissions add column if not exists received_at timestamp"
        )
        self.con.execute("alter table raw.quarantine_files add column if not exists detail varchar")

    def warm_up(self) -> None:
        """Do now what the first commit would otherwise stall on: pyarrow imports pandas on its
        first conversion of Python values (a third of a second; seconds without bytecode
        caches). The loader calls this while the sandbox's workers start."""
        pa.array([None], type=pa.string())

    def close(self) -> None:
        """Checkpoint and close. Files staged but not committed are dropped, as a kill would
        drop them: the caller commits (``commit_group``) what it wants kept."""
        self._clear_group()
        self.con.execute("reset threads")
        self.con.execute("checkpoint")
        self.con.close()

    def check_pii_key(self, pii_key: bytes) -> None:
        """Refuse a key other than the one the raw layer's tokens were made with.

        The first load records the key's fingerprint in ``raw.pii_key_state``. A raw layer from
        before the fingerprint is checked against one stored token per PII column instead.
        """
        fingerprint = key_fingerprint(pii_key)
        if fingerprint == self._pii_fingerprint:
            return
        recorded = self.con.execute("select fingerprint from raw.pii_key_state").fetchall()
        if not recorded:
            if not self._tokens_made_with(pii_key):
                raise PiiKeyMismatch()
            self.con.execute("insert into raw.pii_key_state values (?)", [fingerprint])
        elif recorded[0][0] != fingerprint:
            raise PiiKeyMismatch()
        self._pii_fingerprint = fingerprint

    def _tokens_made_with(self, pii_key: bytes) -> bool:
        for name, dataset in self.registry.items():
            for spec in dataset.columns:
                if not spec.pii:
                    continue
                rows = self.con.execute(
                    f'select "{spec.name}", "{spec.name}_token" from raw.{name} '
                    f'where "{spec.name}" is not null limit 1'
                ).fetchall()
                if rows and token(rows[0][0], pii_key) != rows[0][1]:
                    return False
        return True

    def current_sha256(self, rel: str) -> str | None:
        return self._current.get(rel)

    def write_townships(self, gazetteer: Gazetteer) -> None:
        self.con.execute("begin")
        self.con.execute("delete from raw.townships")
        self.con.executemany(
            "insert into raw.townships values (?, ?, ?, ?)",
            [
                (t.code, t.name, gazetteer.county_code, gazetteer.county_name)
                for t in gazetteer.townships
            ],
        )
        self.con.execute("commit")

    @staticmethod
    def _arrow(columns: list[tuple[str, str]], data: dict[str, list | pa.Array]) -> pa.Table:
        schema = pa.schema([(c, _ARROW_TYPES[t]) for c, t in columns])
        return pa.Table.from_arrays(
            [
                v if isinstance(v := data[c], pa.Array) else pa.array(v, type=schema.field(c).type)
                for c, _ in columns
            ],
            schema=schema,
        )

    def _add(self, table: str, columns: list[tuple[str, str]], data: dict) -> None:
        """Add a table of the file being staged (it joins the group once all of it is staged)."""
        batch = self._arrow(columns, data)
        self._file_tables.setdefault(table, []).append(batch)

    def _insert(self, table: str, batch: pa.Table) -> None:
        names = ", ".join(f'"{c}"' for c in batch.column_names)
        # DuckDB reads the local variable by its name (a replacement scan): cheaper than
        # register + unregister
        outreach_rows_to_insert = batch  # noqa: F841 (read by DuckDB, by name)
        self.con.execute(
            f"insert into raw.{table} ({names}) select {names} from outreach_rows_to_insert"
        )

    @property
    def staged_files(self) -> int:
        return len(self._staged)

    def group_due(self) -> bool:
        """Whether the open group is full (files, rows) or has waited long enough."""
        if not self._staged:
            return False
        return (
            len(self._staged) >= self.group.files
            or self._staged_rows >= self.group.rows
            or time.monotonic() - self._group_started >= self.group.seconds
        )

    def stage_file(
        self,
        file: InboxFile,
        load_id: str,
        pii_key: bytes,
        sheets: list[SheetRows],
        unmatched: list[tuple[str, str]],
        file_problem: tuple[str, str] | None,
        problem_detail: str | None = None,
    ) -> None:
        """Add a file version to the open group; ``commit_group`` writes it.

        A version that cannot be read at all is recorded as quarantined (``problem_detail``:
        the exception behind it, for whoever runs the loader) and leaves the rows of the path's
        current version in place: a broken resend never erases good data. A key other than the
        raw layer's is refused before anything is staged (:class:`PiiKeyMismatch`).
        """
        if file.rel in self._staged_paths:
            raise ValueError(f"{file.rel} is staged twice in one commit group")
        self.check_pii_key(pii_key)
        now = dt.datetime.now(self.tz).replace(microsecond=0, tzinfo=None)
        mtime = dt.datetime.fromtimestamp(int(file.mtime), self.tz).replace(tzinfo=None)
        provider = file.provider or ""
        version = (file.rel, file.sha256)
        known_version = version in self._versions
        seen = self._versions.get(version) or now  # a version seen before (put back) keeps it
        # the file's tables are built aside and join the group only once all of them are: a
        # file that fails half-way leaves nothing of itself in the group
        self._file_tables = {}
        if file_problem is None:
            self._stage_sheets(file, load_id, pii_key, sheets, now)
            if unmatched:
                n = len(unmatched)
                self._add(
                    "unmatched_sheets",
                    _column_types("unmatched_sheets"),
                    {
                        "provider": [provider] * n,
                        "source_file": [file.rel] * n,
                        "file_sha256": [file.sha256] * n,
                        "sheet_name": [name for name, _ in unmatched],
                        "header_cells": [header for _, header in unmatched],
                        "load_id": [load_id] * n,
                    },
                )
            status = "current"
        else:
            rule_id, message = file_problem
            self._add(
                "quarantine_files",
                _column_types("quarantine_files"),
                {
                    "provider": [provider],
                    "source_file": [file.rel],
                    "file_sha256": [file.sha256],
                    "rule_id": [rule_id],
                    "message": [message],
                    "load_id": [load_id],
                    "detail": [problem_detail],
                },
            )
            status = "quarantined"
        loaded = sum(len(s.row_numbers) for s in sheets)
        quarantined = sum(len(s.quarantined) for s in sheets)
        self._add(
            "file_versions",
            _LEDGER_COLUMNS,
            {
                "source_file": [file.rel],
                "provider": [provider],
                "file_sha256": [file.sha256],
                "size_bytes": [file.size],
                "first_seen": [seen],
                "status": [status],
                "dataset_rows": [loaded + quarantined],
                "rows_loaded": [loaded],
                "rows_quarantined": [quarantined],
                "load_id": [load_id],
                "file_mtime": [mtime],
            },
        )
        if not self._staged:
            self._group_started = time.monotonic()
        for table, parts in self._file_tables.items():
            self._tables.setdefault(table, []).extend(parts)
        self._file_tables = {}
        self._staged.append(
            _Staged(
                file=file,
                status=status,
                replaces_path=file_problem is None and file.rel in self._paths,
                known_version=known_version,
                first_seen=seen,
            )
        )
        self._staged_paths.add(file.rel)
        self._staged_rows += loaded + quarantined

    def commit_group(self) -> int:
        """Write the open group in one transaction; returns how many files it held.

        On any error the transaction is rolled back, the group is dropped and the error raised:
        nothing of the group is in ``raw``, and the next run loads its files again.
        """
        staged = self._staged
        if not staged:
            self._clear_group()
            return 0
        con = self.con
        try:
            con.execute("begin")
            replaced = [s.file.rel for s in staged if s.replaces_path]
            if replaced:  # resends: every row the paths' earlier versions contributed goes
                outreach_paths = pa.table({"source_file": pa.array(replaced, pa.string())})  # noqa: F841
                for name in (*self.registry, *_FILE_TABLES):
                    con.execute(
                        f"delete from raw.{name} where source_file in "
                        "(select source_file from outreach_paths)"
                    )
                con.execute(
                    "update raw.file_versions set status = 'superseded' where status = 'current' "
                    "and source_file in (select source_file from outreach_paths)"
                )
            again = [s for s in staged if s.known_version]
            if again:  # versions put back: their ledger row (and whole-file quarantine) is new
                outreach_versions = pa.table(  # noqa: F841 (read by DuckDB, by name)
                    {
                        "source_file": pa.array([s.file.rel for s in again], pa.string()),
                        "file_sha256": pa.array([s.file.sha256 for s in again], pa.string()),
                        "quarantined": pa.array([s.status == "quarantined" for s in again]),
                    }
                )
                con.execute(
                    "delete from raw.quarantine_files q using outreach_versions v "
                    "where v.quarantined and q.source_file = v.source_file "
                    "and q.file_sha256 = v.file_sha256"
                )
                con.execute(
                    "delete from raw.file_versions f using outreach_versions v "
                    "where f.source_file = v.source_file and f.file_sha256 = v.file_sha256"
                )
            for table, parts in self._tables.items():
                self._insert(table, parts[0] if len(parts) == 1 else pa.concat_tables(parts))
            con.execute("commit")
        except Exception:
            try:
                con.execute("rollback")
            except duckdb.Error:  # the failed statement may have ended the transaction already
                pass
            self._clear_group()
            raise
        # the ledger as it now is (only after the commit: a rolled-back group changed nothing)
        for s in staged:
            self._paths.add(s.file.rel)
            self._versions[(s.file.rel, s.file.sha256)] = s.first_seen
            if s.status == "current":
                self._current[s.file.rel] = s.file.sha256
        self._clear_group()
        return len(staged)

    def _clear_group(self) -> None:
        self._file_tables = {}
        self._staged = []
        self._staged_paths = set()
        self._tables = {}
        self._staged_rows = 0

    def commit_file(
        self,
        file: InboxFile,
        load_id: str,
        pii_key: bytes,
        sheets: list[SheetRows],
        unmatched: list[tuple[str, str]],
        file_problem: tuple[str, str] | None,
        problem_detail: str | None = None,
    ) -> None:
        """Replace everything the path contributed by this version, in one transaction of its
        own (with any files already staged)."""
        self.stage_file(file, load_id, pii_key, sheets, unmatched, file_problem, problem_detail)
        self.commit_group()

    def _token(self, value: str | None, pii_key: bytes) -> str | None:
        if value is None:
            return None
        got = self._tokens.get((pii_key, value))
        if got is None:
            if len(self._tokens) > 200_000:  # bounded: a province's IDs do not all stay here
                self._tokens.clear()
            got = self._tokens[(pii_key, value)] = token(value, pii_key)
        return got

    def _stage_sheets(
        self, file: InboxFile, load_id: str, pii_key: bytes, sheets: list[SheetRows], now
    ) -> None:
        """One Arrow table per run of consecutive sheets of one dataset (a year's four quarter
        sheets together), one for all of the file's quarantined rows."""
        runs: list[list[SheetRows]] = []  # consecutive sheets of one dataset: rows keep their order
        for rows in sheets:
            if not rows.row_numbers:
                continue
            if runs and runs[-1][0].dataset == rows.dataset:
                runs[-1].append(rows)
            else:
                runs.append([rows])
        for group in runs:
            name = group[0].dataset
            dataset = self.registry[name]
            n = sum(len(rows.row_numbers) for rows in group)
            types = {c: _ARROW_TYPES[t] for c, t in raw_columns(dataset)}
            data: dict[str, list | pa.Array] = {}
            for column in group[0].columns:
                parts = [rows.columns[column] for rows in group]
                if len(parts) == 1:
                    data[column] = parts[0]
                elif any(isinstance(part, pa.Array) for part in parts):  # staged: Arrow already
                    data[column] = pa.concat_arrays(
                        [_as_arrow(part, types[column]) for part in parts]
                    )
                else:
                    data[column] = [v for part in parts for v in part]
            for spec in dataset.columns:
                if spec.pii:
                    values = data[spec.name]
                    if isinstance(values, pa.Array):
                        values = values.to_pylist()
                    data[f"{spec.name}_token"] = [self._token(v, pii_key) for v in values]
                    data[f"{spec.name}_mask"] = [mask(v) for v in values]
            data.update(
                provider=pa.repeat(pa.scalar(file.provider, pa.string()), n),
                source_file=pa.repeat(pa.scalar(file.rel, pa.string()), n),
                file_sha256=pa.repeat(pa.scalar(file.sha256, pa.string()), n),
                sheet_name=[rows.sheet_name for rows in group for _ in rows.row_numbers],
                row_number=[r for rows in group for r in rows.row_numbers],
                load_id=pa.repeat(pa.scalar(load_id, pa.string()), n),
                loaded_at=pa.repeat(pa.scalar(now, pa.timestamp("us")), n),
            )
            self._add(name, raw_columns(dataset), data)
        quarantined = [(rows, q) for rows in sheets for q in rows.quarantined]
        if quarantined:
            n = len(quarantined)
            self._add(
                "quarantine_rows",
                _QUARANTINE_COLUMNS,
                {
                    "provider": pa.repeat(pa.scalar(file.provider, pa.string()), n),
                    "source_file": pa.repeat(pa.scalar(file.rel, pa.string()), n),
                    "file_sha256": pa.repeat(pa.scalar(file.sha256, pa.string()), n),
                    "sheet_name": [rows.sheet_name for rows, _ in quarantined],
                    "row_number": [q.row_number for _, q in quarantined],
                    "dataset": [rows.dataset for rows, _ in quarantined],
                    "rule_id": [q.rule_id for _, q in quarantined],
                    "column_name": [q.column_name for _, q in quarantined],
                    "message": [q.message for _, q in quarantined],
                    "original_values": [q.original for _, q in quarantined],
                    "load_id": pa.repeat(pa.scalar(load_id, pa.string()), n),
                },
            )
