"""What one sender does can neither stop the night, change another unit's data, nor leak a
person: the loader's side of the security review's reproducers (the night's side is in
tests/e2e/test_corpus_night.py, where every reproducer goes through a real night beside the
demo)."""

from __future__ import annotations

import json
import os
import re
from zoneinfo import ZoneInfo

import pytest

from ingest.normalise import resident_id_check_char
from ingest.pipeline import run_ingest
from outreach.outputs.run_report import summary_markdown
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


def test_a_folder_swapped_for_a_link_after_planning_hands_over_nothing(tmp_path):
    """Review row 5: a township plans files named pii.key and environ in its folder, then swaps
    the folder for a link to OUTREACH_HOME, and another for /proc/self: the key and the
    environment were parsed and copied into quarantine/ (0644). Now every open refuses a link,
    whichever folder of the path it is."""
    from ingest import pipeline

    home = tmp_path / "home"
    home.mkdir()
    key = home / "pii.key"
    key.write_text("secret-key-" + "k" * 40)
    inbox = tmp_path / "inbox"
    township = inbox / "townships" / "毛感乡"
    other = inbox / "townships" / "什玲镇"
    for folder, name in ((township, "pii.key"), (other, "environ")):
        folder.mkdir(parents=True)
        (folder / name).write_text("走访日期,户编号\n2014-04-02,H1\n")
    good = inbox / "townships" / "保城镇"
    write_csv(good / "走访.csv", [["走访日期", "干部编号", "户编号"], ["2014-04-02", "C1", "H1"]])
    folder = tmp_path / "staging"
    db = tmp_path / "b.duckdb"
    plan = pipeline.plan_ingest(inbox, db, folder)
    assert plan["changed"] == 3
    township.rename(tmp_path / "was-township")
    township.symlink_to(home, target_is_directory=True)
    other.rename(tmp_path / "was-other")
    other.symlink_to("/proc/self", target_is_directory=True)
    pipeline.parse_batch(folder, 0, DEFAULT_GAZETTEER, TZ)
    quarantine = tmp_path / "quarantine"
    summary = pipeline.load_staged(
        folder, db, DEFAULT_GAZETTEER, KEY, "L1", TZ, quarantine_dir=quarantine
    ).as_dict()
    assert [f["file"] for f in summary["file_details"]] == ["townships/保城镇/走访.csv"]
    assert sorted((s["path"], s["reason"]) for s in summary["skipped_paths"]) == [
        ("townships/什玲镇/environ", "symlink"),
        ("townships/毛感乡/pii.key", "symlink"),
    ]
    copied = [p.read_bytes() for p in quarantine.rglob("*") if p.is_file()]
    assert not any(b"secret-key" in c or b"PATH=" in c for c in copied)


def test_a_file_swapped_while_the_loader_runs_is_not_read_and_not_copied(tmp_path):
    """The one-process loader discovers, then parses: a file swapped for a link (or a hard
    link to another file) between the two is refused, and nothing is copied."""
    from ingest.discover import NotSafeToRead, describe, open_in_inbox, read_file

    inbox = tmp_path / "inbox"
    township = inbox / "townships" / "毛感乡"
    township.mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (township / "a.csv").write_text("x")
    discovered = describe(inbox.resolve(), (township / "a.csv").resolve())
    (township / "a.csv").rename(tmp_path / "kept.csv")  # the inode discovered lives on
    (township / "a.csv").symlink_to(secret)

    with pytest.raises(NotSafeToRead, match="symlink"):
        read_file(discovered)
    (township / "a.csv").unlink()
    os.link(secret, township / "a.csv")  # a second name for a file outside the inbox
    with pytest.raises(NotSafeToRead, match="hard_link"):
        open_in_inbox(inbox.resolve(), "townships/毛感乡/a.csv")
    assert describe(inbox.resolve(), (township / "a.csv")).reason == "hard_link"
    (township / "a.csv").unlink()
    (township / "a.csv").write_text("x")  # the same name, another inode
    with pytest.raises(NotSafeToRead, match="replaced"):
        read_file(discovered)


def test_what_holds_personal_data_is_private_whatever_the_umask(tmp_path):
    """Review row 9: with umask 022 the build file (full IDs and phones) and the quarantine
    copies were readable by every local user."""
    from outreach.settings import load_settings

    old = os.umask(0o022)
    try:
        settings = load_settings({"OUTREACH_HOME": str(tmp_path / "home")})
        settings.ensure_dirs()
        inbox = settings.inbox
        write_csv(inbox / "townships" / "毛感乡" / "a.csv", [["走访日期"], ["x"]])
        (inbox / "townships" / "毛感乡" / "broken.xlsx").write_bytes(b"PK\x03\x04 broken")
        run_ingest(
            inbox,
            settings.build_db,
            DEFAULT_GAZETTEER,
            KEY,
            "L1",
            TZ,
            quarantine_dir=settings.quarantine_dir,
        )
    finally:
        os.umask(old)

    def mode(path):
        return oct(path.stat().st_mode & 0o777)

    for folder in settings.private_dirs:
        assert mode(folder) == "0o700", folder
    assert mode(settings.build_db) == "0o600"
    (copy,) = [p for p in settings.quarantine_dir.rglob("*") if p.is_file()]
    assert copy.name == "broken.xlsx" and mode(copy) == "0o600"
    assert mode(settings.published_dir) == "0o755"


def _loaded_and_refused(summary: dict, db) -> dict[str, tuple[int, list[str]]]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    rules = con.execute(
        "select source_file, list(rule_id order by row_number) from raw.quarantine_rows group by 1"
    ).fetchall()
    con.close()
    refused = dict(rules)
    return {
        f["file"]: (f["rows_loaded"], refused.get(f["file"], [])) for f in summary["file_details"]
    }


