"""Keyed tokens and masks for ID and phone numbers, and the one definition of what an ID or a
phone number written in free text looks like.

The original numbers stay in the raw layer only. Everything downstream joins on the token (an
HMAC with the deployment's key, so it cannot be reversed by hashing every possible ID) and shows
the mask (``469029********0024``, ``138****3210``).

Free text (notes, names, file and sheet names) may hold a number in any spelling a person types:
``138.0013.8000``, ``+86—138—0013—8000``, ``469029.19800101.0024``, ``138_0013_8000``,
``一三八〇〇一三八〇〇〇``, full-width digits. The patterns below find them all: a digit is an
ASCII, full-width or Chinese numeral (〇/零, and 幺 for one as read aloud), with at most one
separator (any space, ``.``, ``_``, a dash or hyphen of any width, ``·``) between two digits. A
number counts where no ASCII or full-width digit touches it (a longer run of digits, a run id
or a timestamp, is not a phone number). The patterns are RE2 as much as Python: the SQL macros
of ``dbt_project/macros/scrub_pii.sql`` hold the same strings (``tests/unit/test_pii_patterns.py``
holds them equal), :func:`mask_text` masks what they find for people, and the gate's scan
(``outreach.checks.gate``) searches the published warehouse with them.
"""

from __future__ import annotations

import base64
import hmac
import re


def token(value: str | None, key: bytes) -> str | None:
    """26 characters of base32 (a-z, 2-7): never a run of digits that could pass for an ID or a
    phone number in the PII scan of the published warehouse."""
    if value is None:
        return None
    digest = hmac.digest(key, value.encode("utf-8"), "sha256")  # one call into OpenSSL
    return base64.b32encode(digest[:16]).decode("ascii").rstrip("=").lower()


def mask(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) == 18:
        return value[:6] + "*" * 8 + value[-4:]
    if len(value) >= 7:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    return "*" * len(value)


DIGIT_CHARS = "0-9０-９〇零一二三四五六七八九幺"
DIGIT = f"[{DIGIT_CHARS}]"
# whitespace written out: RE2's \\s is ASCII only, Python's is not (U+3000 is the ideographic
# space, U+00A0 a no-break space)
SEPARATOR = "[ \\t\\n\\r\\f\\v\u00a0\u3000.．_＿\\-‐‑‒–—―－﹣−·・]"
# an 18-character resident ID: 17 digits, then a digit or X
ID_NUMBER = f"{DIGIT}(?:{SEPARATOR}?{DIGIT}){{16}}{SEPARATOR}?[XxＸｘ{DIGIT_CHARS}]"
# a mobile number: 1, then 3 to 9, then nine digits; the country code before it is part of it
MOBILE_PREFIX = f"[+＋]?(?:00)?86{SEPARATOR}?"
MOBILE_NUMBER = (
    f"(?:{MOBILE_PREFIX})?[1１一幺]{SEPARATOR}?[3-9３-９三四五六七八九](?:{SEPARATOR}?{DIGIT}){{9}}"
)
# no ASCII or full-width digit may touch a number found in text (RE2 has no look-around)
EDGE = "[^0-9０-９]"
ID_IN_TEXT = f"(^|{EDGE})({ID_NUMBER})({EDGE}|$)"
MOBILE_IN_TEXT = f"(^|{EDGE})({MOBILE_NUMBER})({EDGE}|$)"
# either, in one pass (the gate's scan of every text column)
PII_IN_TEXT = f"(^|{EDGE})({ID_NUMBER}|{MOBILE_NUMBER})({EDGE}|$)"

_NUMERALS = str.maketrans(
    "０１２３４５６７８９〇零一二三四五六七八九幺Ｘｘ",
    "0123456789001234567891Xx",
)
_ANY_ID = re.compile(f"(?<![0-9０-９]){ID_NUMBER}(?![0-9０-９])")
_ANY_MOBILE = re.compile(
    f"(?<![0-9０-９])(?P<prefix>{MOBILE_PREFIX})?"
    f"(?P<number>[1１一幺]{SEPARATOR}?[3-9３-９三四五六七八九](?:{SEPARATOR}?{DIGIT}){{9}})"
    "(?![0-9０-９])"
)


def written_digits(text: str) -> str:
    """The digits (and an ID's X) of a number as written in any of the forms above."""
    return re.sub(r"[^0-9Xx]", "", text.translate(_NUMERALS))


# An 18-char resident ID (17 digits + digit/X), or any other run of 11+ digits: phones, IDs
# with a digit too many or too few, bank cards. No such run is ever shown whole.
_LONG_DIGITS = re.compile(r"(?<!\d)(\d{17}[Xx]|\d{11,})(?!\d)")
# Mobiles and landlines written with separators: 138-1234-3210, 138 1234 3210, 0898-83661234,
# (0898)83661234. Masked on their digits.
_MOBILE_SPACED = re.compile(r"(?<!\d)1[3-9]\d[-\s]\d{4}[-\s]?\d{4}(?!\d)")
_LANDLINE = re.compile(r"(?<![\d(（])[(（]?0\d{2,3}[)）]?[-－—\s]?\d{7,8}(?!\d)")
# A bare local number is only a phone when the text says so: 电话：83661234.
_LOCAL_PHONE = re.compile(r"(电话|手机|座机|联系方式|tel)([:：\s]*)(\d{7,8})(?!\d)", re.IGNORECASE)
# A number Excel turned into scientific notation keeps as many digits as it was saved with;
# show six significant digits, as Excel itself displays it (4.69029e+17).
_SCIENTIFIC = re.compile(r"(?<![\d.])\d\.\d{6,}[eE][+]?\d{1,2}(?!\d)")


def _mask_digits(digits: str) -> str:
    if len(digits) >= 15:
        # resident ID as mask does it, and ID-like runs: first 6, last 4
        return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]
    if len(digits) >= 11:
        # mobile 138****3210 (mask), landline with area code 089*****1234
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * (len(digits) - 4) + digits[-4:]


def _mask_separated(match: re.Match) -> str:
    return _mask_digits(re.sub(r"\D", "", match.group(0)))


def mask_text(text: str) -> str:
    """``text`` with every ID and phone number in it masked.

    ``469029198001010024`` -> ``469029********0024`` (also inside longer text, and in any
    spelling: ``469029.19800101.0024``); ``13812343210``, ``一三八一二三四三二一〇`` and
    ``+86—138—1234—3210`` -> ``138****3210`` (the country code stays); ``0898-83661234`` ->
    ``089*****1234``; ``4.6902919800101e+17`` -> ``4.69029e+17`` (``4.69029e+17`` stays).
    """
    if not text:
        return text
    text = _SCIENTIFIC.sub(lambda m: f"{float(m.group(0)):.6g}", text)
    text = _ANY_ID.sub(lambda m: _mask_digits(written_digits(m.group(0))), text)
    text = _ANY_MOBILE.sub(
        lambda m: (m.group("prefix") or "") + _mask_digits(written_digits(m.group("number"))),
        text,
    )
    text = _MOBILE_SPACED.sub(_mask_separated, text)
    text = _LANDLINE.sub(_mask_separated, text)
    text = _LONG_DIGITS.sub(lambda m: _mask_digits(m.group(0)), text)
    return _LOCAL_PHONE.sub(lambda m: m.group(1) + m.group(2) + _mask_digits(m.group(3)), text)
