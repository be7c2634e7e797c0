"""The fast, column-at-a-time validation gives exactly what the row-by-row reference gives.

``ingest.validate.validate_sheet`` (what the loader runs) normalises each distinct value of a
column once and gathers problems only for the rows that have one; ``validate_sheet_reference``
is the definition, one cell at a time. They must agree to the byte: the same loaded values of
the same types (a ``date`` is not a ``datetime``, ``Decimal('-0.00')`` is not ``Decimal('0.00')``
in a message), the same quarantined rows with the same rules, messages and original cells, the
same skipped counts. Held on the demo inbox, on every spelling the normalisers accept and
reject, and on random sheets.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import validate as v
from ingest.discover import discover
from ingest.header import find_header
from ingest.normalise import resident_id_check_char
from ingest.places import load_gazetteer
from ingest.read import Sheet, read_sheets
from ingest.registry import load_registry
from outreach.demo import write_demo_inbox
from outreach.settings import DEFAULT_GAZETTEER

REG = load_registry()
GAZ = load_gazetteer(DEFAULT_GAZETTEER)
ARRIVALS = (dt.date(2014, 7, 1), dt.date(2013, 3, 1))  # the second puts many dates out of range


def _exact(rows: v.SheetRows) -> tuple:
    """Everything in the account, with each value's type: equal Python values of different
    types or spellings (1 and True, 0.0 and -0.0) must not pass for the same."""
    return (
        rows.dataset,
        rows.sheet_name,
        list(rows.columns),
        [[(type(x).__name__, repr(x)) for x in col] for col in rows.columns.values()],
        rows.row_numbers,
        rows.quarantined,
        list(rows.skipped.items()),
    )


def _assert_same(sheet: Sheet, arrived_on: dt.date) -> v.SheetRows | None:
    match = find_header(sheet, REG)
    if match is None:
        return None
    dataset = REG[match.dataset]
    fast = v.validate_sheet(sheet, match, dataset, GAZ, arrived_on)
    reference = v.validate_sheet_reference(sheet, match, dataset, GAZ, arrived_on)
    assert _exact(fast) == _exact(reference)
    return fast


@pytest.fixture(scope="module")
def demo_sheets(tmp_path_factory) -> list[Sheet]:
    inbox = tmp_path_factory.mktemp("demo") / "inbox"
    write_demo_inbox(inbox)
    files, _ = discover(inbox)
    sheets = []
    for f in files:
        if f.kind in ("xlsx", "xls", "csv"):
            try:
                sheets.extend(read_sheets(f.path, f.kind))
            except Exception:  # the demo's deliberately broken files
                continue
    return sheets


@pytest.mark.parametrize("arrived_on", ARRIVALS)
def test_the_demo_inbox_validates_the_same_on_both_paths(demo_sheets, arrived_on):
    accounts = [a for s in demo_sheets if (a := _assert_same(s, arrived_on)) is not None]
    # the comparison covered loaded, quarantined and skipped rows, not only empty sheets
    assert sum(len(a.row_numbers) for a in accounts) > (10_000 if arrived_on.year == 2014 else 0)
    assert sum(len(a.quarantined) for a in accounts) > 0
    assert sum(sum(a.skipped.values()) for a in accounts) > 0


# Every spelling the normalisers accept (tests/unit/test_normalise*.py, docs/CONTRACT.md "Cell
# values") and a few of each kind they reject, by column type.
_GOOD_ID = "46902919800101002" + resident_id_check_char("46902919800101002")
MESSY = {
    "date": [
        dt.datetime(2013, 4, 2, 0, 0),
        dt.datetime(2013, 4, 2, 15, 30),
        dt.date(2013, 4, 2),
        41366.0,
        41366,
        "41366",
        "41366.0",
        "2013-04-02",
        "2013/4/2",
        "2013.4.2",
        "2013年4月2日",
        "２０１３年４月２日",
        " 2013-04-02 ",
        "2013-04-02 00:00:00",
        "2013/4/2 08:15",
        "20130402",
        "2011-12-31",
        "2099-01-01",
        "2013-02-30",
        "二〇一三年四月",
        "4月2日",
        "13/4/2",
        1.5,
        0.0,
        -0.0,
        float("nan"),
        float("inf"),
        True,
        "abc",
    ],
    "money": [
        5000,
        5000.0,
        "5,000.00",
        "5000元",
        "0.5万",
        "0.5万元",
        0.5,
        "0.5",
        12.345,
        0.1 + 0.2,
        "１２３４.５６",
        "¥1,200",
        "￥3.5万",
        0.0,
        -0.0,
        "-0",
        "五千元",
        "about 5000",
        "5000.001",
        1e17,
        True,
    ],
    "int": [5, 5.0, "5", "5人", "５户", 5.5, "5.5", 0.0, -0.0, 2**31, "1e3", True, "十"],
    "decimal": [2.5, "2.5小时", "2.5h", 3, 0.0, -0.0, "1e2", 10**9, "两小时", False],
    "bool": [
        "是",
        "否",
        "√",
        "×",
        "有",
        "无",
        "1",
        "0",
        1.0,
        0.0,
        -0.0,
        1,
        "Y",
        "n",
        "YES",
        "False",
        True,
        False,
        "也许",
    ],
    "resident_id": [
        _GOOD_ID,
        _GOOD_ID.lower(),
        " " + _GOOD_ID + " ",
        _GOOD_ID[:-1] + ("0" if _GOOD_ID[-1] != "0" else "1"),
        4.69029e17,
        469029198001010024,
        "4.69029E+17",
        "46902919801301002X",
        "12345",
    ],
    "phone": [
        "13812343210",
        "138-1234-3210",
        "+86 138 1234 3210",
        "(0898)83661234",
        13812343210.0,
        "12",
        "电话",
    ],
    "credit_code": ["91460000MA5T0000X1", "91460000ma5t0000x1", "123", 12345.0],
    "enum": [],  # filled per column from its values and aliases
    "text": [
        "张　三",
        " 什玲鎮 ",
        "ＡＢＣ",
        "GB0003",
        1.0,
        2.5,
        41366,
        dt.date(2013, 4, 2),
        True,
        "\t",
    ],
    "longtext": ["了解  家庭\n情况", "ＡＢＣ　保亭縣", 3.0, "召开农户座谈会，宣讲惠农政策"],
    "place_township": [
        "什玲镇",
        "什玲",
        "什玲鎮",
        "保亭县什玲镇",
        "保亭什玲镇",
        "加茂镇",
        "火星乡",
        5,
    ],
    "place_village": [
        "什玲村",
        "什玲村委会",
        "什玲村民委员会",
        "城区社区",
        "城区社区居委会",
        "什玲",
        7.0,
    ],
}
# cells that are not values: blanks of every kind, 同上 in its spellings, and what marks a
# total or footer row when it comes first
SPECIAL = [
    None,
    "",
    " ",
    "\u3000",
    "\u3000\u3000",
    "同上",
    " 同 上 ",
    "同上",
    "合计",
    "小计：",
    "填表人：张三",
]


def _messy_pool(spec) -> list:
    if spec.type == "enum":
        return [*spec.values, *(k for k, _ in spec.value_aliases), " " + spec.values[0], "其他值"]
    return MESSY[spec.type]


def _header(dataset) -> list[str]:
    return [c.header for c in dataset.columns]


def test_every_messy_spelling_in_every_column_validates_the_same(tmp_path):
    for dataset in REG.values():
        pools = [_messy_pool(c) + SPECIAL for c in dataset.columns]
        width = max(map(len, pools))
        # column j of row i takes the pool's (i + j)-th cell: every cell appears in every column
        # at least once, beside others, above 同上 and below it
        rows = [_header(dataset)]
        for i in range(width * 2):
            rows.append([pool[(i + j) % len(pool)] for j, pool in enumerate(pools)])
        for arrived_on in ARRIVALS:
            account = _assert_same(Sheet(name=dataset.name, rows=rows), arrived_on)
            assert account is not None and account.dataset == dataset.name


def test_ragged_rows_dittos_and_a_unit_in_the_title(tmp_path):
    rows = [
        ["保亭县什玲镇资金筹措台账", None, None],
        ["单位：万元"],
        ["日期", "资金来源", "来源单位", "金额", "用途"],
        ["2013-04-02", "财政", "县财政局", 1.5],  # shorter than the header
        ["同上", "同上", "同上", "0.5万元", "修路", "多出的一格"],
        [None, "同上", "同上", None],
        ["同上", "社会", "某企业", "2"],
        [],
        ["合计", None, None, 4],
    ]
    for arrived_on in ARRIVALS:
        account = _assert_same(Sheet(name="s", rows=rows), arrived_on)
        assert account is not None and account.dataset == "funding"
        assert account.quarantined
        if arrived_on.year == 2014:
            assert account.row_numbers == [4, 5]
            assert account.columns["amount_yuan"] == [Decimal("15000.00"), Decimal("5000.00")]


# random sheets: any dataset's header, then rows mixing messy cells, arbitrary values and blanks
ANY_CELL = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.booleans(),
    st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)),
    st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2030, 12, 31)),
    st.sampled_from(SPECIAL),
)


@st.composite
def sheets(draw):
    dataset = draw(st.sampled_from(sorted(REG)))
    spec = REG[dataset]
    header = _header(spec)
    pools = [st.one_of(st.sampled_from(_messy_pool(c) + SPECIAL), ANY_CELL) for c in spec.columns]
    n_rows = draw(st.integers(0, 12))
    rows = [header]
    for _ in range(n_rows):
        width = draw(st.integers(0, len(header) + 1))
        cells = [draw(pools[j]) if j < len(pools) else draw(ANY_CELL) for j in range(width)]
        rows.append(cells)
    return Sheet(name=dataset, rows=rows)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sheet=sheets(), arrived_on=st.sampled_from(ARRIVALS))
def test_random_sheets_validate_the_same_on_both_paths(sheet, arrived_on):
    _assert_same(sheet, arrived_on)


def test_the_outcome_memo_tells_apart_values_python_calls_equal():
    # 0.0 and -0.0 hash alike but their messages differ; 1, 1.0 and True normalise differently
    keys = {v._memo_key(x) for x in (0.0, -0.0, 1, 1.0, True, "1")}
    assert len(keys) == 6
