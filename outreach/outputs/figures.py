"""How a figure is printed, given its kind (``marts.rpt_headlines.kind``: count, money, rate).

What a figure is, its label and its kind are the warehouse's (``rpt_headlines``); this is only
the printing, shared by the dashboard, the run report and the command line."""

from __future__ import annotations

from typing import Any


def format_figure(kind: str | None, value: Any) -> str:
    """``count`` 1,156; ``money`` 5,170,000 元 (or 5,170,000.50 元); ``rate`` 98.53%."""
    if value is None:
        return "—"
    if kind == "rate":
        return f"{float(value) * 100:.2f}%"
    if kind == "money":
        number = float(value)
        return f"{number:,.0f} 元" if number.is_integer() else f"{number:,.2f} 元"
    if kind == "count":
        return f"{int(value):,}"
    number = float(value)
    return f"{int(number):,}" if number.is_integer() else f"{number:,.4f}"
