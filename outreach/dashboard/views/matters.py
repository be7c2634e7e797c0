"""一月一议: matters raised and closed per month, and how long they took to close."""

import altair as alt
import streamlit as st

from outreach.dashboard import data, ui

st.title("一月一议")
f = ui.scope("township", "quarter", "provider")
db = ui.db()
by_category = data.matters_by_category(db, f)
if by_category.empty:
    ui.nothing()
    st.stop()
by_month = data.matters_by_month(db, f)
days = data.matters_days_to_close(db, f)

a, b, c, d = st.columns(4)
a.metric("提出问题", f"{int(by_category['提出件数'].sum()):,} 件", border=True)
b.metric("已办结", f"{int(by_category['已办结'].sum()):,} 件", border=True)
c.metric("办理中或待议", f"{int(by_category[['办理中', '待议']].sum().sum()):,} 件", border=True)
closed_days = days[days["办结用时"] != "日期有误"]
d.metric(
    "办结天数中位数",
    f"{by_month['办结天数中位数'].median():.0f} 天" if not closed_days.empty else "—",
    border=True,
    help="各月办结天数中位数的中位数；办结日期早于提出日期的行不计",
)
st.caption("按提出日期计入季度；办结按办结日期所在月份统计。")

st.subheader("每月提出与办结")
long = by_month.melt(
    id_vars="月份", value_vars=["提出件数", "办结件数"], var_name="口径", value_name="件数"
)
ui.chart(
    alt.Chart(long)
    .mark_line(point=True)
    .encode(
        x=alt.X("月份:O", title="月份"),
        y=alt.Y("件数:Q", title="件数"),
        color=alt.Color("口径:N", title=None),
        tooltip=["月份", "口径", "件数"],
    )
    .properties(height=300)
)

left, right = st.columns(2)
with left:
    st.subheader("办结用时")
    ui.chart(
        alt.Chart(days)
        .mark_bar()
        .encode(
            x=alt.X("办结用时:N", title=None, sort=data.DAYS_BUCKETS, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("件数:Q", title="件数"),
            tooltip=["办结用时", "件数"],
        )
    )
with right:
    st.subheader("每月办结天数（中位数）")
    ui.chart(
        alt.Chart(by_month.dropna(subset=["办结天数中位数"]))
        .mark_line(point=True)
        .encode(
            x=alt.X("月份:O", title="办结月份"),
            y=alt.Y("办结天数中位数:Q", title="天"),
            tooltip=["月份", "办结件数", "办结天数中位数", "平均办结天数"],
        )
    )

st.subheader("按类别")
ui.table(by_category, {"办结天数中位数": "{:.0f}"})
