"""Chinese names for the published marts: schema ``marts_cn``, one view per mart.

The labels live beside the models' descriptions, in ``dbt_project/models/marts/**/*.yml``: every
model (and every table of the ``pipeline`` source: ``dq_history``, ``dq_checks``, ``publication``) has
``meta: {cn: 帮扶走访}`` and each of its columns ``meta: {cn: 走访日期}``. They are read here with
yaml at publish time; dbt is not run.

A view is named by its table's Chinese label and selects every column of the mart, in order, as
its Chinese label: ``marts_cn."帮扶走访"."走访日期"`` is ``marts.fct_visits.visit_date``. The views
and columns also carry the bilingual descriptions as DuckDB comments (``duckdb_views()``,
``duckdb_columns()``; BI tools show them as remarks), as do the tables of ``marts``.

A missing, duplicated or malformed label never stops a publish: the view falls back to the
English name for that table or column and a warning is logged and returned (the unit test
``tests/integration/test_publish.py`` is where a missing label fails).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from outreach.settings import DBT_PROJECT_DIR

log = logging.getLogger("outreach.pipeline.marts_cn")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: 10x faster

MARTS_YML_DIR = DBT_PROJECT_DIR / "models" / "marts"
SCHEMA = "marts_cn"

# A label is a bare identifier for DuckDB (no quoting needed when typed by hand): Chinese
# characters, ASCII letters, digits and underscores, and full-width brackets for a unit, as in
# 金额（元）. No spaces, no ASCII punctuation, no leading digit.
LABEL_PATTERN = re.compile(r"^[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff（）]*$")
# A bilingual description: Chinese, then " / ", then English starting with a capital letter
# ("走访日期 / Visit date"); the Chinese part may itself hold " / " (按时 / 迟报 / ...).
BILINGUAL_PATTERN = re.compile(r"^(?P<zh>.*?[\u4e00-\u9fff].*?) / (?P<en>[A-Z].*)$", re.DOTALL)


@dataclass(frozen=True)
class ColumnLabel:
    cn: str | None
    description: str | None


@dataclass(frozen=True)
class TableLabel:
    name: str
    cn: str | None
    description: str | None
    columns: dict[str, ColumnLabel] = field(default_factory=dict)
    source: str = ""  # the yml file it came from


@dataclass
class ViewPlan:
    table: str
    view: str
    columns: list[tuple[str, str]]  # (English column, name in the view)
    table_comment: str | None
    column_comments: dict[str, str]


@dataclass
class CnViews:
    views: dict[str, str]  # table -> view name in marts_cn
    fallbacks: list[str]  # what fell back to an English name, and why

    def as_dict(self) -> dict:
        return {"schema": SCHEMA, "views": self.views, "fallbacks": self.fallbacks}


def _meta(node: dict) -> dict:
    """``meta`` as dbt merges it: the top-level property, then ``config.meta`` over it."""
    config = node.get("config") if isinstance(node.get("config"), dict) else {}
    top = node.get("meta") if isinstance(node.get("meta"), dict) else {}
    inner = config.get("meta") if isinstance(config.get("meta"), dict) else {}
    return {**top, **inner}


def _text(value) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _table_label(node: dict, source: str) -> TableLabel:
    columns = {}
    for col in node.get("columns") or []:
        if isinstance(col, dict) and col.get("name"):
            columns[str(col["name"])] = ColumnLabel(
                _text(_meta(col).get("cn")), _text(col.get("description"))
            )
    return TableLabel(
        name=str(node["name"]),
        cn=_text(_meta(node).get("cn")),
        description=_text(node.get("description")),
        columns=columns,
        source=source,
    )


def load_labels(folder: Path = MARTS_YML_DIR) -> tuple[dict[str, TableLabel], list[str]]:
    """Every model and source table described in ``folder/**/*.yml``, by name, and the problems met
    reading them (a file that does not parse is skipped, not fatal)."""
    labels: dict[str, TableLabel] = {}
    problems: list[str] = []
    files = sorted(folder.rglob("*.yml")) if folder.is_dir() else []
    if not files:
        problems.append(f"no yml files in {folder}")
    for path in files:
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        nodes = [m for m in doc.get("models") or [] if isinstance(m, dict) and m.get("name")]
        for src in doc.get("sources") or []:
            if isinstance(src, dict):
                nodes += [
                    t for t in src.get("tables") or [] if isinstance(t, dict) and t.get("name")
                ]
        for node in nodes:
            label = _table_label(node, path.name)
            if label.name in labels:
                problems.append(
                    f"{path.name}: {label.name} is also described in {labels[label.name].source}"
                )
                continue
            labels[label.name] = label
    return labels, problems


def _free(name: str, used: set[str]) -> bool:
    return name.lower() not in used  # DuckDB identifiers are case-insensitive


def plan_views(
    tables: dict[str, list[str]], labels: dict[str, TableLabel]
) -> tuple[list[ViewPlan], list[str]]:
    """The view of every table (``tables``: table -> its columns, in order) and the fallbacks to
    English names, each with its reason."""
    fallbacks: list[str] = []
    used_views: set[str] = set()
    plans = []
    for table in sorted(tables):
        label = labels.get(table)
        view = label.cn if label else None
        if label is None:
            fallbacks.append(f"{table}: no description in dbt_project/models/marts/**/*.yml")
        elif not view:
            fallbacks.append(f"{table}: no meta.cn")
        elif not LABEL_PATTERN.match(view):
            fallbacks.append(f"{table}: meta.cn {view!r} is not a plain name")
            view = None
        elif not _free(view, used_views):
            fallbacks.append(f"{table}: meta.cn {view!r} is already the name of another view")
            view = None
        if view is None:
            view = table
            if not _free(view, used_views):  # an English name some Chinese label took: unlikely
                view = f"{table}_{len(used_views)}"
        used_views.add(view.lower())

        used_columns: set[str] = set()
        columns, comments = [], {}
        for column in tables[table]:
            col_label = label.columns.get(column) if label else None
            name = col_label.cn if col_label else None
            if label is not None and col_label is None:
                fallbacks.append(f"{table}.{column}: not described")
            elif label is not None and not name:
                fallbacks.append(f"{table}.{column}: no meta.cn")
            elif name and not LABEL_PATTERN.match(name):
                fallbacks.append(f"{table}.{column}: meta.cn {name!r} is not a plain name")
                name = None
            elif name and not _free(name, used_columns):
                fallbacks.append(f"{table}.{column}: meta.cn {name!r} is used twice in the table")
                name = None
            if not name:
                name = column if _free(column, used_columns) else f"{column}_{len(columns)}"
            used_columns.add(name.lower())
            columns.append((column, name))
            if col_label and col_label.description:
                comments[column] = col_label.description
        plans.append(ViewPlan(table, view, columns, label.description if label else None, comments))
    return plans, fallbacks


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _view_sql(plan: ViewPlan, schema: str, english: bool = False) -> str:
    select = ", ".join(
        f"{quote(col)} as {quote(col if english else name)}" for col, name in plan.columns
    )
    view = plan.table if english else plan.view
    return (
        f"create or replace view {SCHEMA}.{quote(view)} as "
        f"select {select} from {schema}.{quote(plan.table)}"
    )


def _comment(con: duckdb.DuckDBPyConnection, kind: str, target: str, text: str | None) -> None:
    if text:
        con.execute(f"comment on {kind} {target} is {literal(text)}")


def create_views(
    con: duckdb.DuckDBPyConnection,
    schema: str = "marts",
    folder: Path = MARTS_YML_DIR,
) -> CnViews:
    """Create ``marts_cn`` with a view per base table of ``schema`` and put the descriptions on
    both as comments. Raises only when even a view with English names cannot be created."""
    tables: dict[str, list[str]] = {}
    for table, column in con.execute(
        "select c.table_name, c.column_name from information_schema.columns as c "
        "join information_schema.tables as t using (table_catalog, table_schema, table_name) "
        "where c.table_schema = ? and t.table_type = 'BASE TABLE' "
        "order by c.table_name, c.ordinal_position",
        [schema],
    ).fetchall():
        tables.setdefault(table, []).append(column)
    labels, problems = load_labels(folder)
    plans, fallbacks = plan_views(tables, labels)
    fallbacks = problems + fallbacks
    con.execute(f"create schema if not exists {SCHEMA}")
    views = {}
    for plan in plans:
        english = False
        try:
            con.execute(_view_sql(plan, schema))
        except duckdb.Error as exc:  # a label DuckDB refuses: the English names always work
            fallbacks.append(f"{plan.table}: view {plan.view!r} failed ({exc}); English names used")
            english = True
            con.execute(_view_sql(plan, schema, english=True))
        view = plan.table if english else plan.view
        views[plan.table] = view
        target = f"{SCHEMA}.{quote(view)}"
        _comment(con, "table", f"{schema}.{quote(plan.table)}", plan.table_comment)
        _comment(con, "view", target, plan.table_comment)
        for col, name in plan.columns:
            text = plan.column_comments.get(col)
            _comment(con, "column", f"{schema}.{quote(plan.table)}.{quote(col)}", text)
            _comment(con, "column", f"{target}.{quote(col if english else name)}", text)
    for message in fallbacks:
        log.warning("marts_cn: %s", message)
    return CnViews(views, fallbacks)
