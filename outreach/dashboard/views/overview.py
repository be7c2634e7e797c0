"""总体指标: marts.program_headlines beside the figures the seed article reports."""

import streamlit as st

from outreach.dashboard import data, ui

st.title("总体指标：与报道对照")
ui.scope()
db = ui.db()
headlines = data.headlines(db)

columns = st.columns(4)
for i, row in enumerate(headlines.itertuples()):
    columns[i % 4].metric(
        row.指标,
        row.仓库数值,
        help=f"报道：{row.文章数值}" if row.文章数值 != "—" else "报道未给出此项",
        border=True,
    )

st.subheader("逐项对照")
ui.table(headlines[["指标", "仓库数值", "文章数值", "对照"]])
differing = headlines[headlines["对照"] == "不一致"]
if differing.empty:
    st.success("报道给出的各项数字与仓库计算结果一致（“130多件”按不少于130件对照）。")
else:
    st.warning("与报道不一致：" + "、".join(differing["指标"]))
st.caption(
    "口径见 docs/RULES.md“Headline figures”：截至数据日期的全部事实表；季度走访完成率 = "
    "已走访的结对户季 ÷ 应走访的结对户季。"
)

st.subheader("履职提醒")
latest = data.dq_latest(db)
findings = latest[latest["级别"] == data.SEVERITY_LABELS["finding"]]
if findings.empty:
    st.success("没有未完成的走访、约谈或组织生活。")
else:
    ui.table(findings[["说明", "条数"]])
st.page_link("views/township.py", label="按乡镇查看未走访的结对户", icon=":material/search:")
st.page_link("views/quality.py", label="数据质量与报送问题", icon=":material/fact_check:")
