"""How fast the loader ingests the demo inbox, against a parse floor and a naive loader (issue 7).

In a temporary directory, writes the demo inbox once, then for each of RUNS repetitions measures:

  (a) ingest   full ``run_ingest`` into a fresh DuckDB file (2 sandboxed spawn workers), in a
               fresh Python process so that its peak RSS is its own;
  (b) rerun    ``run_ingest`` again on the same DuckDB file with no new files;
  (c) floor    the parse floor: fastexcel reads every sheet of every workbook into Arrow, and the
               csv module reads every CSV after decoding it (UTF-8, then GB18030), one process;
  (d) naive    pandas (openpyxl for xlsx bytes, calamine for xls bytes: xlrd is not installed) reads
               every sheet, then inserts each row with ``executemany`` into a VARCHAR table in DuckDB.

(c) and (d) read the same set of files, stated in the output. Figures are medians with min and
max; nothing is asserted (tests never time anything). Prints a table and writes bench/RESULTS.md.
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
PII_KEY = b"bench-pii-key-0123456789abcdef"
EXCEL_SUFFIXES = (".xlsx", ".xls")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# --------------------------------------------------------------------------- (a) + (b) ingest


def child_ingest(inbox: Path, db: Path) -> None:
    """Runs in a fresh interpreter: full ingest then rerun; prints one JSON line."""
    import resource
    from zoneinfo import ZoneInfo

    from ingest.pipeline import run_ingest
    from outreach.settings import DEFAULT_GAZETTEER

    tz = ZoneInfo("Asia/Shanghai")
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
                # ru_maxrss is in KiB on Linux; CHILDREN is the largest single worker, not a sum
                "rss_parent_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
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


def measure_naive(files: list[Path], db: Path) -> dict:
    """Per-row executemany of at most NAIVE_ROW_CAP rows a sheet; time scaled to all rows."""
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
            head = df.head(NAIVE_ROW_CAP)
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
        "total_s": read_s + per_row * rows_total,  # extrapolated linearly if any sheet was capped
        "extrapolated": rows_inserted < rows_total,
    }


# --------------------------------------------------------------------------- profile


def profile_ingest(top: int = 15) -> None:
    """Where ingest spends its time, in ONE process (no sandbox), under cProfile.

    The sandboxed run (a) hides the workers from a profiler in the parent, so this runs the same
    steps in-process: discover, then per file ``parse.process_file`` (guard -> read -> header ->
    validate) and ``RawStore.commit_file``. Prints the wall time of each step without the
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
    from outreach.settings import DEFAULT_GAZETTEER

    tz = ZoneInfo("Asia/Shanghai")
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
                store.commit_file(
                    file, "profile", PII_KEY, outcome.sheets, outcome.unmatched, outcome.problem
                )
                times["parse"] += t1 - t0
                times["load"] += time.perf_counter() - t1
            t0 = time.perf_counter()
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


