"""The loader into a DuckDB file: lineage, quarantine, reruns, resends, bad files."""

from __future__ import annotations

import datetime as dt
import json
import os
from zoneinfo import ZoneInfo

import duckdb
import pytest

from ingest.normalise import resident_id_check_char
from ingest.pipeline import run_ingest
from outreach.settings import DEFAULT_GAZETTEER
from tests.workbooks import write_csv, write_xls, write_xlsx

TZ = ZoneInfo("Asia/Shanghai")
KEY = b"k" * 32


def _id(body: str) -> str:
    return body + resident_id_check_char(body)


GOOD_ID = _id("46902919800101002")

VISITS = [
    ["保亭縣什玲鎮2013年第二季度帮扶走访记录表"],
    ["填报单位：什玲镇"],
    ["走访日期", "干部编号", "走访干部", "户编号", "乡镇", "村委会", "走访方式", "走访内容"],
    [
        dt.date(2013, 4, 2),
        "C001",
        "张　三",
        "H001",
        "什玲鎮",
        "什玲村",
        "上门",
        f"户主身份证{GOOD_ID}，电话13812343210",
    ],
    ["2013年4月3日", "C001", "张三", "H002", "同上", "同上", "同上", "拉家常"],
    [None] * 8,
    ["2013-02-30", "C002", "李四", "H003", "什玲镇", "八村", "电话", ""],  # bad date
    ["2013.5.6", "C002", "李四", "H004", "保亭镇", "八村", "电话", ""],  # unknown township
    ["2013/5/7", "C002", "李四", "H005", "什玲", "八村", "微信", ""],  # outside the list
    ["2013/5/8", None, "李四", "H006", "什玲", "八村", "电话", ""],  # required empty
    ["2011-12-31", "C002", "李四", "H007", "什玲", "八村", "电话", ""],  # before 2012
    ["合计", None, None, None, None, None, None, None],
    ["填表人：王五    审核人：赵六"],
]

HOUSEHOLDS = [
    ["户编号", "乡镇", "村委会", "户主姓名", "身份证号", "户类型", "家庭人口", "联系电话"],
    ["H001", "什玲镇", "什玲村委会", "李　四", GOOD_ID, "低保户", 4, "13812343210"],
    ["H002", "什玲镇", "什玲村委会", "王五", 4.69029e17, "低保户", 3, ""],  # Excel-mangled ID
]


@pytest.fixture
def inbox(tmp_path):
    root = tmp_path / "inbox"
    write_xlsx(
        root / "townships/什玲镇/2013Q2走访.xlsx",
        {"走访": VISITS, "农户": HOUSEHOLDS, "说明": [["填表说明"], ["请按模板填写"]]},
    )
    return root


def ingest(inbox, db):
    return run_ingest(inbox, db, DEFAULT_GAZETTEER, KEY, "L1", TZ).as_dict()


def test_rows_are_loaded_with_lineage_or_quarantined_with_a_reason(inbox, tmp_path):
    db = tmp_path / "b.duckdb"
    summary = ingest(inbox, db)
    assert summary["files"] == {"loaded": 1, "unchanged": 0, "quarantined": 0}
    assert summary["rows"] == {"loaded": 3, "quarantined": 6}
    assert summary["sheets_unmatched"] == 1
    detail = summary["file_details"][0]
    assert detail["rows_skipped"] == {"blank": 1, "total": 1, "footer": 1}
    con = duckdb.connect(str(db), read_only=True)
    visits = con.execute(
        "select visit_date, cadre_name, township, township_code, village, visit_mode, provider, "
        "source_file, sheet_name, row_number, load_id, length(file_sha256) from raw.visits order by row_number"
    ).fetchall()
    assert visits[0] == (
        dt.date(2013, 4, 2),
        "张三",
        "什玲镇",
        "101",
        "什玲村委会",
        "入户",
        "townships",
        "townships/什玲镇/2013Q2走访.xlsx",
        "走访",
        4,
        "L1",
        64,
    )
    assert visits[1][:6] == (
        dt.date(2013, 4, 3),
        "张三",
        "什玲镇",
        "101",
        "什玲村委会",
        "入户",
    )  # 同上
    rules = dict(
        con.execute(
            "select row_number, rule_id from raw.quarantine_rows where dataset = 'visits'"
        ).fetchall()
    )
    assert rules == {
        7: "bad_date",
        8: "unknown_township",
        9: "bad_enum",
        10: "required_missing",
        11: "date_out_of_range",
    }
    original = json.loads(
        con.execute(
            "select original_values from raw.quarantine_rows where row_number = 9"
        ).fetchone()[0]
    )
    assert original["走访方式"] == "微信" and original["户编号"] == "H005"
    mangled = con.execute(
        "select rule_id, message from raw.quarantine_rows where dataset = 'households'"
    ).fetchall()
    assert mangled[0][0] == "id_mangled" and "文本" in mangled[0][1]
    household = con.execute(
        "select head_name, head_id_number, head_id_number_mask, head_id_number_token, phone_mask from raw.households"
    ).fetchone()
    assert household[:3] == ("李四", GOOD_ID, "469029********" + GOOD_ID[-4:])
    assert household[3] and GOOD_ID not in household[3]
    assert household[4] == "138****3210"
    unmatched = con.execute("select sheet_name, header_cells from raw.unmatched_sheets").fetchall()
    assert unmatched[0][0] == "说明"
    # data rows = loaded + quarantined, per sheet, from the ledger
    ledger = con.execute(
        "select status, dataset_rows, rows_loaded, rows_quarantined from raw.file_versions"
    ).fetchall()
    assert ledger == [("current", 9, 3, 6)]


