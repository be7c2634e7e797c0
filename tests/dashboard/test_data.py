"""The dashboard's queries (outreach/dashboard/data.py) against the demo's published warehouse:
the figures a page shows add up, agree with the demo's truth, and follow the filters."""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter

import duckdb
import pandas as pd
import pytest

from outreach.dashboard import data
from outreach.demo import DEMO_AS_OF, EXPECTED_HEADLINES, PLANTED
from outreach.outputs.figures import format_figure
from tests.article import ARTICLE

ALL = data.Filters()


def test_the_warehouses_article_figures_are_the_articles(published_db):
    rows = data.query(
        published_db,
        "select metric, article_value, article_text, article_at_least from marts.rpt_headlines",
    ).set_index("metric")
    exact = rows[rows["article_at_least"] == False]  # noqa: E712 (pandas)
    assert {m: int(v) for m, v in exact["article_value"].items()} == ARTICLE
    assert tuple(rows.loc["enterprise_problems_solved", ["article_value", "article_text"]]) == (
        130,
        "130多件",
    )


def test_headlines_are_the_demos_and_agree_with_the_article(published_db):
    df = data.headlines(published_db).set_index("metric")
    assert list(df.index) == list(EXPECTED_HEADLINES)
    for metric, value in EXPECTED_HEADLINES.items():
        assert df.loc[metric, "value"] == pytest.approx(float(value), abs=1e-4), metric
        assert df.loc[metric, "仓库数值"] == format_figure(df.loc[metric, "kind"], value)
    assert set(df.loc[[*ARTICLE, "enterprise_problems_solved"], "对照"]) == {"一致"}
    assert df.loc["quarterly_visit_rate", "对照"] == "文章未报告"
    assert df.loc["funding_yuan", "仓库数值"] == "5,170,000 元"
    assert df.loc["households_visited", "仓库数值"] == "1,156"


def test_the_stamp_is_the_publication(published_db):
    stamp = data.publication(published_db)
    assert stamp["as_of"] == DEMO_AS_OF
    assert stamp["published_at"].tzinfo is not None
    assert stamp["run_id"].startswith(DEMO_AS_OF.isoformat())


def test_visit_coverage_counts_every_pairing_quarter_owed(published_db):
    coverage = data.visit_coverage(published_db, ALL)
    assert coverage["owed"].sum() == PLANTED["pairing_quarters_owed"]
    assert coverage["met"].sum() == PLANTED["pairing_quarters_met"]
    assert coverage["missed"].sum() == len(PLANTED["missed_quarterly_visits"])
    assert set(coverage["quarter"]) == set(data.quarters(published_db))
    one = data.visit_coverage(published_db, data.Filters(township="保城镇", quarter="2013Q2"))
    assert one[["township_name", "quarter"]].values.tolist() == [["保城镇", "2013Q2"]]
    nothing = data.visit_coverage(published_db, data.Filters(provider="enterprises"))
    assert nothing.empty  # pairings come from the townships only


def test_the_drill_down_lists_exactly_the_missed_pairing_quarters(published_db):
    coverage = data.visit_coverage(published_db, ALL)
    listed = []
    for township in data.townships(published_db):
        missed = data.missed_visits(published_db, ALL, township)
        heat = coverage.loc[coverage["township_name"] == township, "missed"].sum()
        assert len(missed) == heat, township
        villages = data.village_coverage(published_db, ALL, township)
        assert villages["未走访户季"].sum() == heat, township
        cadres = data.cadre_coverage(published_db, ALL, township)
        assert cadres["未走访户季"].sum() == heat, township
        assert villages["应走访户季"].sum() == cadres["应走访户季"].sum()
        listed += [tuple(r) for r in missed[["干部编号", "户编号", "季度"]].values.tolist()]
    assert sorted(listed) == sorted(tuple(p) for p in PLANTED["missed_quarterly_visits"])


def test_the_drill_down_narrows_to_a_village_and_never_shows_a_household_name(published_db):
    villages = data.village_coverage(published_db, ALL, "保城镇")
    village = villages.loc[villages["未走访户季"].idxmax(), "村委会"]
    missed = data.missed_visits(published_db, ALL, "保城镇", village)
    assert set(missed["村委会"]) == {village}
    assert len(missed) == villages.loc[villages["村委会"] == village, "未走访户季"].item()
    cadres = data.cadre_coverage(published_db, ALL, "保城镇", village)
    assert cadres["未走访户季"].sum() == len(missed)
    assert "head_name" not in missed.columns and "户主" not in missed.columns
    assert missed["户主身份证号（已脱敏）"].str.contains(r"\*{8}").all()


def test_funding_adds_up_to_the_headline_every_way(published_db):
    total = EXPECTED_HEADLINES["funding_yuan"]
    for frame in (
        data.funding_by_source(published_db, ALL),
        data.funding_by_township(published_db, ALL),
        data.funding_by_month(published_db, ALL),
    ):
        assert frame["金额元"].sum() == pytest.approx(total, abs=0.01)


