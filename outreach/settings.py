"""Settings: the only module that reads the environment.

Every ``OUTREACH_*`` variable is read here, typed and validated, with its default. Everything
else asks for a :class:`Settings` (``load_settings()``) instead of touching ``os.environ``.

| variable | default | meaning |
|---|---|---|
| OUTREACH_HOME | ./var | root of all state: inbox/, warehouse/, published/, reports/, airflow/ |
| OUTREACH_INBOX | $OUTREACH_HOME/inbox | where partners' spreadsheets are dropped |
| OUTREACH_AS_OF | today (Asia/Shanghai) | the day a manual run reports on, YYYY-MM-DD |
| OUTREACH_PII_KEY | generated once in $OUTREACH_HOME/pii.key (0600) | HMAC key for ID/phone tokens |
| OUTREACH_TIMEZONE | Asia/Shanghai | the county's time zone (as-of dates, schedules) |
| OUTREACH_GAZETTEER | config/gazetteer.yml | the county and its townships |
| OUTREACH_INTAKE_SCHEDULE | */30 8-18 * * 1-5 | when the outreach_intake DAG pulls (cron, on the county's clock) |
| OUTREACH_SENDERS | config/senders.yml | intake's channels and who sends from where (no channel: nothing is pulled) |
| OUTREACH_DASHBOARD_PORT | 8501 | the port of the dashboard (`make dashboard`) |
| OUTREACH_DASHBOARD_ADDRESS | 127.0.0.1 | the address the dashboard listens on: this machine only, until it is set (e.g. `0.0.0.0` for the office network; it shows its pages only to a department account signed in at the portal) |
| OUTREACH_PORTAL_PORT | 8600 | the port of the portal (`make portal`); the dashboard's sign-in link points there |
| OUTREACH_PARSER_BUGS | quarantine | `quarantine`: a file the loader's own code fails on is quarantined (`parser_error`) and the night goes on; `raise`: that failure fails the night (the tests run so) |

``OUTREACH_NEW_PII_KEY`` is no setting of the services: only ``outreach rotate-pii-key`` reads it
(:func:`new_pii_key_from_env`), given for that one command (``docker compose exec -e``), so it is
deliberately absent from the table above, ``.env.example`` and ``docker-compose.yml``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DAGS_DIR = PROJECT_ROOT / "dags"
DEFAULT_GAZETTEER = PROJECT_ROOT / "config" / "gazetteer.yml"
DEFAULT_SENDERS = PROJECT_ROOT / "config" / "senders.yml"
# What one DuckDB instance of the pipeline may hold in memory (dbt's, in dbt_project/profiles.yml,
# and the publish step's): DuckDB's default is 80% of the machine, and it keeps what it read
# until then. Big joins, sorts and copies spill to disk instead (bench/RESULTS.md, x100).
DUCKDB_MEMORY_LIMIT = "1GB"


# The programme's facts, written once. The first day of the programme: the quarter spine of the
# warehouse (dbt var programme_start, passed by outreach.pipeline.dbt_runner.dbt_vars), the earliest date a
# spreadsheet may hold (ingest.validate), the expectations' date range and the DAG's start_date.
PROGRAMME_START = dt.date(2012, 1, 1)
# The county's time zone when OUTREACH_TIMEZONE is not set; Settings.timezone is the one in use.
DEFAULT_TIMEZONE = "Asia/Shanghai"
# When the nightly run starts (the DAG's cron) and by when it must finish (the alert's deadline),
# on the county's clock.
NIGHT_STARTS_AT = dt.time(2, 0)
NIGHT_DEADLINE = dt.time(6, 0)
# When the outreach_calendar DAG makes the day's plans (on the county's clock): after the night's
# deadline, so that the warehouse of the day before is published.
CALENDAR_STARTS_AT = dt.time(7, 0)
# When intake pulls from the channels of config/senders.yml (the outreach_intake DAG's cron, on
# the county's clock): every 30 minutes in working hours, Monday to Friday.
DEFAULT_INTAKE_SCHEDULE = "*/30 8-18 * * 1-5"

PARSER_BUG_POLICIES = ("quarantine", "raise")


class SettingsError(ValueError):
    """An OUTREACH_* variable holds a value the pipeline cannot use."""


@dataclass(frozen=True)
class Settings:
    home: Path
    inbox: Path
    as_of: dt.date | None
    pii_key_env: str | None
    timezone: str
    gazetteer: Path
    senders: Path = DEFAULT_SENDERS
    dashboard_port: int = 8501
    dashboard_address: str = "127.0.0.1"
    portal_port: int = 8600
    parser_bugs: str = "quarantine"  # or "raise"

    @property
    def raise_parser_bugs(self) -> bool:
        return self.parser_bugs == "raise"

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def build_db(self) -> Path:
        """The file the nightly run writes, checks, and never shows to analysts."""
        return self.warehouse_dir / "outreach_build.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.home / "published"

    @property
    def published_db(self) -> Path:
        return self.published_dir / "outreach.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def quarantine_dir(self) -> Path:
        return self.home / "quarantine"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def pii_key_file(self) -> Path:
        return self.home / "pii.key"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def intake_dir(self) -> Path:
        """Intake's fetch ledger, files being landed and mail kept aside (personal data)."""
        return self.home / "intake"

    @property
    def staging_dir(self) -> Path:
        """Parse results between the parse tasks and the loader (personal data)."""
        return self.home / "staging"

    def ensure_dirs(self) -> None:
        """Create the folders of OUTREACH_HOME, whatever the umask: what holds personal data or
        the senders' files (the build file, staging, quarantine, reports, Airflow's home) is the
        service user's alone (0700); the published warehouse is readable by everyone (0755)."""
        for d in (self.home, self.inbox, *self.private_dirs, self.published_dir):
            d.mkdir(parents=True, exist_ok=True)
        for d in self.private_dirs:
            os.chmod(d, 0o700)
        os.chmod(self.published_dir, 0o755)

    @property
    def private_dirs(self) -> tuple[Path, ...]:
        return (
            self.warehouse_dir,
            self.staging_dir,
            self.quarantine_dir,
            self.reports_dir,
            self.airflow_home,
        )

    def pii_key(self) -> bytes:
        """The HMAC key for ID and phone tokens.

        OUTREACH_PII_KEY wins; otherwise a random key is generated once under OUTREACH_HOME with
        mode 0600 and reused by every later run, so tokens stay stable and joinable.
        """
        if self.pii_key_env:
            return self.pii_key_env.encode("utf-8")
        path = self.pii_key_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode("utf-8")

    def today(self) -> dt.date:
        return dt.datetime.now(self.tz).date()

    def resolve_as_of(self, explicit: dt.date | str | None = None) -> dt.date:
        """--as-of beats OUTREACH_AS_OF beats today in the county's time zone."""
        if explicit is not None:
            return parse_date(explicit, "--as-of") if isinstance(explicit, str) else explicit
        return self.as_of or self.today()


