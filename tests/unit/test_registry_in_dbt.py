"""The natural keys that dbt deduplicates and keys facts by are the ones ``ingest/registry.yml``
declares: the macro ``natural_key`` is rendered here and compared with the registry, dataset by
dataset, through staging's renames. A key changed in one place fails here."""

from __future__ import annotations

import re

import jinja2
import pytest

from ingest.registry import load_registry
from outreach.settings import DBT_PROJECT_DIR

MACROS = (DBT_PROJECT_DIR / "macros" / "natural_keys.sql").read_text(encoding="utf-8")
# staging names a place column by what it holds: a name, not yet an id
STAGED_AS = {
    "township": "township_name",
    "village": "village_name",
    "joint_branch": "joint_branch_name",
    "enterprise": "enterprise_name",
}


class _Returned(Exception):
    def __init__(self, value):
        self.value = value


class CompilerError(Exception):
    pass


def _compiler_error(message):
    raise CompilerError(message)


def _call(macro: str, *args):
    def give_back(value):
        raise _Returned(value)

    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    env.globals["return"] = give_back
    env.globals["exceptions"] = {"raise_compiler_error": _compiler_error}
    template = env.from_string(MACROS + "{{ " + macro + "(*args) }}")
    try:
        template.render(args=args)
    except _Returned as returned:
        return returned.value
    raise AssertionError(f"{macro} returned nothing")


def _staging_sql(model: str) -> str:
    [path] = (DBT_PROJECT_DIR / "models" / "staging").rglob(f"{model}.sql")
    return path.read_text(encoding="utf-8")


def test_every_dataset_has_the_registrys_natural_key_in_dbt():
    registry = load_registry()
    staged = dict(_call("raw_datasets"))
    assert set(staged) == set(registry)
    for name, spec in registry.items():
        expected = [STAGED_AS.get(c, c) for c in spec.natural_key]
        assert _call("natural_key", name) == expected, name
        sql = _staging_sql(staged[name])
        for column in expected:
            # the staging model 1:1 with the raw dataset yields every key column by that name
            assert re.search(rf"\b{column}\b", sql), (name, column)


def test_a_dataset_without_a_key_fails_the_compile():
    with pytest.raises(CompilerError, match="no_such_dataset"):
        _call("natural_key", "no_such_dataset")
