"""Production mode, for real: docker-compose's configuration outside containers.

Airflow's metadata in a fresh PostgreSQL database on 127.0.0.1:5432, the CeleryExecutor on the
local Redis, and as subprocesses an API server, a scheduler, a DAG processor, a triggerer and two
Celery workers (see ``cluster.py``). The test triggers ``outreach_nightly`` through the REST API
and checks the published warehouse, that the parse tasks spread over both workers, that the 06:00
DeadlineAlert fires through the real scheduler and triggerer and mails, and that
``airflow backfill create`` over consecutive as-of dates keeps one correct warehouse per date,
and that ``outreach_intake`` runs beside it.

About ten minutes: the scheduler really schedules every task.
"""

from __future__ import annotations

import ast
import datetime as dt
import subprocess
import time
from email import message_from_bytes, policy
from pathlib import Path

import duckdb
import pytest

from outreach.demo import DEMO_AS_OF, EXPECTED_HEADLINES, demo_truth, write_demo_inbox
from tests.production.cluster import BIN, REDIS_URL, Cluster, drop_database, free_port, group_alive

pytestmark = pytest.mark.slow

DAG_ID = "outreach_nightly"
TZ = dt.timezone(dt.timedelta(hours=8))


class MailInbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(m["subject"]) for m in self.messages]


