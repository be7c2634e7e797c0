"""Small workbooks written by the tests themselves: xlsx (xlsxwriter), xls (xlwt), csv."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import xlsxwriter
import xlwt


def write_xlsx(
    path: Path, sheets: dict[str, list[list]], merges: dict[str, list[tuple]] | None = None
) -> Path:
    """``sheets``: name -> rows (None = empty cell). ``merges``: name -> [(r0, c0, r1, c1)]."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        merged = (merges or {}).get(name, [])
        covered = {
            (r, c)
            for r0, c0, r1, c1 in merged
            for r in range(r0, r1 + 1)
            for c in range(c0, c1 + 1)
        }
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None or (r, c) in covered:
                    continue
                if isinstance(value, dt.date):
                    ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
                else:
                    ws.write(r, c, value)
        for r0, c0, r1, c1 in merged:
            ws.merge_range(r0, c0, r1, c1, rows[r0][c0])
    wb.close()
    return path


def write_xls(path: Path, sheets: dict[str, list[list]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for name, rows in sheets.items():
        ws = wb.add_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, dt.date):
                    ws.write(r, c, value, date_style)
                else:
                    ws.write(r, c, value)
    wb.save(str(path))
    return path


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    import csv
    import io

    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf).writerows([["" if v is None else v for v in row] for row in rows])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path
