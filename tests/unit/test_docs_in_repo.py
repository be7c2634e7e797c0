"""The project documents its own contract and rules, and its documents point only inside it.

- ``docs/CONTRACT.md``'s dataset tables are the registry's (generated, and compared here);
- ``docs/RULES.md`` names every headline metric, every dq_results rule and every obligation
  flag the warehouse has;
- no file refers to a path outside the repository, and every relative link and every
  ``docs/*.md`` named resolves;
- the README's Layout section lists the tree as it is.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from outreach.checks.gate import OBLIGATION_TABLES
from outreach.outputs import contract_doc
from outreach.settings import DBT_PROJECT_DIR, PROJECT_ROOT

TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".sql", ".toml", ".cfg", ".txt", ".sh", ""}


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    out = []
    for name in names:
        path = PROJECT_ROOT / name
        if name and path.is_file() and path.suffix in TEXT_SUFFIXES:
            out.append(path)
    return out


def _accepted_values(yml: Path, column: str) -> list[str]:
    doc = yaml.safe_load(yml.read_text(encoding="utf-8"))
    [model] = doc["models"]
    [col] = [c for c in model["columns"] if c["name"] == column]
    [values] = [
        t["accepted_values"]["arguments"]["values"]
        for t in col["data_tests"]
        if isinstance(t, dict) and "accepted_values" in t
    ]
    return values


def test_the_contracts_dataset_tables_are_the_registrys():
    text = contract_doc.CONTRACT_PATH.read_text(encoding="utf-8")
    assert contract_doc.with_datasets(text) == text, (
        "docs/CONTRACT.md disagrees with ingest/registry.yml: "
        "run `python -m outreach.outputs.contract_doc`"
    )
    # and the generated part says what a reader needs of every column
    for line in contract_doc.render_datasets().splitlines():
        if line.startswith("| ") and not line.startswith(("| header", "|---")):
            header, _aliases, column, kind = (c.strip() for c in line.strip("|").split(" | "))
            assert header and column.startswith("`") and kind, line


def test_the_rules_name_every_metric_rule_and_flag_the_warehouse_has():
    rules = (PROJECT_ROOT / "docs" / "RULES.md").read_text(encoding="utf-8")
    marts = DBT_PROJECT_DIR / "models" / "marts"
    table = rules.split("## Headline figures", 1)[1]
    documented = [m for m in re.findall(r"^\| ([a-z_]+) \|", table, re.M) if m != "metric"]
    assert documented == _accepted_values(marts / "program_headlines.yml", "metric")
    for rule in _accepted_values(marts / "dq_results.yml", "rule_id"):
        assert f"`{rule}`" in rules, rule
    for flag in (*OBLIGATION_TABLES, "pii_outside_raw", "mart_emptied", "dq_checks"):
        assert f"`{flag}`" in rules, flag


# a relative path that climbs (../x), written anywhere: in a link, in backticks or in prose
_CLIMB = re.compile(r"(?:\.\./)+[\w./-]*[\w/]")
_DOCS = re.compile(r"\bdocs/([A-Z_]+\.md)\b")
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_nothing_refers_to_a_path_outside_the_repository():
    outside, missing = [], []
    for path in _tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(PROJECT_ROOT)
        for found in _CLIMB.findall(text):
            target = (path.parent / found).resolve()
            if not target.is_relative_to(PROJECT_ROOT):
                outside.append(f"{rel}: {found}")
        for name in _DOCS.findall(text):
            if not (PROJECT_ROOT / "docs" / name).is_file():
                missing.append(f"{rel}: docs/{name}")
        if path.suffix == ".md":
            for link in _LINK.findall(text):
                if "://" in link or link.startswith("mailto:"):
                    continue
                if not (path.parent / link).exists():
                    missing.append(f"{rel}: ({link})")
    assert outside == []
    assert missing == []


def _layout_block() -> list[str]:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1]
    block = section.split("```\n", 2)[1]
    return [line.split()[0] for line in block.splitlines() if line.strip()]


def test_the_readmes_layout_is_the_tree():
    listed = _layout_block()
    for entry in listed:
        assert (PROJECT_ROOT / entry).exists(), f"README Layout lists {entry}, which is not there"
    # every top-level folder of the project and every room of outreach/ is listed
    tracked = {p.relative_to(PROJECT_ROOT).parts for p in _tracked_text_files()}
    top = {
        parts[0] + "/"
        for parts in tracked
        if len(parts) > 1 and not parts[0].startswith(".") and parts[0] != "outreach"
    }
    rooms = {
        f"outreach/{parts[1]}/"
        for parts in tracked
        if len(parts) > 2 and parts[0] == "outreach" and parts[1] != "__pycache__"
    }
    modules = {
        f"outreach/{parts[1]}"
        for parts in tracked
        if len(parts) == 2 and parts[0] == "outreach" and parts[1] != "__init__.py"
    }
    assert top | rooms | modules <= set(listed), sorted(top | rooms | modules - set(listed))


def test_the_rooms_without_airflow_import_nothing_of_it():
    """pipeline/, checks/ and outputs/ run under Airflow and without it (outreach run, the
    CLI, the tests): none imports airflow, cosmos or outreach.airflow, not even lazily."""
    import ast

    found = []
    for room in ("pipeline", "checks", "outputs"):
        for path in sorted((PROJECT_ROOT / "outreach" / room).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for name in names:
                    if name.split(".")[0] in ("airflow", "cosmos") or name.startswith(
                        "outreach.airflow"
                    ):
                        found.append(f"{path.relative_to(PROJECT_ROOT)}: {name}")
    assert found == []
