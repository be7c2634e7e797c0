"""The dashboard's entry point (``streamlit run``; ``make dashboard``).

Every run of this script (every click) draws the sidebar's filters and the stamp, then the
chosen page. Nothing is cached and no connection outlives its query (``data.py``), so a page
shows the file that is published at the moment it is drawn, even just after the night run.
"""

from __future__ import annotations

import streamlit as st

from outreach.dashboard import data, ui
from outreach.settings import DEFAULT_TIMEZONE

st.set_page_config(page_title="联系服务群众工作看板", page_icon="📊", layout="wide")

PAGES = [
    st.Page("views/overview.py", title="总体指标", icon=":material/flag:", default=True),
    st.Page(
        "views/coverage.py", title="季度走访覆盖", icon=":material/grid_on:", url_path="coverage"
    ),
    st.Page("views/township.py", title="乡镇明细", icon=":material/search:", url_path="township"),
    st.Page("views/funding.py", title="帮扶资金", icon=":material/payments:", url_path="funding"),
    st.Page(
        "views/projects.py", title="帮扶项目", icon=":material/construction:", url_path="projects"
    ),
    st.Page("views/matters.py", title="一月一议", icon=":material/forum:", url_path="matters"),
    st.Page(
        "views/talks.py", title="拉家常约谈", icon=":material/record_voice_over:", url_path="talks"
    ),
    st.Page("views/quality.py", title="数据质量", icon=":material/fact_check:", url_path="quality"),
    st.Page("views/due.py", title="近期安排", icon=":material/event:", url_path="due"),
]

settings = ui.settings()
if ui.viewer(settings) is None:
    st.title("联系服务群众工作看板")
    st.warning(
        "看板显示各单位报送的户主姓名等信息，仅对县委组织部账号开放。"
        f"请先在[报送门户]({ui.portal_url(settings)})用组织部账号登录，然后刷新本页。"
        "乡镇和单位账号请在报送门户查看本单位的清单。"
    )
    st.stop()
db = settings.published_db
try:
    stamp = data.publication(db)
    township_choices = data.townships(db)
    quarter_choices = data.quarters(db)
    county = data.county_name(db)
except data.NotPublished:
    st.title("联系服务群众工作看板")
    st.error(
        f"尚未发布数据仓库（{db}）。请先运行一次 `make run`（或等待夜间任务完成），然后刷新本页。"
    )
    st.stop()

page = st.navigation(PAGES)

with st.sidebar:
    st.header("筛选")
    st.selectbox("乡镇", [ui.ALL, *township_choices], key="township", bind="query-params")
    st.selectbox("季度", [ui.ALL, *quarter_choices], key="quarter", bind="query-params")
    st.selectbox(
        "报送单位",
        [ui.ALL, *data.PROVIDER_NAMES],
        format_func=lambda p: ui.ALL if p == ui.ALL else data.provider_label(p),
        key="provider",
        bind="query-params",
    )
    st.button(
        "刷新数据", icon=":material/refresh:", help="重新读取已发布的数据仓库", width="stretch"
    )

published = stamp["published_at"].astimezone(settings.tz)
zone = "北京时间" if settings.timezone == DEFAULT_TIMEZONE else settings.timezone
st.markdown(
    f"**{county}** · 数据截至 **{stamp['as_of']:%Y-%m-%d}** · "
    f"数据最近发布 **{published:%Y-%m-%d %H:%M}**（{zone}）",
    help=f"运行编号 {stamp['run_id']}；数据来自 {db}（只读）",
)

page.run()
