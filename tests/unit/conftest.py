"""Fixtures the unit tests share."""

from __future__ import annotations

import pytest

from outreach.portal.accounts import Accounts
from outreach.settings import load_settings


@pytest.fixture
def portal_units(tmp_path):
    """A home with the portal's accounts of two townships (bcz 保城镇, mgx 毛感乡) and one
    department admin (admin1): (settings, username -> Account)."""
    settings = load_settings({"OUTREACH_HOME": str(tmp_path / "home")})
    accounts = Accounts(settings.home / "portal" / "accounts.sqlite3", settings.gazetteer)
    accounts.add("bcz", "unit", "townships", "保城镇")
    accounts.add("mgx", "unit", "townships", "毛感乡")
    accounts.add("admin1", "admin")
    yield settings, {n: accounts.get(n) for n in ("bcz", "mgx", "admin1")}
    accounts.close()
