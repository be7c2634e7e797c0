"""Inspect an untrusted file before any parser sees it.

A spreadsheet is a zip of XML (xlsx, xlsm; OpenDocument .ods) or an OLE2 compound file (xls,
WPS .et). Both can be built to hurt a parser: a zip that inflates to gigabytes, XML that declares
entities, a sheet that declares tens of millions of cells, puts one cell at XFD1048576 or merges
A3:K1000000 (python-calamine aborts the whole process on some of those, and merged cells are
filled in cell by cell), an encrypted package. These checks read only the zip directory and
stream the XML; they return a reason to quarantine the file, or None. A zip whose members fail
their checksum while they are streamed is a broken download, not an error of the loader.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 200 * 1024 * 1024
    max_uncompressed_bytes: int = 1024 * 1024 * 1024
    max_ratio: int = 200  # inflated / compressed, for entries over 1 MiB inflated
    max_cells: int = 5_000_000  # rows x columns a sheet may declare or reach


DEFAULT_LIMITS = Limits()

_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]+)?(\d+)?:?([A-Z]+)?(\d+)?"')
_CELL_REF = re.compile(rb'<(?:\w+:)?c\s[^>]*?r="([A-Z]{1,3})(\d{1,7})"')
# How Excel, LibreOffice, openpyxl and xlsxwriter all write a cell: its reference first. A block
# where every cell tag is written so needs only this simpler pattern (it has a literal prefix).
_CELL_REF_FIRST = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"')
_OTHER_CELL_TAGS = (b"<c\t", b"<c\n", b"<c\r", b":c ", b":c\t", b":c\n", b":c\r")
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="[A-Z]{1,3}\d{1,7}:([A-Z]{1,3})(\d{1,7})"')
_ENTITY = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_OLE2_ENCRYPTED = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))


@dataclass(frozen=True)
class Finding:
    rule_id: str
    message: str


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


class _Columns(dict):
    """Column letters -> number, computed once per spelling (a sheet repeats a few letters
    millions of times)."""

    def __missing__(self, letters: bytes) -> int:
        self[letters] = n = _col_number(letters)
        return n


_COLUMNS = _Columns()


def _furthest_cell(block: bytes) -> tuple[int, int]:
    """The largest row and the largest column of the cell references in a block of sheet XML,
    without a Python step per cell: the regex, ``zip``, ``int`` and the lookups run in C."""
    found = _CELL_REF_FIRST.findall(block)
    if len(found) != block.count(b"<c ") or any(tag in block for tag in _OTHER_CELL_TAGS):
        found = _CELL_REF.findall(block)  # a cell tag of another shape: the general pattern
    if b"mergeCell" in block:  # a merged range reaches its bottom-right corner
        found = found + [(col, row) for col, row in _MERGE.findall(block)]
    if not found:
        return 0, 0
    cols, rows = zip(*found, strict=True)
    return max(map(int, set(rows))), max(map(_COLUMNS.__getitem__, set(cols)))


def _stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo, chunk: int = 1 << 20):
    """Yield an entry's inflated bytes in overlapping chunks (so a tag never falls between two)."""
    tail = b""
    with zf.open(info) as fh:
        while block := fh.read(chunk):
            yield tail + block
            tail = block[-256:]


_ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0 "
_ODF_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0 "
_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0 "


class _Stop(Exception):
    """Ends a streamed scan as soon as it found its reason."""

    def __init__(self, finding: Finding):
        self.finding = finding


