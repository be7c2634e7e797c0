"""The raw layer of the build DuckDB file: the only module of the loader that writes to DuckDB.

Each file version is committed in one transaction: every row the path's previous version
contributed is deleted, the new rows, quarantined rows and unmatched sheets are inserted, and
the file ledger (``raw.file_versions``) records the version. Rows go in as Arrow tables, one
insert per dataset per file (its consecutive sheets together) and one for its quarantined rows.

The ledger is read once when the store opens and kept up to date after every commit (this
connection is the only writer): a path the ledger has never seen has no rows anywhere in
``raw`` (every row goes in with its ledger row, in one transaction), so a new file's commit
skips the deletes a resend needs, and "is this version loaded" costs no query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
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
        "message VARCHAR, load_id VARCHAR"
    ),
    "unmatched_sheets": (
        "provider VARCHAR, source_file VARCHAR, file_sha256 VARCHAR, sheet_name VARCHAR, "
        "header_cells VARCHAR, load_id VARCHAR"
    ),
    # one row: the fingerprint of the key the raw layer's tokens were made with
    "pii_key_state": "fingerprint VARCHAR",
}

_QUARANTINE_COLUMNS = [
    (c.split()[0], c.split()[1]) for c in SUPPORT_TABLES["quarantine_rows"].split(", ")
]

ROTATE_COMMAND = "outreach rotate-pii-key"


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

    def __init__(self, db_path: Path, registry: dict[str, DatasetSpec], tz: ZoneInfo = UTC):
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.registry = registry
        self.tz = tz  # timestamps in the ledger are the county's wall-clock time
        self.con = duckdb.connect(str(db_path))
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

    def _ensure_schema(self) -> None:
        self.con.execute("create schema if not exists raw")
        for name, dataset in self.registry.items():
            cols = ", ".join(f'"{c}" {t}' for c, t in raw_columns(dataset))
            self.con.execute(f"create table if not exists raw.{name} ({cols})")
        for name, cols in SUPPORT_TABLES.items():
            self.con.execute(f"create table if not exists raw.{name} ({cols})")
        # warehouses built before the ledger kept file times
        self.con.execute(
            "alter table raw.file_versions add column if not exists file_mtime timestamp"
        )

    def warm_up(self) -> None:
        """Do now what the first commit would otherwise stall on: pyarrow imports pandas on its
        first conversion of Python values (a third of a second; seconds without bytecode
        caches). The loader calls this while the sandbox's workers start."""
        pa.array([None], type=pa.string())

    def close(self) -> None:
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

    def _insert_arrow(
        self, table: str, columns: list[tuple[str, str]], data: dict[str, list | pa.Array]
    ) -> None:
        schema = pa.schema([(c, _ARROW_TYPES[t]) for c, t in columns])
        batch = pa.Table.from_arrays(
            [
                v if isinstance(v := data[c], pa.Array) else pa.array(v, type=schema.field(c).type)
                for c, _ in columns
            ],
            schema=schema,
        )
        names = ", ".join(f'"{c}"' for c, _ in columns)
        # DuckDB reads the local variable by its name (a replacement scan): a third cheaper per
        # file than register + unregister, which cost more than a small file's insert itself
        outreach_rows_to_insert = batch  # noqa: F841 (read by DuckDB, by name)
        self.con.execute(
            f"insert into raw.{table} ({names}) select {names} from outreach_rows_to_insert"
        )

    def commit_file(
        self,
        file: InboxFile,
        load_id: str,
        pii_key: bytes,
        sheets: list[SheetRows],
        unmatched: list[tuple[str, str]],
        file_problem: tuple[str, str] | None,
    ) -> None:
        """Replace everything the path contributed by this version, in one transaction.

        A version that cannot be read at all is recorded as quarantined and leaves the rows of
        the path's current version in place: a broken resend never erases good data. A key
        other than the raw layer's is refused before anything is written (:class:`PiiKeyMismatch`).
        """
        self.check_pii_key(pii_key)
        now = dt.datetime.now(self.tz).replace(microsecond=0, tzinfo=None)
        mtime = dt.datetime.fromtimestamp(int(file.mtime), self.tz).replace(tzinfo=None)
        provider = file.provider or ""
        version = (file.rel, file.sha256)
        known_path = file.rel in self._paths  # else nothing in raw comes from this path yet
        known_version = version in self._versions
        seen = self._versions.get(version)  # a version seen before (a file put back) keeps it
        con = self.con
        con.execute("begin")
        try:
            if file_problem is None:
                if known_path:
                    for name in self.registry:
                        con.execute(f"delete from raw.{name} where source_file = ?", [file.rel])
                    for table in ("quarantine_rows", "unmatched_sheets", "quarantine_files"):
                        con.execute(f"delete from raw.{table} where source_file = ?", [file.rel])
                    con.execute(
                        "update raw.file_versions set status = 'superseded' "
                        "where source_file = ? and status = 'current'",
                        [file.rel],
                    )
                self._insert_sheets(file, load_id, pii_key, sheets, now)
                for sheet_name, header in unmatched:
                    con.execute(
                        "insert into raw.unmatched_sheets values (?, ?, ?, ?, ?, ?)",
                        [provider, file.rel, file.sha256, sheet_name, header, load_id],
                    )
                status = "current"
            else:
                rule_id, message = file_problem
                if known_version:
                    con.execute(
                        "delete from raw.quarantine_files where source_file = ? and file_sha256 = ?",
                        [file.rel, file.sha256],
                    )
                con.execute(
                    "insert into raw.quarantine_files values (?, ?, ?, ?, ?, ?)",
                    [provider, file.rel, file.sha256, rule_id, message, load_id],
                )
                status = "quarantined"
            loaded = sum(len(s.row_numbers) for s in sheets)
            quarantined = sum(len(s.quarantined) for s in sheets)
            if known_version:
                con.execute(
                    "delete from raw.file_versions where source_file = ? and file_sha256 = ?",
                    [file.rel, file.sha256],
                )
            con.execute(
                "insert into raw.file_versions (source_file, provider, file_sha256, size_bytes, "
                "first_seen, status, dataset_rows, rows_loaded, rows_quarantined, load_id, file_mtime) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    file.rel,
                    provider,
                    file.sha256,
                    file.size,
                    seen or now,
                    status,
                    loaded + quarantined,
                    loaded,
                    quarantined,
                    load_id,
                    mtime,
                ],
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        # the ledger as it now is (only after the commit: a rolled-back file changed nothing)
        self._paths.add(file.rel)
        self._versions[version] = seen or now
        if status == "current":
            self._current[file.rel] = file.sha256

    def _token(self, value: str | None, pii_key: bytes) -> str | None:
        if value is None:
            return None
        got = self._tokens.get((pii_key, value))
        if got is None:
            if len(self._tokens) > 200_000:  # bounded: a province's IDs do not all stay here
                self._tokens.clear()
            got = self._tokens[(pii_key, value)] = token(value, pii_key)
        return got

    def _insert_sheets(
        self, file: InboxFile, load_id: str, pii_key: bytes, sheets: list[SheetRows], now
    ) -> None:
        """One Arrow insert per run of consecutive sheets of one dataset (a year's four quarter
        sheets go in together), one for all of the file's quarantined rows."""
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
            self._insert_arrow(name, raw_columns(dataset), data)
        quarantined = [(rows, q) for rows in sheets for q in rows.quarantined]
        if quarantined:
            n = len(quarantined)
            self._insert_arrow(
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
