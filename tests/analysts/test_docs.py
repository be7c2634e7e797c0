"""``outreach docs``: the dbt docs site of the demo's published warehouse, offline, in one file.

The site is built once for the module, as a user runs it (``python -m outreach.cli docs``), in an
OUTREACH_HOME holding a copy of the demo's published file and a build file, while this test
holds a read-write DuckDB connection on each: DuckDB lets no other process open a file that has
a writer, so the build succeeds only if it opens neither (it copies the published file through a
file handle, see ``outreach/outputs/docs_site.py``). Then: the models, the lineage, the catalog's column
types and every published column's Chinese and English description are in the page, and the
page, opened from the disk in headless Chromium, shows them and fetches nothing but itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from outreach.outputs.docs_site import mart_nodes, read_site
from outreach.pipeline.marts_cn import BILINGUAL_PATTERN, load_labels
from outreach.settings import PROJECT_ROOT, load_settings
from tests.dashboard.browser import Browser
from tests.dashboard.helpers import home_with_copy

SCREENSHOTS = PROJECT_ROOT / "reports" / "screenshots"
# (table, column): a sample across facts, dimensions, flags, headlines and the pipeline's tables
SAMPLE = [
    ("fct_visits", "visit_date"),
    ("fct_funding", "amount_yuan"),
    ("fct_matters", "days_to_close"),
    ("dim_households", "head_id_number_mask"),
    ("dq_missing_quarterly_visits", "quarter"),
    ("program_headlines", "value"),
    ("publication", "as_of"),
]


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OUTREACH_"))}
    env["OUTREACH_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "outreach.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def site(published_db, tmp_path_factory):
    home = tmp_path_factory.mktemp("docs-home")
    settings = load_settings({"OUTREACH_HOME": str(home)})
    published = home_with_copy(published_db, home)
    settings.build_db.parent.mkdir(parents=True)
    build = duckdb.connect(str(settings.build_db))  # a night run writing the build file
    build.execute("create table night as select 1 as running")
    writer = duckdb.connect(str(published))  # and one on the published file, even
    before = _sha(published)
    try:
        proc = _cli(home, "docs")
    finally:
        writer.close()
        build.close()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    index = settings.reports_dir / "docs" / "index.html"
    manifest, catalog = read_site(index)
    return {
        "home": home,
        "index": index,
        "out": proc.stdout,
        "manifest": manifest,
        "catalog": catalog,
        "published": published,
        "sha_before": before,
    }


def test_the_site_is_one_file_with_manifest_and_catalog_beside_it(site):
    folder = site["index"].parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "catalog.json",
        "index.html",
        "manifest.json",
    ]
    on_disk = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["metadata"]["invocation_id"] == site["manifest"]["metadata"]["invocation_id"]
    assert "docs site written to" in site["out"] and "as of 2014-06-30" in site["out"]
    assert "not described" not in site["out"] and "in no yml" not in site["out"]
    assert not (site["home"] / "dbt").exists() or not list((site["home"] / "dbt").glob("docs.*"))


def test_it_opened_neither_the_build_file_nor_the_published_file(site):
    # it ran while this process held a writer on both; and the published file is untouched
    assert _sha(site["published"]) == site["sha_before"]
    assert site["catalog"]["nodes"]["model.outreach.fct_visits"]["metadata"]["database"] == (
        "outreach"
    )


def test_every_published_table_is_a_model_of_the_site_with_its_catalog(site, published_db):
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        }
    finally:
        con.close()
    marts = mart_nodes(site["manifest"])
    assert {n["name"] for n in marts.values()} == tables
    for uid, node in marts.items():
        entry = site["catalog"]["nodes"].get(uid) or site["catalog"]["sources"].get(uid)
        assert entry is not None, f"{node['name']} has no catalog entry"
        assert {c.lower() for c in entry["columns"]} == {c.lower() for c in node["columns"]}
    visit_date = site["catalog"]["nodes"]["model.outreach.fct_visits"]["columns"]["visit_date"]
    assert visit_date["type"] == "DATE"
    amount = site["catalog"]["nodes"]["model.outreach.fct_funding"]["columns"]["amount_yuan"]
    assert amount["type"].startswith("DECIMAL(18,2)")
    # the whole project is in the manifest: staging and intermediate too, and the raw sources
    models = {
        n["name"] for n in site["manifest"]["nodes"].values() if n["resource_type"] == "model"
    }
    assert {"stg_townships__visits", "int_visits_deduped", "fct_visits"} <= models
    assert "source.outreach.raw.visits" in site["manifest"]["sources"]


def test_the_lineage_runs_from_the_raw_sheets_to_the_headlines(site):
    parents, children = site["manifest"]["parent_map"], site["manifest"]["child_map"]
    chain = [
        "source.outreach.raw.visits",
        "model.outreach.stg_townships__visits",
        "model.outreach.int_visits_deduped",
        "model.outreach.fct_visits",
        "model.outreach.program_headlines",
    ]
    for upstream, downstream in zip(chain, chain[1:], strict=False):
        assert upstream in parents[downstream], (upstream, downstream)
        assert downstream in children[upstream], (upstream, downstream)
    assert "model.outreach.dim_cadres" in parents["model.outreach.fct_visits"]
    assert parents["model.outreach.fct_pairing_quarters"]  # every mart has parents
    assert all(parents[uid] for uid in mart_nodes(site["manifest"]) if uid.startswith("model."))


def test_every_published_column_is_described_in_chinese_and_english(site):
    labels, problems = load_labels()
    assert not problems
    marts = {n["name"]: n for n in mart_nodes(site["manifest"]).values()}
    columns = [(t, c, col) for t, n in marts.items() for c, col in n["columns"].items()]
    assert len(columns) > 300
    for table, column, col in columns:
        match = BILINGUAL_PATTERN.match(" ".join(col["description"].split()))
        assert match, f"{table}.{column}: {col['description']!r}"
        assert col["meta"].get("cn"), f"{table}.{column} has no Chinese label"
    for table, column in SAMPLE:
        col = marts[table]["columns"][column]
        yml = labels[table].columns[column]
        assert " ".join(col["description"].split()) == yml.description
        assert col["meta"]["cn"] == yml.cn
        zh, en = BILINGUAL_PATTERN.match(yml.description).group("zh", "en")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh) and en[0].isupper()
    assert marts["fct_visits"]["columns"]["visit_date"]["description"] == "走访日期 / Visit date"
    assert marts["fct_visits"]["meta"]["cn"] == "帮扶走访"


def test_the_page_never_turns_on_dbts_tracker(site):
    assert site["manifest"]["metadata"]["send_anonymous_usage_stats"] is False
    overview = site["manifest"]["docs"]["doc.outreach.__overview__"]["block_contents"]
    assert "已发布的文件" in overview and "published file" in overview


# the lineage graph's canvas is on the page and has a size (it is drawn, not hidden)
_GRAPH_DRAWN = """
(() => { const c = document.querySelector('#cy canvas');
         return !!c && c.getBoundingClientRect().height > 100; })()
