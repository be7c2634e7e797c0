"""Everything the dashboard reads from the published warehouse: the SQL, and nothing of Streamlit.

Each function takes the path of the published file (``settings.published_db``) and the
sidebar's :class:`Filters`, and returns a small pandas DataFrame (or dict). Every query opens
the file read-only and closes it before returning: the night run renames a new file over it
(``outreach/pipeline/publish.py``), and a connection held open would keep showing the old file. Only
the ``marts`` schema is read, and only tables named in the contract (docs/RULES.md) plus
``marts.publication``. Households appear by code and masked ID only, as in the follow-up lists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ingest.discover import PROVIDER_NAMES
from outreach.outputs.figures import format_figure, quarter_bounds, rule_label
from outreach.outputs.followup_lists import UNKNOWN_TOWNSHIP

SEVERITY_LABELS = {
    "error": "错误（阻止发布）",
    "warning": "警告（报送问题）",
    "finding": "履职提醒（义务未完成）",
}


class NotPublished(RuntimeError):
    """There is no published warehouse yet (the night run has never published)."""


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices; None means all."""

    township: str | None = None  # township_name, e.g. 保城镇
    quarter: str | None = None  # e.g. 2013Q2
    provider: str | None = None  # townships | joint_branches | enterprises | county


def query(db: Path, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    """One query over a read-only connection that is closed before this returns."""
    if not db.exists():
        raise NotPublished(str(db))
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def _where(
    f: Filters,
    *,
    township: str | None = None,
    quarter: str | None = None,
    date: str | None = None,
    provider: str | None = None,
) -> tuple[str, list[Any]]:
    """A where clause for the filters that apply to a table: the arguments name its columns
    (code constants, never user input); the values go in as parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if f.township and township:
        clauses.append(f"{township} = ?")
        params.append(f.township)
    if f.quarter and quarter:
        clauses.append(f"{quarter} = ?")
        params.append(f.quarter)
    elif f.quarter and date:
        clauses.append(f"{date} between ? and ?")
        params.extend(quarter_bounds(f.quarter))
    if f.provider and provider:
        clauses.append(f"{provider} = ?")
        params.append(f.provider)
    return (" and ".join(clauses) or "true"), params


# --- the stamp and the filters' choices ----------------------------------------------------


def county_name(db: Path) -> str:
    df = query(db, "select max(county_name) as county from marts.dim_townships")
    return df["county"].iloc[0] or ""


def publication(db: Path) -> dict[str, Any]:
    """The run that published the file: run_id, as_of (date), published_at (aware datetime)."""
    row = query(db, "select run_id, as_of, published_at from marts.publication").iloc[0]
    published_at = row["published_at"].to_pydatetime()
    if published_at.tzinfo is None:  # DuckDB hands timestamptz to pandas in UTC
        published_at = published_at.replace(tzinfo=dt.UTC)
    return {"run_id": row["run_id"], "as_of": row["as_of"].date(), "published_at": published_at}


def townships(db: Path) -> list[str]:
    df = query(
        db,
        "select township_name from marts.dim_townships where township_id <> '-1' "
        "order by township_code",
    )
    return df["township_name"].tolist()


def quarters(db: Path) -> list[str]:
    return query(db, "select quarter from marts.dim_quarters order by quarter")["quarter"].tolist()


# --- headline figures ------------------------------------------------------------------------


def headlines(db: Path) -> pd.DataFrame:
    """marts.rpt_headlines: one row per metric, in the mart's order, printed by its kind, beside
    the article's figure (the mart says whether they match)."""
    df = query(
        db,
        "select metric, label, kind, value, article_text, matches_article "
        "from marts.rpt_headlines order by metric_order",
    )
    rows = []
    for r in df.itertuples(index=False):
        value = float(r.value)
        matches = None if pd.isna(r.matches_article) else bool(r.matches_article)
        rows.append(
            {
                "metric": r.metric,
                "指标": r.label,
                "仓库数值": format_figure(r.kind, value),
                "文章数值": r.article_text if isinstance(r.article_text, str) else "—",
                "对照": "文章未报告" if matches is None else ("一致" if matches else "不一致"),
                "value": value,
                "kind": r.kind,
            }
        )
    return pd.DataFrame(rows)


# --- quarterly visits ------------------------------------------------------------------------

# One row per pairing-quarter owed, with the household's township and village and the pairing's
# provider: the base of the heat map and of the drill-down.
_PAIRING_QUARTERS = f"""
    select
        pq.pairing_quarter_id,
        pq.quarter,
        pq.cadre_id,
        pq.cadre_code,
        pq.household_id,
        pq.household_code,
        pq.is_met,
        pq.visit_count,
        coalesce(h.township_name, '{UNKNOWN_TOWNSHIP}') as township_name,
        coalesce(h.township_code, '999') as township_code,
        coalesce(h.village_name, '未知村') as village_name,
        p.provider
    from marts.fct_pairing_quarters as pq
    left join marts.dim_households as h using (household_id)
    left join marts.fct_pairings as p using (pairing_id)
"""


def visit_coverage(db: Path, f: Filters) -> pd.DataFrame:
    """Township × quarter: pairing-quarters owed, met, missed and the rate met ÷ owed, as
    marts.rpt_visit_coverage has them. Pairings come from townships only (their providers in
    ingest/registry.yml): another provider chosen in the sidebar owes no visit."""
    from ingest.registry import load_registry

    where, params = _where(f, township="township_name", quarter="quarter")
    if f.provider and f.provider not in load_registry()["pairings"].providers:
        where, params = "false", []
    return query(
        db,
        f"""
        select
            township_name,
            township_code,
            quarter,
            pairing_quarters_owed as owed,
            pairing_quarters_met as met,
            pairing_quarters_missed as missed,
            visit_rate as rate
        from marts.rpt_visit_coverage
        where {where}
        order by township_code, quarter
        """,
        params,
    )


def village_coverage(db: Path, f: Filters, township: str) -> pd.DataFrame:
    """One township's villages: households paired, cadres, visits, pairing-quarters."""
    where, params = _where(f, quarter="quarter", provider="provider")
    visit_where, visit_params = _where(f, quarter="quarter", provider="provider")
    return query(
        db,
        f"""
        with pq as ({_PAIRING_QUARTERS}),
        owed as (
            select
                village_name,
                count(distinct household_id) as households_paired,
                count(distinct cadre_id) as cadres,
                count(*) as owed,
                count(*) filter (where is_met) as met,
                count(*) filter (where not is_met) as missed
            from pq
            where township_name = ? and {where}
            group by village_name
        ),
        visits as (
            select coalesce(village_name, '未知村') as village_name, count(*) as visits
            from marts.fct_visits
            where township_name = ? and {visit_where}
                -- a backfilled file holds later visits too: the as-of date bounds them
                and visit_date <= (select as_of from marts.publication)
            group by 1
        )
        select
            coalesce(owed.village_name, visits.village_name) as 村委会,
            coalesce(households_paired, 0) as 结对户数,
            coalesce(cadres, 0) as 帮扶干部数,
            coalesce(visits, 0) as 走访次数,
            coalesce(owed, 0) as 应走访户季,
            coalesce(met, 0) as 已走访户季,
            coalesce(missed, 0) as 未走访户季,
            round(100.0 * met / nullif(owed, 0), 2) as "完成率（%）"
        from owed
        full join visits using (village_name)
        order by 未走访户季 desc, 村委会
        """,
        [township, *params, township, *visit_params],
    )


def cadre_coverage(db: Path, f: Filters, township: str, village: str | None = None) -> pd.DataFrame:
    """The cadres paired with households of one township (or one of its villages), most
    missed first."""
    where, params = _where(f, quarter="quarter", provider="provider")
    if village:
        where, params = f"{where} and pq.village_name = ?", [*params, village]
    return query(
        db,
        f"""
        with pq as ({_PAIRING_QUARTERS})
        select
            pq.cadre_code as 干部编号,
            c.cadre_name as 干部,
            c.unit as 工作单位,
            count(distinct pq.household_id) as 结对户数,
            count(*) as 应走访户季,
            count(*) filter (where pq.is_met) as 已走访户季,
            count(*) filter (where not pq.is_met) as 未走访户季
        from pq
        left join marts.dim_cadres as c using (cadre_id)
        where pq.township_name = ? and {where}
        group by all
        order by 未走访户季 desc, 干部编号
        """,
        [township, *params],
    )


def missed_visits(
    db: Path, f: Filters, township: str | None, village: str | None = None
) -> pd.DataFrame:
    """Every missed pairing-quarter (marts.dq_missing_quarterly_visits) of a township (or one
    of its villages), or of all townships when township is None; no household names."""
    where, params = _where(
        Filters(township=township, quarter=f.quarter, provider=f.provider),
        township=f"coalesce(m.township_name, '{UNKNOWN_TOWNSHIP}')",
        quarter="m.quarter",
        provider="p.provider",
    )
    if village:
        where, params = f"{where} and m.village_name = ?", [*params, village]
    return query(
        db,
        f"""
        select
            coalesce(m.township_name, '{UNKNOWN_TOWNSHIP}') as 乡镇,
            m.quarter as 季度,
            m.village_name as 村委会,
            m.cadre_code as 干部编号,
            m.cadre_name as 干部,
            m.unit as 工作单位,
            m.household_code as 户编号,
            m.head_id_number_mask as "户主身份证号（已脱敏）",
            m.pair_start as 结对日期,
            m.pair_end as 结对结束日期,
            m.active_days as 当季结对天数,
            m.last_visit_date as 最近一次走访
        from marts.dq_missing_quarterly_visits as m
        left join marts.fct_pairings as p using (pairing_id)
        where {where}
        order by 乡镇, 季度, 干部编号, 户编号
        """,
        params,
    )


# --- funding and projects --------------------------------------------------------------------
# marts.rpt_funding, rpt_projects and rpt_matters say what counts (dated by the as-of date, the
# county-level label); these functions sum or group their rows for the sidebar's filters.


def _sliced(f: Filters, month: str) -> tuple[str, list[Any]]:
    # the quarter of a row is its own column (the month's or the day's quarter)
    return _where(f, township="township_name", quarter=month, provider="provider")


def funding_by_source(db: Path, f: Filters) -> pd.DataFrame:
    where, params = _sliced(f, "quarter")
    return query(
        db,
        f"""
        select
            source_type as 来源类型,
            sum(funding_rows)::bigint as 笔数,
            sum(amount_yuan)::double as 金额元
        from marts.rpt_funding where {where}
        group by 1 order by 金额元 desc
        """,
        params,
    )


def funding_by_township(db: Path, f: Filters) -> pd.DataFrame:
    where, params = _sliced(f, "quarter")
    return query(
        db,
        f"""
        select
            township_name as 乡镇,
            sum(funding_rows)::bigint as 笔数,
            sum(amount_yuan)::double as 金额元
        from marts.rpt_funding where {where}
        group by 1 order by min(township_code)
        """,
        params,
    )


def funding_by_month(db: Path, f: Filters) -> pd.DataFrame:
    where, params = _sliced(f, "quarter")
    return query(
        db,
        f"""
        select
            month as 月份,
            source_type as 来源类型,
            sum(funding_rows)::bigint as 笔数,
            sum(amount_yuan)::double as 金额元
        from marts.rpt_funding where {where}
        group by all order by 月份, 来源类型
        """,
        params,
    )


def projects_by_type_status(db: Path, f: Filters) -> pd.DataFrame:
    where, params = _sliced(f, "quarter")
    return query(
        db,
        f"""
        select
            project_type as 项目类型,
            status as 状态,
            sum(projects)::bigint as 项目数,
            sum(capacity_building_projects)::bigint as 造血型项目数,
            sum(planned_yuan)::double as 计划投资元,
            sum(households_reached)::bigint as 受益户数
        from marts.rpt_projects where {where}
        group by all order by 项目类型, 状态
        """,
        params,
    )


def projects_by_village(db: Path, f: Filters) -> pd.DataFrame:
    where, params = _sliced(f, "quarter")
    return query(
        db,
        f"""
        select
            township_name as 乡镇,
            village_name as 村委会,
            sum(projects)::bigint as 项目数,
            sum(cooperatives)::bigint as 专业合作社,
            sum(capacity_building_projects)::bigint as 造血型项目,
            sum(built_or_operating)::bigint as 已建成或运营,
            round(sum(planned_yuan)::double / 10000, 2) as 计划投资万元,
            sum(households_reached)::bigint as 受益户数
        from marts.rpt_projects where {where}
        group by all order by 项目数 desc, 乡镇, 村委会
        """,
        params,
    )


# --- 一月一议 matters -----------------------------------------------------------------------


def matters_by_month(db: Path, f: Filters) -> pd.DataFrame:
    """Per month: matters raised, matters done, and the days to close of those done (a matter
    belongs to the quarter in which it was raised)."""
    where, params = _sliced(f, "raised_quarter")
    return query(
        db,
        f"""
        with m as (select * from marts.rpt_matters where {where}),
        raised as (select raised_month as month, count(*) as raised from m group by 1),
        closed as (
            select
                closed_month as month,
                count(*) as closed,
                median(days_to_close) as median_days,
                avg(days_to_close) as mean_days
            from m where closed_month is not null group by 1
        )
        select
            month as 月份,
            coalesce(raised, 0) as 提出件数,
            coalesce(closed, 0) as 办结件数,
            median_days as 办结天数中位数,
            round(mean_days, 1) as 平均办结天数
        from raised full join closed using (month)
        order by 月份
        """,
        params,
    )


def matters_by_category(db: Path, f: Filters) -> pd.DataFrame:
    where, params = _sliced(f, "raised_quarter")
    return query(
        db,
        f"""
        select
            category as 类别,
            count(*) as 提出件数,
            count(*) filter (where status_as_of = '已办结') as 已办结,
            count(*) filter (where status_as_of = '办理中') as 办理中,
            count(*) filter (where status_as_of = '待议') as 待议,
            median(days_to_close) as 办结天数中位数
        from marts.rpt_matters where {where}
        group by 1 order by 提出件数 desc
        """,
        params,
    )


DAYS_BUCKETS = ["7天以内", "8–15天", "16–30天", "31–60天", "61–90天", "90天以上", "日期有误"]


def matters_days_to_close(db: Path, f: Filters) -> pd.DataFrame:
    """How long matters done took, in marts.rpt_matters' buckets (a negative span is a data
    error: dq_results)."""
    where, params = _sliced(f, "raised_quarter")
    df = query(
        db,
        f"""
        select close_time_bucket as 办结用时, count(*) as 件数
        from marts.rpt_matters
        where close_time_bucket is not null and {where}
        group by 1
        """,
        params,
    )
    order = {b: i for i, b in enumerate(DAYS_BUCKETS)}
    return df.sort_values("办结用时", key=lambda s: s.map(order)).reset_index(drop=True)


# --- talks -----------------------------------------------------------------------------------


def talks_by_year(db: Path) -> pd.DataFrame:
    """Per year of talks, as marts.rpt_talk_coverage has it: the roster's cadres who must be
    talked with, how many were, talks, opinions, and the missed ones (dq_missing_annual_talks;
    a year is owed only once it has ended by the as-of date)."""
    return query(
        db,
        """
        select
            year as 年度,
            talks as 约谈次数,
            cadres_talked as 约谈干部数,
            opinions_collected as 收集意见条数,
            cadres_due as 应谈干部数,
            cadres_due_talked as 应谈已谈,
            cadres_missed as 未约谈干部数,
            round(100.0 * talk_coverage, 2) as "覆盖率（%）",
            year_ended as 年度已结束
        from marts.rpt_talk_coverage
        order by 年度
        """,
    )


def talks_by_role(db: Path) -> pd.DataFrame:
    return query(
        db,
        """
        select year as 年度, interviewer_role as 约谈人, talks as 约谈次数
        from marts.rpt_talks_by_role order by 年度, 约谈人
        """,
    )


# --- data quality ----------------------------------------------------------------------------


def dq_trend(db: Path) -> pd.DataFrame:
    """marts.dq_history per as-of date and severity: failures and how many rules failed."""
    df = query(
        db,
        """
        select
            as_of,
            severity,
            sum(failures)::bigint as failures,
            count(*) filter (where failures > 0) as rules_failing
        from marts.dq_history group by all order by as_of, severity
        """,
    )
    df["级别"] = df["severity"].map(lambda s: SEVERITY_LABELS.get(s, s))
    return df


def dq_rule_history(db: Path) -> pd.DataFrame:
    """Every rule that failed on some as-of date, with its count on every date."""
    df = query(
        db,
        """
        with failing as (
            select distinct rule_id from marts.dq_history where failures > 0
        )
        select h.as_of, h.rule_id, h.severity, h.failures
        from marts.dq_history as h join failing using (rule_id)
        order by h.as_of, h.severity, h.rule_id
        """,
    )
    df["说明"] = df["rule_id"].map(rule_label)
    df["级别"] = df["severity"].map(lambda s: SEVERITY_LABELS.get(s, s))
    return df


def dq_latest(db: Path) -> pd.DataFrame:
    """The newest as-of date's failing rules, errors first."""
    df = query(
        db,
        """
        select rule_id, severity, failures
        from marts.dq_history
        where as_of = (select max(as_of) from marts.dq_history) and failures > 0
        order by case severity when 'error' then 0 when 'warning' then 1 else 2 end,
                 failures desc, rule_id
        """,
    )
    return pd.DataFrame(
        {
            "规则": df["rule_id"],
            "说明": df["rule_id"].map(rule_label),
            "级别": df["severity"].map(lambda s: SEVERITY_LABELS.get(s, s)),
            "条数": df["failures"],
        }
    )


def provider_label(provider: str) -> str:
    return PROVIDER_NAMES.get(provider, provider)


# --- what is due (the calendar's plans: docs/RULES.md, "The programme's calendar") -----------


def talks_due(db: Path) -> pd.DataFrame:
    """The talks still owed this year, by the leader who must hold them (rpt_talk_plan)."""
    return query(
        db,
        """
        select
            interviewer_role as 约谈人,
            any_value(talks_left) as 剩余应谈人数,
            any_value(tuesdays_left) as 剩余活动日数,
            any_value(talks_per_tuesday) as 每个活动日至少应谈,
            coalesce(cast(min(last_talk_date) as varchar), '—') as 最早一次上次约谈
        from marts.rpt_talk_plan
        group by interviewer_role
        order by case interviewer_role when '组织部长' then 1 when '副部长' then 2 else 3 end
        """,
    )


def meeting_due(db: Path) -> pd.DataFrame:
    """The next 一月一议's agenda by category (rpt_meeting_agenda)."""
    return query(
        db,
        """
        select
            any_value(next_meeting) as 会议日期,
            category as 类别,
            count(*) as 议题数,
            count(*) filter (where is_new) as 新反映,
            count(*) filter (where not is_new) as 此前未办结,
            count(*) filter (where is_multi_department) as 部长牵头,
            max(days_open) as 最长已反映天数
        from marts.rpt_meeting_agenda
        group by category
        order by 议题数 desc, 类别
        """,
    )


def visits_due(db: Path) -> pd.DataFrame:
    """This quarter's pairings not visited yet, by township (rpt_visit_reminders)."""
    return query(
        db,
        """
        select
            township_name as 乡镇,
            any_value(quarter) as 季度,
            any_value(days_left) as 剩余天数,
            count(*) as 尚未走访结对,
            count(distinct cadre_code) as 涉及干部
        from marts.rpt_visit_reminders
        group by township_code, township_name
        order by township_code
        """,
    )
