"""The contract's table of quarantine rules (docs/CONTRACT.md) and the return lists' hints explain the same rules
(the broken-file, corpus and untrusted-sender tests check that every rule they meet has a hint),
so a sender never reads a rule nobody explained."""

from __future__ import annotations

import re

from outreach.outputs.return_lists import FILE_HINTS, ROW_HINTS
from outreach.settings import PROJECT_ROOT


def _contract_rules() -> set[str]:
    text = (PROJECT_ROOT / "docs" / "CONTRACT.md").read_text(encoding="utf-8")
    table = text.split("What a file or row is quarantined for", 1)[1].split("\n\n", 2)[1]
    return {
        rule
        for line in table.splitlines()
        if line.startswith("| `")
        for rule in re.findall(r"`([a-z_]+)`", line.split("|")[1])
    }


def test_the_contracts_table_and_the_return_lists_explain_the_same_rules():
    assert _contract_rules() == set(FILE_HINTS) | set(ROW_HINTS)
