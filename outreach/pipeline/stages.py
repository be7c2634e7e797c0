"""The stages of one run, as plain functions: the DAG's tasks call these and nothing else.

prepare -> ingest -> gate -> build -> check -> publish -> report. Each stage writes what it
found to ``reports/<run id>/<stage>.json`` so that the report stage can tell the whole story even
when a stage failed, and how long it took to ``reports/<run id>/timings/`` (``outreach.pipeline.timings``);
the DAG passes only the small run context between tasks. The gate skips build, check and publish
when nothing changed since the last publish (``outreach.pipeline.build_state``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from contextlib import contextmanager
from pathlib import Path

from outreach.pipeline import timings
from outreach.pipeline.context import RunContext, as_of_for_logical_date, new_run_context
from outreach.settings import Settings, parse_date

log = logging.getLogger("outreach.pipeline.stages")


class PublishBlocked(RuntimeError):
    """A check of severity error failed: the last good warehouse stays published."""


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


@contextmanager
def _recorded(settings: Settings, ctx: RunContext, name: str):
    """Record a stage's failure beside its output, then let it fail the task. An exception
    that knows the input file it failed on (``source_file``, e.g. ``ParserBug``) names it. What
    is recorded goes to run.json, summary.md and the failure mail: numbers in it are masked and
    a line break in a name written as ``\\n``."""
    from ingest.discover import printable
    from ingest.pii import mask_text

    try:
        yield
    except Exception as exc:
        source_file = getattr(exc, "source_file", None)
        _write(
            ctx.report_dir(settings) / f"{name}.error.json",
            {
                "stage": name,
                "error": mask_text(f"{type(exc).__name__}: {exc}"),
                "file": mask_text(printable(source_file)) if source_file else None,
                "traceback": mask_text(traceback.format_exc()),
            },
        )
        raise


# The stage each DAG task records its failure as (``_recorded``); a parse task is parse_<n>.
_TASK_STAGES = {"plan_ingest": "ingest", "load_raw": "ingest", "needs_build": "gate"}


def _stage_of(task_id: str) -> str:
    if task_id.startswith("parse_files_"):  # a mapped task: parse_files_<map index>
        return "parse_" + task_id.removeprefix("parse_files_")
    if task_id.startswith("build."):
        return "build"
    return _TASK_STAGES.get(task_id, task_id)


def failures(run_dir: Path, failed_tasks: list[str] | None = None) -> list[dict]:
    """Why a run failed, in the order of the night: every stage that recorded an error (its
    task, exception and, where there is one, the input file), then every task that failed
    without recording one (killed, timed out or lost: its log in Airflow says more)."""
    order = ["ingest", "parse", "gate", "build", "check", "publish"]

    def rank(stage: str) -> tuple[int, int, str]:
        head, _, number = stage.partition("_")
        known = order.index(head) if head in order else len(order)
        return known, int(number) if number.isdigit() else -1, stage

    found: list[dict] = []
    for path in run_dir.glob("*.error.json"):
        record = _read(path) or {}
        stage = record.get("stage") or path.name.removesuffix(".error.json")
        found.append(
            {"stage": stage, "error": record.get("error", "?"), "file": record.get("file")}
        )
    found.sort(key=lambda f: rank(f["stage"]))
    recorded = {f["stage"] for f in found}
    for task_id in failed_tasks or []:
        if _stage_of(task_id) not in recorded:
            found.append(
                {
                    "stage": _stage_of(task_id),
                    "task": task_id,
                    "error": "the task failed without recording an error (killed, timed out or "
                    "lost its worker); see its log in Airflow",
                    "file": None,
                }
            )
    return found


def failure_reason(failure: dict) -> str:
    """One line of run.json's ``reasons``: the stage (or task), the exception, the file."""
    where = failure.get("task") or failure["stage"]
    reason = f"{where}: {failure['error']}"
    return reason + (f" (file: {failure['file']})" if failure.get("file") else "")


def _run_ids(context: dict) -> tuple[str, str]:
    dag_run = context["dag_run"]
    return dag_run.dag_id, dag_run.run_id


