"""Text tables: CSV and TSV as partners really save them.

The encoding is detected, never configured: a byte-order mark (UTF-8, UTF-16 or UTF-32, as
Excel's "Unicode 文本" and "CSV UTF-8" save), else the pattern of zero bytes that UTF-16 and
UTF-32 text without a mark leaves, else UTF-8, else GB18030 (which covers GBK and GB2312). Lines
may end in LF, CRLF or a lone CR (Excel for Mac's "CSV (Macintosh)"). The separator is a comma,
a tab or a semicolon, whichever splits the first lines into the most consistent columns.
"""

from __future__ import annotations

import codecs
import csv
import io

from ingest.sheets import ReadError

_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
DELIMITERS = (",", "\t", ";")
_SAMPLE_LINES = 50


def _plausible(ch: str) -> bool:
    """A character a table of ours would hold: ASCII, Latin, punctuation, CJK, full-width."""
    code = ord(ch)
    return (
        ch in "\t\r\n\ufeff"
        or 0x20 <= code < 0x7F
        or 0xA0 <= code < 0x250
        or 0x2000 <= code < 0x2070
        or 0x3000 <= code < 0x3040
        or 0x3400 <= code < 0xA000
        or 0xFF00 <= code < 0xFFF0
    )


def _zero_byte_encoding(head: bytes) -> str | None:
    """UTF-32 or UTF-16 without a mark, from where the zero bytes of its text fall (every
    character of the Basic Multilingual Plane has two zero bytes in UTF-32), else from which
    byte order reads as the characters of a table (a CJK character such as 一, U+4E00, has a
    zero byte too, so the zero bytes alone do not tell UTF-16's byte order)."""
    head = head[: len(head) - len(head) % 4]
    if b"\x00" not in head:
        return None
    quarter = len(head) // 4
    if quarter and head[2::4].count(0) == head[3::4].count(0) == quarter:
        return "utf-32-le"
    if quarter and head[0::4].count(0) == head[1::4].count(0) == quarter:
        return "utf-32-be"
    best, best_score = None, 0.8  # four characters in five plausible at least
    for encoding in ("utf-16-le", "utf-16-be"):
        text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
        score = sum(map(_plausible, text)) / max(len(text), 1)
        if score > best_score:
            best, best_score = encoding, score
    return best


def text_encoding(head: bytes) -> tuple[str, int] | None:
    """The encoding of text that starts with ``head`` and the length of its byte-order mark;
    None when the zero bytes say it is no text. ASCII-compatible text is "utf-8" here: whether
    it is really GB18030 is only known once all of it is decoded (:func:`decode_text`)."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    if b"\x00" in head:
        found = _zero_byte_encoding(head)
        return (found, 0) if found else None
    return "utf-8", 0


def decode_head(head: bytes) -> str | None:
    """The first characters of a file from its first bytes (a character cut at the end of
    ``head`` is left out), or None when they are not text in any encoding we read."""
    found = text_encoding(head)
    if found is None:
        return None
    encoding, bom = found
    for candidate in (encoding, "gb18030") if encoding == "utf-8" else (encoding,):
        try:
            return codecs.getincrementaldecoder(candidate)().decode(head[bom:], final=False)
        except UnicodeDecodeError:
            continue
    return None


def decode_text(data: bytes) -> str:
    """The whole of a text file as str; :class:`ReadError` ``bad_encoding`` when it is not."""
    found = text_encoding(data[:4096])
    if found is not None:
        encoding, bom = found
        candidates = (encoding, "gb18030") if encoding == "utf-8" else (encoding,)
        for candidate in candidates:
            try:
                return data[bom:].decode(candidate)
            except UnicodeDecodeError:
                continue
    raise ReadError(
        "bad_encoding",
        "文件编码无法识别（不是 UTF-8、GB18030、UTF-16 或 UTF-32）；请在 Excel 中另存为 .xlsx，"
        "或另存为“CSV UTF-8”",
    )


def _score(lines: list[str], delimiter: str) -> tuple[int, int]:
    """How well ``delimiter`` splits the sample: rows with the most common number of fields
    (two or more), then that number."""
    counts: dict[int, int] = {}
    try:
        for row in csv.reader(lines, delimiter=delimiter):
            if len(row) > 1:
                counts[len(row)] = counts.get(len(row), 0) + 1
    except csv.Error:
        return 0, 0
    if not counts:
        return 0, 0
    width = max(counts, key=lambda n: (counts[n], n))
    return counts[width], width


def detect_delimiter(text: str) -> str:
    """Comma, tab or semicolon: whichever gives the most rows of one width in the first lines
    (a comma when none splits anything)."""
    lines = io.StringIO(text, newline="").readlines()[:_SAMPLE_LINES]
    best = max(DELIMITERS, key=lambda d: _score(lines, d))
    return best if _score(lines, best) > (0, 0) else ","


def read_text_table(data: bytes, max_cells: int | None = None) -> list[list[str | None]]:
    """The rows of a CSV or TSV file, cells stripped of nothing but empty ones made None; a
    table reaching more than ``max_cells`` cells (rows x widest row) is a cell bomb."""
    text = decode_text(data)
    delimiter = detect_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str | None]] = []
    started = last_started = 1  # the lines the record being read, and the last one, began on
    width = 0
    try:
        for row in reader:
            rows.append([None if v.strip() == "" else v for v in row])
            last_started, started = started, reader.line_num + 1
            width = max(width, len(row))
            if max_cells is not None and len(rows) * width > max_cells:
                from ingest.guard import cell_bomb

                finding = cell_bomb("CSV", len(rows), width)
                raise ReadError(finding.rule_id, finding.message)
    except csv.Error as exc:
        raise ReadError(
            "bad_csv",
            f"从第 {started} 行起无法按 CSV 读取（单元格超过 {csv.field_size_limit()} 个字符，"
            "多为引号没有成对）；请在 Excel 中打开核对后另存为 .xlsx",
        ) from exc
    last = rows[-1] if rows else []
    if text.count('"') % 2 and last and any(v and ("\n" in v or "\r" in v) for v in last):
        raise ReadError(
            "bad_csv",
            f"第 {last_started} 行有一个引号没有成对，其后的内容都被读进了同一个单元格；"
            "请在 Excel 中打开核对后另存为 .xlsx",
        )
    return rows
