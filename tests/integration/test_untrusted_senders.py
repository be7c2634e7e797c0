"""What one sender does can neither stop the night, change another unit's data, nor leak a
person: the loader's side of the security review's reproducers (the night's side is in
tests/e2e/test_corpus_night.py, where every reproducer goes through a real night beside the
demo)."""

from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfo

from ingest.normalise import resident_id_check_char
from ingest.pipeline import run_ingest
from outreach.report import summary_markdown
from outreach.settings import DEFAULT_GAZETTEER
from tests.workbooks import write_csv

TZ = ZoneInfo("Asia/Shanghai")
KEY = b"k" * 32
ID = "46902919800101002" + resident_id_check_char("46902919800101002")
PII = re.compile(r"\d{17}[\dXx]|1[3-9]\d{9}")


def _ingest(inbox, db):
    return run_ingest(inbox, db, DEFAULT_GAZETTEER, KEY, "L1", TZ).as_dict()


def test_a_roster_without_a_header_leaks_nothing_into_the_reports(tmp_path):
    """Review row 4: the header-like row of an unmatched sheet was a row of data, written
    whole into summary.md and ingest.json."""
    inbox = tmp_path / "inbox"
    write_csv(
        inbox / "county" / "名册.csv",
        [["王五", ID, "13812343210", "县委组织部"], ["赵六", ID, "13912343210", "县委组织部"]],
    )
    summary = _ingest(inbox, tmp_path / "b.duckdb")
    (details,) = summary["file_details"]
    assert details["sheets_unmatched"] == ["名册"]
    ingest_json = json.dumps(summary, ensure_ascii=False)
    report = summary_markdown(
        {
            "run_id": "r",
            "as_of": "2014-06-30",
            "published": True,
            "reasons": [],
            "files": summary["files"],
            "rows": summary["rows"],
            "sheets_unmatched": 1,
            "warehouse": {},
            "headlines": {},
            "obligations": {},
            "checks": [],
        },
        summary,
    )
    for text in (ingest_json, report):
        assert not PII.search(text), text
        assert "469029********" in text and "138****3210" in text
