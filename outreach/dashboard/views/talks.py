"""拉家常约谈: talks by year, and how many of the roster's cadres were talked with."""

import altair as alt
import streamlit as st

from outreach.dashboard import data, ui

st.title("拉家常约谈")
ui.scope()
db = ui.db()
years = data.talks_by_year(db)
if years.empty:
    ui.nothing()
    st.stop()

a, b, c = st.columns(3)
a.metric("约谈次数", f"{int(years['约谈次数'].sum()):,}", border=True)
b.metric("收集意见建议", f"{int(years['收集意见条数'].sum()):,} 条", border=True)
c.metric("年度未约谈（干部×年度）", f"{int(years['未约谈干部数'].fillna(0).sum()):,}", border=True)

st.subheader("各年度覆盖")
KINDS = ["已谈", "未谈", "年内尚未约谈"]
bars = years.assign(
    已谈=years["应谈已谈"],
    未谈=years["应谈干部数"] - years["应谈已谈"],
).melt(
    id_vars=["年度", "年度已结束"], value_vars=["已谈", "未谈"], var_name="情况", value_name="人数"
)
# a year that has not ended owes nothing yet: its cadres not yet talked with are not "missed"
bars.loc[(bars["情况"] == "未谈") & ~bars["年度已结束"].astype(bool), "情况"] = "年内尚未约谈"
ui.chart(
    alt.Chart(bars.drop(columns="年度已结束"))
    .mark_bar()
    .encode(
        x=alt.X("年度:O", title="年度", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("人数:Q", title="应谈干部（人）"),
        color=alt.Color(
            "情况:N",
            title=None,
            scale=alt.Scale(domain=KINDS, range=["#2e7d32", "#c62828", "#bdbdbd"]),
        ),
        order=alt.Order("排序:Q"),
        tooltip=["年度", "情况", "人数"],
    )
    .transform_calculate(排序=f"indexof({KINDS!r}, datum.情况)")
    .properties(height=280)
)
ui.table(
    years.assign(年度=years["年度"].astype(str)).drop(columns="年度已结束"),
    {"覆盖率（%）": "{:.2f}", "未约谈干部数": "{:.0f}", "收集意见条数": "{:.0f}"},
)
open_years = years.loc[~years["年度已结束"].astype(bool), "年度"].tolist()
st.caption(
    "应谈干部：干部名册中职级为正科、副科、一般干部的人员，每年至少约谈一次。"
    + (f"{'、'.join(map(str, open_years))}年度尚未结束，不计未约谈。" if open_years else "")
)

st.subheader("约谈人")
ui.chart(
    alt.Chart(data.talks_by_role(db))
    .mark_bar()
    .encode(
        x=alt.X("年度:O", title="年度", axis=alt.Axis(labelAngle=0)),
        xOffset="约谈人:N",
        y=alt.Y("约谈次数:Q", title="约谈次数"),
        color=alt.Color("约谈人:N", title="约谈人"),
        tooltip=["年度", "约谈人", "约谈次数"],
    )
    .properties(height=260)
)
