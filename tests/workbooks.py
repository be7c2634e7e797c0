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
    path.write_bytes(xls_bytes(sheets))
    return path


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    import csv
    import io

    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf).writerows([["" if v is None else v for v in row] for row in rows])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def text_table_bytes(
    rows: list[list],
    encoding: str = "utf-8",
    line_end: str = "\n",
    delimiter: str = ",",
    bom: bool = False,
) -> bytes:
    """A CSV or TSV as a partner's program saves it: any encoding Python knows, with or without
    its byte-order mark, LF, CRLF or a lone CR, comma or tab. A cell holding a separator, a
    quote or a line break is quoted, as Excel quotes it."""

    def field(value) -> str:
        text = _text(value)
        if any(ch in text for ch in (delimiter, '"', "\r", "\n")):
            return '"' + text.replace('"', '""') + '"'
        return text

    text = "".join(delimiter.join(map(field, row)) + line_end for row in rows)
    data = text.encode(encoding)
    if bom:
        marks = {
            "utf-8": b"\xef\xbb\xbf",
            "utf-16-le": b"\xff\xfe",
            "utf-16-be": b"\xfe\xff",
            "utf-32-le": b"\xff\xfe\x00\x00",
            "utf-32-be": b"\x00\x00\xfe\xff",
        }
        data = marks[encoding] + data
    return data


def ods_bytes(sheets: dict[str, list[list]], extra_rows_xml: str = "") -> bytes:
    """An OpenDocument spreadsheet as LibreOffice writes one: mimetype first and stored, strings
    and numbers typed, dates as office:date-value, trailing empty rows repeated to the edge."""
    import io
    import zipfile
    from xml.sax.saxutils import escape

    def cell(value) -> str:
        if value is None:
            return "<table:table-cell/>"
        if isinstance(value, bool):
            return (
                f'<table:table-cell office:value-type="boolean" office:boolean-value="{str(value).lower()}">'
                f"<text:p>{value}</text:p></table:table-cell>"
            )
        if isinstance(value, int | float):
            return (
                f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>"
            )
        if isinstance(value, dt.date):
            return (
                f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}">'
                f"<text:p>{value.isoformat()}</text:p></table:table-cell>"
            )
        return (
            f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p>'
            "</table:table-cell>"
        )

    tables = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join(
            "<table:table-row>" + "".join(map(cell, row)) + "</table:table-row>" for row in rows
        )
        + extra_rows_xml
        + '<table:table-row table:number-rows-repeated="1048000">'
        '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
        "</table:table>"
        for name, rows in sheets.items()
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            zipfile.ZipInfo("mimetype"),
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        zf.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def html_table_bytes(
    rows: list[list],
    charset: str = "utf-8",
    title: str | None = None,
    merges: list[tuple[int, int, int, int]] | None = None,
) -> bytes:
    """What a government web system's "导出Excel" saves as .xls: an HTML page with a table in
    the style Excel writes (mso number formats, ``<br>``, ``&nbsp;``), merged cells as
    ``rowspan``/``colspan`` (``merges``: (r0, c0, r1, c1), the value in the top-left cell)."""
    from xml.sax.saxutils import escape

    spans = {(r0, c0): (r1 - r0 + 1, c1 - c0 + 1) for r0, c0, r1, c1 in merges or []}
    covered = {
        (r, c)
        for r0, c0, r1, c1 in merges or []
        for r in range(r0, r1 + 1)
        for c in range(c0, c1 + 1)
        if (r, c) != (r0, c0)
    }
    body = []
    for r, row in enumerate(rows):
        cells = []
        for c, value in enumerate(row):
            if (r, c) in covered:
                continue
            down, across = spans.get((r, c), (1, 1))
            attrs = (f' rowspan="{down}"' if down > 1 else "") + (
                f' colspan="{across}"' if across > 1 else ""
            )
            text = escape(_text(value)).replace(" ", "&nbsp;") if value is not None else "&nbsp;"
            cells.append(f"<td style=\"mso-number-format:'\\@'\"{attrs}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    page = (
        '<html xmlns:x="urn:schemas-microsoft-com:office:excel">'
        f'<head><meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        "<style>td { border: 1px solid }</style><script>var x = '<td>not data</td>';</script></head>"
        "<body>"
        + (f"<p>{escape(title)}</p>" if title else "")
        + '<table border="1">'
        + "\n".join(body)
        + "</table></body></html>"
    )
    return page.encode("gb18030" if charset.lower() in ("gbk", "gb2312", "gb18030") else charset)


