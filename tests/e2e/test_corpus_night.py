"""A real night (``outreach run``: the DAG through ``dag.test()``) over the demo inbox with the
generated corpus beside it (``tests/corpus.py``: every format and encoding, files that panic or
crash python-calamine, bad checksums, seeded mutations of a workbook of every format): the night
publishes, the demo's figures are unchanged, and every file of the corpus is loaded, quarantined
with a rule, or listed with its unmatched sheets; none is missing from ``raw.file_versions``.

The loader's own bugs fail this night (``OUTREACH_PARSER_BUGS=raise``): nothing in the corpus may
be a parser_error. A second night, with one parse step broken on purpose, fails and says which
task, which exception and which file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from outreach.demo import DEMO_AS_OF, EXPECTED_HEADLINES, write_demo_inbox
from outreach.feedback import FILE_HINTS
from outreach.stages import failure_reason
from tests.corpus import ANY, write_corpus

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OUTREACH_"))}
    env.update(OUTREACH_HOME=str(home), OUTREACH_PARSER_BUGS="raise")
    return env


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    home = tmp_path_factory.mktemp("corpus-night")
    write_demo_inbox(home / "inbox")
    expected = write_corpus(home / "inbox")
    proc = subprocess.run(
        [sys.executable, "-m", "outreach.cli", "run", "--as-of", DEMO_AS_OF.isoformat()],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = home / "reports" / "latest"
    return home, expected, json.loads((report / "ingest.json").read_text(encoding="utf-8"))


def test_the_night_publishes_and_the_demo_figures_are_unchanged(night):
    home, _, _ = night
    run = json.loads((home / "reports" / "latest" / "run.json").read_text(encoding="utf-8"))
    assert run["published"] is True and run["reasons"] == [] and run["failures"] == []
    con = duckdb.connect(str(home / "published" / "outreach.duckdb"), read_only=True)
    figures = dict(con.execute("select metric, value from marts.program_headlines").fetchall())
    for metric, value in EXPECTED_HEADLINES.items():
        assert float(figures[metric]) == pytest.approx(float(value), abs=1e-4), metric


def test_every_corpus_file_is_accounted_for(night):
    home, expected, ingest = night
    details = {f["file"]: f for f in ingest["file_details"]}
    con = duckdb.connect(str(home / "warehouse" / "outreach_build.duckdb"), read_only=True)
    ledger = dict(con.execute("select source_file, status from raw.file_versions").fetchall())
    refused = dict(con.execute("select source_file, rule_id from raw.quarantine_files").fetchall())
    unmatched = {
        r[0] for r in con.execute("select source_file from raw.unmatched_sheets").fetchall()
    }
    for rel, want in expected.items():
        f = details[rel]
        assert rel in ledger, f"{rel} is missing from raw.file_versions"
        if f["status"] == "quarantined":
            assert ledger[rel] == "quarantined" and refused[rel] == f["problem"]["rule_id"], rel
            assert f["problem"]["rule_id"] in FILE_HINTS, rel  # explained to its sender
            assert f["problem"]["rule_id"] != "parser_error", rel
        else:
            assert ledger[rel] == "current", rel
            assert f["datasets"] or rel in unmatched, (
                f"{rel}: loaded, but no sheet recognised or listed"
            )
        if want.startswith("loaded:"):
            assert (f["status"], f["rows_loaded"]) == ("loaded", int(want.split(":")[1])), rel
        elif want != ANY:
            assert (f["problem"] or {}).get("rule_id") == want, rel
    # the mutations really were a mix: some still load, most are refused, some match nothing
    mutations = [details[r] for r, w in expected.items() if w == ANY]
    assert {f["status"] for f in mutations} == {"loaded", "quarantined"}
    assert any(f["sheets_unmatched"] for f in mutations)


def test_the_report_names_each_file_returned_whole(night):
    home, expected, _ = night
    summary = (home / "reports" / "latest" / "summary.md").read_text(encoding="utf-8")
    assert "panic_without_rels.xlsb" in summary and "PanicException" in summary
    assert "crash_upside_down_dimensions.xls" in summary and "parser_crashed" in summary


BROKEN_NIGHT = textwrap.dedent(
    """
    import datetime as dt
    from ingest import staging
    from outreach import airflow_env
    from outreach.settings import load_settings

    real = staging.write_outcome

    def write_outcome(folder, index, outcome, registry):
        if outcome.file.rel.endswith("坏.csv"):
            raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")
        return real(folder, index, outcome, registry)

    staging.write_outcome = write_outcome  # a bug of ours, in the parse task, on one file
    print("STATE " + airflow_env.run_once(load_settings(), dt.date(2014, 6, 30)))
    """
)


def test_a_night_that_fails_says_which_task_exception_and_file(tmp_path, monkeypatch):
    home = tmp_path / "home"
    township = home / "inbox" / "townships" / "毛感乡"
    township.mkdir(parents=True)
    for name in ("好.csv", "坏.csv"):
        (township / name).write_text(
            "走访日期,干部编号,户编号\n2014-04-02,C1,H1\n", encoding="utf-8"
        )
    proc = subprocess.run(
        [sys.executable, "-c", BROKEN_NIGHT],
        env=_env(home),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert "STATE failed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = home / "reports" / "latest"
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["published"] is False
    (failure,) = run["failures"]
    assert failure["stage"] == "parse_0" and failure["file"] == "townships/毛感乡/坏.csv"
    assert failure["error"].startswith("ParserBug:") and "TypeError" in failure["error"]
    assert run["reasons"] == [failure_reason(failure)]
    assert run["reasons"][0].endswith("(file: townships/毛感乡/坏.csv)")
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "是否已发布：否" in summary and "坏.csv" in summary and "TypeError" in summary

    # the failure mail says the same, from the report (the DAG's callback has no XCom here)
    from outreach import alerts

    monkeypatch.setenv("OUTREACH_HOME", str(home))
    subject, body = alerts.failure_mail(
        {
            "dag_run": {
                "dag_id": "outreach_nightly",
                "run_id": "manual",
                "conf": {"as_of": "2014-06-30"},
            },
            "task_instance": {"task_id": "verdict"},
        }
    )
    assert "运行失败" in subject
    assert "parse_0: ParserBug" in body and "坏.csv" in body and "TypeError" in body