"""


def _open_collecting(b: Browser, url: str, seconds: float = 8) -> list[str]:
    """Navigate and record every request the page makes while it loads and renders."""
    b.send("Network.enable")
    b._id += 1
    b.ws.send(json.dumps({"id": b._id, "method": "Page.navigate", "params": {"url": url}}))
    urls: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            message = json.loads(b.ws.recv(timeout=0.5))
        except TimeoutError:
            continue
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_the_page_reads_offline_in_a_browser_and_shows_both_languages(site, tmp_path):
    b = Browser(tmp_path / "profile", height=1000)
    try:
        url = site["index"].as_uri() + "#!/model/model.outreach.fct_visits"
        requested = _open_collecting(b, url)
        text = b.text()
        deadline = time.monotonic() + 30
        while "走访日期 / Visit date" not in text and time.monotonic() < deadline:
            time.sleep(0.5)
            text = b.text()
        for needle in ("fct_visits", "帮扶走访", "走访日期 / Visit date", "DATE", "VARCHAR"):
            assert needle in text, needle
        requested += b.evaluate('performance.getEntriesByType("resource").map(e => e.name)')
        assert requested
        outside = [u for u in requested if not u.startswith(("file://", "data:", "blob:"))]
        assert not outside, outside
        shot = b.screenshot(site["home"] / "reports" / "docs-fct_visits.png")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / "docs-fct_visits.png")
        b.goto("about:blank")  # a new load: the graph opens from the address (g_v=1)
        b.goto(site["index"].as_uri() + "#!/model/model.outreach.fct_visits?g_v=1")
        deadline = time.monotonic() + 30
        while "Lineage Graph" not in b.text() or not b.evaluate(_GRAPH_DRAWN):
            assert time.monotonic() < deadline, "the lineage graph was not drawn"
            time.sleep(0.5)
    finally:
        b.close()


def test_without_a_published_warehouse_it_says_so_and_writes_nothing(tmp_path):
    proc = _cli(tmp_path, "docs")
    assert proc.returncode == 1
    assert "no published warehouse at" in proc.stderr and "outreach run" in proc.stderr
    assert not (tmp_path / "reports" / "docs").exists()


def test_a_file_that_is_no_warehouse_is_refused_and_the_old_site_is_kept(tmp_path):
    settings = load_settings({"OUTREACH_HOME": str(tmp_path)})
    settings.published_db.parent.mkdir(parents=True)
    settings.published_db.write_bytes(b"PK\x03\x04 this is a spreadsheet, not DuckDB")
    old = settings.reports_dir / "docs" / "index.html"
    old.parent.mkdir(parents=True)
    old.write_text("yesterday's site", encoding="utf-8")
    proc = _cli(tmp_path, "docs")
    assert proc.returncode == 1
    assert "cannot be read as a DuckDB warehouse" in proc.stderr
    assert old.read_text(encoding="utf-8") == "yesterday's site"
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    con.close()
    shutil.copyfile(tmp_path / "empty.duckdb", settings.published_db)  # DuckDB, but no marts
    proc = _cli(tmp_path, "docs")
    assert proc.returncode == 1 and "not a published warehouse" in proc.stderr
    assert old.read_text(encoding="utf-8") == "yesterday's site"
