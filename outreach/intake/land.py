"""Landing a sender's file in the inbox: ``inbox/<provider>/<unit>/<original file name>``.

The unit's folder comes from who sent it (``senders.py``), never from the file's name, which is
kept as one path component. The bytes are written to a hidden temporary file in the unit's folder
(the loader skips hidden files, so the night never reads half a file; the same file system, so
the rename is atomic) and renamed into place: a corrected file resent under the same name replaces the earlier version,
which the loader then reads as the newer version of that file. The same bytes a unit already
landed are a duplicate and land nothing.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from outreach.intake.senders import Unit, safe_component


@dataclass(frozen=True)
class Landed:
    rel: str  # under the inbox
    sha256: str
    replaced: bool  # a file of that name was there (a resend)


class CannotLand(ValueError):
    """The file has no name that can be a file in the inbox."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def version_path(intake_dir: Path, sha256: str) -> Path:
    """Where the bytes of a landed version are kept (``intake/versions/<sha256>``): the inbox
    holds only a file's newest version, and the portal shows what a resend changed against the
    one before. Personal data, like the inbox."""
    return intake_dir / "versions" / sha256


def keep_version(intake_dir: Path, sha256: str, data: bytes) -> None:
    """Keep a landed version's bytes (once per content), written whole or not at all."""
    target = version_path(intake_dir, sha256)
    if target.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o700)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".keeping-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def target_rel(unit: Unit, name: str) -> str:
    safe = safe_component(name)
    if safe is None:
        raise CannotLand(f"文件名“{name}”不能作为文件名保存，请改名后重新发送")
    return f"{unit.inbox_rel}/{safe}"


def land(inbox: Path, unit: Unit, name: str, data: bytes) -> Landed:
    """Write ``data`` at the unit's ``name`` in the inbox, atomically."""
    rel = target_rel(unit, name)
    target = inbox / rel
    folder = target.parent
    inbox.mkdir(parents=True, exist_ok=True)
    # no link may lead the file, or a folder made for it, out of the inbox: each folder is
    # checked before the next one is made in it
    step = inbox
    for part in folder.relative_to(inbox).parts:
        step = step / part
        if step.is_symlink():
            raise CannotLand(f"收件箱中的文件夹 {step.relative_to(inbox)} 是链接，不予写入")
        step.mkdir(exist_ok=True)
    # a file of that name with other bytes (the same bytes again: a pull that died before
    # recording this landing lands it once more, replacing nothing)
    replaced = target.is_file() and _file_sha256(target) != sha256_of(data)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".landing-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o640)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Landed(rel, sha256_of(data), replaced)
