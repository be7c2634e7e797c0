"""A hostile corpus, built by the tests themselves: every kind of file the contract says must be
quarantined whole, plus files that must load despite looking odd.

``write_hostile_corpus(inbox)`` returns {relative path: expected outcome}, where the outcome is
a quarantine rule id, or "loaded".
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from tests.workbooks import write_xlsx

VISITS_HEADER = ["走访日期", "干部编号", "户编号", "走访方式"]
VISIT_ROW = ["2013-04-02", "C001", "H001", "入户"]

_SHEET_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{dimension}'
    "<sheetData>{rows}</sheetData>{after}</worksheet>"
)


def _xlsx_bytes(
    rows_xml: str,
    dimension: str = "",
    extra: dict[str, bytes] | None = None,
    prolog: str = "",
    after_data: str = "",
) -> bytes:
    """A minimal valid xlsx with inline strings, built by hand so the XML can be anything
    (``after_data``: what follows ``sheetData``, e.g. ``mergeCells``)."""
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="走访" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": prolog
        + _SHEET_XML.format(dimension=dimension, rows=rows_xml, after=after_data),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def _inline_row(r: int, values: list[str], first_col: str = "A") -> str:
    cells = "".join(
        f'<c r="{chr(ord(first_col) + i)}{r}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{r}">{cells}</row>'


def good_rows_xml() -> str:
    return _inline_row(1, VISITS_HEADER) + _inline_row(2, VISIT_ROW)


def write_hostile_corpus(inbox: Path) -> dict[str, str]:
    base = inbox / "townships" / "毛感乡" / "hostile"
    base.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}

    def put(name: str, data: bytes, outcome: str) -> None:
        (base / name).write_bytes(data)
        expected[f"townships/毛感乡/hostile/{name}"] = outcome

    good = _xlsx_bytes(good_rows_xml())
    put("zero.xlsx", b"", "empty_file")
    put("truncated.xlsx", good[: len(good) // 2], "corrupt")
    put("random.xlsx", bytes(range(256)) * 8, "not_spreadsheet")
    put(  # what a web system's "导出Excel" saves when the session has expired: no table
        "page.xls",
        "<html><head><meta charset='utf-8'></head><body><p>会话已过期，请重新登录</p></body></html>".encode(),
        "not_spreadsheet",
    )
    put("notes.xls", "走访日期,干部编号,户编号\n2013-04-02,C001,H001\n".encode(), "not_spreadsheet")
    put("not_excel.xlsx", _zip({"readme.txt": b"hello"}), "not_spreadsheet")

    # a zip bomb: one entry inflating far beyond its compressed size
    put(
        "bomb.xlsx",
        _xlsx_bytes(good_rows_xml(), extra={"xl/media/padding.bin": b"\0" * (64 * 1024 * 1024)}),
        "zip_bomb",
    )
    # an XML entity bomb (billion laughs) in the sheet
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
            for i in range(1, 10)
        )
        + "]>"
    )
    put(
        "entities.xlsx",
        _xlsx_bytes(good_rows_xml(), prolog=laughs).replace(
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet', b"<worksheet"
        ),
        "xml_entities",
    )
    # cell bombs: a sheet declaring 17 billion cells, and one cell at XFD1048576
    put(
        "declared.xlsx",
        _xlsx_bytes(good_rows_xml(), dimension='<dimension ref="A1:XFD1048576"/>'),
        "cell_bomb",
    )
    far = (
        good_rows_xml()
        + '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    )
    put("far_cell.xlsx", _xlsx_bytes(far), "cell_bomb")
    # encrypted with a password (a real one: ECMA-376 agile encryption)
    put("encrypted.xlsx", _encrypted(good), "encrypted")
    # an .xlsm with a macro project: its values are read, the macro never runs
    put(
        "macro.xlsm",
        _xlsx_bytes(
            good_rows_xml(),
            extra={
                "xl/vbaProject.bin": b'\xd0\xcf\x11\xe0 Attribute VB_Name = "Module1" Sub AutoOpen() Shell "calc" End Sub'
            },
        ),
        "loaded",
    )
    # an .xlsx saved with an .xls name: sniffed from its bytes, loads
    (base / "lying.xls").write_bytes(good)
    expected["townships/毛感乡/hostile/lying.xls"] = "loaded"
    # sheet names, headers and cells that look like SQL are data
    write_xlsx(
        base / "sql.xlsx",
        {
            "x'); DROP TABLE raw.visits; --": [
                [*VISITS_HEADER, "a); DROP TABLE marts.fct_visits; --"],
                [*VISIT_ROW, "'; DELETE FROM raw.file_versions; --"],
            ]
        },
    )
    expected["townships/毛感乡/hostile/sql.xlsx"] = "loaded"
    return expected


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _encrypted(plain: bytes) -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(plain)).encrypt("secret", out)
    return out.getvalue()
