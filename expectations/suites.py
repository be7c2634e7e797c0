"""Great Expectations suites for the marts, as code.

Every expectation carries its severity in ``meta``: ``error`` means publishing would mislead an
analyst (the gate stops), ``warning`` describes what partners sent (published and reported).
GX marks a whole suite failed when any expectation fails, so the gate reads each result's
severity itself (see ``runner.py``).
"""

from __future__ import annotations

import datetime as dt

import great_expectations as gx

from outreach.settings import PROGRAMME_START

E = gx.expectations

HEADLINE_METRICS = (
    "cadres_talked",
    "opinions_collected",
    "households_visited",
    "households_paired",
    "funding_yuan",
    "cooperatives",
    "practical_matters_done",
    "enterprise_problems_solved",
    "branch_problems_solved",
    "capacity_projects",
    "members_transformed",
    "branches_upgraded",
    "work_teams",
    "villages_stationed",
    "cadres_stationed",
    "quarterly_visit_rate",
)

EARLIEST = PROGRAMME_START  # GX compares DuckDB DATE columns with date objects only


def _err(**meta) -> dict:
    return {"severity": "error", **meta}


def _warn(**meta) -> dict:
    return {"severity": "warning", **meta}


def _key(column: str) -> list:
    return [
        E.ExpectColumnValuesToNotBeNull(column=column, meta=_err()),
        E.ExpectColumnValuesToBeUnique(column=column, meta=_err()),
    ]


def _not_null(*columns: str) -> list:
    return [E.ExpectColumnValuesToNotBeNull(column=c, meta=_err()) for c in columns]


def build_suites(as_of: dt.date) -> dict[str, list]:
    """Mart name -> its expectations."""
    return {
        "fct_visits": [
            *_key("visit_id"),
            *_not_null("visit_date", "cadre_id", "household_id", "quarter"),
            E.ExpectColumnValuesToBeBetween(column="visit_date", min_value=EARLIEST, meta=_err()),
            E.ExpectColumnValuesToMatchRegex(
                column="quarter", regex=r"^20\d\dQ[1-4]$", meta=_err()
            ),
            E.ExpectColumnValuesToBeInSet(
                column="visit_mode", value_set=["入户", "电话", "座谈"], meta=_err()
            ),
        ],
        "fct_funding": [
            *_key("funding_id"),
            *_not_null("funded_on", "amount_yuan", "source_type"),
            E.ExpectColumnValuesToBeBetween(column="amount_yuan", min_value=0.01, meta=_warn()),
            E.ExpectColumnValuesToBeInSet(
                column="source_type",
                value_set=["财政", "帮扶单位", "企业", "社会捐赠", "联合党支部"],
                meta=_err(),
            ),
        ],
        "fct_projects": [
            *_key("project_id"),
            E.ExpectColumnValuesToBeUnique(column="project_code", meta=_err()),
            E.ExpectColumnValuesToBeInSet(
                column="project_type",
                value_set=["专业合作社", "乡村旅游", "种植", "养殖", "基础设施", "其他"],
                meta=_err(),
            ),
            E.ExpectColumnValuesToBeBetween(column="households_reached", min_value=0, meta=_warn()),
        ],
        "fct_pairing_quarters": [
            *_key("pairing_quarter_id"),
            E.ExpectColumnValuesToBeBetween(
                column="active_days", min_value=30, max_value=92, meta=_err()
            ),
            E.ExpectColumnValuesToBeBetween(column="visit_count", min_value=0, meta=_err()),
            E.ExpectColumnValuesToBeBetween(column="quarter_end", max_value=as_of, meta=_err()),
        ],
        "fct_talks": [
            *_key("talk_id"),
            *_not_null("talk_date", "cadre_id"),
            E.ExpectColumnValuesToBeBetween(
                column="opinion_count", min_value=0, max_value=50, meta=_warn()
            ),
        ],
        "fct_branch_activities": [
            *_key("activity_id"),
            *_not_null("joint_branch_id", "activity_date"),
            E.ExpectColumnValuesToBeBetween(column="present_count", min_value=0, meta=_err()),
        ],
        "fct_matters": [
            *_key("matter_id"),
            E.ExpectColumnValuesToBeUnique(column="matter_code", meta=_err()),
            E.ExpectColumnValuesToBeInSet(
                column="status", value_set=["待议", "办理中", "已办结"], meta=_err()
            ),
            E.ExpectColumnValuesToBeBetween(column="days_to_close", min_value=0, meta=_warn()),
        ],
        "dim_cadres": [
            *_key("cadre_id"),
            E.ExpectColumnValuesToBeUnique(column="cadre_code", meta=_err()),
        ],
        "dim_households": [
            *_key("household_id"),
            E.ExpectColumnValuesToBeUnique(column="household_code", meta=_err()),
        ],
        "dim_townships": [*_key("township_id")],
        "dim_villages": [*_key("village_id")],
        "dim_quarters": [*_key("quarter")],
        "program_headlines": [
            *_key("metric"),
            E.ExpectColumnDistinctValuesToEqualSet(
                column="metric", value_set=list(HEADLINE_METRICS), meta=_err()
            ),
            *_not_null("value", "as_of"),
        ],
    }
