"""Whole nights of ``outreach run`` on the demo at x1, x10 and x100 (issue 7).

For each scale the demo inbox is generated once (``outreach.demo.write_demo_inbox(dir, scale)``,
timed); then, for each repeat, in a fresh OUTREACH_HOME (Airflow's metadata migrated first,
untimed, as a deployed night finds it):

  full      ``outreach run --as-of 2014-06-30`` on the whole inbox, an empty warehouse;
  rerun     the same again: no new file, the same as-of date (the gate skips build, check,
            publish);
  changed   one file of the inbox resent with new bytes (a visits CSV of 片区 1 without its
            last data row), then the same run.

Each is a child process (``python -m outreach.cli run``) of a snapshot of the source tree taken
when the benchmark starts (the gate counts a change of the pipeline's code as a reason to
rebuild: an edit of the working tree during a long benchmark must not turn a rerun into a
rebuild). Its wall time is measured from outside, its peak memory by sampling the whole process tree every 0.2 s (the embedded Airflow,
the sandboxed parse workers and every dbt child): the largest sum of RSS seen (an upper bound:
shared pages count once per process) and of PSS, and ru_maxrss of the largest single process
(an upper bound too: Linux starts a child's ru_maxrss at its parent's RSS when it was spawned,
so each dbt child counts the outreach process's RSS at that moment).
The stage times (ingest, dbt build, check, publish) come from the run's own record
(``reports/<run id>/run.json``, "timings"). The full run's headline figures and obligation flags
are compared with what the generator says they must be (``DemoManifest.expected``).

Figures are medians with min and max over the repeats (fewer at x100: ``REPEATS``). Nothing is
asserted: benchmarks print, tests never time. Prints a table and rewrites this script's section
of bench/RESULTS.md (between its markers), with the machine's description from
bench/ingest_speed.py.

    .venv/bin/python bench/pipeline_speed.py                 # x1, x10, x100
    BENCH_SCALES=1,10 .venv/bin/python bench/pipeline_speed.py
    BENCH_REPEATS=1:3,10:2,100:1 ...                         # repeats per scale
    .venv/bin/python bench/pipeline_speed.py --profile 10    # where dbt, check, publish spend it
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

AS_OF = "2014-06-30"
DEFAULT_SCALES = (1, 10, 100)
DEFAULT_REPEATS = {1: 3, 10: 3, 100: 1}
SAMPLE_SECONDS = 0.2
START_MARK = "<!-- pipeline_speed.py: start -->"
END_MARK = "<!-- pipeline_speed.py: end -->"
PROFILE_START = "<!-- pipeline_speed.py --profile: start -->"
PROFILE_END = "<!-- pipeline_speed.py --profile: end -->"
TOP = 12
# the file resent with new bytes in the "changed" run: a visits log of 片区 1 (GB18030 CSV)
CHANGED_FILE = "townships/响水镇/走访/2013Q3_响水镇走访记录.csv"
PII_KEY = "bench-pii-key-0123456789abcdef"


# --------------------------------------------------------------------------- memory sampling


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _tree(root: int) -> list[int]:
    kids = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return out


def _rss_pss_kib(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


def _what(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = f.read().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(
        Path(w.decode(errors="replace")).name if i == 0 else w.decode(errors="replace")
        for i, w in enumerate(words)
        if w
    )
    return text[:70]


class TreeSampler(threading.Thread):
    """The largest sums of RSS and PSS over a process and all its descendants, and which
    processes made up the largest sum of RSS."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_rss, self.peak_pss, self.peak_procs = pid, 0, 0, 0
        self.at_peak: list[tuple[int, str]] = []  # (RSS KiB, command) at the peak
        self.peak_after_s = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        started = time.perf_counter()
        while not self.done.is_set():
            pids = _tree(self.pid)
            sizes = [_rss_pss_kib(p) for p in pids]
            rss = sum(r for r, _ in sizes)
            if rss > self.peak_rss:
                self.peak_rss = rss
                self.peak_after_s = time.perf_counter() - started
                self.at_peak = sorted(
                    ((r, _what(p)) for p, (r, _) in zip(pids, sizes, strict=True) if r),
                    reverse=True,
                )[:4]
            self.peak_pss = max(self.peak_pss, sum(p for _, p in sizes))
            self.peak_procs = max(self.peak_procs, len(pids))
            self.done.wait(SAMPLE_SECONDS)


