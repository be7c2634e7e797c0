"""The dbt docs site of the warehouse (``outreach docs``): one HTML file that reads offline.

``build_docs`` writes ``$OUTREACH_HOME/reports/docs/index.html``: dbt's documentation site with
the project's manifest (every model, source, test and macro, their bilingual descriptions and
``meta.cn`` labels, and the lineage graph: ``parent_map`` / ``child_map``) and the catalog (each
relation's real columns and types) inlined (``dbt docs generate --static``), so it opens from the
disk with no web server. ``manifest.json`` and ``catalog.json`` are written beside it for tools.

Which database the catalog is read from. dbt-duckdb opens its database read-write, and DuckDB
allows one writer process or many readers, never both. So the catalog is never read from a file
the night may need:

- not the build file (``warehouse/outreach_build.duckdb``): the night run writes it, and a docs
  build holding it would make the night's writer fail (checking ``run.lease`` first would not
  help: a night may claim it a second later);
- not the published file in place: opening it read-write would take its writer lock;
- but a private **copy of the published file**, taken through one open file handle. The night
  never writes the published file in place (it renames a new file over it:
  ``outreach/pipeline/publish.py``), so the handle reads one whole, checkpointed file, yesterday's or
  today's, and takes no DuckDB lock at all. The copy is named ``outreach.duckdb``, so the site
  names relations as an analyst sees them (``outreach.marts.fct_visits``), and it is deleted
  when dbt is done.

The catalog therefore covers what analysts read: every mart and the two tables the pipeline
writes (``dq_history``, ``dq_checks``, ``publication``). Staging and intermediate models (views of the build
file) and the ``raw`` sources appear in the lineage graph with their descriptions, without
column types. No personal data is in the site: the published file holds none, and the catalog
holds names and types, not rows.

Offline: the page's scripts, styles and icons are inside it. dbt's usage tracker (a script
from a CDN) only starts when the manifest says ``send_anonymous_usage_stats: true``; the project
turns it off (``dbt_project.yml``, and ``DBT_SEND_ANONYMOUS_USAGE_STATS=false`` here), and the
build refuses to write a page whose manifest says otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from outreach.pipeline import dbt_runner
from outreach.pipeline.marts_cn import BILINGUAL_PATTERN
from outreach.pipeline.publish import publication_info
from outreach.settings import Settings

# The name of the private copy: dbt-duckdb names the database after the file's stem.
CATALOG_DB_NAME = "outreach.duckdb"
PACKAGE = "outreach"
# The placeholders dbt's index.html holds where ``--static`` inlines the two documents.
_INLINE_MARKERS = ("manifest:", ",catalog:")


class DocsError(RuntimeError):
    """The docs site could not be built (no published warehouse, dbt failed)."""


@dataclass(frozen=True)
class DocsSite:
    """What ``build_docs`` wrote, and how well the marts are described."""

    path: Path  # the site: .../reports/docs/index.html
    as_of: str  # the as-of date of the published file the catalog was read from
    run_id: str
    models: int  # models in the manifest (all layers)
    sources: int
    catalog_relations: int  # relations whose columns the catalog holds
    mart_columns: int  # columns of the marts and the pipeline's tables, in the manifest
    not_bilingual: list[str] = field(default_factory=list)  # table.column without "中文 / English"
    undocumented: list[str] = field(default_factory=list)  # in the catalog, not in any yml


def docs_dir(settings: Settings) -> Path:
    return settings.reports_dir / "docs"


def snapshot(published_db: Path, target: Path) -> None:
    """Copy the published file through one open handle (see the module docstring): a rename
    over it during the copy changes nothing for the handle, and no DuckDB lock is taken."""
    with open(published_db, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, length=1 << 20)


def build_docs(settings: Settings, output: Path | None = None) -> DocsSite:
    """Build the site into ``output`` (default ``reports/docs/``), replacing what was there."""
    published = settings.published_db
    if not published.exists():
        raise DocsError(
            f"no published warehouse at {published}: the docs' catalog is read from it. "
            "Run `outreach run` (or `make run`) first."
        )
    output = (output or docs_dir(settings)).resolve()
    work = settings.home / "dbt" / f"docs.{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        db = work / CATALOG_DB_NAME
        snapshot(published, db)
        try:
            stamp = publication_info(db)
        except duckdb.Error as exc:  # not a DuckDB file, or one from a newer DuckDB
            raise DocsError(f"{published} cannot be read as a DuckDB warehouse: {exc}") from exc
        if stamp is None:
            raise DocsError(f"{published} is not a published warehouse (no marts.publication)")
        target = work / "target"
        _generate(db, target, stamp["as_of"])
        manifest, catalog = read_site(target / "static_index.html")
        if manifest.get("metadata", {}).get("send_anonymous_usage_stats"):
            raise DocsError(
                "the manifest turns dbt's usage tracking on: the page would load a script from "
                "the internet; set send_anonymous_usage_stats: false in dbt_project.yml"
            )
        _install(
            output,
            {
                "index.html": target / "static_index.html",
                "manifest.json": target / "manifest.json",
                "catalog.json": target / "catalog.json",
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _summarise(output / "index.html", stamp, manifest, catalog)


def _generate(db: Path, target: Path, as_of: str) -> None:
    # the database dbt opens is the copy; compiled SQL in the site shows the file's as-of date
    proc = dbt_runner.run_dbt(
        ["docs", "generate", "--static"], db, target, target.parent / "logs", as_of
    )
    if proc.returncode != 0 or not (target / "static_index.html").is_file():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise DocsError(f"dbt docs generate failed (exit {proc.returncode}):\n{tail}")


def _install(output: Path, files: dict[str, Path]) -> None:
    """Put the files into ``output`` as a whole: staged beside it, then swapped in with two
    renames, so a reader sees the old site or the new one (or, for an instant, none)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    staged = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    old = output.with_name(f".{output.name}.{os.getpid()}.old")
    for leftover in (staged, old):
        shutil.rmtree(leftover, ignore_errors=True)
    staged.mkdir()
    try:
        for name, src in files.items():
            shutil.copyfile(src, staged / name)
        if output.exists():
            os.replace(output, old)
        os.replace(staged, output)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        if old.exists() and not output.exists():
            os.replace(old, output)  # put the previous site back
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_site(index_html: Path) -> tuple[dict, dict]:
    """The manifest and the catalog inlined in a static docs page (``dbt docs generate
    --static`` puts them, as JSON, where dbt's page holds ``{manifest:…,catalog:…}``)."""
    text = index_html.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    docs = []
    start = text.find("{" + _INLINE_MARKERS[0])
    if start < 0:
        raise DocsError(f"{index_html} holds no inlined manifest: not a static dbt docs page")
    pos = start + 1
    for marker in _INLINE_MARKERS:
        if not text.startswith(marker, pos):
            raise DocsError(f"{index_html}: expected {marker!r} at {pos}")
        value, pos = decoder.raw_decode(text, pos + len(marker))
        if not isinstance(value, dict):
            raise DocsError(f"{index_html}: the inlined {marker.strip(',:')} is not a document")
        docs.append(value)
    return docs[0], docs[1]


