"""帮扶资金: marts.rpt_funding by source, township and month."""

import altair as alt
import streamlit as st

from outreach.dashboard import data, ui

st.title("帮扶资金")
f = ui.scope("township", "quarter", "provider")
db = ui.db()
by_source = data.funding_by_source(db, f)
if by_source.empty:
    ui.nothing()
    st.stop()

total = float(by_source["金额元"].sum())
a, b, c = st.columns(3)
a.metric("筹措资金", ui.wan(total), border=True, help=f"{total:,.2f} 元")
b.metric("资金笔数", f"{int(by_source['笔数'].sum()):,}", border=True)
c.metric("来源类型", f"{len(by_source)}", border=True)
st.caption(f"合计 {total:,.2f} 元（按到位日期计入季度）。")

left, right = st.columns(2)
with left:
    st.subheader("按来源")
    ui.chart(
        alt.Chart(by_source.assign(万元=by_source["金额元"] / 10000))
        .mark_bar()
        .encode(
            x=alt.X("万元:Q", title="金额（万元）"),
            y=alt.Y("来源类型:N", title=None, sort="-x"),
            tooltip=["来源类型", "笔数", alt.Tooltip("万元:Q", format=",.2f")],
        )
    )
with right:
    by_township = data.funding_by_township(db, f)
    st.subheader("按乡镇")
    ui.chart(
        alt.Chart(by_township.assign(万元=by_township["金额元"] / 10000))
        .mark_bar()
        .encode(
            x=alt.X("万元:Q", title="金额（万元）"),
            y=alt.Y("乡镇:N", title=None, sort=list(by_township["乡镇"])),
            tooltip=["乡镇", "笔数", alt.Tooltip("万元:Q", format=",.2f")],
        )
    )

st.subheader("按月份")
by_month = data.funding_by_month(db, f)
ui.chart(
    alt.Chart(by_month.assign(万元=by_month["金额元"] / 10000))
    .mark_bar()
    .encode(
        x=alt.X("月份:O", title="月份"),
        y=alt.Y("sum(万元):Q", title="金额（万元）"),
        color=alt.Color("来源类型:N", title="来源类型"),
        tooltip=["月份", "来源类型", "笔数", alt.Tooltip("万元:Q", format=",.2f")],
    )
    .properties(height=320)
)

left, right = st.columns(2)
with left:
    ui.table(
        by_source.assign(金额万元=by_source["金额元"] / 10000).drop(columns="金额元"),
        {"金额万元": "{:,.2f}"},
    )
with right:
    ui.table(
        by_township.assign(金额万元=by_township["金额元"] / 10000).drop(columns="金额元"),
        {"金额万元": "{:,.2f}"},
    )
st.caption(
    "“县级（未落到乡镇）”是县级统筹、未落到具体乡镇的资金或项目。单笔超过100万元的行见“数据质量”。"
)
