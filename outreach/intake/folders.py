"""Remote folders (SFTP first; FTP, SMB and WebDAV with the same code) through fsspec.

Each pull lists the channel's folder recursively. A file is taken once its size and stamp
(mtime, or etag where the server gives one) are the same in two listings, so a file still being
uploaded is left for the next pull; a file taken is taken again only when it changes. Nothing is
ever deleted or written at the source. The mapped folder a file sits in (``senders.yml``:
``channel`` + ``folder``) decides its unit; a file in no mapped folder is recorded once as from
an unknown sender and not loaded. A mapping's ``receipt_to`` gets a receipt for each file taken
from its folder, as a mail's sender does.

The Connection: ``conn_type`` sftp, ftp, smb or webdav, host, port, login, password (for WebDAV
the schema is the path of the DAV root and ``extra`` ``{"scheme": "http"}`` is allowed only to
this machine); for SFTP ``extra``
may hold ``key_file`` (a private key's path) and should hold ``host_key`` (the server's key as
``ssh-ed25519 AAAA…``, as ``ssh-keyscan`` prints it): with it, a server presenting another key
is refused (no man in the middle).
"""

from __future__ import annotations

import base64
import posixpath
from typing import Any

import paramiko

from outreach.intake import receipts
from outreach.intake.attachments import MAX_FILE_BYTES
from outreach.intake.imap import is_loopback
from outreach.intake.ledger import Entry, Ledger, now
from outreach.intake.senders import Channel, SenderMap
from outreach.settings import Settings


class FolderError(RuntimeError):
    """The remote folder could not be read; nothing was changed."""


def filesystem(conn_id: str):
    """An fsspec file system for the Connection ``conn_id``."""
    import fsspec

    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # no such connection: this channel fails, the others still run
        raise FolderError(f"找不到连接 {conn_id}：{type(exc).__name__}: {exc}") from exc
    kind = (conn.conn_type or "").lower()
    extra: dict[str, Any] = conn.extra_dejson or {}
    host = conn.host or ""
    try:
        if kind == "sftp":
            kwargs: dict[str, Any] = {
                "username": conn.login,
                "port": conn.port or 22,
                "timeout": 60,
            }
            if conn.password:
                kwargs["password"] = conn.password
            if extra.get("key_file"):
                kwargs["key_filename"] = extra["key_file"]
                kwargs["look_for_keys"] = False
            expected = extra.get("host_key")
            if not expected and not is_loopback(host):
                raise FolderError(
                    f"连接 {conn_id} 须在 extra 中登记服务器的主机密钥 host_key（ssh-keyscan 所示），"
                    "否则无法确认不是冒充的服务器"
                )
            # checked during the key exchange, before any password or key is offered
            kwargs["host_key_policy"] = _PinnedHostKey(expected, host)
            return fsspec.filesystem("sftp", host=host, skip_instance_cache=True, **kwargs)
        if kind in ("ftp", "smb"):
            options: dict[str, Any] = {}
            if kind == "ftp":
                options["tls"] = bool(extra.get("tls"))
                if not options["tls"] and not is_loopback(host):
                    raise FolderError(
                        f"FTP 会明文发送密码：{host} 请用 FTPS（extra 中 tls 为 true）或 SFTP"
                    )
            return fsspec.filesystem(
                kind,
                host=host,
                port=conn.port or {"ftp": 21, "smb": 445}[kind],
                username=conn.login,
                password=conn.password,
                skip_instance_cache=True,
                **options,
            )
        if kind in ("webdav", "dav"):
            scheme = str(extra.get("scheme") or "https")
            if scheme != "https" and not is_loopback(host):
                raise FolderError(f"WebDAV 须用 https 连接 {host}（明文只允许连到本机）")
            port = f":{conn.port}" if conn.port else ""
            base = f"{scheme}://{host}{port}/{(conn.schema or '').strip('/')}"
            return fsspec.filesystem(
                "webdav", base_url=base, auth=(conn.login, conn.password), skip_instance_cache=True
            )
    except FolderError:
        raise
    except Exception as exc:  # paramiko, ftplib and socket errors of every kind
        raise FolderError(f"无法连接 {kind}://{host}：{type(exc).__name__}: {exc}") from exc
    raise FolderError(f"连接 {conn_id} 的类型 {kind!r} 不受支持（sftp、ftp、smb、webdav）")


class _PinnedHostKey(paramiko.MissingHostKeyPolicy):
    """A paramiko host-key policy: the server's key must be the Connection's ``host_key``
    (``ssh-ed25519 AAAA…``); without one (a server on this machine) any key is taken."""

    def __init__(self, expected: str | None, host: str) -> None:
        parts = str(expected or "").split()
        self.expected = parts[1] if len(parts) >= 2 else (parts[0] if parts else None)
        self.host = host

    def missing_host_key(self, client, hostname, key) -> None:
        if self.expected is not None and base64.b64encode(key.asbytes()).decode() != self.expected:
            raise paramiko.SSHException(
                f"{self.host} 的主机密钥与连接中登记的不同，拒绝连接（可能被冒充）"
            )


