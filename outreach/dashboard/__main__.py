"""``python -m outreach.dashboard`` (``make dashboard``): serve the dashboard with Streamlit.

The port comes from ``OUTREACH_DASHBOARD_PORT`` (via outreach.settings). The server listens on
every interface so that the office's other machines can open it; it sends no usage statistics
and watches no files, and the page needs nothing from the internet (Streamlit ships its
scripts, fonts and the Vega chart library).
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
    print(
        f"dashboard: http://localhost:{settings.dashboard_port}/ (and this machine's address on "
        f"the office network); reads {settings.published_db} read-only",
        flush=True,
    )
    args = command(settings)
    os.execv(args[0], args)


if __name__ == "__main__":
    main()
