"""Feedback workbooks from a hostile inbox: one per sending unit, each with its own files only,
plain Chinese, no personal data."""

from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfo

import duckdb
import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from ingest.normalise import resident_id_check_char
from ingest.pipeline import run_ingest
from outreach.outputs.return_lists import write_feedback
from outreach.settings import DEFAULT_GAZETTEER
from tests.workbooks import write_xlsx

TZ = ZoneInfo("Asia/Shanghai")
KEY = b"k" * 32
GOOD_ID = "46902919800101002" + resident_id_check_char("46902919800101002")
OTHER_ID = "46902919751231001" + resident_id_check_char("46902919751231001")
MOBILE = "13812343210"
SHEETS = ["说明", "退回行", "退回文件", "无法识别的工作表"]
RUN_ID = "2014-06-30_20140701T020000123456Z"  # a long digit run that is not personal data

VISITS = [
    ["走访日期", "干部编号", "走访干部", "户编号", "乡镇", "村委会", "走访方式", "走访内容"],
    ["2013-04-02", "C001", "张三", "H001", "什玲镇", "什玲村", "入户", "拉家常"],
    ["2013-02-30", "C002", "李四", "H003", "什玲镇", "八村", "电话", f"户主{GOOD_ID}电话{MOBILE}"],
    ["2013.5.6", "C002", "李四", "H004", "保亭镇", "八村", "电话", ""],
    ["2013/5/7", "C002", "李四", "H005", "什玲", "八村", "微信", ""],
]
HOUSEHOLDS = [
    ["户编号", "乡镇", "村委会", "户主姓名", "身份证号", "户类型", "家庭人口", "联系电话"],
    ["H001", "什玲镇", "什玲村委会", "王五", 4.69029e17, "低保户", 3, MOBILE],  # id_mangled
    ["H002", "什玲镇", "什玲村委会", "赵六", OTHER_ID[:-1] + "0", "低保户", 3, ""],  # checksum
    ["H003", "什玲镇", "什玲村委会", "钱七", OTHER_ID, "低保户", "三口", "0898-83661234"],
]
ROSTER = [["花名册"], ["王五", GOOD_ID, MOBILE, "备注"]]  # matches nothing; a row of PII
NEAR_VISITS = [["走访日期", "户编号", "走访内容"], ["2013-04-02", "H001", "拉家常"]]
CADRES = [
    ["干部编号", "姓名", "性别", "工作单位", "联系电话"],
    ["C001", "张三", "男性", "县委组织部", "0898-83661234"],  # bad_enum, landline in the row
    ["C002", "李四", "女", "县委组织部", "电话暂无"],  # bad_phone
]


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    root = tmp_path_factory.mktemp("feedback")
    inbox = root / "inbox"
    write_xlsx(
        inbox / "townships/什玲镇/2013Q2.xlsx",
        {"走访": VISITS, "农户": HOUSEHOLDS, "花名册": ROSTER, "走访2": NEAR_VISITS},
    )
    write_xlsx(inbox / f"county/干部{MOBILE}.xlsx", {"干部": CADRES})
    write_xlsx(inbox / "townships/保城镇/2013Q2.xlsx", {"走访": [VISITS[0], VISITS[2]]})
    (inbox / "townships/什玲镇/empty.xlsx").write_bytes(b"")
    (inbox / "townships/broken.xlsx").write_bytes(b"PK\x03\x04 truncated download")
    write_xlsx(inbox / "loose.xlsx", {"干部": CADRES[:1]})
    db = root / "build.duckdb"
    run_ingest(inbox, db, DEFAULT_GAZETTEER, KEY, "L1", TZ)
    # What the loader may record in future: a rule this module does not know yet, an ID Excel
    # kept 15 digits of, an ID with a lowercase x inside longer text.
    con = duckdb.connect(str(db))
    original = {
        "身份证号": 4.6902919800101e17,
        "备注": f"身份证{OTHER_ID[:-1]}x，电话 138 1234 3210",
    }
    con.execute(
        "insert into raw.quarantine_rows values ('townships', 'townships/new.xlsx', 'abc', "
        "'表1', 7, 'households', 'some_new_rule', 'x', '新规则', ?, 'L1')",
        [json.dumps(original, ensure_ascii=False)],
    )
    con.execute(
        "insert into raw.quarantine_files "
        "(provider, source_file, file_sha256, rule_id, message, load_id) values "
        "('townships', 'townships/odd.xlsx', 'def', 'some_new_reason', '奇怪的文件', 'L1')"
    )
    con.close()
    report_dir = root / "reports" / "R1"
    report_dir.mkdir(parents=True)
    (report_dir / "退回清单_enterprises.xlsx").write_bytes(b"stale")  # an earlier attempt
    written = write_feedback(db, report_dir, RUN_ID)
    return (
        db,
        report_dir,
        {p.name.removeprefix("退回清单_").removesuffix(".xlsx"): p for p in written},
    )


