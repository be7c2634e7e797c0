"""Checks and the publishing gate.

Four sources of findings, one verdict:
- ``marts.dq_results`` rows written by dbt (warnings about what partners sent, errors such as
  duplicate fact keys, rows not conserved, dangling foreign keys);
- dbt data tests (severity from their config);
- the Great Expectations suites of ``expectations/``;
- two checks that need Python: ID/phone patterns in any text column outside raw, and a mart
  that was non-empty in the last published warehouse and is empty now.
Obligation flags (``dq_missing_*``, ``dq_org_cadre_pairing_load``) are findings about the
programme and never block. Any failed check of severity ``error`` stops publishing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from ingest import pii
from outreach.pipeline.dbt_runner import DbtNodeResult

# An ID or a mobile number in any spelling: ingest.pii owns the patterns (the dbt macro
# scrub_pii masks exactly what they find), and the scan reads every text column of the build
# with pii.PII_IN_TEXT, both in one pass.

# Tables the publish step adds to the published file; the build never has them.
PUBLISH_ONLY_TABLES = frozenset({"publication"})

OBLIGATION_TABLES = (
    "dq_missing_quarterly_visits",
    "dq_missing_annual_talks",
    "dq_missing_branch_activities",
    "dq_org_cadre_pairing_load",
)
# The calendar's plans (docs/RULES.md): what is due may rightly be nothing (every cadre talked
# with this year, no matter open, every pairing visited), so they may empty too.
PLAN_TABLES = ("rpt_talk_plan", "rpt_meeting_agenda", "rpt_visit_reminders")


@dataclass
class Check:
    rule_id: str
    severity: str  # error | warning
    failures: int
    source: str  # dbt_results | dbt_test | gx | python
    detail: str = ""
    sample: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.failures > 0


@dataclass
class CheckReport:
    checks: list[Check]
    obligations: dict[str, int]

    @property
    def blocking(self) -> list[Check]:
        return [c for c in self.checks if c.severity == "error" and c.failed]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.severity == "warning" and c.failed]

    def as_dict(self) -> dict:
        return {
            "checks": [asdict(c) for c in self.checks],
            "obligations": self.obligations,
            "blocking": [c.rule_id for c in self.blocking],
        }


def mart_tables(con: duckdb.DuckDBPyConnection, schema: str = "marts") -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1",
            [schema],
        ).fetchall()
    ]


def scan_personal_data(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> list[Check]:
    """Every VARCHAR column of every table and view in ``schemas``, searched for ID and mobile
    patterns: one query per relation over its text columns joined by a non-digit separator, one
    regular expression for both (``pii.PII_IN_TEXT``)."""
    columns: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR' and table_schema in (select unnest(?::varchar[])) "
        # a file's SHA-256 is lineage, not personal data, and its hex digits can look like a phone
        "and not column_name like '%\\_sha256' escape '\\' "
        "order by table_schema, table_name, ordinal_position",
        [list(schemas)],
    ).fetchall():
        columns.setdefault((schema, table), []).append(column)
    hits: list[Check] = []
    for (schema, table), cols in columns.items():
        text = "concat_ws('|', " + ", ".join(f'"{c}"' for c in cols) + ")"
        count, sample = con.execute(
            f'select count(*), list({text})[1:3] from "{schema}"."{table}" '
            f"where regexp_matches({text}, ?)",
            [pii.PII_IN_TEXT],
        ).fetchone()
        if count:
            masked = [str(s)[:12] + "…" for s in (sample or [])]
            hits.append(
                Check(
                    "pii_outside_raw",
                    "error",
                    count,
                    "python",
                    f"{schema}.{table} 含身份证号或手机号样式",
                    masked,
                )
            )
    if not hits:
        hits.append(
            Check(
                "pii_outside_raw",
                "error",
                0,
                "python",
                f"no ID or phone pattern in {', '.join(schemas)}",
            )
        )
    return hits


def emptied_marts(con: duckdb.DuckDBPyConnection, published: Path) -> list[Check]:
    """Marts that the last published warehouse had rows in and this build has none."""
    if not published.exists():
        return [Check("mart_emptied", "error", 0, "python", "no previous published warehouse")]
    before: dict[str, int] = {}
    prev = duckdb.connect(str(published), read_only=True)
    try:
        for table in mart_tables(prev):
            before[table] = prev.execute(f'select count(*) from marts."{table}"').fetchone()[0]
    finally:
        prev.close()
    now = set(mart_tables(con))
    emptied = []
    for table, count in sorted(before.items()):
        # an obligation table may rightly empty (every cadre visited, every branch met):
        # docs/RULES.md says flags never block, so only the other marts are guarded; a plan may
        # rightly hold nothing due
        if (
            count == 0
            or table in PUBLISH_ONLY_TABLES
            or table in OBLIGATION_TABLES
            or table in PLAN_TABLES
        ):
            continue
        if (
            table not in now
            or con.execute(f'select count(*) from marts."{table}"').fetchone()[0] == 0
        ):
            emptied.append(f"marts.{table} (上次发布 {count} 行)")
    return [
        Check(
            "mart_emptied", "error", len(emptied), "python", "上次发布非空、本次为空的表", emptied
        )
    ]


def dbt_test_checks(nodes: list[DbtNodeResult]) -> list[Check]:
    out = []
    for node in nodes:
        if node.resource_type not in ("test", "unit_test"):
            continue
        failed = node.status in ("fail", "error", "warn")
        severity = (
            "warning"
            if (node.status == "warn" or (node.severity or "").lower() == "warn")
            else "error"
        )
        failures = (node.failures or 1) if failed else 0
        name = node.unique_id.split(".")[2] if node.unique_id.count(".") >= 2 else node.unique_id
        out.append(Check(f"dbt:{name}", severity, failures, "dbt_test", node.message or "", []))
    return out


def dq_results_checks(con: duckdb.DuckDBPyConnection) -> list[Check]:
    rows = con.execute(
        "select rule_id, severity, count(*), list(coalesce(entity, '') || ' ' || coalesce(detail, ''))[1:5] "
        "from marts.dq_results group by 1, 2 order by 1"
    ).fetchall()
    return [Check(r, s, n, "dbt_results", "", [str(x) for x in sample]) for r, s, n, sample in rows]


def obligation_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    present = set(mart_tables(con))
    return {
        t: con.execute(f"select count(*) from marts.{t}").fetchone()[0]
        for t in OBLIGATION_TABLES
        if t in present
    }


def run_checks(
    build_db: Path,
    published_db: Path,
    as_of: dt.date,
    dbt_tests: list[DbtNodeResult],
    docs_dir: Path | None = None,
) -> CheckReport:
    """Every check of the gate over the build file; ``docs_dir`` gets the GX Data Docs site."""
    from expectations.runner import run_suites

    con = duckdb.connect(str(build_db), read_only=True)
    try:
        checks = dq_results_checks(con)
        checks += dbt_test_checks(dbt_tests)
        checks += scan_personal_data(con, ("marts", "staging"))
        checks += emptied_marts(con, published_db)
        obligations = obligation_counts(con)
    finally:
        con.close()
    for r in run_suites(build_db, as_of, docs_dir=docs_dir):
        checks.append(Check(r.rule_id, r.severity, r.failures, "gx", r.detail, list(r.sample)))
    return CheckReport(checks=checks, obligations=obligations)


CHECKS_DDL = (
    "create or replace table marts.dq_checks (as_of date, run_id varchar, rule_id varchar, "
    "severity varchar, source varchar, failures integer, detail varchar, sample varchar[])"
)


def record_checks(build_db: Path, report: CheckReport, as_of: dt.date, run_id: str) -> None:
    """``marts.dq_checks``: every check of the gate that is not a row of ``marts.dq_results``
    (dbt's data and unit tests, the GX expectations, the Python checks), passed or failed, with
    its severity, failures, what it found and a sample (masked again: nothing the scan
    has not read may hold a number). ``dq_results`` is dbt's, one row
    per offending record; these are one row per check, so they have a table of their own whose
    columns mean what their names say. Replaced by each check stage: the history of counts is
    ``dq_history``."""
    rows = [
        (
            as_of,
            run_id,
            c.rule_id,
            c.severity,
            c.source,
            c.failures,
            pii.mask_text(c.detail),
            [pii.mask_text(str(x)) for x in c.sample],
        )
        for c in report.checks
        if c.source != "dbt_results"
    ]
    con = duckdb.connect(str(build_db))
    try:
        con.execute("begin")
        con.execute(CHECKS_DDL)
        if rows:
            con.executemany("insert into marts.dq_checks values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("commit")
        con.execute("checkpoint")
    finally:
        con.close()


HISTORY_DDL = (
    "create table if not exists marts.dq_history (as_of date, run_id varchar, rule_id varchar, "
    "severity varchar, failures integer, recorded_at timestamp)"
)


def record_history(build_db: Path, report: CheckReport, as_of: dt.date, run_id: str) -> None:
    """``marts.dq_history``: per as-of date, the failures of every rule and the count of every
    obligation flag (severity ``finding``). A rerun for the same as-of date replaces its rows.
    dbt does not own this table, so it lives on from run to run in the build file."""
    totals: dict[tuple[str, str], int] = {}
    for c in report.checks:
        totals[(c.rule_id, c.severity)] = totals.get((c.rule_id, c.severity), 0) + c.failures
    for table, count in report.obligations.items():
        totals[(table, "finding")] = count
    con = duckdb.connect(str(build_db))
    try:
        con.execute(HISTORY_DDL)
        con.execute("begin")
        con.execute("delete from marts.dq_history where as_of = ?", [as_of])
        con.executemany(
            "insert into marts.dq_history values (?, ?, ?, ?, ?, current_localtimestamp())",
            [(as_of, run_id, rule, severity, n) for (rule, severity), n in sorted(totals.items())],
        )
        con.execute("commit")
        con.execute("checkpoint")
    finally:
        con.close()
