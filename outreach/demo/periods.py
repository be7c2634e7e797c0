"""Calendar helpers shared by the demo truth: quarters, the 30-day rule, last Fridays, Excel serials.

The 30-day rule (docs/RULES.md, quarterly visit) lives here once: ``owed_quarters``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator

from outreach.outputs.calendar_dates import last_friday  # noqa: F401 (the meeting day, one definition)

EXCEL_EPOCH = dt.date(1899, 12, 30)  # Excel 1900 date system, incl. the 1900 leap-year bug offset


def quarter_of(d: dt.date) -> tuple[int, int]:
    return d.year, (d.month - 1) // 3 + 1


def quarter_label(year: int, q: int) -> str:
    return f"{year}Q{q}"


@functools.lru_cache(maxsize=256)
def quarter_bounds(year: int, q: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, 3 * q - 2, 1)
    end = dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)
    return start, end - dt.timedelta(days=1)


def quarters_between(first: dt.date, last: dt.date) -> Iterator[tuple[int, int]]:
    """Quarters (year, q) overlapping [first, last], in order."""
    y, q = quarter_of(first)
    ly, lq = quarter_of(last)
    while (y, q) <= (ly, lq):
        yield y, q
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)


def active_days(
    pair_start: dt.date, pair_end: dt.date | None, q_start: dt.date, q_end: dt.date
) -> int:
    """Days of [q_start, q_end] on which a pairing is active (inclusive on both ends).

    Active on day d: pair_start <= d and (pair_end is None or d <= pair_end).
    """
    first = max(pair_start, q_start)
    last = q_end if pair_end is None else min(pair_end, q_end)
    return max(0, (last - first).days + 1)


def owed_quarters(
    pair_start: dt.date, pair_end: dt.date | None, as_of: dt.date, min_days: int = 30
) -> list[tuple[int, int]]:
    """Quarters in which a pairing owes a visit: active >= min_days days in the quarter and the
    quarter ended on or before ``as_of``."""
    last = as_of if pair_end is None else min(pair_end, as_of)
    if last < pair_start:
        return []
    owed = []
    for y, q in quarters_between(pair_start, last):
        qs, qe = quarter_bounds(y, q)
        if qe <= as_of and active_days(pair_start, pair_end, qs, qe) >= min_days:
            owed.append((y, q))
    return owed


def excel_serial(d: dt.date) -> int:
    """Excel 1900-system serial number of a date (2013-04-02 -> 41366)."""
    return (d - EXCEL_EPOCH).days