# --------------------------------------------------------------------------- one run


@dataclass
class Run:
    kind: str
    wall_s: float
    returncode: int
    peak_rss_mib: float  # sum over the tree, sampled
    peak_pss_mib: float
    largest_mib: float  # ru_maxrss of the largest single process
    procs: int
    record: dict = field(default_factory=dict)  # run.json
    at_peak: str = ""  # the largest processes when the tree's RSS peaked

    def stage(self, name: str) -> float | None:
        t = (self.record.get("timings") or {}).get(name)
        return None if t is None else float(t["seconds"])

    @property
    def skipped(self) -> bool:
        return bool((self.record.get("build") or {}).get("skipped"))


SOURCE = ROOT  # the tree the runs execute: snapshot() replaces it with a copy


def snapshot(dest: Path) -> Path:
    """A copy of the source tree as it is now (git's tracked and untracked, not ignored files,
    and the prebuilt dbt manifest), which every run of the benchmark executes."""
    global SOURCE
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0:
        files = [f for f in listed.stdout.decode().split("\0") if f]
    else:  # not a git checkout: the pipeline's folders
        files = [
            p.relative_to(ROOT).as_posix()
            for d in ("outreach", "ingest", "expectations", "dags", "dbt_project", "config")
            for p in (ROOT / d).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and "target" not in p.parts
        ]
    files.append("dbt_project/target/manifest.json")
    for rel in files:
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    SOURCE = dest
    return dest


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OUTREACH_"))}
    env.update(OUTREACH_HOME=str(home), OUTREACH_PII_KEY=PII_KEY, PYTHONPATH=str(SOURCE))
    return env


def migrate(home: Path) -> None:
    code = (
        "from outreach import embedded; from outreach.settings import load_settings; "
        "s = load_settings(); embedded.configure(s); embedded.migrate(s); "
        "embedded.refresh_manifest(s)"
    )
    subprocess.run(
        [sys.executable, "-c", code], env=_env(home), check=True, capture_output=True, cwd=SOURCE
    )


def outreach_run(home: Path, kind: str, log: Path) -> Run:
    with open(log, "ab") as out:
        out.write(f"\n===== {kind} {dt.datetime.now().isoformat()} =====\n".encode())
        out.flush()
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "outreach.cli", "run", "--as-of", AS_OF],
            env=_env(home),
            cwd=SOURCE,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    latest = home / "reports" / "latest" / "run.json"
    record = json.loads(latest.read_text(encoding="utf-8")) if latest.exists() else {}
    return Run(
        kind,
        wall,
        proc.returncode,
        sampler.peak_rss / 1024,
        sampler.peak_pss / 1024,
        usage.ru_maxrss / 1024,
        sampler.peak_procs,
        record,
        f"{sampler.peak_after_s:.0f} s in: "
        + ", ".join(f"{r / 1024:.0f} MiB {cmd}" for r, cmd in sampler.at_peak),
    )


def resend_changed_file(inbox: Path) -> str:
    """The clerk resends one visits log with its last data row taken out (new bytes, same
    path, a day later)."""
    path = inbox / CHANGED_FILE
    raw = path.read_bytes()
    lines = raw.decode("gb18030").splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if line.split(",", 1)[0].strip().isdigit())
    del lines[last]
    stamp = path.stat().st_mtime + 86400
    path.write_bytes("".join(lines).encode("gb18030"))
    os.utime(path, (stamp, stamp))
    return CHANGED_FILE


def check_expected(run: Run, expected: dict) -> list[str]:
    """Where the full run's figures differ from what the generator says they must be."""
    problems = []
    got = run.record.get("headlines") or {}
    for metric, want in expected["headlines"].items():
        value = got.get(metric)
        tolerance = 0.0005 if metric == "quarterly_visit_rate" else 0.005
        if value is None or abs(float(value) - float(want)) > tolerance:
            problems.append(f"{metric}: {value} != {want}")
    flags = run.record.get("obligations") or {}
    for table, want in expected["obligations"].items():
        if flags.get(table) != want:
            problems.append(f"{table}: {flags.get(table)} != {want}")
    return problems


