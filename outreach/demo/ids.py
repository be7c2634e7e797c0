"""Identifiers with real check characters: resident IDs (GB 11643, ISO 7064 MOD 11-2),
unified social credit codes (GB 32100) and mobile numbers."""

from __future__ import annotations

import datetime as dt
import random

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def resident_id_check(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def resident_id(area: str, birth: dt.date, seq: int) -> str:
    """18-char resident ID: area code, birth date, 3-digit sequence (odd = male), check char."""
    first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
    return first17 + resident_id_check(first17)


def is_valid_resident_id(s: str) -> bool:
    if len(s) != 18 or not s[:17].isdigit():
        return False
    try:
        dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return s[17].upper() == resident_id_check(s[:17])


_CC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_code_check(first8: str) -> str:
    def val(c: str) -> int:
        return int(c) if c.isdigit() else ord(c) - 55

    r = 11 - sum(val(c) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True)) % 11
    return "X" if r == 10 else ("0" if r == 11 else str(r))


def credit_code(area: str, body4: str) -> str:
    """Unified social credit code 91<area6><org code 9><check>, org code "MA5T" + body4 + check.

    The org-code part always holds letters, so a credit code never looks like a resident ID."""
    org8 = "MA5T" + body4
    first17 = "91" + area + org8 + _org_code_check(org8)
    total = sum(_CC_CHARS.index(c) * w for c, w in zip(first17, _CC_WEIGHTS, strict=True))
    return first17 + _CC_CHARS[(31 - total % 31) % 31]


def is_valid_credit_code(s: str) -> bool:
    if len(s) != 18 or any(c not in _CC_CHARS for c in s):
        return False
    total = sum(_CC_CHARS.index(c) * w for c, w in zip(s[:17], _CC_WEIGHTS, strict=True))
    return s[17] == _CC_CHARS[(31 - total % 31) % 31]


_MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "180",
    "186",
    "187",
    "189",
)


def mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
