"""The quarterly report the organization department sends upward (``outreach export``).

One xlsx in Chinese, built from the marts of one published warehouse: the current file when the
as-of date asked for is its date, else ``published/history/<as-of>.duckdb`` (a date never
published is a clear error naming the dates that were). Every query reads that one file through
one read-only connection, so the whole report is of one night even if the next night renames a
new file over it meanwhile (the connection keeps the file it opened), and nothing blocks the
night.

The report covers the programme to the as-of date (the headline figures of
``marts.program_headlines``, which is of that date) and the **report quarter**: the newest
quarter ended on or before the as-of date (2014-06-30 -> 2014Q2; 2014-08-15 -> 2014Q2). Facts are
counted by their own date up to the as-of date: a backfilled history file also holds the rows
dated later, and they are left out, as the marts' own as-of logic leaves them out.

Sheets: 总体情况 (headline figures, the quarter beside the one before, obligation flags), 走访覆盖
(township x quarter completion, the quarter by township, the county by quarter), 未走访清单
(counts only: no household or cadre appears; the named lists are the townships' follow-up
workbooks), 资金 (by source, township, quarter), 项目 (by type, status, township), 一月一议 (by
category, by month, days to close), 拉家常 (by year), 数据质量 (the checks of the as-of date and
their trend). Each table has native Excel charts (xlsxwriter) that read its cells.

No personal data: the report holds counts, sums and names of places, units and rules only.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from outreach.outputs.figures import OBLIGATION_LABELS, quarter_bounds, rule_label
from outreach.outputs.followup_lists import UNKNOWN_TOWNSHIP, quarter_label
from outreach.outputs.workbook import HEADER, safe_workbook
from outreach.pipeline.publish import history_path, publication_info
from outreach.settings import Settings

WAN = Decimal(10000)  # 万元: money stays Decimal to the fen until it is written
ZERO = Decimal(0)
SEVERITY_MEANINGS = {
    "error": "错误（阻止发布）",
    "warning": "警告（报送数据问题）",
    "finding": "履职提醒（义务未完成）",
}
SHEETS = ["总体情况", "走访覆盖", "未走访清单", "资金", "项目", "一月一议", "拉家常", "数据质量"]


class ExportError(RuntimeError):
    """The report cannot be written: no warehouse, a date never published, a bad output."""


# --- which file, which quarter ---------------------------------------------------------------


def report_quarter(as_of: dt.date) -> str:
    """The newest quarter ended on or before ``as_of``, as ``2014Q2``."""
    year, number = as_of.year, (as_of.month - 1) // 3 + 1
    if quarter_bounds(f"{year}Q{number}")[1] > as_of:
        year, number = (year - 1, 4) if number == 1 else (year, number - 1)
    return f"{year}Q{number}"


def previous_quarter(quarter: str) -> str:
    year, number = int(quarter[:4]), int(quarter[-1])
    return f"{year - 1}Q4" if number == 1 else f"{year}Q{number - 1}"


def published_dates(published_db: Path) -> list[str]:
    """Every as-of date there is a warehouse of: the history files and the current file."""
    folder = published_db.parent / "history"
    dates = {p.stem for p in folder.glob("????-??-??.duckdb")} if folder.is_dir() else set()
    try:
        current = publication_info(published_db)
    except duckdb.Error:
        current = None
    if current is not None:
        dates.add(current["as_of"])
    return sorted(dates)


def source_for(settings: Settings, as_of: dt.date | None) -> tuple[Path, dict]:
    """The published file of ``as_of`` (default: the current file's date) and its stamp."""
    published = settings.published_db
    if not published.exists():
        raise ExportError(
            f"no published warehouse at {published}: run `outreach run` (or `make run`) first"
        )
    try:
        current = publication_info(published)
    except duckdb.Error as exc:
        raise ExportError(f"{published} cannot be read as a DuckDB warehouse: {exc}") from exc
    if current is None:
        raise ExportError(f"{published} is not a published warehouse (no marts.publication)")
    if as_of is None or as_of.isoformat() == current["as_of"]:
        return published, current
    path = history_path(published, as_of)
    if not path.exists():
        dates = ", ".join(published_dates(published)) or "none"
        raise ExportError(
            f"no warehouse was published for as-of {as_of} ({path} does not exist); "
            f"published as-of dates: {dates}"
        )
    try:
        stamp = publication_info(path)
    except duckdb.Error as exc:
        raise ExportError(f"{path} cannot be read as a DuckDB warehouse: {exc}") from exc
    if stamp is None or stamp["as_of"] != as_of.isoformat():
        raise ExportError(f"{path} does not hold the warehouse of {as_of}")
    return path, stamp


def default_output(settings: Settings, as_of: dt.date) -> Path:
    return settings.reports_dir / "quarterly" / f"季度报告_{as_of.isoformat()}.xlsx"


# --- what the report holds -------------------------------------------------------------------

# How a column's values are written: the Excel number format, or text.
FORMATS = {
    "int": "#,##0",
    "money": "#,##0.00",
    "wan": "#,##0.00",
    "pct": "0.0%",
    "days": "0.0",
    "text": None,
}


@dataclass
class Table:
    key: str  # how the tests and the charts find it
    title: str
    columns: list[str]
    kinds: list[str]  # one of FORMATS per column
    rows: list[list[Any]]
    note: str | None = None
    heat: bool = False  # a colour scale over the numeric cells (a heat map)
    row_kinds: list[str] | None = None  # per row, for the columns whose kind is "mixed"


@dataclass
class Chart:
    kind: str  # column | bar | line | pie
    title: str
    table: str  # Table.key
    values: list[int]  # column indices of the series
    categories: int = 0
    subtype: str | None = None  # e.g. stacked
    y_title: str | None = None
    y_format: str | None = None


@dataclass
class Sheet:
    name: str
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)


