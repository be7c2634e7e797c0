"""Run the Great Expectations suites over the marts of a DuckDB file.

GX's SQL datasource cannot check DuckDB, so each mart is read into a DataFrame over a read-only
connection and validated with an ephemeral GX context. Each expectation result becomes a
``CheckResult`` carrying the severity the suite declared.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("outreach.expectations")


@dataclass(frozen=True)
class CheckResult:
    rule_id: str
    severity: str  # error | warning
    entity: str  # the mart
    failures: int
    detail: str
    sample: tuple[str, ...] = ()


def _describe(config) -> str:
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
    return f"{config.type}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def _exception_message(info) -> str | None:
    """GX reports exceptions either flat or keyed by metric; either way, return the message."""
    if not info:
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    for value in info.values():
        if isinstance(value, dict) and (
            value.get("exception_message") or value.get("raised_exception")
        ):
            return str(value.get("exception_message"))
    return None


def run_suites(db_path: Path, as_of: dt.date) -> list[CheckResult]:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")
    import duckdb
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from expectations.suites import build_suites

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("marts")
    results: list[CheckResult] = []
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        existing = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        for mart, expectations in build_suites(as_of).items():
            if mart not in existing:
                results.append(
                    CheckResult(f"gx:{mart}:missing", "error", mart, 1, f"marts.{mart} 不存在")
                )
                continue
            # via Arrow: DATE columns arrive as datetime.date, which GX compares with date bounds
            frame = con.sql(f"select * from marts.{mart}").to_arrow_table().to_pandas()
            batch = source.add_dataframe_asset(name=mart).add_batch_definition_whole_dataframe(
                "all"
            )
            suite = context.suites.add(gx.ExpectationSuite(name=mart, expectations=expectations))
            validation = batch.get_batch(batch_parameters={"dataframe": frame}).validate(
                suite, result_format="SUMMARY"
            )
            for r in validation.results:
                cfg = r.expectation_config
                column = cfg.kwargs.get("column", "")
                rule_id = f"gx:{mart}:{cfg.type.removeprefix('expect_')}:{column}".rstrip(":")
                unexpected = r.result.get("unexpected_count")
                failures = 0 if r.success else int(unexpected if unexpected else 1)
                sample = tuple(str(v) for v in (r.result.get("partial_unexpected_list") or [])[:5])
                error = _exception_message(r.exception_info)
                if error:  # an expectation that could not be evaluated has not passed
                    failures = max(failures, 1)
                    sample = (error[:300],)
                results.append(
                    CheckResult(
                        rule_id,
                        (cfg.meta or {}).get("severity", "error"),
                        mart,
                        failures,
                        _describe(cfg),
                        sample,
                    )
                )
    finally:
        con.close()
    return results
