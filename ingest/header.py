"""Find the header row of a sheet and recognise its dataset.

Partners put title rows above the header (up to 15 rows of preamble), sometimes a two-row header
with a group label merged over several columns. We score every candidate row, alone and joined
with the row below, against every dataset of the registry; a dataset matches when all its
required columns are present. A sheet that matches nothing is reported with its header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.pii import mask_text
from ingest.read import Sheet
from ingest.registry import ColumnSpec, DatasetSpec, header_key, strip_unit
from ingest.text import cell_text, compact

MAX_PREAMBLE_ROWS = 15
_SHEET_UNIT = re.compile(r"单位[:：]\s*(万元|元)")


@dataclass(frozen=True)
class HeaderMatch:
    dataset: str
    header_rows: tuple[int, ...]  # 0-based indexes of the header row(s)
    data_start: int  # 0-based index of the first row after the header
    columns: tuple[tuple[int, ColumnSpec, str | None], ...]  # (sheet column, spec, unit)
    sheet_unit: str | None  # '万元' when a title row says 单位：万元
    ignored_headers: tuple[str, ...]  # header cells mapped to no column of the dataset


def _row_texts(sheet: Sheet, r: int) -> list[str]:
    if r >= len(sheet.rows):
        return []
    return [cell_text(v).strip() for v in sheet.rows[r]]


def _joined(upper: list[str], lower: list[str]) -> list[str]:
    width = max(len(upper), len(lower))
    upper = upper + [""] * (width - len(upper))
    lower = lower + [""] * (width - len(lower))
    return [lo or up for up, lo in zip(upper, lower, strict=True)]


def _keys(names: list[str]) -> list[tuple[int, str, str, str | None]]:
    """(column, text, key, unit) of every non-empty header cell, computed once per candidate
    row rather than once per dataset (``header_key`` is what ``match_header_cell`` computes)."""
    out = []
    for idx, name in enumerate(names):
        if not name:
            continue
        out.append((idx, name, *header_key(name)))  # key "" (only '*' or spaces) names nothing
    return out


def _score(dataset: DatasetSpec, keys: list[tuple[int, str, str, str | None]]):
    """``match_header_cell`` for every cell of a candidate row, with the keys precomputed."""
    mapped: dict[str, tuple[int, ColumnSpec, str | None]] = {}
    ignored: list[str] = []
    index = dataset.header_index
    for idx, name, key, unit in keys:
        col = index.get(key) if key else None
        if col is not None:
            unit = None
        elif key:
            col = index.get(strip_unit(key))
        if col is None or col.name in mapped:
            ignored.append(name)
            continue
        mapped[col.name] = (idx, col, unit)
    for c in dataset.required:
        if c.name not in mapped:
            return None
    return len(mapped) - 0.01 * len(ignored), tuple(mapped.values()), tuple(ignored)


def _sheet_unit(sheet: Sheet, upto: int) -> str | None:
    for r in range(upto):
        for v in sheet.rows[r]:
            if isinstance(v, str):
                m = _SHEET_UNIT.search(compact(v).replace(":", "："))
                if m:
                    return m.group(1)
    return None


class _Naming(dict):
    """Header text -> 1 when the cell names a column of some dataset of a registry, else 0;
    worked out once per text (the same header texts recur in every sheet)."""

    def __init__(self, known: set[str]):
        super().__init__()
        self.known = known

    def __missing__(self, text: str) -> int:
        if len(self) > 50_000:  # bounded like header_key's cache: a worker's memory stays flat
            self.clear()
        key = header_key(text)[0] if text else ""
        self[text] = n = int(bool(key) and (key in self.known or strip_unit(key) in self.known))
        return n


# per registry (by identity; the registry is kept so its id is not reused): what every
# find_header call would otherwise work out again
_PREPARED: dict[int, tuple[dict, _Naming, int]] = {}


def _prepared(registry: dict[str, DatasetSpec]) -> tuple[_Naming, int]:
    entry = _PREPARED.get(id(registry))
    if entry is None or entry[0] is not registry:
        if len(_PREPARED) > 16:  # registries are few (one per process); never grow unbounded
            _PREPARED.clear()
        known = set().union(*(d.header_index for d in registry.values()))
        fewest_required = min((len(d.required) for d in registry.values()), default=0)
        entry = _PREPARED[id(registry)] = (registry, _Naming(known), fewest_required)
    return entry[1], entry[2]


def find_header(sheet: Sheet, registry: dict[str, DatasetSpec]) -> HeaderMatch | None:
    best = None
    limit = min(len(sheet.rows), MAX_PREAMBLE_ROWS + 1)
    # A dataset matches only when each of its required columns is named by a cell of the row,
    # so a row with fewer cells naming any column of any dataset than the smallest number of
    # required columns (a data row, a title) cannot match: skip scoring it dataset by dataset.
    # Counting the naming cells is one look-up per cell (``_Naming``); only a row that passes
    # has its cells keyed for scoring.
    naming_of, fewest_required = _prepared(registry)
    texts = [_row_texts(sheet, r) for r in range(limit + 1)]  # each row once, and the row below
    for r in range(limit):
        single = texts[r]
        if not any(single):
            continue
        candidates = [((r,), single)]
        below = texts[r + 1]
        if any(below):
            candidates.append(((r, r + 1), _joined(single, below)))
        for rows, names in candidates:
            if sum(map(naming_of.__getitem__, names)) < fewest_required:
                continue
            keys = _keys(names)
            for dataset in registry.values():
                scored = _score(dataset, keys)
                if scored is None:
                    continue
                score, columns, ignored = scored
                # The higher score wins; on a tie, the fewer header rows (a merged two-row header
                # reads the same from its lower row alone), then the earlier row.
                key = (round(score, 6), -len(rows), -r)
                if best is None or key > best[0]:
                    best = (key, dataset.name, rows, columns, ignored)
    if best is None:
        return None
    _, name, rows, columns, ignored = best
    return HeaderMatch(
        dataset=name,
        header_rows=rows,
        data_start=rows[-1] + 1,
        columns=tuple(sorted(columns, key=lambda c: c[0])),
        sheet_unit=_sheet_unit(sheet, rows[-1]),
        ignored_headers=ignored,
    )


def header_cells(sheet: Sheet) -> list[str]:
    """The most header-like row of an unmatched sheet, for the report: the first row among the
    first rows with the most non-empty cells. A sheet without a header gives a row of data
    here, so IDs and phone numbers in it are masked: the reports never carry them."""
    best: list[str] = []
    for r in range(min(len(sheet.rows), MAX_PREAMBLE_ROWS + 1)):
        texts = [t for t in _row_texts(sheet, r) if t]
        if len(texts) > len(best):
            best = texts
    return [mask_text(t) for t in best]


def header_names_of(sheet: Sheet, match: HeaderMatch) -> list[str]:
    """The header text of every column, the lower row winning in a two-row header."""
    names = _row_texts(sheet, match.header_rows[0])
    for r in match.header_rows[1:]:
        names = _joined(names, _row_texts(sheet, r))
    return names
