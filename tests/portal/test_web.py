"""The portal through a real uvicorn and an HTTP client that keeps cookies, as a browser does:
sign-in, the forced first password change, an upload checked at once and submitted into the
unit's folder; and abuse: signed-out requests, forged forms, another unit's upload, a locked
account, an oversized upload."""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from outreach.portal.accounts import open_accounts
from outreach.portal.app import create_app
from outreach.settings import load_settings
from tests.workbooks import write_xlsx

HEADER = ["序号", "走访日期", "干部编号", "帮扶责任人", "户编号", "户主姓名", "乡镇", "村委会", "走访方式", "走访内容", "群众诉求"]  # fmt: skip
ID_NUMBER = "469029198001011234"


@pytest.fixture
def portal(tmp_path):
    settings = load_settings({"OUTREACH_HOME": str(tmp_path / "home")})
    accounts = open_accounts(settings)
    first = {
        "bcz": accounts.add("bcz", "unit", "townships", "保城镇"),
        "mgx": accounts.add("mgx", "unit", "townships", "毛感乡"),
    }
    accounts.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield settings, f"http://127.0.0.1:{port}", first
    server.should_exit = True
    thread.join(timeout=10)


def _csrf(page: str) -> str:
    return re.search(r"name='csrf' value='([^']+)'", page).group(1)


def sign_in(base: str, username: str, password: str) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=base, follow_redirects=True, timeout=60)
    form = client.get("/login")
    got = client.post(
        "/login", data={"csrf": _csrf(form.text), "username": username, "password": password}
    )
    return client, got


def ready(base: str, username: str, first: str) -> tuple[httpx.Client, str]:
    """Signed in, the first password changed; the home page's CSRF token."""
    client, got = sign_in(base, username, first)
    assert "修改密码" in got.text  # a first password must be changed before anything else
    home = client.post(
        "/password",
        data={"csrf": _csrf(got.text), "old": first, "new": f"{username}-secret-2026x"[::-1]},
    )
    assert "上传报送文件" in home.text
    return client, _csrf(home.text)


def book(tmp_path) -> bytes:
    good = [1, dt.date(2014, 6, 20), "GB0022", "符青", "H10001007", "梁伟", "保城镇", "西坡村委会", "入户", "送去防汛物资", ""]  # fmt: skip
    bad = [2, "2014年13月45日", "GB0022", "符青", "H10001014", "许雄华", "保城镇", "", "入户", f"身份证 {ID_NUMBER}", ""]  # fmt: skip
    return write_xlsx(tmp_path / "b.xlsx", {"6月走访": [HEADER, good, bad]}).read_bytes()


def test_a_clerk_signs_in_uploads_reads_the_returned_rows_and_submits(portal, tmp_path):
    settings, base, first = portal
    client, csrf = ready(base, "bcz", first["bcz"])
    checked = client.post(
        "/upload", data={"csrf": csrf}, files=[("files", ("保城镇6月走访.xlsx", book(tmp_path)))]
    )
    assert checked.status_code == 200
    page = checked.text
    assert "识别为“帮扶走访记录”：可加载 1 行，退回 1 行" in page
    assert "<td>3</td><td>走访日期</td>" in page and ID_NUMBER not in page
    assert not settings.inbox.exists() or not any(settings.inbox.rglob("*.xlsx"))
    token = re.search(r"name='token' value='([^']+)'", page).group(1)
    done = client.post("/submit", data={"csrf": csrf, "token": token})
    assert "保城镇6月走访.xlsx：已收取" in done.text
    assert (settings.inbox / "townships/保城镇/保城镇6月走访.xlsx").exists()
    assert "保城镇6月走访.xlsx" in client.get("/").text  # 我的报送
    accounts = open_accounts(settings)
    events = [e for _, _, e, _ in accounts.audit_log("bcz")]
    accounts.close()
    assert {"signed_in", "password_changed", "uploaded", "submitted"} <= set(events)


def test_signed_out_forged_and_another_units_requests_are_refused(portal, tmp_path):
    settings, base, first = portal
    anonymous = httpx.Client(base_url=base, timeout=30)
    for method, path in [
        ("GET", "/"),
        ("GET", "/password"),
        ("POST", "/upload"),
        ("POST", "/submit"),
        ("POST", "/drop"),
    ]:
        got = anonymous.request(method, path)
        assert got.status_code == 303 and got.headers["location"] == "/login", path
    # a sign-in form posted without the token its page set is refused
    assert (
        anonymous.post(
            "/login", data={"csrf": "x", "username": "bcz", "password": first["bcz"]}
        ).status_code
        == 403
    )

    bcz, csrf = ready(base, "bcz", first["bcz"])
    checked = bcz.post(
        "/upload", data={"csrf": csrf}, files=[("files", ("a.xlsx", book(tmp_path)))]
    )
    token = re.search(r"name='token' value='([^']+)'", checked.text).group(1)
    assert bcz.post("/submit", data={"token": token}).status_code == 403  # no CSRF token
    assert bcz.post("/submit", data={"csrf": "forged", "token": token}).status_code == 403
    assert (
        bcz.post(
            "/upload", data={"csrf": "forged"}, files=[("files", ("a.xlsx", b"x"))]
        ).status_code
        == 403
    )
    mgx, mgx_csrf = ready(base, "mgx", first["mgx"])
    assert mgx.post("/submit", data={"csrf": mgx_csrf, "token": token}).status_code == 404
    assert mgx.post("/submit", data={"csrf": mgx_csrf, "token": "../../staging"}).status_code == 404
    assert not settings.inbox.exists() or not any(settings.inbox.rglob("*.xlsx"))
    assert "a.xlsx" not in mgx.get("/").text


def test_a_wrong_password_five_times_locks_and_an_oversized_upload_is_cut_off(portal, tmp_path):
    settings, base, first = portal
    for _ in range(5):
        _, got = sign_in(base, "mgx", "wrong-password")
        assert "用户名或密码不正确" in got.text
    _, got = sign_in(base, "mgx", first["mgx"])
    assert "锁定" in got.text
    client, csrf = ready(base, "bcz", first["bcz"])
    sent = []

    def chunks():
        yield (
            b'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n' + csrf.encode() + b"\r\n"
            b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.xlsx"\r\n\r\n'
        )
        for _ in range(200):
            sent.append(1)
            yield b"\0" * 2**20

    try:
        got = client.post(
            "/upload", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
        )
        assert got.status_code == 413 and "上限" in got.text
    except httpx.TransportError:
        pass  # the server answered and closed while the client still sent
    assert len(sent) < 120  # cut off near the 60 MB limit, not after 200 MB
