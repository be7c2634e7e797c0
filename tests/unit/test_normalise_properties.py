"""Cell normalisers under property tests (issue 3, item 8).

Every spelling the contract accepts (docs/CONTRACT.md, "Cell values") round-trips to exactly the
value it spells; everything else is a ``Problem`` with the column type's rule id, never an
exception and never a guess. The oracles here (Excel epoch, ISO 7064 check character, 万元
arithmetic) are written independently of ``ingest.normalise``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ingest import normalise as n
from ingest.text import compact

FAST = settings(max_examples=100, deadline=None)
THOROUGH = settings(max_examples=200, deadline=None)

# Excel's 1900 date system counts days from here (for every date after 1900-02-28).
EPOCH = dt.date(1899, 12, 30)
FEN = Decimal("0.01")

# Storage types of the raw layer (ingest/load.py): money DECIMAL(18,2), decimal DECIMAL(10,2),
# int INTEGER. A value a normaliser accepts must fit, or loading the file fails.
MONEY_MAX = Decimal(10) ** 16
DECIMAL_MAX = Decimal(10) ** 8
INT32 = range(-(2**31), 2**31)

_WIDE = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


def fullwidth(text: str) -> str:
    """ASCII '!'..'~' as typed on a full-width keyboard: '2013' -> '２０１３', 'Y' -> 'Ｙ'."""
    return text.translate(_WIDE)


PADS = st.sampled_from(["", " ", "  ", "\u3000", " \u3000", "\u3000\u3000", "\t", "\n"])

# Anything a cell can hold, and more: the brief's "arbitrary input".
ANY_CELL = st.one_of(
    st.text(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.integers(min_value=2**1000, max_value=2**1100),  # past float range
    st.booleans(),
)
# Text that looks like a number, so the numeric branches are reached often, including the
# spellings Decimal() and float() read as special values. Exponents stay below 1000: today
# to_int("1e1000000") builds a million-digit int and takes half a minute.
NUMBERISH = st.one_of(
    st.from_regex(r"\A-?[0-9]{1,30}(\.[0-9]{1,12})?([eE][+-]?[0-9]{1,3})?(万元|万|元|人)?\Z"),
    st.sampled_from(["inf", "-inf", "Infinity", "nan", "NaN", "sNaN", "1e30", "1E+30", "1_000"]),
)
ANY_NUMBERISH_CELL = st.one_of(ANY_CELL, NUMBERISH)


def assert_value_or_rule(result, value_type, rule_ids) -> bool:
    """``(value, None)`` with a value of the right type, or ``(None, Problem)`` with one of
    ``rule_ids`` and a message for the sender. Returns True if the value was accepted."""
    assert isinstance(result, tuple) and len(result) == 2
    value, problem = result
    if problem is None:
        assert isinstance(value, value_type), result
        return True
    assert value is None, result
    assert isinstance(problem, n.Problem), result
    assert problem.rule_id in rule_ids, result
    assert problem.message, result
    return False


# --------------------------------------------------------------------------------------- dates

DATES = st.one_of(
    st.dates(dt.date(2012, 1, 1), dt.date(2014, 12, 31)),
    st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
)


def test_the_excel_epoch_oracle_agrees_with_a_known_serial():
    assert (dt.date(2013, 4, 2) - EPOCH).days == 41366
    assert (dt.date(2000, 1, 1) - EPOCH).days == 36526


@FAST
@given(day=DATES, time=st.times(), left=PADS, right=PADS)
def test_every_date_spelling_reads_back_the_same_day(day, time, left, right):
    serial = (day - EPOCH).days
    y, m, d = day.year, day.month, day.day
    iso = day.isoformat()
    cn = f"{y}年{m}月{d}日"
    objects = [day, dt.datetime.combine(day, time), serial, float(serial)]
    texts = [
        iso,
        f"{y}-{m}-{d}",
        f"{y}/{m}/{d}",
        f"{y}.{m}.{d}",
        cn,
        fullwidth(cn),
        fullwidth(iso),
        f"{y:04d}{m:02d}{d:02d}",
        iso + " 00:00:00",
        f"{y}/{m}/{d} 00:00:00",
        f"{iso} {time:%H:%M:%S}",
        f"{iso} {time:%H:%M}",
        str(serial),
        f"{serial}.0",
    ]
    for value in objects + [left + t + right for t in texts]:
        assert n.to_date(value) == (day, None), value


@THOROUGH
@given(
    y=st.integers(1000, 9999),
    m=st.integers(0, 99),
    d=st.integers(0, 99),
    form=st.sampled_from(
        ["{y}-{m}-{d}", "{y}/{m}/{d}", "{y}.{m}.{d}", "{y}年{m}月{d}日", "{y}{m:02d}{d:02d}"]
    ),
)
def test_a_written_date_is_that_day_or_a_bad_date_never_a_guess(y, m, d, form):
    try:
        expected = dt.date(y, m, d)
    except ValueError:
        expected = None
    got = n.to_date(form.format(y=y, m=m, d=d))
    if expected is None:
        assert got[0] is None and got[1].rule_id == "bad_date", (y, m, d, got)
    else:
        assert got == (expected, None)


@THOROUGH
@given(serial=st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6)))
def test_a_number_is_the_excel_day_it_counts_or_a_bad_date(serial):
    got = n.to_date(serial)
    if assert_value_or_rule(got, dt.date, {"bad_date"}):
        assert serial == int(serial)
        assert got[0] == EPOCH + dt.timedelta(days=int(serial))


@THOROUGH
@given(value=ANY_NUMBERISH_CELL)
@example(10**309)  # an int past float range
def test_arbitrary_input_is_a_date_or_bad_date_never_an_exception(value):
    assert_value_or_rule(n.to_date(value), dt.date, {"bad_date"})


# --------------------------------------------------------------------------------------- money

YUAN = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**9), places=2, allow_nan=False)
WAN = st.decimals(
    min_value=Decimal("0.000001"), max_value=Decimal(10**5), places=6, allow_nan=False
)


def plain(amount: Decimal) -> str:
    """The shortest plain spelling: 5000.00 -> '5000', 0.500000 -> '0.5'."""
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def exact(result, yuan: Decimal, value) -> None:
    got, problem = result
    assert problem is None, (value, problem)
    assert got == yuan, (value, got, yuan)
    assert got.as_tuple().exponent == -2, (value, got)  # quantized to the fen


@THOROUGH
@given(amount=YUAN, left=PADS, right=PADS)
def test_every_yuan_spelling_is_exact_to_the_fen(amount, left, right):
    yuan = amount.quantize(FEN)
    texts = [
        plain(amount),
        f"{amount:f}",
        f"{amount:,.2f}",
        f"{plain(amount)}元",
        f"{amount:,.2f}元",
    ]
    if amount == amount.to_integral_value():
        texts.append(f"{int(amount):,}")
    texts += [fullwidth(t) for t in texts]
    cells = [left + t + right for t in texts]
    cells.append(float(str(amount)))  # what Excel stores for a typed number
    if amount == amount.to_integral_value():
        cells.append(int(amount))
    for value in cells:
        exact(n.to_money(value, None), yuan, value)
    # a unit written in the cell beats the column's 万元
    exact(n.to_money(f"{plain(amount)}元", "万元"), yuan, f"{plain(amount)}元 under 万元")


@THOROUGH
@given(wan=WAN, left=PADS, right=PADS)
def test_every_wan_yuan_spelling_is_exact_to_the_fen(wan, left, right):
    yuan = (wan * 10000).quantize(FEN)
    assert yuan == wan * 10000  # the oracle: 6 decimals of 万元 are whole fen
    text = plain(wan)
    for value, unit in [
        (float(text), "万元"),  # a number cell under a （万元） header or 单位：万元 title
        (left + text + right, "万元"),
        (left + f"{text}万" + right, None),
        (left + f"{text}万元" + right, None),
        (left + fullwidth(text) + "万元" + right, None),
        (f"{text}万元", "万元"),
    ]:
        exact(n.to_money(value, unit), yuan, (value, unit))


@THOROUGH
@given(
    amount=st.decimals(
        min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=12, allow_nan=False
    ),
    wan=st.booleans(),
)
def test_a_written_amount_finer_than_the_fen_is_a_row_error(amount, wan):
    # Text cells carry no float noise, so there is nothing to round away: an amount that is not
    # whole fen is a problem, never an approximation (module docstring, contract "exact to the fen").
    yuan = amount * 10000 if wan else amount
    text = f"{amount:f}" + ("万" if wan else "")
    got = n.to_money(text, None)
    if yuan == yuan.quantize(FEN):
        assert got == (yuan.quantize(FEN), None), text
    else:
        assert got[0] is None and got[1].rule_id == "bad_money", (text, got)


@THOROUGH
@given(value=ANY_NUMBERISH_CELL, unit=st.sampled_from([None, "万元"]))
@example(float("nan"), None)
@example(float("inf"), None)
@example(1e30, None)
@example("9" * 27, None)
def test_arbitrary_input_is_money_or_bad_money_never_an_exception(value, unit):
    got = n.to_money(value, unit)
    if assert_value_or_rule(got, Decimal, {"bad_money"}):
        assert got[0].is_finite() and got[0].as_tuple().exponent == -2, (value, got)


# ------------------------------------------------------------------------------- resident IDs

_ID_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]  # ISO 7064 MOD 11-2, GB 11643


def check_char_oracle(body: str) -> str:
    total = sum(int(ch) * w for ch, w in zip(body, _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


AREA = st.one_of(
    st.sampled_from(["469029", "469030", "460100", "110101"]),
    st.integers(110000, 829999).map(str),
)


@st.composite
def id_bodies(draw) -> str:
    birth = draw(st.dates(dt.date(1900, 1, 1), dt.date(2014, 12, 31)))
    return draw(AREA) + birth.strftime("%Y%m%d") + f"{draw(st.integers(0, 999)):03d}"


def test_check_char_oracle_agrees_with_a_known_id():
    assert check_char_oracle("11010519491231002") == "X"  # the GB 11643 example
    assert n.resident_id_check_char("11010519491231002") == "X"


@THOROUGH
@given(body=id_bodies(), left=PADS, right=PADS)
def test_a_valid_id_is_accepted_in_every_spelling(body, left, right):
    check = n.resident_id_check_char(body)
    assert check == check_char_oracle(body)
    good = body + check
    spellings = [good, good.lower(), fullwidth(good), fullwidth(good.lower())]
    for text in spellings:
        assert n.to_resident_id(left + text + right) == (good, None), text


@st.composite
def x_check_bodies(draw) -> str:
    """Bodies whose check char is X (1 in 11), by varying the sequence digits."""
    body = draw(id_bodies())
    for seq in range(1000):
        candidate = body[:14] + f"{seq:03d}"
        if check_char_oracle(candidate) == "X":
            return candidate
    raise AssertionError("no sequence gives X")  # cannot happen: 11 residues over 1000 tries


@FAST
@given(body=x_check_bodies(), left=PADS, right=PADS)
def test_trailing_lower_case_x_is_the_check_char_x(body, left, right):
    assert n.to_resident_id(left + body + "x" + right) == (body + "X", None)


@THOROUGH
@given(body=id_bodies(), other=st.one_of(st.sampled_from("0123456789Xx"), st.characters()))
def test_any_other_check_char_is_a_bad_id(body, other):
    check = check_char_oracle(body)
    if compact(other).upper() == check:  # the same char in another spelling: still valid
        return
    got = n.to_resident_id(body + other)
    assert got[0] is None and got[1].rule_id == "bad_id", (body + other, got)


@THOROUGH
@given(body=id_bodies(), month=st.integers(0, 99), day=st.integers(0, 99))
def test_an_id_whose_birth_date_does_not_exist_is_a_bad_id(body, month, day):
    year = int(body[6:10])
    try:
        dt.date(year, month, day)
        return
    except ValueError:
        pass
    wrong = body[:10] + f"{month:02d}{day:02d}" + body[14:]
    got = n.to_resident_id(wrong + check_char_oracle(wrong))
    assert got[0] is None and got[1].rule_id == "bad_id", (wrong, got)


@THOROUGH
@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_in_an_id_column_is_a_mangled_id(value):
    got = n.to_resident_id(value)
    assert got[0] is None and got[1].rule_id == "id_mangled", (value, got)


@FAST
@given(body=id_bodies(), lower=st.booleans())
def test_an_id_shown_in_scientific_notation_is_a_mangled_id(body, lower):
    shown = f"{float(body + '0'):.5E}"  # how Excel displays it: 4.69029E+17
    got = n.to_resident_id(shown.lower() if lower else shown)
    assert got[0] is None and got[1].rule_id == "id_mangled", (shown, got)


# Decimal digits of other scripts: full-width and mathematical digits fold to ASCII under NFKC,
# Arabic-Indic, Devanagari and Bengali do not.
_ZEROS = [0x30, 0xFF10, 0x1D7CE, 0x660, 0x6F0, 0x966, 0x9E6]


@st.composite
def respelled(draw, ascii_digits: str) -> str:
    return "".join(
        chr(draw(st.sampled_from(_ZEROS)) + int(ch)) if ch.isdigit() else ch for ch in ascii_digits
    )


@FAST
@given(data=st.data(), body=id_bodies())
@example(data=None, body="46902919800101002").via("Arabic-Indic digits")
def test_an_accepted_id_is_always_the_ascii_id(data, body):
    good = body + check_char_oracle(body)
    if data is None:
        text = "".join(chr(0x660 + int(c)) if c.isdigit() else c for c in good)
    else:
        text = data.draw(respelled(good))
    got = n.to_resident_id(text)
    # Reading other scripts' digits is optional; keeping them is not: tokens and masks need ASCII.
    assert got == (good, None) or (got[0] is None and got[1].rule_id == "bad_id"), (text, got)


@THOROUGH
@given(value=st.one_of(st.text(), NUMBERISH))
def test_arbitrary_text_is_an_id_or_a_rule_never_an_exception(value):
    got = n.to_resident_id(value)
    if assert_value_or_rule(got, str, {"bad_id", "id_mangled"}):
        assert re.fullmatch(r"[0-9]{17}[0-9X]", got[0], re.ASCII), (value, got)
        assert check_char_oracle(got[0][:17]) == got[0][17]


# ----------------------------------------------------------------------------------- booleans

BOOL_SPELLINGS = [
    ("是", True),
    ("否", False),
    ("√", True),
    ("×", False),
    ("有", True),
    ("无", False),
    ("無", False),  # traditional
    ("1", True),
    ("0", False),
    ("Y", True),
    ("N", False),
    ("y", True),
    ("n", False),
]


@THOROUGH
@given(spelling=st.sampled_from(BOOL_SPELLINGS), wide=st.booleans(), left=PADS, right=PADS)
def test_every_boolean_spelling_maps_to_its_bool(spelling, wide, left, right):
    text, expected = spelling
    value = left + (fullwidth(text) if wide else text) + right
    assert n.to_bool(value) == (expected, None), value


def test_boolean_objects_and_excel_numbers():
    assert n.to_bool(True) == (True, None)
    assert n.to_bool(False) == (False, None)
    assert n.to_bool(1.0) == (True, None)
    assert n.to_bool(0.0) == (False, None)
    assert n.to_bool(1) == (True, None)
    assert n.to_bool(0) == (False, None)


@THOROUGH
@given(
    value=st.one_of(st.text(), st.sampled_from([s for s, _ in BOOL_SPELLINGS])),
    left=PADS,
    right=PADS,
)
def test_arbitrary_text_is_a_bool_or_bad_bool_never_an_exception(value, left, right):
    got = n.to_bool(value)
    assert_value_or_rule(got, bool, {"bad_bool"})
    # spaces and full-width forms never change the answer
    again = n.to_bool(left + fullwidth(value) + right)
    assert (again[0], again[1] and again[1].rule_id) == (got[0], got[1] and got[1].rule_id), value


@FAST
@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers()))
def test_only_one_and_zero_are_boolean_numbers(value):
    got = n.to_bool(value)
    if value in (0, 1) and str(value) != "-0.0":
        assert got == (bool(value), None)
    else:
        assert got[0] is None and got[1].rule_id == "bad_bool", (value, got)


# ---------------------------------------------------------------------------- other numbers


@THOROUGH
@given(value=ANY_NUMBERISH_CELL)
@example("Infinity")
@example("sNaN")
def test_to_int_never_raises(value):
    assert_value_or_rule(n.to_int(value), int, {"bad_number"})


@THOROUGH
@given(value=ANY_NUMBERISH_CELL)
@example(float("nan"))
@example(float("inf"))
@example(1e30)
@example(10**400)
@example("nan")
def test_to_decimal_never_raises_and_gives_finite_numbers(value):
    got = n.to_decimal(value)
    if assert_value_or_rule(got, Decimal, {"bad_number"}):
        assert got[0].is_finite() and got[0].as_tuple().exponent == -2, (value, got)


@THOROUGH
@given(value=ANY_NUMBERISH_CELL)
@example(13812343210)  # a phone number typed into a count column
@example("469029198001010024")  # an ID pasted into an amount column
@example("1e5000")
def test_accepted_numbers_fit_their_warehouse_columns(value):
    # Otherwise the loader fails on the whole file (and the run) instead of quarantining a row.
    # (messages name the cell only: an accepted int may be too long to print)
    number, problem = n.to_int(value)
    fits = problem is not None or number in INT32
    assert fits, f"to_int accepted {value!r}"
    amount, problem = n.to_money(value, None)
    assert problem is not None or abs(amount) < MONEY_MAX, f"to_money accepted {value!r}"
    amount, problem = n.to_decimal(value)
    assert problem is not None or abs(amount) < DECIMAL_MAX, f"to_decimal accepted {value!r}"


@THOROUGH
@given(value=ANY_NUMBERISH_CELL)
def test_to_phone_never_raises(value):
    got = n.to_phone(value)
    if assert_value_or_rule(got, str, {"bad_phone"}):
        assert re.fullmatch(r"[0-9]{7,12}", got[0], re.ASCII), (value, got)


@FAST
@given(
    digits=st.from_regex(r"\A1[3-9][0-9]{9}\Z|\A0[0-9]{2,3}[0-9]{7,8}\Z"),
    data=st.data(),
    left=PADS,
    right=PADS,
)
@example(digits="13812343210", data=None, left="", right="").via("Arabic-Indic digits")
def test_an_accepted_phone_is_always_ascii_digits(digits, data, left, right):
    if data is None:
        text = "".join(chr(0x660 + int(c)) for c in digits)
    else:
        text = left + data.draw(respelled(digits)) + right
    got = n.to_phone(text)
    assert got == (digits, None) or (got[0] is None and got[1].rule_id == "bad_phone"), (
        text,
        got,
    )
