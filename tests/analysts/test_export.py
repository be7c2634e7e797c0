"""``outreach export --as-of DATE``: the quarterly report, opened with openpyxl as Excel would.

Two reports, written as a user writes them (``python -m outreach.cli export``): of the demo's
current published file (as of 2014-06-30, report quarter 2014Q2) and of the history file of a
backfilled 2014-03-31 (2014Q1), which also holds the facts dated after that day. Every figure
of every sheet is compared with the demo's truth (``outreach.demo``), or, for the checks, with
``marts.dq_history`` of the file read; every chart must read numbers from the sheet's own
tables; the report must hold no personal data; bad input must get a clear error and change
nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pytest
from openpyxl.utils.cell import range_boundaries

from ingest.pii import ID_IN_TEXT as ID_PATTERN
from ingest.pii import MOBILE_IN_TEXT as MOBILE_PATTERN
from outreach.demo import DEMO_AS_OF, demo_truth
from outreach.demo.periods import owed_quarters, quarter_bounds, quarter_of
from outreach.demo.truth import (
    headlines_as_of,
    matter_done_by,
    missed_annual_talks,
    missed_branch_quarters,
    missed_quarterly_visits,
    org_cadre_pairing_load,
)
from outreach.outputs.figures import OBLIGATION_LABELS
from outreach.outputs.followup_lists import quarter_label
from outreach.outputs.quarterly_report import SHEETS
from tests.demo_warehouse import BACKFILL_AS_OF

QUARTER = {DEMO_AS_OF: (2014, 2), BACKFILL_AS_OF: (2014, 1)}

# funding and projects that name no township (marts.rpt_funding, rpt_projects)
COUNTY_LEVEL = "县级（未落到乡镇）"


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OUTREACH_"))}
    env["OUTREACH_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "outreach.cli", "export", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def label(y: int, q: int) -> str:
    return f"{y}年第{q}季度"


@pytest.fixture(scope="module")
def current(demo_home, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "report.xlsx"
    proc = _cli(demo_home, "--as-of", DEMO_AS_OF.isoformat(), "--output", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    source = demo_home / "published" / "outreach.duckdb"
    assert str(source) in proc.stdout
    return openpyxl.load_workbook(out), DEMO_AS_OF, source


@pytest.fixture(scope="module")
def history(backfilled_home):
    proc = _cli(backfilled_home, "--as-of", BACKFILL_AS_OF.isoformat())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    source = backfilled_home / "published" / "history" / f"{BACKFILL_AS_OF}.duckdb"
    assert str(source) in proc.stdout
    out = backfilled_home / "reports" / "quarterly" / f"季度报告_{BACKFILL_AS_OF}.xlsx"
    assert out.exists() and str(out) in proc.stdout
    return openpyxl.load_workbook(out), BACKFILL_AS_OF, source


@pytest.fixture(scope="module", params=["current", "history"])
def report(request):
    return request.getfixturevalue(request.param)


def table(ws, title: str) -> tuple[list[str], list[list]]:
    """The table under the caption ``title``: its header and its rows, to the first empty row."""
    for (cell,) in ws.iter_rows(min_col=1, max_col=1):
        if cell.value == title:
            start = cell.row + 1
            break
    else:
        raise AssertionError(f"{ws.title}: no table {title!r}")
    width = ws.max_column
    header = [c.value for c in ws[start][:width]]
    while header and header[-1] is None:
        header.pop()
    rows = []
    for r in ws.iter_rows(min_row=start + 1, max_col=len(header), values_only=True):
        if r[0] is None:
            break
        rows.append(list(r))
    return header, rows


def by_first(rows: list[list], skip_total: bool = True) -> dict:
    return {r[0]: r[1:] for r in rows if not (skip_total and r[0] == "合计")}


def _in(day: dt.date, y: int, q: int) -> bool:
    start, end = quarter_bounds(y, q)
    return start <= day <= end


def _facts(source: Path, sql: str) -> list[tuple]:
    """Rows of one query over a read-only connection to ``source``."""
    con = duckdb.connect(str(source), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_every_sheet_is_there_in_order(report):
    wb, as_of, _ = report
    assert wb.sheetnames == SHEETS
    y, q = QUARTER[as_of]
    title = wb["总体情况"]["A1"].value
    assert title == f"保亭黎族苗族自治县结对帮扶工作季度报告（{label(y, q)}）"
    assert f"数据截至 {as_of.isoformat()}" in wb["总体情况"]["A2"].value
    for ws in wb.worksheets:
        assert ws["A1"].value.startswith(title)


def test_the_headline_figures_are_the_truth_of_the_date(report):
    wb, as_of, source = report
    labels = dict(_facts(source, "select metric, label from marts.rpt_headlines"))
    _, rows = table(wb["总体情况"], "累计成效（活动开展以来至统计截止日）")
    got = by_first(rows, skip_total=False)
    expected = headlines_as_of(demo_truth(), as_of)
    assert len(got) == len(expected)
    for metric, want in expected.items():
        value = got[labels[metric]][0]
        if metric == "quarterly_visit_rate":
            assert value == pytest.approx(want, abs=5e-5), metric
        elif metric == "funding_yuan":
            assert _money(value) == _money(want), metric
        else:
            assert value == want, metric
    formats = {r[0].value: r[1].number_format for r in wb["总体情况"].iter_rows(max_col=2)}
    assert formats[labels["cadres_talked"]] == "#,##0"
    assert formats[labels["funding_yuan"]] == "#,##0.00"
    assert formats[labels["quarterly_visit_rate"]] == "0.0%"


def test_the_quarter_beside_the_one_before(report):
    wb, as_of, _ = report
    t = demo_truth()
    y, q = QUARTER[as_of]
    prev = (y - 1, 4) if q == 1 else (y, q - 1)
    header, rows = table(wb["总体情况"], f"{label(y, q)}工作情况")
    assert header == ["指标", label(y, q), label(*prev)]
    got = by_first(rows, skip_total=False)
    seen = {(v.cadre_code, v.household_code, quarter_of(v.visit_date)) for v in t.visits}
    for i, (yy, qq) in enumerate(((y, q), prev)):
        owed = [p for p in t.pairings if (yy, qq) in owed_quarters(p.pair_start, p.pair_end, as_of)]
        met = sum((p.cadre_code, p.household_code, (yy, qq)) in seen for p in owed)
        expected = {
            "走访次数": sum(_in(v.visit_date, yy, qq) for v in t.visits),
            "走访农户（户）": len(
                {v.household_code for v in t.visits if _in(v.visit_date, yy, qq)}
            ),
            "应走访户季（结对×季度）": len(owed),
            "已走访户季": met,
            "新开工帮扶项目（个）": sum(_in(p.started_on, yy, qq) for p in t.projects),
            "一月一议提出事项（件）": sum(_in(m.raised_on, yy, qq) for m in t.matters),
            "一月一议办结事项（件）": sum(
                m.status == "已办结" and m.closed_on is not None and _in(m.closed_on, yy, qq)
                for m in t.matters
            ),
            "拉家常约谈（次）": sum(_in(x.talk_date, yy, qq) for x in t.talks),
            "收集意见建议（条）": sum(x.opinion_count for x in t.talks if _in(x.talk_date, yy, qq)),
            "支部组织生活（次，实到人数大于0）": sum(
                _in(a.activity_date, yy, qq) and a.present_count > 0 for a in t.branch_activities
            ),
        }
        for name, want in expected.items():
            assert got[name][i] == want, (name, yy, qq)
        assert got["季度走访完成率"][i] == pytest.approx(met / len(owed))
        funding = sum((f.amount_yuan for f in t.funding if _in(f.funded_on, yy, qq)), Decimal(0))
        assert _money(got["到位帮扶资金（元）"][i]) == funding


def test_the_obligation_flags(report):
    wb, as_of, _ = report
    t = demo_truth()
    y, q = QUARTER[as_of]
    _, rows = table(wb["总体情况"], "履职提醒（截至统计截止日，不影响发布）")
    got = by_first(rows, skip_total=False)
    visits = missed_quarterly_visits(t.pairings, t.visits, as_of)
    branches = missed_branch_quarters(t.branch_activities, as_of)
    assert got[OBLIGATION_LABELS["dq_missing_quarterly_visits"]] == [
        len(visits),
        sum(m[2] == f"{y}Q{q}" for m in visits),
    ]
    assert got[OBLIGATION_LABELS["dq_missing_branch_activities"]] == [
        len(branches),
        sum(b[1] == f"{y}Q{q}" for b in branches),
    ]
    assert got[OBLIGATION_LABELS["dq_missing_annual_talks"]] == [
        len(missed_annual_talks(t.roster, t.talks, as_of)),
        None,
    ]
    load = org_cadre_pairing_load(t.cadres, t.pairings, as_of)
    assert got[OBLIGATION_LABELS["dq_org_cadre_pairing_load"]] == [len(load), None]


def _owed_met(as_of: dt.date) -> tuple[Counter, Counter]:
    t = demo_truth()
    seen = {(v.cadre_code, v.household_code, quarter_of(v.visit_date)) for v in t.visits}
    owed, met = Counter(), Counter()
    for p in t.pairings:
        for yq in owed_quarters(p.pair_start, p.pair_end, as_of):
            owed[(p.township, yq)] += 1
            met[(p.township, yq)] += (p.cadre_code, p.household_code, yq) in seen
    return owed, met


def test_visit_coverage_township_by_quarter(report):
    wb, as_of, _ = report
    ws = wb["走访覆盖"]
    owed, met = _owed_met(as_of)
    header, rows = table(ws, "各乡镇各季度走访完成率（已走访户季 ÷ 应走访户季）")
    quarters = sorted({yq for _, yq in owed})
    assert header == ["乡镇", *[label(*yq) for yq in quarters]]
    matrix = by_first(rows)
    assert set(matrix) == {t for t, _ in owed}
    for township, cells in matrix.items():
        for yq, value in zip(quarters, cells, strict=True):
            if owed[(township, yq)]:
                assert value == pytest.approx(met[(township, yq)] / owed[(township, yq)])
            else:
                assert value is None
    y, q = QUARTER[as_of]
    header, rows = table(ws, f"各乡镇{label(y, q)}走访情况")
    quarter = by_first(rows)
    for township, (households, o, m, missed, rate) in quarter.items():
        assert (o, m, missed) == (owed[(township, (y, q))], met[(township, (y, q))], o - m)
        assert rate == pytest.approx(m / o) and households <= o
    total = rows[-1]
    assert total[0] == "合计" and total[2] == sum(owed[(t, (y, q))] for t in quarter)
    _, rows = table(ws, "全县各季度走访完成率")
    county = by_first(rows, skip_total=False)
    for yq in quarters:
        o = sum(v for (_, k), v in owed.items() if k == yq)
        m = sum(v for (_, k), v in met.items() if k == yq)
        assert county[label(*yq)][:3] == [o, m, o - m]
    assert ws.conditional_formatting, "the township x quarter table is a heat map"


def test_the_missed_visits_sheet_is_counts_only(report):
    wb, as_of, _ = report
    ws = wb["未走访清单"]
    t = demo_truth()
    y, q = QUARTER[as_of]
    missed = missed_quarterly_visits(t.pairings, t.visits, as_of)
    township_of = {h.code: h.township for h in t.households}
    _, rows = table(ws, f"各乡镇{label(y, q)}未走访情况（只列数量）")
    got = by_first(rows)
    in_q = [m for m in missed if m[2] == f"{y}Q{q}"]
    expected = Counter(township_of[h] for _, h, _ in in_q)
    assert {k: v[0] for k, v in got.items()} == dict(expected)
    for township, (_, cadres, households, _) in got.items():
        mine = [m for m in in_q if township_of[m[1]] == township]
        assert (cadres, households) == (len({m[0] for m in mine}), len({m[1] for m in mine}))
    header, rows = table(ws, "各乡镇各季度未走访户季数（累计）")
    matrix = by_first(rows)
    per_cell = Counter((township_of[h], qq) for _, h, qq in missed)
    quarters = sorted({qq for _, _, qq in missed})
    assert header[1:-1] == [label(int(qq[:4]), int(qq[-1])) for qq in quarters]
    for township, cells in matrix.items():
        assert cells[:-1] == [per_cell[(township, qq)] for qq in quarters]
        assert cells[-1] == sum(cells[:-1])
    # no household, cadre or person appears on the sheet: codes, names and ID numbers
    names = {h.head_name for h in t.households} | {c.name for c in t.cadres}
    codes = {h.code for h in t.households} | {c.code for c in t.cadres}
    for row in ws.iter_rows(values_only=True):
        for value in row:
            if isinstance(value, str):
                assert not any(code in value for code in codes), value
                assert value not in names, value


def test_funding_by_source_township_and_quarter(report):
    wb, as_of, _ = report
    ws = wb["资金"]
    funding = [f for f in demo_truth().funding if f.funded_on <= as_of]
    total = sum((f.amount_yuan for f in funding), Decimal(0))
    _, rows = table(ws, "帮扶资金来源（累计至统计截止日）")
    sources = by_first(rows)
    expected = defaultdict(Decimal)
    for f in funding:
        expected[f.source_type] += f.amount_yuan
    assert {k: _money(v[1]) for k, v in sources.items()} == dict(expected)
    for source, (n, yuan, wan, share) in sources.items():
        assert n == sum(f.source_type == source for f in funding)
        assert wan == pytest.approx(yuan / 10000) and share == pytest.approx(yuan / float(total))
    assert _money(rows[-1][2]) == total and rows[-1][0] == "合计"
    if as_of == DEMO_AS_OF:
        assert total == Decimal("5170000.00")  # the article's 517万元
    _, rows = table(ws, "各乡镇帮扶资金（累计）")
    expected = defaultdict(Decimal)
    for f in funding:
        expected[f.township or COUNTY_LEVEL] += f.amount_yuan
    assert {k: _money(v[1]) for k, v in by_first(rows).items()} == dict(expected)
    header, rows = table(ws, "各季度到位资金（万元，按来源）")
    per = defaultdict(Decimal)
    for f in funding:
        per[(quarter_of(f.funded_on), f.source_type)] += f.amount_yuan
    for row in rows:
        for source, value in zip(header[1:-1], row[1:-1], strict=True):
            yq = next(k for k in {k for k, _ in per} if label(*k) == row[0])
            assert value == pytest.approx(float(per[(yq, source)] / 10000), abs=1e-6)
        assert row[-1] == pytest.approx(sum(row[1:-1]))


def test_projects_by_type_and_township(report):
    wb, as_of, _ = report
    ws = wb["项目"]
    projects = [p for p in demo_truth().projects if p.started_on <= as_of]
    _, rows = table(ws, "帮扶项目按类型（开工至统计截止日）")
    got = by_first(rows)
    types = Counter(p.project_type for p in projects)
    capacity = Counter(p.project_type for p in projects if p.is_capacity_building)
    assert {k: (v[0], v[1]) for k, v in got.items()} == {
        k: (n, capacity[k]) for k, n in types.items()
    }
    _, rows = table(ws, "帮扶项目按状态")
    assert by_first(rows, skip_total=False) == {
        k: [n] for k, n in Counter(p.status for p in projects).items()
    }
    _, rows = table(ws, "各乡镇帮扶项目")
    got = by_first(rows)
    for township, (n, coops, cap, _) in got.items():
        mine = [p for p in projects if (p.township or COUNTY_LEVEL) == township]
        assert (n, coops, cap) == (
            len(mine),
            sum(p.project_type == "专业合作社" for p in mine),
            sum(p.is_capacity_building for p in mine),
        )
    if as_of == DEMO_AS_OF:  # the article's 148 cooperatives and 12 capacity projects
        assert rows[-1][2:4] == [148, 12]


def test_matters_by_category_and_month(report):
    wb, as_of, _ = report
    ws = wb["一月一议"]
    matters = [m for m in demo_truth().matters if m.raised_on <= as_of]
    _, rows = table(ws, "一月一议事项按类别（提出至统计截止日）")
    got = by_first(rows)
    for category, (raised, done, open_, long_open, _) in got.items():
        mine = [m for m in matters if m.category == category]
        is_done = [matter_done_by(m, as_of) for m in mine]
        assert (raised, done, open_) == (len(mine), sum(is_done), len(mine) - sum(is_done))
        assert long_open == sum(
            not d and (as_of - m.raised_on).days > 60 for m, d in zip(mine, is_done, strict=True)
        )
    assert set(got) == {m.category for m in matters}
    _, rows = table(ws, "各月提出和办结事项")
    months = by_first(rows, skip_total=False)
    raised = Counter(m.raised_on.strftime("%Y-%m") for m in matters)
    closed = Counter(
        m.closed_on.strftime("%Y-%m")
        for m in matters
        if m.status == "已办结" and m.closed_on is not None and m.closed_on <= as_of
    )
    assert months == {k: [raised[k], closed[k]] for k in set(raised) | set(closed)}


def test_talks_by_year(report):
    wb, as_of, _ = report
    t = demo_truth()
    talks = [x for x in t.talks if x.talk_date <= as_of]
    _, rows = table(wb["拉家常"], "拉家常约谈按年度")
    got = by_first(rows, skip_total=False)
    missed = Counter(y for _, y in missed_annual_talks(t.roster, t.talks, as_of))
    ranked = {c.code for c in t.roster if c.rank is not None}
    for year in {x.talk_date.year for x in talks}:
        mine = [x for x in talks if x.talk_date.year == year]
        n, cadres, opinions, owe, talked, not_talked, rate = got[f"{year}年"]
        assert (n, cadres, opinions) == (
            len(mine),
            len({x.cadre_code for x in mine}),
            sum(x.opinion_count for x in mine),
        )
        assert owe == len(ranked) and talked == len({x.cadre_code for x in mine} & ranked)
        ended = dt.date(year, 12, 31) <= as_of
        assert not_talked == (missed[year] if ended else None), year
        assert rate == pytest.approx(talked / owe)
        if ended:
            assert talked + not_talked == owe


def test_data_quality_is_the_checks_of_that_date(report):
    wb, as_of, source = report
    _, rows = table(wb["数据质量"], "统计截止日的数据质量检查（失败条数大于0的规则）")
    con = duckdb.connect(str(source), read_only=True)
    try:
        expected = con.execute(
            "select rule_id, sum(failures) from marts.dq_history "
            "where as_of = ? and failures > 0 group by rule_id",
            [as_of],
        ).fetchall()
        dates = [
            r[0].isoformat()
            for r in con.execute(
                "select distinct as_of from marts.dq_history where as_of <= ? order by 1", [as_of]
            ).fetchall()
        ]
    finally:
        con.close()
    assert {r[0]: r[3] for r in rows} == dict(expected)
    assert all(r[2].startswith(("错误", "警告", "履职提醒")) for r in rows)
    assert not [r for r in rows if r[2].startswith("错误")], "a published file passed the gate"
    _, trend = table(wb["数据质量"], "各统计截止日的检查结果（条数）")
    assert [r[0] for r in trend] == dates and dates[-1] == as_of.isoformat()


def _ref_values(wb, ref: str) -> list:
    sheet, cells = ref.rsplit("!", 1)
    ws = wb[sheet.strip("'")]
    min_col, min_row, max_col, max_row = range_boundaries(cells.replace("$", ""))
    return [
        ws.cell(r, c).value
        for r in range(min_row, max_row + 1)
        for c in range(min_col, max_col + 1)
    ]


def test_every_sheet_has_native_charts_reading_its_tables(report):
    wb, as_of, _ = report
    kinds = {}
    for ws in wb.worksheets:
        assert ws._charts, f"{ws.title} has no chart"
        kinds[ws.title] = [type(c).__name__ for c in ws._charts]
        for chart in ws._charts:
            assert chart.series
            for series in chart.series:
                values = _ref_values(wb, series.val.numRef.f)
                ref = series.cat.strRef or series.cat.numRef
                categories = _ref_values(wb, ref.f)
                assert values and len(values) == len(categories)
                assert all(isinstance(v, (int, float)) for v in values if v is not None)
                assert "合计" not in categories  # totals are not drawn beside their parts
                assert series.val.numRef.f.rsplit("!", 1)[0].strip("'") == ws.title
    assert kinds["资金"][0] == "PieChart" and "LineChart" in kinds["走访覆盖"]
    # the pie is the funding by source: its numbers are that table's amounts
    pie = wb["资金"]._charts[0]
    _, rows = table(wb["资金"], "帮扶资金来源（累计至统计截止日）")
    assert _ref_values(wb, pie.series[0].val.numRef.f) == [r[2] for r in rows[:-1]]
    y, q = QUARTER[as_of]
    column = wb["走访覆盖"]._charts[0]
    _, rows = table(wb["走访覆盖"], f"各乡镇{label(y, q)}走访情况")
    assert _ref_values(wb, column.series[0].val.numRef.f) == [r[5] for r in rows[:-1]]


def test_no_personal_data_anywhere(report):
    wb, _, _ = report
    t = demo_truth()
    names = {h.head_name for h in t.households}
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str):
                    assert not re.search(ID_PATTERN, value) and not re.search(MOBILE_PATTERN, value)
                    assert value not in names


def test_the_two_dates_are_two_different_reports(current, history):
    a, b = current[0], history[0]
    assert a["总体情况"]["A1"].value != b["总体情况"]["A1"].value
    _, rows_a = table(a["资金"], "帮扶资金来源（累计至统计截止日）")
    _, rows_b = table(b["资金"], "帮扶资金来源（累计至统计截止日）")
    assert rows_a[-1][2] > rows_b[-1][2]  # the later funding is not in the earlier report


# --- bad input: a clear error, and nothing written or changed ------------------------------


def test_a_date_never_published_names_the_dates_that_were(demo_home, tmp_path):
    out = tmp_path / "r.xlsx"
    out.write_bytes(b"last quarter's report")
    proc = _cli(demo_home, "--as-of", "2013-06-30", "--output", str(out))
    assert proc.returncode == 1
    assert "no warehouse was published for as-of 2013-06-30" in proc.stderr
    assert "published as-of dates: 2014-06-30" in proc.stderr
    assert out.read_bytes() == b"last quarter's report"
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_bad_date_is_refused(demo_home, tmp_path):
    for bad in ("2014-02-30", "30/06/2014", "yesterday"):
        proc = _cli(demo_home, "--as-of", bad, "--output", str(tmp_path / "r.xlsx"))
        assert proc.returncode == 2, bad
        assert "--as-of must be a date as YYYY-MM-DD" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_without_a_warehouse_it_says_so(tmp_path):
    proc = _cli(tmp_path, "--as-of", "2014-06-30")
    assert proc.returncode == 1
    assert "no published warehouse at" in proc.stderr and "outreach run" in proc.stderr
    assert not (tmp_path / "reports").exists()


def test_an_output_that_is_no_workbook_is_refused(demo_home, tmp_path):
    proc = _cli(demo_home, "--output", str(tmp_path / "report.pdf"))
    assert proc.returncode == 1 and "--output must be an .xlsx file or a folder" in proc.stderr
    assert not list(tmp_path.iterdir())
    proc = _cli(demo_home, "--output", str(tmp_path))  # a folder: the default name in it
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == [f"季度报告_{DEMO_AS_OF}.xlsx"]


def test_the_current_date_reads_the_current_file_even_without_history(published_db, tmp_path):
    home = tmp_path / "home"
    (home / "published").mkdir(parents=True)
    shutil.copyfile(published_db, home / "published" / "outreach.duckdb")
    proc = _cli(home, "--as-of", DEMO_AS_OF.isoformat())
    assert proc.returncode == 0, proc.stderr
    assert (home / "reports" / "quarterly" / f"季度报告_{DEMO_AS_OF}.xlsx").exists()


# --- one definition per figure: the dashboard, the quarterly report and the marts agree ----------


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= 5e-9


def test_every_shown_figure_is_the_same_in_the_dashboard_the_report_and_the_facts(report):
    """On both as-of dates (the night's and a backfilled earlier one), each figure the dashboard
    shows and the quarterly report writes is computed a third way, straight from the facts, and
    the three agree: headlines, visit coverage by township and quarter, talk coverage by year,
    and the quarter's work figures."""
    from outreach.dashboard import data
    from outreach.outputs.quarterly_report import previous_quarter, report_quarter

    wb, as_of, source = report
    quarter = report_quarter(as_of)

    # headlines: the dashboard, the report's cumulative table, the mart the facts feed
    facts = dict(_facts(source, "select metric, value from marts.program_headlines"))
    shown = data.headlines(source).set_index("metric")
    labels = dict(_facts(source, "select metric, label from marts.rpt_headlines"))
    _, rows = table(wb["总体情况"], "累计成效（活动开展以来至统计截止日）")
    written = by_first(rows, skip_total=False)
    assert set(shown.index) == set(facts) == set(labels)
    for metric, value in facts.items():
        assert _close(shown.loc[metric, "value"], value), metric
        assert _close(written[labels[metric]][0], value), metric

    # visit coverage: township × quarter, from fct_pairing_quarters and the households' townships
    coverage = {
        (t, q): (owed, met, rate)
        for t, q, owed, met, rate in _facts(
            source,
            f"""
            select coalesce(h.township_name, '{data.UNKNOWN_TOWNSHIP}'), pq.quarter, count(*),
                count(*) filter (where pq.is_met), count(*) filter (where pq.is_met) / count(*)
            from marts.fct_pairing_quarters as pq
            left join marts.dim_households as h using (household_id)
            group by all
            """,
        )
    }
    dash = {
        (r.township_name, r.quarter): (r.owed, r.met, r.rate)
        for r in data.visit_coverage(source, data.Filters()).itertuples()
    }
    assert set(dash) == set(coverage)
    for key, (owed, met, rate) in dash.items():
        assert (owed, met) == coverage[key][:2] and _close(rate, coverage[key][2]), key
    header, rows = table(wb["走访覆盖"], f"各乡镇{quarter_label(quarter)}走访情况")
    for township, _households, owed, met, _missed, rate in (r for r in rows if r[0] != "合计"):
        assert (owed, met) == coverage[(township, quarter)][:2], township
        assert _close(rate, coverage[(township, quarter)][2]), township
    header, rows = table(wb["走访覆盖"], "各乡镇各季度走访完成率（已走访户季 ÷ 应走访户季）")
    for row in rows:
        for q_label, rate in zip(header[1:], row[1:], strict=True):
            q = next(
                (q for (t, q) in coverage if t == row[0] and quarter_label(q) == q_label), None
            )
            assert _close(rate, coverage[(row[0], q)][2] if q else None), (row[0], q_label)

    # talk coverage by year, from fct_talks (dated by the as-of date) and the roster
    talks = {
        year: (n, cadres, opinions)
        for year, n, cadres, opinions in _facts(
            source,
            f"""
            select talk_year, count(*), count(distinct cadre_code), sum(opinion_count)
            from marts.fct_talks where talk_date <= date '{as_of}' group by 1
            """,
        )
    }
    dash = data.talks_by_year(source)
    assert {
        r[0]: (r[1], r[2], r[3])
        for r in dash[["年度", "约谈次数", "约谈干部数", "收集意见条数"]].values
    } == talks
    _, rows = table(wb["拉家常"], "拉家常约谈按年度")
    assert {int(r[0].removesuffix("年")): tuple(r[1:4]) for r in rows} == talks

    # the quarter's work: visits, pairing-quarters and funding of this and the previous quarter
    _, rows = table(wb["总体情况"], f"{quarter_label(quarter)}工作情况")
    work = by_first(rows, skip_total=False)
    for column, q in ((0, quarter), (1, previous_quarter(quarter))):
        start, end = data.quarter_bounds(q)
        visits, funding = _facts(
            source,
            f"""
            select (select count(*) from marts.fct_visits
                    where visit_date between date '{start}' and date '{end}'),
                (select coalesce(sum(amount_yuan), 0) from marts.fct_funding
                    where funded_on between date '{start}' and date '{end}')
            """,
        )[0]
        assert work["走访次数"][column] == visits, q
        assert _money(work["到位帮扶资金（元）"][column]) == _money(funding), q
        owed, met = (
            sum(v[0] for (t, qq), v in coverage.items() if qq == q),
            sum(v[1] for (t, qq), v in coverage.items() if qq == q),
        )
        assert (work["应走访户季（结对×季度）"][column] or 0, work["已走访户季"][column] or 0) == (
            owed,
            met,
        ), q

    # funding, projects and 一月一议 matters received, started or raised by the as-of date, by
    # township (county-level money and projects under one label) and by source or category
    cuts = {
        "funding by township": (
            f"""select coalesce(township_name, '{COUNTY_LEVEL}'), count(*), sum(amount_yuan)
            from marts.fct_funding where funded_on <= date '{as_of}' group by 1""",
            data.funding_by_township(source, data.Filters())[["乡镇", "笔数", "金额元"]],
            ("资金", "各乡镇帮扶资金（累计）"),
        ),
        "funding by source": (
            f"""select source_type, count(*), sum(amount_yuan)
            from marts.fct_funding where funded_on <= date '{as_of}' group by 1""",
            data.funding_by_source(source, data.Filters())[["来源类型", "笔数", "金额元"]],
            ("资金", "帮扶资金来源（累计至统计截止日）"),
        ),
        "projects by township": (
            f"""select coalesce(township_name, '{COUNTY_LEVEL}'), count(*),
                count(*) filter (where project_type = '专业合作社')
            from marts.fct_projects where started_on <= date '{as_of}' group by 1""",
            data.projects_by_village(source, data.Filters())
            .groupby("乡镇", as_index=False)[["项目数", "专业合作社"]]
            .sum(),
            ("项目", "各乡镇帮扶项目"),
        ),
        "matters by category": (
            f"""select category, count(*), count(*) filter (where status = '已办结'
                and coalesce(closed_on, raised_on) <= date '{as_of}')
            from marts.fct_matters where raised_on <= date '{as_of}' group by 1""",
            data.matters_by_category(source, data.Filters())[["类别", "提出件数", "已办结"]],
            ("一月一议", "一月一议事项按类别（提出至统计截止日）"),
        ),
    }
    for cut, (sql, dashboard, (sheet, title)) in cuts.items():
        expected = {key: tuple(_money(v) for v in values) for key, *values in _facts(source, sql)}
        assert expected, cut
        shown = {key: tuple(_money(v) for v in values) for key, *values in dashboard.values}
        assert shown == expected, cut
        _, rows = table(wb[sheet], title)
        width = len(next(iter(expected.values())))
        written = {
            k: tuple(_money(v) for v in values[:width]) for k, values in by_first(rows).items()
        }
        assert written == expected, cut

    # talks by the leader's role add up to the year's talks
    by_role = data.talks_by_role(source).groupby("年度")["约谈次数"].sum().to_dict()
    assert by_role == {year: n for year, (n, _, _) in talks.items()}
