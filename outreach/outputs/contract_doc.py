"""The datasets of ``docs/CONTRACT.md``, written from ``ingest/registry.yml``.

The contract's prose is written by hand; its tables of datasets, headers, aliases, types and
natural keys are this module's output, between two marker lines, so the document cannot say
something the loader does not do. ``tests/unit/test_docs_in_repo.py`` fails when the file and
the registry disagree; ``python -m outreach.outputs.contract_doc`` rewrites the tables.
"""

from __future__ import annotations

import sys

from ingest.discover import PROVIDER_NAMES
from ingest.registry import ColumnSpec, DatasetSpec, load_registry
from outreach.settings import PROJECT_ROOT

CONTRACT_PATH = PROJECT_ROOT / "docs" / "CONTRACT.md"
BEGIN = "<!-- datasets: generated from ingest/registry.yml by outreach/outputs/contract_doc.py -->"
END = "<!-- end of generated datasets -->"

TYPES = {
    "text": "text",
    "longtext": "free text (IDs and phone numbers in it are masked outside raw)",
    "place_township": "township of the gazetteer",
    "place_village": "village, known under its township",
    "date": "date",
    "money": "money, yuan (万元 read and converted)",
    "int": "whole number",
    "decimal": "number",
    "bool": "yes/no (是/否, √/×, 有/无, 1/0, Y/N)",
    "enum": "one of a list",
    "resident_id": "18-character resident ID with its check digit; personal data",
    "phone": "phone number; personal data",
    "credit_code": "18-character unified social credit code",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _type(col: ColumnSpec) -> str:
    if col.type == "enum":
        text = "/".join(col.values)
        if col.value_aliases:
            text += " (also " + ", ".join(f"{a} = {v}" for a, v in col.value_aliases) + ")"
        return text
    return TYPES[col.type]


def _dataset(spec: DatasetSpec) -> list[str]:
    senders = ", ".join(f"`{p}/` ({PROVIDER_NAMES.get(p, p)})" for p in spec.providers)
    lines = [
        f"### {spec.name} {spec.title}",
        "",
        f"Sent by {senders}. Natural key: {', '.join(f'`{k}`' for k in spec.natural_key)} "
        "(rows with the same key are one row: merged, and listed as `duplicate_merged`).",
        "",
        "| header | also accepted | column | kind |",
        "|---|---|---|---|",
    ]
    for col in spec.columns:
        header = _cell(col.header) + ("\\*" if col.required else "")
        aliases = ", ".join(_cell(a) for a in col.aliases)
        lines.append(f"| {header} | {aliases} | `{col.name}` | {_cell(_type(col))} |")
    return lines


def render_datasets() -> str:
    """The generated part of the contract, markers included."""
    out = [BEGIN, ""]
    for spec in load_registry().values():
        out += _dataset(spec) + [""]
    out.append(END)
    return "\n".join(out)


def with_datasets(document: str) -> str:
    """``document`` with its generated part replaced by the registry's."""
    head, found, rest = document.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise ValueError(f"{CONTRACT_PATH.name} has no {BEGIN!r} ... {END!r} block")
    return head + render_datasets() + tail


def main() -> int:
    text = CONTRACT_PATH.read_text(encoding="utf-8")
    new = with_datasets(text)
    if new != text:
        CONTRACT_PATH.write_text(new, encoding="utf-8")
        print(f"rewrote the datasets of {CONTRACT_PATH}")
    else:
        print(f"{CONTRACT_PATH} already holds the registry's datasets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