def _sheets(path) -> dict[str, list[list]]:
    wb = CalamineWorkbook.from_path(str(path))
    return {name: wb.get_sheet_by_name(name).to_python() for name in wb.sheet_names}


def _table(path, sheet: str) -> list[dict]:
    rows = _sheets(path)[sheet]
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_one_workbook_per_unit_with_something_to_send_back(build):
    db, report_dir, written = build
    assert list(written) == [
        "county",
        "townships",  # files outside a township's folder: the department sorts them out
        "townships_什玲镇",
        "townships_保城镇",
        "unknown",
    ]
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(p.name for p in written.values())
    for path in written.values():
        assert list(_sheets(path)) == SHEETS
    # the read-only connection is closed: a writer can open the file again
    duckdb.connect(str(db)).close()


def test_a_unit_receives_its_own_returned_rows_and_no_other_units(build):
    _, _, written = build
    for unit, township in (("townships_什玲镇", "什玲镇"), ("townships_保城镇", "保城镇")):
        files = {r["文件"] for sheet in SHEETS[1:] for r in _table(written[unit], sheet)}
        assert files and all(f.startswith(f"townships/{township}/") for f in files), files
    (row,) = _table(written["townships_保城镇"], "退回行")
    assert (row["文件"], row["行号"]) == ("townships/保城镇/2013Q2.xlsx", 2)


def test_every_quarantined_row_is_listed_with_a_hint_and_its_original_cells(build):
    db, _, written = build
    con = duckdb.connect(str(db), read_only=True)
    expected = con.execute(
        "select count(*) from raw.quarantine_rows where source_file like 'townships/什玲镇/%'"
    ).fetchone()[0]
    con.close()
    rows = _table(written["townships_什玲镇"], "退回行")
    assert list(rows[0]) == ["文件", "工作表", "行号", "数据集", "问题", "如何修改", "原始内容"]
    assert len(rows) == expected == 6
    by_row = {(r["工作表"], int(r["行号"])): r for r in rows}

    bad_date = by_row[("走访", 3)]
    assert bad_date["文件"] == "townships/什玲镇/2013Q2.xlsx"
    assert bad_date["数据集"] == "帮扶走访记录"
    assert "2013-02-30" in bad_date["问题"] and "2013-04-02" in bad_date["如何修改"]
    assert bad_date["原始内容"].startswith("走访日期: 2013-02-30；干部编号: C002；")
    assert f"户主469029********{GOOD_ID[-4:]}电话138****3210" in bad_date["原始内容"]

    assert "什玲镇" in by_row[("走访", 4)]["如何修改"]  # unknown township: the county's list
    assert "下拉" in by_row[("走访", 5)]["如何修改"]  # bad_enum
    mangled = by_row[("农户", 2)]
    assert "文本" in mangled["如何修改"]
    assert "身份证号: 4.69029e+17" in mangled["原始内容"]
    assert "联系电话: 138****3210" in mangled["原始内容"]
    assert "校验" in by_row[("农户", 3)]["如何修改"]  # bad_id
    assert "089*****1234" in by_row[("农户", 4)]["原始内容"]  # bad_number row, landline masked
    (unknown_rule,) = _table(written["townships"], "退回行")
    assert "联系县委组织部" in unknown_rule["如何修改"]
    assert "身份证号: 4.69029e+17" in unknown_rule["原始内容"]
    assert f"身份证469029********{OTHER_ID[-4:-1]}x，电话 138****3210" in unknown_rule["原始内容"]

    county = _table(written["county"], "退回行")
    assert {r["如何修改"] for r in county} >= {
        "请从该列的下拉选项中选择，可选值见“问题”一栏；空白模板中有下拉框。"
    }
    assert all(r["文件"] == "county/干部138****3210.xlsx" for r in county)
    bad_phone = next(r for r in county if "电话暂无" in r["问题"])
    assert "0898-12345678" in bad_phone["如何修改"]  # our own example is not masked


