"""The ``outreach`` command: a thin CLI over the project's packages.

outreach demo [DIR] [--scale N] write the demo inbox (default: $OUTREACH_HOME/inbox), N times over
outreach run [--as-of DATE] [--rebuild] run the nightly DAG once, in-process (embedded Airflow)
outreach headlines [--published] print the headline figures of the warehouse
outreach templates DIR          write a blank template per dataset for the partners
outreach rotate-pii-key         re-tokenise the raw layer with a new PII key
outreach dbt-manifest [--if-stale] build the dbt manifest the DAG's build group is rendered from
outreach docs [--output DIR]    build the dbt docs site (offline, one file) into reports/docs/
outreach export [--as-of DATE] [--output PATH]  the quarterly report (xlsx) of a published date
outreach calendar [--date DATE] [--plan KIND ...]  the programme's plans due on a day (xlsx)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from outreach.settings import PROGRAMME_START, SettingsError, load_settings, parse_date


def _cmd_demo(args) -> int:
    from outreach.demo import write_demo_inbox
    from outreach.demo.scale import ScaleError, check_scale

    try:
        scale = check_scale(args.scale)
    except ScaleError as exc:
        print(f"outreach: {exc}", file=sys.stderr)
        return 2
    settings = load_settings()
    target = Path(args.dir).resolve() if args.dir else settings.inbox
    manifest = write_demo_inbox(target, scale=scale)
    from outreach.demo import DEMO_AS_OF

    (target / DEMO_MARKER).write_text(DEMO_AS_OF.isoformat())
    rows = sum(v for k, v in manifest.counts.items() if k not in NOT_ROW_COUNTS)
    print(
        f"demo inbox written to {target}: {len(manifest.files)} files, {rows} data rows (x{scale})"
    )
    return 0


# DemoManifest.counts keys that are not rows loaded into raw
NOT_ROW_COUNTS = ("files", "sheets", "unmatched_sheets", "quarantined_rows")


DEMO_MARKER = ".outreach-demo"


def _inbox_is_empty(inbox: Path) -> bool:
    return not inbox.exists() or not any(p.is_file() for p in inbox.rglob("*"))


def _print_summary(run: dict) -> None:
    from outreach.outputs.figures import OBLIGATION_LABELS
    from outreach.outputs.run_report import headline_lines

    print()
    print(f"as-of {run['as_of']}  run {run['run_id']}  published: {run['published']}")
    if run.get("up_to_date"):
        print(f"  nothing to rebuild (build, check and publish skipped): {run['build']['reason']}")
    for reason in run["reasons"]:
        print(f"  not published because: {reason}")
    print(
        f"this run: files {run['files']}  rows {run['rows']}  unmatched sheets {run['sheets_unmatched']}"
    )
    if run.get("warehouse"):
        print(f"warehouse holds: {run['warehouse']}")
    print("\nHeadline figures (marts.program_headlines):")
    for metric, label, shown in headline_lines(run):
        print(f"  {metric:<28} {shown:>14}  {label}")
    print("\nData-quality flags:")
    for table, label in OBLIGATION_LABELS.items():
        print(f"  {table:<32} {run['obligations'].get(table, 0):>6}  {label}")
    warnings = sum(c["failures"] for c in run["checks"] if c["severity"] == "warning")
    errors = sum(c["failures"] for c in run["checks"] if c["severity"] == "error")
    print(f"  {'warnings (published)':<32} {warnings:>6}")
    print(f"  {'errors (block publishing)':<32} {errors:>6}")
    import datetime as dt

    day_after = dt.date.fromisoformat(str(run["as_of"])) + dt.timedelta(days=1)
    print(f"\nDue next (outreach calendar): {_next_due(day_after)}")
    print(f"\nbuild warehouse: {run['paths']['warehouse']}")
    print(f"published:       {run['paths']['published']}")
    print(f"report:          {run['paths']['report']}/summary.md (run.json beside it)")


def _cmd_run(args) -> int:
    from outreach.airflow import embedded

    settings = load_settings()
    settings.ensure_dirs()
    marker = settings.inbox / DEMO_MARKER  # hidden: the loader ignores it
    if args.demo_if_empty and _inbox_is_empty(settings.inbox):
        from outreach.demo import DEMO_AS_OF, write_demo_inbox

        manifest = write_demo_inbox(settings.inbox)
        marker.write_text(DEMO_AS_OF.isoformat())
        print(
            f"inbox was empty: wrote the demo inbox ({len(manifest.files)} files) to {settings.inbox}"
        )
    if args.as_of or settings.as_of:
        as_of = settings.resolve_as_of(args.as_of)
    elif marker.exists():
        as_of = parse_date(marker.read_text(), str(marker))  # the demo reports on its own as-of
    else:
        as_of = settings.resolve_as_of()
    if as_of < PROGRAMME_START:
        print(
            f"outreach: as-of {as_of} is before the programme's start "
            f"({PROGRAMME_START}): there is nothing to report on",
            file=sys.stderr,
        )
        return 2
    print(
        f"running outreach_nightly for as-of {as_of} (Airflow metadata in {settings.airflow_home})"
    )
    state = embedded.run_once(settings, as_of, rebuild=args.rebuild)
    run_json = embedded.latest_run_json(settings)
    if run_json.exists():
        run = json.loads(run_json.read_text(encoding="utf-8"))
        if run.get("as_of") == as_of.isoformat():
            _print_summary(run)
    print(f"\nDAG run state: {state}")
    return 0 if state == "success" else 1


def _cmd_headlines(args) -> int:
    from outreach.pipeline.stages import read_headlines

    settings = load_settings()
    db = settings.published_db if args.published else settings.build_db
    headlines = read_headlines(db)
    if headlines is None:
        print(f"no warehouse at {db}", file=sys.stderr)
        return 1
    print(json.dumps(headlines, ensure_ascii=False, indent=2))
    return 0


def _cmd_templates(args) -> int:
    from outreach.outputs.templates import write_templates

    settings = load_settings()
    target = Path(args.dir).resolve()
    written = write_templates(target, settings.gazetteer)
    print(f"templates written to {target}: {len(written)} templates")
    return 0


def _cmd_rotate_pii_key(args) -> int:
    from outreach.pipeline.pii_rotation import RotationError, describe, rotate_pii_key
    from outreach.settings import new_pii_key_from_env

    settings = load_settings()
    try:
        result = rotate_pii_key(settings, new_pii_key_from_env())
    except RotationError as exc:
        print(f"outreach: {exc}", file=sys.stderr)
        return 1
    for line in describe(result):
        print(line)
    return 0


def _cmd_dbt_manifest(args) -> int:
    from outreach.pipeline import dbt_runner

    settings = load_settings()
    reason = dbt_runner.manifest_stale_reason()
    if args.if_stale and reason is None:
        print(f"dbt manifest is up to date: {dbt_runner.MANIFEST_PATH}")
        return 0
    try:
        path = dbt_runner.build_manifest(settings)
    except dbt_runner.DbtError as exc:
        print(f"outreach: {exc}", file=sys.stderr)
        return 1
    print(f"dbt manifest written to {path}: {len(dbt_runner.manifest_models(path))} models")
    return 0


def _cmd_docs(args) -> int:
    from outreach.outputs.docs_site import DocsError, build_docs, describe

    settings = load_settings()
    try:
        site = build_docs(settings, Path(args.output) if args.output else None)
    except DocsError as exc:
        print(f"outreach: {exc}", file=sys.stderr)
        return 1
    for line in describe(site):
        print(line)
    return 0


def _cmd_export(args) -> int:
    from outreach.outputs.followup_lists import quarter_label
    from outreach.outputs.quarterly_report import ExportError, export_quarterly

    settings = load_settings()
    as_of = parse_date(args.as_of, "--as-of") if args.as_of else None
    try:
        report = export_quarterly(settings, as_of, Path(args.output) if args.output else None)
    except ExportError as exc:
        print(f"outreach: {exc}", file=sys.stderr)
        return 1
    print(
        f"quarterly report {quarter_label(report.quarter)} (as of {report.as_of}) written to "
        f"{report.output}\n  read from {report.source} (run {report.run_id})"
    )
    return 0


def _cmd_calendar(args) -> int:
    import datetime as dt

    from outreach.outputs import calendar, calendar_dates

    settings = load_settings()
    day = parse_date(args.date, "--date") if args.date else dt.datetime.now(settings.tz).date()
    kinds = args.plan or None
    try:
        outputs = calendar.produce(settings, day, kinds)
    except calendar.CalendarError as exc:
        print(f"outreach: {exc}", file=sys.stderr)
        return 1
    if not outputs:
        print(f"{day}: nothing is due (next: {_next_due(day)})")
    for out in outputs:
        whose = f" for {out.township}" if out.township else ""
        print(f"{calendar_dates.KIND_NAMES[out.kind]}{whose}: {out.rows} rows -> {out.path}")
    return 0


def _next_due(day) -> str:
    """``本周拉家常安排 2014-07-07; …``: each plan's next day on or after ``day``."""
    from outreach.outputs.calendar_dates import KIND_NAMES, next_due

    return "; ".join(f"{KIND_NAMES[k]} {d.isoformat()}" for k, d in next_due(day).items())


