"""帮扶项目: marts.rpt_projects by type, status and village."""

import altair as alt
import streamlit as st

from outreach.dashboard import data, ui

STATUS_ORDER = ["筹备", "在建", "完工", "运营", "终止"]

st.title("帮扶项目")
f = ui.scope("township", "quarter", "provider")
db = ui.db()
by_type = data.projects_by_type_status(db, f)
if by_type.empty:
    ui.nothing()
    st.stop()

a, b, c, d = st.columns(4)
a.metric("项目数", f"{int(by_type['项目数'].sum()):,}", border=True)
b.metric(
    "专业合作社",
    f"{int(by_type.loc[by_type['项目类型'] == '专业合作社', '项目数'].sum()):,}",
    border=True,
)
c.metric("造血型项目", f"{int(by_type['造血型项目数'].sum()):,}", border=True)
planned = float(by_type["计划投资元"].sum())
d.metric("计划投资", ui.wan(planned, 0), border=True, help=f"{planned:,.2f} 元")
st.caption("按开工日期计入季度。")

st.subheader("按类型和状态")
ui.chart(
    alt.Chart(by_type)
    .mark_bar()
    .encode(
        x=alt.X("sum(项目数):Q", title="项目数"),
        y=alt.Y("项目类型:N", title=None, sort="-x"),
        color=alt.Color("状态:N", title="状态", sort=STATUS_ORDER),
        order=alt.Order("状态排序:Q"),
        tooltip=["项目类型", "状态", "项目数", "造血型项目数"],
    )
    .transform_calculate(状态排序=f"indexof({STATUS_ORDER!r}, datum.状态)")
)
pivot = (
    by_type.pivot_table(index="项目类型", columns="状态", values="项目数", aggfunc="sum")
    .reindex(columns=[s for s in STATUS_ORDER if s in set(by_type["状态"])])
    .fillna(0)
    .astype(int)
)
pivot["合计"] = pivot.sum(axis=1)
ui.table(pivot.sort_values("合计", ascending=False).reset_index())

st.subheader("按村委会")
by_village = data.projects_by_village(db, f)
top = by_village.head(20)
ui.chart(
    alt.Chart(top.assign(村=top["乡镇"] + " " + top["村委会"]))
    .mark_bar()
    .encode(
        x=alt.X("项目数:Q", title="项目数"),
        y=alt.Y("村:N", title=None, sort="-x"),
        tooltip=["乡镇", "村委会", "项目数", "专业合作社", "造血型项目", "计划投资万元"],
    )
    .properties(title="项目最多的20个村委会")
)
ui.grid(by_village)
