"""Rotating the PII key: every token of the raw layer made again with a new key, crash-safe.

The original ID and phone numbers sit in ``raw`` beside their ``<column>_token``, so a new key
needs no spreadsheet: the token of every distinct original is computed in Python with both keys,
handed to DuckDB as one Arrow table, and every token column is updated from it in ONE
transaction on the build file, which also records the new key's fingerprint in
``raw.pii_key_state``. Before the commit the update is checked (every token is the new key's,
none of the old key's is left, no row came or went); any difference rolls it all back.

The key's own move must survive a crash at any point. With the key in ``$OUTREACH_HOME/pii.key``:

1. the new key is written to ``pii.key.new`` (0600, synced) before the database is touched;
2. the transaction commits (the raw fingerprint is now the new key's);
3. the old key is copied to ``pii.key.old-<UTC time>`` (0600) and ``pii.key.new`` is renamed
   over ``pii.key``.

A crash before 2 leaves a ``pii.key.new`` whose key made no token: the next invocation deletes
it and rotates afresh. A crash between 2 and 3 leaves the raw layer made with ``pii.key.new``:
the loader refuses (``ingest.load.PiiKeyMismatch``) and the next invocation only finishes 3.
With the key in OUTREACH_PII_KEY (docker-compose's ``.env``) the new key comes from
OUTREACH_NEW_PII_KEY and the operator moves it into ``.env``; neither key is ever printed.

Only ``raw`` is rewritten. The staging and intermediate views read ``raw``; the marts (tables
dbt builds from raw) keep the old tokens in the build file until the next run rebuilds them, and
published files keep the tokens they were published with.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from ingest.load import ROTATE_COMMAND, key_fingerprint
from ingest.pii import token
from ingest.registry import DatasetSpec, load_registry
from outreach.settings import NEW_PII_KEY_VARIABLE, Settings

MIN_KEY_LENGTH = 16  # as load_settings() asks of OUTREACH_PII_KEY


class RotationError(RuntimeError):
    """The rotation was refused or rolled back: the raw layer and the keys are as they were."""


@dataclass
class RotationResult:
    """What happened, for the operator: counts and paths, never a key."""

    mode: str  # "key_file" (pii.key) or "environment" (OUTREACH_PII_KEY)
    outcome: str  # "rotated", "finished" (an interrupted rotation) or "already_rotated"
    tokens: dict[str, int] = field(default_factory=dict)  # raw.<table>.<column> -> tokens made
    values: int = 0  # distinct original numbers
    key_file: Path | None = None
    kept_key: Path | None = None
    stale: list[str] = field(default_factory=list)  # token columns the next run rebuilds


# ------------------------------------------------------------------------------ entry point


def rotate_pii_key(settings: Settings, new_key_env: str | None = None) -> RotationResult:
    """Rotate the key the raw layer's tokens are made with, or finish a rotation a crash cut.

    ``new_key_env`` is OUTREACH_NEW_PII_KEY: required when the key is OUTREACH_PII_KEY, refused
    when it is the key file (which always gets a fresh random key, like the first one).
    """
    if settings.pii_key_env:
        return _rotate_env_key(settings, new_key_env)
    if new_key_env:
        raise RotationError(
            f"{NEW_PII_KEY_VARIABLE} is only for a key set in OUTREACH_PII_KEY; this deployment's "
            f"key is {settings.pii_key_file}, which gets a new random key: unset "
            f"{NEW_PII_KEY_VARIABLE} and run `{ROTATE_COMMAND}` again. Nothing was changed."
        )
    return _rotate_key_file(settings)


def _rotate_env_key(settings: Settings, new_key_env: str | None) -> RotationResult:
    old_key = settings.pii_key_env.encode("utf-8")
    new_key = _checked_new_key(new_key_env, old_key)
    con = _connect(settings.build_db)
    try:
        columns = _pii_columns(con, load_registry())
        state = _state(con)
        if state == key_fingerprint(new_key):  # an earlier invocation committed already
            return RotationResult("environment", "already_rotated", stale=_stale_columns(con))
        _require_state(state, old_key, "OUTREACH_PII_KEY (nor OUTREACH_NEW_PII_KEY)")
        tokens, values = retokenise(con, columns, old_key, new_key)
        return RotationResult("environment", "rotated", tokens, values, stale=_stale_columns(con))
    finally:
        con.close()


def _rotate_key_file(settings: Settings) -> RotationResult:
    key_file = settings.pii_key_file
    pending = pending_key_file(key_file)
    con = _connect(settings.build_db)
    try:
        if not key_file.exists():
            raise RotationError(
                f"no key file at {key_file}, yet the build file exists: its tokens were made "
                f"with a key that is missing here. Put that key back (a backup, or a "
                f"{key_file.name}.old-* kept by a rotation) before rotating. Nothing was changed."
            )
        old_key = _read_key(key_file)
        columns = _pii_columns(con, load_registry())
        state = _state(con)
        tokens: dict[str, int] = {}
        values = 0
        if pending.exists() and state == key_fingerprint(_read_key(pending)):
            outcome = "finished"  # committed, then died before the rename: only rename
        else:
            pending.unlink(missing_ok=True)  # left by a rotation that died before its commit
            _require_state(state, old_key, str(key_file))
            new_key = secrets.token_hex(32).encode("utf-8")
            write_private(pending, new_key)
            try:
                tokens, values = retokenise(con, columns, old_key, new_key)
            except BaseException:
                _discard_unless_used(con, pending, new_key)
                raise
            outcome = "rotated"
        stale = _stale_columns(con)
    finally:
        con.close()
    kept = install_key(key_file, pending)
    return RotationResult("key_file", outcome, tokens, values, key_file, kept, stale)


def _checked_new_key(value: str | None, old_key: bytes) -> bytes:
    if not value:
        raise RotationError(
            f"OUTREACH_PII_KEY is set, so the new key must be given in {NEW_PII_KEY_VARIABLE} "
            f"({MIN_KEY_LENGTH} characters or more) for this one command. Nothing was changed."
        )
    if len(value) < MIN_KEY_LENGTH:
        raise RotationError(
            f"{NEW_PII_KEY_VARIABLE} must be at least {MIN_KEY_LENGTH} characters long. "
            "Nothing was changed."
        )
    new_key = value.encode("utf-8")
    if new_key == old_key:
        raise RotationError(
            f"{NEW_PII_KEY_VARIABLE} is the current OUTREACH_PII_KEY: choose a new key. "
            "Nothing was changed."
        )
    return new_key


# ------------------------------------------------------------------------------ the database


def _connect(build_db: Path) -> duckdb.DuckDBPyConnection:
    if not build_db.exists():
        raise RotationError(
            f"构建库不存在 / no build file at {build_db} yet: there are no tokens to rotate "
            "(the first run makes the key and the raw layer). Nothing was changed."
        )
    try:
        return duckdb.connect(str(build_db))
    except duckdb.IOException as exc:
        raise RotationError(
            f"构建库正被其他进程占用 / the build file {build_db} is in use by another process "
            "(a run of outreach_nightly, or a reader): pause the DAG "
            "(`airflow dags pause outreach_nightly`), wait until no run is active and no one "
            f"has the build file open, then run `{ROTATE_COMMAND}` again. Nothing was changed. "
            f"({exc})"
        ) from exc


def _pii_columns(
    con: duckdb.DuckDBPyConnection, registry: dict[str, DatasetSpec]
) -> list[tuple[str, str]]:
    """(table, column) of every PII column of the registry: each has ``<column>_token``."""
    columns = [
        (name, spec.name)
        for name, dataset in registry.items()
        for spec in dataset.columns
        if spec.pii
    ]
    present = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    }
    missing = sorted({t for t, _ in columns} - present)
    if missing:
        raise RotationError(
            f"the build file has no raw layer (raw.{missing[0]} is missing): nothing to rotate. "
            "Nothing was changed."
        )
    return columns


def _state(con: duckdb.DuckDBPyConnection) -> str | None:
    """The fingerprint of the key the raw tokens were made with, None before one was recorded."""
    exists = _one(
        con,
        "select count(*) from information_schema.tables "
        "where table_schema = 'raw' and table_name = 'pii_key_state'",
    )[0]
    if not exists:
        return None
    row = _one(con, "select fingerprint from raw.pii_key_state")
    return row[0] if row else None


def _one(con: duckdb.DuckDBPyConnection, query: str) -> tuple | None:
    """The first row, fetched to the end: DuckDB refuses (un)registering Arrow tables and
    rolling back while a result is still open."""
    rows = con.execute(query).fetchall()
    return rows[0] if rows else None


def _require_state(state: str | None, old_key: bytes, where: str) -> None:
    """A raw layer without a fingerprint is checked token by token in :func:`retokenise`."""
    if state is not None and state != key_fingerprint(old_key):
        raise RotationError(
            f"the raw layer's tokens were not made with the key in {where}: rotating from it "
            "would mix keys. Find the key the raw layer was made with (a pii.key.old-* kept by "
            "an earlier rotation, or the previous OUTREACH_PII_KEY). Nothing was changed."
        )


def retokenise(
    con: duckdb.DuckDBPyConnection,
    columns: list[tuple[str, str]],
    old_key: bytes,
    new_key: bytes,
) -> tuple[dict[str, int], int]:
    """Every ``<column>_token`` of ``columns`` made again with ``new_key``, in one transaction.

    Set-wise: the distinct originals of all columns are tokenised once with each key into one
    Arrow table (the same number gets the same token in every table, so joins hold), and each
    token column is updated from it. Refused if a token was not made with ``old_key``; rolled
    back if the result is not exactly the new key's tokens for the same rows.
    Returns tokens made per ``raw.<table>.<column>_token`` and the count of distinct originals.
    """
    con.execute("begin")
    try:
        values = _distinct_originals(con, columns)
        con.register("_pii_map", _token_map(values, old_key, new_key))
        try:
            before = _counts(con, columns)
            wrong = _tokens_not(con, columns, "old_token")
            if wrong:
                raise RotationError(
                    f"{wrong} tokens of the raw layer were not made with the current key (keys "
                    "were mixed, or the key is not the one the raw layer was made with): "
                    "refusing to rotate. Nothing was changed."
                )
            for table, column in columns:
                con.execute(
                    f'update raw."{table}" as r set "{column}_token" = m.new_token '
                    f'from _pii_map as m where r."{column}" = m.value'
                )
            _verify(con, columns, before)
            con.execute("create table if not exists raw.pii_key_state (fingerprint varchar)")
            con.execute("delete from raw.pii_key_state")
            con.execute("insert into raw.pii_key_state values (?)", [key_fingerprint(new_key)])
        finally:
            con.unregister("_pii_map")
        con.execute("commit")
    except BaseException:
        _rollback(con)
        raise
    con.execute("checkpoint")  # fold the WAL into the file now, not in the next run
    return {f"raw.{t}.{c}_token": before[(t, c)][1] for t, c in columns}, len(values)


def _distinct_originals(con: duckdb.DuckDBPyConnection, columns: list[tuple[str, str]]) -> list:
    union = " union ".join(f'select "{c}" as v from raw."{t}"' for t, c in columns)
    query = f"select distinct v from ({union}) where v is not null"
    return [r[0] for r in con.execute(query).fetchall()]


def _token_map(values: list[str], old_key: bytes, new_key: bytes) -> pa.Table:
    return pa.table(
        {
            "value": pa.array(values, pa.string()),
            "old_token": pa.array([token(v, old_key) for v in values], pa.string()),
            "new_token": pa.array([token(v, new_key) for v in values], pa.string()),
        }
    )


def _counts(con: duckdb.DuckDBPyConnection, columns: list[tuple[str, str]]) -> dict:
    """(table, column) -> (rows of the table, tokens in the column)."""
    return {
        (t, c): _one(con, f'select count(*), count("{c}_token") from raw."{t}"') for t, c in columns
    }


def _tokens_not(con: duckdb.DuckDBPyConnection, columns: list[tuple[str, str]], made: str) -> int:
    """Rows whose token is not the ``made`` (old_token / new_token) token of their original;
    an empty original must have no token."""
    return sum(
        _one(
            con,
            f'select count(*) from raw."{t}" as r left join _pii_map as m on r."{c}" = m.value '
            f'where r."{c}_token" is distinct from m.{made}',
        )[0]
        for t, c in columns
    )


def _verify(con: duckdb.DuckDBPyConnection, columns: list[tuple[str, str]], before: dict) -> None:
    after = _counts(con, columns)
    if after != before:
        raise RotationError("rows or tokens changed in number during the update: rolled back")
    wrong = _tokens_not(con, columns, "new_token")
    if wrong:
        raise RotationError(f"{wrong} tokens are not the new key's after the update: rolled back")
    left = sum(
        _one(
            con,
            f'select count(*) from raw."{t}" where "{c}_token" in (select old_token from _pii_map)',
        )[0]
        for t, c in columns
    )
    if left:
        raise RotationError(f"{left} tokens of the old key are left after the update: rolled back")


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("rollback")
    except duckdb.Error:  # a failed commit already ended the transaction
        pass


def _stale_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Token columns of tables outside raw (the marts dbt builds from raw): they hold the old
    tokens until the next run rebuilds them. Views read raw and are current already."""
    return [
        r[0]
        for r in con.execute(
            "select c.table_schema || '.' || c.table_name || '.' || c.column_name "
            "from information_schema.columns as c join information_schema.tables as t "
            "on c.table_catalog = t.table_catalog and c.table_schema = t.table_schema "
            "and c.table_name = t.table_name "
            "where c.table_schema <> 'raw' and t.table_type = 'BASE TABLE' "
            "and c.column_name like '%\\_token' escape '\\' order by 1"
        ).fetchall()
    ]