class _OdsCells:
    """How far the cells of an OpenDocument sheet reach, counted while ``content.xml`` streams.

    A row or a cell may be repeated (``number-rows-repeated``, ``number-columns-repeated``) or
    span others (``number-rows-spanned``, ``number-columns-spanned``); the reader expands both.
    Empty cells, repeated to the sheet's edge by LibreOffice, reach nothing.
    """

    def __init__(self, max_cells: int):
        self.max_cells = max_cells
        self.name = ""
        self.row = 0  # the next row's index in the current table
        self.height = self.width = self.cells = 0
        self.in_cell = False
        self.row_repeat = 1
        self.col = self.row_cells = self.row_width = self.row_down = 0
        self.cell_repeat = self.cell_across = self.cell_down = 1
        self.cell_has_value = False

    def _int(self, attrs: dict, name: str) -> int:
        text = attrs.get(_ODF_TABLE + name, "1")
        return int(text) if re.fullmatch(r"[0-9]{1,9}", text) and int(text) > 0 else 1

    def start(self, name: str, attrs: dict) -> None:
        if name == _ODF_TABLE + "table":
            self.name = attrs.get(_ODF_TABLE + "name", "")
            self.row = self.height = self.width = self.cells = 0
        elif name == _ODF_TABLE + "table-row":
            self.row_repeat = self._int(attrs, "number-rows-repeated")
            self.col = 0
            self.row_cells = self.row_width = self.row_down = 0
        elif name in (_ODF_TABLE + "table-cell", _ODF_TABLE + "covered-table-cell"):
            self.in_cell = True
            self.cell_repeat = self._int(attrs, "number-columns-repeated")
            self.cell_across = self._int(attrs, "number-columns-spanned")
            self.cell_down = self._int(attrs, "number-rows-spanned")
            self.cell_has_value = _ODF_OFFICE + "value-type" in attrs
        elif name == _ODF_TEXT + "p" and self.in_cell:
            self.cell_has_value = True

    def end(self, name: str) -> None:
        if name in (_ODF_TABLE + "table-cell", _ODF_TABLE + "covered-table-cell"):
            self.in_cell = False
            if self.cell_has_value:
                self.row_cells += self.cell_repeat
                self.row_width = self.col + self.cell_repeat + self.cell_across - 1
                self.row_down = max(self.row_down, self.cell_down)
            self.col += self.cell_repeat
        elif name == _ODF_TABLE + "table-row":
            if self.row_cells:
                self.height = max(self.height, self.row + self.row_repeat + self.row_down - 1)
                self.width = max(self.width, self.row_width)
                self.cells += self.row_cells * self.row_repeat
                if self.height * self.width > self.max_cells or self.cells > self.max_cells:
                    raise _Stop(cell_bomb(self.name, self.height, self.width))
            self.row += self.row_repeat


def _refuse_entities(*_args) -> None:
    raise _Stop(_entities("content.xml"))


def _scan_ods_content(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> Finding | None:
    cells = _OdsCells(limits.max_cells)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = _refuse_entities
    parser.StartElementHandler = cells.start
    parser.EndElementHandler = cells.end
    try:
        with zf.open(info) as fh:
            while block := fh.read(1 << 20):
                parser.Parse(block, False)
        parser.Parse(b"", True)
    except _Stop as stop:
        return stop.finding
    except expat.ExpatError as exc:
        return Finding("corrupt", f"文件已损坏（content.xml 无法解析）：{exc}")
    return None


def _is_opendocument(zf: zipfile.ZipFile, names: set[str]) -> bool:
    if "mimetype" not in names or "content.xml" not in names:
        return False
    return zf.read("mimetype")[:100].startswith(b"application/vnd.oasis.opendocument.spreadsheet")


def _bytes(source: Path | bytes) -> bytes:
    return source if isinstance(source, bytes) else source.read_bytes()


def inspect_zip(source: Path | bytes, limits: Limits = DEFAULT_LIMITS) -> Finding | None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(_bytes(source)))
    except (zipfile.BadZipFile, OSError) as exc:
        return Finding("corrupt", f"文件已损坏（不是完整的 xlsx 压缩包）：{exc}")
    with zf:
        try:
            return _inspect_members(zf, limits)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            # a member's checksum, local header or deflate stream is broken: a damaged download
            return Finding(
                "corrupt",
                f"文件已损坏（压缩包内容校验失败，多为下载或拷贝不完整）：{exc}；请重新导出或另存后报送",
            )


