"""Pulling a partner's SFTP folder, against OpenSSH's sshd: a file is taken once its size is
stable across two listings, lands in its mapped unit's folder, is taken again only when it
changes, and is never deleted at the source; a server with another host key is refused."""

from __future__ import annotations

import json
import os
import socket
import threading
import urllib.parse

import pytest

from outreach.intake.ledger import open_ledger
from outreach.intake.pull import pull
from tests.intake.conftest import intake_home

SENDERS = """
channels:
  - {{name: share, kind: folder, connection: outreach_sftp, path: "{root}"}}
senders:
  - {{channel: share, folder: 响水镇, provider: townships, unit: 响水镇}}
  - {{channel: share, folder: 企业/保亭某某农业公司, provider: enterprises, unit: 保亭某某农业公司}}
"""


@pytest.fixture
def home(tmp_path, share):
    return intake_home(tmp_path, SENDERS.format(root=share))


def put(folder, rel: str, data: bytes) -> None:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_a_file_is_taken_once_stable_and_again_only_when_changed(home, share):
    put(share, "响水镇/台账.xlsx", b"PK\x03\x04 first version")
    put(share, "企业/保亭某某农业公司/资金.csv", "日期,金额\n2014-05-06,100\n".encode())
    put(share, "别处/台账.xlsx", b"PK\x03\x04 nobody's")
    put(share, "响水镇/~$台账.xlsx", b"lock")

    first = pull(home)
    assert first.errors == [] and sum(first.counts.values()) == 0  # seen once: not yet stable
    second = pull(home)
    assert second.counts == {"landed": 2, "unknown_sender": 1}
    assert (home.inbox / "townships/响水镇/台账.xlsx").read_bytes() == b"PK\x03\x04 first version"
    assert (home.inbox / "enterprises/保亭某某农业公司/资金.csv").exists()
    assert sum(pull(home).counts.values()) == 0  # unchanged: not taken again

    put(share, "响水镇/台账.xlsx", b"PK\x03\x04 corrected version")
    os.utime(share / "响水镇/台账.xlsx", (1_900_000_000, 1_900_000_000))
    assert sum(pull(home).counts.values()) == 0  # changed: stable only at the next listing
    assert pull(home).counts == {"landed": 1}
    assert (
        home.inbox / "townships/响水镇/台账.xlsx"
    ).read_bytes() == b"PK\x03\x04 corrected version"
    # nothing deleted or written at the source
    assert sorted(p.relative_to(share).as_posix() for p in share.rglob("*") if p.is_file()) == [
        "企业/保亭某某农业公司/资金.csv",
        "别处/台账.xlsx",
        "响水镇/~$台账.xlsx",
        "响水镇/台账.xlsx",
    ]
    ledger = open_ledger(home.intake_dir)
    unknown = ledger.entries(status="unknown_sender")
    ledger.close()
    assert len(unknown) == 1 and "未登记" in unknown[0]["reason"]


def test_a_server_with_another_host_key_is_refused(home, share, sshd, monkeypatch):
    extra = urllib.parse.quote(
        json.dumps(
            {
                "key_file": str(sshd.client_key),
                "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKey0",
            }
        )
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_OUTREACH_SFTP", f"sftp://{sshd.user}@127.0.0.1:{sshd.port}/?__extra__={extra}"
    )
    put(share, "响水镇/台账.xlsx", b"PK\x03\x04")
    result = pull(home)
    assert len(result.errors) == 1 and "主机密钥" in result.errors[0]
    assert not home.inbox.exists() or not any(home.inbox.rglob("*.xlsx"))


@pytest.fixture
def ftp_share(tmp_path, monkeypatch):
    """An FTP server (pyftpdlib: a real FTP server in a thread, as no FTP daemon is packaged
    here that runs unprivileged from a temp config) over a folder, and its Connection."""
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    folder = tmp_path / "ftp"
    folder.mkdir()
    authorizer = DummyAuthorizer()
    authorizer.add_user("partner", "ftp-pass-2026", str(folder), perm="elr")  # read only
    locked = folder / "南林乡" / "锁定"  # listed, never handed over
    locked.mkdir(parents=True)
    authorizer.override_perm("partner", str(locked), perm="el", recursive=True)
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "encoding": "utf-8"})
    server = FTPServer(("127.0.0.1", 0), handler)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.2}, daemon=True)
    thread.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_OUTREACH_FTP", f"ftp://partner:ftp-pass-2026@127.0.0.1:{port}/"
    )
    yield folder
    server.close_all()
    thread.join(timeout=5)


def test_an_ftp_folder_is_pulled_with_the_same_code(tmp_path, ftp_share):
    home = intake_home(
        tmp_path,
        "channels: [{name: ftp, kind: folder, connection: outreach_ftp, path: /}]\n"
        "senders: [{channel: ftp, folder: 南林乡, provider: townships, unit: 南林乡}]\n",
    )
    put(ftp_share, "南林乡/台账.xlsx", b"PK\x03\x04 ftp")
    assert sum(pull(home).counts.values()) == 0
    result = pull(home)
    assert result.errors == [] and result.counts == {"landed": 1}
    assert (home.inbox / "townships/南林乡/台账.xlsx").read_bytes() == b"PK\x03\x04 ftp"
    assert (ftp_share / "南林乡/台账.xlsx").exists()