def test_funding_follows_the_filters(published_db):
    quarter = data.funding_by_month(published_db, data.Filters(quarter="2013Q1"))
    assert set(quarter["月份"]) <= {"2013-01", "2013-02", "2013-03"} and not quarter.empty
    township = data.funding_by_township(published_db, data.Filters(township="加茂镇"))
    assert township["乡镇"].tolist() == ["加茂镇"]
    by_provider = sum(
        data.funding_by_source(published_db, data.Filters(provider=p))["金额元"].sum()
        for p in data.PROVIDER_NAMES
    )
    assert by_provider == pytest.approx(EXPECTED_HEADLINES["funding_yuan"], abs=0.01)


def test_projects_give_the_cooperatives_and_capacity_projects(published_db):
    by_type = data.projects_by_type_status(published_db, ALL)
    cooperatives = by_type.loc[by_type["项目类型"] == "专业合作社", "项目数"].sum()
    assert cooperatives == EXPECTED_HEADLINES["cooperatives"]
    assert by_type["造血型项目数"].sum() == EXPECTED_HEADLINES["capacity_projects"]
    by_village = data.projects_by_village(published_db, ALL)
    assert by_village["项目数"].sum() == by_type["项目数"].sum()
    assert by_village["专业合作社"].sum() == cooperatives


def test_matters_raised_and_closed_per_month(published_db):
    by_category = data.matters_by_category(published_db, ALL).set_index("类别")
    assert by_category.loc["办实事", "已办结"] == EXPECTED_HEADLINES["practical_matters_done"]
    assert by_category.loc["支部难题", "已办结"] == EXPECTED_HEADLINES["branch_problems_solved"]
    assert by_category.loc["企业诉求", "已办结"] >= 130
    by_month = data.matters_by_month(published_db, ALL)
    assert by_month["提出件数"].sum() == by_category["提出件数"].sum()
    assert list(by_month["月份"]) == sorted(by_month["月份"])
    days = data.matters_days_to_close(published_db, ALL)
    assert days["件数"].sum() == by_month["办结件数"].sum()
    # the two matters closed before they were raised are shown as such, not as fast closings
    assert days.set_index("办结用时").loc["日期有误", "件数"] == 2
    quarter = data.matters_by_month(published_db, data.Filters(quarter="2013Q2"))
    raised = quarter.loc[quarter["提出件数"] > 0, "月份"]
    assert set(raised) == {"2013-04", "2013-05", "2013-06"}


def test_talks_coverage_by_year(published_db):
    years = data.talks_by_year(published_db).set_index("年度")
    missed = Counter(int(y) for _, y in PLANTED["missed_annual_talks"])
    for year, row in years.iterrows():
        if row["年度已结束"]:
            assert row["未约谈干部数"] == missed[year], year
            assert row["应谈已谈"] + row["未约谈干部数"] == row["应谈干部数"], year
        else:  # 2014 had not ended on 2014-06-30: nobody is missed yet
            assert year == 2014 and pd.isna(row["未约谈干部数"])
    assert years["收集意见条数"].sum() == EXPECTED_HEADLINES["opinions_collected"]


def test_data_quality_history_and_latest(published_db):
    trend = data.dq_trend(published_db)
    assert set(trend["as_of"].dt.date) == {DEMO_AS_OF}
    assert trend.set_index("severity").loc["error", "failures"] == 0
    latest = data.dq_latest(published_db).set_index("规则")
    assert latest.loc["visit_unpaired", "条数"] == PLANTED["visits_not_paired"]
    assert latest.loc["dq_missing_quarterly_visits", "条数"] == len(
        PLANTED["missed_quarterly_visits"]
    )
    assert latest.loc["visit_unpaired", "说明"] == "走访干部当日与该户无结对关系"


@pytest.mark.parametrize(
    ("quarter", "bounds"),
    [
        ("2013Q1", (dt.date(2013, 1, 1), dt.date(2013, 3, 31))),
        ("2012Q2", (dt.date(2012, 4, 1), dt.date(2012, 6, 30))),
        ("2014Q4", (dt.date(2014, 10, 1), dt.date(2014, 12, 31))),
    ],
)
def test_quarter_bounds(quarter, bounds):
    assert data.quarter_bounds(quarter) == bounds


def test_no_query_keeps_the_file_open(published_db, tmp_path):
    copy = tmp_path / "outreach.duckdb"
    shutil.copyfile(published_db, copy)
    data.headlines(copy)
    data.visit_coverage(copy, ALL)
    data.missed_visits(copy, ALL, "保城镇")
    data.talks_by_year(copy)
    # a connection still open in this process would refuse one with another configuration
    con = duckdb.connect(str(copy), read_only=False)
    con.close()


def test_no_published_file_is_said_plainly(tmp_path):
    with pytest.raises(data.NotPublished):
        data.headlines(tmp_path / "published" / "outreach.duckdb")
