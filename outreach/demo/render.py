"""Turning clean records into messy sheet layouts (pure data; writers.py turns layouts into bytes).

A :class:`SheetLayout` is a grid of cells plus merged ranges plus a ledger of which row carries
which record (``data``): the tests read the written files back and check that every data row
decodes to exactly the record it came from, so the mess never changes a value's meaning.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import zhconv

from .periods import excel_serial

DITTO = "同上"


@dataclass(frozen=True)
class DateCell:
    """A real date cell (a serial number with a date display format)."""

    value: dt.date
    fmt: str = "yyyy-mm-dd"


@dataclass(frozen=True)
class NumCell:
    """A number with an explicit display format (e.g. an ID mangled into 4.69029E+17)."""

    value: float
    fmt: str


Cell = None | str | int | float | DateCell | NumCell

# dataset -> [(field, template header)]
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "cadres": [
        ("cadre_code", "干部编号"),
        ("cadre_name", "姓名"),
        ("sex", "性别"),
        ("unit", "工作单位"),
        ("rank", "职级"),
        ("is_org_dept", "是否组工干部"),
        ("phone", "联系电话"),
    ],
    "households": [
        ("household_code", "户编号"),
        ("township", "乡镇"),
        ("village", "村委会"),
        ("head_name", "户主姓名"),
        ("head_id_number", "户主身份证号"),
        ("household_type", "户类型"),
        ("household_size", "家庭人口"),
        ("phone", "联系电话"),
    ],
    "pairings": [
        ("cadre_code", "干部编号"),
        ("cadre_name", "帮扶责任人"),
        ("household_code", "户编号"),
        ("head_name", "户主姓名"),
        ("pair_start", "结对日期"),
        ("pair_end", "结束日期"),
    ],
    "visits": [
        ("visit_date", "走访日期"),
        ("cadre_code", "干部编号"),
        ("cadre_name", "帮扶责任人"),
        ("household_code", "户编号"),
        ("head_name", "户主姓名"),
        ("township", "乡镇"),
        ("village", "村委会"),
        ("visit_mode", "走访方式"),
        ("notes", "走访内容"),
        ("requests", "群众诉求"),
    ],
    "work_teams": [
        ("team_code", "工作队编号"),
        ("township", "乡镇"),
        ("village", "驻村村委会"),
        ("cadre_code", "干部编号"),
        ("cadre_name", "队员姓名"),
        ("unit", "派出单位"),
        ("team_role", "队内职务"),
        ("start_date", "进驻日期"),
        ("end_date", "撤离日期"),
    ],
    "funding": [
        ("funded_on", "日期"),
        ("source_type", "资金来源"),
        ("source_unit", "来源单位"),
        ("amount_yuan", "金额"),
        ("purpose", "用途"),
        ("project_code", "项目编号"),
        ("township", "乡镇"),
        ("village", "受益村"),
    ],
    "projects": [
        ("project_code", "项目编号"),
        ("project_name", "项目名称"),
        ("project_type", "项目类型"),
        ("is_capacity_building", "是否造血型"),
        ("implementer", "实施主体"),
        ("township", "乡镇"),
        ("village", "村委会"),
        ("partner", "合作企业"),
        ("started_on", "启动日期"),
        ("planned_yuan", "计划投资"),
        ("status", "状态"),
        ("households_reached", "带动户数"),
    ],
    "branch_activities": [
        ("joint_branch", "联合党支部"),
        ("agency_branch", "机关党支部"),
        ("rural_branch", "农村党支部"),
        ("activity_date", "活动日期"),
        ("activity_type", "活动类型"),
        ("expected_count", "应到人数"),
        ("present_count", "实到人数"),
        ("study_hours", "学习时长"),
        ("agenda", "议事内容"),
        ("spend_yuan", "经费"),
    ],
    "talks": [
        ("talk_date", "约谈日期"),
        ("interviewer", "约谈人"),
        ("interviewer_role", "约谈人职务"),
        ("cadre_code", "干部编号"),
        ("cadre_name", "被约谈干部"),
        ("rank", "职级"),
        ("topic_family", "家庭情况"),
        ("topic_health", "身体健康"),
        ("topic_work", "工作表现"),
        ("topic_team", "班子运行"),
        ("topic_opinions", "意见建议"),
        ("topic_other", "其他"),
        ("opinion_count", "意见建议条数"),
        ("opinions", "意见建议内容"),
    ],
    "matters": [
        ("matter_code", "问题编号"),
        ("source", "来源"),
        ("category", "类别"),
        ("raised_on", "反映日期"),
        ("township", "乡镇"),
        ("place_or_partner", "村委会"),
        ("description", "问题描述"),
        ("decided_on", "议定日期"),
        ("owner_unit", "责任单位"),
        ("status", "状态"),
        ("closed_on", "办结日期"),
    ],
    "enterprise_links": [
        ("enterprise", "企业名称"),
        ("credit_code", "统一社会信用代码"),
        ("enterprise_branch", "企业党支部"),
        ("village", "结对村"),
        ("township", "乡镇"),
        ("linked_on", "对接日期"),
        ("link_mode", "帮扶方式"),
        ("project_code", "项目编号"),
    ],
}

REQUIRED: dict[str, set[str]] = {
    "cadres": {"cadre_code", "cadre_name", "unit"},
    "households": {"household_code", "township", "village", "head_name"},
    "pairings": {"cadre_code", "household_code", "pair_start"},
    "visits": {"visit_date", "cadre_code", "household_code"},
    "work_teams": {"team_code", "township", "village", "cadre_code", "start_date"},
    "funding": {"funded_on", "source_type", "source_unit", "amount_yuan"},
    "projects": {
        "project_code",
        "project_name",
        "project_type",
        "township",
        "started_on",
        "status",
    },
    "branch_activities": {"joint_branch", "activity_date", "present_count"},
    "talks": {"talk_date", "interviewer", "cadre_code"},
    "matters": {"matter_code", "source", "category", "raised_on", "description", "status"},
    "enterprise_links": {"enterprise", "village", "township", "linked_on"},
}

DATE_FIELDS = {
    "visit_date",
    "pair_start",
    "pair_end",
    "start_date",
    "end_date",
    "funded_on",
    "started_on",
    "activity_date",
    "talk_date",
    "raised_on",
    "decided_on",
    "closed_on",
    "linked_on",
}
MONEY_FIELDS = {"amount_yuan", "planned_yuan", "spend_yuan"}
BOOL_FIELDS = {
    "is_org_dept",
    "is_capacity_building",
    "topic_family",
    "topic_health",
    "topic_work",
    "topic_team",
    "topic_opinions",
    "topic_other",
}
INT_FIELDS = {
    "household_size",
    "expected_count",
    "present_count",
    "opinion_count",
    "households_reached",
}
CODE_FIELDS = {
    "cadre_code",
    "household_code",
    "team_code",
    "project_code",
    "matter_code",
    "credit_code",
}
NAME_FIELDS = {"cadre_name", "head_name", "interviewer"}
VILLAGE_DATASETS = {"households", "visits", "work_teams", "funding", "projects", "enterprise_links"}

BOOL_SPELLINGS = {
    "是否": ("是", "否"),
    "勾叉": ("√", "×"),
    "有无": ("有", "无"),
    "10": (1, 0),
    "YN": ("Y", "N"),
}
VISIT_MODE_ALIASES = {"入户": ("上门", "到户"), "座谈": ("集中座谈",)}
SOURCE_TYPE_ALIASES = {"财政": ("县财政", "县级财政")}


def fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def traditional(s: str) -> str:
    """Traditional spelling of s, only where converting back gives s again."""
    t = zhconv.convert(s, "zh-hant")
    return t if zhconv.convert(t, "zh-hans") == s else s


def plain_decimal(d: Decimal) -> str:
    """Shortest exact decimal text: 5000, 5000.5, 0.3457."""
    s = format(d.normalize(), "f")
    return s


def yuan_text(d: Decimal) -> str:
    return str(int(d)) if d == d.to_integral() else f"{d:.2f}"


def wan_number(d: Decimal) -> float:
    """A yuan amount as a 万元 number; float(repr) round-trips to the exact decimal."""
    w = plain_decimal(d / Decimal(10000))
    f = float(w)
    assert Decimal(repr(f)) == Decimal(w), (d, w)
    return f


def yuan_number(d: Decimal) -> int | float:
    if d == d.to_integral():
        return int(d)
    f = float(d)
    assert Decimal(repr(f)) == d
    return f


@dataclass
class Style:
    """How one sender fills one sheet. Every option only changes spelling, never meaning."""

    csv: bool = False
    title: str | None = None
    preamble: tuple = ()  # str (first cell) or (left, right) pairs
    headers: dict[str, str] = field(default_factory=dict)  # field -> header text
    fields: tuple[str, ...] | None = None  # columns and their order (default: all)
    seq: bool = True  # a 序号 column first
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()  # two-row header groups
    traditional: bool = False  # title, headers and place names in traditional characters
    date: str = "iso"  # cell|cell_cn|cell_slash|serial|iso|slash|dot|cjk|cjk_full
    date_mix: tuple[str, ...] = ()  # spellings used on ~15% of the rows
    money: str = "number"  # number|wan_header|wan_title|comma|yuan_suffix|wan_suffix|mixed
    bools: str = "是否"
    ditto: tuple[str, ...] = ()
    merge: tuple[str, ...] = ()
    village: str = "full"  # full|short|mixed
    township: str = "full"  # full|bare|mixed
    group_by: Callable[[dict], Any] | None = None
    blank_between: bool = False
    subtotal: bool = False
    total: bool = False
    footer: tuple = ()
    pad_names: bool = False  # 张　三
    stray_spaces: bool = False
    fullwidth_codes: bool = False
    lower_x: bool = False
    phone_numeric: bool = False
    enum_aliases: bool = False
    star_required: bool = False
    spaced_header: str | None = None  # one field whose header is written with stray spaces


@dataclass
class Bad:
    """An extra row the loader must quarantine: a record with some cells broken."""

    record: dict
    cells: dict  # field -> raw cell
    rule: str
    at: int  # insert before this record index


@dataclass
class RowInfo:
    row: int  # 0-based row index
    record: dict  # canonical values of the written fields
    rule: str | None = None  # set for rows the loader must quarantine


@dataclass
class SheetLayout:
    name: str
    dataset: str | None
    rows: list[list[Cell]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # per row: title|preamble|header|data|bad|...
    columns: list[str | None] = field(default_factory=list)  # field per column
    header_rows: tuple[int, int] | None = None
    wan_fields: frozenset[str] = frozenset()
    data: list[RowInfo] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)


class SheetBuilder:
    def __init__(self, name: str, dataset: str, style: Style, rng: random.Random):
        self.name, self.dataset, self.s, self.rng = name, dataset, style, rng
        fields = list(style.fields or [f for f, _ in COLUMNS[dataset]])
        missing = REQUIRED[dataset] - set(fields)
        assert not missing, (dataset, missing)
        self.fields = fields
        self.columns: list[str | None] = ([None] if style.seq else []) + fields
        self.ncols = len(self.columns)
        wan = set()
        for f in fields:
            if f in MONEY_FIELDS and style.money in ("wan_header", "wan_title"):
                wan.add(f)
        self.wan = frozenset(wan)

    # ---- headers
    def header_text(self, f: str) -> str:
        default = dict(COLUMNS[self.dataset])[f]
        h = self.s.headers.get(f, default)
        if f in self.wan and self.s.money == "wan_header" and "万元" not in h:
            h += "（万元）"
        if self.s.star_required and f in REQUIRED[self.dataset]:
            h += "*"
        if self.s.spaced_header == f:
            h = " ".join(h)
        return traditional(h) if self.s.traditional else h

    def seq_header(self) -> str:
        return traditional("序号") if self.s.traditional else "序号"

    # ---- cells
    def cell(self, f: str, v: Any) -> Cell:
        s, rng = self.s, self.rng
        if v is None:
            return None
        if f in DATE_FIELDS:
            mode = s.date
            if s.date_mix and rng.random() < 0.15:
                mode = rng.choice(s.date_mix)
            return render_date(v, mode, s.csv)
        if f in MONEY_FIELDS:
            return self.money(f, v)
        if f in BOOL_FIELDS:
            t, fl = BOOL_SPELLINGS[s.bools]
            out = t if v else fl
            return str(out) if s.csv else out
        if f in INT_FIELDS:
            return str(v) if s.csv else v
        if f == "study_hours":
            return plain_decimal(v) if s.csv else float(v)
        if f == "township":
            t = v
            if s.township == "bare" or (s.township == "mixed" and rng.random() < 0.4):
                t = v[:-1]
            t = traditional(t) if s.traditional else t
            return self.spaces(t)
        if f == "village" and self.dataset in VILLAGE_DATASETS:
            t = v
            if s.village == "short" or (s.village == "mixed" and rng.random() < 0.5):
                assert v.endswith("村委会")
                t = v[: -len("委会")]
            t = traditional(t) if s.traditional else t
            return self.spaces(t)
        if f in CODE_FIELDS:
            t = v
            if s.fullwidth_codes and rng.random() < 0.08:
                t = fullwidth(t)
            return self.spaces(t)
        if f in NAME_FIELDS:
            t = v
            if s.pad_names and len(t) == 2:
                t = t[0] + "\u3000" + t[1]
            return self.spaces(t)
        if f == "head_id_number":
            return v.lower() if s.lower_x and v.endswith("X") and rng.random() < 0.5 else v
        if f == "phone":
            return int(v) if s.phone_numeric and not s.csv else v
        if f == "visit_mode" and s.enum_aliases and v in VISIT_MODE_ALIASES and rng.random() < 0.4:
            return rng.choice(VISIT_MODE_ALIASES[v])
        if f == "source_type" and s.enum_aliases and v in SOURCE_TYPE_ALIASES:
            return rng.choice(SOURCE_TYPE_ALIASES[v])
        if isinstance(v, str):
            return v
        raise TypeError((f, v))

    def spaces(self, t: str) -> str:
        if self.s.stray_spaces and self.rng.random() < 0.12:
            return self.rng.choice((" " + t, t + " ", t + "  ", "\u3000" + t))
        return t

    def money(self, f: str, d: Decimal) -> Cell:
        s, rng = self.s, self.rng
        mode = s.money
        if f in self.wan:
            w = wan_number(d)
            return repr(w) if s.csv else w
        if mode == "mixed":
            mode = rng.choice(("number", "comma", "yuan_suffix", "wan_suffix"))
        if mode == "wan_suffix" and d % 100 != 0:
            mode = "yuan_suffix"
        if mode == "number":
            return yuan_text(d) if s.csv else yuan_number(d)
        if mode == "comma":
            return f"{d:,.2f}"
        if mode == "yuan_suffix":
            return yuan_text(d) + "元"
        if mode == "wan_suffix":
            return plain_decimal(d / Decimal(10000)) + rng.choice(("万", "万元"))
        raise ValueError(mode)

    # ---- the sheet
    def build(self, records: Sequence[dict], bad: Sequence[Bad] = ()) -> SheetLayout:
        s, rng = self.s, self.rng
        rows: list[list[Cell]] = []
        kinds: list[str] = []
        merges: list[tuple[int, int, int, int]] = []
        n = self.ncols

        def blank() -> list[Cell]:
            return [None] * n

        if s.title:
            r = blank()
            r[0] = traditional(s.title) if s.traditional else s.title
            rows.append(r)
            kinds.append("title")
            if not s.csv and n > 1:
                merges.append((0, 0, 0, n - 1))
        for p in s.preamble:
            r = blank()
            if isinstance(p, tuple):
                r[0], r[n - 1] = p
            else:
                r[0] = p
            rows.append(r)
            kinds.append("preamble")
        # header
        h0 = len(rows)
        if s.groups:
            top, bottom = blank(), blank()
            grouped = {}
            for label, fs in s.groups:
                idx = [self.columns.index(f) for f in fs]
                assert idx == list(range(idx[0], idx[0] + len(idx))), (label, fs)
                top[idx[0]] = label
                for f in fs:
                    grouped[f] = label
                if not s.csv:
                    merges.append((h0, idx[0], h0, idx[-1]))
            for c, f in enumerate(self.columns):
                text = self.seq_header() if f is None else self.header_text(f)
                if f in grouped:
                    bottom[c] = text
                else:
                    top[c] = text
                    if not s.csv:
                        merges.append((h0, c, h0 + 1, c))
            rows += [top, bottom]
            kinds += ["header", "header"]
        else:
            rows.append(
                [self.seq_header() if f is None else self.header_text(f) for f in self.columns]
            )
            kinds.append("header")
        header_rows = (h0, len(rows) - 1)

        # body entries
        entries: list[tuple] = []
        bad_at: dict[int, list[Bad]] = {}
        for b in bad:
            bad_at.setdefault(b.at, []).append(b)
        prev_group = object()
        group_count = 0
        seq = 0
        for i, rec in enumerate(list(records) + [None]):
            g = s.group_by(rec) if (s.group_by and rec is not None) else None
            if s.group_by and (rec is None or g != prev_group) and i > 0:
                if s.subtotal:
                    entries.append(("subtotal", group_count))
                if s.blank_between and rec is not None:
                    entries.append(("blank",))
                group_count = 0
            prev_group = g
            for b in bad_at.get(i, []):
                entries.append(("bad", b))
            if rec is None:
                break
            entries.append(("data", rec))
            group_count += 1
        # render entries
        body_start = len(rows)
        data: list[RowInfo] = []
        total_rows = 0
        for e in entries:
            r = blank()
            if e[0] in ("data", "bad"):
                seq += 1
                rec = e[1] if e[0] == "data" else e[1].record
                if s.seq:
                    r[0] = str(seq) if s.csv else seq
                for c, f in enumerate(self.columns):
                    if f is None:
                        continue
                    if e[0] == "bad" and f in e[1].cells:
                        r[c] = e[1].cells[f]
                    else:
                        r[c] = self.cell(f, rec.get(f))
                data.append(
                    RowInfo(
                        len(rows),
                        {f: rec.get(f) for f in self.fields},
                        None if e[0] == "data" else e[1].rule,
                    )
                )
                kinds.append(e[0])
                total_rows += e[0] == "data"
            elif e[0] == "subtotal":
                r[0] = "小计"
                r[self._note_col()] = f"{e[1]}条"
                kinds.append("subtotal")
            else:
                kinds.append("blank")
            rows.append(r)
        if s.total:
            r = blank()
            r[0] = "合　计" if self.rng.random() < 0.5 else "合计"
            money = [f for f in self.fields if f in MONEY_FIELDS]
            if money:
                f = money[0]
                tot = sum(
                    (ri.record[f] or Decimal(0) for ri in data if ri.rule is None), Decimal(0)
                )
                r[self.columns.index(f)] = (
                    self.money(f, tot)
                    if f in self.wan
                    else (yuan_text(tot) if s.csv else yuan_number(tot))
                )
            else:
                r[self._note_col()] = f"共{total_rows}条"
            rows.append(r)
            kinds.append("total")
        for ft in s.footer:
            r = blank()
            if isinstance(ft, tuple):
                r[0], r[min(n - 1, max(1, n // 2))] = ft
            else:
                r[0] = ft
            rows.append(r)
            kinds.append("footer")

        # ditto and vertical merges, only within runs of consecutive 'data' rows
        runs: list[list[int]] = []
        cur: list[int] = []
        for i in range(body_start, len(rows)):
            if kinds[i] == "data":
                cur.append(i)
            else:
                if cur:
                    runs.append(cur)
                cur = []
        if cur:
            runs.append(cur)
        info = {ri.row: ri for ri in data}
        for f in s.merge:
            assert not s.csv
            c = self.columns.index(f)
            for run in runs:
                k = 0
                while k < len(run):
                    j = k
                    v = info[run[k]].record[f]
                    while j + 1 < len(run) and info[run[j + 1]].record[f] == v and v is not None:
                        j += 1
                    if j > k:
                        merges.append((run[k], c, run[j], c))
                        for rr in run[k + 1 : j + 1]:
                            rows[rr][c] = None
                    k = j + 1
        for f in s.ditto:
            assert f not in s.merge
            c = self.columns.index(f)
            for run in runs:
                for a, b in zip(run, run[1:], strict=False):
                    v = info[b].record[f]
                    if v is not None and v == info[a].record[f] and rng.random() < 0.75:
                        rows[b][c] = DITTO
        sample = [r for i, r in enumerate(rows[:80]) if kinds[i] != "title"]
        widths = [
            min(40, max(6, max((_width(r[c]) for r in sample), default=4) + 2)) for c in range(n)
        ]
        return SheetLayout(
            self.name,
            self.dataset,
            rows,
            merges,
            kinds,
            self.columns,
            header_rows,
            self.wan,
            data,
            widths,
        )

    def _note_col(self) -> int:
        for f in ("notes", "agenda", "purpose", "description", "head_name", "project_name", "unit"):
            if f in self.columns:
                return self.columns.index(f)
        return min(1, self.ncols - 1)


def _width(v: Cell) -> float:
    if v is None:
        return 0
    if isinstance(v, DateCell):
        return 11
    s = str(v)
    return len(s.encode("utf-8")) * 2 // 3 if not s.isascii() else len(s)


def render_date(d: dt.date, mode: str, csv: bool) -> Cell:
    if mode.startswith("cell") or mode == "serial":
        if csv:
            mode = "iso"
    if mode == "cell":
        return DateCell(d, "yyyy-mm-dd")
    if mode == "cell_cn":
        return DateCell(d, 'yyyy"年"m"月"d"日"')
    if mode == "cell_slash":
        return DateCell(d, "yyyy/m/d")
    if mode == "serial":
        return excel_serial(d)
    if mode == "iso":
        return f"{d:%Y-%m-%d}"
    if mode == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    if mode == "dot":
        return f"{d.year}.{d.month}.{d.day}"
    if mode == "cjk":
        return f"{d.year}年{d.month}月{d.day}日"
    if mode == "cjk_full":
        return fullwidth(f"{d.year}年{d.month}月{d.day}日")
    raise ValueError(mode)


def free_sheet(name: str, lines: Sequence[Sequence[Cell]], merges=()) -> SheetLayout:
    """A sheet that belongs to no dataset (instructions, an unrelated register)."""
    width = max(len(r) for r in lines)
    rows = [list(r) + [None] * (width - len(r)) for r in lines]
    return SheetLayout(
        name,
        None,
        rows,
        list(merges),
        ["free"] * len(rows),
        [],
        None,
        frozenset(),
        [],
        [max(8, min(60, max(_width(r[c]) for r in rows) + 2)) for c in range(width)],
    )
