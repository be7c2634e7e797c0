"""Who sent a file, from where it landed: ``inbox/<provider>/<unit>/…``.

The folder decides, never the file's name or its contents: whoever writes the inbox (the
department by hand, the intake's sender map, the portal's signed-in account) puts a unit's files
in that unit's folder. The unit is

- a township for ``townships/<乡镇>/…``: the first folder below the provider's that is a
  township's name as the gazetteer writes it (folders that group units, such as a scaled demo's
  ``片区002/``, may come before it);
- a joint branch for ``joint_branches/<乡镇>/<支部>/…`` (a branch's folder sits in its
  township's), or a file directly in ``joint_branches/<支部>/``;
- an enterprise (or whoever sends for enterprises, such as 县工商联) for ``enterprises/<单位>/…``;
- the department itself for ``county/…``.

A file directly in a provider's folder has no unit, and a unit whose township or branch its
folders do not name is not judged by them: its rows are checked against the provider's datasets
only (SECURITY.md: the folder is the sender).

:func:`screen` returns, never loads, what a sender may not send: a dataset its provider does not
send (``registry.yml``: ``providers``; the county's cadre roster from an enterprise), and rows for
another unit: a row whose 乡镇 is another township than the township's (or the joint branch's)
folder, a branch activity of another branch than the branch's folder. A visit or a pairing of
another township's household names no township of its own: the build finds those
(``dq_results``: ``row_from_other_unit``, matching the folder as exactly as this module does) and
keeps them out of the facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.discover import PROVIDER_NAMES, PROVIDERS
from ingest.header import HeaderMatch
from ingest.places import Gazetteer
from ingest.read import Sheet
from ingest.registry import DatasetSpec
from ingest.text import clean, compact
from ingest.validate import SheetRows, refuse_rows

NOT_SENDER_DATASET = "not_sender_dataset"
OTHER_UNIT = "other_unit"


@dataclass(frozen=True)
class Sender:
    provider: str | None  # townships | joint_branches | enterprises | county, None outside them
    unit: tuple[str, ...] = ()  # the unit's folders below the provider's: ('毛感乡',)
    township: str | None = None  # the township folder of a township's or a branch's unit
    branch: str | None = None  # the branch folder of a joint branch's unit

    @property
    def key(self) -> str:
        """``townships/毛感乡``, ``county``; ``unknown`` outside the providers' folders."""
        return "/".join((self.provider or "unknown", *self.unit))


def sender_of(rel: str, townships: frozenset[str] = frozenset()) -> Sender:
    """The sender of the file at ``rel`` (a path under the inbox); ``townships``: the
    gazetteer's township names (exactly as it writes them)."""
    parts = rel.split("/")
    provider = parts[0] if len(parts) > 1 and parts[0] in PROVIDERS else None
    folders = parts[1:-1]
    if provider is None or provider == "county" or not folders:
        return Sender(provider)
    if provider in ("townships", "joint_branches"):
        for i, folder in enumerate(folders):
            if folder not in townships:
                continue
            if provider == "townships":
                return Sender(provider, tuple(folders[: i + 1]), township=folder)
            branch = folders[i + 1] if i + 1 < len(folders) else None
            return Sender(provider, tuple(folders[: i + 2]), township=folder, branch=branch)
        if provider == "joint_branches" and len(folders) == 1:
            return Sender(provider, (folders[0],), branch=folders[0])
    return Sender(provider, (folders[0],))


def _same_name(a: str, b: str) -> bool:
    return compact(clean(a)) == compact(clean(b))


def screen(
    rows: SheetRows,
    sheet: Sheet,
    match: HeaderMatch,
    dataset: DatasetSpec,
    sender: Sender,
    gazetteer: Gazetteer,
) -> SheetRows:
    """``rows`` without what ``sender`` may not send (see the module), which is quarantined with
    a reason the sender can act on."""
    if sender.provider is None:  # quarantined whole already (unknown_provider)
        return rows
    names = rows.row_numbers
    if sender.provider not in dataset.providers:
        allowed = "、".join(PROVIDER_NAMES[p] for p in dataset.providers)
        message = (
            f"“{dataset.title}”只能由{allowed}报送，{PROVIDER_NAMES[sender.provider]}报送的此类台账"
            f"不入库；请交由{allowed}报送"
        )
        return refuse_rows(
            rows, sheet, match, dict.fromkeys(names, (NOT_SENDER_DATASET, None, message))
        )
    refused: dict[int, tuple[str, str | None, str]] = {}
    unit = "／".join(sender.unit)
    township = next((t for t in gazetteer.townships if t.name == sender.township), None)
    if township is not None and "township_code" in rows.columns:
        column = next(c.name for c in dataset.columns if c.type == "place_township")
        for r, code, name in zip(
            names, rows.columns["township_code"], rows.columns[column], strict=True
        ):
            if code is not None and code != township.code:
                refused[r] = (
                    OTHER_UNIT,
                    column,
                    f"该行的乡镇是“{name}”，而本文件由“{unit}”报送：只能报送本单位的数据；"
                    f"请由{name}报送，或更正乡镇",
                )
    if sender.branch and dataset.name == "branch_activities":
        for r, branch in zip(names, rows.columns["joint_branch"], strict=True):
            if r not in refused and branch is not None and not _same_name(branch, sender.branch):
                refused[r] = (
                    OTHER_UNIT,
                    "joint_branch",
                    f"该行的联合党支部是“{branch}”，而本文件由“{sender.branch}”报送：只能报送本支部的"
                    "组织生活；请由该支部报送，或更正支部名称",
                )
    return refuse_rows(rows, sheet, match, refused)


def township_names(gazetteer: Gazetteer) -> frozenset[str]:
    return frozenset(t.name for t in gazetteer.townships)
