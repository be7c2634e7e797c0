"""The production deployment files, checked without Docker (there is no engine where they are made).

``docker-compose.yml``, ``Dockerfile``, ``.dockerignore`` and ``.env.example`` are read as data:
the services and their wiring; every Airflow command in them against the Airflow 3.3.2 CLI of
this environment (one subprocess runs the ``airflow`` console script's entry point with
``--help`` for each); every ``AIRFLOW__*`` option against Airflow's configuration reference;
every ``OUTREACH_*`` variable against ``outreach/settings.py``; every secret as a required
``${VAR:?...}`` reference; and the ``airflow-init`` script, run with a stand-in ``airflow``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

from outreach.airflow.embedded import WRITER_POOL

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
SETTINGS_FILE = ROOT / "outreach" / "settings.py"
LOCK = ROOT / "requirements.lock"

BASE_IMAGE = "apache/airflow:3.3.2-python3.11"
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
REQUIRED_SERVICES = {"postgres", "redis", *AIRFLOW_SERVICES}
COMPOSE_TOP_LEVEL = {"name", "services", "volumes", "networks", "secrets", "configs", "include"}

# Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error};
# "$$" is a literal "$" that Compose leaves to the container's shell.
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
REQUIRED_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_]\w*):\?[^}]*\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|_KEY$|AUTH$|^AIRFLOW_CONN_")
URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"]+")


class UnsetVariable(KeyError):
    """A ${VAR:?...} reference whose variable is unset or empty: Compose refuses to start."""


def interpolate(value: str, env: dict[str, str]) -> str:
    def substitute(m: re.Match) -> str:
        name, op, arg = m["name"], m["op"], m["arg"]
        current = env.get(name)
        if op == ":-":
            return current or arg
        if op == "-":
            return arg if current is None else current
        if (op == ":?" and not current) or (op == "?" and current is None):
            raise UnsetVariable(name)
        return current or ""

    return "$".join(INTERPOLATION.sub(substitute, part) for part in value.split("$$"))


def strings(node) -> list[str]:
    """Every string value in a parsed YAML tree (keys excluded)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z_]\w*", key), f"{path.name}:{number}: not KEY=VALUE"
        assert key not in values, f"{path.name}:{number}: {key} defined twice"
        if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
            value = value[1:-1]
        values[key] = value
    return values


def settings_variables() -> set[str]:
    """The OUTREACH_* variables outreach/settings.py reads (and documents in its docstring)."""
    text = SETTINGS_FILE.read_text(encoding="utf-8")
    read = set(re.findall(r"""env\.get\(\s*["'](OUTREACH_[A-Z_]+)["']""", text))
    documented = set(re.findall(r"^\| (OUTREACH_[A-Z_]+) \|", text, re.MULTILINE))
    assert read, "no env.get('OUTREACH_...') found in outreach/settings.py"
    assert read == documented, (
        f"settings.py reads {sorted(read)} but documents {sorted(documented)}"
    )
    return read


@pytest.fixture(scope="module")
def compose() -> dict:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def filled_env(env_example) -> dict[str, str]:
    """.env.example as an operator fills it: every empty value gets a (test) secret."""
    return {k: v or f"{k.lower().strip('_')}-0123456789abcdef" for k, v in env_example.items()}


def service_env(service: dict, env: dict[str, str]) -> dict[str, str]:
    return {k: interpolate(str(v), env) for k, v in (service.get("environment") or {}).items()}


def command_words(command) -> list[str]:
    return list(command) if isinstance(command, list) else shlex.split(command)


def airflow_calls(script: str) -> list[list[str]]:
    """The ``airflow ...`` invocations of a shell script (a "$VAR" argument becomes "x")."""
    calls = []
    for line in script.replace("$$", "$").splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["exec"]:
            words = words[1:]
        if words[:1] != ["airflow"]:
            continue
        argv = []
        for word in words[1:]:
            if word in {"|", "||", "&&", ";", ">", ">>", "2>&1"}:
                break
            argv.append("x" if "$" in word else word)
        calls.append(argv)
    return calls