# --------------------------------------------------------------------------- one scale


@dataclass
class ScaleResult:
    scale: int
    repeats: int
    generate_s: float
    files: int
    rows: int
    big_file_rows: int
    full: list[Run] = field(default_factory=list)
    rerun: list[Run] = field(default_factory=list)
    changed: list[Run] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    disk_mib: float = 0.0


def measure_scale(scale: int, repeats: int, tmp: Path, log: Path) -> ScaleResult:
    from outreach.demo import write_demo_inbox
    from outreach.demo.scale import BIG_FILE_DIR

    source = tmp / f"inbox-x{scale}"
    started = time.perf_counter()
    manifest = write_demo_inbox(source, scale=scale)
    generate_s = time.perf_counter() - started
    rows = sum(
        v
        for k, v in manifest.counts.items()
        if k not in ("files", "sheets", "unmatched_sheets", "quarantined_rows")
    )
    big = [f for f in manifest.files if f.startswith(BIG_FILE_DIR + "/")]
    result = ScaleResult(scale, repeats, generate_s, len(manifest.files), rows, 0)
    if big:
        from python_calamine import CalamineWorkbook

        sheet = CalamineWorkbook.from_path(str(source / big[0])).get_sheet_by_index(0)
        result.big_file_rows = sheet.height
    print(
        f"x{scale}: generated {len(manifest.files)} files, {rows} data rows in {generate_s:.0f} s",
        flush=True,
    )
    for r in range(repeats):
        home = tmp / f"home-x{scale}-{r}"
        shutil.copytree(source, home / "inbox")  # copy2: the arrival times come along
        migrate(home)
        for kind in ("full", "rerun", "changed"):
            if kind == "changed":
                resend_changed_file(home / "inbox")
            run = outreach_run(home, kind, log)
            getattr(result, kind).append(run)
            print(
                f"x{scale} repeat {r + 1}/{repeats} {kind}: {run.wall_s:.1f} s, tree peak "
                f"{run.peak_rss_mib:.0f} MiB RSS / {run.peak_pss_mib:.0f} MiB PSS, exit "
                f"{run.returncode}, build {'skipped' if run.skipped else 'ran'}: "
                f"{(run.record.get('build') or {}).get('reason', '?')}",
                flush=True,
            )
            if kind == "full":
                result.problems += [
                    f"repeat {r + 1}: {p}" for p in check_expected(run, manifest.expected)
                ]
            if run.returncode != 0:
                result.problems.append(f"repeat {r + 1} {kind}: exit {run.returncode} (see {log})")
        result.disk_mib = max(result.disk_mib, _du(home) / 1024**2)
        shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(source, ignore_errors=True)
    return result


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# --------------------------------------------------------------------------- reporting


def _stats(xs: list[float | None]) -> tuple[float, float, float] | None:
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return statistics.median(xs), min(xs), max(xs)


def _row(label: str, xs: list, fmt: str = "{:.1f}") -> str:
    s = _stats(xs)
    if s is None:
        return f"| {label} | — | — | — |"
    return "| " + label + " | " + " | ".join(fmt.format(v) for v in s) + " |"


def _ingest(run: Run) -> float | None:
    parts = [run.stage(k) for k in ("plan_ingest", "parse", "load_raw")]
    return None if all(p is None for p in parts) else sum(p or 0.0 for p in parts)


def _check_publish(run: Run) -> float | None:
    c, p = run.stage("check"), run.stage("publish")
    return None if c is None and p is None else (c or 0.0) + (p or 0.0)


