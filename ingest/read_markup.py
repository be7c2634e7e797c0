"""Workbooks written as markup and saved with an ``.xls`` name.

Government web systems "导出Excel" as an HTML page holding a ``<table>``; older systems as
SpreadsheetML 2003 (Excel's "XML 表格"). Excel opens both, so clerks send them as they are.

- HTML goes through the standard library's ``html.parser``: it expands no entities beyond the
  named character references and fetches nothing. Every ``<table>`` is a sheet (named by its
  ``<caption>``, else the file's name); ``colspan``/``rowspan`` count as merged cells (the value
  stands in every cell they cover, as for a merged cell of a workbook); ``<script>`` and
  ``<style>`` are not data.
- SpreadsheetML goes through defusedxml with any DTD forbidden (no entities, nothing external):
  ``Worksheet`` / ``Row`` / ``Cell`` / ``Data``, with ``ss:Index`` gaps and ``ss:MergeAcross`` /
  ``ss:MergeDown`` merges, typed by ``ss:Type``.

Both count the cells a sheet reaches against the same limit as the guard's for xlsx, before the
rows are built (a ``rowspan`` of 65534 or an ``ss:Index`` of a million is a cell bomb).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from ingest.guard import cell_bomb
from ingest.read_text import decode_text, text_encoding
from ingest.sheets import Cell, ReadError, Sheet

# The parser's own names for GB2312 and GBK text; GB18030 decodes both.
_GB_CHARSETS = {"gb2312", "gbk", "x-gbk", "gb_2312-80", "cp936", "euc-cn", "gb18030"}
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
# HTML caps spans so (the table model's limits); a larger number is the cap.
_MAX_COLSPAN, _MAX_ROWSPAN = 1000, 65534


class _Grid:
    """A sheet's non-empty cells by position, then rows. Each cell counts against the cell
    limit by the extent it reaches (rows x columns), like the guard's count for xlsx."""

    def __init__(self, name: str, max_cells: int):
        self.name, self.max_cells = name, max_cells
        self.cells: dict[tuple[int, int], Cell] = {}
        self.height = self.width = 0
        self.filled = 0  # cells written, overlapping merges counted again: bounds the work

    def put(self, row: int, col: int, value: Cell, down: int = 0, across: int = 0) -> None:
        if value is None:
            return
        height, width = max(self.height, row + down + 1), max(self.width, col + across + 1)
        self.filled += (down + 1) * (across + 1)
        if height * width > self.max_cells or self.filled > self.max_cells:
            finding = cell_bomb(self.name, height, width)
            raise ReadError(finding.rule_id, finding.message)
        self.height, self.width = height, width
        for r in range(row, row + down + 1):
            for c in range(col, col + across + 1):
                self.cells.setdefault((r, c), value)

    def rows(self) -> list[list[Cell]]:
        rows: list[list[Cell]] = [[None] * self.width for _ in range(self.height)]
        for (r, c), value in self.cells.items():
            rows[r][c] = value
        return rows


# --------------------------------------------------------------------------------- HTML


# a count as a markup attribute writes it: ASCII digits, a handful (str.isdigit() also takes
# '²', which int() refuses, and a number of thousands of digits)
_COUNT = re.compile(r"[0-9]{1,9}")


def _span(attrs: dict[str, str | None], name: str, cap: int) -> int:
    text = (attrs.get(name) or "").strip()
    number = int(text) if _COUNT.fullmatch(text) else 1
    return min(max(number, 1), cap)


def _cell_text(parts: list[str]) -> str | None:
    lines = ["".join(parts).replace("\xa0", " ")]
    lines = [" ".join(line.split()) for line in lines[0].split("\n")]
    text = "\n".join(line for line in lines if line)
    return text or None


@dataclass
class _Table:
    order: int
    caption: list[str] = field(default_factory=list)
    # (row, col, rows down, cols across, value) of every cell, in reading order
    cells: list[tuple[int, int, int, int, Cell]] = field(default_factory=list)
    row: int = -1
    col: int = 0
    in_row: bool = False
    text: list[str] | None = None  # the open cell's text
    span: tuple[int, int] = (0, 0)
    in_caption: bool = False
    # rowspans still covering rows below: (last row, first col, last col)
    covering: list[tuple[int, int, int]] = field(default_factory=list)

    def start_row(self) -> None:
        self.end_cell()
        self.row += 1
        self.col = 0
        self.in_row = True
        self.covering = [c for c in self.covering if c[0] >= self.row]

    def start_cell(self, attrs: dict[str, str | None]) -> None:
        self.end_cell()
        if not self.in_row:
            self.start_row()
        while any(first <= self.col <= last for _, first, last in self.covering):
            self.col += 1
        self.span = (_span(attrs, "rowspan", _MAX_ROWSPAN), _span(attrs, "colspan", _MAX_COLSPAN))
        self.text = []

    def end_cell(self) -> None:
        if self.text is None:
            return
        down, across = self.span[0] - 1, self.span[1] - 1
        self.cells.append((self.row, self.col, down, across, _cell_text(self.text)))
        if down:
            self.covering.append((self.row + down, self.col, self.col + across))
        self.col += across + 1
        self.text = None

    def add_text(self, data: str) -> None:
        if self.in_caption:
            self.caption.append(data)
        elif self.text is not None:
            self.text.append(data)

    def grid(self, name: str, max_cells: int) -> _Grid:
        self.end_cell()
        grid = _Grid(name, max_cells)
        last_row = self.row
        for row, col, down, across, value in self.cells:
            grid.put(row, col, value, min(down, last_row - row), across)  # spans end with the table
        return grid


