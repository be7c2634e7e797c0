"""Intake's parts without a server: the sender map and its errors, names as clerks' mail
programs write them, what is taken or refused, zips under guards, landing."""

from __future__ import annotations

import io
import zipfile
from email.message import Message

import pytest

from outreach.intake import attachments
from outreach.intake.attachments import decode_name, expand_zip, sort_out
from outreach.intake.land import CannotLand, land
from outreach.intake.senders import SendersError, Unit, load_senders
from outreach.settings import DEFAULT_GAZETTEER, DEFAULT_SENDERS


def senders(tmp_path, text: str):
    path = tmp_path / "senders.yml"
    path.write_text(text, encoding="utf-8")
    return load_senders(path, DEFAULT_GAZETTEER)


def test_the_shipped_senders_file_configures_no_channel(tmp_path):
    shipped = load_senders(DEFAULT_SENDERS, DEFAULT_GAZETTEER)
    assert shipped.channels == () and shipped.by_address == {}
    assert load_senders(tmp_path / "absent.yml", DEFAULT_GAZETTEER).channels == ()


def test_senders_map_addresses_and_folders_to_units(tmp_path):
    got = senders(
        tmp_path,
        """
channels:
  - {name: share, kind: folder, connection: outreach_sftp, path: /upload}
senders:
  - {address: " BCZ@163.com ", provider: townships, unit: 保城}
  - {address: [lh@163.com], provider: joint_branches, unit: 什玲/什玲联合党支部}
  - {channel: share, folder: 响水镇/报送, provider: townships, unit: 响水镇}
  - {address: qy@163.com, provider: enterprises, unit: 保亭某某农业公司}
  - {address: zzb@163.com, provider: county}
""",
    )
    assert got.for_address("<bcz@163.COM>") == Unit("townships", ("保城镇",))
    assert got.for_address("lh@163.com").inbox_rel == "joint_branches/什玲镇/什玲联合党支部"
    assert got.for_address("zzb@163.com").inbox_rel == "county"
    assert got.for_address("other@163.com") is None
    assert got.for_path("share", "响水镇/报送/sub/台账.xlsx") == (
        Unit("townships", ("响水镇",)),
        "响水镇/报送",
    )
    assert got.for_path("share", "台账.xlsx") == (None, "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("senders: [{address: a@b.cn, provider: townships, unit: 不存在镇}]", "不在本县乡镇名录中"),
        ("senders: [{address: a@b.cn, provider: banks, unit: x}]", "provider must be one of"),
        (
            "senders: [{address: a@b.cn, provider: townships, unit: ../county}]",
            "is not a unit's name",
        ),
        ("senders: [{address: not-an-address, provider: county}]", "is not a mail address"),
        ("senders: [{address: a@b.cn, provider: county, unit: 组织部}]", "has no unit"),
        (
            "senders: [{address: a@b.cn, provider: townships, unit: 保城镇},"
            " {address: A@B.cn, provider: townships, unit: 加茂镇}]",
            "mapped to two units",
        ),
        ("senders: [{channel: nowhere, folder: x, provider: county}]", "no channel named"),
        ("senders: [{provider: county}]", "give an address"),
        (
            "channels: [{name: m, kind: imap, connection: c, password: hunter2}]",
            "credentials belong in the Airflow Connection",
        ),
        ("channels: [{name: m, kind: pop3, connection: c}]", "kind must be one of"),
        ("channels: [{name: m, kind: imap}]", "names the Airflow Connection"),
        (
            "channels: [{name: m, kind: imap, connection: c}, {name: m, kind: imap, connection: d}]",
            "share a name",
        ),
        (
            "channels: [{name: s, kind: folder, connection: c}]\n"
            "senders: [{channel: s, folder: x, provider: county, receipt_to: nobody}]",
            "receipt_to 'nobody' is not a mail address",
        ),
        ("senders: [oops", "cannot be read as YAML"),
        ("- just a list", "expected a mapping"),
    ],
)
def test_a_senders_file_that_cannot_be_used_says_why(tmp_path, text, message):
    with pytest.raises(SendersError, match=message):
        senders(tmp_path, text)


@pytest.mark.parametrize(
    "value",
    [
        ("gbk", "", "保城镇台账（修订）.xlsx".encode("gbk").decode("latin-1")),
        ("GB2312", "zh-cn", "镕基村.xlsx".encode("gb18030").decode("latin-1")),
        "=?GB2312?B?"
        + __import__("base64").b64encode("镕基村.xlsx".encode("gb18030")).decode()
        + "?=",
        "=?gbk?Q?" + "".join(f"={b:02X}" for b in "台账.xlsx".encode("gbk")) + "?=",
        "=?utf-8?B?" + __import__("base64").b64encode("台账.xlsx".encode()).decode() + "?=",
    ],
)
def test_names_come_out_as_the_clerk_typed_them(value):
    assert decode_name(value) in ("保城镇台账（修订）.xlsx", "镕基村.xlsx", "台账.xlsx")


