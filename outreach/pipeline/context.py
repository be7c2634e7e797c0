"""What every stage of one run needs to know: its id, its as-of date and where its report goes."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from outreach.settings import Settings


@dataclass(frozen=True)
class RunContext:
    run_id: str  # names reports/<run_id>/ and the raw load id
    as_of: dt.date

    def report_dir(self, settings: Settings) -> Path:
        return settings.reports_dir / self.run_id

    def to_xcom(self) -> dict:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        return data

    @classmethod
    def from_xcom(cls, data: dict) -> RunContext:
        return cls(run_id=data["run_id"], as_of=dt.date.fromisoformat(data["as_of"]))


def new_run_context(as_of: dt.date, now: dt.datetime | None = None) -> RunContext:
    """A run id sorts by as-of date, then by the wall-clock start (used only for naming)."""
    now = now or dt.datetime.now(dt.UTC)
    return RunContext(run_id=f"{as_of.isoformat()}_{now.strftime('%Y%m%dT%H%M%S%fZ')}", as_of=as_of)


def as_of_for_logical_date(logical_date: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The day a nightly run reports on.

    The DAG's schedule is a data-interval cron at 02:00 Asia/Shanghai: the run that starts at
    02:00 on 1 July covers the interval that began at 02:00 on 30 June, and its logical date is
    that interval's start. So the as-of date is the logical date's calendar day in the county's
    time zone (30 June), never the UTC day (which would be 29 June).
    """
    return logical_date.astimezone(tz).date()
