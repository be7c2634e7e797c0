"""The portal through a real uvicorn and an HTTP client that keeps cookies, as a browser does:
sign-in, the forced first password change, an upload checked at once and submitted into the
unit's folder; and abuse: signed-out requests, forged forms, another unit's upload, a locked
account, an oversized upload."""

from __future__ import annotations

import datetime as dt
import io
import re
import socket
import threading
import time
import zipfile
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from openpyxl import load_workbook

from outreach.portal.accounts import open_accounts
from outreach.portal.app import create_app
from outreach.settings import load_settings
from tests.hostile import write_hostile_corpus
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
        "zzb": accounts.add("zzb", "admin"),
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
    assert "我的报送" in home.text
    return client, _csrf(home.text)


def workbook_text(data: bytes) -> str:
    wb = load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(
        str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v
    )


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
    returned = client.get(f"/upload/{token}/return-list")  # the 退回清单 of this upload
    assert returned.headers["content-type"].startswith("application/vnd.openxmlformats")
    cells = workbook_text(returned.content)
    assert "走访日期" in cells and "2014年13月45日" in cells and ID_NUMBER not in cells
    mgx, _ = ready(base, "mgx", first["mgx"])
    assert mgx.get(f"/upload/{token}/return-list").status_code == 404  # not another unit's
    done = client.post("/submit", data={"csrf": csrf, "token": token})
    assert "保城镇6月走访.xlsx：已收取" in done.text
    assert (settings.inbox / "townships/保城镇/保城镇6月走访.xlsx").exists()
    home = client.get("/").text  # 我的报送
    assert "保城镇6月走访.xlsx" in home and "已收取，待夜间入库" in home
    detail = re.search(r"href='(/submissions/\d+)'", home).group(1)
    assert "结果：已收取，待夜间入库" in client.get(detail).text
    assert mgx.get(detail).status_code == 404  # another unit's id is not there for it
    assert client.get("/submissions/99999").status_code == 404
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
        ("GET", "/lists"),
        ("GET", "/lists/" + quote("待走访清单_保城镇.xlsx")),
        ("GET", "/templates"),
        ("GET", "/templates/x.xlsx"),
        ("GET", "/admin"),
        ("POST", "/admin/add"),
        ("GET", "/submissions/1"),
        ("GET", "/upload/x/return-list"),
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


def test_a_township_downloads_only_its_own_lists_and_templates(portal, tmp_path):
    settings, base, first = portal
    latest = settings.reports_dir / "latest"
    latest.mkdir(parents=True)
    for name in ("待走访清单_保城镇.xlsx", "待走访清单_毛感乡.xlsx", "退回清单_townships_保城镇.xlsx",
                 "退回清单_townships_毛感乡.xlsx", "run.json"):  # fmt: skip
        (latest / name).write_bytes(name.encode())  # the night's files, as far as the portal cares
    (settings.home / "pii.key").write_text("secret")
    bcz, _ = ready(base, "bcz", first["bcz"])
    page = bcz.get("/lists").text
    assert "待走访清单_保城镇.xlsx" in page and "退回清单_townships_保城镇.xlsx" in page
    assert "毛感乡" not in page
    got = bcz.get("/lists/" + quote("待走访清单_保城镇.xlsx"))
    assert got.status_code == 200 and got.content == "待走访清单_保城镇.xlsx".encode()
    assert "filename*=utf-8''" in got.headers["content-disposition"]
    for other in ("待走访清单_毛感乡.xlsx", "退回清单_townships_毛感乡.xlsx", "run.json",
                  "../pii.key", "..%2F..%2Fpii.key", "%2e%2e/%2e%2e/pii.key"):  # fmt: skip
        assert bcz.get("/lists/" + other).status_code == 404, other
    templates = bcz.get("/templates").text
    assert "帮扶走访记录" in templates and "联合党支部" not in templates  # a township's datasets
    name = re.search(r"href='/templates/([^']+)'", templates).group(1)
    assert bcz.get(f"/templates/{name}").content[:2] == b"PK"
    assert bcz.get("/templates/" + quote("../../pii.key")).status_code == 404

    zzb, _ = ready(base, "zzb", first["zzb"])  # the department has every unit's lists
    page = zzb.get("/lists").text
    assert "待走访清单_毛感乡.xlsx" in page and "退回清单_townships_保城镇.xlsx" in page
    assert "run.json" not in page


