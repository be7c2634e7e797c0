"""``make dashboard`` (``python -m outreach.dashboard``): the port comes from the settings and
the server is told to stay offline."""

from __future__ import annotations

import pytest

from outreach.dashboard.__main__ import APP, command
from outreach.settings import SettingsError, load_settings


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_the_port_is_outreach_dashboard_port_else_8501(tmp_path):
    assert load_settings({"OUTREACH_HOME": str(tmp_path)}).dashboard_port == 8501
    settings = load_settings({"OUTREACH_HOME": str(tmp_path), "OUTREACH_DASHBOARD_PORT": "8600"})
    args = command(settings)
    assert args[1:5] == ["-m", "streamlit", "run", str(APP)]
    assert _option(args, "--server.port") == "8600"


@pytest.mark.parametrize("port", ["http", "0", "70000", "-1"])
def test_a_port_that_is_no_port_is_refused(tmp_path, port):
    with pytest.raises(SettingsError, match="OUTREACH_DASHBOARD_PORT"):
        load_settings({"OUTREACH_HOME": str(tmp_path), "OUTREACH_DASHBOARD_PORT": port})


def test_the_server_sends_nothing_out_and_draws_chinese_with_a_chinese_font(tmp_path):
    args = command(load_settings({"OUTREACH_HOME": str(tmp_path)}))
    assert _option(args, "--browser.gatherUsageStats") == "false"
    assert _option(args, "--logger.hideWelcomeMessage") == "true"  # it looks up the public IP
    assert "Noto Sans CJK SC" in _option(args, "--theme.font")


def test_the_dashboard_listens_on_this_machine_only_until_told_otherwise(tmp_path):
    home = str(tmp_path)
    assert _option(command(load_settings({"OUTREACH_HOME": home})), "--server.address") == (
        "127.0.0.1"
    )
    office = load_settings({"OUTREACH_HOME": home, "OUTREACH_DASHBOARD_ADDRESS": "0.0.0.0"})
    assert _option(command(office), "--server.address") == "0.0.0.0"
    with pytest.raises(SettingsError, match="OUTREACH_DASHBOARD_ADDRESS"):
        load_settings({"OUTREACH_HOME": home, "OUTREACH_DASHBOARD_ADDRESS": "all of them"})
