"""Discover the inbox: which files there are, who sent them, what they really are.

The first folder level names the provider. A file's identity is its path under the inbox, its
version the SHA-256 of its bytes. The type is sniffed from the bytes, never from the extension.

Every file is opened without following a link (:func:`open_in_inbox`: each folder of its path
and the file itself opened with ``O_NOFOLLOW``, below the inbox's own folder), must be a regular
file with one name (a hard link could be any file of the disk), and is read only while it is
the very inode discovered (:func:`read_file`). A symbolic link is never read, wherever it points:
a folder swapped for a link between planning and reading cannot hand the loader a file outside
the inbox (a key, ``/proc/self/environ``), nor can it be copied into the quarantine.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

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
    device: int = 0  # the inode discovered: the file read later must be the same one
    inode: int = 0

    @property
    def inbox(self) -> Path:
        """The inbox folder the file was discovered under."""
        return Path(*self.path.parts[: len(self.path.parts) - len(self.rel.split("/"))])


@dataclass(frozen=True)
class SkippedPath:
    rel: str
    reason: str


class NotSafeToRead(OSError):
    """The path is a link, not a regular file, has several names, or is no longer the file
    discovered. ``reason`` is the skipped path's reason."""

    def __init__(self, reason: str, rel: str):
        super().__init__(f"{rel}: {reason}")
        self.reason = reason


def open_in_inbox(inbox: Path, rel: str) -> int:
    """A read-only descriptor of the regular file ``inbox/rel``: every folder below ``inbox``
    and the file itself opened without following a link (a link anywhere is ``symlink``),
    non-blocking (a pipe never hangs the loader), a file with more than one name refused
    (``hard_link``). The caller closes it."""
    flags = os.O_RDONLY | os.O_CLOEXEC
    parts = rel.split("/")
    folder = os.open(inbox, flags | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, flags | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link; or no folder any more
                    raise NotSafeToRead("symlink", rel) from exc
                raise
            os.close(folder)
            folder = inner
        try:
            fd = os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise NotSafeToRead("symlink", rel) from exc
            raise
    finally:
        os.close(folder)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotSafeToRead("not_a_regular_file", rel)
    if st.st_nlink > 1:
        os.close(fd)
        raise NotSafeToRead("hard_link", rel)
    return fd


def open_discovered(file: InboxFile) -> BinaryIO:
    """The inbox file opened safely (:func:`open_in_inbox`), refused (``replaced``) unless it is
    the inode that was discovered. The caller closes it."""
    fh = os.fdopen(open_in_inbox(file.inbox, file.rel), "rb")
    st = os.fstat(fh.fileno())
    if (file.device, file.inode) != (0, 0) and (st.st_dev, st.st_ino) != (file.device, file.inode):
        fh.close()
        raise NotSafeToRead("replaced", file.rel)
    return fh


def read_file(file: InboxFile, limit: int | None = None) -> tuple[bytes, InboxFile]:
    """The bytes of an inbox file (:func:`open_discovered`), with the file as now read (a
    version saved since discovery has another sha256 and size, which its account must carry).
    At most ``limit`` + 1 bytes are read: a file that grew past the limit is told by its
    length, never read whole."""
    with open_discovered(file) as fh:
        st = os.fstat(fh.fileno())
        data = fh.read() if limit is None else fh.read(limit + 1)
    if limit is not None and len(data) > limit:
        return data, file  # refused for its size: its account keeps the version discovered
    digest = hashlib.sha256(data).hexdigest()
    if digest == file.sha256:
        return data, file
    return data, replace(file, sha256=digest, size=len(data), mtime=st.st_mtime)


# Text is a table only when its name says so; a text file saved as .xls is not a spreadsheet.
# (Excel's "Unicode 文本" is tab-separated UTF-16 saved as .txt.)
TEXT_EXTENSIONS = (".csv", ".txt", ".tsv")
_ODS_MIMETYPE = b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"
_SPREADSHEETML = ("urn:schemas-microsoft-com:office:spreadsheet", 'progid="excel.sheet"')
_MARKUP_STARTS = ("<!doctype html", "<html", "<?xml", "<table", "<head", "<meta", "<body", "<!--")


def sniff(path: Path) -> str:
    """:func:`sniff_bytes` of a file's first bytes."""
    with path.open("rb") as fh:
        return sniff_bytes(fh.read(4096), path.name)


def sniff_bytes(head: bytes, name: str) -> str:
    """What a file is, from its first bytes: xlsx (any Office Open XML zip: xlsx, xlsm, xlsb),
    ods, xls (an OLE2 compound file: xls, WPS .et, or an encrypted xlsx), spreadsheetml (Excel
    2003 XML), html, csv (text named .csv, .txt or .tsv, in any encoding ``read_text`` reads),
    text, empty or unknown. ``name``: the file's name (text is a table only when it says so)."""
    from ingest.read_text import decode_head, text_encoding

    head = head[:4096]
    suffix = Path(name).suffix.lower()
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
        named = suffix in TEXT_EXTENSIONS
        return "csv" if named and text_encoding(head) is not None else "unknown"
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if lowered.startswith(_MARKUP_STARTS):
        if any(marker in lowered for marker in _SPREADSHEETML):
            return "spreadsheetml"
        return "html"
    return "csv" if suffix in TEXT_EXTENSIONS else "text"


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


def _points_inside(link: Path, inbox: Path) -> bool:
    """Whether a link's target lies in the inbox (only to say why it is skipped); a loop of
    links, or one that cannot be followed, points nowhere inside."""
    try:
        return Path(os.path.realpath(link, strict=True)).is_relative_to(inbox)
    except (OSError, RuntimeError, ValueError):
        return False


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
    if stat.S_ISLNK(st.st_mode):  # never read, wherever it points
        return SkippedPath(
            rel, "symlink" if _points_inside(full, inbox) else "symlink_outside_inbox"
        )
    if not stat.S_ISREG(st.st_mode):
        return SkippedPath(rel, "not_a_regular_file")
    first = rel.split("/", 1)[0]
    provider = first if "/" in rel and first in PROVIDERS else None
    try:
        fd = open_in_inbox(inbox, rel)
    except NotSafeToRead as exc:
        return SkippedPath(rel, exc.reason)
    except FileNotFoundError:
        return SkippedPath(rel, "vanished")
    except OSError:  # an I/O error or no permission: the file is there, and tried again next night
        return SkippedPath(rel, "unreadable")
    try:
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            digest = hashlib.sha256()
            head = fh.read(4096)
            digest.update(head)
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return SkippedPath(rel, "unreadable")
    return InboxFile(
        path=full,
        rel=rel,
        provider=provider,
        size=st.st_size,
        sha256=digest.hexdigest(),
        kind=sniff_bytes(head, full.name),
        mtime=st.st_mtime,
        device=st.st_dev,
        inode=st.st_ino,
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
            reason = "symlinked_folder" if _points_inside(full, inbox) else "symlink_outside_inbox"
            rel = full.relative_to(inbox).as_posix()
            skipped.append(SkippedPath(rel if _utf8(rel) else _shown(rel), reason))
            dirnames.remove(name)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            found = describe(inbox, Path(dirpath) / name)
            (files if isinstance(found, InboxFile) else skipped).append(found)
    files.sort(key=lambda f: f.rel)
    return files, skipped
