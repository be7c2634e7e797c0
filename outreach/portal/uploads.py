"""An upload through the portal: checked at once, then submitted or dropped by the unit.

``check`` takes the files a signed-in account sent (one or more workbooks, or a zip), sorts them
out with intake's guards (types, sizes, zip bombs, names that are paths), lays the ones taken out
in a private staging folder as the inbox would hold them for the account's unit, and runs the
night's own reading on them in the sandbox (``outreach.intake.dry_run``): which dataset each sheet
is, the rows that would load, the rows returned with row, column and why. Nothing reaches the
inbox. ``submit`` lands the staged files for the account's unit (the account decides the folder,
never the file name or a form field) and records them in intake's fetch ledger (channel
``portal``), so 我的报送 and ``fct_submissions`` show them with the mail and folders' files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingest.places import load_gazetteer
from ingest.senders import township_names
from outreach.intake.attachments import Refusal, sort_out
from outreach.intake.dry_run import FileCheck, dry_run
from outreach.intake.land import CannotLand, target_rel
from outreach.intake.ledger import Entry, Ledger, open_ledger
from outreach.intake.pull import take
from outreach.intake.receipts import return_list
from outreach.portal.accounts import Account
from outreach.settings import Settings

MAX_FILES = 20  # files (or zip members) in one upload
CHANNEL = "portal"
RETURN_LIST = "退回清单.xlsx"  # beside the staged files (not one of them)
STAGED_FOR = dt.timedelta(hours=24)  # an upload neither submitted nor dropped is deleted after


class UploadError(ValueError):
    """The upload as a whole cannot be taken (too many files, an unknown or foreign token)."""


@dataclass
class UploadCheck:
    token: str  # names the staging folder; only the account that made it may submit it
    files: list[tuple[str, FileCheck]] = field(default_factory=list)  # (name, check)
    refused: list[Refusal] = field(default_factory=list)
    has_return_list: bool = False  # the rows returned, as a 退回清单 workbook to download

    @property
    def can_submit(self) -> bool:
        return any(check.readable for _, check in self.files)


def _staging(settings: Settings) -> Path:
    folder = settings.home / "portal" / "staging"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def sweep(settings: Settings, now: float | None = None) -> int:
    """Delete uploads checked and then neither submitted nor dropped within ``STAGED_FOR``
    (they hold personal data); returns how many. Run at every new check."""
    cutoff = (now if now is not None else time.time()) - STAGED_FOR.total_seconds()
    gone = 0
    for root in _staging(settings).iterdir():
        if root.is_dir() and not root.is_symlink() and root.stat().st_mtime < cutoff:
            shutil.rmtree(root, ignore_errors=True)
            gone += 1
    return gone


def check(settings: Settings, account: Account, uploaded: list[tuple[str, bytes]]) -> UploadCheck:
    if account.unit is None:
        raise UploadError("组织部管理员账号不代表任何报送单位，请用报送单位的账号上传")
    sweep(settings)
    token = secrets.token_urlsafe(16)
    root = _staging(settings) / token
    root.mkdir()
    result = UploadCheck(token)
    pieces = []
    for name, data in uploaded:
        taken, refused = sort_out(name, data)
        pieces.extend(taken)
        result.refused.extend(refused)
    if len(pieces) > MAX_FILES:
        raise UploadError(
            f"一次最多上传 {MAX_FILES} 个文件（含压缩包内的文件），本次有 {len(pieces)} 个"
        )
    staged: dict[str, str] = {}  # rel under the staging root -> the name shown
    for piece in pieces:
        try:
            rel = target_rel(account.unit, piece.name)
        except CannotLand as exc:
            result.refused.append(Refusal(piece.name, str(exc), len(piece.data), piece.inside))
            continue
        if rel in staged:
            result.refused.append(
                Refusal(
                    piece.name,
                    "同一次上传中有两个同名文件，请改名后重新上传",
                    len(piece.data),
                    piece.inside,
                )
            )
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(piece.data)
        staged[rel] = piece.name
    checks = dry_run(settings, list(staged), root=root) if staged else {}
    result.files = [(name, checks[rel]) for rel, name in staged.items() if rel in checks]
    # a file that cannot be read is named with the reason and never submitted: the night would
    # only quarantine it
    readable = {rel: name for rel, name in staged.items() if rel in checks and checks[rel].readable}
    (root / "owner.json").write_text(
        json.dumps({"username": account.username, "files": readable}, ensure_ascii=False),
        encoding="utf-8",
    )
    townships = frozenset(township_names(load_gazetteer(Path(settings.gazetteer))))
    when = dt.datetime.now(settings.tz).strftime("%Y-%m-%d %H:%M")
    result.has_return_list = bool(checks) and return_list(
        root / RETURN_LIST,
        account.unit.provider,
        list(checks.values()),
        f"门户预检查 {when}",
        townships,
    )
    return result


def return_list_path(settings: Settings, account: Account, token: str) -> Path | None:
    """The 退回清单 of the account's upload ``token`` as xlsx, if it returned anything."""
    root, _ = _owned(settings, account, token)
    path = root / RETURN_LIST
    return path if path.is_file() else None


def _owned(settings: Settings, account: Account, token: str) -> tuple[Path, dict]:
    if not token or not token.replace("-", "").replace("_", "").isalnum():
        raise UploadError("上传已失效，请重新上传")
    root = _staging(settings) / token
    try:
        owner = json.loads((root / "owner.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UploadError("上传已失效，请重新上传") from exc
    if owner.get("username") != account.username:
        raise UploadError("上传已失效，请重新上传")  # another account's token: say nothing more
    return root, owner["files"]


def submit(settings: Settings, account: Account, token: str) -> list[Entry]:
    """Land the checked files of ``token`` for the account's unit; recorded in the ledger."""
    root, files = _owned(settings, account, token)
    ledger: Ledger = open_ledger(settings.intake_dir)
    entries = []
    try:
        for rel, name in files.items():
            base = {"channel": CHANNEL, "source_key": f"{token}/{name}", "sender": account.username}
            # the same landing as mail and shared folders: a duplicate, or landed for the unit
            taken = take(ledger, settings, account.unit, base, name, (root / rel).read_bytes())
            with ledger.transaction() as con:
                for entry in taken:
                    Ledger.add(con, entry)
            entries.extend(taken)
    finally:
        ledger.close()
    shutil.rmtree(root, ignore_errors=True)
    return entries


def drop(settings: Settings, account: Account, token: str) -> None:
    """The unit chose to fix the files first: the staged copies are deleted."""
    root, _ = _owned(settings, account, token)
    shutil.rmtree(root, ignore_errors=True)
