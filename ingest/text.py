"""Text normalisation shared by header matching and cell values.

Partners type on every kind of machine: full-width letters and digits, ideographic spaces,
traditional characters, stray spaces. One canonical form makes them compare equal.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import zhconv

_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=200_000)
def clean(value: str) -> str:
    """NFKC (full-width -> half-width, U+3000 -> space), simplified Chinese, trimmed,
    inner runs of white space folded to one space."""
    text = unicodedata.normalize("NFKC", value)
    text = zhconv.convert(text, "zh-cn")
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=200_000)
def compact(value: str) -> str:
    """``clean`` without any white space: for names, codes and places (``张　三`` = ``张三``)."""
    return _SPACES.sub("", clean(value))


def cell_text(value: object) -> str:
    """A cell as text, for matching: numbers that are whole print without '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
