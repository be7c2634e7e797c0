"""What every page of the dashboard shares: the settings, the sidebar's filters, the stamp,
the line that says which filters a page applies, and the look of tables and charts."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from outreach.dashboard import data
from outreach.settings import Settings, load_settings

ALL = "全部"  # the filters' first choice: no filter
FILTER_KEYS = ("township", "quarter", "provider")
FILTER_NAMES = {"township": "乡镇", "quarter": "季度", "provider": "报送单位"}
# Chinese glyphs come from whichever of these the viewer's machine has; Vega draws charts on a
# canvas with this font list (Debian: fonts-noto-cjk; Windows: Microsoft YaHei).
CJK_FONT = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
    '"WenQuanYi Micro Hei", sans-serif'
)


def settings() -> Settings:
    return load_settings()


def db() -> Path:
    return settings().published_db


def filters() -> data.Filters:
    """The sidebar's choices (drawn by app.py before the page runs)."""
    chosen = {k: st.session_state.get(k, ALL) for k in FILTER_KEYS}
    return data.Filters(**{k: (None if v in (None, ALL) else v) for k, v in chosen.items()})


def scope(*applied: str) -> data.Filters:
    """Say under the title which of the sidebar's filters this page applies; return them."""
    f = filters()
    shown = []
    for key in FILTER_KEYS:
        value = getattr(f, key)
        if key not in applied:
            continue
        label = data.provider_label(value) if key == "provider" and value else value
        shown.append(f"{FILTER_NAMES[key]}：{label or ALL}")
    ignored = [FILTER_NAMES[k] for k in FILTER_KEYS if k not in applied]
    line = "本页筛选　" + "　".join(shown) if shown else "本页显示全县全部数据"
    if ignored and shown:
        line += "（不按" + "、".join(ignored) + "筛选）"
    elif ignored:
        line += "，不受侧栏筛选影响"
    st.caption(line)
    return data.Filters(**{k: (getattr(f, k) if k in applied else None) for k in FILTER_KEYS})


def table(df: pd.DataFrame, formats: dict[str, str] | None = None) -> None:
    """A static table: every figure is in the page's text (and in a screen reader's)."""
    styled = df.style.format(formats or {}, na_rep="—")
    st.table(styled, hide_index=True)


def chart(c: alt.Chart | alt.LayerChart) -> None:
    # a vertical axis title reads sideways in Chinese: it goes above the axis, horizontal
    c = c.configure(font=CJK_FONT)
    c = c.configure_axisY(titleAngle=0, titleAlign="left", titleX=-30, titleY=-14)
    st.altair_chart(c, width="stretch")


def nothing() -> None:
    st.info("所选范围内没有数据。")


def wan(yuan: float, decimals: int = 2) -> str:
    """5170000 -> '517.00 万元'."""
    return f"{yuan / 10000:,.{decimals}f} 万元"