def claim(settings: Settings, context: dict) -> bool:
    """Claim the build file for this DAG run (``outreach.pipeline.lease``); False while another live run
    holds it, so the claiming sensor waits and tries again."""
    from outreach.pipeline import lease, progress

    def is_running(dag_id: str, run_id: str) -> bool:
        count = context["ti"].get_dr_count(dag_id, run_ids=[run_id], states=["queued", "running"])
        return count > 0

    dag_id, run_id = _run_ids(context)
    holder = lease.try_claim(settings.home, dag_id, run_id, is_running)
    if holder is not None:
        progress.stage("lease", f"waiting: run {holder.get('run_id')} holds the build file")
        return False
    return True


def failed_tasks(context: dict) -> list[str]:
    """The tasks of this DAG run that have failed so far (a mapped task as ``<id>_<index>``);
    empty when the API server cannot be asked (the report must be written anyway)."""
    dag_id, run_id = _run_ids(context)
    try:
        states = context["ti"].get_task_states(dag_id=dag_id, run_ids=[run_id])
    except Exception as exc:
        log.warning("could not read the task states of run %s: %s", run_id, exc)
        return []
    return sorted(t for t, state in (states.get(run_id) or {}).items() if state == "failed")


def release(settings: Settings, context: dict) -> None:
    from outreach.pipeline import lease

    lease.release(settings.home, *_run_ids(context))


def prepare(settings: Settings, logical_date: dt.datetime | None, conf: dict | None) -> dict:
    """The run's as-of date: ``conf['as_of']`` when given, else the logical date's day in the
    county's time zone."""
    settings.ensure_dirs()
    if conf and conf.get("as_of"):
        as_of = parse_date(str(conf["as_of"]), "as_of")
    elif logical_date is not None:
        as_of = as_of_for_logical_date(logical_date, settings.tz)
    else:
        as_of = settings.resolve_as_of()
    ctx = new_run_context(as_of)
    ctx.report_dir(settings).mkdir(parents=True, exist_ok=True)
    timings.record(ctx.report_dir(settings), "prepare", 0.0)
    log.info("run %s reports on %s", ctx.run_id, as_of)
    return ctx.to_xcom()


def staging_dir(settings: Settings, ctx: RunContext) -> Path:
    """Where this run's parse tasks leave their results for the loader (shared by workers)."""
    return settings.staging_dir / ctx.run_id


def parse_batches_limit(value: object) -> int | None:
    """``dag_run.conf["parse_batches"]``: the most parse tasks the plan fans out to (a whole
    number from 1 up), None when not given; anything else is refused with the reason."""
    if value is None:
        return None
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"parse_batches must be a whole number from 1 up, not {value!r}")
    return int(text)


def plan_ingest(settings: Settings, ctx: RunContext, max_batches: int | None = None) -> dict:
    """Which files are new or changed, cut into batches (at most ``max_batches``): one mapped
    parse task per batch."""
    from ingest.pipeline import plan_ingest as plan
    from outreach.pipeline import progress

    with _recorded(settings, ctx, "ingest"), timings.timed(ctx.report_dir(settings), "plan_ingest"):
        progress.stage("ingest", f"reading {settings.inbox}")
        summary = plan(
            settings.inbox, settings.build_db, staging_dir(settings, ctx), max_batches=max_batches
        )
        progress.stage(
            "ingest",
            f"{summary['files']} files: {summary['changed']} new or changed, "
            f"{summary['unchanged']} unchanged; {len(summary['batches'])} parse batch(es)",
        )
    return summary


def parse_batch(settings: Settings, ctx: RunContext, batch: int) -> dict:
    """Parse one batch of the plan in sandboxed workers; no database is touched."""
    from ingest.pipeline import parse_batch as parse
    from ingest.sandbox import SandboxLimits

    limits = SandboxLimits(raise_bugs=settings.raise_parser_bugs)
    with (
        _recorded(settings, ctx, f"parse_{batch}"),
        timings.timed(ctx.report_dir(settings), f"parse_{batch}"),
    ):
        return parse(staging_dir(settings, ctx), batch, settings.gazetteer, settings.tz, limits)


