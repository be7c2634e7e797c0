"""Templates round-trip through our own loader: filled in, every row loads and nothing else does."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import duckdb
import openpyxl
import pytest

from ingest.normalise import resident_id_check_char
from ingest.pipeline import run_ingest
from ingest.registry import ColumnSpec, load_registry
from outreach.outputs.templates import FIRST_DATA_ROW, write_templates
from outreach.settings import DEFAULT_GAZETTEER

TZ = ZoneInfo("Asia/Shanghai")
KEY = b"k" * 32
REGISTRY = load_registry()
GOOD_ID = "46902919800101002" + resident_id_check_char("46902919800101002")


def _value(col: ColumnSpec, i: int):
    """A valid cell for row ``i`` (0 or 1): the first row in native Excel types, the second in
    the spellings partners type."""
    t = col.type
    if t in ("text", "longtext"):
        return f"{col.name[:3].upper()}{i + 1:03d}" if t == "text" else f"第{i + 1}条说明"
    if t == "date":
        return dt.datetime(2013, 4, 2 + i) if i == 0 else "2013年4月3日"
    if t == "money":
        return 5000 if i == 0 else "0.5万元"
    if t == "int":
        return 3 + i
    if t == "decimal":
        return 1.5
    if t == "bool":
        return True if i == 0 else "否"
    if t == "enum":
        return col.values[i % len(col.values)]
    if t == "resident_id":
        return GOOD_ID
    if t == "phone":
        return "13812343210" if i == 0 else "0898-83661234"
    if t == "credit_code":
        return "91469029MA5T00001X"
    if t == "place_township":
        return "什玲镇" if i == 0 else "加茂"
    if t == "place_village":
        return "什玲村委会" if i == 0 else "什玲村"
    raise AssertionError(t)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("roundtrip")
    blank = write_templates(root / "templates")
    inbox = root / "inbox"
    for path, spec in zip(blank, REGISTRY.values(), strict=True):
        wb = openpyxl.load_workbook(path)
        ws = wb.worksheets[0]
        for i in range(2):
            for c, col in enumerate(spec.columns, start=1):
                ws.cell(FIRST_DATA_ROW + 1 + i, c).value = _value(col, i)
        target = inbox / spec.providers[0] / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        wb.save(target)
    db = root / "build.duckdb"
    summary = run_ingest(inbox, db, DEFAULT_GAZETTEER, KEY, "T1", TZ).as_dict()
    con = duckdb.connect(str(db), read_only=True)
    yield summary, con
    con.close()


def test_every_filled_template_is_recognised_and_every_row_loads(loaded):
    summary, con = loaded
    assert summary["files"] == {"loaded": len(REGISTRY), "unchanged": 0, "quarantined": 0}
    assert summary["sheets_unmatched"] == 0
    for name in REGISTRY:
        detail = next(d for d in summary["file_details"] if d["file"].endswith(f"_{name}.xlsx"))
        assert detail["datasets"] == [name]
        rows = con.execute(f"select row_number from raw.{name} order by row_number").fetchall()
        assert rows == [(4,), (5,)], name  # 1-based: title, header, notes, then data from row 4
    assert (
        con.execute(
            "select count(*) from raw.quarantine_rows where row_number <> 3"  # 3 = notes row
        ).fetchone()[0]
        == 0
    )
    households = con.execute(
        "select township, village, head_id_number_mask, phone_mask from raw.households "
        "order by row_number"
    ).fetchall()
    assert households[0] == ("什玲镇", "什玲村委会", "469029********" + GOOD_ID[-4:], "138****3210")
    assert households[1][:2] == ("加茂镇", "什玲村委会")
    funding = con.execute("select amount_yuan from raw.funding order by row_number").fetchall()
    assert [float(a) for (a,) in funding] == [5000.0, 5000.0]


# The template's notes row (first cell '填写说明：…') is skipped as not-data, so the account is exact.
def test_the_notes_row_is_skipped_so_the_account_is_exact(loaded):
    summary, con = loaded
    assert summary["rows"] == {"loaded": 2 * len(REGISTRY), "quarantined": 0}
    assert con.execute("select count(*) from raw.quarantine_rows").fetchone()[0] == 0
    ledger = con.execute(
        "select dataset_rows, rows_loaded, rows_quarantined from raw.file_versions"
    ).fetchall()
    assert ledger == [(2, 2, 0)] * len(REGISTRY)
    for detail in summary["file_details"]:
        skipped = detail["rows_skipped"]
        assert sum(skipped.values()) == 1, detail["file"]  # the notes row, and only it