def test_files_that_cannot_be_read_and_sheets_that_match_nothing(build):
    _, _, written = build
    files = {
        r["文件"]: r
        for unit in ("townships", "townships_什玲镇")
        for r in _table(written[unit], "退回文件")
    }
    assert set(files) == {
        "townships/broken.xlsx",
        "townships/odd.xlsx",
        "townships/什玲镇/empty.xlsx",
    }
    assert "0 字节" in files["townships/什玲镇/empty.xlsx"]["如何修改"]
    assert "另存为" in files["townships/broken.xlsx"]["如何修改"]
    assert "联系县委组织部" in files["townships/odd.xlsx"]["如何修改"]
    loose = _table(written["unknown"], "退回文件")
    assert [r["文件"] for r in loose] == ["loose.xlsx"]
    assert "townships" in loose[0]["如何修改"]

    sheets = {r["工作表"]: r for r in _table(written["townships_什玲镇"], "无法识别的工作表")}
    assert set(sheets) == {"花名册", "走访2"}
    assert sheets["花名册"]["表头"] == f"王五 | 469029********{GOOD_ID[-4:]} | 138****3210 | 备注"
    assert "干部名册" in sheets["花名册"]["如何修改"]  # names the templates that exist
    assert "帮扶走访记录" in sheets["走访2"]["如何修改"]
    assert "干部编号" in sheets["走访2"]["如何修改"]  # the required header it lacks


def test_the_cover_sheet_says_what_this_is_with_run_id_and_counts(build):
    _, _, written = build
    text = "\n".join(
        str(v)
        for row in _sheets(written["townships_什玲镇"])["说明"]
        for v in row
        if v not in (None, "")
    )
    assert "退回清单" in text and RUN_ID in text and "乡镇：什玲镇" in text
    assert "6 行" in text and "1 个文件" in text
    assert "1 个整份文件" in text and "无法识别的工作表" in text
    assert "企业联村：企业名称*" in text  # the templates, with required headers marked


def test_tables_are_formatted_for_a_clerk(build):
    _, _, written = build
    wb = openpyxl.load_workbook(written["townships_什玲镇"])
    for name in SHEETS[1:]:
        ws = wb[name]
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:")
        assert ws.cell(1, 1).font.b
        assert ws.column_dimensions["A"].width > 20


def test_no_id_or_mobile_number_appears_anywhere(build):
    _, _, written = build
    for path in written.values():
        for name, rows in _sheets(path).items():
            for row in rows:
                for value in row:
                    text = str(value)
                    assert not re.search(r"\d{17}[\dXx]", text), (path.name, name, text)
                    assert not re.search(r"1[3-9]\d{9}", text), (path.name, name, text)
                    assert "83661234" not in text, (path.name, name, text)
                    assert not re.search(r"\d\.\d{6,}e", text, re.IGNORECASE), text


def test_no_build_file_means_no_feedback(tmp_path):
    assert write_feedback(tmp_path / "missing.duckdb", tmp_path / "r", "R0") == []


def test_formulas_in_senders_cells_stay_text(tmp_path):
    db = tmp_path / "b.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema raw")
    con.execute(
        "create table raw.unmatched_sheets as select 'county' as provider, "
        "'county/a.xlsx' as source_file, 'x' as file_sha256, '=HYPERLINK(\"http://e\")' "
        "as sheet_name, '[\"=1+1\"]' as header_cells, 'L' as load_id"
    )
    con.close()
    (path,) = write_feedback(db, tmp_path / "r", "R2")
    ws = openpyxl.load_workbook(path)["无法识别的工作表"]
    assert ws.cell(2, 2).value == '=HYPERLINK("http://e")' and ws.cell(2, 2).data_type == "s"
    assert ws.cell(2, 3).data_type == "s"
    assert list(_sheets(path)) == SHEETS  # the other tables are simply empty
