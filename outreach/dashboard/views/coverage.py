"""季度走访覆盖: pairing-quarters met ÷ owed, township × quarter, as a heat map."""

import altair as alt
import streamlit as st

from outreach.dashboard import data, ui

st.title("季度走访覆盖")
f = ui.scope("township", "quarter", "provider")
coverage = data.visit_coverage(ui.db(), f)
if coverage.empty:
    ui.nothing()
    st.stop()

owed, met = int(coverage["owed"].sum()), int(coverage["met"].sum())
a, b, c, d = st.columns(4)
a.metric("应走访户季", f"{owed:,}", border=True, help="结对关系在该季度持续30天及以上的结对户×季度")
b.metric("已走访户季", f"{met:,}", border=True)
c.metric("未走访户季", f"{owed - met:,}", border=True)
d.metric("完成率", f"{met / owed * 100:.2f}%", border=True)

order = list(dict.fromkeys(coverage.sort_values("township_code")["township_name"]))
cells = coverage.assign(
    完成率=coverage["rate"],
    标注=coverage["missed"].map(lambda n: f"缺{n}" if n else "✓"),
).rename(columns={"township_name": "乡镇", "quarter": "季度", "owed": "应走访", "missed": "未走访"})
base = alt.Chart(cells).encode(
    x=alt.X("季度:O", title="季度", axis=alt.Axis(labelAngle=0)),
    y=alt.Y("乡镇:N", title="乡镇", sort=order),
)
heat = base.mark_rect(stroke="white").encode(
    color=alt.Color(
        "完成率:Q",
        title="完成率",
        scale=alt.Scale(scheme="redyellowgreen", domain=[min(0.95, cells["完成率"].min()), 1]),
        legend=alt.Legend(format=".0%"),
    ),
    tooltip=[
        "乡镇",
        "季度",
        alt.Tooltip("应走访:Q", title="应走访户季"),
        alt.Tooltip("未走访:Q", title="未走访户季"),
        alt.Tooltip("完成率:Q", format=".2%"),
    ],
)
labels = base.mark_text(fontSize=12).encode(text="标注:N")
ui.chart((heat + labels).properties(height=alt.Step(34)))
st.caption(
    "颜色：该乡镇该季度已走访的结对户季 ÷ 应走访的结对户季；“缺n”为未走访的户季数，"
    "✓ 表示全部走访。把鼠标移到格子上可看数字。"
)

st.subheader("各乡镇合计")
by_township = (
    coverage.groupby(["township_code", "township_name"], as_index=False)[["owed", "met", "missed"]]
    .sum()
    .sort_values("township_code")
)
by_township["rate"] = by_township["met"] / by_township["owed"] * 100
ui.table(
    by_township.drop(columns="township_code").rename(
        columns={
            "township_name": "乡镇",
            "owed": "应走访户季",
            "met": "已走访户季",
            "missed": "未走访户季",
            "rate": "完成率（%）",
        }
    ),
    {"完成率（%）": "{:.2f}"},
)
st.page_link(
    "views/township.py", label="查看某个乡镇的村、干部和未走访结对户", icon=":material/search:"
)
