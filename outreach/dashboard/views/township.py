"""乡镇明细: one township's villages, cadres and every missed pairing-quarter."""

import streamlit as st

from outreach.dashboard import data, ui

st.title("乡镇明细")
f = ui.scope("township", "quarter", "provider")
db = ui.db()

township = f.township
if township is None:
    coverage = data.visit_coverage(db, f)
    missed = coverage.groupby("township_name")["missed"].sum().sort_values(ascending=False)
    choices = [*missed.index] or data.townships(db)
    township = st.selectbox(
        "选择乡镇（也可在左侧筛选）",
        choices,
        key="drill_township",
        format_func=lambda t: f"{t}（未走访 {int(missed.get(t, 0))} 户季）",
    )
st.header(township)

villages = data.village_coverage(db, f, township)
if villages.empty:
    ui.nothing()
    st.stop()
a, b, c, d = st.columns(4)
a.metric("村委会", f"{len(villages):,}", border=True)
b.metric("应走访户季", f"{int(villages['应走访户季'].sum()):,}", border=True)
c.metric("未走访户季", f"{int(villages['未走访户季'].sum()):,}", border=True)
d.metric("走访次数", f"{int(villages['走访次数'].sum()):,}", border=True)

st.subheader("各村委会")
ui.table(villages, {"完成率（%）": "{:.2f}"})

village = st.selectbox(
    "只看一个村委会",
    [ui.ALL, *villages["村委会"]],
    key="drill_village",
)
village = None if village == ui.ALL else village

st.subheader("未走访的结对户季")
missed_rows = data.missed_visits(db, f, township, village)
if missed_rows.empty:
    st.success("所选范围内每个应走访的结对户季都已走访。")
else:
    st.caption(f"共 {len(missed_rows)} 条；户主只显示户编号和脱敏身份证号。")
    ui.table(
        missed_rows.drop(columns="乡镇"),
        {c: "{:%Y-%m-%d}" for c in ("结对日期", "结对结束日期", "最近一次走访")},
    )

st.subheader("帮扶干部")
cadres = data.cadre_coverage(db, f, township, village)
ui.grid(cadres)
