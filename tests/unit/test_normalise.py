"""Cell normalisers: every spelling the contract lists, and the bad values it rejects."""

import datetime as dt
from decimal import Decimal

import pytest

from ingest import normalise as n
from ingest.normalise import resident_id_check_char
from ingest.pii import mask, token
from ingest.text import clean, compact

D = dt.date(2013, 4, 2)


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2013, 4, 2, 0, 0),
        D,
        41366.0,
        41366,
        "41366",
        "2013-04-02",
        "2013/4/2",
        "2013.4.2",
        "2013年4月2日",
        "２０１３年４月２日",
        " 2013-04-02 ",
        "2013-04-02 00:00:00",
        "20130402",
    ],
)
def test_every_date_spelling_reads_the_same_day(value):
    assert n.to_date(value) == (D, None)


@pytest.mark.parametrize(
    "value", ["2013-02-30", "二〇一三年四月", "4月2日", "13/4/2", 1.5, "abc", True]
)
def test_unreadable_dates_are_row_errors_never_guesses(value):
    got, problem = n.to_date(value)
    assert got is None
    assert problem.rule_id == "bad_date"


@pytest.mark.parametrize(
    ("value", "unit", "yuan"),
    [
        (5000, None, "5000.00"),
        ("5,000.00", None, "5000.00"),
        ("5000元", None, "5000.00"),
        ("0.5万", None, "5000.00"),
        ("0.5万元", None, "5000.00"),
        (0.5, "万元", "5000.00"),
        ("0.5", "万元", "5000.00"),
        ("5000元", "万元", "5000.00"),  # a unit in the cell beats the column's
        (12.345, "万元", "123450.00"),
        (0.1 + 0.2, None, "0.30"),
        ("１２３４.５６", None, "1234.56"),
    ],
)
def test_money_is_exact_yuan(value, unit, yuan):
    assert n.to_money(value, unit) == (Decimal(yuan), None)


@pytest.mark.parametrize("value", ["五千元", "about 5000", "5000.001", True])
def test_unreadable_money_is_a_row_error(value):
    got, problem = n.to_money(value, None)
    assert got is None and problem.rule_id == "bad_money"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("是", True),
        ("否", False),
        ("√", True),
        ("×", False),
        ("有", True),
        ("无", False),
        ("1", True),
        ("0", False),
        (1.0, True),
        (0.0, False),
        ("Y", True),
        ("n", False),
        (True, True),
    ],
)
def test_booleans_in_every_spelling(value, expected):
    assert n.to_bool(value) == (expected, None)


def test_unknown_boolean_is_a_row_error():
    assert n.to_bool("也许")[1].rule_id == "bad_bool"


def _valid_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


def test_resident_id_checksum_and_lowercase_x():
    good = _valid_id("46902919800101002")
    assert n.to_resident_id(good) == (good, None)
    # find a body whose check char is X and accept it in lower case
    body = next(
        f"4690291980010100{i}"
        for i in range(10)
        if resident_id_check_char(f"4690291980010100{i}") == "X"
    )
    assert n.to_resident_id(body + "x") == (body + "X", None)


def test_bad_ids_are_row_errors():
    good = _valid_id("46902919800101002")
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert n.to_resident_id(wrong)[1].rule_id == "bad_id"
    assert n.to_resident_id(4.69029e17)[1].rule_id == "id_mangled"
    assert n.to_resident_id("4.69029E+17")[1].rule_id == "id_mangled"
    assert n.to_resident_id("46902919801301002X")[1].rule_id == "bad_id"  # month 13
    assert n.to_resident_id("12345")[1].rule_id == "bad_id"


def test_enum_aliases_map_to_the_contract_value():
    from ingest.registry import load_registry

    spec = load_registry()["visits"].column("visit_mode")
    lookup = spec.enum_lookup()
    assert n.to_enum("上门", lookup, spec.values) == ("入户", None)
    assert n.to_enum("到户", lookup, spec.values) == ("入户", None)
    assert n.to_enum("集中座谈", lookup, spec.values) == ("座谈", None)
    assert n.to_enum("微信", lookup, spec.values)[1].rule_id == "bad_enum"


def test_text_full_width_traditional_and_spaces():
    assert compact("张　三") == "张三"
    assert compact(" 什玲鎮 ") == "什玲镇"
    assert clean("ＡＢＣ　保亭縣") == "ABC 保亭县"


def test_int_and_decimal():
    assert n.to_int(5.0) == (5, None)
    assert n.to_int("5人") == (5, None)
    assert n.to_int(5.5)[1].rule_id == "bad_number"
    assert n.to_decimal("2.5小时") == (Decimal("2.50"), None)


def test_tokens_are_keyed_and_masks_hide_the_middle():
    id_number = _valid_id("46902919800101002")
    assert mask(id_number) == "469029********" + id_number[-4:]
    assert mask("13812343210") == "138****3210"
    assert token(id_number, b"a" * 16) != token(id_number, b"b" * 16)
    assert token(id_number, b"a" * 16) == token(id_number, b"a" * 16)
    assert not any(ch.isdigit() and ch in "0189" for ch in token(id_number, b"a" * 16))


def test_a_token_is_the_same_in_every_version():
    # The raw layer keeps tokens across nights and the published marts join on them: the token
    # of a value under a key must never change with the code (HMAC-SHA256, its first 16 bytes in
    # lower-case base32, no padding), or yesterday's households stop matching today's visits.
    assert token("469029198001010024", b"outreach-test-key-0123456789abcd") == (
        "n7swcgily74a3s2m7xpx4n7qvq"
    )
    assert token(None, b"k" * 32) is None
