"""近期安排: what is due this week, this month and this quarter (the calendar's plans, from
the warehouse's as-of date), and when each plan is made next."""

import datetime as dt

import streamlit as st

from outreach.dashboard import data, ui
from outreach.outputs.calendar_dates import KIND_NAMES, next_due
from outreach.outputs.followup_lists import quarter_label

st.title("近期安排")
ui.scope()
db = ui.db()
as_of = data.publication(db)["as_of"]
talks, meeting, visits = data.talks_due(db), data.meeting_due(db), data.visits_due(db)

a, b, c = st.columns(3)
a.metric("本年度剩余应谈（人）", f"{int(talks['剩余应谈人数'].sum()):,}", border=True)
b.metric(
    "下次一月一议议题（件）",
    f"{int(meeting['议题数'].sum()):,}",
    border=True,
    help="上次会议以来新反映的问题，以及此前反映、仍未办结的问题",
)
c.metric("本季度尚未走访结对", f"{int(visits['尚未走访结对'].sum()):,}", border=True)
upcoming = next_due(as_of + dt.timedelta(days=1))
st.caption(
    "下次生成："
    + "；".join(f"{KIND_NAMES[k]} {d.isoformat()}" for k, d in upcoming.items())
    + "（`outreach calendar`，每天 07:00 由日历任务生成并发送）"
)

st.subheader("本周：拉家常约谈（每周二）")
if talks.empty:
    st.info("本年度名册中的干部均已约谈。")
else:
    ui.table(talks)
    st.caption("正科由组织部长、副科由副部长、一般干部由干部科长约谈，须谈及六必谈全部内容。")

st.subheader("本月：一月一议（每月最后一个星期五）")
if meeting.empty:
    st.info("下次会议暂无议题。")
else:
    st.markdown(f"会议日期 **{meeting['会议日期'].iloc[0]:%Y-%m-%d}**")
    ui.table(meeting.drop(columns=["会议日期"]))
    st.caption("涉及多个部门的问题由部长牵头；一个乡镇或一个部门能解决的由责任人跟踪。")

st.subheader("本季度：结对走访")
if visits.empty:
    st.info("本季度应走访的结对均已走访。")
else:
    quarter = visits["季度"].iloc[0]
    st.markdown(
        f"{quarter_label(quarter)}还剩 **{int(visits['剩余天数'].iloc[0])}** 天；"
        "季度结束前15天起，每周一向各乡镇发送走访提醒。"
    )
    ui.table(visits.drop(columns=["季度", "剩余天数"]))
