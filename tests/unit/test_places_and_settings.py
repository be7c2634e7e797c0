"""Gazetteer matching, village canonical names, settings and the as-of date of a nightly run."""

import datetime as dt
import json
import re
import stat
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.places import canonical_village, load_gazetteer
from outreach.pipeline.context import as_of_for_logical_date
from outreach.settings import DEFAULT_GAZETTEER, SettingsError, load_settings


def test_township_with_or_without_suffix_and_traditional():
    g = load_gazetteer(DEFAULT_GAZETTEER)
    for spelling in ("什玲镇", "什玲", "什玲鎮", "保亭县什玲镇", " 什 玲 "):
        township, problem = g.match_township(spelling)
        assert problem is None and township.code == "101", spelling
    assert g.match_township("六弓")[0].code == "200"


def test_unknown_township_is_a_row_error():
    g = load_gazetteer(DEFAULT_GAZETTEER)
    township, problem = g.match_township("保亭镇")
    assert township is None and problem.rule_id == "unknown_township"


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("什玲村", "什玲村委会"),
        ("什玲村委会", "什玲村委会"),
        ("什玲村民委员会", "什玲村委会"),
        ("什玲", "什玲村委会"),
        ("城区社区", "城区社区居委会"),
        ("八 村", "八村委会"),
    ],
)
def test_village_canonical_names(spelling, canonical):
    assert canonical_village(spelling) == canonical


def test_settings_defaults_and_validation(tmp_path):
    s = load_settings({"OUTREACH_HOME": str(tmp_path)})
    assert s.inbox == tmp_path / "inbox"
    assert s.published_db == tmp_path / "published" / "outreach.duckdb"
    assert s.airflow_home == tmp_path / "airflow"
    assert s.as_of is None
    assert load_settings(
        {"OUTREACH_HOME": str(tmp_path), "OUTREACH_AS_OF": "2014-06-30"}
    ).as_of == dt.date(2014, 6, 30)
    with pytest.raises(SettingsError, match="YYYY-MM-DD"):
        load_settings({"OUTREACH_HOME": str(tmp_path), "OUTREACH_AS_OF": "30/06/2014"})
    with pytest.raises(SettingsError, match="time zone"):
        load_settings({"OUTREACH_HOME": str(tmp_path), "OUTREACH_TIMEZONE": "Mars/Olympus"})
    with pytest.raises(SettingsError, match="16"):
        load_settings({"OUTREACH_HOME": str(tmp_path), "OUTREACH_PII_KEY": "short"})


def test_pii_key_is_generated_once_with_mode_0600(tmp_path):
    s = load_settings({"OUTREACH_HOME": str(tmp_path)})
    key = s.pii_key()
    assert stat.S_IMODE(s.pii_key_file.stat().st_mode) == 0o600
    assert s.pii_key() == key and len(key) == 64
    assert (
        load_settings({"OUTREACH_HOME": str(tmp_path), "OUTREACH_PII_KEY": "x" * 20}).pii_key()
        == b"x" * 20
    )


def test_nightly_run_reports_on_the_county_day_of_its_logical_date():
    tz = ZoneInfo("Asia/Shanghai")
    # The run that starts 2014-07-01 02:00 CST has logical date 2014-06-30 02:00 CST,
    # which is 2014-06-29 18:00 UTC: the UTC day would be wrong.
    logical = dt.datetime(2014, 6, 29, 18, 0, tzinfo=dt.UTC)
    assert logical.date() == dt.date(2014, 6, 29)
    assert as_of_for_logical_date(logical, tz) == dt.date(2014, 6, 30)


def test_dbt_profile_holds_the_pipelines_duckdb_memory_limit():
    """dbt's DuckDB and the publish step's share one memory limit (outreach.settings)."""
    import yaml

    from outreach.settings import DBT_PROJECT_DIR, DUCKDB_MEMORY_LIMIT

    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    dev = profile["outreach"]["outputs"]["dev"]
    assert dev["settings"]["memory_limit"] == DUCKDB_MEMORY_LIMIT


# The programme's facts are written once, in outreach/settings.py: a literal of the start date
# or of the county's time zone anywhere else in the code would be a second home that can drift.
_FACT_LITERALS = re.compile(
    r"""["']2012-01-01["']|\(2012,\s*1,\s*1\)|["']Asia/Shanghai["']|["']0 2 \* \* \*["']"""
)


def test_the_start_date_time_zone_and_schedule_have_one_home():
    from outreach.settings import PROJECT_ROOT

    found = []
    for folder in ("outreach", "ingest", "expectations", "dags", "bench"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            if path.name == "settings.py" and path.parent.name == "outreach":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _FACT_LITERALS.search(line):
                    found.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_dbt_and_the_dag_take_the_facts_from_settings():
    import yaml

    from outreach.pipeline import dbt_runner
    from outreach.settings import DBT_PROJECT_DIR, PROGRAMME_START

    # dbt_project.yml keeps a default for a hand-run dbt; the pipeline always passes the var
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    assert project["vars"]["programme_start"] == PROGRAMME_START.isoformat()
    assert dbt_runner.dbt_vars(dt.date(2014, 6, 30)) == {
        "programme_start": PROGRAMME_START.isoformat(),
        "as_of": "2014-06-30",
    }
    command = dbt_runner.dbt_command(["run"], Path("t"), Path("l"), "2014-06-30")
    assert json.loads(command[command.index("--vars") + 1])["programme_start"] == "2012-01-01"
