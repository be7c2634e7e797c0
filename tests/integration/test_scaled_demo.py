"""The demo at x2 (outreach/demo/scale.py) written, loaded, built and checked: the same bytes
from any process, every row where the manifest says, nothing merged across 片区, the gate
passes, and the warehouse reports exactly the headline figures and obligation flags the
manifest expects (twice the article's counts)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingest.pipeline import run_ingest
from ingest.registry import load_registry
from outreach.demo import DEMO_AS_OF, EXPECTED_HEADLINES, write_demo_inbox
from outreach.pipeline import stages
from outreach.pipeline.context import RunContext
from outreach.settings import load_settings

REPO = Path(__file__).resolve().parents[2]


def digest(root: Path, files) -> str:
    h = hashlib.sha256()
    for rel in files:
        p = root / rel
        h.update(rel.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
        h.update(str(int(p.stat().st_mtime)).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def x2(tmp_path_factory):
    """x2 written in this process (one worker), loaded into raw, built by dbt and checked by the gate."""
    home = tmp_path_factory.mktemp("x2_home")
    settings = load_settings({"OUTREACH_HOME": str(home)})
    manifest = write_demo_inbox(settings.inbox, scale=2, workers=1)
    ctx = RunContext.from_xcom(stages.prepare(settings, None, {"as_of": DEMO_AS_OF.isoformat()}))
    run_ingest(
        settings.inbox,
        settings.build_db,
        settings.gazetteer,
        settings.pii_key(),
        ctx.run_id,
        settings.tz,
        quarantine_dir=settings.quarantine_dir,
    )
    stages.build(settings, ctx)
    checked = stages.check(settings, ctx)  # raises PublishBlocked on an error-severity finding
    return settings, manifest, checked


_GUARDED_MAIN = """
import sys
from pathlib import Path
if __name__ != "__main__":  # a script that cannot run twice (pytest's last __main__ was one)
    raise RuntimeError("the parent's main module ran again in a demo worker")
from outreach.demo import write_demo_inbox
write_demo_inbox(Path(sys.argv[1]), scale=2, workers=2)
"""


def test_x2_bytes_do_not_depend_on_the_process(x2, tmp_path):
    """Written again in another interpreter (another hash seed, two spawned workers, under a
    main module that must not run again in them): the same files, bytes and file times."""
    _, manifest, _ = x2
    other = tmp_path / "again"
    script = tmp_path / "main.py"
    script.write_text(_GUARDED_MAIN)
    proc = subprocess.run(
        [sys.executable, str(script), str(other)],
        env=dict(os.environ, PYTHONHASHSEED="4711"),
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted(p.relative_to(other).as_posix() for p in other.rglob("*") if p.is_file())
    assert files == list(manifest.files)
    assert digest(other, files) == digest(manifest.root, files)


def test_every_row_lands_where_the_manifest_says(x2):
    settings, manifest, _ = x2
    assert len(manifest.files) == 266
    con = duckdb.connect(str(settings.build_db), read_only=True)
    try:
        for dataset in load_registry():
            loaded = con.execute(f"select count(*) from raw.{dataset}").fetchone()[0]
            assert loaded == manifest.counts[dataset], dataset
        quarantined = con.execute("select count(*) from raw.quarantine_rows").fetchone()[0]
        assert quarantined == manifest.counts["quarantined_rows"] == 20
        # each 片区 resends its own few rows; no row of one 片区 is merged into another's
        merged = con.execute(
            "select count(*), count(*) filter (where split_part(source_file, '/', 2) "
            "<> split_part(kept_source_file, '/', 2) and (source_file like '%/片区%' "
            "or kept_source_file like '%/片区%')) from intermediate.int_duplicates_merged"
        ).fetchone()
    finally:
        con.close()
    assert merged == (10, 0)


def test_the_gate_passes(x2):
    _, _, checked = x2
    assert checked["blocking"] == 0


def test_x2_reports_the_expected_headlines_and_flags(x2):
    settings, manifest, _ = x2
    expected = manifest.expected
    con = duckdb.connect(str(settings.build_db), read_only=True)
    try:
        got = dict(con.execute("select metric, value from marts.program_headlines").fetchall())
        flags = {
            table: con.execute(f"select count(*) from marts.{table}").fetchone()[0]
            for table in expected["obligations"]
        }
    finally:
        con.close()
    assert set(got) == set(expected["headlines"])
    for metric, want in expected["headlines"].items():
        if metric == "quarterly_visit_rate":
            assert abs(float(got[metric]) - want) <= 0.00005 + 1e-12
        else:
            assert got[metric] == Decimal(str(want)), metric
            assert want == 2 * EXPECTED_HEADLINES[metric], metric  # each 片区 hits the article
    assert flags == expected["obligations"]
    assert flags == {
        "dq_missing_quarterly_visits": 100,
        "dq_missing_annual_talks": 144,
        "dq_missing_branch_activities": 16,
        "dq_org_cadre_pairing_load": 4,
    }
