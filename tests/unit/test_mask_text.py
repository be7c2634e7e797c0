"""mask_text: ID and phone numbers never leave the raw layer whole, in any spelling."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.normalise import resident_id_check_char
from ingest.pii import mask, mask_text

GOOD_ID = "46902919800101002" + resident_id_check_char("46902919800101002")
X_ID = "46902919800101003X"  # the shape is what matters here, not the checksum


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (GOOD_ID, mask(GOOD_ID)),
        (X_ID, "469029********003X"),
        (X_ID.lower(), "469029********003x"),
        ("13812343210", mask("13812343210")),
        (
            f"户主身份证{GOOD_ID}，电话13812343210",
            f"户主身份证469029********{GOOD_ID[-4:]}，电话138****3210",
        ),
        (f"ID:{GOOD_ID}号", f"ID:469029********{GOOD_ID[-4:]}号"),
        ("138-1234-3210", "138****3210"),
        ("138 1234 3210", "138****3210"),
        ("+86 13812343210", "+86 138****3210"),
        ("0898-83661234", "089*****1234"),
        ("（0898）83661234", "089*****1234"),
        ("联系电话：83661234", "联系电话：****1234"),
        ("4690291980010100241", "469029*********0241"),  # one digit too many: still an ID
        ("4.69029e+17", "4.69029e+17"),  # Excel's own display: already unreadable
        ("4.69029E+17", "4.69029E+17"),
        ("4.6902919800101e+17", "4.69029e+17"),  # the digits Excel kept
        (
            "身份证号被 Excel 存成了数字（4.6902919800101e+17）",
            "身份证号被 Excel 存成了数字（4.69029e+17）",
        ),
    ],
)
def test_ids_and_phones_are_masked(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2013-04-02",
        "2013年4月2日",
        "5,000.00",
        "0.5万元",
        "H001",
        "C001",
        "469029",
        "91469029MA5T00001X",  # a credit code is not personal data
        "走访日期: 2013-02-30；户编号: H003",
        "41366",
    ],
)
def test_other_values_are_left_alone(text):
    assert mask_text(text) == text


_SEPARATORS = st.sampled_from(["", " ", "，", "-", "电话", "身份证", "x", "X", "a", "。"])


@given(
    st.lists(
        st.one_of(
            st.from_regex(r"\A\d{1,25}\Z"),
            st.from_regex(r"\A1[3-9]\d{9}\Z"),
            st.from_regex(r"\A\d{17}[\dXx]\Z"),
            _SEPARATORS,
        ),
        max_size=8,
    )
)
def test_no_long_digit_run_survives(parts):
    out = mask_text("".join(parts))
    assert not re.search(r"\d{11}", out)
    assert mask_text(out) == out  # masking twice changes nothing
