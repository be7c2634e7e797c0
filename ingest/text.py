"""Text normalisation shared by header matching and cell values.

Partners type on every kind of machine: full-width letters and digits, ideographic spaces,
traditional characters, stray spaces. One canonical form makes them compare equal.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache


def _import_zhconv():
    """zhconv imports setuptools' pkg_resources (about a quarter of a second, in every sandbox
    worker) only to find its own dictionary file, and reads the file directly when that import
    fails. The import is refused for that one moment unless pkg_resources is already loaded."""
    if "pkg_resources" in sys.modules or "zhconv" in sys.modules:
        import zhconv

        return zhconv
    sys.modules["pkg_resources"] = None  # makes `from pkg_resources import ...` an ImportError
    try:
        import zhconv
    finally:
        del sys.modules["pkg_resources"]
    return zhconv


zhconv = _import_zhconv()


def _zh_cn_first_chars() -> frozenset[str]:
    """Every character a word of zhconv's zh-cn table starts with. ``zhconv.convert`` copies a
    character it cannot start a word with, so a text none of whose characters is here, or an
    ASCII text (no word of the table is all ASCII), converts to itself: no need to run its
    pure-Python scan (a province's names and codes are mostly distinct, each scanned once)."""
    try:
        table = zhconv.zhconv.getdict("zh-cn")
        if any(word.isascii() for word in table):  # another zhconv: no shortcut for ASCII
            return frozenset()
        return frozenset(word[0] for word in table)
    except AttributeError:  # another zhconv's internals: always convert
        return frozenset()


_ZH_CN_FIRST = _zh_cn_first_chars()
_ASCII_SAFE = bool(_ZH_CN_FIRST)

_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=200_000)
def clean(value: str) -> str:
    """NFKC (full-width -> half-width, U+3000 -> space), simplified Chinese, trimmed,
    inner runs of white space folded to one space."""
    text = unicodedata.normalize("NFKC", value)
    if not (_ASCII_SAFE and (text.isascii() or _ZH_CN_FIRST.isdisjoint(text))):
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