NEW_PII_KEY_VARIABLE = "OUTREACH_NEW_PII_KEY"


def new_pii_key_from_env(environ: dict[str, str] | None = None) -> str | None:
    """The key ``outreach rotate-pii-key`` moves to when the current one is OUTREACH_PII_KEY.

    Read here because only this module reads the environment; not a :class:`Settings` field
    because no service may ever run with it set. Validated by the rotation (it must also
    differ from the current key), so a bad value is never a reason for a run to fail.
    """
    env = os.environ if environ is None else environ
    return env.get(NEW_PII_KEY_VARIABLE) or None


def parse_date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise SettingsError(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from exc


def county_timezone(environ: dict[str, str] | None = None) -> str:
    """OUTREACH_TIMEZONE, checked, or the default: all the DAG file needs at parse time (no
    path is resolved, no other setting read)."""
    env = os.environ if environ is None else environ
    tz = env.get("OUTREACH_TIMEZONE") or DEFAULT_TIMEZONE
    try:
        ZoneInfo(tz)
    except Exception as exc:  # ZoneInfoNotFoundError or ValueError for odd names
        raise SettingsError(f"OUTREACH_TIMEZONE is not a known time zone: {tz!r}") from exc
    return tz


def intake_schedule(environ: dict[str, str] | None = None) -> str:
    """OUTREACH_INTAKE_SCHEDULE, checked (five cron fields), or the default: read by the intake
    DAG at parse time."""
    env = os.environ if environ is None else environ
    cron = " ".join((env.get("OUTREACH_INTAKE_SCHEDULE") or DEFAULT_INTAKE_SCHEDULE).split())
    from croniter import croniter

    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise SettingsError(f"OUTREACH_INTAKE_SCHEDULE must be a cron of five fields, got {cron!r}")
    return cron


def _port(raw: str | None, name: str, default: int) -> int:
    raw = (raw or str(default)).strip()
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"{name} must be a port number, got {raw!r}")
    return int(raw)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    home = Path(env.get("OUTREACH_HOME") or "var").expanduser().resolve()
    inbox = Path(env.get("OUTREACH_INBOX") or home / "inbox").expanduser().resolve()
    as_of_raw = env.get("OUTREACH_AS_OF")
    as_of = parse_date(as_of_raw, "OUTREACH_AS_OF") if as_of_raw else None
    tz = county_timezone(env)
    gazetteer = Path(env.get("OUTREACH_GAZETTEER") or DEFAULT_GAZETTEER).expanduser().resolve()
    senders = Path(env.get("OUTREACH_SENDERS") or DEFAULT_SENDERS).expanduser().resolve()
    key = env.get("OUTREACH_PII_KEY") or None
    if key is not None and len(key) < 16:
        raise SettingsError("OUTREACH_PII_KEY must be at least 16 characters long")
    address = (env.get("OUTREACH_DASHBOARD_ADDRESS") or "127.0.0.1").strip()
    try:
        ipaddress.ip_address(address)
    except ValueError as exc:
        raise SettingsError(
            f"OUTREACH_DASHBOARD_ADDRESS must be an IP address to listen on, got {address!r}"
        ) from exc
    parser_bugs = (env.get("OUTREACH_PARSER_BUGS") or "quarantine").strip().lower()
    if parser_bugs not in PARSER_BUG_POLICIES:
        raise SettingsError(
            f"OUTREACH_PARSER_BUGS must be one of {', '.join(PARSER_BUG_POLICIES)}, got {parser_bugs!r}"
        )
    return Settings(
        home=home,
        inbox=inbox,
        as_of=as_of,
        pii_key_env=key,
        timezone=tz,
        gazetteer=gazetteer,
        senders=senders,
        dashboard_port=_port(env.get("OUTREACH_DASHBOARD_PORT"), "OUTREACH_DASHBOARD_PORT", 8501),
        dashboard_address=address,
        portal_port=_port(env.get("OUTREACH_PORTAL_PORT"), "OUTREACH_PORTAL_PORT", 8600),
        parser_bugs=parser_bugs,
    )
