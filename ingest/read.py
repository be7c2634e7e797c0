"""Read a file into sheets of plain cell values.

xlsx and xls go through python-calamine (Rust); csv through the standard library, in UTF-8 or
GB18030. Merged cells are expanded here, so that a vertically merged cell counts for every row it
spans and a merged header label stands over every column it covers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import python_calamine

Cell = object  # None | str | int | float | bool | datetime.date | datetime.datetime


@dataclass(frozen=True)
class Sheet:
    name: str
    rows: list[list[Cell]]


class ReadError(Exception):
    """The file cannot be read as a spreadsheet. ``rule_id`` and a Chinese message say why."""

    def __init__(self, rule_id: str, message: str):
        super().__init__(message)
        self.rule_id = rule_id
        self.message = message


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


def read_excel(path: Path) -> list[Sheet]:
    try:
        with path.open("rb") as fh:
            workbook = python_calamine.CalamineWorkbook.from_filelike(fh)
    except python_calamine.PasswordError as exc:
        raise ReadError("encrypted", "文件有密码保护，无法读取；请去掉密码后重新报送") from exc
    except Exception as exc:  # calamine raises several error types for broken files
        raise ReadError("corrupt", f"文件已损坏或不是 Excel 文件：{exc}") from exc
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


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) first; GB18030 covers GBK and GB2312."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ReadError("bad_encoding", "CSV 文件编码无法识别；请另存为 UTF-8 或 GB18030 编码")


def read_csv(path: Path) -> list[Sheet]:
    text = decode_text(path.read_bytes())
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows = [
        [None if v.strip() == "" else v for v in row]
        for row in csv.reader(io.StringIO(text), dialect)
    ]
    return [Sheet(name=path.stem, rows=rows)]


def read_sheets(path: Path, kind: str) -> list[Sheet]:
    if kind in ("xlsx", "xls"):
        return read_excel(path)
    if kind == "csv":
        return read_csv(path)
    if kind == "empty":
        raise ReadError("empty_file", "文件为空（0 字节）")
    if kind == "text":
        raise ReadError(
            "not_spreadsheet",
            "文件是纯文本，不是表格（扩展名与内容不符）；请在 Excel 中另存为 .xlsx",
        )
    if kind == "html":
        raise ReadError(
            "not_spreadsheet", "文件是网页（HTML），不是表格；请在 Excel 中另存为 .xlsx"
        )
    raise ReadError("not_spreadsheet", "文件不是可识别的表格（xlsx、xls 或 csv）")
