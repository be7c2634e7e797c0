"""The portal's accounts: argon2 hashes, a first password to change, lockout after five wrong
passwords, units checked against the gazetteer, an audit log; `outreach accounts`."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from outreach.intake.senders import Unit
from outreach.portal.accounts import LOCK_FOR, AccountError, Accounts
from outreach.settings import DEFAULT_GAZETTEER


@pytest.fixture
def accounts(tmp_path):
    store = Accounts(tmp_path / "portal" / "accounts.sqlite3", DEFAULT_GAZETTEER)
    yield store
    store.close()


def test_an_account_for_a_township_signs_in_with_its_first_password_then_changes_it(
    accounts, tmp_path
):
    password = accounts.add("BaoCheng", "unit", "townships", "保城")
    account = accounts.sign_in("baocheng", password).account
    assert account.unit == Unit("townships", ("保城镇",)) and account.must_change
    # only a hash is kept, and it is argon2
    stored = (
        sqlite3.connect(tmp_path / "portal" / "accounts.sqlite3")
        .execute("select password_hash from accounts")
        .fetchone()[0]
    )
    assert stored.startswith("$argon2id$") and password not in stored
    with pytest.raises(AccountError, match="至少"):
        accounts.change_password("baocheng", password, "short")
    with pytest.raises(AccountError, match="用户名"):
        accounts.change_password("baocheng", password, "my-baocheng-2026")
    with pytest.raises(AccountError, match="原密码不正确"):
        accounts.change_password("baocheng", "wrong", "a-long-new-password")
    accounts.change_password("baocheng", password, "a-long-new-password")
    assert not accounts.sign_in("baocheng", "a-long-new-password").account.must_change
    assert accounts.sign_in("baocheng", password).account is None


def test_five_wrong_passwords_lock_the_account_and_a_reset_unlocks_it(accounts):
    password = accounts.add("mgx", "unit", "townships", "毛感乡")
    now = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)
    for _ in range(5):
        assert accounts.sign_in("mgx", "guess", now).reason == "用户名或密码不正确"
    refused = accounts.sign_in("mgx", password, now)
    assert refused.account is None and "锁定" in refused.reason
    assert accounts.sign_in("mgx", password, now + LOCK_FOR + dt.timedelta(seconds=1)).account
    for _ in range(5):
        accounts.sign_in("mgx", "guess", now)
    again = accounts.reset("mgx")
    assert accounts.sign_in("mgx", again, now).account.must_change
    events = [e for _, _, e, _ in accounts.audit_log("mgx")]
    assert events.count("locked") == 2 and "reset" in events and events[0] == "added"


def test_a_wrong_name_reads_like_a_wrong_password_and_a_disabled_account_is_refused(accounts):
    password = accounts.add("zzb-admin", "admin")
    assert accounts.sign_in("nobody", "x").reason == accounts.sign_in("zzb-admin", "x").reason
    assert accounts.sign_in("zzb-admin", password).account.is_admin
    accounts.disable("zzb-admin")
    assert "停用" in accounts.sign_in("zzb-admin", password).reason


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("../x", "unit", "townships", "保城镇"), "用户名"),
        (("ab", "unit", "townships", "保城镇"), "用户名"),
        (("ok-name", "root", "townships", "保城镇"), "角色"),
        (("ok-name", "unit", "townships", "不存在镇"), "不在本县乡镇名录中"),
        (("ok-name", "unit", "banks", "x"), "provider must be one of"),
        (("ok-name", "unit", "townships", "../county"), "not a unit's name"),
        (("ok-name", "admin", "townships", "保城镇"), "不属于任何报送单位"),
    ],
)
def test_an_account_that_cannot_be_made_says_why(accounts, args, message):
    with pytest.raises(AccountError, match=message):
        accounts.add(*args)


def test_a_username_is_taken_once(accounts):
    accounts.add("jmz", "unit", "townships", "加茂镇")
    with pytest.raises(AccountError, match="已存在"):
        accounts.add("JMZ", "unit", "townships", "加茂镇")


def test_outreach_accounts_adds_lists_resets_and_disables(tmp_path, monkeypatch, capsys):
    from outreach.cli import main

    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path / "home"))
    assert (
        main(
            [
                "accounts",
                "add",
                "lhzb",
                "--provider",
                "joint_branches",
                "--unit",
                "什玲/什玲联合党支部",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "first password" in out
    assert main(["accounts", "add", "admin1", "--admin"]) == 0
    capsys.readouterr()
    assert main(["accounts", "list"]) == 0
    listed = capsys.readouterr().out
    assert "lhzb\tjoint_branches/什玲镇/什玲联合党支部\tmust change password" in listed
    assert "admin1\t组织部管理员" in listed
    assert main(["accounts", "reset", "lhzb"]) == 0 and "shown once" in capsys.readouterr().out
    assert main(["accounts", "disable", "lhzb"]) == 0
    assert main(["accounts", "disable", "nobody"]) == 2
    assert "没有用户名" in capsys.readouterr().err
    assert main(["accounts", "add", "x!", "--provider", "townships", "--unit", "保城镇"]) == 2
