"""``config/senders.yml``: intake's channels, and who sends from where.

::

    channels:                      # none: nothing is pulled (the embedded default)
      - name: mailbox              # the ledger's name for the channel
        kind: imap                 # imap | folder
        connection: outreach_mailbox   # an Airflow Connection: host, port, login, password
        folder: INBOX              # the mailbox folder read (EXAMINE: never marked read)
        move_to: 已收取             # optional: handled mail is moved there
      - name: partner_sftp
        kind: folder
        connection: outreach_sftp  # conn_type sftp | ftp | smb | webdav, host, login, password
        path: /upload              # the remote folder under which units' folders sit
    senders:
      - {address: baocheng@163.com, provider: townships, unit: 保城镇}
      - {address: [jmz@163.com, jmz2@qq.com], provider: townships, unit: 加茂镇}
      - {channel: partner_sftp, folder: 响水镇, provider: townships, unit: 响水镇,
         receipt_to: xsz@163.com}   # optional: who gets the receipts of that folder's files
      - {address: lhzb@163.com, provider: joint_branches, unit: 什玲镇/什玲联合党支部}
      - {address: bgs@example.com, provider: county}

A mail's sender is its ``From`` address; a remote file's is the mapped folder it sits in. The
unit is a township as the gazetteer writes it (``保城 `` and ``保城镇`` both name 保城镇), a
joint branch (``<乡镇>/<支部>`` or ``<支部>``), an enterprise's name, or nothing for the
department (``county``). Credentials never appear here: only the Connection's id.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.discover import PROVIDERS
from ingest.places import Gazetteer, load_gazetteer

CHANNEL_KINDS = ("imap", "folder")


class SendersError(ValueError):
    """config/senders.yml cannot be used as written."""


@dataclass(frozen=True)
class Channel:
    name: str
    kind: str  # imap | folder
    connection: str  # the Airflow Connection's id
    folder: str = "INBOX"  # imap: the folder read
    move_to: str | None = None  # imap: where handled mail goes, if anywhere
    path: str = "/"  # folder: the remote root


@dataclass(frozen=True)
class Unit:
    provider: str  # townships | joint_branches | enterprises | county
    folders: tuple[str, ...] = ()  # below the provider's folder: ('保城镇',)

    @property
    def inbox_rel(self) -> str:
        """``townships/保城镇``: the unit's folder under the inbox."""
        return "/".join((self.provider, *self.folders))

    @property
    def label(self) -> str:
        return "/".join(self.folders) or self.provider


@dataclass(frozen=True)
class SenderMap:
    channels: tuple[Channel, ...] = ()
    by_address: dict[str, Unit] = field(default_factory=dict)
    by_folder: dict[tuple[str, str], Unit] = field(default_factory=dict)  # (channel, folder)
    # (channel, folder) -> the address that gets the receipts of files taken from that folder
    receipt_to: dict[tuple[str, str], str] = field(default_factory=dict)

    def for_address(self, address: str) -> Unit | None:
        return self.by_address.get(normal_address(address))

    def for_path(self, channel: str, rel: str) -> tuple[Unit | None, str]:
        """The unit of a file at ``rel`` (under the channel's root) and the mapped folder it
        sits in ('' when none): the deepest mapped folder that holds it."""
        parts = rel.strip("/").split("/")[:-1]
        for depth in range(len(parts), 0, -1):
            folder = "/".join(parts[:depth])
            unit = self.by_folder.get((channel, folder))
            if unit is not None:
                return unit, folder
        return None, ""


