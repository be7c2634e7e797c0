"""An ID or a phone number is found in any spelling a person types, and masked by the SQL that
builds the warehouse and by the Python that writes what people read, both from one definition
(``ingest.pii``): hypothesis writes the numbers with every separator, prefix and numeral form."""

from __future__ import annotations

import re

import duckdb
import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import pii
from ingest.normalise import resident_id_check_char
from outreach.settings import DBT_PROJECT_DIR

MACROS = (DBT_PROJECT_DIR / "macros" / "scrub_pii.sql").read_text(encoding="utf-8")


def _macro(name: str) -> str:
    body = re.search(r"macro " + name + r"\(\) -%}\s*'(.*?)'\s*{%- endmacro", MACROS, re.S)
    return body.group(1)


def test_the_sql_macros_hold_the_python_patterns():
    assert _macro("pii_id_in_text") == pii.ID_IN_TEXT
    assert _macro("pii_mobile_in_text") == pii.MOBILE_IN_TEXT


def _scrub_sql() -> str:
    """scrub_pii('t') as dbt renders it."""
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    module = env.from_string(MACROS).make_module()
    return str(module.scrub_pii("t"))


SCRUB = _scrub_sql()
CON = duckdb.connect()


def scrubbed(texts: list[str]) -> list[str]:
    return [
        r[0]
        for r in CON.execute(
            f"select {SCRUB} from unnest(?::varchar[]) with ordinality as u(t, i) order by i",
            [texts],
        ).fetchall()
    ]


def found(texts: list[str]) -> list[bool]:
    return [
        r[0]
        for r in CON.execute(
            "select regexp_matches(t, ?) from unnest(?::varchar[]) with ordinality as u(t, i) "
            "order by i",
            [pii.PII_IN_TEXT, texts],
        ).fetchall()
    ]


REPRODUCED = [  # what a security review published unmasked
    "138.0013.8000",
    "+86—138—0013—8000",
    "469029.19800101.0024",
    "138_0013_8000",
    "一三八〇〇一三八〇〇〇",
    "户主电话１３８００１３８０００",
    "联系人13800138000.csv",
    "电话 138 0013 8000，身份证 469029 19800101 0024",
    "13800138000,13900139000",
    "幺三八零零幺三八零零零",
]


@pytest.mark.parametrize("text", REPRODUCED)
def test_every_spelling_the_review_used_is_found_and_masked(text):
    digits = pii.written_digits(text)
    assert found([text]) == [True]
    (sql,) = scrubbed([text])
    assert found([sql]) == [False] and "已隐去" in sql
    for number in re.findall(r"\d{11,18}", digits):
        assert number not in pii.written_digits(sql), sql
        assert number not in pii.written_digits(pii.mask_text(text)), pii.mask_text(text)


LEFT_ALONE = [
    "2014-04-02",
    "2014年4月2日 10:30",
    "H20201006",
    "GB0001",
    "5,000.00元",
    "2014-06-30_20261204T140626354701Z",  # a run id: its digits are one longer run
    "91469029MA5T00001X",  # a credit code
    "第一二三四五六七八九十",
    "townships/毛感乡/走访记录/毛感乡2014年第二季度走访记录.csv",
]


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_what_is_no_id_or_phone_is_left_alone(text):
    assert found([text]) == [False]
    assert scrubbed([text]) == [text]


_WIDE = str.maketrans("0123456789", "０１２３４５６７８９")
_CHINESE = str.maketrans("0123456789", "〇一二三四五六七八九")
SEPARATORS = ["", "", "", " ", ".", "．", "_", "-", "‐", "‑", "‒", "–", "—", "―", "－", "﹣",
              "−", "·", "・", "\u3000", "\t", "\n"]  # fmt: skip
# text around a number: anything but a digit of any form or a character that joins numbers;
# between two numbers at least one character (two numbers that touch are one longer number)
_AROUND = st.sampled_from(list("走访户主电话身份证号备注联系人。，：；（）ABCxyz/|!?[]"))
FILLER = st.text(alphabet=_AROUND, max_size=6)
BETWEEN = st.text(alphabet=_AROUND, min_size=1, max_size=6)


def _spell(digits: str, draw) -> str:
    forms = [str, lambda d: d.translate(_WIDE), lambda d: d.translate(_CHINESE)]
    out = []
    for i, d in enumerate(digits):
        if i:
            out.append(draw(st.sampled_from(SEPARATORS)))
        out.append(draw(st.sampled_from(forms))(d))
    return "".join(out)


@st.composite
def ids(draw) -> tuple[str, str]:
    first17 = draw(st.from_regex(r"\A[1-9][0-9]{16}\Z"))
    digits = first17 + resident_id_check_char(first17)
    return digits, _spell(digits, draw)


@st.composite
def mobiles(draw) -> tuple[str, str]:
    digits = draw(st.from_regex(r"\A1[3-9][0-9]{9}\Z"))
    prefix = draw(st.sampled_from(["", "", "+86", "+86 ", "0086", "86-", "＋86"]))
    return digits, prefix + _spell(digits, draw)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(BETWEEN, st.one_of(ids(), mobiles())), min_size=1, max_size=3), FILLER)
def test_any_spelling_of_a_number_is_found_and_masked_in_sql_and_python(parts, tail):
    text = "".join(before + written for before, (_, written) in parts) + tail
    numbers = [digits for _, (digits, _) in parts]
    assert found([text]) == [True]
    (sql,) = scrubbed([text])
    masked = pii.mask_text(text)
    assert found([sql]) == [False], sql
    for number in numbers:
        assert number.upper() not in pii.written_digits(sql).upper(), (text, sql)
        assert number.upper() not in pii.written_digits(masked).upper(), (text, masked)
