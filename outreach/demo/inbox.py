"""The file plan: which sender writes which records into which file, with which mess.

See the package docstring for the map of mess per file. Each file gets its own random stream
(seeded from the truth's seed and the file's path), so files do not depend on each other.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal

from . import names as N
from .ids import resident_id
from .periods import quarter_of
from .render import COLUMNS, Bad, NumCell, SheetBuilder, SheetLayout, Style, free_sheet
from .truth import Truth

QN = "一二三四"
QUARTERS = [
    (2012, 1),
    (2012, 2),
    (2012, 3),
    (2012, 4),
    (2013, 1),
    (2013, 2),
    (2013, 3),
    (2013, 4),
    (2014, 1),
    (2014, 2),
]

_ATTRS = {
    "cadres": {"cadre_code": "code", "cadre_name": "name"},
    "households": {"household_code": "code"},
}


def after_village(households, bad: dict) -> int:
    """Index just after the last household of the bad row's village (where a clerk adds one)."""
    return 1 + max(i for i, h in enumerate(households) if h.village == bad["village"])


def record(dataset: str, obj) -> dict:
    m = _ATTRS.get(dataset, {})
    return {f: getattr(obj, m.get(f, f)) for f, _ in COLUMNS[dataset]}


@dataclass
class FileLayout:
    path: str  # relative to the inbox, '/'-separated
    kind: str  # xlsx | xls | xls_lying (xlsx bytes named .xls) | csv_gb18030 | csv_utf8
    sheets: list[SheetLayout]


