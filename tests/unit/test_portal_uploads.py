"""An upload through the portal: checked at once by the night's own reading (nothing in the
inbox yet), then submitted into the account's unit folder, recorded in the fetch ledger; another
account cannot submit it; what intake refuses is refused here too."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile

import pytest

from outreach.intake.ledger import open_ledger
from outreach.portal.uploads import MAX_FILES, STAGED_FOR, UploadError, check, drop, submit, sweep
from tests.workbooks import write_xlsx

HEADER = ["序号", "走访日期", "干部编号", "帮扶责任人", "户编号", "户主姓名", "乡镇", "村委会", "走访方式", "走访内容", "群众诉求"]  # fmt: skip


def _book(tmp_path, township="保城镇") -> bytes:
    good = [1, dt.date(2014, 6, 20), "GB0022", "符青", "H10001007", "梁伟", township, "西坡村委会", "入户", "送去防汛物资", ""]  # fmt: skip
    bad = [2, "2014年13月45日", "GB0022", "符青", "H10001014", "许雄华", township, "", "入户", "了解情况", ""]  # fmt: skip
    return write_xlsx(tmp_path / f"{township}.xlsx", {"6月走访": [HEADER, good, bad]}).read_bytes()


def test_an_upload_is_checked_at_once_and_lands_only_when_submitted(portal_units, tmp_path):
    settings, who = portal_units
    book = _book(tmp_path)
    result = check(
        settings, who["bcz"], [("6月走访.xlsx", book), ("备份.rar", b"Rar!" + b"x" * 20)]
    )
    [(name, file_check)] = result.files
    assert name == "6月走访.xlsx" and file_check.readable
    [sheet] = file_check.sheets
    assert (sheet.dataset_name, sheet.rows_ok, sheet.rows_returned) == ("帮扶走访记录", 1, 1)
    [returned] = file_check.returned
    assert (returned.row_number, returned.column) == (3, "走访日期")
    assert [r.name for r in result.refused] == ["备份.rar"]
    assert not settings.inbox.exists() or not any(settings.inbox.rglob("*.xlsx"))

    with pytest.raises(UploadError):  # another unit's account cannot submit it
        submit(settings, who["mgx"], result.token)
    [entry] = submit(settings, who["bcz"], result.token)
    assert entry.status == "landed" and entry.landed_path == "townships/保城镇/6月走访.xlsx"
    assert (settings.inbox / entry.landed_path).read_bytes() == book
    ledger = open_ledger(settings.intake_dir)
    [row] = ledger.entries(channel="portal")
    ledger.close()
    assert row["sender"] == "bcz" and row["unit"] == "保城镇"
    with pytest.raises(UploadError):  # submitted once: the token is spent
        submit(settings, who["bcz"], result.token)


def test_rows_for_another_township_are_returned_and_names_that_are_paths_refused(
    portal_units, tmp_path
):
    settings, who = portal_units
    result = check(settings, who["bcz"], [("../../x.xlsx", _book(tmp_path, "毛感乡"))])
    assert result.files == [] and "不能作为文件名" in result.refused[0].reason
    result = check(settings, who["bcz"], [("毛感乡的.xlsx", _book(tmp_path, "毛感乡"))])
    [(_, file_check)] = result.files
    assert file_check.rows_ok == 0 and file_check.rows_returned == 2  # not this unit's rows
    drop(settings, who["bcz"], result.token)
    with pytest.raises(UploadError):
        submit(settings, who["bcz"], result.token)


def test_an_upload_too_many_files_or_by_an_admin_is_refused_whole(portal_units, tmp_path):
    settings, who = portal_units
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(MAX_FILES + 1):
            zf.writestr(f"{i}.csv", "a,b\n1,2\n")
    with pytest.raises(UploadError, match="最多"):
        check(settings, who["bcz"], [("多.zip", buf.getvalue())])
    with pytest.raises(UploadError, match="管理员"):
        check(settings, who["admin1"], [("a.xlsx", _book(tmp_path))])
    for forged in ("", "../owner", "a/b"):
        with pytest.raises(UploadError):
            submit(settings, who["bcz"], forged)


def test_an_upload_left_unsubmitted_is_deleted_after_a_day(portal_units, tmp_path):
    settings, who = portal_units
    result = check(settings, who["bcz"], [("6月走访.xlsx", _book(tmp_path))])
    staged = settings.home / "portal" / "staging" / result.token
    assert staged.is_dir()
    assert sweep(settings, now=time.time() + 3600) == 0  # an hour later: still there
    assert sweep(settings, now=time.time() + STAGED_FOR.total_seconds() + 60) == 1
    assert not staged.exists()
    with pytest.raises(UploadError):
        submit(settings, who["bcz"], result.token)
