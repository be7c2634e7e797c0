"""Rotating the PII key: the raw layer re-tokenised in one transaction, joins kept, the key file
moved crash-safely, the old key refused by the loader afterwards, bad input refused untouched."""

from __future__ import annotations

import stat
import subprocess
import sys
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pytest

from ingest.load import PiiKeyMismatch, key_fingerprint
from ingest.normalise import resident_id_check_char
from ingest.pii import mask, token
from ingest.pipeline import run_ingest
from outreach.cli import main
from outreach.pipeline import pii_rotation
from outreach.pipeline.pii_rotation import RotationError, describe, rotate_pii_key
from outreach.settings import DEFAULT_GAZETTEER, load_settings
from tests.workbooks import write_xlsx

TZ = ZoneInfo("Asia/Shanghai")


def _id(body: str) -> str:
    return body + resident_id_check_char(body)


ID_A = _id("46902919800101002")
ID_B = _id("46902919750505123")
P1, P2, P3 = "13812343210", "13987654321", "15011112222"

CADRES = [
    ["干部编号", "姓名", "性别", "工作单位", "职级", "是否组工干部", "联系电话"],
    ["C001", "张三", "男", "县委组织部", "副科", "是", P1],
    ["C002", "李四", "女", "县财政局", "正科", "否", P2],
    ["C003", "王五", "男", "县民政局", "一般干部", "否", None],
]
HOUSEHOLDS = ["户编号", "乡镇", "村委会", "户主姓名", "身份证号", "户类型", "家庭人口", "联系电话"]


def _households(*rows) -> dict:
    return {"农户": [HOUSEHOLDS, *rows]}


def _hh(code: str, id_number: str | None, phone: str | None) -> list:
    return [code, "什玲镇", "什玲村委会", "户主" + code, id_number, "低保户", 3, phone]


# (table, original column) of every PII column the registry declares
PII = [("cadres", "phone"), ("households", "head_id_number"), ("households", "phone")]


def _settings(home, **env):
    return load_settings({"OUTREACH_HOME": str(home), **env})


def _ingest(settings, key: bytes, load_id: str):
    return run_ingest(settings.inbox, settings.build_db, DEFAULT_GAZETTEER, key, load_id, TZ)


def _build(settings, key: bytes) -> None:
    """A raw layer through the real loader: one number in several rows, tables and files."""
    write_xlsx(settings.inbox / "county/干部名册.xlsx", {"干部": CADRES})
    write_xlsx(
        settings.inbox / "townships/什玲镇/困难户.xlsx",
        _households(_hh("H001", ID_A, P1), _hh("H002", ID_B, P3), _hh("H003", None, None)),
    )
    write_xlsx(
        settings.inbox / "townships/什玲镇/困难户补充.xlsx",
        _households(_hh("H004", ID_A, P2)),
    )
    summary = _ingest(settings, key, "L1").as_dict()
    assert summary["rows"] == {"loaded": 7, "quarantined": 0}


