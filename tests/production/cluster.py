"""docker-compose's Airflow deployment, run outside containers on this machine's PostgreSQL and
Redis: the environment comes from docker-compose.yml (with .env.example filled in as an operator
would), and only what a container network provides is replaced: host names, ports, paths.

Every process is started in its own session and stopped by its PID (its process group).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from tests.integration.test_compose import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    REQUIRED_REFERENCE,
    command_words,
    image_env,
    read_env_file,
    service_env,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_URL = "redis://127.0.0.1:6379/0"

# What a container network gives and this machine does not: the only keys the test changes in
# docker-compose.yml's environment (tests check that nothing else is overridden).
LOCAL_ENDPOINTS = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "OUTREACH_HOME",
}
# Test-only settings, added on top (none of them is in docker-compose.yml):
# - the scheduler does not start the nightly schedule by itself (the test triggers runs);
# - the Celery queue is private to this test run, so a stray worker never takes its tasks;
# - one API worker process instead of four (two cores);
# - the DAGs folder the image sets in its Dockerfile, and where Airflow keeps its files.
TEST_ONLY = {
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE",
    "AIRFLOW__OPERATORS__DEFAULT_QUEUE",
    "AIRFLOW__API__WORKERS",
    "AIRFLOW__API__PORT",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW_HOME",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg():
    import psycopg2

    con = psycopg2.connect(dbname="postgres", **PG)
    con.autocommit = True
    return con


def create_database(name: str) -> None:
    con = _pg()
    try:
        con.cursor().execute(f'create database "{name}"')
    finally:
        con.close()


def drop_database(name: str) -> None:
    con = _pg()
    try:
        cur = con.cursor()
        cur.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", [name]
        )
        cur.execute(f'drop database if exists "{name}"')
    finally:
        con.close()


@dataclass
class Cluster:
    root: Path
    smtp_port: int
    admin_password: str = field(default_factory=lambda: uuid.uuid4().hex)
    database: str = field(default_factory=lambda: f"outreach_test_{uuid.uuid4().hex[:12]}")
    queue: str = field(default_factory=lambda: f"outreach-test-{uuid.uuid4().hex[:12]}")
    api_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _operator_env: dict[str, str] | None = None

    @property
    def home(self) -> Path:
        return self.root / "outreach"

    @property
    def logs(self) -> Path:
        return self.root / "process-logs"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def compose(self) -> dict:
        return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))

    def operator_env(self) -> dict[str, str]:
        """.env as an operator fills it in from .env.example: once, the same for every service
        (the JWT secret, for one, must be shared)."""
        if self._operator_env is None:
            self._operator_env = self._fill_env()
        return dict(self._operator_env)

    def _fill_env(self) -> dict[str, str]:
        values = read_env_file(ENV_EXAMPLE)
        # the secrets docker-compose.yml requires get one; optional values stay as they are
        required = set(REQUIRED_REFERENCE.findall(COMPOSE_FILE.read_text(encoding="utf-8")))
        for key in required:
            values[key] = values.get(key) or f"{key.lower().strip('_')}-{uuid.uuid4().hex}"
        values["_AIRFLOW_ADMIN_PASSWORD"] = self.admin_password
        values["OUTREACH_PII_KEY"] = "production-test-key-0123456789"
        values["AIRFLOW_FERNET_KEY"] = _fernet_key()
        values["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": self.smtp_port,
                "extra": {
                    "to": ["zuzhibu@example.org"],
                    "from_email": "outreach@example.org",
                    "disable_ssl": True,
                    "disable_tls": True,
                },
            }
        )
        return values

    def service_environment(self, service: str) -> dict[str, str]:
        """The environment docker-compose.yml gives ``service``, with local endpoints."""
        env = service_env(self.compose()["services"][service], self.operator_env())
        db = f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{self.database}"
        local = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
            "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{db}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                self.root / "auth" / "passwords.json"
            ),
            "OUTREACH_HOME": str(self.home),
        }
        assert set(local) <= set(env) | {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"}
        test_only = {
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW_HOME": str(self.root / "airflow"),
        }
        assert set(test_only) == TEST_ONLY and not set(test_only) & set(env)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OUTREACH_"))}
        return {
            **base,
            # what the image's ENV gives every container, under compose's environment
            **image_env(),
            **env,
            **local,
            **test_only,
            "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PYTHONPATH": str(ROOT),
        }

    # --- lifecycle ---------------------------------------------------------------------------

    def init(self) -> None:
        """airflow-init's own script: migrate, the writer pool, the admin's password."""
        create_database(self.database)
        (self.root / "auth").mkdir(parents=True, exist_ok=True)
        flag, script = command_words(self.compose()["services"]["airflow-init"]["command"])
        env = self.service_environment("airflow-init")
        result = subprocess.run(
            ["/bin/bash", flag, script.replace("$$", "$")],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    def start(self, name: str, service: str, args: list[str], **extra_env: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        out = (self.logs / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [str(BIN / "airflow"), *args],
            env=self.service_environment(service) | extra_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,  # its own process group: stopped with everything it forks
        )

    def start_all(self) -> None:
        for service in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"):
            command = self.compose()["services"][service]["command"]
            self.start(service, service, list(command))
        self.start("airflow-triggerer", "airflow-triggerer", ["triggerer"])
        for n in (1, 2):
            self.start(
                f"airflow-worker-{n}",
                "airflow-worker",
                [
                    *self.compose()["services"]["airflow-worker"]["command"],
                    "--queues",
                    self.queue,
                    "--concurrency",
                    "2",
                    "--celery-hostname",
                    f"worker-{n}@%h",
                    # two workers on one host cannot both serve logs on port 8793; the test reads
                    # the task logs from disk
                    "--skip-serve-logs",
                ],
                AIRFLOW__CORE__HOSTNAME_CALLABLE="tests.production.worker_names.worker_name",
                OUTREACH_TEST_WORKER_NAME=f"worker-{n}",
            )

    def stop(self) -> list[int]:
        """SIGTERM each process group, then SIGKILL what is left; returns the PIDs stopped."""
        for proc in self.processes.values():
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(10)
        return [p.pid for p in self.processes.values()]

    def dead(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]

    def log_tails(self, lines: int = 40) -> str:
        out = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    # --- the REST API ------------------------------------------------------------------------

    def client(self) -> httpx.Client:
        token = httpx.post(
            f"{self.api}/auth/token",
            json={"username": "admin", "password": self.admin_password},
            timeout=30,
        )
        token.raise_for_status()
        return httpx.Client(
            base_url=f"{self.api}/api/v2",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=60,
        )

    def wait_for(self, what: str, probe, timeout: float, every: float = 2.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.dead():
                raise AssertionError(
                    f"{self.dead()} exited while waiting for {what}\n{self.log_tails()}"
                )
            try:
                result = probe()
                if result:
                    return result
                last = result
            except (httpx.HTTPError, OSError) as exc:
                last = exc
            time.sleep(every)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})\n{self.log_tails()}")


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
