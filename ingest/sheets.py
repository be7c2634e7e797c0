"""What every reader returns: sheets of plain cell values, or a :class:`ReadError` saying in
Chinese why the file cannot be read (its rule id is the quarantine's)."""

from __future__ import annotations

from dataclasses import dataclass

Cell = object  # None | str | int | float | bool | datetime.date | datetime.datetime


@dataclass(frozen=True)
class Sheet:
    name: str
    rows: list[list[Cell]]


class ReadError(Exception):
    """The file cannot be read as a spreadsheet. ``rule_id`` and a Chinese message say why."""

    def __init__(self, rule_id: str, message: str):
        super().__init__(message)
        self.rule_id = rule_id
        self.message = message
