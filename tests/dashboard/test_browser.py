"""The dashboard in a real browser: ``python -m outreach.dashboard`` (what ``make dashboard``
runs) serves the demo's published warehouse, headless Chromium loads every page, the figures
must appear in the drawn page, Chinese must be drawn by a CJK font, and a screenshot of each
page is kept. Then a night run renames a new file over the published one under the running
server, and the next look shows the new figures without an error.

Screenshots go to ``$OUTREACH_HOME/reports/dashboard/`` of the test's home and are copied to
``reports/screenshots/`` of the checkout (ignored by git) so that they can be looked at.
"""

from __future__ import annotations

import datetime as dt
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from outreach.dashboard import data
from outreach.demo import DEMO_AS_OF, EXPECTED_HEADLINES, PLANTED
from outreach.portal.accounts import SESSION_COOKIE
from outreach.settings import PROJECT_ROOT
from tests.dashboard.browser import Browser
from tests.dashboard.helpers import Server, home_with_copy, portal_session, republish
from tests.dashboard.test_pages import PAGES

SCREENSHOTS = PROJECT_ROOT / "reports" / "screenshots"
STAMP = f"数据截至 {DEMO_AS_OF.isoformat()}"


@pytest.fixture(scope="module")
def server(demo_home, tmp_path_factory):
    s = Server(demo_home, tmp_path_factory.mktemp("dashboard-server") / "server.log")
    yield s
    s.stop()


def _sign_in(b: Browser, server: Server, home: Path) -> None:
    """The cookie a department account's sign-in at the portal leaves in the browser (the
    sign-in itself, through the portal: tests/portal/test_browser.py)."""
    b.set_cookie(server.url, SESSION_COOKIE, portal_session(home))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


def _needles(published_db: Path) -> dict[str, tuple[str, list[str]]]:
    """page -> (path and query, texts the drawn page must hold besides the stamp)."""
    township = data.missed_visits(published_db, data.Filters(), "保城镇")
    return {
        "overview": (
            "",
            ["逐项对照", *data.headlines(published_db)["仓库数值"]],
        ),
        "coverage": (
            "coverage",
            [f"{PLANTED['pairing_quarters_owed']:,}", "各乡镇合计", "99.30%"],
        ),
        "township": (
            "township?township=" + urllib.parse.quote("保城镇"),
            ["帮扶干部", f"共 {len(township)} 条", *township["户编号"]],
        ),
        "funding": ("funding", ["517.00 万元", "5,170,000.00 元", "按月份"]),
        "projects": ("projects", [str(EXPECTED_HEADLINES["cooperatives"]), "按村委会"]),
        "matters": ("matters", [str(EXPECTED_HEADLINES["practical_matters_done"]), "按类别"]),
        "talks": ("talks", [f"{EXPECTED_HEADLINES['opinions_collected']} 条", "约谈人"]),
        "quality": ("quality", ["visit_unpaired", str(PLANTED["visits_not_paired"])]),
        "due": ("due", ["本年度剩余应谈", "2014-07-25", "本周拉家常安排 2014-07-07"]),
    }


def _shoot(b: Browser, home: Path, name: str) -> Path:
    shot = b.screenshot(home / "reports" / "dashboard" / f"{name}.png")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOTS / shot.name)
    print(f"screenshot: {shot} (copied to {SCREENSHOTS / shot.name})")
    return shot


def _offline(b: Browser, server: Server) -> None:
    """Everything the page fetched came from the dashboard itself: no CDN, no web font."""
    fetched = b.evaluate('performance.getEntriesByType("resource").map(e => e.name)')
    assert fetched, "the page fetched nothing?"
    outside = [u for u in fetched if not u.startswith((server.url, "data:", "blob:"))]
    assert not outside, outside


def _no_error(b: Browser) -> None:
    shown = b.evaluate(
        '[...document.querySelectorAll(\'[data-testid="stException"], '
        '[data-testid="stAlertContentError"]\')].map(e => e.innerText)'
    )
    assert not shown, shown


@pytest.mark.parametrize("page", PAGES)
def test_every_page_in_a_real_browser(server, browser, demo_home, published_db, page):
    path, needles = _needles(published_db)[page]
    _sign_in(browser, server, demo_home)
    browser.goto(server.url + path)
    text = browser.wait_for(STAMP, "数据最近发布", *needles)
    _no_error(browser)
    _offline(browser, server)
    assert "Traceback" not in text
    fonts = browser.fonts_of("h1")  # the page's Chinese title
    assert any("CJK" in f or "Han Sans" in f for f in fonts), fonts
    if page not in (
        "overview",
        "talks",
        "quality",
        "due",
    ):  # pages with the sidebar's filters in use
        assert "本页筛选" in text
    shot = _shoot(browser, demo_home, page)
    assert shot.stat().st_size > 20_000


def test_a_new_file_published_under_the_running_dashboard_is_shown(published_db, tmp_path, browser):
    home = tmp_path / "home"
    published = home_with_copy(published_db, home)
    server = Server(home, tmp_path / "server.log")
    try:
        _sign_in(browser, server, home)
        browser.goto(server.url)
        browser.wait_for(STAMP, "1,156", "约谈干部（人）")
        old_stamp = data.publication(published)["published_at"]

        republish(published, dt.date(2014, 7, 1), cadres_talked=1861)
        assert data.publication(published)["published_at"] > old_stamp

        # the session already open sees the new file at its next rerun
        browser.click_button("刷新数据")
        browser.wait_for("数据截至 2014-07-01", "1,861")
        _no_error(browser)
        # and so does a new visitor
        browser.goto(server.url)
        text = browser.wait_for("数据截至 2014-07-01", "1,861")
        _no_error(browser)
        assert STAMP not in text
        _shoot(browser, home, "after_republish")
        assert server.proc.poll() is None
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()


def test_the_dashboard_shows_nothing_without_a_department_sign_in(
    server, browser, demo_home, published_db
):
    """Whoever reaches the port sees no figure and no name: no cookie, a forged one, and a
    township account's session each get the pointer to the portal's sign-in instead."""
    shown = data.missed_visits(published_db, data.Filters(), "保城镇")
    secrets_ = {*shown["干部"], *shown["户编号"]}
    township = portal_session(demo_home, "baocheng-town", provider="townships", unit="保城镇")
    for cookie in (None, "forged-session-id", township):
        browser.send("Network.clearBrowserCookies")
        if cookie:
            browser.set_cookie(server.url, SESSION_COOKIE, cookie)
        browser.goto(server.url + "township?township=" + urllib.parse.quote("保城镇"))
        text = browser.wait_for("仅对县委组织部账号开放", "报送门户")
        assert STAMP not in text and "帮扶干部" not in text
        assert not [s for s in secrets_ if s and s in text]
        link = browser.evaluate("document.querySelector('a[href$=\"/login\"]').href")
        assert link == "http://127.0.0.1:8600/login"
