"""What senders send: attachments' names as the clerk typed them, which files are taken, and the
files inside a zip.

Names: RFC 2231 (``filename*=GBK''%B8%A3…``), RFC 2047 encoded words inside the quotes (Outlook,
Foxmail: ``"=?GB2312?B?…?="``) and raw 8-bit GBK or UTF-8 bytes all come out as text; a label of
GB2312 or GBK is read as GB18030, its superset (clerks' names hold characters GB2312 lacks).

Taken: ``.xlsx .xlsm .xls .et .ods .csv``, and a ``.zip`` of them opened under the guards below.
Refused, with the reason in Chinese: RAR and 7z archives, executables and scripts, other types,
empty files, files over :data:`MAX_FILE_BYTES`, and a zip that is a bomb (members, total size,
ratio), nests archives, or names a path that leaves its folder (each such member is refused, the
others are taken).
"""

from __future__ import annotations

import email.header
import email.utils
import io
import zipfile
from dataclasses import dataclass
from email.message import Message
from pathlib import PurePosixPath

from outreach.intake.senders import safe_component

SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".et", ".ods", ".csv")
ARCHIVES_REFUSED = (".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".cab", ".arj", ".iso")
EXECUTABLES = (
    ".exe", ".com", ".bat", ".cmd", ".scr", ".msi", ".js", ".jse", ".vbs", ".vbe", ".wsf",
    ".ps1", ".jar", ".lnk", ".hta", ".dll", ".sh", ".apk",
)  # fmt: skip
MAX_FILE_BYTES = 50 * 1024 * 1024  # one attachment or one member, as a mailbox allows
MAX_ZIP_MEMBERS = 50
MAX_ZIP_TOTAL_BYTES = 200 * 1024 * 1024
MAX_ZIP_RATIO = 200  # inflated / compressed, for members over 1 MiB inflated

_GB = {"gb2312", "gbk", "gb_2312-80", "x-gbk", "euc-cn", "cp936", "gb18030", "hz-gb-2312"}


@dataclass(frozen=True)
class Piece:
    """One file a sender sent: an attachment, a zip's member, a remote file."""

    name: str  # as the clerk typed it ('' when it had none)
    data: bytes
    inside: str | None = None  # the zip it came out of


@dataclass(frozen=True)
class Refusal:
    name: str
    reason: str  # Chinese, for the sender
    size: int = 0
    inside: str | None = None


def _codec(charset: str | None) -> str:
    cs = (charset or "").strip().lower()
    return "gb18030" if cs in _GB else (cs or "utf-8")


def _text(raw: bytes) -> str:
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("gb18030", errors="replace")


def decode_name(value: object) -> str:
    """A filename parameter as the clerk typed it (see the module docstring); whatever a
    sender's mail program wrote, text comes back, never an exception."""
    try:
        return _decode_name(value)
    except Exception:  # a broken charset label, a NUL in it, bytes no codec reads
        text = value[2] if isinstance(value, tuple) else str(value)
        return "".join(c for c in str(text) if c.isprintable() and not "\udc80" <= c <= "\udcff")


def header_text(message: Message, name: str) -> str:
    """A header's value as text, raw 8-bit bytes read as UTF-8 or GB18030 (encoded words are
    left for :func:`decode_name` or ``email.header`` to decode); '' when absent."""
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            text = str(value)
            if any("\udc80" <= c <= "\udcff" for c in text):
                text = _text(text.encode("ascii", errors="surrogateescape"))
            return text
    return ""


def _decode_name(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded latin-1 text)
        charset, _lang, text = value
        raw = text.encode("latin-1", errors="surrogateescape")
        try:
            value = raw.decode(_codec(charset))
        except (UnicodeDecodeError, LookupError):
            value = _text(raw)
    text = str(value)
    if any("\udc80" <= c <= "\udcff" for c in text):  # raw 8-bit bytes in the header
        text = _text(text.encode("ascii", errors="surrogateescape"))
    if "=?" in text:
        parts = []
        try:
            decoded = email.header.decode_header(text)
        except (ValueError, email.errors.HeaderParseError):
            decoded = [(text, None)]
        for chunk, charset in decoded:
            if isinstance(chunk, bytes):
                try:
                    chunk = chunk.decode(_codec(charset))
                except (UnicodeDecodeError, LookupError):
                    chunk = _text(chunk)
            parts.append(chunk)
        text = "".join(parts)
    return text.replace("\r", "").replace("\n", "").strip()


def attachment_name(part: Message) -> str:
    """The file name of a MIME part (Content-Disposition's filename, else Content-Type's
    name), decoded; '' when it has none. ``part`` parsed with the compat32 policy."""
    raw = {k.lower(): v for k, v in part.raw_items()}
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = raw.get(header)
        if value is None:
            continue
        if isinstance(value, str) and any("\udc80" <= c <= "\udcff" for c in value):
            # raw 8-bit bytes (a name in GBK with no encoding at all): read as text first, as
            # the compat32 policy would otherwise replace every such byte with U+FFFD
            holder = Message()
            holder[header] = _text(value.encode("ascii", errors="surrogateescape"))
            found = holder.get_param(param, header=header)
        else:
            found = part.get_param(param, header=header)
        if found:
            return decode_name(found)
    return ""


def suffix(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def refusal_reason(name: str, size: int) -> str | None:
    """Why a file of this name and size is not taken; None when it is (a zip is opened)."""
    ext = suffix(name)
    if size == 0:
        return "附件为空（0 字节），请重新添加附件后发送"
    if size > MAX_FILE_BYTES:
        return f"文件超过 {MAX_FILE_BYTES // 2**20} MB，请删去多余的工作表或图片后重新发送"
    if ext in ARCHIVES_REFUSED:
        return f"不接收 {ext} 压缩包，请改用 zip 压缩，或直接把表格作为附件发送"
    if ext in EXECUTABLES:
        return "可执行文件或脚本，不予接收"
    if ext == ".zip" or ext in SPREADSHEETS:
        return None
    return "不是可接收的表格文件（接收 xlsx、xlsm、xls、et、ods、csv 及其 zip 压缩包）"


def _member_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x800:  # the archiver said UTF-8
        return info.filename
    try:  # Python read the name as cp437: Windows' Chinese archivers wrote GBK (or UTF-8)
        return _text(info.filename.encode("cp437"))
    except UnicodeEncodeError:
        return info.filename


def _leaves(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")


def expand_zip(name: str, data: bytes) -> tuple[list[Piece], list[Refusal]]:
    """The spreadsheets inside a zip and what in it is refused; a zip that cannot be opened or
    is a bomb is one refusal of the whole zip."""
    whole = "压缩包"
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return [], [Refusal(name, f"{whole}已损坏，无法打开（{exc}）；请重新压缩后发送", len(data))]
    pieces: list[Piece] = []
    refused: list[Refusal] = []
    with zf:
        infos = [
            i
            for i in zf.infolist()
            if not i.is_dir() and not i.filename.startswith("__MACOSX/")
            and not PurePosixPath(i.filename).name.startswith(".")
        ]  # fmt: skip
        if len(infos) > MAX_ZIP_MEMBERS:
            return [], [
                Refusal(
                    name,
                    f"{whole}内有 {len(infos)} 个文件，超过 {MAX_ZIP_MEMBERS} 个上限",
                    len(data),
                )
            ]
        total = sum(i.file_size for i in infos)
        if total > MAX_ZIP_TOTAL_BYTES:
            return [], [
                Refusal(
                    name, f"{whole}解压后达 {total // 2**20} MB，超过上限，疑似压缩炸弹", len(data)
                )
            ]
        for info in infos:
            member = _member_name(info)
            shown = safe_component(PurePosixPath(member.replace("\\", "/")).name) or member
            if _leaves(member):
                refused.append(
                    Refusal(
                        shown,
                        "压缩包内的文件路径越出压缩包所在文件夹，不予接收",
                        info.file_size,
                        name,
                    )
                )
                continue
            if info.flag_bits & 0x1:
                refused.append(
                    Refusal(
                        shown, "压缩包内文件已加密，请去掉密码后重新压缩发送", info.file_size, name
                    )
                )
                continue
            if (
                info.file_size > 2**20
                and info.file_size / max(info.compress_size, 1) > MAX_ZIP_RATIO
            ):
                refused.append(
                    Refusal(shown, "压缩比异常，疑似压缩炸弹，不予接收", info.file_size, name)
                )
                continue
            if suffix(member) == ".zip":
                refused.append(
                    Refusal(shown, "压缩包里套压缩包，请解开后只压缩一层", info.file_size, name)
                )
                continue
            reason = refusal_reason(member, info.file_size)
            if reason is not None:
                refused.append(Refusal(shown, reason, info.file_size, name))
                continue
            try:
                body = _read_capped(zf, info)
            except Exception as exc:  # a broken deflate or LZMA stream, a lying local header
                refused.append(
                    Refusal(
                        shown, f"压缩包内文件已损坏（{type(exc).__name__}）", info.file_size, name
                    )
                )
                continue
            if body is None:
                refused.append(
                    Refusal(
                        shown, "解压后超过大小上限，疑似压缩炸弹，不予接收", info.file_size, name
                    )
                )
                continue
            pieces.append(Piece(shown, body, inside=name))
    if not pieces and not refused:
        refused.append(Refusal(name, f"{whole}是空的，没有表格文件", len(data)))
    return pieces, refused


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """A member's bytes, read no further than the size limit (the header's size may lie)."""
    out = io.BytesIO()
    with zf.open(info) as src:
        while chunk := src.read(1 << 20):
            out.write(chunk)
            if out.tell() > MAX_FILE_BYTES:
                return None
    return out.getvalue()


def sort_out(name: str, data: bytes) -> tuple[list[Piece], list[Refusal]]:
    """One file a sender sent: the spreadsheets to land (a zip's members) and the refusals."""
    shown = safe_component(name) or name
    reason = refusal_reason(name, len(data))
    if reason is not None:
        return [], [Refusal(shown, reason, len(data))]
    if suffix(name) == ".zip":
        return expand_zip(shown, data)
    return [Piece(shown, data)], []
