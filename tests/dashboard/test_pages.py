"""Every page of the dashboard through Streamlit's AppTest: the script runs as in the server,
with the sidebar's filters, and what it draws is read back (tables, metrics, charts)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

import outreach.dashboard
from outreach.dashboard import data, ui
from outreach.demo import DEMO_AS_OF, EXPECTED_HEADLINES, PLANTED
from outreach.outputs.figures import format_figure
from tests.article import ARTICLE
from tests.dashboard.helpers import portal_session

APP = Path(outreach.dashboard.__file__).with_name("app.py")
PAGES = [
    "overview",
    "coverage",
    "township",
    "funding",
    "projects",
    "matters",
    "talks",
    "quality",
    "due",
]


def open_page(page: str, **filters: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    for key, value in filters.items():
        at.selectbox(key=key).set_value(value)
    if page != "overview":
        at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def charts(at: AppTest) -> list:
    return at.get("vega_lite_chart")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_the_stamp_and_the_filters(dashboard_home, page):
    at = open_page(page)
    stamp = markdown(at)
    assert f"数据截至 **{DEMO_AS_OF.isoformat()}**" in stamp
    assert "数据最近发布" in stamp and "北京时间" in stamp
    assert [s.label for s in at.sidebar.selectbox] == ["乡镇", "季度", "报送单位"]
    assert at.title[0].value  # the page's own title
    assert at.caption[0].value.startswith("本页")  # which filters the page applies


def test_overview_shows_every_headline_against_the_article(dashboard_home, published_db):
    at = open_page("overview")
    shown = metrics(at)
    kinds = data.headlines(published_db).set_index("metric")["kind"]
    for metric, value in EXPECTED_HEADLINES.items():
        assert format_figure(kinds[metric], value) in shown.values(), metric
    table = at.table[0].value
    assert list(table.columns) == ["指标", "仓库数值", "文章数值", "对照"]
    assert (table["对照"] == "一致").sum() == len(ARTICLE) + 1  # and 130多件
    assert "一致" in at.success[0].value


def test_coverage_heat_map_and_totals(dashboard_home, published_db):
    at = open_page("coverage")
    shown = metrics(at)
    assert shown["应走访户季"] == f"{PLANTED['pairing_quarters_owed']:,}"
    assert shown["未走访户季"] == str(len(PLANTED["missed_quarterly_visits"]))
    (heat_map,) = charts(at)
    layers = json.loads(heat_map.proto.spec)["layer"]
    assert layers[0]["mark"]["type"] == "rect"
    assert layers[0]["encoding"]["x"]["field"] == "季度"
    assert layers[0]["encoding"]["y"]["field"] == "乡镇"
    assert layers[0]["encoding"]["y"]["sort"] == data.townships(published_db)
    per_township = at.table[0].value
    assert per_township["未走访户季"].sum() == len(PLANTED["missed_quarterly_visits"])


def test_coverage_follows_the_quarter_filter(dashboard_home):
    at = open_page("coverage", quarter="2013Q2")
    planted = sum(1 for *_, q in PLANTED["missed_quarterly_visits"] if q == "2013Q2")
    assert metrics(at)["未走访户季"] == str(planted)
    assert "季度：2013Q2" in at.caption[0].value


def test_township_drill_down_lists_every_missed_pairing_quarter(dashboard_home, published_db):
    listed = []
    for township in data.townships(published_db):
        at = open_page("township", township=township)
        assert at.header[0].value == township
        missed_tables = [t.value for t in at.table if "户编号" in t.value.columns]
        rows = (
            missed_tables[0][["干部编号", "户编号", "季度"]].values.tolist()
            if missed_tables
            else []
        )
        listed += [tuple(r) for r in rows]
    assert sorted(listed) == sorted(tuple(p) for p in PLANTED["missed_quarterly_visits"])


def test_township_drill_down_narrows_to_a_village(dashboard_home):
    at = open_page("township", township="保城镇")
    villages = at.table[0].value
    village = villages.loc[villages["未走访户季"].idxmax(), "村委会"]
    at.selectbox(key="drill_village").set_value(village).run()
    assert not at.exception
    missed = at.table[1].value
    assert set(missed["村委会"]) == {village}
    assert len(missed) == villages.loc[villages["村委会"] == village, "未走访户季"].item()


def test_township_drill_down_without_a_township_offers_the_worst_first(
    dashboard_home, published_db
):
    at = open_page("township")
    coverage = data.visit_coverage(published_db, data.Filters())
    missed = Counter(dict(coverage.groupby("township_name")["missed"].sum()))
    assert at.selectbox(key="drill_township").value == missed.most_common(1)[0][0]
    assert at.header[0].value == missed.most_common(1)[0][0]


def test_funding_page(dashboard_home):
    at = open_page("funding")
    assert metrics(at)["筹措资金"] == "517.00 万元"
    assert len(charts(at)) == 3
    at = open_page("funding", township="加茂镇")
    assert at.table[1].value["乡镇"].tolist() == ["加茂镇"]


def test_projects_page(dashboard_home):
    at = open_page("projects")
    shown = metrics(at)
    assert shown["专业合作社"] == str(EXPECTED_HEADLINES["cooperatives"])
    assert shown["造血型项目"] == str(EXPECTED_HEADLINES["capacity_projects"])
    assert len(charts(at)) == 2


def test_matters_page(dashboard_home):
    at = open_page("matters")
    by_category = at.table[0].value.set_index("类别")
    assert by_category.loc["办实事", "已办结"] == EXPECTED_HEADLINES["practical_matters_done"]
    assert by_category.loc["党员转化", "已办结"] == EXPECTED_HEADLINES["members_transformed"]
    assert by_category.loc["支部升级", "已办结"] == EXPECTED_HEADLINES["branches_upgraded"]
    assert len(charts(at)) == 3
    at = open_page("matters", provider="enterprises")
    assert set(at.table[0].value["类别"]) == {"企业诉求"}


def test_talks_page(dashboard_home):
    at = open_page("talks")
    assert metrics(at)["收集意见建议"] == f"{EXPECTED_HEADLINES['opinions_collected']} 条"
    assert metrics(at)["年度未约谈（干部×年度）"] == str(len(PLANTED["missed_annual_talks"]))
    years = at.table[0].value.set_index("年度")
    assert list(years.index) == ["2012", "2013", "2014"]
    assert "2014年度尚未结束" in at.caption[-1].value


def test_quality_page(dashboard_home):
    at = open_page("quality")
    assert metrics(at)[data.SEVERITY_LABELS["error"]] == "0"
    latest = at.table[0].value.set_index("规则")
    assert latest.loc["visit_unpaired", "条数"] == PLANTED["visits_not_paired"]
    assert len(charts(at)) == 1  # one as-of date: no per-rule trend yet


def test_without_a_published_warehouse_the_dashboard_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path))
    sid = portal_session(tmp_path)  # a department account looks
    monkeypatch.setattr(ui, "session_cookie", lambda: sid)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert "尚未发布数据仓库" in at.error[0].value


def test_what_is_due_is_the_calendars_plans(dashboard_home, published_db):
    at = open_page("due")
    shown = metrics(at)
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        counts = [
            con.execute(f"select count(*) from marts.{t}").fetchall()[0][0]
            for t in ("rpt_talk_plan", "rpt_meeting_agenda", "rpt_visit_reminders")
        ]
    finally:
        con.close()
    assert [
        shown["本年度剩余应谈（人）"],
        shown["下次一月一议议题（件）"],
        shown["本季度尚未走访结对"],
    ] == [f"{n:,}" for n in counts]
    assert "会议日期 **2014-07-25**" in markdown(at)
    assert "本周拉家常安排 2014-07-07" in at.caption[1].value
    leaders = at.table[0].value["约谈人"].tolist()
    assert leaders == ["组织部长", "副部长", "干部科长"]


@pytest.mark.parametrize("who", ["nobody", "forged", "township", "first_password"])
def test_only_a_signed_in_department_account_sees_the_dashboard(monkeypatch, demo_home, who):
    """The script stops before it reads the warehouse unless the portal's session cookie is a
    live session of a department account past its first password."""
    from outreach.portal.accounts import open_accounts
    from outreach.settings import load_settings

    monkeypatch.setenv("OUTREACH_HOME", str(demo_home))
    sid = {"nobody": None, "forged": "not-a-session"}.get(who)
    if who == "township":
        sid = portal_session(demo_home, "pages-town", provider="townships", unit="保城镇")
    elif who == "first_password":
        accounts = open_accounts(load_settings())
        try:
            if accounts.get("pages-new-admin") is None:
                accounts.add("pages-new-admin", "admin")
            sid, _ = accounts.new_session("pages-new-admin")
        finally:
            accounts.close()
    monkeypatch.setattr(ui, "session_cookie", lambda: sid)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception
    assert "仅对县委组织部账号开放" in at.warning[0].value
    assert not at.metric and not at.sidebar.selectbox and not markdown(at)
