"""How figures and rules are put before people: a figure printed by its kind
(``marts.rpt_headlines.kind``: count, money, rate), a rule's Chinese label, a quarter's days.

What a figure is, its label and its kind are the warehouse's (``rpt_*`` marts); this is only the
printing, shared by the dashboard, the quarterly report, the run report and the command line."""

from __future__ import annotations

import datetime as dt
from typing import Any

OBLIGATION_LABELS = {
    "dq_missing_quarterly_visits": "季度未走访（结对×季度）",
    "dq_missing_annual_talks": "年度未约谈（干部×年度）",
    "dq_missing_branch_activities": "季度未开展组织生活（支部×季度）",
    "dq_org_cadre_pairing_load": "组工干部结对户数不是5户",
}
RULE_LABELS = {
    "visit_unpaired": "走访干部当日与该户无结对关系",
    "unknown_cadre": "干部编号不在干部名册或工作队名册中",
    "unknown_household": "户编号不在困难户信息中",
    "unknown_village": "村委会不在该乡镇已知的村中",
    "present_exceeds_expected": "实到人数大于应到人数",
    "matter_closed_before_raised": "办结日期早于反映日期",
    "matter_closed_without_date": "已办结但无办结日期",
    "talk_wrong_leader": "约谈人级别与干部职级不符",
    "talk_missing_topics": "约谈未涵盖六必谈全部内容",
    "matter_not_decided_at_meeting": "问题未在当月一月一议会议上议定",
    "matter_decided_off_meeting_day": "议定日期不是一月一议会议日",
    "funding_over_million": "单笔资金超过100万元（可能元/万元混填）",
    "duplicate_merged": "重复报送的行已合并",
    "row_from_other_unit": "报送了其他乡镇困难户的走访或结对（已退回，未入库）",
    "fact_key_not_unique": "事实表主键重复",
    "rows_not_conserved": "原始层与成果层行数不符",
    "dangling_foreign_key": "外键找不到维度记录",
    "pii_outside_raw": "原始层以外出现身份证号或手机号",
    "mart_emptied": "上次发布有数据的表本次为空",
}


def format_figure(kind: str | None, value: Any) -> str:
    """``count`` 1,156; ``money`` 5,170,000 元 (or 5,170,000.50 元); ``rate`` 98.53%."""
    if value is None:
        return "—"
    if kind == "rate":
        return f"{float(value) * 100:.2f}%"
    if kind == "money":
        number = float(value)
        return f"{number:,.0f} 元" if number.is_integer() else f"{number:,.2f} 元"
    if kind == "count":
        return f"{int(value):,}"
    number = float(value)
    return f"{int(number):,}" if number.is_integer() else f"{number:,.4f}"


def quarter_bounds(quarter: str) -> tuple[dt.date, dt.date]:
    """'2013Q2' -> (2013-04-01, 2013-06-30)."""
    year, number = int(quarter[:4]), int(quarter[-1])
    start = dt.date(year, 3 * number - 2, 1)
    end = dt.date(year + number // 4, 3 * number % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end


def rule_label(rule_id: str) -> str:
    """What a check's rule id means, in Chinese (dq_results rules, flags, expectations, tests)."""
    if rule_id in RULE_LABELS:
        return RULE_LABELS[rule_id]
    if rule_id in OBLIGATION_LABELS:
        return OBLIGATION_LABELS[rule_id]
    if rule_id.startswith("gx:"):
        return "Great Expectations 校验：" + rule_id[3:]
    return "dbt 数据测试"
