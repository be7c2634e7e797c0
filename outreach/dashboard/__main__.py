"""``python -m outreach.dashboard`` (``make dashboard``): serve the dashboard with Streamlit.

The port comes from ``OUTREACH_DASHBOARD_PORT`` and the address from
``OUTREACH_DASHBOARD_ADDRESS`` (via outreach.settings). The server listens on this machine only
(127.0.0.1) until the address is set; its pages show what the county's units sent, so it draws
them only for a department account signed in at the portal (``ui.viewer``). It sends no usage statistics and watches no
files, and the page needs nothing from the internet (Streamlit ships its scripts, fonts and the
Vega chart library).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from outreach.settings import Settings, load_settings

APP = Path(__file__).with_name("app.py")
FONT = (
    '"Source Sans", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", '
    '"PingFang SC", sans-serif'
)


def command(settings: Settings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(settings.dashboard_port),
        "--server.address",
        settings.dashboard_address,
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        # the welcome message looks the machine's public IP up on the internet: main() prints
        # the address instead
        "--logger.hideWelcomeMessage",
        "true",
        "--client.toolbarMode",
        "viewer",
        "--theme.base",
        "light",
        # Streamlit's own font has no Chinese glyphs; name a simplified-Chinese one before the
        # browser's fallback (which may pick a Japanese or traditional face)
        "--theme.font",
        FONT,
    ]


def main() -> None:
    settings = load_settings()
    where = (
        f"http://127.0.0.1:{settings.dashboard_port}/ (this machine only: set "
        "OUTREACH_DASHBOARD_ADDRESS=0.0.0.0 to serve the office network)"
        if settings.dashboard_address == "127.0.0.1"
        else f"http://{settings.dashboard_address}:{settings.dashboard_port}/"
    )
    print(f"dashboard: {where}; reads {settings.published_db} read-only", flush=True)
    args = command(settings)
    os.execv(args[0], args)


if __name__ == "__main__":
    main()