def close(fs) -> None:
    """Close the file system's connection: an SMB session's receiving thread would otherwise
    keep the task's process alive at exit. Never raises."""
    try:
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        if protocol == "smb":
            import smbclient

            smbclient.delete_session(fs.host, port=fs._port)
        elif protocol in ("sftp", "ssh"):
            fs.client.close()
        elif protocol == "ftp":
            fs.ftp.close()
        elif protocol in ("webdav", "dav"):
            fs.client.http.close()
    except Exception:  # already closed, or half-open after an error
        pass


def _under(path: str, root: str) -> str:
    """``path`` below ``root``, whichever of them the file system writes with a leading slash
    (WebDAV's paths have none)."""
    p, r = path.strip("/"), root.strip("/")
    return p[len(r) + 1 :] if r and p.startswith(r + "/") else p


def _stamp(info: dict) -> str:
    for key in ("etag", "ETag", "mtime", "modify", "modified", "LastModified", "time"):
        if info.get(key) is not None:
            return str(info[key])
    return ""


def pull_folder(
    ledger: Ledger, settings: Settings, senders: SenderMap, channel: Channel, result
) -> None:
    fs = filesystem(channel.connection)
    try:
        _pull(fs, ledger, settings, senders, channel, result)
    finally:
        close(fs)


def _pull(
    fs, ledger: Ledger, settings: Settings, senders: SenderMap, channel: Channel, result
) -> None:
    from outreach.intake.pull import take

    root = channel.path.rstrip("/") or "/"
    try:
        listing = fs.find(root, detail=True)
    except Exception as exc:
        raise FolderError(f"无法列出 {channel.name}:{root}：{exc}") from exc
    for path, info in sorted(listing.items()):
        if info.get("type") not in (None, "file"):
            continue
        rel = _under(path, root)
        name = posixpath.basename(rel)
        if name.startswith(("~$", ".")):  # lock files and files still being uploaded
            continue
        size, stamp = int(info.get("size") or 0), _stamp(info)
        seen = ledger.con.execute(
            "select size, stamp, taken, seen_at from remote_files where channel = ? and path = ?",
            (channel.name, rel),
        ).fetchone()
        if seen is None or (seen[0], seen[1]) != (size, stamp):
            with ledger.transaction() as con:  # not stable yet: taken at a later listing
                con.execute(
                    "insert into remote_files values (?, ?, ?, ?, ?, 0) on conflict (channel, path) "
                    "do update set size = excluded.size, stamp = excluded.stamp, "
                    "seen_at = excluded.seen_at, taken = 0",
                    (channel.name, rel, size, stamp, now()),
                )
            continue
        if seen[2]:
            continue  # taken, unchanged since
        unit, folder = senders.for_path(channel.name, rel)
        base = {
            "channel": channel.name,
            "source_key": f"{rel}@{stamp}",
            "sender": f"{channel.name}:{posixpath.dirname(rel)}",
            "received_at": seen[3],  # the listing that first showed this version
        }
        if unit is None:
            entries = [
                Entry(
                    **base,
                    status="unknown_sender",
                    original_name=name,
                    size=size,
                    reason=f"文件夹 {posixpath.dirname(rel) or '/'} 未登记为任何报送单位（config/senders.yml），未收取",
                )
            ]
        elif size > MAX_FILE_BYTES:
            entries = [
                Entry(
                    **base,
                    status="refused",
                    provider=unit.provider,
                    unit=unit.label,
                    original_name=name,
                    size=size,
                    reason=f"文件超过 {MAX_FILE_BYTES // 2**20} MB，未收取",
                )  # fmt: skip
            ]
        else:
            try:
                data = fs.cat_file(path)
            except Exception as exc:  # unreadable here (permissions): recorded, never blocking
                data = None
                entries = [
                    Entry(**base, status="refused", provider=unit.provider, unit=unit.label,
                          original_name=name, size=size,
                          reason=f"共享文件夹中的文件无法读取（{type(exc).__name__}），改动后会再次收取")
                ]  # fmt: skip
            if data is not None and len(data) != size:
                continue  # changed while being read: the next listing sees it again
            if data is not None:
                entries = take(ledger, settings, unit, base, name, data)
        with ledger.transaction() as con:
            for entry in entries:
                Ledger.add(con, entry)
            con.execute(
                "update remote_files set taken = 1 where channel = ? and path = ?",
                (channel.name, rel),
            )
            address = senders.receipt_to.get((channel.name, folder)) if unit else None
            if address:
                receipts.owe_receipt(
                    con, channel.name, base["source_key"], address, f"{folder}/{name}"
                )
        for entry in entries:
            result.counts[entry.status] += 1
        result.messages += 1
