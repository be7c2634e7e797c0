"""The run lease: one DAG run at a time owns the build file, even a backfill against the night."""

from __future__ import annotations

import multiprocessing

from outreach.pipeline import lease


def _alive(*_):
    return True


def _dead(*_):
    return False


def test_one_run_holds_the_lease_until_it_gives_it_back(tmp_path):
    assert lease.try_claim(tmp_path, "d", "night", _alive) is None
    assert lease.try_claim(tmp_path, "d", "night", _alive) is None  # a rescheduled claim
    held = lease.try_claim(tmp_path, "d", "backfill__2013", _alive)
    assert held["run_id"] == "night"
    assert lease.release(tmp_path, "d", "backfill__2013") is False  # not its lease
    assert lease.holder(tmp_path)["run_id"] == "night"
    assert lease.release(tmp_path, "d", "night") is True
    assert lease.try_claim(tmp_path, "d", "backfill__2013", _alive) is None


def test_the_lease_of_a_run_that_is_no_longer_running_is_taken_over(tmp_path):
    asked = []

    def is_running(dag_id, run_id):
        asked.append((dag_id, run_id))
        return False

    lease.try_claim(tmp_path, "d", "killed", _alive)
    assert lease.try_claim(tmp_path, "d", "next", is_running) is None
    assert asked == [("d", "killed")]
    assert lease.holder(tmp_path)["run_id"] == "next"


def test_a_half_written_lease_holds_nothing(tmp_path):
    lease.lease_path(tmp_path).write_text('{"dag_id": "d", "run_')
    assert lease.try_claim(tmp_path, "d", "next", _alive) is None


def _claim(home, run_id, results):
    results.put((run_id, lease.try_claim(home, "d", run_id, _alive) is None))


def test_among_simultaneous_claimants_exactly_one_wins(tmp_path):
    ctx = multiprocessing.get_context("fork")  # quick to start, even on a loaded machine
    results = ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(tmp_path, f"r{i}", results)) for i in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    outcomes = dict(results.get(timeout=60) for _ in procs)
    winners = [r for r, won in outcomes.items() if won]
    assert len(winners) == 1
    assert lease.holder(tmp_path)["run_id"] == winners[0]
