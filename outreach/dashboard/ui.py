"""What every page of the dashboard shares: the settings, the sidebar's filters, the stamp,
the line that says which filters a page applies, and the look of tables and charts."""

from __future__ import annotations

import re
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from outreach.dashboard import data
from outreach.portal.accounts import SESSION_COOKIE, Account, signed_in
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


def session_cookie() -> str | None:
    """The portal's session cookie as the browser sent it to this server."""
    value = st.context.cookies.get(SESSION_COOKIE)
    return value if isinstance(value, str) else None  # none outside a browser's session


def viewer(settings: Settings) -> Account | None:
    """The department account signed in at the portal that is looking, else None: the dashboard
    shows the published names of household heads, so only a department (admin) account past its
    first-password change sees it. Checked on every run of the script (every click), so signing
    out at the portal, a reset or a disable ends it at the next click."""
    session = signed_in(settings, session_cookie())
    if session is None or not session[0].is_admin or session[0].must_change:
        return None
    return session[0]


def portal_url(settings: Settings) -> str:
    """The portal on the host name this page was reached by (the session cookie is the host's)."""
    from urllib.parse import urlsplit

    here = urlsplit(st.context.url or "")
    host = here.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{here.scheme or 'http'}://{host}:{settings.portal_port}/login"


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


# Streamlit reads every cell of st.table as Markdown (links, images, LaTeX, colours, icons):
# the text a sender wrote must show as the characters it is. (Emphasis, * and _, is harmless
# and left alone: rule ids such as visit_unpaired read as they are.)
_MARKUP = re.compile(r"([\\`\[\]<>!~$|&{}])")
_LINE_START = re.compile(r"^(\s*)(\d+(?=[.)])|)([#>+\-=.)])", re.MULTILINE)
_WORD_JOINER = "\u2060"  # zero-width: breaks :icon:, :colour[...] and http:// autolinks unseen


def plain(text: str) -> str:
    """``text`` as Markdown that shows exactly ``text``: no link, image, formula, colour or icon."""
    text = _MARKUP.sub(r"\\\1", text)
    text = _LINE_START.sub(lambda m: m.group(1) + m.group(2) + "\\" + m.group(3), text)
    return text.replace(":", ":" + _WORD_JOINER).replace("www.", "www" + _WORD_JOINER + ".")


def table(df: pd.DataFrame, formats: dict[str, str] | None = None) -> None:
    """A static table: every figure is in the page's text (and in a screen reader's); text
    from the senders is shown as plain text (:func:`plain`)."""
    shown = df.copy()
    for column in shown.columns:  # text columns, whatever pandas calls their dtype
        if not pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: plain(v) if isinstance(v, str) else v)
    styled = shown.style.format(formats or {}, na_rep="—")
    st.table(styled, hide_index=True)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_for_download(value: object) -> object:
    """A cell that a spreadsheet would run as a formula (``=HYPERLINK(…)``, ``+``, ``-``,
    ``@``, a tab or a carriage return first) gets a leading apostrophe: it stays text when the
    table's "Download as CSV" is opened in Excel or WPS."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def grid(df: pd.DataFrame) -> None:
    """An interactive table (sorting, search, download as CSV): no Markdown is rendered there,
    and what is downloaded cannot run as a formula (:func:`safe_for_download`)."""
    shown = df.copy()
    for column in shown.columns:
        if not pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(safe_for_download)
    st.dataframe(shown, hide_index=True, width="stretch")


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