def load_raw(settings: Settings, ctx: RunContext) -> dict:
    """Commit every staged parse result into the raw layer: the only writer of the ingest."""
    from ingest.pipeline import load_staged
    from outreach.pipeline import progress

    def show(i: int, total: int, outcome) -> None:
        progress.file_progress(
            i,
            total,
            outcome.file.rel,
            outcome.status,
            outcome.rows_loaded,
            outcome.rows_quarantined,
        )

    with _recorded(settings, ctx, "ingest"), timings.timed(ctx.report_dir(settings), "load_raw"):
        summary = load_staged(
            staging_dir(settings, ctx),
            build_db=settings.build_db,
            gazetteer_path=settings.gazetteer,
            pii_key=settings.pii_key(),
            load_id=ctx.run_id,
            tz=settings.tz,
            progress=show,
            quarantine_dir=settings.quarantine_dir,
            raise_bugs=settings.raise_parser_bugs,
        ).as_dict()
        summary["intake_submissions"] = _copy_intake_ledger(settings)
        _write(ctx.report_dir(settings) / "ingest.json", summary)
        progress.stage(
            "ingest",
            f"files {summary['files']}, rows {summary['rows']}, unmatched sheets {summary['sheets_unmatched']}",
        )
    return {k: summary[k] for k in ("files", "rows", "sheets_unmatched")}


def _copy_intake_ledger(settings: Settings) -> int:
    """Intake's fetch ledger into ``raw.intake_submissions`` (published as fct_submissions): by
    the night's one writer, from the SQLite file intake keeps writing."""
    import duckdb

    from outreach.intake.ledger import copy_into_raw

    con = duckdb.connect(str(settings.build_db))
    try:
        return copy_into_raw(con, settings.intake_dir, settings.tz)
    finally:
        con.close()


def decide_build(settings: Settings, ctx: RunContext, rebuild: bool = False) -> bool:
    """The gate before the build: False when nothing changed since the last publish (the same
    raw file versions, as-of date, dbt project and code, the published file still in place), so
    build, check and publish are skipped and the published warehouse stays as it is; True
    otherwise, or always with ``rebuild``. The decision and its reason go to
    ``build_decision.json`` for the report."""
    from outreach.pipeline import build_state, progress

    run_dir = ctx.report_dir(settings)
    with _recorded(settings, ctx, "gate"), timings.timed(run_dir, "gate"):
        decision = build_state.decide(settings, ctx.as_of, force=rebuild)
        _write(run_dir / "build_decision.json", decision.as_dict())
        if decision.build:
            build_state.invalidate(settings)  # the build file is about to change
        progress.stage("build", f"{'building' if decision.build else 'skipped'}: {decision.reason}")
    return decision.build


def build(settings: Settings, ctx: RunContext) -> dict:
    """Every model in one ``dbt run``, outside Airflow (scripts, tests). The DAG runs the build
    stage as a task group with one task per model instead (``outreach/airflow/dbt_tasks.py``), which
    records its results with ``record_build``."""
    from outreach.pipeline import build_state, dbt_runner, progress

    build_state.invalidate(settings)  # whatever was published, the build file changes now
    with _recorded(settings, ctx, "build"), timings.timed(ctx.report_dir(settings), "build"):
        progress.stage("dbt", f"building models for as-of {ctx.as_of}")
        models = dbt_runner.build_models(settings, ctx.as_of)
        _write(ctx.report_dir(settings) / "build.json", {"models": [m.__dict__ for m in models]})
        progress.stage("dbt", f"{len(models)} models built")
    return {"models": len(models)}


