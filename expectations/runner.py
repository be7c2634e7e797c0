"""Run the Great Expectations suites over the marts of a DuckDB file.

GX's SQL datasource cannot check DuckDB, so each mart is read into a DataFrame over a read-only
connection and validated with an ephemeral GX context. Each expectation result becomes a
``CheckResult`` carrying the severity the suite declared.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
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


def _columns_read(expectations: list) -> str:
    """The columns a suite's expectations look at, for the SELECT that feeds GX: every row, but
    only those columns (a mart's other columns, free text above all, would only cost memory,
    and time in GX, which hashes the whole DataFrame it is given). ``*`` when one expectation
    is not about a single column."""
    columns = []
    for e in expectations:
        column = getattr(e, "column", None)
        if not isinstance(column, str):
            return "*"
        if column not in columns:
            columns.append(column)
    return ", ".join('"' + c.replace('"', '""') + '"' for c in columns) if columns else "*"


def run_suites(db_path: Path, as_of: dt.date, docs_dir: Path | None = None) -> list[CheckResult]:
    """Validate every mart of ``db_path`` with its suite; one ``CheckResult`` per expectation.

    With ``docs_dir``, also build the GX Data Docs site of this run into it (``index.html``
    lists every suite's validation result). The directory belongs to the runner: it is
    replaced whole on every call. The results do not depend on ``docs_dir``, and a site that
    cannot be rendered is logged, never raised: the gate reads the results, not the HTML.
    Only a ``docs_dir`` that exists, is not empty and has no ``index.html`` (so is not a
    site) raises ``ValueError``, before anything runs.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")
    import duckdb
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from expectations.suites import build_suites

    if docs_dir is not None:
        _check_docs_dir(docs_dir)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs_run = _DocsRun(context, as_of) if docs_dir is not None else None
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
            try:
                relation = con.sql(f"select {_columns_read(expectations)} from marts.{mart}")
            except duckdb.BinderException:  # a column is missing: GX reports which, as ever
                relation = con.sql(f"select * from marts.{mart}")
            frame = relation.to_arrow_table().to_pandas()
            batch = source.add_dataframe_asset(name=mart).add_batch_definition_whole_dataframe(
                "all"
            )
            suite = context.suites.add(gx.ExpectationSuite(name=mart, expectations=expectations))
            batch_data = batch.get_batch(batch_parameters={"dataframe": frame})
            validation = batch_data.validate(suite, result_format="SUMMARY")
            if docs_run is not None:
                docs_run.store(suite.name, batch_data.id, validation)
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
    if docs_run is not None and docs_dir is not None:
        docs_run.build(docs_dir)
    return results


# ------------------------------------------------------------------------------ Data Docs

DOCS_SITE = "outreach"


def _check_docs_dir(docs_dir: Path) -> None:
    """Refuse to replace a directory that is not a Data Docs site (or empty)."""
    if docs_dir.exists() and (
        not docs_dir.is_dir()
        or (any(docs_dir.iterdir()) and not (docs_dir / "index.html").exists())
    ):
        raise ValueError(f"{docs_dir} exists and is not a Data Docs site; not replacing it")


class _DocsRun:
    """The validation results of one call, kept in the ephemeral context's (in-memory)
    validation results store under one run id, and rendered into a filesystem site."""

    def __init__(self, context, as_of: dt.date) -> None:
        from great_expectations.core.run_identifier import RunIdentifier

        self.context = context
        self.run_id = RunIdentifier(
            run_name=f"as_of_{as_of.isoformat()}", run_time=dt.datetime.now(dt.UTC)
        )
        self.stored = 0

    def store(self, suite_name: str, batch_id: str, validation) -> None:
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        try:
            # what ValidationDefinition.run records; the checks never read meta
            validation.meta["run_id"] = self.run_id
            validation.meta["validation_time"] = self.run_id.run_time
            suite_id = ExpectationSuiteIdentifier(name=suite_name)
            self.context.validation_results_store.store_validation_results(
                suite_validation_result=validation,
                suite_validation_result_identifier=ValidationResultIdentifier(
                    expectation_suite_identifier=suite_id,
                    run_id=self.run_id,
                    batch_identifier=batch_id,
                ),
                expectation_suite_identifier=suite_id,
            )
            self.stored += 1
        except Exception:
            log.exception("Data Docs: could not keep the validation result of %s", suite_name)

    def build(self, docs_dir: Path) -> None:
        """Render into a sibling directory, then swap it in: docs_dir is always a whole site."""
        building = docs_dir.with_name(f".{docs_dir.name}.building")
        try:
            shutil.rmtree(building, ignore_errors=True)
            building.parent.mkdir(parents=True, exist_ok=True)
            self.context.add_data_docs_site(
                site_name=DOCS_SITE,
                site_config={
                    "class_name": "SiteBuilder",
                    "show_how_to_buttons": False,
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(building),
                    },
                },
            )
            self.context.build_data_docs(site_names=[DOCS_SITE])
            if not (building / "index.html").exists():
                raise RuntimeError("the site builder wrote no index.html")
            shutil.rmtree(docs_dir, ignore_errors=True)
            building.rename(docs_dir)
            log.info("Data Docs: %d validation results in %s", self.stored, docs_dir)
        except Exception:
            log.exception("Data Docs not built into %s", docs_dir)
            shutil.rmtree(building, ignore_errors=True)
            shutil.rmtree(docs_dir, ignore_errors=True)  # no stale site from an earlier attempt