def _discard_unless_used(con: duckdb.DuckDBPyConnection, pending: Path, new_key: bytes) -> None:
    """After a failed rotation, delete ``pii.key.new`` unless the database says its key made the
    tokens after all; when that cannot be read, the next invocation decides."""
    try:
        used = _state(con) == key_fingerprint(new_key)
    except duckdb.Error:
        return
    if not used:
        pending.unlink(missing_ok=True)


# ------------------------------------------------------------------------------ the key file


def pending_key_file(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".new")


def _read_key(path: Path) -> bytes:
    return path.read_text().strip().encode("utf-8")  # as Settings.pii_key() reads it


def write_private(path: Path, data: bytes) -> None:
    """A new file, mode 0600 from its creation, synced with its folder before anything relies
    on it: the database must never hold tokens of a key the disk could lose."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path.parent)


def install_key(key_file: Path, pending: Path) -> Path:
    """Keep the old key as ``pii.key.old-<UTC time>`` (0600) and rename ``pending`` over the key
    file. Safe to repeat after a crash: an old key already kept is not copied again."""
    kept = _keep_old_key(key_file)
    os.replace(pending, key_file)
    _fsync_dir(key_file.parent)
    return kept


def _keep_old_key(key_file: Path) -> Path:
    old = key_file.read_bytes()
    for path in sorted(key_file.parent.glob(key_file.name + ".old-*")):
        if path.read_bytes() == old:
            return path
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 100):
        path = key_file.with_name(f"{key_file.name}.old-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            write_private(path, old)
        except FileExistsError:
            continue
        return path
    raise RotationError(f"could not keep the old key beside {key_file}")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------ the report


def describe(result: RotationResult) -> list[str]:
    """The operator's account of a rotation: what changed, what is still old, what to do now."""
    lines: list[str] = []
    if result.outcome == "rotated":
        lines.append(
            f"re-tokenised the raw layer with the new PII key ({result.values} distinct ID and "
            "phone numbers, one transaction, verified before commit):"
        )
        lines += [f"  {column:<40} {n:>8} tokens" for column, n in result.tokens.items()]
    elif result.outcome == "finished":
        lines.append(
            "finished a rotation that was interrupted after its commit: the raw layer was "
            f"already re-tokenised with {pending_key_file(result.key_file).name}."
        )
    else:
        lines.append(
            f"the raw layer is already tokenised with {NEW_PII_KEY_VARIABLE} (an earlier "
            "invocation committed): nothing was changed."
        )
    if result.mode == "key_file":
        lines.append(f"the new key is {result.key_file} (0600).")
        lines.append(
            f"the old key is kept in {result.kept_key} (0600): it is what still matches the "
            "tokens of files published before; delete it once no one needs it."
        )
    else:
        lines.append(
            "now set OUTREACH_PII_KEY to the new key (the value of OUTREACH_NEW_PII_KEY) in "
            ".env, recreate the services (`docker compose up -d`), and forget "
            "OUTREACH_NEW_PII_KEY; until then every load refuses with a key mismatch."
        )
    if result.stale:
        lines.append(
            "still with the old tokens until the next run rebuilds them from raw: "
            + ", ".join(result.stale)
        )
    lines.append(
        "published/outreach.duckdb keeps the old tokens until the next run publishes; copies of "
        "files published before keep them for good and do not join with the new tokens."
    )
    return lines
