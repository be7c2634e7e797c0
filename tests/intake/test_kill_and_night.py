"""Intake killed mid-pull loses and duplicates nothing; mail pulled in and a file submitted
through the portal are loaded by the night, published with their submissions, and shown in the
township's 我的报送 with the rows loaded and returned."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import duckdb

from outreach.intake.ledger import open_ledger
from outreach.portal import submissions as sent
from outreach.portal.accounts import open_accounts
from outreach.portal.uploads import check, submit
from outreach.settings import load_settings
from tests.demo_warehouse import copy_of
from tests.intake.conftest import MAILBOX
from tests.intake.test_mailbox import mail, plain, workbook
from tests.workbooks import write_xlsx

SENDERS = """
channels:
  - {name: mailbox, kind: imap, connection: outreach_mailbox, folder: INBOX}
senders:
  - {address: bcz@county.test, provider: townships, unit: 保城镇}
"""


def _env(home, senders) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update(OUTREACH_HOME=str(home), OUTREACH_SENDERS=str(senders))
    return env


def test_a_pull_killed_mid_run_then_rerun_loses_and_duplicates_nothing(mailbox, smtp, tmp_path):
    senders = tmp_path / "senders.yml"
    senders.write_text(SENDERS, encoding="utf-8")
    home = tmp_path / "home"
    books = {f"台账{i:02d}.xlsx": workbook(tmp_path, f"m{i}") for i in range(30)}
    for name, data in books.items():
        mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain(name), data)]))
    settings = load_settings({"OUTREACH_HOME": str(home), "OUTREACH_SENDERS": str(senders)})
    proc = subprocess.Popen(
        [sys.executable, "-m", "outreach.cli", "pull"], env=_env(home, senders),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ledger_file = settings.intake_dir / "ledger.sqlite3"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger_file.exists():
            ledger = open_ledger(settings.intake_dir)
            n = len(ledger.entries())
            ledger.close()
            if n >= 3:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "the pull ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    again = subprocess.run(
        [sys.executable, "-m", "outreach.cli", "pull"], env=_env(home, senders),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    ledger = open_ledger(settings.intake_dir)
    rows = ledger.entries()
    messages = ledger.con.execute("select count(*) from messages").fetchone()[0]
    ledger.close()
    assert sorted(r["original_name"] for r in rows) == sorted(books)  # each once
    assert {r["status"] for r in rows} == {"landed"} and messages == 30
    folder = settings.inbox / "townships" / "保城镇"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == books  # no temp file left
    assert not any("\\Seen" in f for f in mailbox.flags(MAILBOX))
    # one receipt per message, none twice (the killed pull died before its receipts)
    assert len(smtp.messages) == 30 and {tuple(to) for to, _ in smtp.messages} == {
        ("bcz@county.test",)
    }
    bodies = sorted(m.get_body(("html",)).get_content() for _, m in smtp.messages)
    assert all(f"台账{i:02d}.xlsx：已收取" in b for i, b in enumerate(bodies))


def test_mail_pulled_in_is_loaded_by_the_night_and_published_with_its_submission(
    mailbox, demo_home, tmp_path
):
    home = copy_of(demo_home, tmp_path / "home")
    senders = tmp_path / "senders.yml"
    senders.write_text(SENDERS, encoding="utf-8")
    header = ["序号", "走访日期", "干部编号", "帮扶责任人", "户编号", "户主姓名", "乡镇", "村委会", "走访方式", "走访内容", "群众诉求"]  # fmt: skip
    visit = [1, dt.date(2014, 6, 20), "GB0022", "符青", "H10001007", "梁伟", "保城镇", "西坡村委会", "入户", "送去防汛物资并查看房屋安全", ""]  # fmt: skip
    book = write_xlsx(tmp_path / "补报.xlsx", {"6月补报": [header, visit]}).read_bytes()
    mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain("保城镇6月走访补报.xlsx"), book)]))
    pulled = subprocess.run(
        [sys.executable, "-m", "outreach.cli", "pull"], env=_env(home, senders),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert pulled.returncode == 0 and "landed 1" in pulled.stdout, pulled.stdout + pulled.stderr
    # and one through the portal, by the township's account
    settings = load_settings({"OUTREACH_HOME": str(home)})
    accounts = open_accounts(settings)
    accounts.add("bcz", "unit", "townships", "保城镇")
    clerk = accounts.get("bcz")
    accounts.close()
    second = [2, dt.date(2014, 6, 21), "GB0022", "符青", "H10001014", "许雄华", "保城镇", "西坡村委会", "入户", "了解生产情况", ""]  # fmt: skip
    wrong = [3, "6月32日", "GB0022", "符青", "H10001021", "王芳", "保城镇", "西坡村委会", "入户", "宣讲政策", ""]  # fmt: skip
    portal_book = write_xlsx(tmp_path / "门户.xlsx", {"走访": [header, second, wrong]}).read_bytes()
    uploaded = check(settings, clerk, [("保城镇6月走访（门户）.xlsx", portal_book)])
    [via_portal] = submit(settings, clerk, uploaded.token)
    assert [s.outcome for s in sent.listed(settings, clerk)] == ["已收取，待夜间入库"] * 2
    # the night's as-of date is today: the mail was fetched today
    today = dt.datetime.now(load_settings({"OUTREACH_HOME": str(home)}).tz).date()
    run = subprocess.run(
        [sys.executable, "-m", "outreach.cli", "run", "--as-of", today.isoformat()],
        env=_env(home, senders), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    landed = "townships/保城镇/保城镇6月走访补报.xlsx"
    con = duckdb.connect(str(home / "published" / "outreach.duckdb"), read_only=True)
    try:
        visits = con.execute(
            "select visit_date, notes from marts.fct_visits where source_file = ?", [landed]
        ).fetchall()
        submissions = con.execute(
            "select channel, provider, unit, sender_masked, original_name, landed_path, status, "
            "load_status, rows_loaded, fetched_on from marts.fct_submissions order by submission_id"
        ).fetchall()
    finally:
        con.close()
    assert visits == [(dt.date(2014, 6, 20), "送去防汛物资并查看房屋安全")]
    run_json = json.loads((home / "reports" / "latest" / "run.json").read_text(encoding="utf-8"))
    assert run_json["intake"] == {"objects": {"landed": 2}, "attention": []}
    assert submissions == [
        ("mailbox", "townships", "保城镇", "b***@county.test", "保城镇6月走访补报.xlsx", landed,
         "landed", "current", 1, today),
        ("portal", "townships", "保城镇", "bcz", "保城镇6月走访（门户）.xlsx", via_portal.landed_path,
         "landed", "current", 1, today),
    ]  # fmt: skip
    # 我的报送 after the night: what each file the township sent became, by any channel
    assert [(s.channel, s.outcome) for s in sent.listed(settings, clerk)] == [
        ("portal", "已入库：加载 1 行，退回 1 行"),
        ("mailbox", "已入库：加载 1 行，退回 0 行"),
    ]
