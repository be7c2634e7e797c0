"""Layouts to bytes: .xlsx (xlsxwriter), .xls (xlwt), .csv (GB18030 or UTF-8 with BOM).

Every writer is byte-stable: xlsx core properties carry a fixed date and the zip is rewritten with
fixed entry timestamps in the same entry order; xlwt writes no timestamps; CSV is plain text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import struct

import xlsxwriter
import xlwt

from .render import DateCell, NumCell, SheetLayout

FIXED_CREATED = dt.datetime(2014, 6, 30, 18, 0, 0)
ZIP_TIME = (2014, 6, 30, 18, 0, 0)


def xlsx_bytes(sheets: list[SheetLayout]) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "in_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties({"created": FIXED_CREATED, "author": "", "company": ""})
    fmts: dict[tuple, object] = {}

    def fmt(kind: str, num: str | None = None):
        key = (kind, num)
        if key not in fmts:
            props: dict = {"font_name": "宋体", "font_size": 11}
            if kind == "title":
                props.update(bold=True, font_size=16, align="center", valign="vcenter")
            elif kind == "header":
                props.update(bold=True, border=1, align="center", valign="vcenter", text_wrap=True)
            elif kind in ("data", "bad", "subtotal", "total"):
                props.update(border=1, valign="vcenter")
            if num:
                props["num_format"] = num
            fmts[key] = wb.add_format(props)
        return fmts[key]

    for sh in sheets:
        ws = wb.add_worksheet(sh.name)
        for c, w in enumerate(sh.widths):
            ws.set_column(c, c, w)
        merged_cells = set()
        for r1, c1, r2, c2 in sh.merges:
            kind = sh.kinds[r1] if r1 < len(sh.kinds) else "data"
            ws.merge_range(r1, c1, r2, c2, "", fmt(kind))
            merged_cells.update((r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1))
        for r, row in enumerate(sh.rows):
            kind = sh.kinds[r] if r < len(sh.kinds) else "data"
            for c, v in enumerate(row):
                if v is None:
                    if (
                        kind in ("data", "bad", "header", "subtotal", "total")
                        and (r, c) not in merged_cells
                    ):
                        ws.write_blank(r, c, None, fmt(kind))
                    continue
                if isinstance(v, DateCell):
                    ws.write_datetime(
                        r, c, dt.datetime.combine(v.value, dt.time()), fmt(kind, v.fmt)
                    )
                elif isinstance(v, NumCell):
                    ws.write_number(r, c, v.value, fmt(kind, v.fmt))
                elif isinstance(v, bool):
                    raise TypeError("booleans are written as text or 1/0")
                elif isinstance(v, int | float):
                    ws.write_number(r, c, v, fmt(kind))
                else:
                    ws.write_string(r, c, v, fmt(kind))
    wb.close()
    return _normalise_zip(buf.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    """Stamp every entry with ZIP_TIME, made-by MS-DOS and no external attributes, in place.

    Only header fields change (entry order, compressed data and CRCs stay as written), so the
    bytes depend on nothing but the content."""
    buf = bytearray(data)
    y, mo, d, h, mi, s = ZIP_TIME
    dos_time = (h << 11) | (mi << 5) | (s // 2)
    dos_date = ((y - 1980) << 9) | (mo << 5) | d
    eocd = buf.rfind(b"PK\x05\x06")
    count = struct.unpack_from("<H", buf, eocd + 10)[0]
    pos = struct.unpack_from("<I", buf, eocd + 16)[0]
    for _ in range(count):
        assert buf[pos : pos + 4] == b"PK\x01\x02"
        buf[pos + 5] = 0  # made by: MS-DOS
        struct.pack_into("<HH", buf, pos + 12, dos_time, dos_date)
        struct.pack_into("<I", buf, pos + 38, 0)  # external attributes
        nlen, elen, clen = struct.unpack_from("<HHH", buf, pos + 28)
        local = struct.unpack_from("<I", buf, pos + 42)[0]
        assert buf[local : local + 4] == b"PK\x03\x04"
        struct.pack_into("<HH", buf, local + 10, dos_time, dos_date)
        pos += 46 + nlen + elen + clen
    return bytes(buf)


def xls_bytes(sheets: list[SheetLayout]) -> bytes:
    wb = xlwt.Workbook(encoding="utf-8")
    styles: dict[tuple, xlwt.XFStyle] = {}

    def style(kind: str, num: str | None = None) -> xlwt.XFStyle:
        key = (kind, num)
        if key not in styles:
            parts = ["font: name 宋体"]
            if kind == "title":
                parts = ["font: name 宋体, bold on, height 320", "align: horiz center, vert center"]
            elif kind == "header":
                parts = [
                    "font: name 宋体, bold on",
                    "align: horiz center, vert center, wrap on",
                    "borders: left thin, right thin, top thin, bottom thin",
                ]
            elif kind in ("data", "bad", "subtotal", "total"):
                parts.append("borders: left thin, right thin, top thin, bottom thin")
            styles[key] = xlwt.easyxf("; ".join(parts), num_format_str=num or "General")
        return styles[key]

    for sh in sheets:
        ws = wb.add_sheet(sh.name, cell_overwrite_ok=True)
        for c, w in enumerate(sh.widths):
            ws.col(c).width = int(w * 300)
        starts = {}
        covered = set()
        for r1, c1, r2, c2 in sh.merges:
            starts[(r1, c1)] = (r2, c2)
            covered.update((r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1))
        for r, row in enumerate(sh.rows):
            kind = sh.kinds[r] if r < len(sh.kinds) else "data"
            for c, v in enumerate(row):
                num = None
                if isinstance(v, DateCell):
                    num = {"yyyy-mm-dd": "YYYY-MM-DD", "yyyy/m/d": "YYYY/M/D"}.get(v.fmt, v.fmt)
                    v = v.value
                elif isinstance(v, NumCell):
                    num, v = v.fmt, v.value
                if (r, c) in starts:
                    r2, c2 = starts[(r, c)]
                    ws.write_merge(r, r2, c, c2, v, style(kind, num))
                elif (r, c) in covered:
                    continue
                elif v is None:
                    if kind in ("data", "bad", "header", "subtotal", "total"):
                        ws.write(r, c, None, style(kind))
                else:
                    ws.write(r, c, v, style(kind, num))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(sheet: SheetLayout, encoding: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for row in sheet.rows:
        out = []
        for v in row:
            if isinstance(v, DateCell | NumCell):
                raise TypeError("CSV cells are text")
            out.append("" if v is None else str(v))
        w.writerow(out)
    text = buf.getvalue()
    if encoding == "utf-8":
        return "\ufeff".encode() + text.encode("utf-8")
    return text.encode(encoding)