def airflow_commands(compose: dict) -> list[tuple[str, list[str]]]:
    """(where, argv) of every Airflow CLI command the compose file runs."""
    services = compose["services"]
    found = []
    for name in sorted(AIRFLOW_SERVICES & services.keys()):
        service = services[name]
        command = service.get("command")
        assert command, f"{name} has no command"
        if service.get("entrypoint"):  # a shell script, e.g. airflow-init
            calls = airflow_calls(command_words(command)[-1])
            assert calls, f"{name}'s script runs no airflow command"
            found += [(f"{name} (script)", argv) for argv in calls]
        else:  # the image's entrypoint runs `airflow <command>`
            found.append((name, command_words(command)))
        test = (service.get("healthcheck") or {}).get("test") or []
        if test[:1] == ["CMD-SHELL"]:
            found += [(f"{name} (healthcheck)", argv) for argv in airflow_calls(test[1])]
        elif test[:2] == ["CMD", "airflow"]:
            found.append((f"{name} (healthcheck)", test[2:]))
    return found


def celery_app_paths(compose: dict) -> list[str]:
    paths = []
    for service in compose["services"].values():
        test = (service.get("healthcheck") or {}).get("test") or []
        words = shlex.split(test[1]) if test[:1] == ["CMD-SHELL"] else test[1:]
        if words[:1] == ["celery"] and "--app" in words:
            paths.append(words[words.index("--app") + 1])
    return paths


# --- the compose file ------------------------------------------------------------------------


def test_compose_file_is_compose_spec_yaml_without_version(compose):
    assert "version" not in compose, "the Compose spec has no `version:`; Compose warns on it"
    unknown = {k for k in compose if not k.startswith("x-")} - COMPOSE_TOP_LEVEL
    assert not unknown, f"not Compose spec top-level keys: {sorted(unknown)}"


def test_required_services_exist_and_the_worker_can_scale(compose):
    services = compose["services"]
    assert REQUIRED_SERVICES <= services.keys(), REQUIRED_SERVICES - services.keys()
    worker = services["airflow-worker"]
    # `--scale airflow-worker=3` needs distinct container names and no fixed host port.
    assert "container_name" not in worker
    assert not worker.get("ports")
    assert command_words(worker["command"]) == ["celery", "worker"]


def test_airflow_services_share_image_settings_and_the_outreach_volume(compose, filled_env):
    services, volumes = compose["services"], compose.get("volumes") or {}
    for name in AIRFLOW_SERVICES:
        service = services[name]
        build = service.get("build") or {}
        dockerfile = ROOT / build.get("context", "") / build.get("dockerfile", "Dockerfile")
        assert dockerfile.resolve() == DOCKERFILE, f"{name} is not built from ./Dockerfile"
        env = service_env(service, filled_env)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false", name
        assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"].lower() == "false", name
        for key in (
            "AIRFLOW__CORE__FERNET_KEY",
            "AIRFLOW__API_AUTH__JWT_SECRET",
            "AIRFLOW__API__SECRET_KEY",
            "OUTREACH_PII_KEY",
            "AIRFLOW_CONN_SMTP_DEFAULT",
        ):
            assert env.get(key), f"{name} lacks {key}"
        db = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert db.scheme == "postgresql+psycopg2" and db.hostname == "postgres", name
        backend = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"])
        assert backend.scheme == "db+postgresql+psycopg2" and backend.hostname == "postgres", name
        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert broker.scheme == "redis" and broker.hostname == "redis", name
        api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert (api.hostname, api.port, api.path) == ("airflow-apiserver", 8080, "/execution/")
        # OUTREACH_HOME is the mount point of the one named volume every Airflow service shares.
        home = env["OUTREACH_HOME"]
        mounts = [interpolate(v, filled_env) for v in service.get("volumes") or []]
        assert f"outreach-home:{home}" in mounts, f"{name}: OUTREACH_HOME {home} is not the volume"
    assert "outreach-home" in volumes


