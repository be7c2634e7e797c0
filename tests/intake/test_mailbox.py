"""Pulling the collection mailbox, against a real Dovecot: who sent it decides where it lands,
names come out as the clerk typed them, zips are opened under guards, what is refused says why,
nothing is taken twice, and the clerks' mail stays unread."""

from __future__ import annotations

import base64
import io
import urllib.parse
import uuid
import zipfile
from pathlib import Path

import pytest

from outreach.intake import attachments
from outreach.intake.ledger import open_ledger
from outreach.intake.pull import pull
from tests.intake.conftest import MAILBOX, intake_home
from tests.workbooks import write_xlsx

SENDERS = """
channels:
  - {name: mailbox, kind: imap, connection: outreach_mailbox, folder: INBOX}
senders:
  - {address: bcz@county.test, provider: townships, unit: 保城镇}
  - {address: [JMZ@County.test, jmz2@county.test], provider: townships, unit: 加茂}
  - {address: mgx@county.test, provider: townships, unit: 毛感乡}
  - {address: zzb@county.test, provider: county}
"""


@pytest.fixture
def home(tmp_path, mailbox):
    return intake_home(tmp_path, SENDERS)


def workbook(tmp_path: Path, marker: str) -> bytes:
    path = write_xlsx(
        tmp_path / f"{uuid.uuid4().hex}.xlsx",
        {"走访": [["走访日期", "备注"], ["2014-05-06", marker]]},
    )
    return path.read_bytes()


def rfc2231(name: str, charset: str = "GBK") -> bytes:
    return f"filename*={charset}''{urllib.parse.quote(name.encode(charset))}".encode()


def rfc2047(name: str, charset: str = "GB2312") -> bytes:
    b64 = base64.b64encode(
        name.encode("gb18030" if charset.upper() == "GB2312" else charset)
    ).decode()
    return f'filename="=?{charset}?B?{b64}?="'.encode()


def raw8bit(name: str, charset: str = "gbk") -> bytes:
    return b'filename="' + name.encode(charset) + b'"'


def plain(name: str) -> bytes:
    return rfc2231(name, "UTF-8")


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).rstrip(b"\n").replace(b"\n", b"\r\n")


def mail(sender: str, files: list[tuple[bytes, bytes]], message_id: str | None = None) -> bytes:
    """A multipart message from ``sender`` with ``files`` as (filename parameter, bytes)."""
    boundary = b"----=_Part_" + uuid.uuid4().hex.encode()
    mid = message_id or f"{uuid.uuid4().hex}@county.test"
    out = [
        f"From: =?UTF-8?B?{base64.b64encode('乡镇报送员'.encode()).decode()}?= <{sender}>".encode(),
        f"To: {MAILBOX}".encode(),
        f"Subject: =?UTF-8?B?{base64.b64encode('报送台账'.encode()).decode()}?=".encode(),
        f"Message-ID: <{mid}>".encode(),
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="' + boundary + b'"',
        b"",
        b"--" + boundary,
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: base64",
        b"",
        _b64("附件是本月台账。".encode()),
    ]
    for param, data in files:
        out += [
            b"--" + boundary,
            b"Content-Type: application/octet-stream",
            b"Content-Disposition: attachment; " + param,
            b"Content-Transfer-Encoding: base64",
            b"",
            _b64(data),
        ]
    out.append(b"--" + boundary + b"--")
    return b"\r\n".join(out) + b"\r\n"


def zipped(members: dict[str, bytes], gbk_names: bool = False) -> bytes:
    """A zip of ``members``; ``gbk_names``: the names in GBK bytes with no UTF-8 flag, as
    WinRAR and Windows' own zip write Chinese names (Python's zipfile cannot: it writes
    placeholders of the same length, replaced in the bytes)."""
    buf = io.BytesIO()
    swaps = {}
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (name, data) in enumerate(members.items()):
            if gbk_names:
                gbk = name.encode("gbk")
                placeholder = (b"n%d_" % i + b"x" * len(gbk))[: len(gbk)]
                swaps[placeholder] = gbk
                name = placeholder.decode()
            zf.writestr(name, data)
    out = buf.getvalue()
    for placeholder, gbk in swaps.items():
        out = out.replace(placeholder, gbk)
    return out


def statuses(settings) -> list[tuple]:
    ledger = open_ledger(settings.intake_dir)
    try:
        return [
            (e["sender"], e["original_name"], e["status"], e["landed_path"])
            for e in ledger.entries()
        ]
    finally:
        ledger.close()