def test_same_bytes_again_change_nothing_and_a_resend_replaces(inbox, tmp_path):
    db = tmp_path / "b.duckdb"
    ingest(inbox, db)
    again = ingest(inbox, db)
    assert again["files"] == {"loaded": 0, "unchanged": 1, "quarantined": 0}
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from raw.visits").fetchone()[0] == 2
    con.close()
    # corrected resend at the same path: one visit row only, fixed date
    fixed = [VISITS[2], ["2013-04-09", "C002", "李四", "H003", "什玲镇", "八村", "电话", ""]]
    write_xlsx(inbox / "townships/什玲镇/2013Q2走访.xlsx", {"走访": fixed})
    resent = ingest(inbox, db)
    assert resent["files"]["loaded"] == 1
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select household_code from raw.visits").fetchall() == [("H003",)]
    assert con.execute("select count(*) from raw.households").fetchone()[0] == 0
    assert con.execute("select count(*) from raw.quarantine_rows").fetchone()[0] == 0
    statuses = sorted(r[0] for r in con.execute("select status from raw.file_versions").fetchall())
    assert statuses == ["current", "superseded"]


def test_bad_files_are_quarantined_whole_and_the_rest_still_loads(inbox, tmp_path):
    (inbox / "townships/什玲镇/empty.xlsx").write_bytes(b"")
    (inbox / "townships/什玲镇/page.xls").write_text(  # a web system's error page, no table
        "<html><body><p>会话已过期，请重新登录后再导出</p></body></html>"
    )
    (inbox / "townships/什玲镇/broken.xlsx").write_bytes(b"PK\x03\x04" + os.urandom(200))
    (inbox / "loose.xlsx").write_bytes((inbox / "townships/什玲镇/2013Q2走访.xlsx").read_bytes())
    db = tmp_path / "b.duckdb"
    summary = ingest(inbox, db)
    assert summary["files"] == {"loaded": 1, "unchanged": 0, "quarantined": 4}
    con = duckdb.connect(str(db), read_only=True)
    reasons = dict(con.execute("select source_file, rule_id from raw.quarantine_files").fetchall())
    assert reasons == {
        "townships/什玲镇/empty.xlsx": "empty_file",
        "townships/什玲镇/page.xls": "not_spreadsheet",
        "townships/什玲镇/broken.xlsx": "corrupt",
        "loose.xlsx": "unknown_provider",
    }
    assert con.execute("select count(*) from raw.visits").fetchone()[0] == 2


def test_a_broken_resend_keeps_the_good_version(inbox, tmp_path):
    db = tmp_path / "b.duckdb"
    ingest(inbox, db)
    (inbox / "townships/什玲镇/2013Q2走访.xlsx").write_bytes(b"PK\x03\x04 truncated download")
    summary = ingest(inbox, db)
    assert summary["files"]["quarantined"] == 1
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from raw.visits").fetchone()[0] == 2


def test_xls_lying_extension_and_gb18030_csv(tmp_path):
    root = tmp_path / "inbox"
    rows = [
        ["干部编号", "姓名", "工作单位", "职级", "是否组工干部"],
        ["C001", "张三", "县委组织部", "副科", "√"],
    ]
    write_xls(root / "county/干部名册.xls", {"名册": rows})
    write_xlsx(
        root / "county/干部名册2.xls",
        {"名册": [rows[0], ["C002", "李四", "县委组织部", "正科", "否"]]},
    )
    write_csv(
        root / "county/干部名册3.csv",
        [rows[0], ["C003", "王五", "县财政局", "一般干部", "N"]],
        "gb18030",
    )
    write_csv(
        root / "county/干部名册4.csv",
        [rows[0], ["C004", "赵六", "县财政局", "一般干部", "0"]],
        "utf-8-sig",
    )
    db = tmp_path / "b.duckdb"
    summary = run_ingest(root, db, DEFAULT_GAZETTEER, KEY, "L1", TZ).as_dict()
    assert summary["files"]["loaded"] == 4, summary
    con = duckdb.connect(str(db), read_only=True)
    got = con.execute(
        "select cadre_code, cadre_name, unit, rank, is_org_dept from raw.cadres order by 1"
    ).fetchall()
    assert got == [
        ("C001", "张三", "县委组织部", "副科", True),
        ("C002", "李四", "县委组织部", "正科", False),
        ("C003", "王五", "县财政局", "一般干部", False),
        ("C004", "赵六", "县财政局", "一般干部", False),
    ]
