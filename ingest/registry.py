"""The contract registry: ``registry.yml`` loaded into frozen specs, plus header matching keys.

Everything the loader knows about datasets, columns, aliases, types and enum values comes from
the YAML file beside this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

from ingest.text import compact

REGISTRY_PATH = Path(__file__).with_name("registry.yml")
# libyaml's safe loader when PyYAML has it (its wheels do): the pure-Python one takes a fifth of a
# second over registry.yml, in every sandbox worker; both build the same documents
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

COLUMN_TYPES = {
    "text",
    "longtext",
    "place_township",
    "place_village",
    "date",
    "money",
    "int",
    "decimal",
    "bool",
    "enum",
    "resident_id",
    "phone",
    "credit_code",
}

# The trailing unit in brackets that header matching ignores: 金额（万元）, 学习时长(小时).
_TRAILING_UNIT = re.compile(r"\(([^()]*)\)$")


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    header: str
    aliases: tuple[str, ...]
    type: str
    required: bool = False
    values: tuple[str, ...] = ()
    value_aliases: tuple[tuple[str, str], ...] = ()
    pii: bool = False

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.header, *self.aliases)

    def enum_lookup(self) -> dict[str, str]:
        return self._enum_lookup

    @cached_property
    def _enum_lookup(self) -> dict[str, str]:
        # built once per column: the loader looks it up for every enum cell
        table = {compact(v): v for v in self.values}
        table.update({compact(k): v for k, v in self.value_aliases})
        return table


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    providers: tuple[str, ...]
    natural_key: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]
    header_index: dict[str, ColumnSpec] = field(compare=False, hash=False, repr=False)

    @cached_property
    def required(self) -> tuple[ColumnSpec, ...]:
        # computed once: header matching and validation ask for every candidate row and data row
        return tuple(c for c in self.columns if c.required)

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


@lru_cache(maxsize=50_000)
def header_key(text: str) -> tuple[str, str | None]:
    """Matching key of a header cell and the unit it names, if any.

    ``金额（万元）*`` -> (``金额``, ``万元``); ``乡(镇)`` -> (``乡(镇)``, ``镇``): the caller tries
    the full key first and the key without its bracket second.
    """
    key = compact(text).replace("*", "").replace("★", "")
    match = _TRAILING_UNIT.search(key)
    unit = match.group(1) if match else None
    return key, unit


@lru_cache(maxsize=50_000)
def strip_unit(key: str) -> str:
    # cached with header_key: header matching keys every cell of the first rows of every sheet
    # against every dataset, and the same texts recur in every row and sheet
    return _TRAILING_UNIT.sub("", key)


def _column(raw: dict) -> ColumnSpec:
    if raw["type"] not in COLUMN_TYPES:
        raise ValueError(f"registry: column {raw['name']} has unknown type {raw['type']}")
    return ColumnSpec(
        name=raw["name"],
        header=raw["header"],
        aliases=tuple(raw.get("aliases", ())),
        type=raw["type"],
        required=bool(raw.get("required", False)),
        values=tuple(raw.get("values", ())),
        value_aliases=tuple((raw.get("value_aliases") or {}).items()),
        pii=bool(raw.get("pii", False)),
    )


@lru_cache(maxsize=4)
def load_registry(path: Path = REGISTRY_PATH) -> dict[str, DatasetSpec]:
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    datasets: dict[str, DatasetSpec] = {}
    for name, raw in doc["datasets"].items():
        columns = tuple(_column(c) for c in raw["columns"])
        index: dict[str, ColumnSpec] = {}
        for col in columns:
            for h in col.headers:
                key = strip_unit(header_key(h)[0]) if h.endswith(("）", ")")) else header_key(h)[0]
                if key in index and index[key].name != col.name:
                    raise ValueError(f"registry: header {h} is ambiguous in dataset {name}")
                index[key] = col
        datasets[name] = DatasetSpec(
            name=name,
            title=raw["title"],
            providers=tuple(raw["providers"]),
            natural_key=tuple(raw["natural_key"]),
            columns=columns,
            header_index=index,
        )
    return datasets


def match_header_cell(dataset: DatasetSpec, text: str) -> tuple[ColumnSpec | None, str | None]:
    """The column a header cell names in this dataset, and the unit in its brackets."""
    key, unit = header_key(text)
    if not key:
        return None, None
    col = dataset.header_index.get(key)
    if col is not None:
        return col, None
    col = dataset.header_index.get(strip_unit(key))
    return col, unit if col is not None else None
