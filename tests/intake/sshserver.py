"""A real SFTP server for the intake tests: OpenSSH's sshd (Debian's openssh-server, installed
by ``make mail-deps``), from a configuration in a temporary folder on a free loopback port,
key login only, the sftp subsystem internal."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from tests.intake.mailserver import LocalServer, free_port

SSHD = "/usr/sbin/sshd"


class Sshd(LocalServer):
    name = "sshd"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.proc: subprocess.Popen | None = None
        self.host_key = root / "host_ed25519"
        self.client_key = root / "client_ed25519"
        for key in (self.host_key, self.client_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True
            )
        (root / "authorized_keys").write_text(
            (root / "client_ed25519.pub").read_text(), encoding="utf-8"
        )
        os.chmod(root / "authorized_keys", 0o600)
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
        (root / "sshd_config").write_text(
            f"""
Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key}
PidFile {root / "sshd.pid"}
AuthorizedKeysFile {root / "authorized_keys"}
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
""",
            encoding="utf-8",
        )

    @property
    def host_key_line(self) -> str:
        return (self.root / "host_ed25519.pub").read_text().strip()

    def command(self) -> list[str]:
        return [SSHD, "-D", "-e", "-f", str(self.root / "sshd_config")]

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
