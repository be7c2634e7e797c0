"""数据质量: marts.dq_history over as-of dates, and the newest date's failing rules."""

import altair as alt
import streamlit as st

from outreach.dashboard import data, ui

st.title("数据质量")
ui.scope()
db = ui.db()
trend = data.dq_trend(db)
if trend.empty:
    ui.nothing()
    st.stop()
latest_date = trend["as_of"].max()
latest = trend[trend["as_of"] == latest_date].set_index("severity")


def count(severity: str) -> int:
    return int(latest["failures"].get(severity, 0))


a, b, c = st.columns(3)
a.metric(data.SEVERITY_LABELS["error"], f"{count('error'):,}", border=True)
b.metric(data.SEVERITY_LABELS["warning"], f"{count('warning'):,}", border=True)
c.metric(data.SEVERITY_LABELS["finding"], f"{count('finding'):,}", border=True)
st.caption(
    f"截至 {latest_date:%Y-%m-%d} 的检查结果。错误会阻止发布；警告是报送单位发来的问题，"
    "已随退回清单发回；履职提醒是未完成的走访、约谈和组织生活。"
)

st.subheader("历次检查趋势")
ui.chart(
    alt.Chart(trend)
    .mark_line(point=True)
    .encode(
        x=alt.X("as_of:T", title="数据日期", axis=alt.Axis(format="%Y-%m-%d")),
        y=alt.Y("failures:Q", title="条数"),
        color=alt.Color("级别:N", title=None),
        tooltip=[
            alt.Tooltip("as_of:T", title="数据日期", format="%Y-%m-%d"),
            "级别",
            alt.Tooltip("failures:Q", title="条数"),
            alt.Tooltip("rules_failing:Q", title="未通过的规则数"),
        ],
    )
    .properties(height=280)
)

history = data.dq_rule_history(db)
if trend["as_of"].nunique() > 1:
    st.subheader("各规则趋势")
    ui.chart(
        alt.Chart(history)
        .mark_line(point=True)
        .encode(
            x=alt.X("as_of:T", title="数据日期", axis=alt.Axis(format="%Y-%m-%d")),
            y=alt.Y("failures:Q", title="条数"),
            color=alt.Color("说明:N", title=None),
            tooltip=["说明", "级别", alt.Tooltip("failures:Q", title="条数")],
        )
    )

st.subheader(f"{latest_date:%Y-%m-%d} 未通过的规则")
ui.table(data.dq_latest(db))
