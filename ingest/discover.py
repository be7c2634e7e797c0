"""Discover the inbox: which files there are, who sent them, what they really are.

The first folder level names the provider. A file's identity is its path under the inbox, its
version the SHA-256 of its bytes. The type is sniffed from the bytes, never from the extension.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

PROVIDERS = ("townships", "joint_branches", "enterprises", "county")
PROVIDER_NAMES = {
    "townships": "乡镇",
    "joint_branches": "联合党支部",
    "enterprises": "企业",
    "county": "县委组织部",
}

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"


@dataclass(frozen=True)
class InboxFile:
    path: Path
    rel: str  # path under the inbox, '/'-separated: the file's identity
    provider: str | None
    size: int
    sha256: str
    kind: str  # xlsx | ods | xls | csv | html | spreadsheetml | text | empty | unknown (sniff)
    mtime: float


@dataclass(frozen=True)
class SkippedPath:
    rel: str
    reason: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Text is a table only when its name says so; a text file saved as .xls is not a spreadsheet.
# (Excel's "Unicode 文本" is tab-separated UTF-16 saved as .txt.)
TEXT_EXTENSIONS = (".csv", ".txt", ".tsv")
_ODS_MIMETYPE = b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"
_SPREADSHEETML = ("urn:schemas-microsoft-com:office:spreadsheet", 'progid="excel.sheet"')
_MARKUP_STARTS = ("<!doctype html", "<html", "<?xml", "<table", "<head", "<meta", "<body", "<!--")


def sniff(path: Path) -> str:
    """What a file is, from its first bytes: xlsx (any Office Open XML zip: xlsx, xlsm, xlsb),
    ods, xls (an OLE2 compound file: xls, WPS .et, or an encrypted xlsx), spreadsheetml (Excel
    2003 XML), html, csv (text named .csv, .txt or .tsv, in any encoding ``read_text`` reads),
    text, empty or unknown."""
    from ingest.read_text import decode_head, text_encoding

    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head:
        return "empty"
    if head.startswith(_ZIP):
        return "ods" if head[30:].startswith(_ODS_MIMETYPE) else "xlsx"
    if head.startswith(_OLE2):
        return "xls"
    text = decode_head(head)
    if text is None:
        # text by its mark or zero bytes that does not decode: a table in a bad encoding if
        # its name says it is one (the reader says so), else no spreadsheet
        named = path.suffix.lower() in TEXT_EXTENSIONS
        return "csv" if named and text_encoding(head) is not None else "unknown"
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if lowered.startswith(_MARKUP_STARTS):
        if any(marker in lowered for marker in _SPREADSHEETML):
            return "spreadsheetml"
        return "html"
    return "csv" if path.suffix.lower() in TEXT_EXTENSIONS else "text"


def _ignored(name: str) -> bool:
    # Office lock files and hidden files are not reports.
    return name.startswith(("~$", ".")) or name in ("Thumbs.db", "desktop.ini")


def printable(text: str) -> str:
    """A name for a log line or a terminal: a line break, a tab or any other control or format
    character in it written as its escape (``\\n``), so a file name cannot start a forged line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _utf8(rel: str) -> bool:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(rel: str) -> str:
    """A path whose name is not UTF-8 (a zip packed on a Chinese Windows and unpacked here
    keeps its GBK bytes) as text that can be written anywhere: its bytes read as GB18030."""
    parts = [
        part
        if _utf8(part)
        else part.encode("utf-8", "surrogateescape").decode("gb18030", "replace")
        for part in rel.split("/")
    ]
    return "/".join(parts) + "（文件名非 UTF-8）"


def describe(inbox: Path, full: Path) -> InboxFile | SkippedPath:
    """One path under the (resolved) inbox: a file to read, or why it is skipped."""
    rel = full.relative_to(inbox).as_posix()
    if not _utf8(rel):  # its identity could be stored nowhere: named in the report instead
        return SkippedPath(_shown(rel), "name_not_utf8")
    if _ignored(full.name):
        return SkippedPath(rel, "hidden_or_lock_file")
    try:
        st = full.lstat()
    except FileNotFoundError:  # gone between listing and reading (a parse task runs later)
        return SkippedPath(rel, "vanished")
    if stat.S_ISLNK(st.st_mode):
        target = full.resolve()
        if not target.is_relative_to(inbox):
            return SkippedPath(rel, "symlink_outside_inbox")
        st = target.stat()
    if not stat.S_ISREG(st.st_mode):
        return SkippedPath(rel, "not_a_regular_file")
    first = rel.split("/", 1)[0]
    provider = first if "/" in rel and first in PROVIDERS else None
    try:
        digest, kind = sha256_of(full), sniff(full)
    except FileNotFoundError:
        return SkippedPath(rel, "vanished")
    except OSError:  # an I/O error or no permission: the file is there, and tried again next night
        return SkippedPath(rel, "unreadable")
    return InboxFile(
        path=full,
        rel=rel,
        provider=provider,
        size=st.st_size,
        sha256=digest,
        kind=kind,
        mtime=st.st_mtime,
    )


def discover(inbox: Path) -> tuple[list[InboxFile], list[SkippedPath]]:
    """Every regular file under the inbox, sorted by path, and every path skipped with why."""
    inbox = inbox.resolve()
    files: list[InboxFile] = []
    skipped: list[SkippedPath] = []
    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=False):
        for name in [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            # never followed: outside it leaves the inbox, inside it would load files twice
            full = Path(dirpath) / name
            inside = full.resolve().is_relative_to(inbox)
            reason = "symlinked_folder" if inside else "symlink_outside_inbox"
            rel = full.relative_to(inbox).as_posix()
            skipped.append(SkippedPath(rel if _utf8(rel) else _shown(rel), reason))
            dirnames.remove(name)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            found = describe(inbox, Path(dirpath) / name)
            (files if isinstance(found, InboxFile) else skipped).append(found)
    files.sort(key=lambda f: f.rel)
    return files, skipped
