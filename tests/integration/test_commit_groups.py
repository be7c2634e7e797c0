"""Group commit: several whole files per DuckDB transaction, and nothing else changes.

The loader commits the files it has parsed in groups (``ingest.load.CommitGroup``). These tests
hold a grouped load to one file per transaction over a night's inbox and the resends,
broken resends and put-back files of later nights; show that a group that fails to commit
leaves nothing of itself behind and the next run loads it; and check the store's refusals.
"""

from __future__ import annotations

import shutil
from zoneinfo import ZoneInfo

import duckdb
import pytest

from ingest.discover import discover
from ingest.load import CommitGroup, RawStore
from ingest.parse import process_file
from ingest.pipeline import run_ingest
from ingest.places import load_gazetteer
from ingest.registry import load_registry
from ingest.validate import SheetRows
from outreach.demo import write_demo_inbox
from outreach.settings import DEFAULT_GAZETTEER
from tests.raw_layer import CLOCK, raw_tables
from tests.workbooks import write_xlsx

TZ = ZoneInfo("Asia/Shanghai")
KEY = b"k" * 32


def _consistent(db) -> None:
    """Every file with rows in raw has a current ledger row that counts exactly those rows, and
    every current ledger row's rows are there: nothing half-loaded."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        counts: dict[str, int] = {}
        for name in load_registry():
            for rel, n in con.execute(
                f"select source_file, count(*) from raw.{name} group by all"
            ).fetchall():
                counts[rel] = counts.get(rel, 0) + n
        ledger = dict(
            con.execute(
                "select source_file, rows_loaded from raw.file_versions where status = 'current'"
            ).fetchall()
        )
    finally:
        con.close()
    assert {rel: n for rel, n in ledger.items() if n} == counts


def _night(inbox, db, load_id, group):
    return run_ingest(inbox, db, DEFAULT_GAZETTEER, KEY, load_id, TZ, group=group).as_dict()


def test_grouped_commits_load_exactly_what_one_file_per_transaction_loads(tmp_path):
    inbox = tmp_path / "inbox"
    write_demo_inbox(inbox)
    files = sorted(f.rel for f in discover(inbox)[0] if f.rel.endswith(".xlsx"))
    resent, broken, put_back = files[0], files[1], files[2]
    kept = {rel: (inbox / rel).read_bytes() for rel in (broken, put_back)}
    one, grouped = tmp_path / "one.duckdb", tmp_path / "grouped.duckdb"
    # a small group by files and by rows: groups close on both counts during the night
    small = CommitGroup(files=7, rows=400, seconds=60)

    def both(load_id):
        a = _night(inbox, one, load_id, CommitGroup(files=1))
        b = _night(inbox, grouped, load_id, small)
        assert a == b
        assert raw_tables(one, CLOCK) == raw_tables(grouped, CLOCK)
        _consistent(grouped)
        return b

    first = both("n1")
    assert first["files"]["loaded"] == len(discover(inbox)[0])
    # night 2: a corrected resend, a broken resend, a file replaced by another version
    write_xlsx(
        inbox / resent,
        {"走访": [["走访日期", "干部编号", "走访干部", "户编号", "乡镇", "村委会", "走访方式"]]},
    )
    (inbox / broken).write_bytes(b"PK\x03\x04 truncated download")
    (inbox / put_back).write_bytes(kept[broken])
    second = both("n2")
    assert second["files"] == {
        "loaded": 2,
        "unchanged": first["files"]["loaded"] - 3,
        "quarantined": 1,
    }
    # night 3: both put back as they were (versions the ledger has seen), a brand new file
    (inbox / broken).write_bytes(kept[broken])
    (inbox / put_back).write_bytes(kept[put_back])
    shutil.copyfile(inbox / resent, inbox / "townships" / "new.xlsx")
    both("n3")
    # night 4: the broken resend again (a quarantined version the ledger has seen)
    (inbox / broken).write_bytes(b"PK\x03\x04 truncated download")
    both("n4")
    con = duckdb.connect(str(grouped), read_only=True)
    statuses = con.execute(
        "select status, count(*) from raw.file_versions where source_file = ? group by all "
        "order by all",
        [broken],
    ).fetchall()
    problems = con.execute(
        "select count(*) from raw.quarantine_files where source_file = ?", [broken]
    ).fetchone()[0]
    con.close()
    assert statuses == [("current", 1), ("quarantined", 1)]  # one ledger row per version
    assert problems == 1  # the put-back broken version is recorded once, not twice


def test_a_group_that_fails_to_commit_leaves_nothing_and_the_next_run_loads_it(
    tmp_path, monkeypatch
):
    inbox = tmp_path / "inbox"
    write_demo_inbox(inbox)
    reference = tmp_path / "reference.duckdb"
    _night(inbox, reference, "r", CommitGroup())
    db = tmp_path / "failing.duckdb"
    group = CommitGroup(files=10, seconds=60)
    real = RawStore._insert
    calls = 0

    def disk_full_on_the_third_group(self, table, batch):
        nonlocal calls
        if self.staged_files and table == "file_versions":
            calls += 1
            if calls == 3:
                raise OSError("No space left on device (simulated)")
        real(self, table, batch)

    monkeypatch.setattr(RawStore, "_insert", disk_full_on_the_third_group)
    committed = []
    with pytest.raises(OSError, match="No space left"):
        run_ingest(
            inbox,
            db,
            DEFAULT_GAZETTEER,
            KEY,
            "broken night",
            TZ,
            progress=lambda i, n, o: committed.append(o.file.rel),
            group=group,
        )
    monkeypatch.setattr(RawStore, "_insert", real)
    # exactly the two groups before the failure are in, every file whole
    assert len(committed) == 20
    con = duckdb.connect(str(db), read_only=True)
    current = {
        r[0]
        for r in con.execute(
            "select source_file from raw.file_versions where status = 'current'"
        ).fetchall()
    }
    con.close()
    assert current == set(committed)
    _consistent(db)
    again = _night(inbox, db, "r", CommitGroup())
    assert again["files"]["unchanged"] == 20
    # the same rows as a night without the failure (the 20 committed first keep its load id)
    assert raw_tables(db) == raw_tables(reference)


def test_the_store_refuses_a_path_twice_in_a_group_and_drops_an_uncommitted_group(tmp_path):
    inbox = tmp_path / "inbox"
    write_xlsx(inbox / "townships/什玲镇/a.xlsx", {"说明": [["填表说明"]]})
    (file,) = discover(inbox)[0]
    db = tmp_path / "b.duckdb"
    store = RawStore(db, load_registry(), TZ, CommitGroup(files=5))
    store.stage_file(file, "L1", KEY, [], [], None)
    assert store.staged_files == 1 and not store.group_due()
    with pytest.raises(ValueError, match="staged twice"):
        store.stage_file(file, "L1", KEY, [], [], None)
    store.close()  # like a kill: the staged file is not committed
    store = RawStore(db, load_registry(), TZ)
    assert store.current_sha256(file.rel) is None
    store.commit_file(file, "L1", KEY, [], [], None)
    assert store.current_sha256(file.rel) == file.sha256
    store.close()


def test_a_file_that_fails_half_way_through_staging_leaves_nothing_of_itself(tmp_path):
    # a good sheet, then one of a dataset the store does not know: staging raises after the
    # first sheet's rows were built, and none of them may reach raw with the next file
    inbox = tmp_path / "inbox"
    write_demo_inbox(inbox)
    registry, gazetteer = load_registry(), load_gazetteer(DEFAULT_GAZETTEER)
    outcomes = [
        process_file(f, registry, gazetteer, TZ)
        for f in sorted(discover(inbox)[0], key=lambda f: f.rel)[:20]
    ]
    x, y = [o for o in outcomes if o.rows_loaded and o.problem is None][:2]
    broken = [*x.sheets, SheetRows(dataset="no_such_dataset", sheet_name="s", row_numbers=[1])]
    db = tmp_path / "b.duckdb"
    store = RawStore(db, registry, TZ)
    try:
        with pytest.raises(KeyError, match="no_such_dataset"):
            store.stage_file(x.file, "L1", KEY, broken, x.unmatched, None)
        assert store.staged_files == 0
        store.commit_file(y.file, "L1", KEY, y.sheets, y.unmatched, None)
        store.commit_file(x.file, "L2", KEY, x.sheets, x.unmatched, None)
    finally:
        store.close()
    _consistent(db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        per_file = dict(
            con.execute(
                "select source_file, count(*) from ("
                + " union all ".join(f"select source_file from raw.{n}" for n in registry)
                + ") group by all"
            ).fetchall()
        )
    finally:
        con.close()
    assert per_file == {x.file.rel: x.rows_loaded, y.file.rel: y.rows_loaded}


@pytest.mark.parametrize(
    "limits", [dict(files=0), dict(rows=0), dict(seconds=-1.0), dict(files=-3, rows=-1)]
)
def test_a_commit_group_needs_a_file_and_a_row(limits):
    with pytest.raises(ValueError, match="at least one file"):
        CommitGroup(**limits)


def test_a_group_is_due_when_its_first_file_has_waited(tmp_path):
    inbox = tmp_path / "inbox"
    write_xlsx(inbox / "townships/什玲镇/a.xlsx", {"说明": [["填表说明"]]})
    (file,) = discover(inbox)[0]
    store = RawStore(tmp_path / "b.duckdb", load_registry(), TZ, CommitGroup(seconds=0))
    try:
        assert not store.group_due()  # nothing staged: nothing to commit
        store.stage_file(file, "L1", KEY, [], [], None)
        assert store.group_due()
        assert store.commit_group() == 1 and store.commit_group() == 0
    finally:
        store.close()
