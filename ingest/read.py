"""Read a file into sheets of plain cell values, by the kind its bytes showed (``discover.sniff``).

- xlsx, xlsm, xlsb, xls, WPS .et and OpenDocument .ods go through python-calamine (Rust);
- CSV and TSV through ``read_text`` (encoding, line ends and separator detected);
- an HTML table or SpreadsheetML 2003 saved with an ``.xls`` name through ``read_markup``.

Merged cells are expanded here, so that a vertically merged cell counts for every row it spans
and a merged header label stands over every column it covers. A file that cannot be read raises
:class:`ReadError` with the rule id of its quarantine and a reason in Chinese.
"""

from __future__ import annotations

import io
from pathlib import Path

import python_calamine

from ingest.guard import DEFAULT_LIMITS, Limits
from ingest.read_markup import read_html_tables, read_spreadsheetml
from ingest.read_text import decode_text, read_text_table
from ingest.sheets import Cell, ReadError, Sheet

__all__ = ["Cell", "ReadError", "Sheet", "decode_text", "read_sheets"]

WPS_EXTENSIONS = (".et", ".ett")


def _data(source: Path | bytes) -> bytes:
    return source if isinstance(source, bytes) else source.read_bytes()


def _expand_merged(rows: list[list[Cell]], merged) -> None:
    for (r0, c0), (r1, c1) in merged or ():
        if r0 >= len(rows):
            continue
        top_row = rows[r0]
        value = top_row[c0] if c0 < len(top_row) else None
        if value is None:
            continue
        for r in range(r0, r1 + 1):
            while r >= len(rows):
                rows.append([])
            row = rows[r]
            if len(row) <= c1:
                row.extend([None] * (c1 + 1 - len(row)))
            for c in range(c0, c1 + 1):
                if row[c] is None:
                    row[c] = value


def _normalise_cells(raw_rows) -> list[list[Cell]]:
    return [[None if v == "" else v for v in row] for row in raw_rows]


def _unreadable(name: str, detail: object) -> ReadError:
    if Path(name).suffix.lower() in WPS_EXTENSIONS:
        return ReadError(
            "unsupported_format",
            "WPS 表格文件（.et）无法读取；请在 WPS 中“另存为” Excel 工作簿（.xlsx）后重新报送",
        )
    return ReadError("corrupt", f"文件已损坏或不是 Excel 文件：{detail}")


def read_excel(data: bytes, name: str) -> list[Sheet]:
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError as exc:
        raise ReadError("encrypted", "文件有密码保护，无法读取；请去掉密码后重新报送") from exc
    except Exception as exc:  # calamine raises several error types for broken files
        raise _unreadable(name, exc) from exc
    sheets: list[Sheet] = []
    for name in workbook.sheet_names:
        try:
            sheet = workbook.get_sheet_by_name(name)
            rows = _normalise_cells(sheet.to_python(skip_empty_area=False))
            _expand_merged(rows, sheet.merged_cell_ranges)
        except Exception as exc:
            raise ReadError("corrupt", f"工作表“{name}”无法读取：{exc}") from exc
        sheets.append(Sheet(name=name, rows=rows))
    return sheets


def read_sheets(
    source: Path | bytes, kind: str, limits: Limits = DEFAULT_LIMITS, name: str | None = None
) -> list[Sheet]:
    """The sheets of a file: its bytes and ``name`` (the loader reads every file once, safely;
    see ``discover.read_file``), or a path (tools and tests)."""
    if isinstance(source, Path):
        name = name or source.name
    name = name or ""
    stem = Path(name).stem
    if kind in ("xlsx", "xls", "ods"):
        return read_excel(_data(source), name)
    if kind == "csv":
        return [Sheet(name=stem, rows=read_text_table(_data(source), limits.max_cells))]
    if kind == "html":
        return read_html_tables(_data(source), stem, limits.max_cells)
    if kind == "spreadsheetml":
        return read_spreadsheetml(_data(source), limits.max_cells)
    if kind == "empty":
        raise ReadError("empty_file", "文件为空（0 字节）")
    if kind == "text":
        raise ReadError(
            "not_spreadsheet",
            "文件是纯文本，不是表格（扩展名与内容不符）；请在 Excel 中另存为 .xlsx",
        )
    raise ReadError(
        "not_spreadsheet",
        "文件不是可识别的表格（xlsx、xls、ods、csv 或网页导出的表格）；请在 Excel 中另存为 .xlsx",
    )