def _snapshot(db) -> dict:
    """Every PII column of raw with its token and mask, by file and row; and the key state."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {
            (t, c): sorted(
                con.execute(
                    f'select source_file, row_number, "{c}", "{c}_token", "{c}_mask" from raw.{t}'
                ).fetchall()
            )
            for t, c in PII
        }
        out["state"] = con.execute("select * from raw.pii_key_state").fetchall()
        return out
    finally:
        con.close()


@pytest.fixture
def built(tmp_path):
    """A key-file deployment (no OUTREACH_PII_KEY) with a loaded raw layer."""
    settings = _settings(tmp_path / "home")
    _build(settings, settings.pii_key())
    return settings


@pytest.fixture
def env_built(tmp_path):
    """A docker-compose deployment: the key is OUTREACH_PII_KEY."""
    settings = _settings(tmp_path / "home", OUTREACH_PII_KEY="old-key-" + "a" * 16)
    _build(settings, settings.pii_key())
    return settings


# ------------------------------------------------------------------------------ the rotation


def test_every_token_is_remade_with_the_new_key_and_masks_and_rows_stay(built):
    old_key = built.pii_key()
    before = _snapshot(built.build_db)
    result = rotate_pii_key(built)
    new_key = built.pii_key()
    assert new_key != old_key and len(new_key) == 64
    after = _snapshot(built.build_db)
    for column in PII:
        assert len(after[column]) == len(before[column])
        for (f0, r0, v0, t0, m0), (f1, r1, v1, t1, m1) in zip(
            before[column], after[column], strict=True
        ):
            assert (f1, r1, v1, m1) == (f0, r0, v0, m0)  # same row, original and mask
            assert m1 == mask(v1)
            assert t1 == token(v1, new_key)
            assert t0 == token(v0, old_key)
            if v0 is not None:
                assert t1 != t0
            else:
                assert t1 is None
    assert after["state"] == [(key_fingerprint(new_key),)]
    assert result.outcome == "rotated" and result.values == 5  # ID_A, ID_B, P1, P2, P3
    assert result.tokens == {
        "raw.cadres.phone_token": 2,
        "raw.households.head_id_number_token": 3,
        "raw.households.phone_token": 3,
    }


def test_the_same_number_keeps_one_token_across_rows_tables_and_files(built):
    rotate_pii_key(built)
    con = duckdb.connect(str(built.build_db), read_only=True)
    try:
        # a cadre and a household share a phone: the join on tokens is the join on numbers
        by_token = con.execute(
            "select c.cadre_code, h.household_code from raw.cadres c "
            "join raw.households h on c.phone_token = h.phone_token order by all"
        ).fetchall()
        by_number = con.execute(
            "select c.cadre_code, h.household_code from raw.cadres c "
            "join raw.households h on c.phone = h.phone order by all"
        ).fetchall()
        assert by_token == by_number == [("C001", "H001"), ("C002", "H004")]
        (tokens,) = con.execute(
            "select count(distinct head_id_number_token) from raw.households "
            "where head_id_number = ?",
            [ID_A],
        ).fetchone()
        assert tokens == 1  # H001 and H004, from two files
    finally:
        con.close()


def test_the_key_file_is_replaced_and_the_old_key_kept_0600(built):
    old_key = built.pii_key()
    result = rotate_pii_key(built)
    key_file = built.pii_key_file
    assert result.key_file == key_file and result.kept_key.parent == key_file.parent
    assert result.kept_key.name.startswith("pii.key.old-")
    assert result.kept_key.read_bytes() == old_key
    for path in (key_file, result.kept_key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not (key_file.parent / "pii.key.new").exists()
    text = "\n".join(describe(result))
    assert str(result.kept_key) in text and "published" in text
    assert old_key.decode() not in text and built.pii_key().decode() not in text


def test_a_new_file_loaded_with_the_new_key_joins_the_rotated_rows(built):
    rotate_pii_key(built)
    write_xlsx(built.inbox / "townships/什玲镇/困难户2014.xlsx", _households(_hh("H010", ID_B, P1)))
    _ingest(built, built.pii_key(), "L2")
    con = duckdb.connect(str(built.build_db), read_only=True)
    try:
        rows = con.execute(
            "select household_code from raw.households where head_id_number_token = "
            "(select head_id_number_token from raw.households where household_code = 'H010') "
            "order by 1"
        ).fetchall()
        assert rows == [("H002",), ("H010",)]
        (cadre,) = con.execute(
            "select c.cadre_code from raw.cadres c join raw.households h "
            "on c.phone_token = h.phone_token where h.household_code = 'H010'"
        ).fetchone()
        assert cadre == "C001"
    finally:
        con.close()


def test_the_loader_refuses_the_old_key_after_a_rotation(built):
    old_key = built.pii_key()
    rotate_pii_key(built)
    before = _snapshot(built.build_db)
    write_xlsx(built.inbox / "townships/什玲镇/困难户2014.xlsx", _households(_hh("H010", ID_B, P1)))
    with pytest.raises(PiiKeyMismatch, match="outreach rotate-pii-key"):
        _ingest(built, old_key, "L2")
    assert _snapshot(built.build_db) == before  # nothing loaded


def test_token_columns_outside_raw_are_named_as_rebuilt_by_the_next_run(built):
    con = duckdb.connect(str(built.build_db))
    con.execute("create schema marts")
    con.execute("create table marts.dim_households as select * from raw.households")
    con.close()
    result = rotate_pii_key(built)
    assert "marts.dim_households.head_id_number_token" in result.stale
    assert "marts.dim_households.phone_token" in result.stale
    assert "marts.dim_households.head_id_number_token" in "\n".join(describe(result))


def test_a_mismatch_found_after_the_update_rolls_everything_back(built, monkeypatch):
    """One wrong token in the map: the columns already updated are rolled back too."""
    real = pii_rotation._token_map

    def broken(values, old_key, new_key):
        table = real(values, old_key, new_key).to_pydict()
        table["new_token"][-1] = table["old_token"][-1]
        return pa.table(table)

    old_key = built.pii_key()
    before = _snapshot(built.build_db)
    monkeypatch.setattr(pii_rotation, "_token_map", broken)
    with pytest.raises(RotationError, match="rolled back"):
        rotate_pii_key(built)
    assert _snapshot(built.build_db) == before
    assert built.pii_key() == old_key
    assert not (built.pii_key_file.parent / "pii.key.new").exists()


def test_a_raw_layer_with_mixed_keys_is_refused(built):
    con = duckdb.connect(str(built.build_db))
    con.execute(
        "update raw.cadres set phone_token = ? where cadre_code = 'C001'",
        [token(P1, b"another key entirely")],
    )
    con.close()
    before = _snapshot(built.build_db)
    with pytest.raises(RotationError, match="not made with the current key"):
        rotate_pii_key(built)
    assert _snapshot(built.build_db) == before


# ------------------------------------------------------------------------------ crash recovery

CRASH_AFTER_COMMIT = """
import os, sys
from outreach.pipeline import pii_rotation
from outreach.settings import load_settings
pii_rotation.install_key = lambda key_file, pending: os._exit(9)  # dies before the rename
pii_rotation.rotate_pii_key(load_settings({"OUTREACH_HOME": sys.argv[1]}))
"""


def test_a_crash_between_commit_and_rename_is_finished_by_the_next_invocation(
    built, monkeypatch, capsys
):
    old_key = built.pii_key()
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_COMMIT, str(built.home)], capture_output=True
    )
    assert proc.returncode == 9, proc.stderr
    pending = built.pii_key_file.with_name("pii.key.new")
    new_key = pending.read_bytes()
    assert built.pii_key() == old_key  # not renamed
    assert stat.S_IMODE(pending.stat().st_mode) == 0o600
    snap = _snapshot(built.build_db)
    assert all(t == token(v, new_key) for _, _, v, t, _ in snap[("cadres", "phone")])
    assert snap["state"] == [(key_fingerprint(new_key),)]

    # the nightly run (pii.key = the old key) refuses to mix keys
    write_xlsx(built.inbox / "townships/什玲镇/困难户2014.xlsx", _households(_hh("H010", ID_B, P1)))
    with pytest.raises(PiiKeyMismatch, match="rotate-pii-key"):
        _ingest(built, built.pii_key(), "L2")

    monkeypatch.setenv("OUTREACH_HOME", str(built.home))
    assert main(["rotate-pii-key"]) == 0
    out = capsys.readouterr().out
    assert "finished a rotation that was interrupted" in out
    assert built.pii_key() == new_key and not pending.exists()
    kept = sorted(built.home.glob("pii.key.old-*"))
    assert [k.read_bytes() for k in kept] == [old_key]
    assert _snapshot(built.build_db) == snap  # tokens were not made a third time
    _ingest(built, built.pii_key(), "L2")  # and the loader accepts the key again


def test_a_key_left_by_a_rotation_that_died_before_its_commit_is_discarded(built):
    pending = built.pii_key_file.with_name("pii.key.new")
    pending.write_text("f" * 64)  # never made a token: the database still has the old key's
    rotate_pii_key(built)
    assert built.pii_key() != b"f" * 64 and not pending.exists()
    snap = _snapshot(built.build_db)
    assert all(t == token(v, built.pii_key()) for _, _, v, t, _ in snap[("households", "phone")])


# ------------------------------------------------------------------------------ OUTREACH_PII_KEY


def test_env_key_mode_takes_the_new_key_from_the_environment(env_built, monkeypatch, capsys):
    old, new = env_built.pii_key_env, "new-key-" + "b" * 20
    monkeypatch.setenv("OUTREACH_HOME", str(env_built.home))
    monkeypatch.setenv("OUTREACH_PII_KEY", old)
    monkeypatch.setenv("OUTREACH_NEW_PII_KEY", new)
    assert main(["rotate-pii-key"]) == 0
    captured = capsys.readouterr()
    assert "set OUTREACH_PII_KEY to the new key" in captured.out
    assert "docker compose up -d" in captured.out
    assert old not in captured.out + captured.err and new not in captured.out + captured.err
    snap = _snapshot(env_built.build_db)
    for column in PII:
        assert all(t == token(v, new.encode()) for _, _, v, t, _ in snap[column])
    assert not env_built.pii_key_file.exists()  # no key file in this mode

    # run again (e.g. the first one died before printing): nothing is remade
    assert main(["rotate-pii-key"]) == 0
    assert "already tokenised" in capsys.readouterr().out
    assert _snapshot(env_built.build_db) == snap

    write_xlsx(
        env_built.inbox / "townships/什玲镇/困难户2014.xlsx", _households(_hh("H010", ID_B, P1))
    )
    with pytest.raises(PiiKeyMismatch):
        _ingest(env_built, old.encode(), "L2")  # the services before .env is updated
    _ingest(env_built, new.encode(), "L2")  # and after


@pytest.mark.parametrize(
    ("new_key", "message"),
    [
        (None, "OUTREACH_NEW_PII_KEY"),
        ("too-short", "at least 16 characters"),
        ("old-key-" + "a" * 16, "is the current OUTREACH_PII_KEY"),
    ],
)
def test_env_key_mode_bad_new_keys_change_nothing(env_built, monkeypatch, capsys, new_key, message):
    before = _snapshot(env_built.build_db)
    monkeypatch.setenv("OUTREACH_HOME", str(env_built.home))
    monkeypatch.setenv("OUTREACH_PII_KEY", env_built.pii_key_env)
    if new_key is not None:
        monkeypatch.setenv("OUTREACH_NEW_PII_KEY", new_key)
    assert main(["rotate-pii-key"]) == 1
    err = capsys.readouterr().err
    assert message in err and "Nothing was changed" in err and "Traceback" not in err
    assert _snapshot(env_built.build_db) == before


def test_a_new_key_in_the_environment_is_refused_for_a_key_file(built, monkeypatch, capsys):
    old_key = built.pii_key()
    monkeypatch.setenv("OUTREACH_HOME", str(built.home))
    monkeypatch.setenv("OUTREACH_NEW_PII_KEY", "n" * 20)
    assert main(["rotate-pii-key"]) == 1
    assert "only for a key set in OUTREACH_PII_KEY" in capsys.readouterr().err
    assert built.pii_key() == old_key


# ------------------------------------------------------------------------------ refusals

HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
sys.stdin.read()
"""