def record_build(
    settings: Settings, ctx: RunContext, results: list, seconds: float | None = None
) -> dict:
    """The build stage runs as one Airflow task per model (``outreach/airflow/dbt_tasks.py``); after
    each of its dbt commands, merge the model results (``DbtNodeResult``) into ``build.json``,
    the latest result of a model winning (a model task retried alone replaces its entry), and
    keep ``build.error.json`` naming the models that failed, removed once none has. ``seconds``:
    how long the dbt command took, added to the build stage's time."""
    from outreach.pipeline import progress

    run_dir = ctx.report_dir(settings)
    if seconds is not None:
        before = timings.collect(run_dir).get("build", {})
        timings.record(
            run_dir,
            "build",
            before.get("seconds", 0.0) + seconds,
            dbt_commands=before.get("dbt_commands", 0) + 1,
        )
    merged = {m["unique_id"]: m for m in (_read(run_dir / "build.json") or {}).get("models", [])}
    merged.update({r.unique_id: dict(r.__dict__) for r in results})
    models = [merged[k] for k in sorted(merged)]
    _write(run_dir / "build.json", {"models": models})
    broken = [m for m in models if m["status"] == "error"]
    if broken:
        details = "; ".join(f"{m['unique_id']}: {m['message']}" for m in broken[:5])
        _write(
            run_dir / "build.error.json",
            {
                "stage": "build",
                "error": f"DbtError: dbt could not build {len(broken)} model(s): {details}",
            },
        )
    elif results:
        (run_dir / "build.error.json").unlink(missing_ok=True)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    progress.stage(
        "dbt",
        f"as-of {ctx.as_of}: {len(results)} model(s) run "
        f"({', '.join(f'{n} {s}' for s, n in sorted(counts.items())) or 'none'}); "
        f"{sum(1 for m in models if m['status'] == 'success')}/{len(models)} built so far",
    )
    return {"models": len(models), "errors": len(broken)}


def record_build_failure(settings: Settings, ctx: RunContext, error: str) -> None:
    """A build task failed for good: ``build.error.json`` names it unless it already names the
    failed models (which says more than the task's exception)."""
    path = ctx.report_dir(settings) / "build.error.json"
    if not path.exists():
        _write(path, {"stage": "build", "error": error})


def python_checks(settings: Settings, ctx: RunContext, tests: list):
    """GX and the Python checks of the build file, given the dbt tests' results: the report
    the gate decides on (nothing recorded yet)."""
    from outreach.checks.gate import run_checks
    from outreach.pipeline.publish import baseline_for

    return run_checks(
        settings.build_db,
        baseline_for(settings.published_db, ctx.as_of),
        ctx.as_of,
        tests,
        docs_dir=ctx.report_dir(settings) / "data_docs",
    )


def record_python_checks(settings: Settings, ctx: RunContext, report) -> None:
    """The checks' findings and this as-of date's history rows, into the build file."""
    from outreach.checks.gate import record_checks, record_history

    record_checks(settings.build_db, report, ctx.as_of, ctx.run_id)
    record_history(settings.build_db, report, ctx.as_of, ctx.run_id)


def check(settings: Settings, ctx: RunContext) -> dict:
    from outreach.pipeline import dbt_runner, progress

    with (
        _recorded(settings, ctx, "check"),
        timings.timed(ctx.report_dir(settings), "check") as parts,
    ):
        watch = timings.Stopwatch(parts)
        # The audit reads the build file as it is now, not as dbt left it: dq_results is
        # rebuilt and every dbt test runs here, after which GX and the Python checks follow.
        progress.stage("checks", "rebuilding dq_results; running dbt data tests")
        dbt_runner.build_models(settings, ctx.as_of, select="dq_results")
        watch.lap("dq_results")
        tests = dbt_runner.run_tests(settings, ctx.as_of)
        watch.lap("dbt_test")
        _write(ctx.report_dir(settings) / "tests.json", {"tests": [t.__dict__ for t in tests]})
        not_passing = sum(1 for t in tests if t.status in ("fail", "error", "warn"))
        progress.stage(
            "checks",
            f"{len(tests)} dbt tests, {not_passing} not passing; Great Expectations, personal-data scan",
        )
        report = python_checks(settings, ctx, tests)
        watch.lap("gx_and_python")
        record_python_checks(settings, ctx, report)
        watch.lap("record")
        data = report.as_dict()
        _write(ctx.report_dir(settings) / "check.json", data)
        progress.stage(
            "checks",
            f"{len(report.blocking)} blocking, {len(report.warnings)} warnings, obligations {report.obligations}",
        )
        if report.blocking:
            lines = [
                f"{c.rule_id} ({c.failures} 处): {c.detail} 例: {'; '.join(c.sample[:3])}"
                for c in report.blocking
            ]
            raise PublishBlocked(
                "error-severity checks failed, not publishing:\n" + "\n".join(lines)
            )
    return {"blocking": len(report.blocking), "warnings": len(report.warnings)}


