"""The files a unit downloads. The lists it must act on, from the last night (``reports/latest/``): a township's
待走访清单 and every unit's 退回清单, and a township's visit coverage by quarter from the
published warehouse; and the blank templates of what it sends. The account decides which lists it may have (computed from its unit, never
from the URL); a department account has every unit's.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.places import load_gazetteer
from ingest.registry import DatasetSpec, load_registry
from ingest.senders import Sender
from outreach.outputs.followup_lists import FILE_PREFIX, followup_name
from outreach.outputs.return_lists import feedback_name
from outreach.outputs.templates import template_name, write_template
from outreach.portal.accounts import Account
from outreach.settings import Settings

RETURN_PREFIX = "退回清单_"


@dataclass(frozen=True)
class Coverage:
    quarter: str
    owed: int
    met: int
    missed: int

    @property
    def rate(self) -> str:
        return f"{self.met / self.owed:.1%}" if self.owed else "—"


def _latest(settings: Settings) -> Path:
    return settings.reports_dir / "latest"


def available(settings: Settings, account: Account) -> dict[str, Path]:
    """File name -> path of the lists of the last night this account may download."""
    folder = _latest(settings)
    if not folder.is_dir():
        return {}
    if account.unit is None:
        names = [
            p.name
            for p in folder.iterdir()
            if p.is_file()
            and p.suffix == ".xlsx"
            and p.name.startswith((FILE_PREFIX, RETURN_PREFIX))
        ]
    else:
        unit = account.unit
        names = [feedback_name(Sender(unit.provider, unit.folders))]
        if unit.provider == "townships" and unit.folders:
            names.append(followup_name(unit.folders[0]))
    return {name: folder / name for name in sorted(names) if (folder / name).is_file()}


def coverage(settings: Settings, account: Account) -> list[Coverage]:
    """Visit coverage by quarter (marts.rpt_visit_coverage): a township's own, the county's
    for the department; none for a branch or an enterprise."""
    unit = account.unit
    if unit is not None and (unit.provider != "townships" or not unit.folders):
        return []
    db = settings.published_db
    if not db.exists():
        return []
    where, params = ("township_name = ?", [unit.folders[0]]) if unit else ("true", [])
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select quarter, sum(pairing_quarters_owed), sum(pairing_quarters_met), "
            f"sum(pairing_quarters_missed) from marts.rpt_visit_coverage where {where} "
            "group by quarter order by quarter",
            params,
        ).fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()
    return [Coverage(q, int(o), int(m), int(x)) for q, o, m, x in rows]


def _templates(account: Account) -> dict[str, DatasetSpec]:
    """The blank templates (``outreach templates``) of the datasets this account's unit sends
    (every dataset for the department): file name -> dataset."""
    return {
        template_name(index, spec): spec
        for index, spec in enumerate(load_registry().values(), start=1)
        if account.unit is None or account.unit.provider in spec.providers
    }


def templates(account: Account) -> list[str]:
    return list(_templates(account))


def template_bytes(settings: Settings, account: Account, name: str) -> bytes | None:
    """One of the account's templates, freshly written (the gazetteer's townships in its
    drop-downs), or None for a name that is not one of them."""
    spec = _templates(account).get(name)
    if spec is None:
        return None
    townships = [t.name for t in load_gazetteer(Path(settings.gazetteer)).townships]
    with tempfile.TemporaryDirectory(prefix="outreach-templates-") as tmp:
        path = Path(tmp) / name
        write_template(path, spec, townships)
        return path.read_bytes()