def spreadsheetml_bytes(sheets: dict[str, list[list]]) -> bytes:
    """Excel 2003's "XML 表格": typed cells, an ``ss:Index`` gap where cells are empty."""
    from xml.sax.saxutils import escape

    def cell(value, index: int | None) -> str:
        at = f' ss:Index="{index}"' if index else ""
        if isinstance(value, bool):
            return f'<Cell{at}><Data ss:Type="Boolean">{int(value)}</Data></Cell>'
        if isinstance(value, int | float):
            return f'<Cell{at}><Data ss:Type="Number">{value}</Data></Cell>'
        if isinstance(value, dt.date):
            return (
                f'<Cell{at}><Data ss:Type="DateTime">{value.isoformat()}T00:00:00.000</Data></Cell>'
            )
        return f'<Cell{at}><Data ss:Type="String">{escape(str(value))}</Data></Cell>'

    worksheets = []
    for name, rows in sheets.items():
        xml_rows = []
        for row in rows:
            cells, gap = [], False
            for c, value in enumerate(row):
                if value is None:
                    gap = True
                    continue
                cells.append(cell(value, c + 1 if gap else None))
                gap = False
            xml_rows.append("<Row>" + "".join(cells) + "</Row>")
        worksheets.append(
            f'<Worksheet ss:Name="{escape(name)}"><Table>'
            + "".join(xml_rows)
            + "</Table></Worksheet>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<?mso-application progid="Excel.Sheet"?>\n'
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:o="urn:schemas-microsoft-com:office:office" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">'
        + "".join(worksheets)
        + "</Workbook>"
    ).encode("utf-8")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | 0x80 if n else low)
        if not n:
            return bytes(out)


def _record(kind: int, data: bytes = b"") -> bytes:
    return _varint(kind) + _varint(len(data)) + data


def _wide(text: str) -> bytes:
    import struct

    data = text.encode("utf-16-le")
    return struct.pack("<I", len(data) // 2) + data


def xlsb_bytes(sheets: dict[str, list[list]]) -> bytes:
    """An Excel binary workbook (.xlsb), written record by record as MS-XLSB describes: strings
    inline (BrtCellSt), numbers as BrtCellReal, dates as their ISO text. No Python library
    writes xlsb; python-calamine reads it."""
    import io
    import struct
    import zipfile

    def sheet(rows: list[list]) -> bytes:
        width = max((len(r) for r in rows), default=1)
        out = _record(0x81) + _record(0x94, struct.pack("<IIII", 0, len(rows) - 1, 0, width - 1))
        out += _record(0x91)
        for r, row in enumerate(rows):
            out += _record(0x00, struct.pack("<IIHBBBI", r, 0, 300, 0, 0, 0, 0))
            for c, value in enumerate(row):
                cell = struct.pack("<II", c, 0)
                if value is None:
                    continue
                if isinstance(value, int | float) and not isinstance(value, bool):
                    out += _record(0x05, cell + struct.pack("<d", float(value)))
                else:
                    out += _record(0x06, cell + _wide(_text(value)))
        return out + _record(0x92) + _record(0x82)

    book = _record(0x83) + _record(0x8F)
    for i, name in enumerate(sheets, start=1):
        book += _record(0x9C, struct.pack("<II", 0, i) + _wide(f"rId{i}") + _wide(name))
    book += _record(0x90) + _record(0x84)
    main = "application/vnd.ms-excel.sheet.binary.macroEnabled.main"
    types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Override PartName="/xl/workbook.bin" ContentType="{main}"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.bin" '
            'ContentType="application/vnd.ms-excel.worksheet"/>'
            for i in range(1, len(sheets) + 1)
        )
        + "</Types>"
    )
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package_rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.bin"/>'
        "</Relationships>"
    )
    book_rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="{rel}/worksheet" Target="worksheets/sheet{i}.bin"/>'
            for i in range(1, len(sheets) + 1)
        )
        + "</Relationships>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", types)
        zf.writestr("_rels/.rels", package_rels)
        zf.writestr("xl/workbook.bin", book)
        zf.writestr("xl/_rels/workbook.bin.rels", book_rels)
        for i, rows in enumerate(sheets.values(), start=1):
            zf.writestr(f"xl/worksheets/sheet{i}.bin", sheet(rows))
    return buf.getvalue()


def xls_bytes(sheets: dict[str, list[list]]) -> bytes:
    """``write_xls``'s bytes (xlwt's output is the same every time for the same sheets)."""
    import io

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
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
