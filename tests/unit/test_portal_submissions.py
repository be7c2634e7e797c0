"""我的报送: what a unit sent, scoped to the unit, and what a resent file changed, row by row
by the natural key (both versions read by the night's own parse in the sandbox)."""

from __future__ import annotations

import datetime as dt

from outreach.portal import submissions as sent
from outreach.portal.uploads import check, submit
from tests.workbooks import write_xlsx

HEADER = ["序号", "走访日期", "干部编号", "帮扶责任人", "户编号", "户主姓名", "乡镇", "村委会", "走访方式", "走访内容", "群众诉求"]  # fmt: skip


def _row(n, day, household, content, phone=""):
    return [n, dt.date(2014, 6, day), "GB0022", "符青", household, "梁伟", "保城镇", "西坡村委会", "入户", content, phone]  # fmt: skip


def _send(settings, account, tmp_path, rows):
    book = write_xlsx(tmp_path / "book.xlsx", {"6月走访": [HEADER, *rows]}).read_bytes()
    [entry] = submit(settings, account, check(settings, account, [("6月走访.xlsx", book)]).token)
    return entry


def test_a_resent_file_shows_exactly_the_rows_added_removed_and_changed(portal_units, tmp_path):
    settings, who = portal_units
    first = [_row(1, 3, "H10001007", "送去防汛物资"), _row(2, 4, "H10001014", "了解情况"),
             _row(3, 5, "H10001021", "宣讲政策", "13800138000")]  # fmt: skip
    _send(settings, who["bcz"], tmp_path, first)
    second = [_row(1, 3, "H10001007", "送去防汛物资"), _row(2, 4, "H10001014", "了解生产情况"),
              _row(3, 5, "H10001021", "宣讲政策", "13912345678"), _row(4, 6, "H10001028", "帮助春耕")]  # fmt: skip
    second.pop(0)  # the first row is no longer in the file
    entry = _send(settings, who["bcz"], tmp_path, second)
    assert entry.reason == "同名文件已更新为本次发送的版本"

    [newest, oldest] = sent.listed(settings, who["bcz"])
    assert newest.outcome == "已收取，待夜间入库"  # no night has read it yet
    assert sent.changes(settings, oldest) is None  # a first version has nothing before it
    before, diff = sent.changes(settings, newest)
    assert before.id == oldest.id and diff.problem is None
    assert [r.key for r in diff.added] == ["走访日期=2014-06-06；干部编号=GB0022；户编号=H10001028"]
    assert [r.key for r in diff.removed] == [
        "走访日期=2014-06-03；干部编号=GB0022；户编号=H10001007"
    ]
    changed = {r.key.split("；")[-1]: r.columns for r in diff.changed}
    assert changed["户编号=H10001014"] == (("走访内容", "了解情况", "了解生产情况"),)
    [(header, old, new)] = changed["户编号=H10001021"]  # a phone number: never shown whole
    assert header == "群众诉求" and old != new
    assert "13800138000" not in old and "13912345678" not in new
    assert "13800138000" not in str(diff) and "13912345678" not in str(diff)
    assert diff.unchanged == 0


def test_another_units_submission_is_not_there_for_it(portal_units, tmp_path):
    settings, who = portal_units
    entry = _send(settings, who["bcz"], tmp_path, [_row(1, 3, "H10001007", "走访")])
    [mine] = sent.listed(settings, who["bcz"])
    assert sent.listed(settings, who["mgx"]) == []
    assert sent.one(settings, who["mgx"], mine.id) is None
    assert sent.one(settings, who["bcz"], mine.id) == mine
    assert [s.id for s in sent.listed(settings, who["admin1"])] == [mine.id]  # the department
    assert entry.status == "landed" and mine.landed_path == entry.landed_path


def test_no_ledger_and_no_published_warehouse_are_empty_answers(portal_units):
    settings, who = portal_units
    assert sent.listed(settings, who["bcz"]) == []
    assert sent.one(settings, who["bcz"], 1) is None