def publish(settings: Settings, ctx: RunContext) -> dict:
    from outreach.pipeline import build_state, progress
    from outreach.pipeline.publish import publish as do_publish

    run_dir = ctx.report_dir(settings)
    with _recorded(settings, ctx, "publish"), timings.timed(run_dir, "publish"):
        result = do_publish(settings.build_db, settings.published_db, ctx.run_id, ctx.as_of)
        _write(run_dir / "publish.json", result)
        # what was just published, for the gate of the next run: the fingerprint the gate took
        # (the build was made from it), or one taken now when no gate ran (scripts, tests)
        decided = _read(run_dir / "build_decision.json") or {}
        fp = build_state.fingerprint(settings, ctx.as_of)
        if decided.get("fingerprint") not in (None, fp.digest):
            log.warning("the build's inputs changed during the run: not recording it as current")
        else:
            build_state.record_published(settings, fp, ctx.run_id, result)
        if result["current"]:
            progress.stage("publish", f"published {settings.published_db}")
        else:
            progress.stage(
                "publish",
                f"kept {result['history_path']}; {settings.published_db} stays on its later "
                f"as-of date {result['current_as_of']}",
            )
    return {k: result[k] for k in ("path", "history_path", "current")}


def _query_build(db: Path, read, default):
    """``read(connection)`` over a short read-only connection to ``db``; ``default`` when the
    file or a table it needs does not exist (a run that failed before building it)."""
    import duckdb

    if not db.exists():
        return default
    con = duckdb.connect(str(db), read_only=True)
    try:
        return read(con)
    except duckdb.Error:
        return default
    finally:
        con.close()


def read_headlines(db: Path) -> dict[str, float] | None:
    def read(con):
        rows = con.execute(
            "select metric, value from marts.program_headlines order by metric"
        ).fetchall()
        return {m: (int(v) if float(v).is_integer() else float(v)) for m, v in rows}

    return _query_build(db, read, None)


def read_headline_labels(db: Path) -> dict[str, dict[str, str]] | None:
    """metric -> {label, kind} from ``marts.rpt_headlines``: how the run report and the command
    line name and print each figure (the warehouse defines them, not the report)."""

    def read(con):
        rows = con.execute(
            "select metric, label, kind from marts.rpt_headlines order by metric_order"
        ).fetchall()
        return {m: {"label": label, "kind": kind} for m, label, kind in rows}

    return _query_build(db, read, None)


def read_warehouse_totals(db: Path) -> dict | None:
    """What the raw layer holds now, across every run: rows loaded and quarantined, files."""
    from ingest.registry import load_registry

    def read(con):
        def one(sql: str) -> int:
            return con.execute(sql).fetchone()[0]

        return {
            "rows_loaded": sum(one(f"select count(*) from raw.{name}") for name in load_registry()),
            "rows_quarantined": one("select count(*) from raw.quarantine_rows"),
            "sheets_unmatched": one("select count(*) from raw.unmatched_sheets"),
            "files_current": one("select count(*) from raw.file_versions where status = 'current'"),
            "files_quarantined": one(
                "select count(distinct source_file) from raw.quarantine_files"
            ),
        }

    return _query_build(db, read, None)


def read_late_reports(db: Path) -> list[dict]:
    """Townships whose visit log for an ended quarter came late or has not come."""

    def read(con):
        rows = con.execute(
            "select township_name, quarter, status, days_after_quarter_end, first_arrived_on "
            "from marts.fct_report_timeliness where is_late order by quarter, township_name"
        ).fetchall()
        return [
            {
                "township": t,
                "quarter": q,
                "status": st,
                "days_after_quarter_end": d,
                "arrived_on": str(a) if a else None,
            }
            for t, q, st, d, a in rows
        ]

    return _query_build(db, read, [])


def read_intake(db: Path) -> dict:
    """What intake received by the as-of date (marts.fct_submissions): objects by outcome, and
    the newest ones the department must look at (unknown senders, refused files)."""

    def read(con):
        counts = dict(
            con.execute("select status, count(*) from marts.fct_submissions group by 1").fetchall()
        )
        attention = [
            {
                "fetched_on": str(d),
                "channel": c,
                "sender": who,
                "file": name,
                "status": st,
                "reason": why,
            }
            for d, c, who, name, st, why in con.execute(
                "select fetched_on, channel, sender_masked, original_name, status, reason "
                "from marts.fct_submissions where status in ('unknown_sender', 'refused') "
                "order by fetched_at desc, submission_id desc limit 20"
            ).fetchall()
        ]
        return {"objects": counts, "attention": attention}

    return _query_build(db, read, {"objects": {}, "attention": []})


