"""Receipts: one Chinese mail per message to a registered sender, through a local SMTP server,
saying what arrived and what the night's reading of it would do, with the 退回清单 attached;
never two for one message; masks only."""

from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest

from outreach.intake.ledger import open_ledger
from outreach.intake.pull import pull
from tests.intake.conftest import MAILBOX, intake_home
from tests.intake.test_mailbox import mail, plain
from tests.workbooks import write_xlsx

SENDERS = """
channels:
  - {name: mailbox, kind: imap, connection: outreach_mailbox, folder: INBOX}
senders:
  - {address: bcz@county.test, provider: townships, unit: 保城镇}
"""
HEADER = ["序号", "走访日期", "干部编号", "帮扶责任人", "户编号", "户主姓名", "乡镇", "村委会", "走访方式", "走访内容", "群众诉求"]  # fmt: skip
ID_NUMBER = "469029198001011234"


@pytest.fixture
def home(tmp_path, mailbox):
    return intake_home(tmp_path, SENDERS)


def visits_book(tmp_path) -> bytes:
    good = [1, dt.date(2014, 6, 20), "GB0022", "符青", "H10001007", "梁伟", "保城镇", "西坡村委会", "入户", "送去防汛物资", ""]  # fmt: skip
    bad = [2, "2014年13月45日", "GB0022", "符青", "H10001014", "许雄华", "保城镇", "", "入户", f"户主身份证 {ID_NUMBER}", ""]  # fmt: skip
    return write_xlsx(tmp_path / "v.xlsx", {"6月走访": [HEADER, good, bad]}).read_bytes()


def test_a_registered_sender_gets_one_receipt_with_the_return_list(home, mailbox, smtp, tmp_path):
    book = visits_book(tmp_path)
    mailbox.deliver(
        MAILBOX,
        mail(
            "bcz@county.test",
            [
                (plain("保城镇6月走访.xlsx"), book),
                (plain("备份.rar"), b"Rar!\x1a\x07\x00" + b"x" * 50),
                (plain("保城镇6月走访（副本）.xlsx"), book),
            ],
        ),
    )
    mailbox.deliver(MAILBOX, mail("stranger@example.com", [(plain("表.xlsx"), book)]))

    result = pull(home)

    assert result.receipts == {"sent": 1}
    [(to, receipt)] = smtp.messages
    assert to == ["bcz@county.test"]
    assert str(receipt["subject"]).startswith("报送回执：")
    body = receipt.get_body(("html",)).get_content()
    assert "乡镇保城镇" in body and "共 3 个文件" in body
    assert "保城镇6月走访.xlsx：已收取，可以读取。" in body
    assert "识别为“帮扶走访记录”：可加载 1 行，退回 1 行" in body
    assert "备份.rar：未收取。不接收 .rar 压缩包" in body
    assert "保城镇6月走访（副本）.xlsx：重复，未再次保存。" in body
    assert "第 3 行“走访日期”" in body  # the returned row, as the clerk numbers it
    [attachment] = [p for p in receipt.iter_attachments()]
    assert attachment.get_filename() == "退回清单_保城镇6月走访.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(attachment.get_content()), read_only=True)
    cells = [
        str(c)
        for ws in workbook.worksheets
        for row in ws.iter_rows(values_only=True)
        for c in row
        if c
    ]
    assert any("走访日期" in c for c in cells)
    # masks only: no ID number in the mail or the list
    raw = receipt.as_string() + "\n".join(cells)
    assert ID_NUMBER not in raw and not re.search(r"\d{17}[\dXx]", body)

    # never two: a second pull sends nothing for the same message
    assert pull(home).receipts == {}
    assert len(smtp.messages) == 1


def test_a_receipt_interrupted_mid_send_is_never_sent_again(home, mailbox, smtp, tmp_path):
    mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain("表.xlsx"), visits_book(tmp_path))]))
    # as a pull killed during the SMTP conversation leaves it
    import outreach.intake.receipts as receipts

    original = receipts.send_receipts
    receipts_ran = []

    def die_while_sending(settings, ledger, run_id):
        receipts.ensure_table(ledger)
        with ledger.transaction() as con:
            con.execute("update receipts set state = 'sending' where state = 'pending'")
        receipts_ran.append(True)
        return {}

    receipts.send_receipts = die_while_sending
    try:
        pull(home)
    finally:
        receipts.send_receipts = original
    assert receipts_ran and smtp.messages == []
    assert pull(home).receipts == {"unknown": 1}
    assert smtp.messages == []
    ledger = open_ledger(home.intake_dir)
    [(state, error)] = ledger.con.execute("select state, error from receipts").fetchall()
    ledger.close()
    assert state == "unknown" and "不再重发" in error


def test_without_a_mail_connection_receipts_are_recorded_unsent(
    home, mailbox, tmp_path, monkeypatch
):
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain("表.xlsx"), visits_book(tmp_path))]))
    assert pull(home).receipts == {"unsent": 1}
    assert pull(home).receipts == {}