def test_a_build_file_locked_by_another_process_is_refused_untouched(built, monkeypatch, capsys):
    old_key = built.pii_key()
    before = _snapshot(built.build_db)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(built.build_db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("OUTREACH_HOME", str(built.home))
        assert main(["rotate-pii-key"]) == 1
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    err = capsys.readouterr().err
    assert "in use by another process" in err and "airflow dags pause outreach_nightly" in err
    assert "Traceback" not in err
    assert built.pii_key() == old_key
    assert not built.pii_key_file.with_name("pii.key.new").exists()
    assert _snapshot(built.build_db) == before


def test_no_build_file_yet_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path))
    assert main(["rotate-pii-key"]) == 1
    assert "no build file" in capsys.readouterr().err
    assert not (tmp_path / "pii.key").exists() and not (tmp_path / "pii.key.new").exists()


# ------------------------------------------------------------------------------ the loader's check


def test_a_raw_layer_from_before_the_fingerprint_is_checked_against_its_tokens(built):
    key = built.pii_key()
    con = duckdb.connect(str(built.build_db))
    con.execute("delete from raw.pii_key_state")
    con.close()
    extra = built.inbox / "townships/什玲镇/困难户2014.xlsx"
    write_xlsx(extra, _households(_hh("H010", ID_B, P1)))
    with pytest.raises(PiiKeyMismatch):
        _ingest(built, b"x" * 32, "L2")
    _ingest(built, key, "L2")
    assert _snapshot(built.build_db)["state"] == [(key_fingerprint(key),)]