def main() -> None:
    from outreach.demo import write_demo_inbox

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmpdir = Path(tmp)
        inbox = tmpdir / "inbox"
        write_demo_inbox(inbox)
        all_files = source_files(inbox)

        # (c) and (d) read the same set: the files both can read (check once, untimed)
        files, unreadable = [], []
        for p in all_files:
            try:
                floor_read(p)
                naive_frames(p)
                files.append(p)
            except Exception as exc:  # a demo file may be deliberately broken
                unreadable.append(f"{p.relative_to(inbox).as_posix()} ({type(exc).__name__})")
        n_xlsx_bytes = sum(
            1
            for p in files
            if p.suffix.lower() in EXCEL_SUFFIXES and not p.read_bytes().startswith(OLE2_MAGIC)
        )
        n_xls_bytes = sum(1 for p in files if p.read_bytes().startswith(OLE2_MAGIC))
        n_csv = sum(1 for p in files if p.suffix.lower() == ".csv")

        ingest, floor, naive = [], [], []
        for i in range(RUNS):
            ingest.append(measure_ingest(inbox, tmpdir / f"build-{i}.duckdb"))
            floor.append(measure_floor(files))
            naive.append(measure_naive(files, tmpdir / f"naive-{i}.duckdb"))
            print(
                f"run {i + 1}/{RUNS}: ingest {ingest[-1]['full_s']:.2f} s, "
                f"rerun {ingest[-1]['rerun_s']:.2f} s, floor {floor[-1][0]:.2f} s, "
                f"naive {naive[-1]['total_s']:.2f} s",
                flush=True,
            )
        n_inbox = sum(1 for p in inbox.rglob("*") if p.is_file())
        shutil.rmtree(inbox, ignore_errors=True)

    full_s = [r["full_s"] for r in ingest]
    rerun_s = [r["rerun_s"] for r in ingest]
    floor_s = [f[0] for f in floor]
    naive_s = [n["total_s"] for n in naive]
    rows = ingest[0]["rows_loaded"]
    rows_per_s = [r["rows_loaded"] / r["full_s"] for r in ingest]
    ratio_floor = [a / b for a, b in zip(full_s, floor_s, strict=True)]
    ratio_naive = [b / a for a, b in zip(full_s, naive_s, strict=True)]
    rerun_pct = [100 * b / a for a, b in zip(full_s, rerun_s, strict=True)]
    extrapolated = any(n["extrapolated"] for n in naive)
    naive_label = "(d) naive pandas+openpyxl -> DuckDB executemany" + (
        " (extrapolated)" if extrapolated else ""
    )

    def ratio_row(label: str, xs: list[float], unit: str = "", digits: int = 2) -> str:
        med, lo, hi = stats(xs)
        return (
            f"| {label} | {med:.{digits}f}{unit} | {lo:.{digits}f}{unit} | {hi:.{digits}f}{unit} |"
        )

    table = [
        f"| measure ({RUNS} runs) | median | min | max |",
        "|---|---:|---:|---:|",
        fmt_row("(a) ingest, full run_ingest into a fresh DuckDB (s)", full_s),
        fmt_row("(b) rerun, no new files (s)", rerun_s),
        fmt_row("(c) parse floor: fastexcel + csv module (s)", floor_s),
        fmt_row(naive_label + " (s)", naive_s),
        ratio_row("ingest rows/s (rows loaded / (a))", rows_per_s, digits=0),
        ratio_row("ingest / parse floor, (a)/(c)", ratio_floor, "x"),
        ratio_row("naive / ingest, (d)/(a)", ratio_naive, "x"),
        ratio_row("rerun as % of full run, (b)/(a)", rerun_pct, " %", digits=1),
        ratio_row(
            "ingest peak RSS, parent process (MiB)",
            [r["rss_parent_kib"] / 1024 for r in ingest],
            digits=0,
        ),
        ratio_row(
            "ingest peak RSS, largest worker (MiB)",
            [r["rss_worker_kib"] / 1024 for r in ingest],
            digits=0,
        ),
    ]
    n0 = naive[0]
    notes = [
        f"- Demo inbox: {n_inbox} files written by `outreach.demo.write_demo_inbox`; ingest loaded "
        f"{rows} rows ({ingest[0]['rows_quarantined']} quarantined), files {ingest[0]['files']}.",
        f"- Rerun: files {ingest[0]['rerun_files']}, rows loaded {ingest[0]['rerun_rows_loaded']}.",
        f"- (c) and (d) read the same {len(files)} files: {n_xlsx_bytes} with xlsx bytes, "
        f"{n_xls_bytes} with xls (OLE2) bytes, {n_csv} CSV"
        + (
            f"; left out of both (unreadable by one of them): {', '.join(unreadable)}"
            if unreadable
            else ""
        )
        + f". They read {floor[0][1]} rows (c) / {n0['rows_total']} rows (d), header and blank rows "
        "included, versus the rows ingest loads.",
        "- (c) is one process, no validation and no writes: fastexcel `read_excel(bytes)`, then "
        "`load_sheet(name, header_row=None).to_arrow()` for every sheet; CSV decoded UTF-8 (BOM) "
        "then GB18030 and split with the standard `csv` module (not pyarrow.csv, which rejects "
        "ragged rows). Ingest (a) uses 2 worker processes on this machine.",
        "- (d) reads xlsx with pandas + openpyxl and xls with pandas + calamine (xlrd is not "
        "installed), CSV with `pandas.read_csv(dtype=str)` after the same decoding, then one table "
        "of VARCHAR columns per sheet filled by per-row `executemany`"
        + (
            f". Capped at {NAIVE_ROW_CAP} rows per sheet: {n0['rows_inserted']} of "
            f"{n0['rows_total']} rows inserted, insert time EXTRAPOLATED linearly to all rows."
            if extrapolated
            else f" (no sheet exceeded the {NAIVE_ROW_CAP}-row cap: nothing extrapolated)."
        ),
        f"- Naive split (run 1): read {n0['read_s']:.2f} s, insert {n0['insert_s_measured']:.2f} s.",
        "- Peak RSS: ru_maxrss of a fresh process running (a) then (b) (parent), and "
        "RUSAGE_CHILDREN of that process, i.e. the largest single worker, not the sum of both.",
    ]
    print()
    print("\n".join(table))
    print()
    print("\n".join(notes))

    results = [
        "# Benchmark results: ingest (bench/ingest_speed.py)",
        "",
        f"Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}; "
        f"whole benchmark took {time.perf_counter() - started:.0f} s.",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        "## Results",
        "",
        *table,
        "",
        *notes,
        "",
        "## Reproduce",
        "",
        "```sh",
        ".venv/bin/python bench/ingest_speed.py   # or: make bench (runs every bench/*.py)",
        "```",
        "",
        "## What this measures / does not yet measure",
        "",
        "Measures: wall time of `ingest.pipeline.run_ingest` on the demo inbox (~15k data rows, "
        f"{n_inbox} files) into a fresh DuckDB file, a rerun with no new files, and, in the same "
        "run, a parse floor (fastexcel / csv module) and a naive pandas + openpyxl loader over "
        "the same files, so the ratios compare like with like on this machine. Medians of "
        f"{RUNS} runs with min and max; peak RSS of the ingest processes.",
        "",
        "Does not yet measure (issue 7 remains open):",
        "",
        "- scale: the inbox ×10 and ×100 (only the demo inbox's size is measured);",
        "- peak RSS at scale, and the combined RSS of both workers at once;",
        "- `dbt build` time;",
        "- check + publish time;",
        "- profiles (where ingest spends its time: parse, validation, hashing, DuckDB writes).",
        "",
        "Caveats: a 3-run median on a shared machine is noisy; the floor is single-process while "
        "ingest uses 2 workers; the naive loader skips every check ingest performs, so (d)/(a) "
        "compares speed, not equivalent work. Timings are never asserted in tests.",
        "",
    ]
    (HERE / "RESULTS.md").write_text("\n".join(results), encoding="utf-8")
    print(f"\nwrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child-ingest":
        child_ingest(Path(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "--profile":
        profile_ingest(int(sys.argv[2]) if len(sys.argv) > 2 else 15)
    else:
        main()