def scale_table(res: ScaleResult) -> list[str]:
    full, rerun, changed = res.full, res.rerun, res.changed
    pct = [100 * b.wall_s / a.wall_s for a, b in zip(full, rerun, strict=True)]
    pct_changed = [100 * b.wall_s / a.wall_s for a, b in zip(full, changed, strict=True)]
    check_parts = {
        k: [(r.record.get("timings") or {}).get("check", {}).get(k) for r in full]
        for k in ("dq_results", "dbt_test", "gx_and_python", "record")
    }
    lines = [
        f"| x{res.scale} ({res.repeats} run{'s' if res.repeats > 1 else ''}) | median | min | max |",
        "|---|---:|---:|---:|",
        _row("full run, wall (s)", [r.wall_s for r in full]),
        _row(
            "full run, peak memory of the process tree, sum of RSS (MiB)",
            [r.peak_rss_mib for r in full],
            "{:.0f}",
        ),
        _row(
            "full run, peak memory of the process tree, sum of PSS (MiB)",
            [r.peak_pss_mib for r in full],
            "{:.0f}",
        ),
        _row(
            "full run, largest single process, ru_maxrss (MiB)",
            [r.largest_mib for r in full],
            "{:.0f}",
        ),
        _row("full run: ingest (plan + parse + load_raw) (s)", [_ingest(r) for r in full]),
        _row("full run: dbt build (s)", [r.stage("build") for r in full]),
        _row("full run: check (s)", [r.stage("check") for r in full]),
        *(_row(f"&nbsp;&nbsp;check: {k} (s)", v) for k, v in check_parts.items()),
        _row("full run: publish (s)", [r.stage("publish") for r in full]),
        _row("full run: check + publish (s)", [_check_publish(r) for r in full]),
        _row("full run: report (s)", [r.stage("report") for r in full]),
        _row("rerun, nothing new, same as-of, wall (s)", [r.wall_s for r in rerun]),
        _row("rerun as % of the full run", pct, "{:.1f} %"),
        _row(
            "rerun, peak memory of the tree, sum of RSS (MiB)",
            [r.peak_rss_mib for r in rerun],
            "{:.0f}",
        ),
        _row("one changed file, wall (s)", [r.wall_s for r in changed]),
        _row("one changed file as % of the full run", pct_changed, "{:.1f} %"),
        _row("one changed file: ingest (s)", [_ingest(r) for r in changed]),
        _row("one changed file: dbt build (s)", [r.stage("build") for r in changed]),
        _row("one changed file: check + publish (s)", [_check_publish(r) for r in changed]),
    ]
    return lines


def notes_for(res: ScaleResult) -> list[str]:
    skipped = sum(r.skipped for r in res.rerun)
    rebuilt = sum(not r.skipped for r in res.changed)
    out = [
        f"- x{res.scale}: {res.files} files, {res.rows} data rows"
        + (f" (the big visits workbook: {res.big_file_rows} rows)" if res.big_file_rows else "")
        + f"; generated in {res.generate_s:.0f} s; the home took up to {res.disk_mib:.0f} MiB on disk.",
        f"- x{res.scale}: the rerun skipped the build in {skipped} of {len(res.rerun)} repeats; "
        f"the changed-file run rebuilt in {rebuilt} of {len(res.changed)}"
        + (
            "; reasons: "
            + "; ".join(
                sorted(
                    {
                        (r.record.get("build") or {}).get("reason", "?")
                        for r in res.rerun
                        if not r.skipped
                    }
                )
            )
            if skipped < len(res.rerun)
            else ""
        )
        + ".",
    ]
    for run in res.full[:1]:
        out.append(f"- x{res.scale}, full run: the tree's RSS peaked {run.at_peak}.")
    if res.problems:
        out.append(f"- x{res.scale}: PROBLEMS: " + "; ".join(res.problems))
    else:
        out.append(
            f"- x{res.scale}: every full run exited 0 and reported exactly the headline figures "
            "and obligation flags the generator expects."
        )
    return out


def ratio_lines(results: dict[int, ScaleResult]) -> list[str]:
    lines = []
    base = results.get(1)
    if base is None:
        return lines
    b = statistics.median(r.wall_s for r in base.full)
    for scale, res in sorted(results.items()):
        if scale == 1:
            continue
        m = statistics.median(r.wall_s for r in res.full)
        rows = res.rows / base.rows
        lines.append(
            f"- full run x{scale}/x1: {m / b:.2f} (medians, {m:.0f} s / {b:.0f} s) for "
            f"{rows:.1f} times the rows (target for x100: <= 100)"
        )
    return lines


