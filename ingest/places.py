"""The county gazetteer and place-name matching.

Townships come from configuration (config/gazetteer.yml) and are matched with or without their
suffix and in traditional characters. Village names are put in one canonical form
(``什玲村`` = ``什玲村委会``); which villages exist is learned downstream from the households and
work_teams sheets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from ingest.normalise import Problem
from ingest.registry import SAFE_LOADER
from ingest.text import compact

_TOWNSHIP_SUFFIXES = ("镇", "乡", "民族乡", "街道")


@dataclass(frozen=True)
class Township:
    code: str
    name: str


@dataclass(frozen=True)
class Gazetteer:
    county_code: str
    county_name: str
    county_short_name: str
    townships: tuple[Township, ...]

    def lookup(self) -> dict[str, Township]:
        table: dict[str, Township] = {}
        for t in self.townships:
            table[compact(t.name)] = t
            for suffix in _TOWNSHIP_SUFFIXES:
                if t.name.endswith(suffix):
                    table[compact(t.name[: -len(suffix)])] = t
        return table

    def match_township(self, value: object) -> tuple[Township | None, Problem | None]:
        text = compact(str(value))
        for prefix in (self.county_name, self.county_short_name, "保亭"):
            # "保亭县什玲镇" names the township inside the county
            if text.startswith(prefix) and len(text) > len(prefix) + 1:
                text = text[len(prefix) :]
        got = self._index.get(text)
        if got is None:
            return None, Problem("unknown_township", f"乡镇“{value}”不在本县乡镇名录中")
        return got, None

    @property
    def _index(self) -> dict[str, Township]:
        return _index_for(self)


@lru_cache(maxsize=8)
def _index_for(gazetteer: Gazetteer) -> dict[str, Township]:
    return gazetteer.lookup()


@lru_cache(maxsize=8)
def load_gazetteer(path: Path) -> Gazetteer:
    doc = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    county = doc["county"]
    return Gazetteer(
        county_code=str(county["code"]),
        county_name=county["name"],
        county_short_name=county.get("short_name", county["name"]),
        townships=tuple(Township(str(t["code"]), t["name"]) for t in doc["townships"]),
    )


@lru_cache(maxsize=50_000)
def canonical_village(value: str) -> str | None:
    """``什玲村`` / ``什玲村委会`` / ``什玲村民委员会`` -> ``什玲村委会``; ``城区社区居委会`` stays."""
    text = compact(value)
    if not text:
        return None
    if text.endswith("村民委员会"):
        return text[: -len("村民委员会")] + "村委会"
    if text.endswith("居民委员会"):
        return text[: -len("居民委员会")] + "居委会"
    if text.endswith(("村委会", "居委会")):
        return text
    if text.endswith("社区"):
        return text + "居委会"
    if text.endswith("村"):
        return text + "委会"
    return text + "村委会"
