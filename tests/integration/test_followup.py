"""Follow-up lists per township from marts.dq_missing_quarterly_visits of a small build file."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import openpyxl
import pytest

from outreach.outputs.followup_lists import (
    DEADLINE_LINE,
    HEADERS,
    followup_name,
    quarter_label,
    safe_township,
    write_followups,
)

AS_OF = dt.date(2014, 6, 30)
D = dt.date
HEAD_ID = "469029198001010024"  # never in a mart; asserted absent from every list

# The model's columns, in its order (dbt_project/models/marts/dq_missing_quarterly_visits.sql).
COLUMNS = """
    pairing_quarter_id VARCHAR,
    pairing_id VARCHAR,
    cadre_id VARCHAR,
    cadre_code VARCHAR,
    cadre_name VARCHAR,
    unit VARCHAR,
    township_name VARCHAR,
    village_name VARCHAR,
    household_id VARCHAR,
    household_code VARCHAR,
    head_name VARCHAR,
    head_id_number_mask VARCHAR,
    quarter VARCHAR,
    quarter_start DATE,
    quarter_end DATE,
    pair_start DATE,
    pair_end DATE,
    active_days INTEGER,
    last_visit_date DATE
"""

QUARTERS = {
    "2013Q3": (D(2013, 7, 1), D(2013, 9, 30)),
    "2013Q4": (D(2013, 10, 1), D(2013, 12, 31)),
    "2014Q1": (D(2014, 1, 1), D(2014, 3, 31)),
    "2014Q2": (D(2014, 4, 1), D(2014, 6, 30)),
}
MASK = "469029********0024"

# cadre, name, unit, township, village, household, head, quarter, start, end, last visit
MISSED = [
    ("C002", "李四", "县财政局", "什玲镇", "八村村委会", "H010", "钱七", "2014Q1", D(2013, 1, 5), None, D(2013, 11, 2)),
    ("C001", "张三", "县委组织部", "什玲镇", "什玲村委会", "H002", "赵六", "2014Q2", D(2013, 4, 1), None, None),
    ("C001", "张三", "县委组织部", "什玲镇", "什玲村委会", "H001", "王五", "2014Q2", D(2013, 4, 1), None, D(2014, 2, 3)),
    ("C001", "张三", "县委组织部", "什玲镇", "什玲村委会", "H001", "王五", "2013Q4", D(2013, 4, 1), None, D(2013, 8, 9)),
    ("C002", "李四", "县财政局", "什玲镇", "八村村委会", "H010", "钱七", "2013Q3", D(2013, 1, 5), D(2014, 3, 31), None),
    ("C003", "孙八", "县教育局", "加茂镇", "加茂村委会", "H100", "周九", "2014Q2", D(2014, 1, 1), None, D(2014, 3, 3)),
    ("C004", "吴十", "县卫生局", "未知", "未知", "H999", "未知", "2014Q2", D(2014, 1, 1), None, None),
]  # fmt: skip


def _make_build(path, rows=MISSED) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        con.execute(f"create table marts.dq_missing_quarterly_visits ({COLUMNS})")
        for i, (cadre, name, unit, town, village, hh, head, q, start, end, last) in enumerate(rows):
            q_start, q_end = QUARTERS[q]
            con.execute(
                "insert into marts.dq_missing_quarterly_visits values "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    f"pq{i}",
                    f"p-{cadre}-{hh}",
                    f"id-{cadre}",
                    cadre,
                    name,
                    unit,
                    town,
                    village,
                    f"id-{hh}",
                    hh,
                    head,
                    None if hh == "H999" else MASK,
                    q,
                    q_start,
                    q_end,
                    start,
                    end,
                    60,
                    last,
                ],
            )
    finally:
        con.close()


@pytest.fixture
def build_db(tmp_path):
    path = tmp_path / "outreach_build.duckdb"
    _make_build(path)
    return path


def _cells(path):
    ws = openpyxl.load_workbook(path).active
    return ws, [list(r) for r in ws.iter_rows(values_only=True)]


def test_one_list_per_township_with_misses(build_db, tmp_path):
    report_dir = tmp_path / "report"
    report_dir.mkdir()
    (report_dir / "待走访清单_响水镇.xlsx").write_bytes(b"stale")  # an earlier attempt
    (report_dir / "退回清单_townships.xlsx").write_bytes(b"not ours")

    written = write_followups(build_db, report_dir, AS_OF)

    names = sorted(p.name for p in written)
    assert names == sorted(
        ["待走访清单_什玲镇.xlsx", "待走访清单_加茂镇.xlsx", "待走访清单_未知乡镇.xlsx"]
    )
    assert sorted(p.name for p in report_dir.glob("待走访清单_*.xlsx")) == names
    assert not (report_dir / "待走访清单_保城镇.xlsx").exists()  # no rows, no file
    assert (report_dir / "退回清单_townships.xlsx").read_bytes() == b"not ours"
    assert not list(report_dir.glob(".*.tmp"))


def test_list_content_order_and_format(build_db, tmp_path):
    write_followups(build_db, tmp_path, AS_OF)
    ws, rows = _cells(tmp_path / "待走访清单_什玲镇.xlsx")

    assert rows[0][0] == "保亭县什玲镇结对帮扶季度走访未完成清单（截至2014年6月30日）"
    assert rows[1] == HEADERS
    data = [r for r in rows[2:] if isinstance(r[0], int)]
    # sorted by cadre, then quarter, then household
    assert [(r[1], r[7], r[5]) for r in data] == [
        ("C001", "2013年第4季度", "H001"),
        ("C001", "2014年第2季度", "H001"),
        ("C001", "2014年第2季度", "H002"),
        ("C002", "2013年第3季度", "H010"),
        ("C002", "2014年第1季度", "H010"),
    ]
    assert [r[0] for r in data] == [1, 2, 3, 4, 5]
    first = data[0]
    assert first[1:8] == ["C001", "张三", "县委组织部", "什玲村委会", "H001", MASK, "2013年第4季度"]
    assert first[8] == dt.datetime(2013, 4, 1)
    assert first[9] is None
    assert first[10] == dt.datetime(2013, 8, 9)
    ended = data[3]
    assert ended[9] == dt.datetime(2014, 3, 31)
    assert ended[10] is None
    assert "从未走访" in ended[11] and "结对已结束" in ended[11]
    assert data[1][11] in ("", None)

    # real dates with a yyyy-mm-dd format, bold header, frozen panes, widths
    date_cell = ws.cell(row=3, column=9)
    assert date_cell.is_date and date_cell.number_format == "yyyy-mm-dd"
    assert ws.cell(row=2, column=1).font.b
    assert ws.freeze_panes == "A3"
    assert ws.column_dimensions["D"].width >= 20

    footer = [r[0] for r in rows[2 + len(data) :] if r[0]]
    assert any("共 5 条" in str(f) for f in footer)
    assert DEADLINE_LINE in footer

    _, others = _cells(tmp_path / "待走访清单_加茂镇.xlsx")
    assert others[0][0].startswith("保亭县加茂镇")
    assert [r[5] for r in others[2:] if isinstance(r[0], int)] == ["H100"]


def test_no_personal_data(build_db, tmp_path):
    for path in write_followups(build_db, tmp_path, AS_OF):
        _, rows = _cells(path)
        text = "\n".join(str(v) for r in rows for v in r if v is not None)
        for head in ("王五", "赵六", "钱七", "周九"):  # head_name is never shown
            assert head not in text
        assert HEAD_ID not in text
        assert not re.search(r"(?<!\d)\d{11,}(?!\d)", text)  # no ID or phone number
        assert "户主姓名已隐去" in text


def test_rerun_and_missing_mart(build_db, tmp_path):
    first = write_followups(build_db, tmp_path, AS_OF)
    again = write_followups(build_db, tmp_path, AS_OF)
    assert first == again

    # Everything caught up: the mart is empty, the stale lists go
    con = duckdb.connect(str(build_db))
    con.execute("delete from marts.dq_missing_quarterly_visits")
    con.close()
    assert write_followups(build_db, tmp_path, AS_OF) == []
    assert not list(tmp_path.glob("待走访清单_*.xlsx"))

    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert write_followups(empty, tmp_path, AS_OF) == []
    assert write_followups(tmp_path / "absent.duckdb", tmp_path, AS_OF) == []


def test_names_are_safe():
    assert followup_name("什玲镇") == "待走访清单_什玲镇.xlsx"
    assert followup_name("../什玲镇") == "待走访清单_什玲镇.xlsx"
    assert "/" not in safe_township("a/b\\c") and "\\" not in safe_township("a/b\\c")
    assert safe_township(None) == safe_township("未知") == safe_township("..") == "未知乡镇"
    assert quarter_label("2013Q2") == "2013年第2季度"