class Planner:
    def __init__(self, t: Truth):
        self.t = t
        self.files: list[FileLayout] = []
        self.village_order = {v.name: i for i, v in enumerate(t.villages)}
        self.cadres = {c.code: c for c in t.cadres}
        self.people = random.Random(f"{t.seed}|clerks")

    def rng(self, *key) -> random.Random:
        return random.Random("|".join(map(str, (self.t.seed, *key))))

    def sheet(self, path, name, dataset, records, style, bad=()) -> SheetLayout:
        b = SheetBuilder(name, dataset, style, self.rng(path, name))
        return b.build([record(dataset, r) if not isinstance(r, dict) else r for r in records], bad)

    def add(self, path: str, kind: str, *sheets: SheetLayout) -> None:
        if kind.startswith("csv"):
            assert len(sheets) == 1 and sheets[0].name == path.rsplit("/", 1)[1][: -len(".csv")]
        self.files.append(FileLayout(path, kind, list(sheets)))

    def clerk(self) -> str:
        return N.person_name(self.people)

    def footer(self) -> tuple:
        return ((f"填表人：{self.clerk()}", f"审核人：{self.clerk()}"),)

    def vkey(self, r) -> tuple:
        return (self.village_order[r["village"]],)

    # ------------------------------------------------------------------ plan
    def plan(self) -> list[FileLayout]:
        self.county()
        self.townships()
        self.joint_branches()
        self.enterprises()
        paths = [f.path for f in self.files]
        assert len(paths) == len(set(paths))
        return self.files

    # ------------------------------------------------------------------ county
    def county(self) -> None:
        t = self.t
        roster = sorted(t.roster, key=lambda c: c.code)
        p = "county/干部名册/保亭县科级及以下干部名册（2012年）.xlsx"
        s1 = self.sheet(
            p,
            "干部名册",
            "cadres",
            roster,
            Style(
                title="保亭县2012年科级及以下干部名册",
                preamble=(("填报单位：中共保亭黎族苗族自治县委组织部", "2012年1月"),),
                star_required=True,
                phone_numeric=True,
                bools="是否",
                footer=("注：职级为空的为工勤及聘用人员。",),
            ),
        )
        s2 = free_sheet(
            "填表说明",
            [
                ["填表说明"],
                ["1. 干部编号由县委组织部统一编制，不得自行更改。"],
                ["2. 职级填写正科、副科或一般干部；工勤及聘用人员不填。"],
                ["3. 是否组工干部填写“是”或“否”。"],
                ["4. 本表每年1月底前报送县委组织部干部科。"],
            ],
        )
        self.add(p, "xlsx", s1, s2)

        talks = defaultdict(list)
        for x in t.talks:
            talks[x.talk_date.year].append(x)
        p = "county/约谈/2012年拉家常约谈记录.xls"
        self.add(
            p,
            "xls",
            self.sheet(
                p,
                "2012年",
                "talks",
                talks[2012],
                Style(
                    title="2012年县委组织部“拉家常”约谈记录",
                    groups=(
                        (
                            "必谈内容",
                            (
                                "topic_family",
                                "topic_health",
                                "topic_work",
                                "topic_team",
                                "topic_opinions",
                                "topic_other",
                            ),
                        ),
                    ),
                    bools="勾叉",
                    date="cell",
                    pad_names=True,
                    stray_spaces=True,
                ),
            ),
        )
        p = "county/约谈/2013年拉家常约谈记录表.xlsx"
        h1 = [x for x in talks[2013] if x.talk_date.month <= 6]
        h2 = [x for x in talks[2013] if x.talk_date.month > 6]
        alias = {
            "talk_date": "谈话日期",
            "cadre_name": "干部姓名",
            "opinion_count": "意见条数",
            "opinions": "意见内容",
        }
        self.add(
            p,
            "xlsx",
            self.sheet(
                p,
                "上半年",
                "talks",
                h1,
                Style(
                    title="2013年上半年拉家常约谈记录表",
                    preamble=("填报单位：县委组织部干部科",),
                    headers=alias,
                    date="cjk",
                    bools="是否",
                    footer=self.footer(),
                ),
            ),
            self.sheet(
                p,
                "下半年",
                "talks",
                h2,
                Style(
                    title="2013年下半年拉家常约谈记录表",
                    headers=alias,
                    date="cjk",
                    date_mix=("cell_cn",),
                    bools="有无",
                    footer=self.footer(),
                ),
            ),
        )
        p = "county/约谈/2014年上半年拉家常约谈记录.csv"
        self.add(
            p,
            "csv_utf8",
            self.sheet(
                p,
                "2014年上半年拉家常约谈记录",
                "talks",
                talks[2014],
                Style(
                    csv=True,
                    title="2014年上半年拉家常约谈记录",
                    bools="10",
                    date="iso",
                    star_required=True,
                ),
            ),
        )

        p = "county/资金项目/县级帮扶资金及项目汇总.xlsx"
        cf = [f for f in t.funding if f.provider == "county"]
        cp = sorted([x for x in t.projects if x.provider == "county"], key=lambda x: x.project_code)
        self.add(
            p,
            "xlsx",
            self.sheet(
                p,
                "资金筹措",
                "funding",
                cf,
                Style(
                    title="保亭县帮扶资金筹措情况表",
                    headers={"amount_yuan": "金额（元）"},
                    date="cell",
                    enum_aliases=True,
                    total=True,
                    footer=self.footer(),
                ),
            ),
            self.sheet(
                p,
                "项目",
                "projects",
                cp,
                Style(
                    title="县直部门帮扶项目台账",
                    bools="勾叉",
                    date="slash",
                    money="wan_header",
                    headers={"planned_yuan": "计划投资"},
                ),
            ),
        )
        cm = [m for m in t.matters if m.provider == "county"]
        p = "county/问题台账/县委组织部一月一议问题台账.xlsx"
        sheets = []
        for y in (2012, 2013, 2014):
            ms = [m for m in cm if m.raised_on.year == y]
            sheets.append(
                self.sheet(
                    p,
                    f"{y}年",
                    "matters",
                    ms,
                    Style(
                        title=f"县委组织部{y}年“一月一议”问题台账",
                        headers={"decided_on": "一月一议日期"} if y == 2014 else {},
                        date="iso" if y != 2013 else "cell",
                        date_mix=("cell",) if y == 2012 else (),
                    ),
                )
            )
        self.add(p, "xlsx", *sheets)

    # ------------------------------------------------------------------ townships
    def townships(self) -> None:
        t = self.t
        visits = defaultdict(list)
        for v in t.visits:
            visits[(v.township, quarter_of(v.visit_date))].append(v)
        for k in visits:
            visits[k].sort(
                key=lambda v: (
                    self.village_order[v.village],
                    v.visit_date,
                    v.cadre_code,
                    v.household_code,
                )
            )
        self.visits_by = visits
        for _, twp in N.TOWNSHIPS:
            getattr(
                self,
                "t_"
                + {
                    "保城镇": "baocheng",
                    "什玲镇": "shiling",
                    "加茂镇": "jiamao",
                    "响水镇": "xiangshui",
                    "新政镇": "xinzheng",
                    "三道镇": "sandao",
                    "六弓乡": "liugong",
                    "南林乡": "nanlin",
                    "毛感乡": "maogan",
                }[twp],
            )()
            self.t_money_and_matters(twp)

    def base(self, twp):
        t = self.t
        hh = sorted([h for h in t.households if h.township == twp], key=lambda h: h.code)
        pr = sorted(
            [p for p in t.pairings if p.township == twp],
            key=lambda p: (p.household_code, p.pair_start),
        )
        tm = [m for m in t.team_members if m.township == twp]
        return hh, pr, tm

    def extra_household(self, twp: str, digits_only: bool = False) -> dict:
        """A household that exists only in a bad row (never in the truth)."""
        t = self.t
        rng = self.rng("extra", twp)
        v = rng.choice([v for v in t.villages if v.township == twp])
        used = {h.code for h in t.households}
        seq = 1 + max(int(h.code[-3:]) for h in t.households if h.village == v.name)
        code = f"H{v.township_code}{v.index:02d}{seq:03d}"
        assert code not in used
        while True:
            rid = resident_id(
                N.COUNTY_CODE, dt.date(1968, 5, rng.randint(1, 28)), rng.randint(100, 998)
            )
            if not digits_only or rid[-1] != "X":
                break
        return dict(
            household_code=code,
            township=twp,
            village=v.name,
            head_name=N.person_name(rng),
            head_id_number=rid,
            household_type="困难群众",
            household_size=4,
            phone=None,
        )

    def visit_file_quarters(self, twp):
        for y, q in QUARTERS:
            yield y, q, self.visits_by.get((twp, (y, q)), [])

    # 保城镇: real date cells (a few typed as text), vertically merged 乡镇/村委会, numeric phones
    def t_baocheng(self):
        twp = "保城镇"
        for y, q, vs in self.visit_file_quarters(twp):
            p = f"townships/{twp}/走访记录/{y}年/{twp}{y}年第{QN[q - 1]}季度走访记录.xlsx"
            self.add(
                p,
                "xlsx",
                self.sheet(
                    p,
                    f"{y}年{q}季度",
                    "visits",
                    vs,
                    Style(
                        title=f"保亭县{twp}{y}年第{QN[q - 1]}季度结对帮扶走访记录表",
                        date="cell",
                        date_mix=("iso", "cell_cn"),
                        merge=("township", "village"),
                    ),
                ),
            )
        hh, pr, tm = self.base(twp)
        p = f"townships/{twp}/{twp}结对帮扶基础台账.xlsx"
        bad = self.extra_household(twp, digits_only=True)
        mangled = NumCell(float(int(bad["head_id_number"][:15]) * 1000), "0.00000E+00")
        self.add(
            p,
            "xlsx",
            self.sheet(
                p,
                "困难户信息",
                "households",
                hh,
                Style(
                    title=f"{twp}困难户基本信息表",
                    merge=("township", "village"),
                    lower_x=True,
                    phone_numeric=True,
                ),
                bad=[
                    Bad(
                        bad,
                        {"head_id_number": mangled},
                        "resident_id_invalid",
                        at=after_village(hh, bad),
                    )
                ],
            ),
            self.sheet(
                p,
                "结对帮扶台账",
                "pairings",
                pr,
                Style(
                    title=f"{twp}干部结对帮扶台账", date="cell", headers={"cadre_name": "帮扶干部"}
                ),
            ),
            self.sheet(
                p,
                "驻村工作队",
                "work_teams",
                tm,
                Style(
                    title=f"{twp}驻村工作队名册",
                    date="cell",
                    merge=("team_code", "township", "village"),
                ),
            ),
        )

    # 什玲镇: title + 填报单位 rows, 同上, mixed 什玲村/什玲村委会, a 补报 file resending 3 visits
    def t_shiling(self):
        twp = "什玲镇"
        t = self.t
        for y, q, vs in self.visit_file_quarters(twp):
            pre: tuple = (("填报单位：什玲镇人民政府（盖章）", f"填报人：{self.clerk()}"),)
            if (y, q) == (2012, 1):
                pre = (
                    "填报单位：什玲镇人民政府（盖章）",
                    "报送要求：每季度结束后5日内报县委组织部",
                    "说明：本表由驻村工作队填写，乡镇党委汇总",
                    "",
                    "",
                )
            p = f"townships/{twp}/{y}/{twp}{y}年第{QN[q - 1]}季度帮扶走访记录.xlsx"
            style = Style(
                title=f"保亭县{twp}{y}年第{QN[q - 1]}季度帮扶走访记录表",
                preamble=pre,
                date="iso",
                date_mix=("slash",),
                ditto=("township", "village", "visit_mode"),
                village="mixed",
            )
            bad = ()
            if (y, q) == (2013, 1):
                src = record("visits", vs[len(vs) // 2])
                bad = [
                    Bad(src, {"visit_date": "2013-02-30"}, "date_unreadable", at=len(vs) // 2 + 1)
                ]
            if (y, q) == (2013, 2):
                resent = set(t.resent_visits)
                rng = self.rng("late", twp)
                late = sorted(
                    rng.sample([v for v in vs if v.key not in resent], 15), key=lambda v: v.key
                )
                late_keys = {v.key for v in late}
                main = [v for v in vs if v.key not in late_keys]
                again = sorted(
                    late + [v for v in vs if v.key in resent],
                    key=lambda v: (v.visit_date, v.cadre_code),
                )
                p2 = f"townships/{twp}/{y}/{twp}{y}年第二季度帮扶走访记录（补报）.xlsx"
                self.add(
                    p2,
                    "xlsx",
                    self.sheet(
                        p2,
                        "补报",
                        "visits",
                        again,
                        Style(title=f"{twp}{y}年第二季度帮扶走访记录（补报）", date="iso"),
                    ),
                )
                vs = main
            self.add(p, "xlsx", self.sheet(p, "走访记录", "visits", vs, style, bad))
        hh, pr, tm = self.base(twp)
        p = f"townships/{twp}/{twp}基础台账（2012年建档）.xlsx"
        self.add(
            p,
            "xlsx",
            self.sheet(
                p,
                "困难户",
                "households",
                hh,
                Style(
                    title=f"保亭县{twp}困难群众花名册",
                    ditto=("township", "village"),
                    village="mixed",
                ),
            ),
            self.sheet(p, "结对", "pairings", pr, Style(date="iso", date_mix=("cjk",))),
            self.sheet(
                p,
                "工作队",
                "work_teams",
                tm,
                Style(
                    title=f"{twp}驻村工作队队员名册",
                    ditto=("team_code", "township", "village"),
                    date="iso",
                ),
            ),
        )

    # 加茂镇: .xls, one workbook a year with a sheet per quarter, 2013/4/2 dates, 走访干部 alias
    def t_jiamao(self):
        twp = "加茂镇"
        for y in (2012, 2013, 2014):
            p = f"townships/{twp}/{twp}{y}年帮扶走访记录.xls"
            sheets = []
            for yy, q, vs in self.visit_file_quarters(twp):
                if yy != y:
                    continue
                bad = ()
                if (y, q) == (2012, 1):
                    src = record("visits", vs[3])
                    bad = [Bad(src, {"visit_date": "2011/12/28"}, "date_out_of_range", at=4)]
                sheets.append(
                    self.sheet(
                        p,
                        f"第{QN[q - 1]}季度",
                        "visits",
                        vs,
                        Style(
                            title=f"{twp}{y}年第{QN[q - 1]}季度走访情况登记表",
                            date="slash",
                            headers={"cadre_name": "走访干部"},
                            merge=("township",),
                            village="short",
                        ),
                        bad,
                    )
                )
            self.add(p, "xls", *sheets)
        hh, pr, tm = self.base(twp)
        p = f"townships/{twp}/{twp}困难户及结对帮扶台账.xls"
        self.add(
            p,
            "xls",
            self.sheet(p, "困难户", "households", hh, Style(merge=("township",), village="short")),
            self.sheet(p, "结对帮扶", "pairings", pr, Style(date="slash")),
            self.sheet(
                p,
                "工作队",
                "work_teams",
                tm,
                Style(date="slash", merge=("team_code", "township", "village")),
            ),
        )

    # 响水镇: GB18030 CSV, 2013.4.2 dates, blank rows between villages, 合计 rows
    def t_xiangshui(self):
        twp = "响水镇"
        for y, q, vs in self.visit_file_quarters(twp):
            p = f"townships/{twp}/走访/{y}Q{q}_{twp}走访记录.csv"
            bad = ()
            if (y, q) == (2013, 3):
                src = record("visits", vs[10])
                bad = [Bad(src, {"household_code": None}, "required_empty", at=11)]
            self.add(
                p,
                "csv_gb18030",
                self.sheet(
                    p,
                    p.rsplit("/", 1)[1][:-4],
                    "visits",
                    vs,
                    Style(
                        csv=True,
                        title=f"{twp}{y}年第{QN[q - 1]}季度帮扶走访记录",
                        date="dot",
                        date_mix=("iso",),
                        ditto=("township", "visit_mode"),
                        group_by=self.vkey,
                        blank_between=True,
                        total=True,
                        spaced_header="visit_date",
                    ),
                    bad,
                ),
            )
        hh, pr, tm = self.base(twp)
        p = f"townships/{twp}/{twp}困难户信息.csv"
        self.add(
            p,
            "csv_gb18030",
            self.sheet(
                p,
                f"{twp}困难户信息",
                "households",
                hh,
                Style(csv=True, ditto=("township",), village="short"),
            ),
        )
        p = f"townships/{twp}/{twp}结对帮扶台账.csv"
        self.add(
            p,
            "csv_gb18030",
            self.sheet(
                p,
                f"{twp}结对帮扶台账",
                "pairings",
                pr,
                Style(csv=True, date="dot", title=f"{twp}结对帮扶台账"),
            ),
        )
        p = f"townships/{twp}/{twp}驻村工作队名册.xlsx"
        self.add(
            p,
            "xlsx",
            self.sheet(
                p, "Sheet1", "work_teams", tm, Style(title=f"{twp}驻村工作队名册", date="iso")
            ),
        )

    # 新政镇: traditional characters, full-width dates, 张　三, stray spaces, full-width codes
    def t_xinzheng(self):
        twp = "新政镇"
        trad = dict(
            traditional=True,
            pad_names=True,
            stray_spaces=True,
            fullwidth_codes=True,
            township="mixed",
        )
        for y, q, vs in self.visit_file_quarters(twp):
            p = f"townships/{twp}/新政鎮{y}年第{QN[q - 1]}季度走訪記錄.xlsx"
            self.add(
                p,
                "xlsx",
                self.sheet(
                    p,
                    "走訪記錄",
                    "visits",
                    vs,
                    Style(
                        title=f"保亭县{twp}{y}年第{QN[q - 1]}季度帮扶走访记录表",
                        date="cjk_full",
                        date_mix=("cjk",),
                        **trad,
                    ),
                ),
            )
        hh, pr, tm = self.base(twp)
        p = f"townships/{twp}/新政鎮幫扶台賬.xlsx"
        bad = self.extra_household(twp)
        rid = bad["head_id_number"]
        wrong = rid[:17] + ("0" if rid[17] != "0" else "1")
        self.add(
            p,
            "xlsx",
            self.sheet(
                p,
                "困難戶",
                "households",
                hh,
                Style(title=f"保亭县{twp}困难户信息表", **trad),
                bad=[
                    Bad(
                        bad,
                        {"head_id_number": wrong},
                        "resident_id_invalid",
                        at=after_village(hh, bad),
                    )
                ],
            ),
            self.sheet(p, "結對幫扶", "pairings", pr, Style(date="cjk_full", **trad)),
            self.sheet(p, "工作隊", "work_teams", tm, Style(date="cjk", **trad)),
        )

    # 三道镇: two-row merged headers, 小计 per village, blank rows, 合计, footers
    def t_sandao(self):
        twp = "三道镇"
        groups = (
            ("结对干部", ("cadre_code", "cadre_name")),
            ("帮扶对象", ("household_code", "head_name", "township", "village")),
        )
        for y in (2012, 2013, 2014):
            for half in (1, 2):
                if (y, half) == (2014, 2):
                    continue
                vs = []
                for q in (1, 2) if half == 1 else (3, 4):
                    vs += self.visits_by.get((twp, (y, q)), [])
                vs.sort(key=lambda v: (self.village_order[v.village], v.visit_date, v.cadre_code))
                hname = "上半年" if half == 1 else "下半年"
                p = f"townships/{twp}/{twp}{y}年{hname}走访记录.xlsx"
                bad = ()
                if (y, half) == (2013, 1):
                    src = record("visits", vs[20])
                    bad = [Bad(src, {"visit_mode": "微信"}, "enum_invalid", at=21)]
                self.add(
                    p,
                    "xlsx",
                    self.sheet(
                        p,
                        f"{y}{hname}",
                        "visits",
                        vs,
                        Style(
                            title=f"{twp}{y}年{hname}结对帮扶走访记录",
                            groups=groups,
                            date="cell",
                            date_mix=("cell_slash",),
                            group_by=self.vkey,
                            subtotal=True,
                            blank_between=True,
                            total=True,
                            footer=self.footer() + ("注：走访方式填写入户、电话或座谈。",),
                        ),
                        bad,
                    ),
                )
        hh, pr, tm = self.base(twp)
        p = f"townships/{twp}/{twp}基础台账.xlsx"
        self.add(
            p,
            "xlsx",
            self.sheet(
                p,
                "困难户",
                "households",
                hh,
                Style(
                    title=f"{twp}困难户信息",
                    groups=(("户主信息", ("head_name", "head_id_number")),),
                    footer=self.footer(),
                ),
            ),
            self.sheet(
                p,
                "结对帮扶",
                "pairings",
                pr,
                Style(
                    title=f"{twp}结对帮扶台账",
                    groups=(
                        ("结对干部", ("cadre_code", "cadre_name")),
                        ("帮扶对象", ("household_code", "head_name")),
                        ("结对时间", ("pair_start", "pair_end")),
                    ),
                    date="cell",
                    footer=self.footer(),
                ),
            ),
            self.sheet(
                p,
                "驻村工作队",
                "work_teams",
                tm,
                Style(date="cell", merge=("team_code", "township", "village")),
            ),
        )

    # 六弓乡: Excel serial numbers as plain numbers, no title, 入户日期 alias, sheet per quarter
    def t_liugong(self):
        twp = "六弓乡"
        for y in (2012, 2013, 2014):
            p = f"townships/{twp}/{twp}{y}年走访台账.xlsx"
            sheets = [
                self.sheet(
                    p,
                    f"{QN[q - 1]}季度",
                    "visits",
                    vs,
                    Style(date="serial", headers={"visit_date": "入户日期"}, seq=False),
                )
                for yy, q, vs in self.visit_file_quarters(twp)
                if yy == y
            ]
            self.add(p, "xlsx", *sheets)
        hh, pr, tm = self.base(twp)
        p = f"townships/{twp}/{twp}帮扶基础信息.xlsx"
        bad = self.extra_household(twp)
        self.add(
            p,
            "xlsx",
            self.sheet(
                p,
                "农户",
                "households",
                hh,
                Style(seq=False),
                bad=[
                    Bad(
                        dict(bad, township="保亭镇"),
                        {},
                        "township_unknown",
                        at=after_village(hh, bad),
                    )
                ],
            ),
            self.sheet(p, "结对", "pairings", pr, Style(date="serial", seq=False)),
            self.sheet(p, "工作队", "work_teams", tm, Style(date="serial", seq=False)),
        )

    # 南林乡: real .xls files with date cells; one .xls that is really an .xlsx
    def t_nanlin(self):
        twp = "南林乡"
        for y, q, vs in self.visit_file_quarters(twp):
            p = f"townships/{twp}/{y}年/{twp}{y}年{q}季度走访.xls"
            kind = "xls_lying" if (y, q) == (2013, 3) else "xls"
            self.add(
                p,
                kind,
                self.sheet(
                    p,
                    "走访",
                    "visits",
                    vs,
                    Style(
                        title=f"{twp}{y}年第{QN[q - 1]}季度走访记录", date="cell", village="mixed"
                    ),
                ),
            )
        hh, pr, tm = self.base(twp)
        p = f"townships/{twp}/{twp}结对帮扶台账.xls"
        self.add(
            p,
            "xls_lying",
            self.sheet(p, "困难户", "households", hh, Style(title=f"{twp}困难户信息")),
            self.sheet(p, "结对", "pairings", pr, Style(date="cell")),
            self.sheet(p, "工作队", "work_teams", tm, Style(date="cell")),
        )

    # 毛感乡: header aliases everywhere, 上门/到户/集中座谈, 2013年4月2日; last quarter as UTF-8 CSV
    def t_maogan(self):
        twp = "毛感乡"
        alias = {
            "visit_date": "入户日期",
            "cadre_name": "走访干部",
            "village": "行政村",
            "visit_mode": "方式",
            "notes": "拉家常内容",
            "requests": "反映问题",
        }
        for y, q, vs in self.visit_file_quarters(twp):
            if (y, q) == (2014, 2):
                p = f"townships/{twp}/走访记录/{twp}{y}年第{QN[q - 1]}季度走访记录.csv"
                self.add(
                    p,
                    "csv_utf8",
                    self.sheet(
                        p,
                        p.rsplit("/", 1)[1][:-4],
                        "visits",
                        vs,
                        Style(
                            csv=True, headers=alias, date="cjk", enum_aliases=True, village="short"
                        ),
                    ),
                )
                continue
            p = f"townships/{twp}/走访记录/{twp}{y}年第{QN[q - 1]}季度走访记录.xlsx"
            self.add(
                p,
                "xlsx",
                self.sheet(
                    p,
                    "Sheet1",
                    "visits",
                    vs,
                    Style(
                        title=f"{twp}{y}年第{QN[q - 1]}季度走访记录",
                        headers=alias,
                        date="cjk",
                        enum_aliases=True,
                        village="short",
                    ),
                ),
            )
        hh, pr, tm = self.base(twp)
        p = f"townships/{twp}/{twp}困难户结对帮扶台账.xlsx"
        self.add(
            p,
            "xlsx",
            self.sheet(
                p,
                "困难户",
                "households",
                hh,
                Style(
                    headers={
                        "household_code": "农户编号",
                        "township": "乡(镇)",
                        "village": "村(居)委会",
                        "head_name": "户主",
                        "head_id_number": "身份证号码",
                        "household_type": "类型",
                        "household_size": "人口数",
                        "phone": "电话",
                    },
                    village="short",
                    township="bare",
                ),
            ),
            self.sheet(
                p,
                "结对",
                "pairings",
                pr,
                Style(
                    headers={
                        "cadre_name": "帮扶干部",
                        "pair_start": "开始日期",
                        "pair_end": "结对结束日期",
                    },
                    date="cjk",
                ),
            ),
            self.sheet(
                p,
                "工作队",
                "work_teams",
                tm,
                Style(
                    headers={
                        "team_code": "工作队",
                        "village": "驻村",
                        "cadre_name": "姓名",
                        "team_role": "职务",
                    },
                    date="cjk",
                    village="short",
                ),
            ),
        )

    # funding, projects and matters of each township
    MONEY_STYLE = {
        "保城镇": dict(
            kind="xlsx",
            fund=Style(headers={"amount_yuan": "金额（元）"}, date="cell", total=True),
            proj=Style(bools="是否", date="cell"),
        ),
        "什玲镇": dict(
            kind="xlsx",
            fund=Style(
                title="什玲镇帮扶资金筹措台账",
                money="wan_title",
                preamble=(("填报单位：什玲镇人民政府", "单位：万元"),),
                date="iso",
                enum_aliases=True,
            ),
            proj=Style(
                money="wan_header", headers={"planned_yuan": "投资"}, bools="是否", date="iso"
            ),
        ),
        "加茂镇": dict(
            kind="xls",
            fund=Style(money="wan_header", date="slash"),
            proj=Style(bools="10", date="slash"),
        ),
        "响水镇": dict(
            kind="xlsx",
            fund=Style(money="comma", date="dot", enum_aliases=True),
            proj=Style(bools="是否", date="dot", money="comma"),
        ),
        "新政镇": dict(
            kind="xlsx",
            fund=Style(money="yuan_suffix", date="cjk", traditional=True),
            proj=Style(bools="是否", date="cjk", traditional=True, money="yuan_suffix"),
        ),
        "三道镇": dict(
            kind="xlsx",
            fund=Style(
                money="wan_suffix", date="cell", total=True, footer=("注：金额栏可填“万元”。",)
            ),
            proj=Style(bools="勾叉", date="cell", money="wan_header"),
        ),
        "六弓乡": dict(
            kind="xlsx",
            fund=Style(date="serial", seq=False),
            proj=Style(bools="YN", date="serial", seq=False),
        ),
        "南林乡": dict(
            kind="xls",
            fund=Style(money="mixed", date="cell"),
            proj=Style(bools="是否", date="cell"),
        ),
        "毛感乡": dict(
            kind="xlsx",
            fund=Style(
                headers={
                    "funded_on": "到位日期",
                    "source_type": "来源类型",
                    "source_unit": "出资单位",
                    "amount_yuan": "筹措金额",
                },
                date="cjk",
            ),
            proj=Style(
                headers={
                    "project_type": "类型",
                    "is_capacity_building": "造血型",
                    "village": "行政村",
                    "partner": "企业",
                    "started_on": "开工日期",
                },
                bools="是否",
                date="cjk",
            ),
        ),
    }

    def t_money_and_matters(self, twp: str) -> None:
        t = self.t
        ms = self.MONEY_STYLE[twp]
        fund = [f for f in t.funding if f.sender == twp and f.provider == "townships"]
        proj = [x for x in t.projects if x.sender == twp and x.provider == "townships"]
        dup_f, _, dup_f_twp = t.double_reported["funding"]
        if dup_f_twp == twp:
            fund.append(dup_f)
        dup_p, _, dup_p_twp = t.double_reported["projects"]
        if dup_p_twp == twp:
            proj.append(dup_p)
        fund.sort(key=lambda f: (f.funded_on, f.source_unit))
        proj.sort(key=lambda x: x.project_code)
        ext = "xls" if ms["kind"] == "xls" else "xlsx"
        p = f"townships/{twp}/{twp}资金筹措及项目台账.{ext}"
        bad = []
        if twp == "响水镇":
            src = record("funding", fund[2])
            src["amount_yuan"] = Decimal("8000")
            bad.append(Bad(src, {"funded_on": "二〇一三年四月"}, "date_unreadable", at=3))
        if twp == "三道镇":
            src = record("funding", fund[-1])
            src["source_unit"], src["amount_yuan"] = None, Decimal("3000")
            bad.append(Bad(src, {}, "required_empty", at=len(fund)))
        sheets = [
            self.sheet(p, "资金筹措", "funding", fund, ms["fund"], bad),
            self.sheet(p, "项目台账", "projects", proj, ms["proj"]),
        ]
        if twp == "保城镇":
            sheets.append(
                free_sheet(
                    "物资发放登记",
                    [
                        ["序号", "物品名称", "规格", "数量", "发放对象", "领取人签字", "备注"],
                        [1, "大米", "25kg/袋", 40, "困难户", None, None],
                        [2, "食用油", "5L/桶", 40, "困难户", None, None],
                        [3, "棉被", "床", 12, "五保户", None, "春节慰问"],
                    ],
                )
            )
        self.add(p, ms["kind"], *sheets)

        mt = [m for m in t.matters if m.sender == twp and m.provider == "townships"]
        if twp == "响水镇":
            p = f"townships/{twp}/{twp}一月一议问题台账.csv"
            self.add(
                p,
                "csv_gb18030",
                self.sheet(
                    p,
                    f"{twp}一月一议问题台账",
                    "matters",
                    mt,
                    Style(
                        csv=True, title=f"{twp}“一月一议”问题台账", date="dot", ditto=("source",)
                    ),
                ),
            )
            return
        kind = "xls" if twp in ("加茂镇", "南林乡") else "xlsx"
        p = f"townships/{twp}/一月一议/{twp}一月一议问题台账.{'xls' if kind == 'xls' else 'xlsx'}"
        base = ms["fund"]
        sheets = []
        for y in (2012, 2013, 2014):
            rows = [m for m in mt if m.raised_on.year == y]
            sheets.append(
                self.sheet(
                    p,
                    f"{y}年",
                    "matters",
                    rows,
                    Style(
                        title=f"{twp}{y}年“一月一议”问题台账",
                        date=base.date,
                        seq=base.seq,
                        traditional=base.traditional,
                        ditto=("source", "township"),
                    ),
                )
            )
        self.add(p, kind, *sheets)

    # ------------------------------------------------------------------ joint branches
    def joint_branches(self) -> None:
        t = self.t
        acts = defaultdict(list)
        for a in t.branch_activities:
            acts[a.joint_branch].append(a)
        variants = [
            ("xlsx", Style(date="cell", headers={"spend_yuan": "经费（元）"})),
            ("xls", Style(date="iso", money="yuan_suffix")),
            (
                "xlsx",
                Style(
                    date="cjk",
                    headers={
                        "joint_branch": "支部名称",
                        "rural_branch": "村党支部",
                        "activity_date": "日期",
                        "activity_type": "类型",
                        "agenda": "内容",
                        "study_hours": "学习时长（小时）",
                    },
                ),
            ),
            (
                "xlsx",
                Style(
                    date="slash",
                    groups=(("参会人数", ("expected_count", "present_count")),),
                    merge=("joint_branch", "agency_branch", "rural_branch"),
                ),
            ),
            (
                "xlsx",
                Style(
                    date="serial",
                    date_mix=("cell",),
                    group_by=lambda r: (r["activity_date"].year,),
                    blank_between=True,
                    ditto=("joint_branch", "agency_branch", "rural_branch"),
                ),
            ),
        ]
        bool_styles = ["有无", "是否", "有无", "勾叉", "是否"]
        five_thousand_done = False
        for i, b in enumerate(t.joint_branches):
            kind, st = variants[i % 5]
            ext = "xls" if kind == "xls" else "xlsx"
            p = f"joint_branches/{b.township}/{b.name}/{b.name}组织生活记录.{ext}"
            style = replace(st, title=f"保亭县{b.name}组织生活记录")
            sheets = [self.sheet(p, "组织生活记录", "branch_activities", acts[b.name], style)]
            mt = [m for m in t.matters if m.sender == b.name]
            if mt:
                sheets.append(
                    self.sheet(
                        p,
                        "问题台账",
                        "matters",
                        mt,
                        Style(
                            date=st.date if st.date != "serial" else "iso",
                            title=f"{b.name}“一月一议”问题台账",
                        ),
                    )
                )
            fund = [f for f in t.funding if f.sender == b.name]
            proj = [x for x in t.projects if x.sender == b.name]
            if fund:
                bad = ()
                if not five_thousand_done and kind == "xlsx":
                    src = record("funding", fund[0])
                    src["amount_yuan"] = Decimal("5000")
                    bad = [Bad(src, {"amount_yuan": "五千元"}, "money_unreadable", at=1)]
                    five_thousand_done = True
                sheets.append(
                    self.sheet(
                        p,
                        "资金",
                        "funding",
                        fund,
                        Style(
                            date=st.date if st.date != "serial" else "iso",
                            money="yuan_suffix" if i % 2 else "wan_header",
                        ),
                        bad,
                    )
                )
            if proj:
                sheets.append(
                    self.sheet(
                        p,
                        "项目",
                        "projects",
                        proj,
                        Style(bools=bool_styles[i % 5], date="iso", money="wan_header"),
                    )
                )
            self.add(p, kind, *sheets)
        assert five_thousand_done

    # ------------------------------------------------------------------ enterprises
    def enterprises(self) -> None:
        t = self.t
        big = t.enterprises[:5]
        dup_f = t.double_reported["funding"][0]
        for i, e in enumerate(big):
            p = f"enterprises/{e.name}/{e.name}联村帮扶情况报表.xlsx"
            links = [x for x in t.enterprise_links if x.enterprise == e.name]
            fund = [f for f in t.funding if f.sender == e.name]
            proj = sorted(
                [x for x in t.projects if x.sender == e.name], key=lambda x: x.project_code
            )
            mt = [m for m in t.matters if m.sender == e.name]
            money = "comma" if i % 2 else "number"
            if dup_f in fund:
                money = "comma"
            sheets = [
                self.sheet(
                    p,
                    "企业联村",
                    "enterprise_links",
                    links,
                    Style(
                        title=f"{e.name}企业联村情况",
                        date="iso" if i % 2 else "cell",
                        headers={"credit_code": "信用代码", "village": "联系村"} if i == 3 else {},
                    ),
                ),
                self.sheet(p, "资金", "funding", fund, Style(date="cell", money=money)),
                self.sheet(p, "项目", "projects", proj, Style(bools="YN", date="cell")),
                self.sheet(
                    p,
                    "企业诉求",
                    "matters",
                    mt,
                    Style(
                        title=f"{e.name}诉求办理台账",
                        headers={"place_or_partner": "企业名称"},
                        date="iso",
                        date_mix=("cell",),
                    ),
                ),
            ]
            self.add(p, "xlsx", *sheets)
        rest = {e.name for e in t.enterprises[5:]}
        p = "enterprises/县工商联/其他企业联村及诉求汇总.xls"
        links = [x for x in t.enterprise_links if x.enterprise in rest]
        fund = [f for f in t.funding if f.sender in rest]
        proj = sorted([x for x in t.projects if x.sender in rest], key=lambda x: x.project_code)
        mt = sorted(
            [m for m in t.matters if m.sender in rest], key=lambda m: (m.raised_on, m.matter_code)
        )
        self.add(
            p,
            "xls",
            self.sheet(
                p,
                "企业联村",
                "enterprise_links",
                links,
                Style(
                    title="保亭县企业联村情况汇总表（县工商联）",
                    date="slash",
                    merge=("enterprise", "credit_code", "enterprise_branch"),
                ),
            ),
            self.sheet(p, "资金", "funding", fund, Style(date="slash", money="mixed")),
            self.sheet(p, "项目", "projects", proj, Style(bools="YN", date="slash")),
            self.sheet(
                p,
                "企业诉求",
                "matters",
                mt,
                Style(headers={"place_or_partner": "企业名称"}, date="slash"),
            ),
        )


def plan_inbox(t: Truth) -> list[FileLayout]:
    return Planner(t).plan()
