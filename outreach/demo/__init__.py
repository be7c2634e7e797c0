"""Demo inbox for Outreach Warehouse: 保亭县, January 2012 to June 2014, as of 2014-06-30.

``write_demo_inbox(dir)`` writes a folder tree of spreadsheets that looks like what the county's
partners really send (townships/, joint_branches/, enterprises/, county/), generated from a seeded
truth (truth.py) so that the warehouse built from it reproduces the article's headline figures
exactly (``EXPECTED_HEADLINES``) and finds exactly the planted problems (``PLANTED``).
The same bytes come out every time.

Conventions a reader must know: Excel serials are 1900-system (epoch 1899-12-30), as floats in
.xlsx and ints in .xls; '同上' repeats the value of the data row directly above (never after a
header, blank, 小计 or quarantined row); vertical merges span only data rows and hold the value
in their top cell; a 万元 number's repr() is the exact decimal (×10000 gives yuan to the fen);
CSV files start with a title line, UTF-8 ones carry a BOM, and PLANTED names their sheet after
the file stem; rule names in PLANTED['quarantined'] are this package's own labels.

Where the mess is (see inbox.py for the details):

county/
  干部名册/…干部名册（2012年）.xlsx  title + 填报单位 row, '*' marks on required headers, phones as
      numeric cells, booleans 是/否, blank 职级; an unmatched '填表说明' sheet.
  约谈/…                             every talk by the leader of the cadre's rank (正科 组织部长, 副科
      副部长, 一般干部 干部科长) on the six topics, except four by another leader and six that
      leave topics out (PLANTED talks_wrong_leader, talks_missing_topics).
  约谈/2012年拉家常约谈记录.xls      xlwt .xls, two-row merged header (必谈内容 over the six topics,
      single headers merged vertically), booleans √/×, real date cells, 张　三, stray spaces.
  约谈/2013年拉家常约谈记录表.xlsx   two sheets of the same dataset; aliases 谈话日期/干部姓名/意见条数/
      意见内容; 2013年4月2日 text dates and 年月日-formatted date cells; 是/否 and 有/无; footers.
  约谈/2014年上半年拉家常约谈记录.csv UTF-8 (with BOM) CSV, booleans 1/0, '*' marks.
  资金项目/县级帮扶资金及项目汇总.xlsx  the 1,200,000 yuan 财政 row (source written 县财政/县级财政),
      合计 row, footers; projects with √/× and 计划投资（万元）.
  问题台账/…一月一议问题台账.xlsx     one sheet a year; 一月一议日期 alias; three open matters
      for several departments (责任单位 县纪委、县政府办); matters 待议 past their meeting
      (PLANTED matters_not_decided_at_meeting).
townships/<乡镇>/
  保城镇  real date cells (some typed as text), 乡镇 and 村委会 vertically merged, team cells merged,
          IDs ending in lowercase x, phones as numbers; the Excel-mangled ID (4.69029E+17);
          an unmatched '物资发放登记' sheet; money in 金额（元） with a 合计 row.
  什玲镇  title + 填报单位 rows (5 preamble rows in 2012Q1), 同上 in 乡镇/村委会/走访方式,
          什玲村 and 什玲村委会 mixed, 2013-04-02 and 2013/4/2; the unreadable 2013-02-30;
          a 补报 file for 2013Q2 that resends 3 visits; funding under a 单位：万元 title row.
  加茂镇  .xls workbooks with one sheet per quarter, 2013/4/2, 走访干部 alias, merged 乡镇;
          the 2011/12/28 visit (before 2012); funding in 金额（万元）; project booleans 1/0.
  响水镇  GB18030 CSV (visits, households, pairings, matters), 2013.4.2, blank rows between
          villages, 合计 rows, a spaced header '走 访 日 期'; an empty 户编号; funding '5,000.00'
          and the unreadable date 二〇一三年四月.
  新政镇  traditional characters in titles, headers, places and file names (保亭縣, 新政鎮),
          full-width dates ２０１３年４月２日, 张　三, stray spaces, full-width codes; an ID with a
          wrong check character; money as '5000元'.
  三道镇  two-row merged headers, 小计 per village, blank rows, 合计, 填表人/审核人/注 footers; a
          走访方式 '微信'; money as '0.5万'/'0.5万元'; a funding row with an empty 来源单位.
  六弓乡  Excel serial numbers as plain numbers, no title row, no 序号 column, 入户日期 alias;
          a household in the unknown township 保亭镇; booleans Y/N.
  南林乡  .xls files with date cells; two '.xls' files that are really .xlsx (zip); funding
          amounts spelled every way in one column (5000, '5,000.00', '5000元', '0.5万').
  毛感乡  header aliases (农户编号, 乡(镇), 村(居)委会, 户主, 入户日期, 走访干部, 行政村, 方式,
          拉家常内容, 反映问题, 帮扶干部, 开始日期, 到位日期, 来源类型, 出资单位, 筹措金额, 造血型 …),
          走访方式 spelled 上门/到户/集中座谈, 2013年4月2日; 2014Q2 as a UTF-8 CSV; the visits
          naming unknown household codes and an unknown cadre code.
joint_branches/<乡镇>/<支部>/  one workbook per branch (five styles in rotation: date cells,
          .xls with '500元', aliases 支部名称/村党支部/日期/类型/内容, a two-row header 参会人数 with
          merged branch columns, serial dates with blank rows between years and 同上); matters,
          funding (one '五千元') and projects (有/无, 是/否, √/×) in some.
enterprises/  five enterprise workbooks (links, funding, projects with Y/N, 企业诉求) and one .xls
          summary of the other ten from 县工商联; the funding row and the project that a township
          also reports.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .truth import DEMO_AS_OF, Truth, build_truth, headlines_as_of

__all__ = [
    "DEMO_AS_OF",
    "EXPECTED_HEADLINES",
    "PLANTED",
    "DemoManifest",
    "demo_truth",
    "headlines_as_of",
    "write_demo_inbox",
]


@dataclass(frozen=True)
class DemoManifest:
    """What write_demo_inbox wrote.

    files: relative '/'-separated paths, sorted. counts: 'files', 'sheets', 'unmatched_sheets',
    'quarantined_rows', and per dataset the number of data rows that must load into raw
    (rows sent twice count twice; quarantined rows are not counted). scale: the scale factor
    (scale.py). expected: what the warehouse built from it must report on DEMO_AS_OF,
    exact at any scale: 'headlines' (as program_headlines) and 'obligations' (rows of each
    dq_missing_* / dq_org_cadre_pairing_load table)."""

    root: Path
    files: tuple[str, ...]
    counts: dict[str, int]
    scale: int = 1
    expected: dict[str, dict] = field(default_factory=dict)


@functools.cache
def demo_truth() -> Truth:
    """The clean records behind the demo inbox (built once per process)."""
    return build_truth()


@functools.cache
def _layouts():
    from .inbox import plan_inbox

    return tuple(plan_inbox(demo_truth()))


def write_demo_inbox(root: Path, scale: int = 1, workers: int | None = None) -> DemoManifest:
    """Write the demo inbox under root (created if missing; existing files of the same name are
    overwritten, nothing else is touched).

    ``scale`` (1 to ``scale.MAX_SCALE``; a ScaleError otherwise) writes that many 片区 of the
    county (see scale.py): x1 is the demo, the same bytes every time, and so is every 片区
    at any scale. ``workers``: processes writing the other 片区 (default: up to 2)."""
    from .scale import check_scale, sum_headlines, write_layouts, write_parts
    from .truth import headlines

    scale = check_scale(scale)
    root = Path(root)
    files = write_layouts(root, list(_layouts()), arrival_time)
    counts = dict(_counts())
    parts = [(headlines(demo_truth()), *_demo_owed_met())]
    obligations = dict(_demo_obligations())
    if scale > 1:
        for result in write_parts(root, scale, workers):
            files += result.files
            for k, v in result.counts.items():
                counts[k] = counts.get(k, 0) + v
            if result.headlines:
                parts.append((result.headlines, result.owed, result.met))
            for k, v in result.obligations.items():
                obligations[k] += v
    expected = {"headlines": sum_headlines(parts), "obligations": obligations}
    return DemoManifest(root, tuple(sorted(files)), counts, scale, expected)


@functools.cache
def _demo_owed_met() -> tuple[int, int]:
    from .truth import pairing_quarter_stats

    t = demo_truth()
    return pairing_quarter_stats(t.pairings, t.visits, t.as_of)


@functools.cache
def _demo_obligations() -> dict[str, int]:
    from .scale import _obligations

    return _obligations(demo_truth())


@functools.cache
def arrival_times() -> dict[str, dt.datetime]:
    """When each demo file "arrived": a few days after the latest date it reports, now and then
    weeks late, at a seeded office hour, Asia/Shanghai. The demo writes it as the file's
    modification time, which the loader's ledger keeps (report timeliness, and the rule that no
    date may lie after the day its file arrived)."""
    return {f.path: arrival_time(f) for f in _layouts()}


def arrival_time(f) -> dt.datetime:
    """When the file of layout ``f`` arrived (see ``arrival_times``); seeded by its path."""
    import random
    from zoneinfo import ZoneInfo

    from outreach.settings import DEFAULT_TIMEZONE

    tz = ZoneInfo(DEFAULT_TIMEZONE)  # the demo county's clock
    latest = max(
        (
            v
            for sheet in f.sheets
            for r in sheet.data
            if not r.rule
            for v in r.record.values()
            if isinstance(v, dt.date)
        ),
        default=DEMO_AS_OF,
    )
    rng = random.Random(f"arrival:{f.path}")
    days = rng.randint(20, 45) if rng.random() < 0.15 else rng.randint(2, 12)
    day = latest + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.randint(0, 59)), tz)


@functools.cache
def _counts() -> dict[str, int]:
    return layout_counts(_layouts())


def layout_counts(layouts) -> dict[str, int]:
    """Files, sheets, unmatched sheets, quarantined rows and loadable rows per dataset."""
    from .render import COLUMNS

    counts = {"files": 0, "sheets": 0, "unmatched_sheets": 0, "quarantined_rows": 0}
    counts.update({d: 0 for d in COLUMNS})
    for f in layouts:
        counts["files"] += 1
        for s in f.sheets:
            counts["sheets"] += 1
            if s.dataset is None:
                counts["unmatched_sheets"] += 1
                continue
            for r in s.data:
                if r.rule:
                    counts["quarantined_rows"] += 1
                else:
                    counts[s.dataset] += 1
    return counts


def _planted() -> dict[str, Any]:
    from .truth import (
        matters_decided_off_meeting_day,
        matters_not_decided_at_meeting,
        missed_annual_talks,
        missed_branch_quarters,
        missed_quarterly_visits,
        org_cadre_pairing_load,
        pairing_quarter_stats,
        talks_missing_topics,
        wrong_leader_talks,
    )

    t = demo_truth()
    quarantined = []
    unmatched = []
    for f in _layouts():
        for s in f.sheets:
            if s.dataset is None:
                unmatched.append((f.path, s.name))
            for r in s.data:
                if r.rule:
                    quarantined.append((f.path, s.name, r.row + 1, r.rule))
    owed, met = pairing_quarter_stats(t.pairings, t.visits, t.as_of)
    by_household = _pairings_of(t)
    not_paired = [
        v.key
        for v in t.visits
        if not any(
            p.cadre_code == v.cadre_code and p.active_on(v.visit_date)
            for p in by_household.get(v.household_code, ())
        )
    ]
    dup_f = t.double_reported["funding"][0]
    dup_p = t.double_reported["projects"][0]
    return {
        "missed_quarterly_visits": missed_quarterly_visits(t.pairings, t.visits, t.as_of),
        "missed_annual_talks": missed_annual_talks(t.roster, t.talks, t.as_of),
        "missed_branch_quarters": missed_branch_quarters(t.branch_activities, t.as_of),
        "talks_wrong_leader": wrong_leader_talks(t.roster, t.talks),
        "talks_missing_topics": talks_missing_topics(t.talks),
        "matters_not_decided_at_meeting": matters_not_decided_at_meeting(t.matters, t.as_of),
        "matters_decided_off_meeting_day": matters_decided_off_meeting_day(t.matters),
        "matters_several_departments": sorted(
            m.matter_code for m in t.matters if m.owner_unit and "、" in m.owner_unit
        ),
        "org_cadre_pairing_load": org_cadre_pairing_load(t.cadres, t.pairings, t.as_of),
        "duplicate_visits": len(t.resent_visits),
        "duplicate_visit_keys": list(t.resent_visits),
        "duplicate_funding": 1,
        "duplicate_funding_key": dup_f.key,
        "duplicate_projects": 1,
        "duplicate_project_code": dup_p.project_code,
        "unknown_codes": list(t.intended["unknown_codes"]),
        "bad_matters": list(t.intended["bad_matters"]),
        "present_over_expected": sorted(
            (a.joint_branch, a.activity_date, a.activity_type)
            for a in t.branch_activities
            if a.present_count > a.expected_count
        ),
        "large_funding": sorted(f.key for f in t.funding if f.amount_yuan > 1_000_000),
        "visits_not_paired": len(not_paired),
        "pairing_quarters_owed": owed,
        "pairing_quarters_met": met,
        "thirty_day_edges": list(t.intended["edge_pairings"]),
        "quarantined_rows": len(quarantined),
        "quarantined": sorted(quarantined),
        "unmatched_sheets": sorted(unmatched),
    }


def _pairings_of(t: Truth) -> dict:
    out: dict[str, list] = {}
    for p in t.pairings:
        out.setdefault(p.household_code, []).append(p)
    return out


def __getattr__(name: str) -> Any:  # PEP 562: computed on first use, then cached
    if name == "EXPECTED_HEADLINES":
        from .truth import headlines

        value = headlines(demo_truth())
    elif name == "PLANTED":
        value = _planted()
    else:
        raise AttributeError(name)
    globals()[name] = value
    return value


assert DEMO_AS_OF == dt.date(2014, 6, 30)