def _cmd_pull(args) -> int:
    from outreach.intake.pull import pull
    from outreach.intake.senders import SendersError

    settings = load_settings()
    try:
        result = pull(settings, args.channel)
    except SendersError as exc:
        print(f"outreach: {exc}", file=sys.stderr)
        return 2
    if not result.channels:
        print(f"no intake channel configured in {settings.senders}: nothing to pull")
        return 0
    objects = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items())) or "nothing new"
    print(f"pulled {', '.join(result.channels)}: {result.messages} message(s); {objects}")
    for error in result.errors:
        print(f"outreach: {error}", file=sys.stderr)
    return 1 if result.errors else 0


def _cmd_accounts(args) -> int:
    from outreach.portal.accounts import AccountError, open_accounts

    settings = load_settings()
    accounts = open_accounts(settings)
    try:
        if args.action == "add":
            role = "admin" if args.admin else "unit"
            password = accounts.add(args.username, role, args.provider, args.unit)
            who = "组织部管理员" if args.admin else f"{args.provider}/{args.unit or ''}".rstrip("/")
            print(f"account {args.username.strip().lower()} ({who}) added")
            print(f"first password (shown once; to be changed at the first sign-in): {password}")
        elif args.action == "reset":
            password = accounts.reset(args.username)
            print(f"new first password for {args.username} (shown once): {password}")
        elif args.action == "disable":
            accounts.disable(args.username)
            print(f"account {args.username} disabled")
        else:
            for a in accounts.list():
                unit = "组织部管理员" if a.is_admin else a.unit.inbox_rel
                state = (
                    "disabled" if a.disabled else ("must change password" if a.must_change else "")
                )
                print(f"{a.username}\t{unit}\t{state}".rstrip())
    except AccountError as exc:
        print(f"outreach: {exc}", file=sys.stderr)
        return 2
    finally:
        accounts.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="outreach", description="Outreach Warehouse")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="write the built-in demo inbox")
    demo.add_argument("dir", nargs="?", help="target folder (default: $OUTREACH_HOME/inbox)")
    demo.add_argument(
        "--scale",
        default="1",
        help="how many 片区 of the county to write, 1 (the demo) to 999; x100 is a province's "
        "night (benchmarks)",
    )
    demo.set_defaults(func=_cmd_demo)
    run = sub.add_parser("run", help="run the nightly DAG once, in-process")
    run.add_argument(
        "--as-of", help="the day to report on, YYYY-MM-DD (default: OUTREACH_AS_OF or today)"
    )
    run.add_argument(
        "--demo-if-empty",
        action="store_true",
        help="write the demo inbox first if the inbox is empty, and report on its as-of date",
    )
    run.add_argument(
        "--rebuild",
        action="store_true",
        help="build, check and publish even when nothing changed since the last publish",
    )
    run.set_defaults(func=_cmd_run)
    head = sub.add_parser("headlines", help="print the headline figures")
    head.add_argument("--published", action="store_true", help="read the published warehouse")
    head.set_defaults(func=_cmd_headlines)
    templates = sub.add_parser("templates", help="write a blank xlsx template per dataset")
    templates.add_argument("dir", help="target folder")
    templates.set_defaults(func=_cmd_templates)
    rotate = sub.add_parser(
        "rotate-pii-key",
        help="re-tokenise the raw layer with a new PII key (pause the DAG first)",
    )
    rotate.set_defaults(func=_cmd_rotate_pii_key)
    manifest = sub.add_parser(
        "dbt-manifest",
        help="dbt parse into dbt_project/target/manifest.json (the DAG renders one task per model)",
    )
    manifest.add_argument(
        "--if-stale",
        action="store_true",
        help="only when it is missing or a file under dbt_project/ is newer",
    )
    manifest.set_defaults(func=_cmd_dbt_manifest)
    docs = sub.add_parser(
        "docs",
        help="build the dbt docs site (lineage, every column in Chinese and English) into "
        "reports/docs/, from a copy of the published warehouse",
    )
    docs.add_argument("--output", help="target folder (default: $OUTREACH_HOME/reports/docs)")
    docs.set_defaults(func=_cmd_docs)
    export = sub.add_parser(
        "export",
        help="write the quarterly report for the county's superiors (one xlsx, Chinese tables "
        "and charts) from the published warehouse of an as-of date",
    )
    export.add_argument(
        "--as-of",
        help="a published as-of date, YYYY-MM-DD (default: the current published file's date)",
    )
    export.add_argument(
        "--output",
        help="the .xlsx to write, or a folder (default: $OUTREACH_HOME/reports/quarterly/)",
    )
    export.set_defaults(func=_cmd_export)
    cal = sub.add_parser(
        "calendar",
        help="make the programme's plans due on a day (本周拉家常安排 on Mondays, 一月一议议题清单 "
        "the Monday before the month's last Friday, 本季度走访提醒 from 15 days before a quarter "
        "ends) from the warehouse published as of the day before, into reports/calendar/<day>/",
    )
    cal.add_argument("--date", help="the day, YYYY-MM-DD (default: today in the county)")
    cal.add_argument(
        "--plan",
        action="append",
        choices=["talk_plan", "meeting_pack", "visit_reminders"],
        help="make this plan whether it is due or not (repeatable; by hand, for a backfill)",
    )
    cal.set_defaults(func=_cmd_calendar)
    pull = sub.add_parser(
        "pull", help="pull once from every intake channel of config/senders.yml into the inbox"
    )
    pull.add_argument("--channel", help="only the channel of this name")
    pull.set_defaults(func=_cmd_pull)
    acc = sub.add_parser("accounts", help="the portal's accounts: add, reset, disable, list")
    acc.add_argument("action", choices=["add", "reset", "disable", "list"])
    acc.add_argument("username", nargs="?", default="")
    acc.add_argument("--admin", action="store_true", help="a department (组织部) admin account")
    acc.add_argument("--provider", help="townships | joint_branches | enterprises | county")
    acc.add_argument("--unit", help="the unit, as config/senders.yml writes it: 保城镇")
    acc.set_defaults(func=_cmd_accounts)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SettingsError as exc:
        print(f"outreach: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
