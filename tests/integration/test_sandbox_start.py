"""The sandbox's workers start early and warm up; a worker that cannot warm up must not turn a
configuration error into parser crashes: the first file's task raises it, as it always did."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.discover import describe
from ingest.sandbox import Sandbox
from outreach.settings import DEFAULT_GAZETTEER
from tests.workbooks import write_csv

TZ = ZoneInfo("Asia/Shanghai")


def _files(tmp_path: Path, n: int) -> list:
    inbox = tmp_path / "inbox"
    header, row = ["走访日期", "干部编号", "户编号"], ["2013-04-02", "C1", "H1"]
    paths = []
    for i in range(n):
        path = inbox / "townships" / f"{i:02d}.csv"
        write_csv(path, [header] + [row] * (i + 1))  # different sizes: the biggest go first
        paths.append(path)
    return [describe(inbox.resolve(), p.resolve()) for p in paths]


def test_started_workers_parse_every_file_once(tmp_path):
    files = _files(tmp_path, 7)
    with Sandbox(DEFAULT_GAZETTEER, TZ) as sandbox:
        sandbox.start()
        outcomes = list(sandbox.parse(files))
    assert sorted(o.file.rel for o in outcomes) == sorted(f.rel for f in files)
    assert {o.status for o in outcomes} == {"loaded"}
    assert sorted(o.rows_loaded for o in outcomes) == list(range(1, 8))
    assert all(o.timings.keys() >= {"guard", "read", "normalise"} for o in outcomes)


def test_a_worker_that_cannot_warm_up_leaves_the_error_to_the_task(tmp_path):
    files = _files(tmp_path, 1)
    with pytest.raises(FileNotFoundError):
        with Sandbox(tmp_path / "no-such-gazetteer.yml", TZ) as sandbox:
            sandbox.start()
            list(sandbox.parse(files))