def test_raw_gbk_bytes_in_a_header_come_out_as_text():
    from outreach.intake.attachments import attachment_name
    from outreach.intake.imap import parse

    raw = b'Content-Disposition: attachment; filename="' + "堃村.xls".encode("gbk") + b'"\r\n\r\nx'
    assert attachment_name(parse(raw)) == "堃村.xls"
    assert attachment_name(Message()) == ""


@pytest.mark.parametrize(
    ("name", "size", "reason"),
    [
        ("台账.xlsx", 10, None),
        ("台账.XLS", 10, None),
        ("台账.et", 10, None),
        ("打包.zip", 10, None),
        ("台账.rar", 10, "rar"),
        ("台账.7z", 10, "7z"),
        ("setup.exe", 10, "可执行"),
        ("说明.docx", 10, "不是可接收的表格文件"),
        ("台账.xlsx", 0, "为空"),
        ("台账.xlsx", attachments.MAX_FILE_BYTES + 1, "超过"),
    ],
)
def test_what_is_taken_and_why_the_rest_is_refused(name, size, reason):
    got = attachments.refusal_reason(name, size)
    assert (got is None) if reason is None else (reason in got)


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_zip_is_opened_under_guards():
    pieces, refused = expand_zip(
        "包.zip",
        _zip(
            {
                "a/台账.xlsx": b"PK-ish",
                "__MACOSX/._台账.xlsx": b"x",
                "../逃.xlsx": b"x",
                "/abs.xlsx": b"x",
                "内层.zip": _zip({"x.xlsx": b"x"}),
                "说明.txt": b"x",
                "大.xlsx": b"\0" * (8 * 2**20),
            }
        ),
    )
    assert [(p.name, p.inside) for p in pieces] == [("台账.xlsx", "包.zip")]
    why = {r.name: r.reason for r in refused}
    assert "越出" in why["逃.xlsx"] and "越出" in why["abs.xlsx"]
    assert "套压缩包" in why["内层.zip"]
    assert "不是可接收" in why["说明.txt"]
    assert "压缩炸弹" in why["大.xlsx"]


def test_a_zip_too_many_members_broken_or_empty_is_one_refusal():
    many = _zip({f"{i}.xlsx": b"x" for i in range(attachments.MAX_ZIP_MEMBERS + 1)})
    for data, reason in [(many, "上限"), (b"PK\x03\x04broken", "已损坏"), (_zip({}), "空的")]:
        pieces, refused = expand_zip("包.zip", data)
        assert pieces == [] and len(refused) == 1 and reason in refused[0].reason
    assert sort_out("包.rar", b"x")[1][0].reason.startswith("不接收")


def test_landing_is_atomic_into_the_units_folder_and_refuses_a_name_that_is_a_path(tmp_path):
    unit = Unit("townships", ("保城镇",))
    first = land(tmp_path, unit, "台账.xlsx", b"one")
    again = land(tmp_path, unit, "台账.xlsx", b"two")
    assert first.rel == "townships/保城镇/台账.xlsx" and not first.replaced and again.replaced
    assert not land(tmp_path, unit, "台账.xlsx", b"two").replaced  # the same bytes replace nothing
    assert (tmp_path / first.rel).read_bytes() == b"two"
    assert [p.name for p in (tmp_path / "townships/保城镇").iterdir()] == ["台账.xlsx"]
    for bad in ("../台账.xlsx", ".hidden.xlsx", "", "a\x00b.xlsx"):
        with pytest.raises(CannotLand):
            land(tmp_path, unit, bad, b"x")
    outside = tmp_path.parent / "outside"
    outside.mkdir(exist_ok=True)
    (tmp_path / "townships" / "加茂镇").symlink_to(outside)
    with pytest.raises(CannotLand, match="链接"):
        land(tmp_path, Unit("townships", ("加茂镇",)), "台账.xlsx", b"x")
    assert list(outside.iterdir()) == []


def test_outreach_pull_with_no_channel_configured_pulls_nothing(tmp_path, monkeypatch, capsys):
    from outreach.cli import main

    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path / "home"))
    assert main(["pull"]) == 0
    assert "no intake channel configured" in capsys.readouterr().out
    assert (
        not (tmp_path / "home" / "intake").exists() and not (tmp_path / "home" / "inbox").exists()
    )
    bad = tmp_path / "senders.yml"
    bad.write_text("channels: [{name: m, kind: imap}]", encoding="utf-8")
    monkeypatch.setenv("OUTREACH_SENDERS", str(bad))
    assert main(["pull"]) == 2
    assert "names the Airflow Connection" in capsys.readouterr().err
