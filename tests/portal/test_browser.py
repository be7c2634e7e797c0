"""The portal in a real browser (headless Chromium from Debian, driven over DevTools by
tests/dashboard/browser.py), served by ``python -m outreach.portal`` (what ``make portal`` runs)
beside ``python -m outreach.dashboard``, over a home holding the demo's published warehouse.

The department's first admin password is read from what the portal printed; the admin signs in,
changes it, adds a township's account on the admin page and reaches the dashboard with the same
sign-in. The township's clerk signs in, uploads a messy workbook, reads the returned rows in
Chinese, submits, and the file is in the inbox; the dashboard refuses the clerk. Screenshots of
each step go to ``reports/screenshots/portal_*.png`` of the checkout (ignored by git).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from outreach.settings import PROJECT_ROOT
from tests.dashboard.browser import Browser
from tests.dashboard.helpers import Server, free_port, home_with_copy
from tests.workbooks import write_xlsx

SCREENSHOTS = PROJECT_ROOT / "reports" / "screenshots"
LOADED = "document.readyState === 'complete'"  # a server-rendered page: loaded is drawn
HEADER = ["序号", "走访日期", "干部编号", "帮扶责任人", "户编号", "户主姓名", "乡镇", "村委会", "走访方式", "走访内容", "群众诉求"]  # fmt: skip
ID_NUMBER = "469029198001011234"


@pytest.fixture(scope="module")
def servers(published_db, tmp_path_factory):
    root = tmp_path_factory.mktemp("portal-browser")
    home = root / "home"
    home_with_copy(published_db, home)
    ports = {"OUTREACH_PORTAL_PORT": free_port(), "OUTREACH_DASHBOARD_PORT": free_port()}
    portal = Server(home, root / "portal.log", "outreach.portal", ports)
    dashboard = Server(home, root / "dashboard.log", "outreach.dashboard", ports)
    yield home, portal, dashboard
    portal.stop()
    dashboard.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("chromium-portal"))
    yield b
    b.close()


def _shoot(b: Browser, name: str) -> None:
    shot = b.screenshot(SCREENSHOTS / f"portal_{name}.png")
    assert shot.stat().st_size > 5_000
    print(f"screenshot: {shot}")


def _page(b: Browser, url: str, *needles: str) -> str:
    b.goto(url)
    return b.wait_for(*needles, settled=LOADED)


def _sign_in(b: Browser, portal: Server, username: str, password: str, *needles: str) -> str:
    _page(b, portal.url + "login", "登录")
    b.fill("input[name=username]", username)
    b.fill("input[name=password]", password)
    b.click_button("登录")
    return b.wait_for(*needles, settled=LOADED)


def _change_password(b: Browser, old: str, new: str) -> str:
    b.fill("input[name=old]", old)
    b.fill("input[name=new]", new)
    b.click_button("修改")
    return b.wait_for("我的报送", settled=LOADED)


def _sign_out(b: Browser, portal: Server) -> None:
    _page(b, portal.url, "退出")
    b.click_button("退出")
    b.wait_for("用户名", settled=LOADED)


def test_an_admin_and_a_clerk_in_a_real_browser(servers, browser, tmp_path):
    home, portal, dashboard = servers
    printed = re.search(r"added 'admin' with the first password (\S+)", portal.log.read_text())
    assert printed, portal.log.read_text()

    # the department: first sign-in, the forced change, the admin page, the dashboard
    _sign_in(browser, portal, "admin", printed.group(1), "首次登录或密码被重置后")
    _change_password(browser, printed.group(1), "county-dept-2026!")
    _page(browser, portal.url + "admin", "新增账号")
    add = "form[action='/admin/add'] "
    browser.fill(add + "input[name=username]", "baocheng")
    browser.evaluate(f"document.querySelector(\"{add}select[name=provider]\").value = 'townships'")
    browser.fill(add + "input[name=unit]", "保城镇")
    browser.click_button("新增")
    text = browser.wait_for("已新增账号 baocheng", settled=LOADED)
    clerk_first = re.search(r"初始密码（[^）]*）：(\S+)", text).group(1)
    _shoot(browser, "admin")
    _page(browser, dashboard.url, "数据截至", "数据最近发布")  # signed in once: the dashboard
    _shoot(browser, "dashboard_signed_in")
    _sign_out(browser, portal)
    assert "仅对县委组织部账号开放" in _page(browser, dashboard.url, "仅对县委组织部账号开放")

    # the township's clerk: first sign-in, upload a messy workbook, read what is returned
    _sign_in(browser, portal, "baocheng", clerk_first, "首次登录或密码被重置后")
    _change_password(browser, clerk_first, "clerk-bcz-2026!")
    good = [1, dt.date(2014, 6, 20), "GB0022", "符青", "H10001007", "梁伟", "保城镇", "西坡村委会", "入户", "送去防汛物资", ""]  # fmt: skip
    bad = [2, "2014年13月45日", "GB0022", "符青", "H10001014", "许雄华", "保城镇", "", "入户", f"身份证 {ID_NUMBER}", ""]  # fmt: skip
    book = write_xlsx(tmp_path / "保城镇6月走访.xlsx", {"6月走访": [HEADER, good, bad]})
    browser.choose_files("input[type=file]", [book])
    browser.click_button("检查")
    text = browser.wait_for("检查结果", "退回 1 行", settled=LOADED)
    assert "识别为“帮扶走访记录”：可加载 1 行，退回 1 行" in text
    assert "走访日期" in text and ID_NUMBER not in text
    assert browser.fonts_of("h1"), "the page's Chinese title was drawn"
    _shoot(browser, "check")
    browser.click_button("提交报送")
    browser.wait_for("已提交", "保城镇6月走访.xlsx：已收取", settled=LOADED)
    assert (home / "inbox" / "townships" / "保城镇" / "保城镇6月走访.xlsx").read_bytes() == (
        book.read_bytes()
    )
    text = _page(browser, portal.url, "我的报送", "已收取，待夜间入库")
    _shoot(browser, "my_submissions")
    assert "仅对县委组织部账号开放" in _page(browser, dashboard.url, "仅对县委组织部账号开放")
    shutil.rmtree(home / "portal" / "staging", ignore_errors=True)
    assert Path(portal.log).read_text().count("Traceback") == 0