def mart_nodes(manifest: dict) -> dict[str, dict]:
    """The tables of the published file in the manifest: the models under models/marts and the
    pipeline's own tables (source ``pipeline``), by unique id."""
    nodes = {
        uid: n
        for uid, n in manifest.get("nodes", {}).items()
        if n.get("resource_type") == "model"
        and n.get("package_name") == PACKAGE
        and n.get("fqn", [None, None])[1:2] == ["marts"]
    }
    nodes |= {
        uid: n
        for uid, n in manifest.get("sources", {}).items()
        if n.get("source_name") == "pipeline"
    }
    return nodes


def _summarise(path: Path, stamp: dict, manifest: dict, catalog: dict) -> DocsSite:
    marts = mart_nodes(manifest)
    not_bilingual, undocumented = [], []
    columns = 0
    for uid, node in sorted(marts.items(), key=lambda kv: kv[1]["name"]):
        for name, col in node.get("columns", {}).items():
            columns += 1
            if not BILINGUAL_PATTERN.match(" ".join((col.get("description") or "").split())):
                not_bilingual.append(f"{node['name']}.{name}")
        entry = catalog.get("nodes", {}).get(uid) or catalog.get("sources", {}).get(uid) or {}
        documented = {c.lower() for c in node.get("columns", {})}
        undocumented += [
            f"{node['name']}.{c}" for c in entry.get("columns", {}) if c.lower() not in documented
        ]
    models = [n for n in manifest.get("nodes", {}).values() if n.get("resource_type") == "model"]
    return DocsSite(
        path=path,
        as_of=str(stamp["as_of"]),
        run_id=str(stamp["run_id"]),
        models=len(models),
        sources=len(manifest.get("sources", {})),
        catalog_relations=len(catalog.get("nodes", {})) + len(catalog.get("sources", {})),
        mart_columns=columns,
        not_bilingual=not_bilingual,
        undocumented=undocumented,
    )


def describe(site: DocsSite) -> list[str]:
    """What ``outreach docs`` prints."""
    lines = [
        f"docs site written to {site.path} (open it in a browser; it needs no server or internet)",
        f"  catalog from the published warehouse as of {site.as_of} (run {site.run_id})",
        f"  {site.models} models, {site.sources} sources; {site.catalog_relations} relations "
        f"with their columns; {site.mart_columns} columns of the published tables",
    ]
    if site.not_bilingual:
        lines.append(
            f"  {len(site.not_bilingual)} published column(s) not described as '中文 / English': "
            + ", ".join(site.not_bilingual[:10])
        )
    if site.undocumented:
        lines.append(
            f"  {len(site.undocumented)} published column(s) described in no yml: "
            + ", ".join(site.undocumented[:10])
        )
    return lines