def report(settings: Settings, ctx: RunContext, failed_tasks: list[str] | None = None) -> dict:
    """The run report (``outreach.outputs.run_report``), the return and follow-up workbooks, whatever
    happened before. ``failed_tasks``: the Airflow tasks of this run that failed, so that one
    that died without recording its error is still named."""
    import shutil
    import time

    from outreach.outputs.followup_lists import write_followups
    from outreach.outputs.return_lists import write_feedback
    from outreach.outputs.run_report import build_run_json, write_report
    from outreach.pipeline.publish import publication_info

    started = time.perf_counter()
    run_dir = ctx.report_dir(settings)
    ingest_data = _read(run_dir / "ingest.json") or {}
    checks = _read(run_dir / "check.json")
    published = (run_dir / "publish.json").exists()
    decision = _read(run_dir / "build_decision.json")
    skipped = bool(decision) and not decision["build"] and not published
    if skipped and decision.get("reuses_run"):
        # nothing was rebuilt: the checks of the build still published are this night's too
        reused = settings.reports_dir / decision["reuses_run"]
        checks = _read(reused / "check.json")
        if (reused / "data_docs").is_dir() and not (run_dir / "data_docs").exists():
            shutil.copytree(reused / "data_docs", run_dir / "data_docs")
    failed = failures(run_dir, failed_tasks)
    reasons = [failure_reason(f) for f in failed]
    up_to_date = skipped and not reasons
    if not published and not reasons and not up_to_date:
        reasons.append("publish did not run")
    stage_times = timings.collect(run_dir)
    # the report's own time, until the report is written
    stage_times["report"] = {"seconds": round(time.perf_counter() - started, 3)}
    run = build_run_json(
        run_id=ctx.run_id,
        as_of=ctx.as_of.isoformat(),
        published=published,
        reasons=reasons,
        ingest=ingest_data,
        checks=checks,
        headlines=read_headlines(settings.build_db),
        headline_labels=read_headline_labels(settings.build_db),
        publication=publication_info(settings.published_db),
        warehouse=read_warehouse_totals(settings.build_db),
        late_reports=read_late_reports(settings.build_db),
        intake=read_intake(settings.build_db),
        paths={
            "warehouse": str(settings.build_db),
            "published": str(settings.published_db),
            "report": str(run_dir),
        },
        build=_build_record(decision, skipped),
        up_to_date=up_to_date,
        timings=stage_times,
        failures=failed,
    )
    # before write_report copies the run's folder to latest/
    write_feedback(settings.build_db, run_dir, ctx.run_id)
    write_followups(settings.build_db, run_dir, ctx.as_of, gazetteer=settings.gazetteer)
    run["timings"]["report"]["seconds"] = round(time.perf_counter() - started, 3)
    write_report(settings.reports_dir, run, ingest_data)
    return {"published": published, "up_to_date": up_to_date, "run_id": ctx.run_id}


def _build_record(decision: dict | None, skipped: bool) -> dict:
    """run.json's "build": whether the gate let the build run, and why."""
    if not decision:
        return {"skipped": False, "reason": "no gate ran"}
    return {
        "skipped": skipped,
        "reason": decision["reason"],
        "changed": list(decision.get("changed") or []),
        "reuses_run": decision.get("reuses_run") if skipped else None,
        "fingerprint": decision.get("fingerprint"),
    }


class RunFailed(RuntimeError):
    """The night's run did not publish; the message says why."""


def verdict(settings: Settings, ctx: RunContext) -> dict:
    run = _read(ctx.report_dir(settings) / "run.json") or {}
    if run.get("published"):
        return {"published": True}
    if run.get("up_to_date"):  # nothing changed: the published warehouse is already tonight's
        return {"published": False, "up_to_date": True}
    reasons = run.get("reasons") or ["the report was not written"]
    raise RunFailed(f"run {ctx.run_id} (as-of {ctx.as_of}) did not publish:\n" + "\n".join(reasons))