def _serve(server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def dav_share(tmp_path, monkeypatch):
    """A WebDAV server (WsgiDAV, read-only, basic auth) over a folder, and its Connection."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from wsgidav.wsgidav_app import WsgiDAVApp

    folder = tmp_path / "dav"
    folder.mkdir()
    app = WsgiDAVApp(
        {
            "provider_mapping": {"/": {"root": str(folder), "readonly": True}},
            "simple_dc": {"user_mapping": {"*": {"partner": {"password": "dav-pass-2026"}}}},
            "http_authenticator": {
                "accept_basic": True,
                "accept_digest": False,
                "default_to_digest": False,
            },
            "logging": {"enable": False},
            "verbose": 0,
        }
    )

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = _serve(server)
    port = server.server_address[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_OUTREACH_DAV",
        f"webdav://partner:dav-pass-2026@127.0.0.1:{port}/?scheme=http",
    )
    yield folder
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def smb_share(tmp_path, monkeypatch):
    """An SMB2 server (impacket's SimpleSMBServer: no Samba daemon runs unprivileged from a temp
    config here) sharing a folder as UPLOAD, and its Connection."""
    from impacket import smbserver
    from impacket.ntlm import compute_lmhash, compute_nthash

    folder = tmp_path / "smb"
    folder.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = smbserver.SimpleSMBServer(listenAddress="127.0.0.1", listenPort=port)
    server.addShare("UPLOAD", str(folder), "")
    server.setSMB2Support(True)
    server.addCredential(
        "partner", 0, compute_lmhash("smb-pass-2026"), compute_nthash("smb-pass-2026")
    )
    server.setSMBChallenge("")
    server.setLogFile("")
    thread = threading.Thread(target=server.start, daemon=True)
    thread.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_OUTREACH_SMB", f"smb://partner:smb-pass-2026@127.0.0.1:{port}/"
    )
    yield folder
    server._SimpleSMBServer__server.shutdown()  # stop() only closes the socket serve_forever polls
    server.stop()
    thread.join(timeout=10)


@pytest.mark.parametrize(
    ("share", "connection", "root"),
    [("dav_share", "outreach_dav", "/"), ("smb_share", "outreach_smb", "/UPLOAD")],
)
def test_webdav_and_smb_folders_are_pulled_with_the_same_code(
    tmp_path, request, share, connection, root
):
    folder = request.getfixturevalue(share)
    home = intake_home(
        tmp_path,
        f"channels: [{{name: share, kind: folder, connection: {connection}, path: {root}}}]\n"
        "senders: [{channel: share, folder: 南林乡, provider: townships, unit: 南林乡}]\n",
    )
    put(folder, "南林乡/台账.xlsx", b"PK\x03\x04 shared")
    first = pull(home)
    assert first.errors == [] and sum(first.counts.values()) == 0
    assert pull(home).counts == {"landed": 1}
    assert (home.inbox / "townships/南林乡/台账.xlsx").read_bytes() == b"PK\x03\x04 shared"
    assert (folder / "南林乡/台账.xlsx").read_bytes() == b"PK\x03\x04 shared"


def test_webdav_in_plain_http_is_refused_beyond_this_machine(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OUTREACH_DAV", "webdav://u:p@files.example.cn:80/dav?scheme=http"
    )
    home = intake_home(
        tmp_path,
        "channels: [{name: share, kind: folder, connection: outreach_dav, path: /}]\n",
    )
    result = pull(home)
    assert len(result.errors) == 1 and "https" in result.errors[0]


def test_a_folders_receipt_goes_to_the_address_its_mapping_names(tmp_path, ftp_share, smtp):
    home = intake_home(
        tmp_path,
        "channels: [{name: ftp, kind: folder, connection: outreach_ftp, path: /}]\n"
        "senders: [{channel: ftp, folder: 南林乡, provider: townships, unit: 南林乡,"
        " receipt_to: nlx@county.test}]\n",
    )
    put(ftp_share, "南林乡/说明.docx", b"not a spreadsheet")
    pull(home)
    assert pull(home).receipts == {"sent": 1} and pull(home).receipts == {}
    [(to, receipt)] = smtp.messages
    assert to == ["nlx@county.test"] and str(receipt["subject"]) == "报送回执：南林乡/说明.docx"
    body = receipt.get_body(("html",)).get_content()
    assert "说明.docx：未收取。不是可接收的表格文件" in body


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("sftp://u:p@files.example.cn:22/", "host_key"),  # no pinned key: refused before connecting
        ("ftp://u:p@files.example.cn:21/", "明文"),  # a password in clear text to another machine
    ],
)
def test_a_folder_that_would_give_away_its_password_is_refused(tmp_path, monkeypatch, uri, message):
    monkeypatch.setenv("AIRFLOW_CONN_OUTREACH_SHARE", uri)
    home = intake_home(
        tmp_path,
        "channels: [{name: share, kind: folder, connection: outreach_share, path: /}]\n",
    )
    result = pull(home)
    assert len(result.errors) == 1 and message in result.errors[0]


def test_a_file_the_server_will_not_hand_over_is_recorded_and_blocks_nothing(tmp_path, ftp_share):
    home = intake_home(
        tmp_path,
        "channels: [{name: ftp, kind: folder, connection: outreach_ftp, path: /}]\n"
        "senders: [{channel: ftp, folder: 南林乡, provider: townships, unit: 南林乡}]\n",
    )
    put(ftp_share, "南林乡/锁定/台账.xlsx", b"PK\x03\x04 locked")
    put(ftp_share, "南林乡/走访.xlsx", b"PK\x03\x04 open")
    pull(home)
    result = pull(home)
    assert result.errors == [] and result.counts == {"refused": 1, "landed": 1}
    assert (home.inbox / "townships/南林乡/走访.xlsx").exists()
    assert sum(pull(home).counts.values()) == 0  # recorded once, not tried again unchanged
