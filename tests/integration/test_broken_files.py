"""Files that once stopped the whole night (a Rust panic, a parser crash, bad checksums, old-Mac
line ends, a quote never closed) go through the real sandbox beside files of every format: each
broken one is quarantined with its rule and the exception behind it, every other one loads. A
file the loader's own code fails to stage is that file's parser_error, not the night's."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from ingest.discover import describe
from ingest.load import RawStore
from ingest.parse import FileOutcome
from ingest.pipeline import _Committer, run_ingest
from ingest.registry import load_registry
from ingest.sandbox import ParserBug, SandboxLimits
from ingest.validate import SheetRows
from outreach.outputs.return_lists import FILE_HINTS
from outreach.settings import DEFAULT_GAZETTEER
from tests.corpus import broken_files, format_files

TZ = ZoneInfo("Asia/Shanghai")
KEY = b"k" * 32
VISITS = [
    [
        "走访日期",
        "干部编号",
        "干部姓名",
        "户编号",
        "户主姓名",
        "乡镇",
        "村委会",
        "走访方式",
        "备注",
    ],
    ["2014-04-02", "C001", "张三", "H001", "李四", "毛感乡", "毛感村", "入户", "了解生产，路难走"],
    ["2014年4月3日", "C002", "王五", "H002", "赵六", "毛感乡", "毛感村", "电话", "多行\n备注"],
    ["2014/4/9", "C001", "张三", "H003", "钱七", "毛感乡", "毛感村", "座谈", None],
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("parse-failures")
    inbox = root / "inbox"
    base = inbox / "townships" / "毛感乡"
    base.mkdir(parents=True)
    expected = {}
    for name, data in format_files(VISITS).items():
        (base / name).write_bytes(data)
        expected[f"townships/毛感乡/{name}"] = "loaded"
    for name, (data, rule) in broken_files(VISITS).items():
        (base / name).write_bytes(data)
        expected[f"townships/毛感乡/{name}"] = rule
    # file problems are not bugs: the loader's own failures would raise here
    summary = run_ingest(
        inbox,
        root / "b.duckdb",
        DEFAULT_GAZETTEER,
        KEY,
        "L1",
        TZ,
        quarantine_dir=root / "q",
        limits=SandboxLimits(raise_bugs=True),
    ).as_dict()
    return root, expected, summary


def test_each_broken_file_is_quarantined_with_its_rule_and_every_format_loads(loaded):
    _, expected, summary = loaded
    got = {
        f["file"]: (f["problem"]["rule_id"] if f["problem"] else f["status"])
        for f in summary["file_details"]
    }
    assert got == expected
    assert set(got.values()) - {"loaded"} <= set(FILE_HINTS)  # each explained to its sender
    for f in summary["file_details"]:
        if f["status"] == "loaded":
            assert (f["datasets"], f["rows_loaded"], f["rows_quarantined"]) == (["visits"], 3, 0)


def test_panics_and_crashes_are_named_in_the_quarantine(loaded):
    root, _, _ = loaded
    con = duckdb.connect(str(root / "b.duckdb"), read_only=True)
    rows = dict(
        con.execute(
            "select source_file, rule_id || ' | ' || message || ' | ' || coalesce(detail, '') "
            "from raw.quarantine_files"
        ).fetchall()
    )
    # python-calamine 0.9.1 panics on these two; if an upgrade stops it, find new inputs that do
    for name in ("panic_truncated.xls", "panic_without_rels.xlsb"):
        assert "pyo3_runtime.PanicException" in rows[f"townships/毛感乡/{name}"], name
    assert rows["townships/毛感乡/crash_upside_down_dimensions.xls"].startswith("parser_crashed")
    assert "Bad CRC-32" in rows["townships/毛感乡/bad_crc.xlsx"]
    # the header, three rows (one of two lines) and then the unclosed quote: line 6
    assert "第 6 行" in rows["townships/毛感乡/excel_mac_unclosed_quote.csv"]
    # every quarantined file is kept whole for the people who follow it up
    for rel in rows:
        assert (root / "q" / "L1" / rel).read_bytes() == (root / "inbox" / rel).read_bytes()


def _visits_outcome(inbox: Path, name: str, cadre_codes: list) -> FileOutcome:
    path = inbox / "townships" / "毛感乡" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(name.encode())
    dataset = load_registry()["visits"]
    rows = SheetRows(dataset="visits", sheet_name="s")
    for spec in dataset.columns:
        rows.columns[spec.name] = [None] * len(cadre_codes)
        if spec.type == "place_township":
            rows.columns["township_code"] = [None] * len(cadre_codes)
    rows.columns["cadre_code"] = cadre_codes
    rows.row_numbers = list(range(2, 2 + len(cadre_codes)))
    return FileOutcome(describe(inbox.resolve(), path.resolve()), "loaded", sheets=[rows])


def test_a_file_the_loader_cannot_stage_is_its_parser_error_and_the_others_load(tmp_path):
    inbox = tmp_path / "inbox"
    bad = _visits_outcome(inbox, "bad.csv", [object()])  # no Arrow type takes it: our bug
    good = _visits_outcome(inbox, "good.csv", ["C1", "C2"])
    store = RawStore(tmp_path / "b.duckdb", load_registry(), TZ)
    done = []
    try:
        committer = _Committer(store, "L1", KEY, None, done.append)
        committer.add(bad)
        committer.add(good)
        committer.flush()
    finally:
        store.close()
    assert [(o.file.rel.rsplit("/", 1)[-1], o.status) for o in done] == [
        ("bad.csv", "quarantined"),
        ("good.csv", "loaded"),
    ]
    con = duckdb.connect(str(tmp_path / "b.duckdb"), read_only=True)
    rule, detail = con.execute("select rule_id, detail from raw.quarantine_files").fetchone()
    assert rule == "parser_error" and "pyarrow" in detail
    assert con.execute("select count(*) from raw.visits").fetchone()[0] == 2
    con.close()

    store = RawStore(tmp_path / "c.duckdb", load_registry(), TZ)
    try:
        with pytest.raises(ParserBug, match="bad.csv"):  # the tests' setting: fail loudly
            _Committer(store, "L1", KEY, None, done.append, raise_bugs=True).add(bad)
    finally:
        store.close()


def test_a_file_the_parse_task_cannot_stage_is_its_parser_error_in_a_night(tmp_path, monkeypatch):
    from ingest import pipeline, staging

    inbox = tmp_path / "inbox"
    township = inbox / "townships" / "毛感乡"
    township.mkdir(parents=True)
    for name in ("好.csv", "坏.csv"):
        (township / name).write_bytes(format_files(VISITS)["utf8.csv"])
    real = staging.write_outcome

    def write_outcome(folder, index, outcome, registry):
        if outcome.file.rel.endswith("坏.csv") and outcome.status == "loaded":
            raise TypeError("a bug of ours")
        return real(folder, index, outcome, registry)

    monkeypatch.setattr(staging, "write_outcome", write_outcome)
    folder = tmp_path / "staging"
    db = tmp_path / "b.duckdb"
    pipeline.plan_ingest(inbox, db, folder)
    with pytest.raises(ParserBug, match="坏.csv"):  # the tests' setting
        pipeline.parse_batch(folder, 0, DEFAULT_GAZETTEER, TZ, SandboxLimits(raise_bugs=True))
    pipeline.parse_batch(folder, 0, DEFAULT_GAZETTEER, TZ)  # a night's
    summary = pipeline.load_staged(folder, db, DEFAULT_GAZETTEER, KEY, "L1", TZ).as_dict()
    got = {
        f["file"].rsplit("/", 1)[-1]: (f["status"], (f["problem"] or {}).get("detail"))
        for f in summary["file_details"]
    }
    assert got == {
        "好.csv": ("loaded", None),
        "坏.csv": ("quarantined", "TypeError: a bug of ours"),
    }
