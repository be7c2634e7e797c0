"""Whatever a parse raises becomes that file's quarantine, described in plain data; a bug of the
loader's own code is a parser_error in a night and a loud failure in tests; a night that fails
anyway says which task, which exception and which file."""

from __future__ import annotations

import json
import pickle
from concurrent.futures import Future
from zoneinfo import ZoneInfo

import pytest

import ingest.parse as parse
from ingest.discover import describe
from ingest.parse import FileOutcome, describe_exception, failed, process_file_safely
from ingest.places import load_gazetteer
from ingest.registry import load_registry
from ingest.sandbox import ParserBug, _received
from outreach.outputs.run_report import summary_markdown
from outreach.pipeline.stages import _stage_of, failure_reason, failures
from outreach.settings import DEFAULT_GAZETTEER, SettingsError, load_settings
from tests.workbooks import write_csv

TZ = ZoneInfo("Asia/Shanghai")
ID = "469029198001010024"


@pytest.fixture
def one_file(tmp_path):
    inbox = tmp_path / "inbox"
    path = write_csv(
        inbox / "townships" / "毛感乡" / "v.csv",
        [["走访日期", "干部编号", "户编号", "走访方式"], ["2014-04-02", "C1", "H1", "入户"]],
    )
    return describe(inbox.resolve(), path.resolve())


def _safely(file):
    return process_file_safely(file, load_registry(), load_gazetteer(DEFAULT_GAZETTEER), TZ)


def test_a_bug_of_ours_is_a_parser_error_with_its_exception_masked(one_file, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError(f"户主身份证{ID}")

    monkeypatch.setattr(parse, "validate_sheet", broken)
    outcome = _safely(one_file)
    assert outcome.status == "quarantined"
    assert outcome.problem[0] == "parser_error" and "管理员" in outcome.problem[1]
    assert outcome.detail == "KeyError: '户主身份证469029********0024'"
    assert "in broken" in outcome.traceback and ID not in outcome.traceback
    assert outcome.summary()["problem"]["detail"] == outcome.detail


class PanicException(BaseException):
    """Stands in for pyo3's: a BaseException from the Rust reader's module."""


PanicException.__module__ = "pyo3_runtime"


@pytest.mark.parametrize(
    ("exc", "rule"),
    [
        (MemoryError(), "too_large"),
        (PanicException("index out of bounds"), "corrupt"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), "corrupt"),
        (FileNotFoundError(2, "No such file"), "unreadable"),
        (SystemExit(3), "parser_error"),  # a library calling exit() is a failure like any other
        (TypeError("unhashable"), "parser_error"),
    ],
)
def test_every_class_of_failure_is_a_rule(one_file, monkeypatch, exc, rule):
    def raising(*args, **kwargs):
        raise exc

    monkeypatch.setattr(parse, "read_sheets", raising)
    outcome = _safely(one_file)
    assert outcome.problem[0] == rule
    assert outcome.detail.split(":")[0] == describe_exception(exc).split(":")[0]
    pickle.loads(pickle.dumps(outcome))  # plain data, whatever was raised


def test_a_keyboard_interrupt_is_not_swallowed(one_file, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(parse, "read_sheets", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _safely(one_file)


def test_an_exception_whose_message_cannot_be_read_is_still_described():
    class Weird(Exception):
        def __str__(self):
            raise RuntimeError("no")

    assert describe_exception(Weird()).endswith("Weird: <message unreadable>")


def _future(result=None, exc=None) -> Future:
    future: Future = Future()
    future.set_exception(exc) if exc else future.set_result(result)
    return future


def test_the_parent_raises_a_parser_bug_only_when_asked(one_file):
    bug = failed(one_file, ZeroDivisionError("x"))
    sent = _future(pickle.dumps(bug))
    assert _received(one_file, sent, raise_bugs=False).problem[0] == "parser_error"
    with pytest.raises(ParserBug) as err:
        _received(one_file, sent, raise_bugs=True)
    assert err.value.source_file == one_file.rel and "ZeroDivisionError" in str(err.value)
    broken_file = failed(one_file, PanicException("p"))  # a broken file is no bug of ours
    assert _received(one_file, _future(pickle.dumps(broken_file)), True).problem[0] == "corrupt"


def test_an_error_of_the_configuration_is_the_tasks_not_a_files(one_file):
    """The worker raises only when the contract or the gazetteer cannot be loaded: that fails
    the task, as it would in the parent, instead of quarantining every file."""
    with pytest.raises(FileNotFoundError):
        _received(one_file, _future(exc=FileNotFoundError("gazetteer.yml")), raise_bugs=False)


def test_the_setting_that_makes_parser_bugs_fail():
    assert load_settings({}).parser_bugs == "quarantine"
    assert load_settings({"OUTREACH_PARSER_BUGS": "raise"}).raise_parser_bugs
    with pytest.raises(SettingsError):
        load_settings({"OUTREACH_PARSER_BUGS": "ignore"})


def test_a_failed_night_names_the_task_the_exception_and_the_file(tmp_path):
    (tmp_path / "parse_1.error.json").write_text(
        json.dumps(
            {
                "stage": "parse_1",
                "error": "ParserBug: the loader failed on townships/a.xls: KeyError: 'x'",
                "file": "townships/a.xls",
            }
        )
    )
    (tmp_path / "check.error.json").write_text(
        json.dumps({"stage": "check", "error": "PublishBlocked: x"})
    )
    found = failures(tmp_path, ["parse_files_1", "load_raw", "check", "build.fct_visits_run"])
    # recorded errors in the night's order, then the tasks that failed without a record
    assert [f.get("task") or f["stage"] for f in found] == [
        "parse_1",
        "check",
        "load_raw",
        "build.fct_visits_run",
    ]
    assert failure_reason(found[0]) == (
        "parse_1: ParserBug: the loader failed on townships/a.xls: KeyError: 'x' "
        "(file: townships/a.xls)"
    )
    assert "without recording an error" in failure_reason(found[2])
    assert found[2]["stage"] == "ingest"
    assert [_stage_of(t) for t in ("parse_files_12", "needs_build", "build.x_run", "report")] == [
        "parse_12",
        "gate",
        "build",
        "report",
    ]


def test_the_summary_names_a_file_returned_whole_with_its_rule_and_exception():
    file = {
        "file": "townships/毛感乡/坏.xls",
        "provider": "townships",
        "status": "quarantined",
        "datasets": [],
        "rows_loaded": 0,
        "rows_quarantined": 0,
        "sheets_unmatched": [],
        "problem": {
            "rule_id": "corrupt",
            "message": "文件已损坏",
            "detail": "pyo3_runtime.PanicException: index out of bounds",
        },
    }
    run = {
        "run_id": "r",
        "as_of": "2014-06-30",
        "published": True,
        "reasons": [],
        "files": {},
        "rows": {},
        "sheets_unmatched": 0,
        "warehouse": {},
        "headlines": {},
        "obligations": {},
        "checks": [],
    }
    text = summary_markdown(run, {"file_details": [file]})
    assert "坏.xls" in text and "（corrupt）" in text and "PanicException" in text


def test_outcomes_stay_plain_data(one_file):
    outcome = FileOutcome(one_file, "quarantined", problem=("corrupt", "x"), detail="d")
    assert pickle.loads(pickle.dumps(outcome)).detail == "d"