@dataclass
class Report:
    county: str
    as_of: dt.date
    quarter: str
    run_id: str
    published_at: str
    source: Path
    sheets: list[Sheet]
    output: Path | None = None

    def table(self, key: str) -> Table:
        for sheet in self.sheets:
            for table in sheet.tables:
                if table.key == key:
                    return table
        raise KeyError(key)


class _Reader:
    """The report's one read-only connection, with the as-of date and the quarter's bounds as
    named parameters ($as_of, $qs, $qe, $pqs, $pqe)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> None:
        self.con = con
        self.params = params

    def rows(self, sql: str) -> list[list[Any]]:
        names = set(re.findall(r"\$([a-z_]+)", sql))
        params = {k: v for k, v in self.params.items() if k in names}
        return [list(row) for row in self.con.execute(sql, params).fetchall()]

    def one(self, sql: str) -> Any:
        return self.rows(sql)[0][0]


# marts.rpt_headlines.kind -> the cell format of this workbook
_CELL_KINDS = {"count": "int", "money": "money", "rate": "pct"}


def _overview(r: _Reader, quarter: str) -> Sheet:
    headlines = r.rows("select label, kind, value from marts.rpt_headlines order by metric_order")
    cumulative = Table(
        "headlines",
        "累计成效（活动开展以来至统计截止日）",
        ["指标", "数值"],
        ["text", "mixed"],
        [[label, int(v) if kind == "count" else v] for label, kind, v in headlines],
        note="数值取自 marts.rpt_headlines（统计截止日的成效指标）。",
        row_kinds=[_CELL_KINDS[kind] for _, kind, _ in headlines],
    )

    previous = previous_quarter(quarter)
    # (label, cell kind, column of marts.rpt_quarter_kpis)
    measures = [
        ("走访次数", "int", "visits"),
        ("走访农户（户）", "int", "households_visited"),
        ("应走访户季（结对×季度）", "int", "pairing_quarters_owed"),
        ("已走访户季", "int", "pairing_quarters_met"),
        ("季度走访完成率", "pct", "visit_rate"),
        ("到位帮扶资金（元）", "money", "funding_yuan"),
        ("新开工帮扶项目（个）", "int", "projects_started"),
        ("一月一议提出事项（件）", "int", "matters_raised"),
        ("一月一议办结事项（件）", "int", "matters_closed"),
        ("拉家常约谈（次）", "int", "talks"),
        ("收集意见建议（条）", "int", "opinions_collected"),
        ("支部组织生活（次，实到人数大于0）", "int", "branch_activities_held"),
    ]
    this = Table(
        "quarter",
        f"{quarter_label(quarter)}工作情况",
        ["指标", quarter_label(quarter), quarter_label(previous)],
        ["text", "mixed", "mixed"],
        [],
        note="按各项记录自身的日期计入季度（走访日期、到位日期、开工日期、提出日期、办结日期）。",
        row_kinds=[kind for _, kind, _ in measures],
    )
    columns = ", ".join(column for _, _, column in measures)
    kpis = {
        q: values
        for q, *values in r.rows(
            f"select quarter, {columns} from marts.rpt_quarter_kpis "
            f"where quarter in ('{quarter}', '{previous}')"
        )
    }
    # a quarter before the programme's first has no row: nothing happened in it
    empty = [None if kind == "pct" else 0 for _, kind, _ in measures]
    for i, (label, _, _) in enumerate(measures):
        this.rows.append([label, kpis.get(quarter, empty)[i], kpis.get(previous, empty)[i]])

    flags = Table(
        "obligations",
        "履职提醒（截至统计截止日，不影响发布）",
        ["项目", "累计", f"其中{quarter_label(quarter)}"],
        ["text", "int", "int"],
        [],
    )
    in_quarter = {
        "dq_missing_quarterly_visits": "quarter = {q}",
        "dq_missing_branch_activities": "quarter = {q}",
    }
    for table, label in OBLIGATION_LABELS.items():
        total = r.one(f"select count(*) from marts.{table}")
        where = in_quarter.get(table)
        part = (
            r.one(f"select count(*) from marts.{table} where {where.format(q=repr(quarter))}")
            if where
            else None
        )
        flags.rows.append([label, total, part])
    return Sheet(
        "总体情况",
        [cumulative, this, flags],
        [Chart("column", "履职提醒（累计）", "obligations", [1], y_title="条数")],
    )


def _coverage(r: _Reader, quarter: str) -> Sheet:
    quarters = [
        row[0]
        for row in r.rows("select distinct quarter from marts.fct_pairing_quarters order by 1")
    ]
    cells = r.rows(
        "select township_name, township_code, quarter, visit_rate "
        "from marts.rpt_visit_coverage order by township_code, quarter"
    )
    by_township: dict[str, dict[str, float]] = {}
    for township, _, q, rate in cells:
        by_township.setdefault(township, {})[q] = rate
    heat = Table(
        "coverage_matrix",
        "各乡镇各季度走访完成率（已走访户季 ÷ 应走访户季）",
        ["乡镇", *[quarter_label(q) for q in quarters]],
        ["text", *["pct"] * len(quarters)],
        [[t, *[rates.get(q) for q in quarters]] for t, rates in by_township.items()],
        note="应走访：结对关系在该季度内持续30天及以上、且季度已结束；空白为该季度无应走访。",
        heat=True,
    )
    townships = Table(
        "coverage_quarter",
        f"各乡镇{quarter_label(quarter)}走访情况",
        ["乡镇", "结对户数", "应走访户季", "已走访户季", "未走访户季", "完成率"],
        ["text", "int", "int", "int", "int", "pct"],
        r.rows(
            f"""
            select township_name, households_paired, pairing_quarters_owed,
                pairing_quarters_met, pairing_quarters_missed, visit_rate
            from marts.rpt_visit_coverage where quarter = '{quarter}'
            order by township_code
            """
        ),
    )
    _total_row(townships, rate=(3, 2))
    county = Table(
        "coverage_county",
        "全县各季度走访完成率",
        ["季度", "应走访户季", "已走访户季", "未走访户季", "完成率"],
        ["text", "int", "int", "int", "pct"],
        [
            [quarter_label(q), *rest]
            for q, *rest in r.rows(
                """
                select quarter, sum(pairing_quarters_owed)::bigint,
                    sum(pairing_quarters_met)::bigint, sum(pairing_quarters_missed)::bigint,
                    sum(pairing_quarters_met) / sum(pairing_quarters_owed)
                from marts.rpt_visit_coverage group by quarter order by quarter
                """
            )
        ],
    )
    return Sheet(
        "走访覆盖",
        [heat, townships, county],
        [
            Chart(
                "column",
                f"各乡镇{quarter_label(quarter)}走访完成率",
                "coverage_quarter",
                [5],
                y_format="0%",
                y_title="完成率",
            ),
            Chart("line", "全县季度走访完成率", "coverage_county", [4], y_format="0%"),
        ],
    )


def _missed(r: _Reader, quarter: str) -> Sheet:
    summary = Table(
        "missed_quarter",
        f"各乡镇{quarter_label(quarter)}未走访情况（只列数量）",
        ["乡镇", "未走访户季", "涉及帮扶干部（人）", "涉及农户（户）", "其中截至季度末从未走访"],
        ["text", "int", "int", "int", "int"],
        r.rows(
            f"""
            select coalesce(township_name, '{UNKNOWN_TOWNSHIP}'), count(*),
                count(distinct cadre_code), count(distinct household_code),
                count(*) filter (where last_visit_date is null)
            from marts.dq_missing_quarterly_visits where quarter = '{quarter}'
            group by 1 order by 2 desc, 1
            """
        ),
        note="本表只列数量，不含农户姓名、身份证号等个人信息；逐户名单见各乡镇《待走访清单》"
        "（按户编号和脱敏身份证号核对）。",
    )
    _total_row(summary)
    quarters = [
        row[0]
        for row in r.rows(
            "select distinct quarter from marts.dq_missing_quarterly_visits order by 1"
        )
    ]
    cells = r.rows(
        f"""
        select coalesce(township_name, '{UNKNOWN_TOWNSHIP}') as t, quarter, count(*)
        from marts.dq_missing_quarterly_visits group by all order by all
        """
    )
    grid: dict[str, dict[str, int]] = {}
    for township, q, n in cells:
        grid.setdefault(township, {})[q] = n
    matrix = Table(
        "missed_matrix",
        "各乡镇各季度未走访户季数（累计）",
        ["乡镇", *[quarter_label(q) for q in quarters], "合计"],
        ["text", *["int"] * (len(quarters) + 1)],
        [
            [t, *[grid[t].get(q, 0) for q in quarters], sum(grid[t].values())]
            for t in sorted(grid, key=lambda t: -sum(grid[t].values()))
        ],
        heat=True,
    )
    _total_row(matrix)
    by_quarter = Table(
        "missed_by_quarter",
        "全县各季度未走访户季数",
        ["季度", "未走访户季"],
        ["text", "int"],
        [[quarter_label(q), sum(grid[t].get(q, 0) for t in grid)] for q in quarters],
    )
    return Sheet(
        "未走访清单",
        [summary, matrix, by_quarter],
        [
            Chart("column", "全县各季度未走访户季数", "missed_by_quarter", [1], y_title="户季"),
        ],
    )


def _funding(r: _Reader) -> Sheet:
    # marts.rpt_funding holds only funding received by the as-of date
    sources = Table(
        "funding_source",
        "帮扶资金来源（累计至统计截止日）",
        ["来源类型", "笔数", "金额（元）", "金额（万元）", "占比"],
        ["text", "int", "money", "wan", "pct"],
        [
            [s, n, y, y / WAN, share]
            for s, n, y, share in r.rows(
                """
                select source_type, sum(funding_rows)::bigint, sum(amount_yuan),
                    sum(amount_yuan) / sum(sum(amount_yuan)) over ()
                from marts.rpt_funding group by 1 order by 3 desc
                """
            )
        ],
    )
    _total_row(sources, rate=None, share=4)
    townships = Table(
        "funding_township",
        "各乡镇帮扶资金（累计）",
        ["乡镇", "笔数", "金额（元）", "金额（万元）"],
        ["text", "int", "money", "wan"],
        [
            [t, n, y, y / WAN]
            for t, n, y in r.rows(
                """
                select township_name, sum(funding_rows)::bigint, sum(amount_yuan)
                from marts.rpt_funding group by 1 order by min(township_code)
                """
            )
        ],
    )
    _total_row(townships)
    types = [
        row[0] for row in r.rows("select distinct source_type from marts.rpt_funding order by 1")
    ]
    cells = r.rows(
        """
        select quarter, source_type, sum(amount_yuan)
        from marts.rpt_funding group by all order by all
        """
    )
    grid: dict[str, dict[str, Decimal]] = {}
    for q, source, yuan in cells:
        grid.setdefault(q, {})[source] = yuan / WAN
    quarters = Table(
        "funding_quarter",
        "各季度到位资金（万元，按来源）",
        ["季度", *types, "合计"],
        ["text", *["wan"] * (len(types) + 1)],
        [
            [quarter_label(q), *[grid[q].get(t, ZERO) for t in types], sum(grid[q].values())]
            for q in sorted(grid)
        ],
    )
    return Sheet(
        "资金",
        [sources, townships, quarters],
        [
            Chart("pie", "资金来源构成", "funding_source", [2]),
            Chart("column", "各乡镇帮扶资金（万元）", "funding_township", [3], y_title="万元"),
            Chart(
                "column",
                "各季度到位资金（万元）",
                "funding_quarter",
                list(range(1, len(types) + 1)),
                subtype="stacked",
                y_title="万元",
            ),
        ],
    )


def _projects(r: _Reader) -> Sheet:
    # marts.rpt_projects holds only projects started by the as-of date
    types = Table(
        "projects_type",
        "帮扶项目按类型（开工至统计截止日）",
        ["项目类型", "项目数", "其中造血型", "计划投资（万元）", "受益户数"],
        ["text", "int", "int", "wan", "int"],
        [
            [t, n, c, (p or ZERO) / WAN, h]
            for t, n, c, p, h in r.rows(
                """
                select project_type, sum(projects)::bigint,
                    sum(capacity_building_projects)::bigint,
                    sum(planned_yuan), sum(households_reached)::bigint
                from marts.rpt_projects group by 1 order by 2 desc, 1
                """
            )
        ],
    )
    _total_row(types)
    statuses = Table(
        "projects_status",
        "帮扶项目按状态",
        ["状态", "项目数"],
        ["text", "int"],
        r.rows(
            "select status, sum(projects)::bigint from marts.rpt_projects "
            "group by 1 order by 2 desc, 1"
        ),
    )
    townships = Table(
        "projects_township",
        "各乡镇帮扶项目",
        ["乡镇", "项目数", "专业合作社", "造血型项目", "计划投资（万元）"],
        ["text", "int", "int", "int", "wan"],
        [
            [t, n, c, k, (p or ZERO) / WAN]
            for t, n, c, k, p in r.rows(
                """
                select township_name, sum(projects)::bigint, sum(cooperatives)::bigint,
                    sum(capacity_building_projects)::bigint, sum(planned_yuan)
                from marts.rpt_projects group by 1 order by min(township_code)
                """
            )
        ],
    )
    _total_row(townships)
    return Sheet(
        "项目",
        [types, statuses, townships],
        [
            Chart("bar", "帮扶项目按类型", "projects_type", [1], y_title="个"),
            Chart("column", "各乡镇专业合作社和造血型项目", "projects_township", [2, 3]),
        ],
    )


def _matters(r: _Reader) -> Sheet:
    # marts.rpt_matters: matters raised by the as-of date, whether each was done by then
    # (docs/RULES.md) and its days to close (none where the dates are wrong)
    categories = Table(
        "matters_category",
        "一月一议事项按类别（提出至统计截止日）",
        ["类别", "提出", "已办结", "未办结", "其中超过60天未办结", "办结天数中位数"],
        ["text", "int", "int", "int", "int", "days"],
        r.rows(
            """
            select category, count(*),
                count(*) filter (where is_done),
                count(*) filter (where not is_done),
                count(*) filter (where days_open > 60),
                median(days_to_close)
            from marts.rpt_matters
            group by 1 order by 2 desc, 1
            """
        ),
        note="办结：状态为“已办结”且办结日期不晚于统计截止日；办结日期早于提出日期的记录"
        "（数据有误，见数据质量）不计入办结天数。",
    )
    _total_row(categories, skip={5})
    months = Table(
        "matters_month",
        "各月提出和办结事项",
        ["月份", "提出", "办结"],
        ["text", "int", "int"],
        r.rows(
            """
            with raised as (
                select raised_month as m, count(*) as n from marts.rpt_matters group by 1
            ),
            closed as (
                select closed_month as m, count(*) as n from marts.rpt_matters
                where closed_month is not null group by 1
            )
            select m, coalesce(raised.n, 0), coalesce(closed.n, 0)
            from raised full join closed using (m) order by m
            """
        ),
    )
    return Sheet(
        "一月一议",
        [categories, months],
        [
            Chart("line", "一月一议：各月提出和办结", "matters_month", [1, 2], y_title="件"),
            Chart("column", "各类事项办结天数中位数", "matters_category", [5], y_title="天"),
        ],
    )


def _talks(r: _Reader) -> Sheet:
    years = Table(
        "talks_year",
        "拉家常约谈按年度",
        [
            "年度",
            "约谈次数",
            "约谈干部（人）",
            "收集意见建议（条）",
            "应谈干部（人）",
            "应谈已谈（人）",
            "未约谈干部（人）",
            "覆盖率",
        ],
        ["text", "int", "int", "int", "int", "int", "int", "pct"],
        [
            [f"{y}年", *rest]
            for y, *rest in r.rows(
                """
                select year, talks, cadres_talked, opinions_collected, cadres_due,
                    cadres_due_talked, cadres_missed, talk_coverage
                from marts.rpt_talk_coverage order by year
                """
            )
        ],
        note="应谈干部：县干部名册中的正科、副科和一般干部；年度未结束时不计未约谈。",
    )
    return Sheet(
        "拉家常",
        [years],
        [Chart("column", "拉家常约谈覆盖率", "talks_year", [7], y_format="0%")],
    )


def _quality(r: _Reader) -> Sheet:
    latest = r.rows(
        """
        select rule_id, severity, sum(failures)::bigint from marts.dq_history
        where as_of = $as_of and failures > 0 group by rule_id, severity
        order by case severity when 'error' then 0 when 'warning' then 1 else 2 end,
            3 desc, rule_id
        """
    )
    rules = Table(
        "quality_rules",
        "统计截止日的数据质量检查（失败条数大于0的规则）",
        ["规则", "说明", "级别", "条数"],
        ["text", "text", "text", "int"],
        [[rule, rule_label(rule), SEVERITY_MEANINGS.get(sev, sev), n] for rule, sev, n in latest],
        note="错误会阻止发布（已发布的数据中为0）；警告是报送单位的数据问题，见各单位《退回清单》；"
        "履职提醒是未完成的工作义务。",
    )
    trend_rows = r.rows(
        """
        select as_of,
            coalesce(sum(failures) filter (where severity = 'error'), 0)::bigint,
            coalesce(sum(failures) filter (where severity = 'warning'), 0)::bigint,
            coalesce(sum(failures) filter (where severity = 'finding'), 0)::bigint
        from marts.dq_history where as_of <= $as_of group by as_of order by as_of
        """
    )
    trend = Table(
        "quality_trend",
        "各统计截止日的检查结果（条数）",
        ["统计截止日", "错误", "警告", "履职提醒"],
        ["text", "int", "int", "int"],
        [[d.isoformat(), *rest] for d, *rest in trend_rows],
    )
    return Sheet(
        "数据质量",
        [rules, trend],
        [Chart("line", "数据质量趋势", "quality_trend", [1, 2, 3], y_title="条数")],
    )


def _local(published_at: str, tz: ZoneInfo) -> str:
    try:
        moment = dt.datetime.fromisoformat(published_at)
    except ValueError:
        return published_at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _total_row(
    table: Table,
    rate: tuple[int, int] | None = None,
    share: int | None = None,
    skip: set[int] | None = None,
) -> None:
    """Append 合计: the sum of every numeric column; ``rate`` = (numerator, denominator) column
    indices for a rate column (the last), ``share`` a share column (100%), ``skip`` blanks."""
    if not table.rows:
        return
    total: list[Any] = ["合计"]
    for i in range(1, len(table.columns)):
        if skip and i in skip:
            total.append(None)
        elif rate and i == len(table.columns) - 1:
            num, den = (sum(row[c] or 0 for row in table.rows) for c in rate)
            total.append(num / den if den else None)
        elif share is not None and i == share:
            total.append(1.0)
        else:
            total.append(sum(row[i] or 0 for row in table.rows))
    table.rows.append(total)


def build_report(db: Path, stamp: dict, tz: ZoneInfo) -> Report:
    """Read the report from ``db`` (one read-only connection); ``tz`` shows the publication
    time in the county's time zone."""
    as_of = dt.date.fromisoformat(stamp["as_of"])
    quarter = report_quarter(as_of)
    qs, qe = quarter_bounds(quarter)
    pqs, pqe = quarter_bounds(previous_quarter(quarter))
    con = duckdb.connect(str(db), read_only=True)
    try:
        r = _Reader(con, {"as_of": as_of, "qs": qs, "qe": qe, "pqs": pqs, "pqe": pqe})
        first = r.one("select min(quarter) from marts.dim_quarters")
        if first is None or quarter < first:
            raise ExportError(
                f"as of {as_of} no quarter of the programme has ended yet: nothing to report"
            )
        county = r.one("select max(county_name) from marts.dim_townships") or ""
        sheets = [
            _overview(r, quarter),
            _coverage(r, quarter),
            _missed(r, quarter),
            _funding(r),
            _projects(r),
            _matters(r),
            _talks(r),
            _quality(r),
        ]
    except duckdb.CatalogException as exc:  # a file without the marts the report reads
        raise ExportError(f"{db} does not hold the marts the report reads: {exc}") from exc
    finally:
        con.close()
    return Report(
        county=county,
        as_of=as_of,
        quarter=quarter,
        run_id=str(stamp["run_id"]),
        published_at=_local(stamp["published_at"], tz),
        source=db,
        sheets=sheets,
    )


