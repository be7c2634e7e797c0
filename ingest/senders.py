"""Who sent a file, from where it landed: ``inbox/<provider>/<unit>/…``.

The folder decides, never the file's name or its contents: whoever writes the inbox (the
department by hand, the intake's sender map, the portal's signed-in account) puts a unit's files
in that unit's folder. The unit is

- a township for ``townships/<乡镇>/…``;
- a joint branch for ``joint_branches/<乡镇>/<支部>/…`` (a branch's folder sits in its
  township's), or ``joint_branches/<支部>/…`` where there is no township level;
- an enterprise (or whoever sends for enterprises, such as 县工商联) for ``enterprises/<单位>/…``;
- the department itself for ``county/…``.

A file directly in a provider's folder has no unit: its rows are checked against the provider's
datasets only, and its return list goes to the department.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.discover import PROVIDERS


@dataclass(frozen=True)
class Sender:
    provider: str | None  # townships | joint_branches | enterprises | county, None outside them
    unit: tuple[
        str, ...
    ]  # the unit's folders below the provider's ('毛感乡',), ('毛感乡', '…支部')

    @property
    def key(self) -> str:
        """``townships/毛感乡``, ``county``; ``unknown`` outside the providers' folders."""
        return "/".join((self.provider or "unknown", *self.unit))

    @property
    def township(self) -> str | None:
        """The township folder a township's or a joint branch's unit names, if any."""
        if self.provider in ("townships", "joint_branches") and self.unit:
            return self.unit[0]
        return None

    @property
    def branch(self) -> str | None:
        """The branch folder of a joint branch's unit."""
        if self.provider == "joint_branches" and self.unit:
            return self.unit[-1]
        return None


def sender_of(rel: str, townships: frozenset[str] | None = None) -> Sender:
    """The sender of the file at ``rel`` (a path under the inbox). ``townships``: the
    gazetteer's township names, which tell ``joint_branches/<乡镇>/<支部>/`` from a branch folder
    directly under ``joint_branches/``; without them a branch in a subfolder is recognised by
    its depth alone."""
    parts = rel.split("/")
    provider = parts[0] if len(parts) > 1 and parts[0] in PROVIDERS else None
    folders = parts[1:-1]
    if provider is None or provider == "county" or not folders:
        return Sender(provider, ())
    if provider == "joint_branches" and len(folders) >= 2:
        if townships is None or folders[0] in townships:
            return Sender(provider, (folders[0], folders[1]))
    return Sender(provider, (folders[0],))
