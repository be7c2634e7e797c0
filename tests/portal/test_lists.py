"""A unit's coverage in the portal comes from the published warehouse's rpt_visit_coverage:
a township's own rows, the county's sums for the department, nothing for a joint branch; and no
published warehouse yet is no coverage, not an error."""

from __future__ import annotations

import duckdb

from outreach.portal.accounts import open_accounts
from outreach.portal.lists import coverage
from outreach.settings import load_settings
from tests.dashboard.helpers import home_with_copy


def test_coverage_is_the_township_s_own_and_the_county_s_for_the_department(published_db, tmp_path):
    home = tmp_path / "home"
    home_with_copy(published_db, home)
    settings = load_settings({"OUTREACH_HOME": str(home)})
    accounts = open_accounts(settings)
    accounts.add("bcz", "unit", "townships", "保城镇")
    accounts.add("zzb", "admin")
    accounts.add("branch", "unit", "joint_branches", "保城镇/第一联合党支部")
    who = {n: accounts.get(n) for n in ("bcz", "zzb", "branch")}
    accounts.close()
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        own = con.execute(
            "select quarter, pairing_quarters_owed, pairing_quarters_met, pairing_quarters_missed "
            "from marts.rpt_visit_coverage where township_name = '保城镇' order by quarter"
        ).fetchall()
        county = con.execute(
            "select quarter, sum(pairing_quarters_owed), sum(pairing_quarters_met), "
            "sum(pairing_quarters_missed) from marts.rpt_visit_coverage group by quarter "
            "order by quarter"
        ).fetchall()
    finally:
        con.close()
    assert own and len(own) == len(county)
    mine = coverage(settings, who["bcz"])
    assert [(c.quarter, c.owed, c.met, c.missed) for c in mine] == own
    assert [(c.quarter, c.owed, c.met, c.missed) for c in coverage(settings, who["zzb"])] == county
    assert mine[0].rate.endswith("%")
    assert coverage(settings, who["branch"]) == []
    settings.published_db.unlink()
    assert coverage(settings, who["bcz"]) == []