@pytest.fixture(scope="module")
def mail():
    from aiosmtpd.controller import Controller

    inbox = MailInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, mail):
    port, _ = mail
    cluster = Cluster(root=tmp_path_factory.mktemp("production"), smtp_port=port)
    write_demo_inbox(cluster.home / "inbox")
    try:
        cluster.init()
        cluster.start_all()
        cluster.wait_for(
            "the API server",
            lambda: (
                __import__("httpx").get(f"{cluster.api}/api/v2/monitor/health").status_code == 200
            ),
            timeout=180,
        )
        with cluster.client() as api:
            cluster.wait_for(
                "the DAG processor to register outreach_nightly",
                lambda: api.get(f"/dags/{DAG_ID}").status_code == 200,
                timeout=240,
            )
            errors = api.get("/importErrors").json()["import_errors"]
            assert errors == [], errors
            assert api.patch(f"/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200
        yield cluster
    finally:
        pids = cluster.stop()
        try:
            # grandchildren killed with their group may take a moment to be reaped
            deadline = time.monotonic() + 30
            while [pid for pid in pids if group_alive(pid)] and time.monotonic() < deadline:
                time.sleep(1)
            assert not [pid for pid in pids if group_alive(pid)], "processes left running"
        finally:
            drop_database(cluster.database)
            _drop_queue(cluster.queue)


def _drop_queue(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"*{queue}*"):
        client.delete(key)


def _wait_for_runs(cluster, api, run_ids: list[str], timeout: float) -> dict[str, dict]:
    """Until every run succeeded; fails at once when a run fails or a task waits for a retry
    (the DAG retries after five minutes: no reason to wait for that)."""

    def finished():
        runs = {r: api.get(f"/dags/{DAG_ID}/dagRuns/{r}").json() for r in run_ids}
        states = {r: run.get("state") for r, run in runs.items()}
        tis = [
            (r, t["task_id"], t["map_index"], t["state"])
            for r in run_ids
            for t in api.get(
                f"/dags/{DAG_ID}/dagRuns/{r}/taskInstances", params={"limit": 100}
            ).json()["task_instances"]
        ]
        broken = [t for t in tis if t[3] in ("failed", "up_for_retry", "upstream_failed")]
        if broken or "failed" in states.values():
            tasks = sorted({(r, task) for r, task, _, _ in broken})
            logs = "\n".join(_task_log_errors(cluster, r, task) for r, task in tasks)
            raise AssertionError(f"run failed: {states} {broken}\n{logs}\n{cluster.log_tails()}")
        return runs if all(s == "success" for s in states.values()) else None

    return cluster.wait_for(f"runs {run_ids}", finished, timeout=timeout, every=5)


def _task_log_errors(cluster, run_id: str, task_id: str) -> str:
    """The error lines of a task's log files (Airflow writes them as JSON lines)."""
    folder = cluster.root / "airflow" / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"
    out = []
    for path in sorted(folder.glob(f"task_id={task_id}/**/*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if '"level":"error"' in line or '"level": "error"' in line:
                out.append(f"{path.relative_to(folder)}: {line[:2000]}")
    return "\n".join(out[-10:])


def _headlines(path: Path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("select metric, value from marts.program_headlines").fetchall()
        as_of = con.execute("select as_of from marts.publication").fetchone()[0]
    finally:
        con.close()
    return {"as_of": as_of, **{m: float(v) for m, v in rows}}


def _assert_headlines(actual: dict, figures: dict, as_of: dt.date) -> None:
    assert actual["as_of"] == as_of
    assert set(actual) - {"as_of"} == set(figures)
    for metric, value in figures.items():
        assert actual[metric] == pytest.approx(float(value), abs=1e-4), (as_of, metric)


def test_a_night_triggered_through_the_rest_api_runs_on_celery_and_publishes(cluster, mail):
    _, inbox = mail
    # The deadline is the logical date + 28 h: a logical date 28 h ago less 10 s puts the 06:00
    # deadline 10 s after the run is queued, while it runs (a night takes over a minute even
    # here). conf names the demo's as-of date.
    logical = dt.datetime.now(dt.UTC) - dt.timedelta(hours=28) + dt.timedelta(seconds=10)
    with cluster.client() as api:
        created = api.post(
            f"/dags/{DAG_ID}/dagRuns",
            json={
                "dag_run_id": "production-test-night",
                "logical_date": logical.isoformat(),
                "conf": {"as_of": DEMO_AS_OF.isoformat()},
            },
        )
        assert created.status_code == 200, created.text
        _wait_for_runs(cluster, api, ["production-test-night"], timeout=1500)
        tis = api.get(
            f"/dags/{DAG_ID}/dagRuns/production-test-night/taskInstances", params={"limit": 100}
        ).json()["task_instances"]

    published = cluster.home / "published" / "outreach.duckdb"
    _assert_headlines(_headlines(published), EXPECTED_HEADLINES, DEMO_AS_OF)
    assert (cluster.home / "published" / "history" / f"{DEMO_AS_OF}.duckdb").exists()

    parses = [t for t in tis if t["task_id"] == "parse_files"]
    assert len(parses) >= 2 and all(t["state"] == "success" for t in parses)
    hosts = {t["hostname"] for t in tis if t["state"] == "success"}
    assert {"worker-1", "worker-2"} <= hosts, hosts  # the tasks spread over both workers
    writers = [t for t in tis if t["pool"] == "duckdb_writer"]
    assert {t["task_id"] for t in writers} >= {"plan_ingest", "load_raw", "check", "publish"}
    intervals = sorted((t["start_date"], t["end_date"]) for t in writers)
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert end <= start  # never two writers at once

    # The deadline passed while the run was running: the scheduler noticed, the triggerer ran
    # the callback, the mail went out through smtp_default.
    cluster.wait_for(
        "the deadline mail",
        lambda: any("missed its 06:00 deadline" in s for s in inbox.subjects()),
        timeout=180,
    )
    mail_text = next(
        m.get_body(("html", "plain")).get_content()
        for m in inbox.messages
        if "missed its 06:00 deadline" in str(m["subject"])
    )
    assert "production-test-night" in mail_text


def test_the_intake_dag_runs_on_celery_and_with_no_channel_pulls_nothing(cluster):
    """docker-compose runs outreach_intake beside the night; the embedded default configures no
    channel, so its one task succeeds having pulled nothing."""
    with cluster.client() as api:
        assert api.patch("/dags/outreach_intake", json={"is_paused": False}).status_code == 200
        created = api.post(
            "/dags/outreach_intake/dagRuns",
            json={"dag_run_id": "production-test-intake", "logical_date": None},
        )
        assert created.status_code == 200, created.text
        run = "/dags/outreach_intake/dagRuns/production-test-intake"
        cluster.wait_for(
            "the intake run",
            lambda: api.get(run).json().get("state") in ("success", "failed"),
            timeout=300,
            every=3,
        )
        assert api.get(run).json()["state"] == "success", cluster.log_tails()
        assert api.patch("/dags/outreach_intake", json={"is_paused": True}).status_code == 200
        entry = api.get(
            f"{run}/taskInstances/pull/xcomEntries/return_value",
            params={"deserialize": True, "stringify": False},
        ).json()
    value = entry["value"]
    if isinstance(value, str):  # the API's text of the value
        value = ast.literal_eval(value)
    assert value["channels"] == [] and value["errors"] == [] and value["objects"] == {}


def _backfill(cluster, *args: str) -> subprocess.CompletedProcess:
    """``airflow backfill create``; while the scheduler has not yet marked the previous backfill
    complete (a loop after its last run succeeded), Airflow refuses a new one: try again."""
    deadline = time.monotonic() + 180
    while True:
        result = subprocess.run(
            [str(BIN / "airflow"), "backfill", "create", "--dag-id", DAG_ID, *args],
            env=cluster.service_environment("airflow-scheduler"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if "AlreadyRunningBackfill" not in result.stderr or time.monotonic() > deadline:
            return result
        time.sleep(5)


# As-of dates in one backfill: two runs one after the other are what can mix up (each night
# under the real scheduler costs minutes; a third date would add time, not a case).
BACKFILL_DATES = 2


def dates_with_different_figures(n: int = BACKFILL_DATES) -> list[dt.date]:
    """``n`` consecutive as-of dates whose headline figures all differ (so a mix-up shows)."""
    from outreach.demo.truth import headlines_as_of

    truth = demo_truth()
    day = dt.date(2014, 3, 31)
    while day > dt.date(2013, 1, 1):
        dates = [day - dt.timedelta(days=k) for k in reversed(range(n))]
        sets = [tuple(sorted(headlines_as_of(truth, d).items())) for d in dates]
        if len(set(sets)) == n:
            return dates
        day -= dt.timedelta(days=1)
    raise AssertionError(f"no {n} consecutive days with different figures")


def test_a_backfill_keeps_one_correct_warehouse_per_as_of_date(cluster, mail):
    from outreach.demo.truth import headlines_as_of

    _, inbox = mail
    deadline_mails = sum("deadline" in s for s in inbox.subjects())
    dates = dates_with_different_figures()
    # the run of as-of date D has the logical date D 02:00 Asia/Shanghai
    first, last = (dt.datetime.combine(d, dt.time(2, 0), TZ) for d in (dates[0], dates[-1]))
    result = _backfill(
        cluster,
        "--from-date",
        first.isoformat(),
        "--to-date",
        last.isoformat(),
        "--max-active-runs",
        "1",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with cluster.client() as api:
        runs = api.get(f"/dags/{DAG_ID}/dagRuns", params={"run_type": "backfill"}).json()
        run_ids = [r["dag_run_id"] for r in runs["dag_runs"]]
        assert len(run_ids) == BACKFILL_DATES, runs
        _wait_for_runs(cluster, api, run_ids, timeout=1800)

    history = cluster.home / "published" / "history"
    truth = demo_truth()
    kept = {}
    for day in dates:
        kept[day] = _headlines(history / f"{day}.duckdb")
        _assert_headlines(kept[day], headlines_as_of(truth, day), day)
    assert len({tuple(sorted(h.items())) for h in kept.values()}) == BACKFILL_DATES
    # the analysts' current file stays on the latest date
    current = _headlines(cluster.home / "published" / "outreach.duckdb")
    assert current["as_of"] == DEMO_AS_OF
    # a backfill is not a late night: no deadline mail for its runs
    assert sum("deadline" in s for s in inbox.subjects()) == deadline_mails

    # a rerun of one date gives the same warehouse: the first one (the build file was last
    # published for the last date, so a rerun of that one finds nothing changed and rightly
    # skips the build)
    again = history / f"{dates[0]}.duckdb"
    before = _publication_run(again)
    one = dt.datetime.combine(dates[0], dt.time(2, 0), TZ).isoformat()
    result = _backfill(
        cluster,
        "--from-date",
        one,
        "--to-date",
        one,
        "--reprocess-behavior",
        "completed",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    cluster.wait_for("the rerun to publish", lambda: _publication_run(again) != before, 900, 5)
    assert _headlines(again) == kept[dates[0]]
    # the cleared run built again in one dbt command: no model task ran its model alone
    # (cosmos' retry path; outreach/airflow/cosmos_watch.py)
    logs = cluster.root / "airflow" / "logs" / f"dag_id={DAG_ID}"
    alone = [
        str(path.relative_to(logs))
        for path in logs.glob("run_id=backfill__*/task_id=build.*/attempt=*.log")
        if "Retry attempt #" in (text := path.read_text(errors="replace"))
        or "Falling back to running model" in text
    ]
    assert not alone, alone
    rebuilt = list(logs.glob("run_id=backfill__*/task_id=build.dbt_producer_watcher/attempt=2.log"))
    assert rebuilt and "skipping execution" not in rebuilt[0].read_text(errors="replace")


def _publication_run(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select run_id from marts.publication").fetchone()[0]
    finally:
        con.close()