def normal_address(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


def safe_component(text: str) -> str | None:
    """``text`` as one folder or file name in the inbox, or None when it cannot be one (empty,
    a path, a dot name, control characters)."""
    name = unicodedata.normalize("NFC", str(text)).strip()
    if not name or name in (".", "..") or name.startswith("."):
        return None
    if any(c in name for c in "/\\\x00") or any(unicodedata.category(c) == "Cc" for c in name):
        return None
    if len(name.encode("utf-8")) > 240:
        return None
    return name


def parse_unit(entry: dict, gazetteer: Gazetteer, where: str) -> Unit:
    """The unit ``entry`` names (``provider`` and ``unit``, as senders.yml writes them), checked
    against the gazetteer; the portal's accounts name their units the same way."""
    provider = str(entry.get("provider") or "").strip()
    if provider not in PROVIDERS:
        raise SendersError(f"{where}: provider must be one of {', '.join(PROVIDERS)}")
    raw = str(entry.get("unit") or "").strip().strip("/")
    if provider == "county":
        if raw:
            raise SendersError(f"{where}: the department (county) has no unit")
        return Unit(provider)
    parts = [p.strip() for p in raw.split("/")] if raw else []
    if not parts or any(safe_component(p) is None for p in parts):
        raise SendersError(f"{where}: unit {raw!r} is not a unit's name")
    if provider == "townships":
        if len(parts) != 1:
            raise SendersError(f"{where}: a township's unit is its name alone, got {raw!r}")
        township, problem = gazetteer.match_township(parts[0])
        if township is None:
            raise SendersError(f"{where}: {problem.message}")
        return Unit(provider, (township.name,))
    if provider == "joint_branches":
        if len(parts) > 2:
            raise SendersError(f"{where}: a joint branch is <乡镇>/<支部> or <支部>, got {raw!r}")
        if len(parts) == 2:
            township, problem = gazetteer.match_township(parts[0])
            if township is None:
                raise SendersError(f"{where}: {problem.message}")
            parts[0] = township.name
        return Unit(provider, tuple(safe_component(p) for p in parts))
    if len(parts) != 1:
        raise SendersError(f"{where}: an enterprise's unit is its name alone, got {raw!r}")
    return Unit(provider, (safe_component(parts[0]),))


def _channel(entry: dict, where: str) -> Channel:
    name = str(entry.get("name") or "").strip()
    kind = str(entry.get("kind") or "").strip()
    connection = str(entry.get("connection") or "").strip()
    if safe_component(name) is None:
        raise SendersError(f"{where}: a channel needs a name")
    if kind not in CHANNEL_KINDS:
        raise SendersError(f"{where}: kind must be one of {', '.join(CHANNEL_KINDS)}")
    if not connection:
        raise SendersError(f"{where}: a channel names the Airflow Connection of its credentials")
    unknown = set(entry) - {"name", "kind", "connection", "folder", "move_to", "path"}
    if unknown:
        raise SendersError(
            f"{where}: unknown keys {sorted(unknown)} (credentials belong in the "
            "Airflow Connection)"
        )
    return Channel(
        name=name,
        kind=kind,
        connection=connection,
        folder=str(entry.get("folder") or "INBOX"),
        move_to=(str(entry["move_to"]) if entry.get("move_to") else None),
        path=str(entry.get("path") or "/"),
    )


def load_senders(path: Path, gazetteer_path: Path) -> SenderMap:
    """The sender map of ``path``; an absent file is an empty map (no channel, no sender)."""
    if not path.exists():
        return SenderMap()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SendersError(f"{path}: cannot be read as YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise SendersError(f"{path}: expected a mapping with channels and senders")
    gazetteer = load_gazetteer(gazetteer_path)
    channels = tuple(
        _channel(e if isinstance(e, dict) else {}, f"{path}: channels[{i}]")
        for i, e in enumerate(doc.get("channels") or [])
    )
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise SendersError(f"{path}: two channels share a name")
    by_address: dict[str, Unit] = {}
    by_folder: dict[tuple[str, str], Unit] = {}
    receipt_to: dict[tuple[str, str], str] = {}
    for i, entry in enumerate(doc.get("senders") or []):
        where = f"{path}: senders[{i}]"
        if not isinstance(entry, dict):
            raise SendersError(f"{where}: expected a mapping")
        unit = parse_unit(entry, gazetteer, where)
        if entry.get("address"):
            addresses = entry["address"]
            for address in [addresses] if isinstance(addresses, str) else addresses:
                key = normal_address(str(address))
                if "@" not in key:
                    raise SendersError(f"{where}: {address!r} is not a mail address")
                if by_address.get(key, unit) != unit:
                    raise SendersError(f"{where}: {key} is mapped to two units")
                by_address[key] = unit
        elif entry.get("folder") is not None and entry.get("channel"):
            channel = str(entry["channel"])
            if channel not in names:
                raise SendersError(f"{where}: no channel named {channel!r}")
            folder = str(entry["folder"]).strip().strip("/")
            if not folder or any(safe_component(p) is None for p in folder.split("/")):
                raise SendersError(f"{where}: folder {entry['folder']!r} is not a folder's path")
            if by_folder.get((channel, folder), unit) != unit:
                raise SendersError(f"{where}: {channel}:{folder} is mapped to two units")
            by_folder[(channel, folder)] = unit
            if entry.get("receipt_to"):
                address = normal_address(str(entry["receipt_to"]))
                if "@" not in address:
                    raise SendersError(
                        f"{where}: receipt_to {entry['receipt_to']!r} is not a mail address"
                    )
                receipt_to[(channel, folder)] = address
        else:
            raise SendersError(f"{where}: give an address, or a channel and a folder")
    return SenderMap(channels, by_address, by_folder, receipt_to)