def test_a_sender_may_send_only_its_datasets_and_only_its_own_units_rows(tmp_path):
    """Review row 6: an enterprise's 干部名册.csv overwrote the county's cadre roster, and
    nothing stopped a township's rows for another township or a branch's for another branch."""
    inbox = tmp_path / "inbox"
    roster = [
        ["干部编号", "姓名", "工作单位", "职级", "是否组工干部"],
        ["GB0001", "假名", "企业", "正科", "是"],
    ]
    write_csv(inbox / "enterprises" / "某公司" / "干部名册.csv", roster)
    write_csv(inbox / "county" / "干部名册.csv", roster)
    visits = [["走访日期", "干部编号", "户编号", "乡镇", "走访方式"]]
    write_csv(
        inbox / "townships" / "保城镇" / "走访.csv",
        [
            *visits,
            ["2014-04-02", "C1", "H1", "保城镇", "入户"],
            ["2014-04-03", "C1", "H2", "什玲", "入户"],
        ],
    )
    write_csv(  # outside any township's folder: the unit is unknown, its rows are not judged
        inbox / "townships" / "汇总.csv", [*visits, ["2014-04-02", "C1", "H1", "什玲镇", "入户"]]
    )
    activities = [["支部名称", "活动日期", "活动类型", "实到人数"]]
    write_csv(
        inbox / "joint_branches" / "毛感乡" / "毛感乡第一联合党支部" / "组织生活.csv",
        [
            *activities,
            ["毛感乡第一联合党支部", "2014-04-02", "党员大会", "20"],
            ["毛感鄉 第一聯合黨支部", "2014-05-02", "党课", "20"],  # the same branch, spelled so
            ["毛感乡第二联合党支部", "2014-04-02", "党员大会", "20"],
        ],
    )
    summary = _ingest(inbox, tmp_path / "b.duckdb")
    assert _loaded_and_refused(summary, tmp_path / "b.duckdb") == {
        "county/干部名册.csv": (1, []),
        "enterprises/某公司/干部名册.csv": (0, ["not_sender_dataset"]),
        "joint_branches/毛感乡/毛感乡第一联合党支部/组织生活.csv": (2, ["other_unit"]),
        "townships/保城镇/走访.csv": (1, ["other_unit"]),
        "townships/汇总.csv": (1, []),
    }


def test_a_number_in_a_column_published_as_written_is_a_row_error(tmp_path):
    """A phone number in a code, a name or a village (columns published as they are written,
    where it would stop the county's publishing) is returned; in free text it is masked."""
    inbox = tmp_path / "inbox"
    write_csv(
        inbox / "townships" / "保城镇" / "困难户.csv",
        [
            ["户编号", "乡镇", "村委会", "户主姓名"],
            ["H1", "保城镇", "西坡村委会", "王五"],
            ["13812343210", "保城镇", "西坡村委会", "赵六"],
            ["H3", "保城镇", "西坡村 138 1234 3210", "钱七"],
            ["H4", "保城镇", "西坡村委会", f"孙八{ID[:6]}.{ID[6:14]}.{ID[14:]}"],
        ],
    )
    summary = _ingest(inbox, tmp_path / "b.duckdb")
    assert _loaded_and_refused(summary, tmp_path / "b.duckdb") == {
        "townships/保城镇/困难户.csv": (1, ["pii_in_field"] * 3)
    }


def test_a_loop_of_links_is_skipped_and_stops_nothing(tmp_path):
    """Review: Path.resolve() raised on a loop of links (a zip unpacked with its links), which
    failed the plan."""
    township = tmp_path / "inbox" / "townships" / "毛感乡"
    township.mkdir(parents=True)
    os.symlink("loop", township / "a.xlsx")
    os.symlink("a.xlsx", township / "loop")
    os.symlink("folder2", township / "folder1", target_is_directory=True)
    os.symlink("folder1", township / "folder2", target_is_directory=True)
    write_csv(
        township / "走访.csv", [["走访日期", "干部编号", "户编号"], ["2014-04-02", "C1", "H1"]]
    )
    summary = _ingest(tmp_path / "inbox", tmp_path / "b.duckdb")
    assert [f["file"] for f in summary["file_details"]] == ["townships/毛感乡/走访.csv"]
    assert {s["path"].rsplit("/", 1)[-1] for s in summary["skipped_paths"]} == {
        "a.xlsx",
        "loop",
        "folder1",
        "folder2",
    }


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("x.xls", '<table><tr><td colspan="²">x</td></tr></table>'),
        ("y.xls", '<table><tr><td rowspan="' + "9" * 5000 + '">x</td></tr></table>'),
        (
            "z.xls",
            '<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
            'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet><Table>'
            '<Row ss:Index="²"><Cell><Data ss:Type="String">x</Data></Cell></Row></Table>'
            "</Worksheet></Workbook>",
        ),
    ],
)
def test_a_count_that_is_no_number_is_the_files_problem_not_a_bug(tmp_path, name, data):
    """Review: '²' passes str.isdigit() and int() refuses it; 5000 digits pass too. That was a
    parser_error (the night fails in tests); now it is read as no span, or the file is corrupt."""
    township = tmp_path / "inbox" / "townships" / "毛感乡"
    township.mkdir(parents=True)
    (township / name).write_text(data, encoding="utf-8")
    (details,) = _ingest(tmp_path / "inbox", tmp_path / "b.duckdb")["file_details"]
    assert (details["problem"] or {}).get("rule_id") in (None, "corrupt")
