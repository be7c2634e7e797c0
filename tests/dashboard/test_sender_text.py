"""Review row 7: what the senders wrote is shown as text. A cadre named ``=HYPERLINK(…)``, a
unit ``[点此下载新版模板](http://…)``, a village ``![b](http://…/beacon.png)``: Streamlit read
table cells as Markdown (the viewer's browser fetched the image, the link was clickable) and
"Download as CSV" wrote the formula. Now the tables show the characters, and a download keeps
every cell text."""

from __future__ import annotations

import urllib.parse

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from outreach.dashboard import ui
from outreach.dashboard.ui import plain, safe_for_download
from outreach.portal.accounts import SESSION_COOKIE
from tests.dashboard.browser import Browser
from tests.dashboard.helpers import Server, home_with_copy, portal_session
from tests.dashboard.test_pages import APP

BEACON = "![b](http://127.0.0.1:9/beacon.png)"
LINK = "[点此下载新版模板](http://download.example/template.xlsx)"
FORMULA = '=HYPERLINK("http://download.example","点此")'
COLOURED = ":red[已办结] :material/home: $x^2$ <b>粗</b>"


@pytest.fixture(scope="module")
def hostile_home(published_db, tmp_path_factory):
    """A copy of the demo's published warehouse whose senders' text is hostile: one village
    of 保城镇 and one of its cadres."""
    home = tmp_path_factory.mktemp("hostile-dashboard")
    db = home_with_copy(published_db, home)
    con = duckdb.connect(str(db))
    try:
        village, cadre_id = con.execute(
            "select h.village_name, pq.cadre_id from marts.fct_pairing_quarters pq "
            "join marts.dim_households h using (household_id) "
            "where h.township_name = '保城镇' order by 1, 2 limit 1"
        ).fetchone()
        for (table,) in con.execute(
            "select table_name from information_schema.columns where table_schema = 'marts' "
            "and column_name = 'village_name' and table_name in (select table_name from "
            "information_schema.tables where table_schema = 'marts' and table_type = 'BASE TABLE')"
        ).fetchall():
            con.execute(
                f'update marts."{table}" set village_name = ? where village_name = ?',
                [BEACON + " " + COLOURED, village],
            )
        con.execute(
            "update marts.dim_cadres set cadre_name = ?, unit = ? where cadre_id = ?",
            [FORMULA, LINK, cadre_id],
        )
        con.execute("checkpoint")
    finally:
        con.close()
    return home


def test_table_cells_are_escaped_and_downloads_keep_formulas_text():
    assert plain("韦小清") == "韦小清" and plain("2014-06-30") == "2014-06-30"
    assert safe_for_download(FORMULA) == "'" + FORMULA
    assert safe_for_download("-1") == "'-1" and safe_for_download("韦小清") == "韦小清"
    assert safe_for_download(12) == 12


def test_the_township_page_passes_escaped_text_and_safe_downloads(hostile_home, monkeypatch):
    monkeypatch.setenv("OUTREACH_HOME", str(hostile_home))
    sid = portal_session(hostile_home)  # a department account looks (conftest.dashboard_home)
    monkeypatch.setattr(ui, "session_cookie", lambda: sid)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.selectbox(key="township").set_value("保城镇")
    at.switch_page("views/township.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    villages = at.table[0].value["村委会"].tolist()
    assert plain(BEACON + " " + COLOURED) in villages
    cadres = at.dataframe[0].value
    assert "'" + FORMULA in cadres["干部"].tolist()
    assert LINK in cadres["工作单位"].tolist()  # a grid renders no Markdown: left as written


def test_a_browser_shows_the_characters_and_fetches_nothing(hostile_home, tmp_path):
    server = Server(hostile_home, tmp_path / "server.log")
    browser = Browser(tmp_path / "profile")
    try:
        browser.set_cookie(server.url, SESSION_COOKIE, portal_session(hostile_home))
        browser.goto(server.url + "township?township=" + urllib.parse.quote("保城镇"))
        text = browser.wait_for("帮扶干部", "beacon.png")
        assert "![b](" in text and ":red[已办结]" in text.replace("\u2060", "")
        assert "<b>粗</b>" in text and "$x^2$" in text
        drawn = browser.evaluate(
            "JSON.stringify({img: [...document.querySelectorAll('img')].map(i => i.src),"
            " links: [...document.querySelectorAll('a')].map(a => a.href),"
            " katex: document.querySelectorAll('.katex').length,"
            " icons: document.querySelectorAll('[aria-label=\"home icon\"]').length})"
        )
        assert "beacon" not in drawn and "127.0.0.1:9" not in drawn, drawn
        assert '"katex":0' in drawn and '"icons":0' in drawn, drawn
        fetched = browser.evaluate('performance.getEntriesByType("resource").map(e => e.name)')
        assert not [u for u in fetched if "beacon" in u], fetched
    finally:
        browser.close()
        server.stop()