def test_three_townships_same_name_and_chinese_names_land_in_their_own_folders(
    home, mailbox, tmp_path
):
    books = {k: workbook(tmp_path, k) for k in ("bcz", "jmz", "mgx", "gbk", "2047", "8bit")}
    mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain("台账.xlsx"), books["bcz"])]))
    mailbox.deliver(MAILBOX, mail("jmz2@county.test", [(rfc2231("台账.xlsx"), books["jmz"])]))
    mailbox.deliver(MAILBOX, mail("mgx@county.test", [(rfc2047("台账.xlsx"), books["mgx"])]))
    mailbox.deliver(
        MAILBOX,
        mail(
            "bcz@county.test",
            [
                (rfc2231("保城镇2014年第二季度走访记录（修订）.xlsx", "GB18030"), books["gbk"]),
                (rfc2047("镕基村帮扶台账.xlsx", "GBK"), books["2047"]),
                (raw8bit("堃村走访.xlsx"), books["8bit"]),
            ],
        ),
    )

    result = pull(home)

    assert result.errors == [] and result.messages == 4 and result.counts == {"landed": 6}
    inbox = home.inbox
    assert (inbox / "townships/保城镇/台账.xlsx").read_bytes() == books["bcz"]
    assert (inbox / "townships/加茂镇/台账.xlsx").read_bytes() == books["jmz"]
    assert (inbox / "townships/毛感乡/台账.xlsx").read_bytes() == books["mgx"]
    assert (
        inbox / "townships/保城镇/保城镇2014年第二季度走访记录（修订）.xlsx"
    ).read_bytes() == books["gbk"]
    assert (inbox / "townships/保城镇/镕基村帮扶台账.xlsx").read_bytes() == books["2047"]
    assert (inbox / "townships/保城镇/堃村走访.xlsx").read_bytes() == books["8bit"]
    assert not list(inbox.rglob(".landing-*"))
    # the clerks' mail is still unread on the server
    flags = mailbox.flags(MAILBOX)
    assert len(flags) == 4 and not any("\\Seen" in f for f in flags), flags


def test_a_resend_replaces_the_same_bytes_are_a_duplicate_and_nothing_is_taken_twice(
    home, mailbox, tmp_path
):
    first, corrected = workbook(tmp_path, "first"), workbook(tmp_path, "corrected")
    mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain("台账.xlsx"), first)]))
    assert pull(home).counts == {"landed": 1}
    assert pull(home).messages == 0  # the same mail seen again: nothing new

    mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain("台账.xlsx"), corrected)]))
    mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain("台账（副本）.xlsx"), corrected)]))
    result = pull(home)
    assert result.counts == {"landed": 1, "duplicate": 1}
    assert (home.inbox / "townships/保城镇/台账.xlsx").read_bytes() == corrected
    assert not (home.inbox / "townships/保城镇/台账（副本）.xlsx").exists()
    rows = statuses(home)
    assert [r[2] for r in rows] == ["landed", "landed", "duplicate"]
    assert rows[2][3] == "townships/保城镇/台账.xlsx"

    # a rebuilt mailbox numbers every message anew (new UIDVALIDITY): still nothing taken twice
    mailbox.reset_uidvalidity(MAILBOX)
    again = pull(home)
    assert again.messages == 3 and sum(again.counts.values()) == 0
    assert len(statuses(home)) == 3


def test_zips_are_opened_under_guards_and_what_is_refused_says_why(
    home, mailbox, tmp_path, monkeypatch
):
    monkeypatch.setattr(attachments, "MAX_FILE_BYTES", 2 * 1024 * 1024)
    books = {f"{n}.xlsx": workbook(tmp_path, n) for n in ("走访", "结对", "项目", "资金")}
    bomb = zipped({"台账.xlsx": b"\0" * (64 * 1024 * 1024)})
    mailbox.deliver(
        MAILBOX, mail("bcz@county.test", [(plain("四个表.zip"), zipped(books, gbk_names=True))])
    )
    mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain("炸弹.zip"), bomb)]))
    mailbox.deliver(
        MAILBOX, mail("bcz@county.test", [(plain("台账.rar"), b"Rar!\x1a\x07\x00" + b"x" * 100)])
    )
    mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain("工具.exe"), b"MZ" + b"x" * 100)]))
    mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain("空表.xlsx"), b"")]))
    mailbox.deliver(
        MAILBOX, mail("bcz@county.test", [(plain("大表.xlsx"), b"x" * (3 * 1024 * 1024))])
    )
    mailbox.deliver(MAILBOX, mail("bcz@county.test", []))
    escape = zipped({"../../county/台账.xlsx": books["走访.xlsx"], "好表.xlsx": books["结对.xlsx"]})
    mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain("越界.zip"), escape)]))

    result = pull(home)

    assert result.errors == [] and result.messages == 8
    landed = sorted(p.name for p in (home.inbox / "townships/保城镇").iterdir())
    assert landed == sorted(["走访.xlsx", "结对.xlsx", "项目.xlsx", "资金.xlsx"])
    assert not (home.inbox / "county").exists()
    reasons = {r[1]: r[2] for r in statuses(home)}
    ledger = open_ledger(home.intake_dir)
    why = {e["original_name"]: e["reason"] for e in ledger.entries(status="refused")}
    ledger.close()
    assert "疑似压缩炸弹" in why["炸弹.zip/台账.xlsx"] or "疑似压缩炸弹" in why.get("炸弹.zip", "")
    assert "rar" in why["台账.rar"]
    assert "可执行文件" in why["工具.exe"]
    assert "为空" in why["空表.xlsx"]
    assert "超过" in why["大表.xlsx"]
    assert "没有附件" in why[None]
    assert "越出" in why["越界.zip/台账.xlsx"]
    assert reasons["四个表.zip/走访.xlsx"] == "landed"
    assert reasons["越界.zip/好表.xlsx"] == "duplicate"  # same bytes as 结对.xlsx
    assert not any("\\Seen" in f for f in mailbox.flags(MAILBOX))