def write_section(text: list[str], start: str = START_MARK, end: str = END_MARK) -> None:
    """Replace this script's section of bench/RESULTS.md (between its markers), or append it;
    the other scripts' sections stay as they are."""
    path = HERE / "RESULTS.md"
    body = path.read_text(encoding="utf-8") if path.exists() else ""
    section = "\n".join([start, *text, end])
    if start in body and end in body:
        head, rest = body.split(start, 1)
        _, tail = rest.split(end, 1)
        body = head + section + tail
    else:
        body = body.rstrip("\n") + ("\n\n" if body else "") + section + "\n"
    path.write_text(body, encoding="utf-8")


def parse_repeats(text: str | None) -> dict[int, int]:
    out = dict(DEFAULT_REPEATS)
    for part in (text or "").split(","):
        if part.strip():
            scale, n = part.split(":")
            out[int(scale)] = int(n)
    return out


# --------------------------------------------------------------------------- profile


def _top_nodes(target: Path, n: int = TOP) -> tuple[float, list[str]]:
    """dbt's own run_results.json: the whole command's elapsed time and its slowest nodes."""
    data = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
    nodes = sorted(data["results"], key=lambda r: -float(r.get("execution_time") or 0))
    total_nodes = sum(float(r.get("execution_time") or 0) for r in data["results"])
    lines = [
        f"| {r['unique_id'].split('.', 2)[-1][:90]} | {float(r['execution_time']):.2f} |"
        for r in nodes[:n]
    ]
    lines.append(f"| (all {len(data['results'])} nodes, sum) | {total_nodes:.2f} |")
    return float(data.get("elapsed_time") or 0), lines


def _cprofile(fn, n: int = TOP) -> tuple[float, list[str]]:
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    try:
        fn()
    finally:
        prof.disable()
    took = time.perf_counter() - started
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    rows, imports = [], 0.0
    for func, (_cc, nc, tt, ct, _callers) in sorted(stats.stats.items(), key=lambda kv: -kv[1][3]):
        filename, line, name = func
        if name == "_find_and_load":
            imports = max(imports, ct)
        # the import machinery and module bodies: summed up as "importing" below
        if filename.startswith("<") or name == "<module>" or "builtins.exec" in name:
            continue
        if "__import__" in name or name.startswith("<built-in method _imp"):
            continue
        where = f"{Path(filename).name}:{line}({name})" if line else name
        rows.append(f"| {where[:90]} | {nc} | {tt:.2f} | {ct:.2f} |")
        if len(rows) == n:
            break
    rows.append(f"| (importing modules, all of it) | | | {imports:.2f} |")
    return took, rows