def test_the_admin_pages_are_the_departments_and_need_their_token(portal):
    settings, base, first = portal
    bcz, bcz_csrf = ready(base, "bcz", first["bcz"])
    assert bcz.get("/admin").status_code == 403
    assert bcz.post("/admin/reset", data={"csrf": bcz_csrf, "username": "mgx"}).status_code == 403
    zzb, csrf = ready(base, "zzb", first["zzb"])
    page = zzb.get("/admin").text
    assert "bcz" in page and "townships/毛感乡" in page and "signed_in" in page  # the audit log
    assert zzb.post("/admin/add", data={"username": "x1", "role": "admin"}).status_code == 403
    added = zzb.post("/admin/add", data={"csrf": csrf, "username": "jmz", "role": "unit",
                                         "provider": "townships", "unit": "加茂镇"})  # fmt: skip
    password = re.search(r"<code>([^<]+)</code>", added.text).group(1)
    _, got = sign_in(base, "jmz", password)
    assert "修改密码" in got.text
    bad = zzb.post("/admin/add", data={"csrf": csrf, "username": "nowhere", "role": "unit",
                                       "provider": "townships", "unit": "不存在镇"})  # fmt: skip
    assert bad.status_code == 400 and "报送单位不可用" in bad.text
    assert zzb.post("/admin/disable", data={"csrf": csrf, "username": "mgx"}).status_code == 200
    _, got = sign_in(base, "mgx", first["mgx"])
    assert "账号已停用" in got.text
    # an admin cannot lock itself out
    assert zzb.post("/admin/disable", data={"csrf": csrf, "username": "zzb"}).status_code == 400
    # a reset ends the account's sessions and hands out a new first password
    reset = zzb.post("/admin/reset", data={"csrf": csrf, "username": "bcz"})
    assert "<code>" in reset.text
    assert bcz.get("/", follow_redirects=False).status_code == 303


def test_hostile_files_are_answered_as_the_loader_answers_them(portal, tmp_path):
    """A zip bomb (as a workbook and as an uploaded zip), an encrypted workbook, a cell bomb and
    a truncated file: each is named with the loader's reason, nothing is staged to submit, and
    the server is still up for the next request."""
    settings, base, first = portal
    corpus = write_hostile_corpus(tmp_path / "corpus")
    folder = tmp_path / "corpus" / "townships" / "毛感乡" / "hostile"
    client, csrf = ready(base, "bcz", first["bcz"])
    names = ["bomb.xlsx", "encrypted.xlsx", "far_cell.xlsx", "truncated.xlsx"]
    files = [("files", (name, (folder / name).read_bytes())) for name in names]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("台账.xlsx", b"\0" * (64 * 1024 * 1024))
    files.append(("files", ("炸弹.zip", buf.getvalue())))
    page = client.post("/upload", data={"csrf": csrf}, files=files).text
    for name in names:
        section = page.split(f"<h3>{name}</h3>", 1)[1].split("<h3>", 1)[0]
        assert "无法读取" in section and "不会提交" in section, (name, section)
        reason = corpus[f"townships/毛感乡/hostile/{name}"]
        assert {"zip_bomb": "压缩炸弹", "encrypted": "已加密", "cell_bomb": "远超合理范围",
                "corrupt": "已损坏"}[reason] in section  # fmt: skip
    assert "提交报送" not in page  # nothing readable: nothing to submit
    assert "炸弹.zip" in page and "不接收" in page.split("炸弹.zip", 1)[1]
    assert client.get("/").status_code == 200