def test_services_start_in_order_with_healthchecks(compose):
    services = compose["services"]
    for name in ("postgres", "redis"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert any(
        v.split(":")[0] in (compose.get("volumes") or {}) and v.endswith("/var/lib/postgresql/data")
        for v in services["postgres"].get("volumes") or []
    ), "postgres keeps its data outside a named volume"
    assert services["airflow-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        depends = services[name].get("depends_on") or {}
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    # Workers run tasks through the execution API: the API server must be up first.
    worker_depends = services["airflow-worker"]["depends_on"]
    assert worker_depends["airflow-apiserver"]["condition"] == "service_healthy"


def test_no_host_port_is_published_twice(compose, filled_env):
    published = []
    for name, service in compose["services"].items():
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                published.append((port.get("host_ip", ""), str(port["published"])))
                continue
            parts = interpolate(str(port), filled_env).split("/")[0].split(":")
            assert len(parts) >= 2, f"{name}: {port} publishes a random host port"
            published.append((":".join(parts[:-2]), parts[-2]))
    assert published, "nothing is published: the UI would be unreachable"
    twice = [p for p, n in Counter(port for _, port in published).items() if n > 1]
    assert not twice, f"host ports published twice: {twice}"
    published_by = [s for s, v in compose["services"].items() if v.get("ports")]
    assert published_by == ["airflow-apiserver", "portal", "dashboard"]


def test_the_portal_and_the_dashboard_run_the_projects_image_over_the_outreach_volume(
    compose, filled_env
):
    """Both read the published warehouse and the portal's accounts on the volume the night
    writes; the dashboard listens beyond the container, where its sign-in guards it."""
    services = compose["services"]
    for name, module in (("portal", "outreach.portal"), ("dashboard", "outreach.dashboard")):
        service = services[name]
        assert command_words(service["command"])[:3] == ["python", "-m", module]
        env = service_env(service, filled_env)
        mounts = [interpolate(v, filled_env) for v in service.get("volumes") or []]
        assert f"outreach-home:{env['OUTREACH_HOME']}" in mounts, name
        assert services[name]["depends_on"]["airflow-init"]["condition"] == (
            "service_completed_successfully"
        )
        assert service["healthcheck"]["test"], name
    assert service_env(services["dashboard"], filled_env)["OUTREACH_DASHBOARD_ADDRESS"] == "0.0.0.0"
    assert "--host" in command_words(services["portal"]["command"])


def test_no_secret_is_written_in_the_compose_file(compose, env_example):
    required = set()
    for where, node in [("x-airflow-common", compose.get("x-airflow-common") or {})] + list(
        compose["services"].items()
    ):
        for key, value in (node.get("environment") or {}).items():
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):
                m = REQUIRED_REFERENCE.fullmatch(str(value))
                assert m, (
                    f"{where}: {key} must be a required ${{VAR:?...}} reference, not {value!r}"
                )
                required.add(m["name"])
    for value in strings(compose):
        # A reference becomes one token ("<NAME>" if required, "<<NAME>>" if not) so that a URL's
        # password can be told apart from a literal one.
        marked = REQUIRED_REFERENCE.sub(lambda m: f"<{m['name']}>", value)
        marked = INTERPOLATION.sub(lambda m: f"<<{m['name']}>>", marked)
        for url in URL.findall(marked):
            netloc = url.split("://", 1)[1].split("/", 1)[0]
            password = netloc.rpartition("@")[0].partition(":")[2] if "@" in netloc else ""
            if password:
                m = re.fullmatch(r"<(\w+)>", password)
                assert m, f"a password written into {url!r}: use ${{VAR:?...}}"
                required.add(m[1])
        for flag, given in re.findall(r"--(requirepass|password)[ =](\S+)", value):
            assert given.strip("'\"").startswith(("$$", "${")), (
                f"--{flag} {given}: a literal secret"
            )
    required |= {
        m["name"] for value in strings(compose) for m in REQUIRED_REFERENCE.finditer(value)
    }
    # .env.example leaves every required value empty, so an unfilled copy cannot start at all.
    filled = {name: env_example.get(name) for name in required if env_example.get(name)}
    assert not filled, f".env.example fills required secrets (Compose would accept them): {filled}"


def test_env_example_defines_every_variable_the_compose_file_uses(compose, env_example):
    # Compose interpolates values (not comments); "$$" is left to the container's shell.
    values = [value.replace("$$", "") for value in strings(compose)]
    bare = [m for value in values for m in re.findall(r"\$(?!\{)\S*", value)]
    assert not bare, f"unbraced or unescaped $ in docker-compose.yml: {bare} (write ${{VAR}} or $$)"
    used = {m["name"] for value in values for m in INTERPOLATION.finditer(value)}
    assert used, "docker-compose.yml takes nothing from .env"
    missing = sorted(used - env_example.keys())
    assert not missing, f"missing from .env.example: {missing}"


def test_outreach_variables_are_exactly_the_ones_settings_reads(compose, env_example):
    known = settings_variables()
    in_compose = {
        key
        for node in [compose.get("x-airflow-common") or {}, *compose["services"].values()]
        for key in (node.get("environment") or {})
        if key.startswith("OUTREACH_")
    }
    referenced = {
        m["name"]
        for value in strings(compose)
        for m in INTERPOLATION.finditer(value.replace("$$", ""))
        if m["name"].startswith("OUTREACH_")
    }
    in_example = {k for k in env_example if k.startswith("OUTREACH_")}
    assert not (in_compose | referenced) - known, (
        f"unknown to settings.py: {(in_compose | referenced) - known}"
    )
    assert not in_example - known, (
        f".env.example sets what settings.py never reads: {in_example - known}"
    )
    assert not known - in_example, f".env.example lacks {sorted(known - in_example)}"
    assert in_compose == known, f"not passed to the containers: {sorted(known - in_compose)}"


def test_env_example_values_are_placeholders(env_example):
    # Secrets stay empty (Compose then refuses to start); every other value is one settings.py
    # accepts as it stands.
    for key, value in env_example.items():
        if SECRET_NAME.search(key):
            assert value == "", f"{key} has a value in .env.example: leave secrets empty"
    from outreach.settings import load_settings

    example = {k: v for k, v in env_example.items() if k.startswith("OUTREACH_")}
    settings = load_settings(example | {"OUTREACH_PII_KEY": "0123456789abcdef"})
    assert str(settings.home) == env_example["OUTREACH_HOME"]
    assert settings.inbox == settings.home / "inbox"
    assert settings.gazetteer.is_file()


def test_env_file_is_kept_out_of_git():
    ignored = {line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()}
    assert ignored & {".env", "/.env", ".env*"}, ".gitignore must list .env (it holds the secrets)"


# --- airflow-init and the login ---------------------------------------------------------------


def run_init_script(
    compose, filled_env, tmp_path, **overrides
) -> tuple[subprocess.CompletedProcess, Path, Path]:
    service = compose["services"]["airflow-init"]
    assert service["entrypoint"] in ("/bin/bash", ["/bin/bash"])
    flag, script = command_words(service["command"])
    assert flag == "-c"
    stub = tmp_path / "bin"
    stub.mkdir()
    log = tmp_path / "airflow-calls.log"
    (stub / "airflow").write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n')
    (stub / "airflow").chmod(0o755)
    (stub / "python").symlink_to(sys.executable)
    passwords = tmp_path / "auth" / "passwords.json"
    passwords.parent.mkdir()
    env = service_env(service, filled_env) | {
        "PATH": f"{stub}:/usr/bin:/bin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        **overrides,
    }
    result = subprocess.run(
        ["/bin/bash", "-c", script.replace("$$", "$")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, log, passwords


def test_airflow_init_migrates_and_writes_the_admin_password(
    compose, filled_env, tmp_path, monkeypatch
):
    services = compose["services"]
    script = command_words(services["airflow-init"]["command"])[-1]
    # Compose would paste .env values into the command line (and `docker inspect`): none here.
    assert not INTERPOLATION.search(script.replace("$$", "")), "compose ${...} in the init script"
    env = service_env(services["airflow-init"], filled_env)
    target = env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    for name in ("airflow-init", "airflow-apiserver"):
        assert f"airflow-auth:{PurePosixPath(target).parent}" in services[name]["volumes"], (
            f"{name} does not mount the airflow-auth volume where the password file lives"
        )

    result, log, passwords = run_init_script(compose, filled_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        "db migrate",
        f"pools set {WRITER_POOL} 1 the single DuckDB writer",
    ]
    user, password = env["_AIRFLOW_ADMIN_USERNAME"], env["_AIRFLOW_ADMIN_PASSWORD"]
    assert json.loads(passwords.read_text()) == {user: password}
    assert passwords.stat().st_mode & 0o777 == 0o600
    assert password not in result.stdout + result.stderr

    # The API server's SimpleAuthManager, configured as compose configures it, takes that file
    # as it is: the user is an admin, the password matches, and nothing new is generated.
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    api_env = service_env(services["airflow-apiserver"], filled_env)
    assert api_env["AIRFLOW__CORE__AUTH_MANAGER"].endswith(".SimpleAuthManager")
    monkeypatch.setenv(
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
        api_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"],
    )
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
    assert [(u.username, u.role) for u in SimpleAuthManager.get_users()] == [(user, "admin")]
    before = passwords.read_text()
    SimpleAuthManager().init()
    assert passwords.read_text() == before
    assert SimpleAuthManager.get_passwords() == {user: password}


def test_airflow_init_refuses_an_empty_admin_password(compose, filled_env, tmp_path):
    result, log, passwords = run_init_script(
        compose, filled_env, tmp_path, _AIRFLOW_ADMIN_PASSWORD=""
    )
    assert result.returncode != 0
    assert "_AIRFLOW_ADMIN_PASSWORD" in result.stderr
    assert not log.exists(), "the database was migrated before the settings were checked"
    assert not passwords.exists()


# --- against the real Airflow 3.3.2 of this environment ---------------------------------------

PROBE = textwrap.dedent(
    """
    import contextlib, importlib, io, json, sys
    from importlib.metadata import entry_points

    request = json.loads(sys.stdin.read())
    report = {"commands": [], "unknown_options": [], "imports": {}}

    main = entry_points(group="console_scripts")["airflow"].load()
    for argv in request["commands"]:
        out, err = io.StringIO(), io.StringIO()
        sys.argv = ["airflow", *argv, "--help"]
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        report["commands"].append({"argv": argv, "code": code, "error": err.getvalue()[-400:]})

    from airflow.configuration import conf

    description = conf.configuration_description
    for key in request["options"]:
        _, section, option = key.lower().split("__", 2)
        if option not in description.get(section, {}).get("options", {}):
            report["unknown_options"].append(key)

    def check(label, load):
        try:
            load()
            report["imports"][label] = ""
        except Exception as exc:
            report["imports"][label] = f"{type(exc).__name__}: {exc}"

    def attribute(path):
        module, _, name = path.rpartition(".")
        return getattr(importlib.import_module(module), name)

    for path in request["attributes"]:
        check(path, lambda path=path: attribute(path))
    for module in request["modules"]:
        check(module, lambda module=module: importlib.import_module(module))
    from sqlalchemy.engine import make_url

    for url in request["sqlalchemy_urls"]:
        check(url, lambda url=url: make_url(url).get_dialect().import_dbapi())

    def executor():
        from airflow.executors.executor_loader import ExecutorLoader

        ExecutorLoader.import_default_executor_cls()

    check("executor " + request["executor"], executor)
    with open(request["report"], "w") as fh:
        json.dump(report, fh)
    """
)


@pytest.fixture(scope="module")
def probe(compose, filled_env, tmp_path_factory) -> dict:
    """One subprocess asks this environment's Airflow about everything the compose file names."""
    home = tmp_path_factory.mktemp("airflow-probe")
    worker_env = service_env(compose["services"]["airflow-worker"], filled_env)
    options = sorted(
        {
            key
            for node in [compose.get("x-airflow-common") or {}, *compose["services"].values()]
            for key in (node.get("environment") or {})
            if key.startswith("AIRFLOW__")
        }
    )
    broker = urlsplit(worker_env["AIRFLOW__CELERY__BROKER_URL"]).scheme
    request = {
        "commands": [argv for _, argv in airflow_commands(compose)],
        "options": options,
        "attributes": [worker_env["AIRFLOW__CORE__AUTH_MANAGER"], *celery_app_paths(compose)],
        # A redis:// broker needs kombu's Redis transport and the redis client.
        "modules": [f"kombu.transport.{broker}", broker] if broker == "redis" else [],
        "sqlalchemy_urls": [
            worker_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
            worker_env["AIRFLOW__CELERY__RESULT_BACKEND"].removeprefix("db+"),
        ],
        "executor": worker_env["AIRFLOW__CORE__EXECUTOR"],
        "report": str(home / "report.json"),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OUTREACH_"))}
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": worker_env["AIRFLOW__CORE__EXECUTOR"],
        "AIRFLOW__CORE__AUTH_MANAGER": worker_env["AIRFLOW__CORE__AUTH_MANAGER"],
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        input=json.dumps(request),
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(Path(request["report"]).read_text())


def test_every_airflow_command_is_a_real_airflow_cli_command(compose, probe):
    where = [w for w, _ in airflow_commands(compose)]
    assert {w.split(" ")[0] for w in where} == AIRFLOW_SERVICES
    failed = [
        f"{w}: airflow {' '.join(r['argv'])} --help -> exit {r['code']}: {r['error'].strip()[-200:]}"
        for w, r in zip(where, probe["commands"], strict=True)
        if r["code"] != 0
    ]
    assert not failed, "\n".join(failed)


def test_every_airflow_option_in_the_compose_file_exists(probe):
    assert not probe["unknown_options"], f"not Airflow 3.3.2 options: {probe['unknown_options']}"


def test_the_executor_auth_manager_drivers_and_celery_app_import(probe):
    broken = {k: v for k, v in probe["imports"].items() if v}
    assert not broken, "\n".join(f"{k}: {v}" for k, v in broken.items())


def test_lock_pins_what_the_deployment_needs():
    pinned = set(
        re.findall(r"^([A-Za-z0-9._-]+)==", LOCK.read_text(encoding="utf-8"), re.MULTILINE)
    )
    pinned = {re.sub(r"[-_.]+", "-", name).lower() for name in pinned}
    assert "apache-airflow" in pinned
    needed = {
        "apache-airflow-providers-celery": "the CeleryExecutor and `airflow celery worker`",
        "redis": "the redis:// Celery broker",
        "asyncpg": "Airflow 3's async engine on a postgresql:// metadata DB",
    }
    missing = {name: why for name, why in needed.items() if name not in pinned}
    if not pinned & {"psycopg2-binary", "psycopg2"}:
        missing["psycopg2-binary"] = (
            "postgresql+psycopg2:// metadata DB and db+postgresql+psycopg2:// Celery results"
        )
    assert not missing, f"requirements.lock lacks: {missing}"


# --- the image -------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def image_env() -> dict[str, str]:
    """The environment the Dockerfile's ENV instructions give every container of the image
    (docker-compose.yml's environment comes on top of it)."""
    env: dict[str, str] = {}
    for op, rest in dockerfile_instructions():
        if op == "ENV":
            env |= dict(word.split("=", 1) for word in shlex.split(rest))
    return env


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern also covers what lies below it."""
    verdict = False
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        if any(fnmatch(p, pattern) or fnmatch(p, pattern.removeprefix("**/")) for p in prefixes):
            verdict = not negate
    return verdict


def test_dockerfile_builds_on_airflow_332_and_copies_files_that_exist():
    steps = dockerfile_instructions()
    assert [rest for op, rest in steps if op == "FROM"] == [BASE_IMAGE]
    lock = LOCK.read_text(encoding="utf-8")
    version = BASE_IMAGE.split(":")[1].split("-")[0]
    assert re.search(rf"^apache-airflow=={re.escape(version)}$", lock, re.MULTILINE), (
        "the image's Airflow and the lock's differ"
    )
    patterns = dockerignore_patterns()
    workdir, copies = PurePosixPath("/"), {}
    for op, rest in steps:
        if op == "WORKDIR":
            workdir = workdir / rest
        if op in ("COPY", "ADD"):
            args = [a for a in shlex.split(rest) if not a.startswith("--")]
            assert len(args) >= 2, rest
            for source in args[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                assert not ignored(source.rstrip("/"), patterns), f"COPY {source}: in .dockerignore"
                copies[source.rstrip("/")] = workdir / args[-1]
    for needed in (
        "pyproject.toml",
        "requirements.lock",
        "dags",
        "dbt_project",
        "ingest",
        "expectations",
        "outreach",
        "config",
    ):
        assert needed in copies, f"the image lacks {needed}"
    env = image_env()
    assert PurePosixPath(env["AIRFLOW__CORE__DAGS_FOLDER"]) == copies["dags"]
    # cosmos (the dbt task group) would otherwise try to send usage data on every run, offline
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"].lower() == "false"
    assert env["AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY"].lower() == "false"
    assert (ROOT / "dags" / "outreach_nightly.py").is_file()
    runs = " ".join(rest for op, rest in steps if op == "RUN")
    # the DAG is rendered from a manifest built into the image, never by dbt at parse time
    assert re.search(r"outreach(\.cli)? dbt-manifest", runs)
    assert re.search(
        r"pip install [^&]*--requirement requirements\.lock --constraint requirements\.lock", runs
    )
    assert re.search(r"pip install [^&]*--no-deps [^&]*\.(\s|$)", runs)
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    home = interpolate(compose["x-airflow-common"]["environment"]["OUTREACH_HOME"], {})
    assert env["OUTREACH_HOME"] == home, (
        "the image and docker-compose.yml disagree on OUTREACH_HOME"
    )


def test_dockerignore_keeps_state_and_secrets_out_of_the_image():
    patterns = dockerignore_patterns()
    for path in (
        ".venv",
        "var",
        ".git",
        "dbt_project/target",
        "logs",
        ".pytest_cache",
        ".hypothesis",
        ".env",
    ):
        assert ignored(path, patterns), f"{path} would be sent to the image build"
    assert not ignored("outreach/settings.py", patterns)