# --- the workbook ----------------------------------------------------------------------------


def _width(value: Any) -> int:
    text = "" if value is None else (f"{value:,.2f}" if isinstance(value, float) else str(value))
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def write_workbook(report: Report, path: Path) -> Path:
    """Write the report to ``path`` atomically (a hidden file beside it, then renamed)."""
    with safe_workbook(path) as workbook:
        title_fmt = workbook.add_format({"bold": True, "font_size": 16})
        stamp_fmt = workbook.add_format({"italic": True, "font_color": "#595959"})
        caption_fmt = workbook.add_format({"bold": True, "font_size": 12})
        note_fmt = workbook.add_format({"font_color": "#595959", "italic": True})
        header_fmt = workbook.add_format(HEADER)
        cell = {
            kind: workbook.add_format(
                {"border": 1, **({"num_format": f} if f else {}), "valign": "vcenter"}
            )
            for kind, f in FORMATS.items()
        }
        total = {
            kind: workbook.add_format(
                {
                    "border": 1,
                    "bold": True,
                    "bg_color": "#F2F2F2",
                    **({"num_format": f} if f else {}),
                }
            )
            for kind, f in FORMATS.items()
        }
        heading = f"{report.county}结对帮扶工作季度报告（{quarter_label(report.quarter)}）"
        stamp = (
            f"数据截至 {report.as_of.isoformat()}　报告季度 {quarter_label(report.quarter)}　"
            f"数据发布于 {report.published_at}　运行编号 {report.run_id}"
        )
        for sheet in report.sheets:
            ws = workbook.add_worksheet(sheet.name)
            ws.write_string(
                0, 0, heading if sheet.name == "总体情况" else f"{heading}：{sheet.name}", title_fmt
            )
            ws.write_string(1, 0, stamp, stamp_fmt)
            ws.set_row(0, 24)
            widths: dict[int, int] = {}
            anchors: dict[str, tuple[int, int]] = {}  # table key -> (first data row, last data row)
            row = 3
            for table in sheet.tables:
                ws.write_string(row, 0, table.title, caption_fmt)
                row += 1
                for c, name in enumerate(table.columns):
                    ws.write_string(row, c, name, header_fmt)
                    widths[c] = max(widths.get(c, 0), _width(name))
                first = row + 1
                per_row = table.row_kinds
                for i, values in enumerate(table.rows):
                    row += 1
                    is_total = values and values[0] == "合计"
                    for c, value in enumerate(values):
                        kind = table.kinds[c]
                        if kind == "mixed":
                            kind = per_row[i] if per_row else "int"
                        fmt = (total if is_total else cell)[kind]
                        if value is None:
                            ws.write_blank(row, c, None, fmt)
                        elif isinstance(value, str):
                            ws.write_string(row, c, value, fmt)
                        elif isinstance(value, dt.date):
                            ws.write_datetime(row, c, dt.datetime.combine(value, dt.time()), fmt)
                        else:
                            ws.write_number(row, c, float(value), fmt)
                        widths[c] = max(widths.get(c, 0), _width(value))
                last = row
                has_total = bool(table.rows) and table.rows[-1][0] == "合计"
                anchors[table.key] = (first, last - 1 if has_total else last)
                if table.heat and table.rows:
                    numeric = last - 1 if has_total else last
                    ws.conditional_format(
                        first,
                        1,
                        numeric,
                        len(table.columns) - (2 if table.columns[-1] == "合计" else 1),
                        {
                            "type": "3_color_scale",
                            "min_color": "#F8696B",
                            "mid_color": "#FFEB84",
                            "max_color": "#63BE7B",
                        }
                        if table.kinds[1] == "pct"
                        else {
                            "type": "2_color_scale",
                            "min_color": "#FFFFFF",
                            "max_color": "#F8696B",
                        },
                    )
                if not table.rows:
                    row += 1
                    ws.write_string(row, 0, "（无）", note_fmt)
                if table.note:  # after a blank row: the table ends at its first empty row
                    row += 2
                    ws.write_string(row, 0, table.note, note_fmt)
                row += 2
            for c, w in widths.items():
                ws.set_column(c, c, min(max(w + 2, 8), 40))
            chart_col = max(widths) + 2 if widths else 8
            chart_row = 3
            for spec in sheet.charts:
                first, last = anchors[spec.table]
                if last < first:
                    continue  # an empty table: no chart
                chart = workbook.add_chart(
                    {"type": spec.kind, **({"subtype": spec.subtype} if spec.subtype else {})}
                )
                header_row = first - 1
                for c in spec.values:
                    series = {
                        "name": [sheet.name, header_row, c],
                        "categories": [sheet.name, first, spec.categories, last, spec.categories],
                        "values": [sheet.name, first, c, last, c],
                    }
                    if spec.kind == "pie":
                        series["data_labels"] = {"percentage": True, "category": True}
                    chart.add_series(series)
                chart.set_title({"name": spec.title})
                if spec.kind != "pie":
                    axis: dict[str, Any] = {}
                    if spec.y_title:
                        axis["name"] = spec.y_title
                    if spec.y_format:
                        axis["num_format"] = spec.y_format
                    if spec.y_format == "0%":
                        axis["max"] = 1  # a rate never exceeds 100%
                    (chart.set_x_axis if spec.kind == "bar" else chart.set_y_axis)(axis)
                    if len(spec.values) == 1:
                        chart.set_legend({"none": True})
                    else:
                        chart.set_legend({"position": "bottom"})
                ws.insert_chart(chart_row, chart_col, chart, {"x_scale": 1.3, "y_scale": 1.2})
                chart_row += 20
            ws.freeze_panes(3, 0)
            ws.set_landscape()
            ws.set_paper(9)  # A4
            ws.fit_to_pages(1, 0)
    return path


def export_quarterly(
    settings: Settings, as_of: dt.date | None = None, output: Path | None = None
) -> Report:
    """Write the quarterly report of ``as_of`` (default: the current file's date) to ``output``
    (an .xlsx file, or a folder for the default name; default ``reports/quarterly/``)."""
    if output is not None and not output.is_dir() and output.suffix.lower() != ".xlsx":
        raise ExportError(f"--output must be an .xlsx file or a folder, got {output}")
    db, stamp = source_for(settings, as_of)
    report = build_report(db, stamp, settings.tz)
    target = default_output(settings, report.as_of)
    if output is not None:
        target = output / target.name if output.is_dir() else output
    report.output = write_workbook(report, target)
    return report
