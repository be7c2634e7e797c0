"""How fast the loader ingests the demo inbox, against a parse floor and a naive loader (issue 7).

For each scale of the demo inbox (x1 and x10 by default: ``--scales 1,10``), in a temporary
directory, writes the inbox once, then for each of RUNS repetitions measures:

  (a) ingest   full ``run_ingest`` into a fresh DuckDB file (2 sandboxed spawn workers), in a
               fresh Python process so that its peak RSS is its own;
  (b) rerun    ``run_ingest`` again on the same DuckDB file with no new files;
  (c) floor    the parse floor: fastexcel reads every sheet of every workbook into Arrow, and the
               csv module reads every CSV after decoding it (UTF-8, then GB18030), one process;
  (d) naive    pandas (openpyxl for xlsx bytes, calamine for xls bytes: xlrd is not installed) reads
               every sheet, then inserts each row with ``executemany`` into a VARCHAR table in DuckDB.

(c) and (d) read the same set of files, stated in the output; (d) runs once at scales above x1
(about 25 s per x1). Figures are medians with min and max, with where (a)'s time goes (the
loader's own timings: parse vs normalise vs load); nothing is asserted (tests never time
anything). Prints the tables and rewrites this script's part of bench/RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUNS = 3
NAIVE_ROW_CAP = 2000  # rows inserted per sheet by the naive loader; the rest is extrapolated
# above x1 the naive loader's per-row inserts (about 750 rows/s) would take many minutes: fewer
# rows per sheet are inserted there and the insert time is extrapolated (said so in the output)
NAIVE_ROW_CAP_AT_SCALE = 200
PII_KEY = b"bench-pii-key-0123456789abcdef"
EXCEL_SUFFIXES = (".xlsx", ".xls")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# --------------------------------------------------------------------------- (a) + (b) ingest


def _own_peak_rss_kib() -> int:
    """This process's peak RSS since its exec (VmHWM of /proc/self/status, KiB)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def child_ingest(inbox: Path, db: Path) -> None:
    """Runs in a fresh interpreter: full ingest then rerun; prints one JSON line."""
    import resource
    from zoneinfo import ZoneInfo

    from ingest.pipeline import run_ingest
    from outreach.settings import DEFAULT_GAZETTEER, DEFAULT_TIMEZONE

    tz = ZoneInfo(DEFAULT_TIMEZONE)
    t0 = time.perf_counter()
    full = run_ingest(inbox, db, DEFAULT_GAZETTEER, PII_KEY, "bench-full", tz)
    t1 = time.perf_counter()
    rerun = run_ingest(inbox, db, DEFAULT_GAZETTEER, PII_KEY, "bench-rerun", tz)
    t2 = time.perf_counter()
    f, r = full.as_dict(), rerun.as_dict()
    print(
        json.dumps(
            {
                "full_s": t1 - t0,
                "rerun_s": t2 - t1,
                "rows_loaded": f["rows"]["loaded"],
                "rows_quarantined": f["rows"]["quarantined"],
                "files": f["files"],
                "rerun_files": r["files"],
                "rerun_rows_loaded": r["rows"]["loaded"],
                "timings": full.timings,
                # this process's own high-water mark (VmHWM): Linux carries a forking parent's
                # RSS into the child's ru_maxrss across exec, and this benchmark's process is
                # big after the naive loader (x10: 1,095 MiB "peaks" of a loader at ~300 MiB)
                "rss_parent_kib": _own_peak_rss_kib(),
                # ru_maxrss is in KiB on Linux; CHILDREN is the largest single worker, not a sum
                # (spawned by this process: at least its RSS when it started them)
                "rss_worker_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            }
        )
    )


def measure_ingest(inbox: Path, db: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child-ingest", str(inbox), str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"ingest child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- (c) parse floor


def source_files(inbox: Path) -> list[Path]:
    return sorted(
        p
        for p in inbox.rglob("*")
        if p.is_file()
        and not any(part.startswith((".", "~$")) for part in p.relative_to(inbox).parts)
        and p.suffix.lower() in (*EXCEL_SUFFIXES, ".csv")
    )


def decode_csv(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("neither UTF-8 nor GB18030")


def floor_read(path: Path) -> int:
    """Rows read from one file: fastexcel -> Arrow for workbooks, csv module for CSV."""
    import csv
    import io

    import fastexcel

    data = path.read_bytes()
    if path.suffix.lower() == ".csv":
        return sum(1 for _ in csv.reader(io.StringIO(decode_csv(data))))
    reader = fastexcel.read_excel(
        data
    )  # from bytes: the format is sniffed, not taken from the name
    rows = 0
    for name in reader.sheet_names:
        rows += reader.load_sheet(name, header_row=None).to_arrow().num_rows
    return rows


def measure_floor(files: list[Path]) -> tuple[float, int]:
    t0 = time.perf_counter()
    rows = sum(floor_read(p) for p in files)
    return time.perf_counter() - t0, rows


# --------------------------------------------------------------------------- (e) commit floor


def measure_commit_floor(n: int, rows_per_commit: int, db: Path) -> float:
    """What ``n`` write transactions cost DuckDB here, each inserting ``rows_per_commit`` rows
    from Arrow into a table as wide as a raw table and one ledger row, as the loader commits.
    Measured twice: one transaction per file (the loader before group commit) and one per
    group of ``CommitGroup().files`` files (the loader now; a kill still leaves whole files:
    tests/integration/test_kill.py). No parsing, no validation."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect(str(db))
    con.execute("set threads = 1")  # as the loader's connection
    names = [f"c{i}" for i in range(20)]
    con.execute(f"create table rows_ ({', '.join(f'{c} varchar' for c in names)})")
    con.execute("create table ledger (source_file varchar, n integer)")
    rows = pa.Table.from_arrays(  # noqa: F841 (read by DuckDB, by name)
        [pa.array([f"{c}-{i}" for i in range(rows_per_commit)]) for c in names], names=names
    )
    t0 = time.perf_counter()
    for i in range(n):
        con.execute("begin")
        con.execute("insert into rows_ select * from rows")
        con.execute("insert into ledger values (?, ?)", [f"f{i}", i])
        con.execute("commit")
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed


def group_files() -> int:
    from ingest.load import CommitGroup

    return CommitGroup().files


# --------------------------------------------------------------------------- (d) naive loader


def naive_frames(path: Path) -> list:
    import io

    import pandas as pd

    data = path.read_bytes()
    if path.suffix.lower() == ".csv":
        text = decode_csv(data)
        return [pd.read_csv(io.StringIO(text), header=None, dtype=str, skip_blank_lines=False)]
    engine = "calamine" if data.startswith(OLE2_MAGIC) else "openpyxl"
    sheets = pd.read_excel(io.BytesIO(data), sheet_name=None, header=None, engine=engine)
    return list(sheets.values())


def measure_naive(files: list[Path], db: Path, cap: int = NAIVE_ROW_CAP) -> dict:
    """Per-row executemany of at most ``cap`` rows a sheet; time scaled to all rows."""
    import duckdb
    import pandas as pd

    con = duckdb.connect(str(db))
    read_s = insert_s = 0.0
    rows_total = rows_inserted = 0
    for i, path in enumerate(files):
        t0 = time.perf_counter()
        frames = naive_frames(path)
        read_s += time.perf_counter() - t0
        for j, df in enumerate(frames):
            if df.shape[1] == 0:
                continue
            table = f"t_{i}_{j}"
            cols = ", ".join(f"c{k} VARCHAR" for k in range(df.shape[1]))
            marks = ", ".join("?" for _ in range(df.shape[1]))
            head = df.head(cap)
            t0 = time.perf_counter()
            values = [
                [None if pd.isna(v) else str(v) for v in row]
                for row in head.itertuples(index=False, name=None)
            ]
            con.execute(f"CREATE TABLE {table} ({cols})")
            if values:
                con.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
            insert_s += time.perf_counter() - t0
            rows_total += len(df)
            rows_inserted += len(head)
    con.close()
    per_row = insert_s / rows_inserted if rows_inserted else 0.0
    return {
        "read_s": read_s,
        "insert_s_measured": insert_s,
        "rows_total": rows_total,
        "rows_inserted": rows_inserted,
        "cap": cap,
        "total_s": read_s + per_row * rows_total,  # extrapolated linearly if any sheet was capped
        "extrapolated": rows_inserted < rows_total,
    }


# --------------------------------------------------------------------------- profile


def profile_ingest(top: int = 15) -> None:
    """Where ingest spends its time, in ONE process (no sandbox), under cProfile.

    The sandboxed run (a) hides the workers from a profiler in the parent, so this runs the same
    steps in-process: discover, then per file ``parse.process_file`` (guard -> read -> header ->
    validate) and ``RawStore.stage_file``, committing groups as the pipeline does. Prints the
    wall time of each step without the
    profiler, then the top entries by own time and by cumulative time with the profiler on.
    """
    import cProfile
    import pstats
    from zoneinfo import ZoneInfo

    from ingest.discover import discover
    from ingest.load import RawStore
    from ingest.parse import process_file
    from ingest.places import load_gazetteer
    from ingest.registry import load_registry
    from outreach.demo import write_demo_inbox
    from outreach.settings import DEFAULT_GAZETTEER, DEFAULT_TIMEZONE

    tz = ZoneInfo(DEFAULT_TIMEZONE)
    registry, gazetteer = load_registry(), load_gazetteer(DEFAULT_GAZETTEER)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        inbox = Path(tmp) / "inbox"
        write_demo_inbox(inbox)

        def run(db: Path) -> dict[str, float]:
            times = {"discover": 0.0, "parse": 0.0, "load": 0.0}
            t0 = time.perf_counter()
            files, _ = discover(inbox)
            times["discover"] = time.perf_counter() - t0
            store = RawStore(db, registry, tz)
            store.write_townships(gazetteer)
            for file in files:
                t0 = time.perf_counter()
                outcome = process_file(file, registry, gazetteer, tz)
                t1 = time.perf_counter()
                store.stage_file(
                    file, "profile", PII_KEY, outcome.sheets, outcome.unmatched, outcome.problem
                )
                if store.group_due():
                    store.commit_group()
                times["parse"] += t1 - t0
                times["load"] += time.perf_counter() - t1
            t0 = time.perf_counter()
            store.commit_group()
            store.close()
            times["load"] += time.perf_counter() - t0
            return times

        run(
            Path(tmp) / "warm.duckdb"
        )  # caches and imports warm, as in a worker after its first file
        wall = run(Path(tmp) / "wall.duckdb")
        profiler = cProfile.Profile()
        profiler.enable()
        run(Path(tmp) / "profiled.duckdb")
        profiler.disable()
    print(
        "in-process wall time per step (s, no profiler): "
        + ", ".join(f"{k} {v:.3f}" for k, v in wall.items())
        + f"; total {sum(wall.values()):.3f}"
    )
    stats = pstats.Stats(profiler)
    for order in ("tottime", "cumulative"):
        print(f"\ntop {top} by {order}:")
        stats.sort_stats(order).print_stats(top)


# --------------------------------------------------------------------------- reporting


def machine() -> list[str]:
    from importlib.metadata import version

    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    libs = ", ".join(
        f"{name} {version(name)}"
        for name in ("duckdb", "fastexcel", "python-calamine", "pandas", "openpyxl", "pyarrow")
    )
    return [
        f"- Platform: {platform.platform()} ({platform.machine()})",
        f"- Processor: {platform.processor() or 'n/a'}; os.cpu_count() = {os.cpu_count()}",
        f"- Memory: {mem} (MemTotal, /proc/meminfo)",
        f"- Python: {platform.python_version()} ({platform.python_implementation()})",
        f"- Libraries: {libs}",
    ]


def stats(xs: list[float]) -> tuple[float, float, float]:
    return statistics.median(xs), min(xs), max(xs)


def fmt_row(label: str, xs: list[float]) -> str:
    med, lo, hi = stats(xs)
    return f"| {label} | {med:.2f} | {lo:.2f} | {hi:.2f} |"


def measure_scale(scale: int, tmpdir: Path, runs: int, naive_runs: int) -> dict:
    """Every figure for the demo inbox at one scale, (a) to (d) on the same files."""
    from outreach.demo import write_demo_inbox

    inbox = tmpdir / f"inbox-x{scale}"
    write_demo_inbox(inbox, scale=scale)
    all_files = source_files(inbox)
    n_all = len(all_files)
    # (c) and (d) read the same set: the files both can read (checked once, untimed)
    files, unreadable = [], []
    for p in all_files:
        try:
            floor_read(p)
            naive_frames(p)
            files.append(p)
        except Exception as exc:  # a demo file may be deliberately broken
            unreadable.append(f"{p.relative_to(inbox).as_posix()} ({type(exc).__name__})")
    heads = {p: p.read_bytes()[:8] for p in files}
    result = {
        "scale": scale,
        "n_inbox": sum(1 for p in inbox.rglob("*") if p.is_file()),
        "inbox_mib": sum(p.stat().st_size for p in inbox.rglob("*") if p.is_file()) / 2**20,
        "n_files": len(files),
        "n_all": n_all,
        "n_xls": sum(1 for p in files if heads[p] == OLE2_MAGIC),
        "n_csv": sum(1 for p in files if p.suffix.lower() == ".csv"),
        "unreadable": unreadable,
        "ingest": [],
        "floor": [],
        "naive": [],
        "commits": [],
        "group_commits": [],
    }
    result["n_xlsx"] = result["n_files"] - result["n_xls"] - result["n_csv"]
    for i in range(runs):
        result["ingest"].append(measure_ingest(inbox, tmpdir / f"build-x{scale}-{i}.duckdb"))
        result["floor"].append(measure_floor(files))
        rows_per_file = max(1, round(result["floor"][-1][1] / max(1, n_all)))
        result["rows_per_file"] = rows_per_file
        result["commits"].append(
            measure_commit_floor(n_all, rows_per_file, tmpdir / f"commits-x{scale}-{i}.duckdb")
        )
        per_group = group_files()
        result["group_files"] = per_group
        result["n_groups"] = -(-n_all // per_group)
        result["group_commits"].append(
            measure_commit_floor(
                result["n_groups"],
                rows_per_file * per_group,
                tmpdir / f"group-commits-x{scale}-{i}.duckdb",
            )
        )
        if i < naive_runs:
            cap = NAIVE_ROW_CAP if scale == 1 else NAIVE_ROW_CAP_AT_SCALE
            result["naive"].append(measure_naive(files, tmpdir / f"naive-x{scale}-{i}.duckdb", cap))
        print(
            f"x{scale} run {i + 1}/{runs}: ingest {result['ingest'][-1]['full_s']:.2f} s, "
            f"rerun {result['ingest'][-1]['rerun_s']:.2f} s, floor {result['floor'][-1][0]:.2f} s"
            + (f", naive {result['naive'][-1]['total_s']:.2f} s" if i < naive_runs else ""),
            flush=True,
        )
    shutil.rmtree(inbox, ignore_errors=True)
    for p in tmpdir.glob(f"*-x{scale}-*.duckdb*"):
        p.unlink()
    return result


def ratio_row(label: str, xs: list[float], unit: str = "", digits: int = 2) -> str:
    med, lo, hi = stats(xs)
    return f"| {label} | {med:.{digits}f}{unit} | {lo:.{digits}f}{unit} | {hi:.{digits}f}{unit} |"


BREAKDOWN = [
    ("discover", "this process: list the inbox, sha256 of every file"),
    ("open", "this process: open DuckDB, read the ledger, start the workers, warm pyarrow"),
    ("wait", "this process: waiting for the workers' next outcome"),
    ("load", "this process: stage and commit the files in groups (Arrow, ledger), checkpoint"),
    ("guard", "workers, summed over files: zip/OLE2 inspection"),
    ("read", "workers, summed over files: calamine / csv into cells"),
    ("normalise", "workers, summed over files: header, validation, normalisation"),
]


def scale_section(r: dict) -> list[str]:
    ingest, floor, naive = r["ingest"], r["floor"], r["naive"]
    full_s = [x["full_s"] for x in ingest]
    floor_s = [f[0] for f in floor]
    naive_s = [n["total_s"] for n in naive]
    runs = len(ingest)
    ratio_floor = [a / b for a, b in zip(full_s, floor_s, strict=True)]
    # naive ran in the first runs only (at scale it takes minutes); compare with those runs
    ratio_naive = [b / a for a, b in zip(full_s, naive_s, strict=False)]
    extrapolated = any(n["extrapolated"] for n in naive)
    naive_label = "(d) naive pandas+openpyxl -> DuckDB executemany" + (
        " (extrapolated)" if extrapolated else ""
    )
    scale = r["scale"]
    table = [
        f"| measure, x{scale} ({runs} runs; naive {len(naive)}) | median | min | max |",
        "|---|---:|---:|---:|",
        fmt_row("(a) ingest, full run_ingest into a fresh DuckDB (s)", full_s),
        fmt_row("(b) rerun, no new files (s)", [x["rerun_s"] for x in ingest]),
        fmt_row("(c) parse floor: fastexcel + csv module, one process (s)", floor_s),
    ]
    if naive:
        table.append(fmt_row(naive_label + " (s)", naive_s))
    commits, group_commits = r["commits"], r["group_commits"]
    table += [
        fmt_row(
            f"(e) commit floor, one file per transaction: {r['n_all']} DuckDB transactions of "
            f"{r['rows_per_file']} rows (s)",
            commits,
        ),
        ratio_row(
            "((c) + (e)) / (c): the floor of a loader that commits each file alone, serially",
            [(f + c) / f for f, c in zip(floor_s, commits, strict=True)],
            "x",
        ),
        fmt_row(
            f"(f) commit floor, groups of {r['group_files']} files (the loader now): "
            f"{r['n_groups']} transactions of {r['rows_per_file'] * r['group_files']} rows (s)",
            group_commits,
        ),
        ratio_row(
            "((c) + (f)) / (c): the floor of a loader that commits in groups, serially",
            [(f + c) / f for f, c in zip(floor_s, group_commits, strict=True)],
            "x",
        ),
    ]
    table += [
        ratio_row(
            "ingest rows/s (rows loaded / (a))",
            [x["rows_loaded"] / x["full_s"] for x in ingest],
            digits=0,
        ),
        ratio_row("ingest / parse floor, (a)/(c) (target <= 2)", ratio_floor, "x"),
    ]
    if naive:
        table.append(ratio_row("naive / ingest, (d)/(a) (target >= 10)", ratio_naive, "x"))
    table += [
        ratio_row(
            "rerun as % of full run, (b)/(a)",
            [100 * x["rerun_s"] / x["full_s"] for x in ingest],
            " %",
            digits=1,
        ),
        ratio_row(
            "ingest peak RSS, parent process (MiB)",
            [x["rss_parent_kib"] / 1024 for x in ingest],
            digits=0,
        ),
        ratio_row(
            "ingest peak RSS, largest worker (MiB)",
            [x["rss_worker_kib"] / 1024 for x in ingest],
            digits=0,
        ),
    ]
    breakdown = [
        f"| where (a) goes, x{scale} (s; median of {runs}) | median | min | max | what |",
        "|---|---:|---:|---:|---|",
    ]
    for step, what in BREAKDOWN:
        xs = [x["timings"].get(step, 0.0) for x in ingest]
        med, lo, hi = stats(xs)
        breakdown.append(f"| {step} | {med:.3f} | {lo:.3f} | {hi:.3f} | {what} |")
    i0 = ingest[0]
    notes = [
        f"- Inbox x{scale}: {r['n_inbox']} files, {r['inbox_mib']:.1f} MiB, written by "
        f"`outreach.demo.write_demo_inbox(scale={scale})`; ingest loaded {i0['rows_loaded']} "
        f"rows ({i0['rows_quarantined']} quarantined), files {i0['files']}; rerun: files "
        f"{i0['rerun_files']}, rows loaded {i0['rerun_rows_loaded']}.",
        f"- (c) and (d) read the same {r['n_files']} files: {r['n_xlsx']} with xlsx bytes, "
        f"{r['n_xls']} with xls (OLE2) bytes, {r['n_csv']} CSV"
        + (
            f"; left out (unreadable by one of them): {', '.join(r['unreadable'])}"
            if r["unreadable"]
            else ""
        )
        + f". (c) read {floor[0][1]} rows, header and blank rows included.",
    ]
    if naive:
        n0 = naive[0]
        notes.append(
            f"- (d) split (run 1): read {n0['read_s']:.2f} s, insert {n0['insert_s_measured']:.2f} s"
            + (
                f"; capped at {n0['cap']} rows per sheet: {n0['rows_inserted']} of "
                f"{n0['rows_total']} rows inserted, insert time EXTRAPOLATED linearly to all rows."
                if extrapolated
                else f" (no sheet over the {n0['cap']}-row cap: nothing extrapolated)."
            )
        )
    return [*table, "", *breakdown, "", *notes]


def load_note(before: tuple[float, ...], after: tuple[float, ...]) -> str:
    cores = os.cpu_count() or 1
    busy = max(before[0], after[0], before[1], after[1]) > 0.75 * cores
    return (
        f"Load average (1 min, 5 min) at start {before[0]:.2f}, {before[1]:.2f}; at end "
        f"{after[0]:.2f}, {after[1]:.2f} on {cores} cores: "
        + (
            "MEASURED UNDER LOAD (other work was running): the figures are noisy and slower "
            "than on a quiet machine."
            if busy
            else "a quiet machine."
        )
    )


BEGIN = "<!-- bench/ingest_speed.py: begin (this part is rewritten by the script) -->"
END = "<!-- bench/ingest_speed.py: end -->"


def write_section(lines: list[str]) -> Path:
    """Replace this script's part of bench/RESULTS.md, keep everything else (other benchmarks'
    parts, the profile log)."""
    path = HERE / "RESULTS.md"
    body = "\n".join([BEGIN, *lines, END])
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def main(scales: list[int]) -> None:
    started = time.perf_counter()
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for scale in scales:
            # the naive loader takes about 25 s at x1 and grows linearly: once at larger scales
            results.append(measure_scale(scale, Path(tmp), RUNS, RUNS if scale == 1 else 1))
    load_after = os.getloadavg()
    sections: list[str] = []
    for r in results:
        sections += [f"### Demo inbox x{r['scale']}", "", *scale_section(r), ""]
    note = load_note(load_before, load_after)
    print()
    print("\n".join(sections))
    print(note)

    lines = [
        "## Ingest against the parse floor and a naive loader (bench/ingest_speed.py)",
        "",
        f"Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}; "
        f"whole benchmark took {time.perf_counter() - started:.0f} s. {note}",
        "",
        "### Machine",
        "",
        *machine(),
        "",
        *sections,
        "### How it is measured",
        "",
        "- (a) `ingest.pipeline.run_ingest` into a fresh DuckDB file in a fresh Python process "
        "(imports done before the clock starts, as for the floor), with its 2 sandboxed spawn "
        "workers; (b) the same call again with no new files; (c) the parse floor in one process, "
        "no validation and no writes: fastexcel `read_excel(bytes)` then "
        "`load_sheet(name, header_row=None).to_arrow()` for every sheet, CSV decoded UTF-8 (BOM) "
        "then GB18030 and split with the standard `csv` module (pyarrow.csv rejects ragged rows); "
        "(d) pandas + openpyxl for xlsx bytes (calamine for xls bytes: xlrd is not installed), "
        "`pandas.read_csv(dtype=str)` for CSV, then one VARCHAR table per sheet filled by "
        "per-row `executemany`; (e) as many write transactions as the inbox has files, each "
        "inserting the inbox's rows per file (the floor's rows / files) from Arrow into a "
        "20-column VARCHAR table and one ledger row: what committing each file alone costs "
        "DuckDB here, with nothing parsed or validated; (f) the same rows in one transaction "
        "per group of files (`ingest.load.CommitGroup().files`), as the loader commits now.",
        "- Figures are medians with min and max; nothing is asserted (tests never time "
        "anything). Peak RSS: the high-water mark (VmHWM) of the process running (a) then "
        "(b) (not its ru_maxrss: Linux carries the forking benchmark's own RSS into a child's "
        "ru_maxrss, which made a loader of about 300 MiB read 1,095 MiB at x10 after the naive "
        "loader had run), and its RUSAGE_CHILDREN, i.e. the largest single worker (at least "
        "the loader's RSS when it spawned them), not the sum of both.",
        "- The breakdown: this process's steps are wall time and add up to (a); the workers' "
        "steps are summed over all files and both workers, so they can exceed (a).",
        "- The floor is single-process while ingest uses 2 workers; the naive loader skips every "
        "check ingest performs, so (d)/(a) compares speed, not equivalent work.",
        "- `python bench/ingest_speed.py --profile` prints an in-process cProfile of ingest "
        "(the profile log below was made with it).",
        "",
    ]
    print(f"\nwrote {write_section(lines)}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child-ingest":
        child_ingest(Path(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "--profile":
        profile_ingest(int(sys.argv[2]) if len(sys.argv) > 2 else 15)
    else:
        # scales of the demo inbox to measure, e.g. `--scales 1,10` (the default)
        arg = sys.argv[2] if len(sys.argv) == 3 and sys.argv[1] == "--scales" else "1,10"
        main([int(x) for x in arg.split(",")])
