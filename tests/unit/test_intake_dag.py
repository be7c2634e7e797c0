"""The intake DAG file: its schedule on the county's clock, one pull task that fails only when
a channel could not be read, and a schedule setting that is checked."""

import importlib.util

import pytest

from outreach.settings import DAGS_DIR, SettingsError, intake_schedule


def _load():
    spec = importlib.util.spec_from_file_location(
        "outreach_intake_dag", DAGS_DIR / "outreach_intake.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.intake


def test_every_30_minutes_in_working_hours_on_the_countys_clock(monkeypatch):
    monkeypatch.delenv("OUTREACH_INTAKE_SCHEDULE", raising=False)
    dag = _load()
    assert dag.dag_id == "outreach_intake" and dag.catchup is False and dag.max_active_runs == 1
    assert dag.timetable.expression == "*/30 8-18 * * 1-5"
    assert str(dag.timetable.timezone) == "Asia/Shanghai"
    assert dag.task_ids == ["pull"]


def test_the_schedule_is_a_setting_and_a_bad_one_is_refused(monkeypatch):
    monkeypatch.setenv("OUTREACH_INTAKE_SCHEDULE", "0  9,15 * * *")
    assert _load().timetable.expression == "0 9,15 * * *"
    for bad in ("every half hour", "*/30 8-18 * *", "61 * * * *"):
        with pytest.raises(SettingsError, match="OUTREACH_INTAKE_SCHEDULE"):
            intake_schedule({"OUTREACH_INTAKE_SCHEDULE": bad})


def test_the_pull_task_succeeds_with_no_channel_and_fails_on_a_channel_it_cannot_read(
    tmp_path, monkeypatch
):
    dag = _load()
    pull = dag.get_task("pull")
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path / "home"))
    assert pull.python_callable()["channels"] == []
    senders = tmp_path / "senders.yml"
    senders.write_text(
        "channels: [{name: mailbox, kind: imap, connection: outreach_mailbox}]", encoding="utf-8"
    )
    monkeypatch.setenv("OUTREACH_SENDERS", str(senders))
    # a port nothing listens on: the channel cannot be read
    monkeypatch.setenv(
        "AIRFLOW_CONN_OUTREACH_MAILBOX", "imap://a%40b.cn:pw@127.0.0.1:9/?security=none"
    )
    with pytest.raises(RuntimeError, match="mailbox: 无法登录邮箱"):
        pull.python_callable()