def test_mail_from_an_unknown_sender_is_kept_aside_not_loaded(home, mailbox, tmp_path):
    raw = mail("stranger@example.com", [(plain("台账.xlsx"), workbook(tmp_path, "x"))])
    mailbox.deliver(MAILBOX, raw)
    result = pull(home)
    assert result.counts == {"unknown_sender": 1}
    assert not home.inbox.exists() or not any(home.inbox.rglob("*.xlsx"))
    [row] = statuses(home)
    assert row[:3] == ("stranger@example.com", "台账.xlsx", "unknown_sender")
    [kept] = (home.intake_dir / "kept_aside").iterdir()
    assert kept.read_bytes() == raw


def test_a_mailbox_that_cannot_be_read_is_reported_and_changes_nothing(home, mailbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OUTREACH_MAILBOX",
        f"imap://{MAILBOX.replace('@', '%40')}:wrong@127.0.0.1:{mailbox.port}/?security=none",
    )
    result = pull(home)
    assert len(result.errors) == 1 and "无法登录邮箱" in result.errors[0]
    assert "wrong" not in result.errors[0]


def test_handled_mail_moves_to_the_channels_folder_still_unread(home, mailbox, tmp_path):
    senders = home.senders
    senders.write_text(
        SENDERS.replace("folder: INBOX}", "folder: INBOX, move_to: 已收取}"), encoding="utf-8"
    )
    mailbox.deliver(
        MAILBOX, mail("bcz@county.test", [(plain("台账.xlsx"), workbook(tmp_path, "m"))])
    )
    assert pull(home).counts == {"landed": 1}
    assert mailbox.flags(MAILBOX) == []  # gone from the inbox folder
    moved = mailbox.flags(MAILBOX, "&XfJlNlPW-")  # 已收取 in IMAP's modified UTF-7
    assert len(moved) == 1 and "\\Seen" not in moved[0]
    assert pull(home).messages == 0


def test_mail_no_mail_program_would_write_never_blocks_the_mail_after_it(home, mailbox, tmp_path):
    book = workbook(tmp_path, "after")
    odd = [
        # a raw 8-bit GBK subject and a filename* with raw UTF-8 bytes instead of %-escapes
        mail("bcz@county.test", [("filename*=UTF-8''报表.xlsx".encode(), book)]).replace(
            b"Subject: =?UTF-8?B?", b"Subject: " + "季度".encode("gbk") + b" =?UTF-8?B?", 1
        ),
        # a charset label with a NUL in it, and an encoded word no codec reads
        mail("bcz@county.test", [(b'filename="=?utf-8\x00?B?5oql6KGo?=.xlsx"', book)]),
        mail("bcz@county.test", [(b'filename="=?idna?B?/y8=?=.xlsx"', book)]),
    ]
    for raw in odd:
        mailbox.deliver(MAILBOX, raw)
    mailbox.deliver(
        MAILBOX, mail("bcz@county.test", [(plain("之后.xlsx"), workbook(tmp_path, "x"))])
    )
    result = pull(home)
    assert result.errors == [] and result.messages == 4
    assert (home.inbox / "townships/保城镇/之后.xlsx").exists()  # the mail after them is taken
    assert (home.inbox / "townships/保城镇/报表.xlsx").read_bytes() == book
    assert pull(home).messages == 0  # and none of them is tried again


def test_same_names_in_one_message_both_land_and_a_version_sent_back_replaces(
    home, mailbox, tmp_path
):
    a, b = workbook(tmp_path, "a"), workbook(tmp_path, "b")
    mailbox.deliver(
        MAILBOX,
        mail(
            "bcz@county.test", [(plain("两份.zip"), zipped({"一/报表.xlsx": a, "二/报表.xlsx": b}))]
        ),
    )
    assert pull(home).counts == {"landed": 2}
    folder = home.inbox / "townships/保城镇"
    assert (folder / "报表.xlsx").read_bytes() == a and (
        folder / "报表（2）.xlsx"
    ).read_bytes() == b
    # v1, then v2 under the same name, then v1 again: the last send is the unit's version
    v1, v2 = workbook(tmp_path, "v1"), workbook(tmp_path, "v2")
    for version in (v1, v2, v1):
        mailbox.deliver(MAILBOX, mail("bcz@county.test", [(plain("台账.xlsx"), version)]))
        pull(home)
    assert (folder / "台账.xlsx").read_bytes() == v1