def _inspect_members(zf: zipfile.ZipFile, limits: Limits) -> Finding | None:
    infos = zf.infolist()
    names = {i.filename for i in infos}
    opendocument = _is_opendocument(zf, names) if "mimetype" in names else False
    if not opendocument and "xl/workbook.xml" not in names and "[Content_Types].xml" not in names:
        return Finding(
            "not_spreadsheet", "压缩包里没有 Excel 或 OpenDocument 工作簿（不是 xlsx 或 ods 文件）"
        )
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        return Finding(
            "zip_bomb",
            f"解压后达 {total // 2**20} MB，超过上限，疑似压缩炸弹；请删去空白行列后重新保存",
        )
    for i in infos:
        if (
            i.file_size > 2**20
            and i.compress_size
            and i.file_size / i.compress_size > limits.max_ratio
        ):
            return Finding(
                "zip_bomb",
                f"“{i.filename}”压缩比异常（{i.file_size // max(i.compress_size, 1)} 倍），疑似压缩炸弹",
            )
    for i in infos:
        if not i.filename.endswith((".xml", ".rels", ".vml")):
            continue
        is_sheet = i.filename.startswith("xl/worksheets/")
        max_row = max_col = 0
        for n, block in enumerate(_stream(zf, i)):
            if n == 0 and _ENTITY.search(block[:65536]):
                return _entities(i.filename)
            if not is_sheet:
                break
            if n == 0 and (m := _DIMENSION.search(block)):
                c1, r1, c2, r2 = m.groups()
                cols = _col_number(c2 or c1 or b"A")
                rows = int(r2 or r1 or 1)
                if rows * cols > limits.max_cells:
                    return cell_bomb(i.filename, rows, cols)
            block_row, block_col = _furthest_cell(block)
            max_row, max_col = max(max_row, block_row), max(max_col, block_col)
            if max_row * max_col > limits.max_cells:
                return cell_bomb(i.filename, max_row, max_col)
        if opendocument and i.filename == "content.xml":
            if (finding := _scan_ods_content(zf, i, limits)) is not None:
                return finding
    return None


def _entities(name: str) -> Finding:
    return Finding(
        "xml_entities",
        f"“{name}”声明了 XML 实体（DOCTYPE/ENTITY），可能是实体炸弹；请用 Excel 重新保存",
    )


def cell_bomb(name: str, rows: int, cols: int) -> Finding:
    return Finding(
        "cell_bomb",
        f"工作表“{name.rsplit('/', 1)[-1]}”声明了 {rows} 行 × {cols} 列，远超合理范围；"
        "请删除表格右下方的空白行列（或远处的单元格）后重新保存",
    )


def inspect_markup(source: Path | bytes, name: str = "") -> Finding | None:
    """SpreadsheetML 2003 is XML: no DTD and no entities, like the XML of an xlsx."""
    head = _bytes(source)[:65536]
    if _ENTITY.search(head) or _ENTITY.search(head.replace(b"\x00", b"")):
        return _entities(name or getattr(source, "name", "") or "XML")
    return None


def inspect_ole2(source: Path | bytes) -> Finding | None:
    """An OLE2 file is an .xls, or an encrypted xlsx in an OLE2 wrapper."""
    head = _bytes(source)[: 1 << 20]
    if any(marker in head for marker in _OLE2_ENCRYPTED):
        return Finding("encrypted", "文件已加密（设置了打开密码），无法读取；请取消密码后重新报送")
    return None


def too_large(size: int, limits: Limits = DEFAULT_LIMITS) -> Finding:
    return Finding(
        "too_large",
        f"文件大小 {size // 2**20} MB 超过上限 {limits.max_file_bytes // 2**20} MB；请按乡镇或季度拆分后报送",
    )


def inspect(
    source: Path | bytes, kind: str, size: int, limits: Limits = DEFAULT_LIMITS
) -> Finding | None:
    """Why the file (its bytes, or a path the tests give) must not be parsed, or None."""
    if size > limits.max_file_bytes:
        return too_large(size, limits)
    if kind in ("xlsx", "ods"):
        return inspect_zip(source, limits)
    if kind == "spreadsheetml":
        return inspect_markup(source)
    if kind == "xls":
        return inspect_ole2(source)
    return None


def has_macros(source: Path | bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(_bytes(source))) as zf:
            return any(n.lower().endswith("vbaproject.bin") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