def profile(scale: int) -> list[str]:
    """Where build, check and publish spend their time at ``scale``, in this process (no
    Airflow): the slowest dbt models and tests (dbt's own timings) and cProfile's top entries
    of the check's Python part and of publish."""
    from ingest.pipeline import run_ingest
    from outreach.demo import write_demo_inbox
    from outreach.pipeline import dbt_runner, stages
    from outreach.pipeline.context import RunContext
    from outreach.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        settings = load_settings({"OUTREACH_HOME": tmp, "OUTREACH_PII_KEY": PII_KEY})
        settings.ensure_dirs()
        write_demo_inbox(settings.inbox, scale=scale)
        ctx = RunContext.from_xcom(stages.prepare(settings, None, {"as_of": AS_OF}))
        started = time.perf_counter()
        run_ingest(
            settings.inbox, settings.build_db, settings.gazetteer, settings.pii_key(),
            ctx.run_id, settings.tz, quarantine_dir=settings.quarantine_dir,
        )  # fmt: skip
        ingest_s = time.perf_counter() - started
        target = settings.home / "dbt" / "target"
        started = time.perf_counter()
        dbt_runner.build_models(settings, ctx.as_of)
        build_wall = time.perf_counter() - started
        build_elapsed, build_top = _top_nodes(target)
        started = time.perf_counter()
        dbt_runner.build_models(settings, ctx.as_of, select="dq_results")
        dq_wall = time.perf_counter() - started
        started = time.perf_counter()
        tests = dbt_runner.run_tests(settings, ctx.as_of)
        test_wall = time.perf_counter() - started
        test_elapsed, test_top = _top_nodes(target)

        def python_checks():
            stages.record_python_checks(settings, ctx, stages.python_checks(settings, ctx, tests))

        checks_s, checks_top = _cprofile(python_checks)
        publish_s, publish_top = _cprofile(lambda: stages.publish(settings, ctx))
        report_s, report_top = _cprofile(lambda: stages.report(settings, ctx))
    head = "| node | seconds |\n|---|---:|"
    phead = "| function | calls | own s | cumulative s |\n|---|---:|---:|---:|"
    return [
        f"#### Profile at x{scale} ({dt.datetime.now().astimezone().isoformat(timespec='seconds')}, "
        f"load average {os.getloadavg()[0]:.1f})",
        "",
        f"In one process, no Airflow: ingest {ingest_s:.1f} s; `dbt run` {build_wall:.1f} s wall "
        f"(dbt's elapsed {build_elapsed:.1f} s); `dbt run --select dq_results` {dq_wall:.1f} s; "
        f"`dbt test` {test_wall:.1f} s wall (elapsed {test_elapsed:.1f} s); GX + Python checks "
        f"{checks_s:.1f} s; publish {publish_s:.1f} s; report {report_s:.1f} s (cProfile on).",
        "",
        "Slowest models (`dbt run`):",
        "",
        head,
        *build_top,
        "",
        "Slowest tests (`dbt test`):",
        "",
        head,
        *test_top,
        "",
        "GX and Python checks (`stages.python_checks`, `stages.record_python_checks`), by cumulative time:",
        "",
        phead,
        *checks_top,
        "",
        "Publish (`stages.publish`), by cumulative time:",
        "",
        phead,
        *publish_top,
        "",
        "Report (`stages.report`), by cumulative time:",
        "",
        phead,
        *report_top,
        "",
    ]


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--profile":
        from outreach.demo.scale import check_scale

        lines = profile(check_scale(sys.argv[2]))
        print("\n".join(lines))
        path = HERE / "RESULTS.md"
        body = path.read_text(encoding="utf-8") if path.exists() else ""
        kept = []
        if PROFILE_START in body:  # keep the profiles of other scales (and earlier ones)
            kept = body.split(PROFILE_START, 1)[1].split(PROFILE_END, 1)[0].strip("\n").splitlines()
        if not kept:
            kept = [
                "### Where dbt, check and publish spend their time (bench/pipeline_speed.py "
                "--profile N; each run adds its profile here)",
            ]
        write_section([*kept, "", *lines], PROFILE_START, PROFILE_END)
        return
    from ingest_speed import machine  # the same description as the ingest benchmark

    from outreach.demo.scale import check_scale

    scales = [
        check_scale(s)
        for s in os.environ.get("BENCH_SCALES", ",".join(map(str, DEFAULT_SCALES))).split(",")
    ]
    repeats = parse_repeats(os.environ.get("BENCH_REPEATS"))
    started = time.perf_counter()
    results: dict[int, ScaleResult] = {}
    log = Path(tempfile.gettempdir()) / f"pipeline_speed-{os.getpid()}.log"
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        snapshot(Path(tmp) / "src")
        for scale in scales:
            results[scale] = measure_scale(scale, repeats.get(scale, 1), Path(tmp), log)
    took = time.perf_counter() - started
    tables = []
    for res in results.values():
        tables += [*scale_table(res), "", *notes_for(res), ""]
    ratios = ratio_lines(results)
    print()
    print("\n".join(tables + ratios))
    text = [
        "## Whole nights: outreach run at x1, x10, x100 (bench/pipeline_speed.py)",
        "",
        f"Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}; scales "
        f"{', '.join(f'x{s} ({repeats.get(s, 1)} repeats)' for s in scales)}; the whole "
        f"benchmark took {took / 60:.0f} min. Log of every run: {log} (not kept in git).",
        "",
        "### Machine",
        "",
        *machine(),
        f"- Load average when it ended (other work on the machine): "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}",
        "",
        "### Results",
        "",
        *tables,
        *ratios,
        "",
        "### Reproduce",
        "",
        "```sh",
        ".venv/bin/python bench/pipeline_speed.py   # BENCH_SCALES=1,10,100 BENCH_REPEATS=1:3,10:3,100:1",
        "```",
    ]
    write_section(text)
    print(f"\nwrote its section of {HERE / 'RESULTS.md'}; log of the runs: {log}")


if __name__ == "__main__":
    main()