class _HtmlTables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[_Table] = []
        self.done: list[_Table] = []
        self.skipping = 0  # inside <script> or <style>
        self.count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skipping += 1
        elif tag == "table":
            self.open.append(_Table(order=self.count))
            self.count += 1
        elif self.open:
            table = self.open[-1]
            if tag == "tr":
                table.start_row()
            elif tag in ("td", "th"):
                table.start_cell(dict(attrs))
            elif tag == "caption":
                table.in_caption = True
            elif tag in ("br", "p", "div", "li"):
                table.add_text("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "p", "div", "li"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skipping = max(0, self.skipping - 1)
        elif self.open:
            table = self.open[-1]
            if tag == "table":
                table.end_cell()
                self.done.append(self.open.pop())
            elif tag in ("td", "th"):
                table.end_cell()
            elif tag == "tr":
                table.end_cell()
                table.in_row = False
            elif tag == "caption":
                table.in_caption = False

    def handle_data(self, data: str) -> None:
        if self.open and not self.skipping:
            self.open[-1].add_text(data)


def _html_text(data: bytes) -> str:
    """The page as text: its byte-order mark, else its ``<meta charset>``, else UTF-8 or
    GB18030."""
    found = text_encoding(data[:4096])
    if found is not None and found[0] != "utf-8":  # a UTF-16/32 page says so by its bytes
        return decode_text(data)
    if match := _META_CHARSET.search(data[:4096]):
        declared = match.group(1).decode("ascii").lower()
        encoding = "gb18030" if declared in _GB_CHARSETS else declared
        try:
            return data.decode(encoding).lstrip("\ufeff")
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong or unknown declaration: the bytes decide
    return decode_text(data)


def read_html_tables(data: bytes, stem: str, max_cells: int) -> list[Sheet]:
    """Every table of an HTML page as a sheet; :class:`ReadError` when the page has none."""
    parser = _HtmlTables()
    parser.feed(_html_text(data))
    parser.close()
    tables = sorted(parser.done + parser.open, key=lambda t: t.order)
    sheets = []
    for i, table in enumerate(tables, start=1):
        caption = _cell_text(table.caption)
        name = caption or (stem if len(tables) == 1 else f"{stem}_{i}")
        grid = table.grid(name, max_cells)
        if grid.cells:
            sheets.append(Sheet(name=name, rows=grid.rows()))
    if not sheets:
        raise ReadError(
            "not_spreadsheet", "文件是网页（HTML），其中没有表格；请在 Excel 中另存为 .xlsx"
        )
    return sheets


# ------------------------------------------------------------------------ SpreadsheetML 2003

_SS = "{urn:schemas-microsoft-com:office:spreadsheet}"
_INTEGER = re.compile(r"-?\d{1,15}")


def _position(value: str | None, previous: int) -> int:
    """``ss:Index`` (1-based) as a 0-based position, else the one after ``previous``."""
    if value is None:
        return previous + 1
    if not _COUNT.fullmatch(value.strip()) or int(value) < 1:
        raise ReadError("corrupt", f"文件已损坏：行列位置“{value[:20]}”不是正整数")
    return int(value) - 1


def _merge(value: str | None) -> int:
    if value is None:
        return 0
    if not _COUNT.fullmatch(value.strip()):
        raise ReadError("corrupt", f"文件已损坏：合并单元格范围“{value[:20]}”不是整数")
    return int(value)


def _typed(data) -> Cell:
    if data is None:
        return None
    text = "".join(data.itertext())
    kind = data.get(f"{_SS}Type")
    if kind == "Number":
        text = text.strip()
        if _INTEGER.fullmatch(text):
            return int(text)
        try:
            return float(text)
        except ValueError:
            return text or None
    if kind == "DateTime":
        try:
            moment = dt.datetime.fromisoformat(text.strip()[:19])
        except ValueError:
            return text.strip() or None
        return moment.date() if moment.time() == dt.time() else moment
    if kind == "Boolean":
        return text.strip() == "1"
    return text if text.strip() else None


def read_spreadsheetml(data: bytes, max_cells: int) -> list[Sheet]:
    """The worksheets of a SpreadsheetML 2003 workbook."""
    sheets = []
    grid: _Grid | None = None
    row = col = -1
    try:
        for event, elem in iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True):
            tag = elem.tag
            if event == "start":
                if tag == f"{_SS}Worksheet":
                    name = elem.get(f"{_SS}Name") or f"Sheet{len(sheets) + 1}"
                    grid, row = _Grid(name, max_cells), -1
                elif tag == f"{_SS}Row":
                    row, col = _position(elem.get(f"{_SS}Index"), row), -1
                elif tag == f"{_SS}Cell":
                    col = _position(elem.get(f"{_SS}Index"), col)
                continue
            if tag == f"{_SS}Cell" and grid is not None:
                across = _merge(elem.get(f"{_SS}MergeAcross"))
                down = _merge(elem.get(f"{_SS}MergeDown"))
                grid.put(max(row, 0), col, _typed(elem.find(f"{_SS}Data")), down, across)
                col += across
                elem.clear()
            elif tag == f"{_SS}Row":
                elem.clear()
            elif tag == f"{_SS}Worksheet" and grid is not None:
                sheets.append(Sheet(name=grid.name, rows=grid.rows()))
                grid = None
                elem.clear()
    except DefusedXmlException as exc:
        raise ReadError(
            "xml_entities",
            "文件声明了 XML 实体或文档类型（DOCTYPE/ENTITY），可能是实体炸弹；请用 Excel 打开后另存为 .xlsx",
        ) from exc
    except ParseError as exc:
        raise ReadError("corrupt", f"文件已损坏（XML 表格无法解析）：{exc}") from exc
    if not sheets:
        raise ReadError("not_spreadsheet", "XML 文件中没有工作表；请在 Excel 中另存为 .xlsx")
    return sheets
