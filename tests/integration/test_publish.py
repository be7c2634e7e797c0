"""Publishing: marts only, atomic rename, readers never blocked, never a half-built file; the
Chinese views (schema ``marts_cn``) and the Parquet export (``published/parquet/``).

The first tests publish tiny hand-made build files. The last ones publish the demo warehouse,
built once for the module the way the DAG builds it (the loader, then dbt's models), and check
the labels of ``dbt_project/models/marts/*.yml`` against every column of every published table.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from outreach.pipeline import marts_cn
from outreach.pipeline import publish as publish_module
from outreach.pipeline.publish import parquet_dir, publication_info, publish

AS_OF = dt.date(2014, 6, 30)


def _build(path, visits: int):
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists raw; create schema if not exists marts")
    con.execute(
        "create or replace table raw.households as select '469029198001010024' as head_id_number"
    )
    con.execute(
        f"create or replace table marts.fct_visits as select range as visit_id from range({visits})"
    )
    con.execute("create or replace view marts.v as select 1")
    con.close()


def test_publish_copies_marts_only_and_stamps_the_run(tmp_path):
    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    _build(build, 3)
    result = publish(build, published, "run1", AS_OF)
    assert result["tables"] == {"fct_visits": 3}
    con = duckdb.connect(str(published), read_only=True)
    schemas = {
        r[0]
        for r in con.execute(
            "select distinct table_schema from information_schema.tables"
        ).fetchall()
    }
    assert schemas == {"marts", "marts_cn"}
    kinds = dict(
        con.execute(
            "select table_schema, list(distinct table_type) from information_schema.tables "
            "group by 1"
        ).fetchall()
    )
    assert kinds == {"marts": ["BASE TABLE"], "marts_cn": ["VIEW"]}
    con.close()
    assert publication_info(published)["run_id"] == "run1"
    assert not list(published.parent.glob("*.tmp")) and not list(published.parent.glob("*.wal"))


def test_a_reader_keeps_its_file_while_a_new_one_is_published(tmp_path):
    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    _build(build, 3)
    publish(build, published, "run1", AS_OF)
    reader = duckdb.connect(str(published), read_only=True)
    _build(build, 5)
    publish(build, published, "run2", AS_OF)  # would fail if it needed a write lock on the file
    assert reader.execute("select count(*) from marts.fct_visits").fetchone()[0] == 3
    reader.close()
    fresh = duckdb.connect(str(published), read_only=True)
    assert fresh.execute("select count(*) from marts.fct_visits").fetchone()[0] == 5
    fresh.close()


def _visits(path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select count(*) from marts.fct_visits").fetchone()[0]
    finally:
        con.close()


def test_every_as_of_date_is_kept_and_a_backfill_leaves_the_current_file_alone(tmp_path):
    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    history = published.parent / "history"
    _build(build, 6)
    publish(build, published, "night", AS_OF)
    current_bytes = published.read_bytes()

    # a backfill of two earlier dates, out of order
    for visits, day in ((4, dt.date(2013, 12, 31)), (2, dt.date(2013, 6, 30))):
        _build(build, visits)
        result = publish(build, published, f"backfill-{day}", day)
        assert result["current"] is False and result["current_as_of"] == "2014-06-30"
    assert published.read_bytes() == current_bytes
    assert sorted(p.name for p in history.iterdir()) == [
        "2013-06-30.duckdb",
        "2013-12-31.duckdb",
        "2014-06-30.duckdb",
    ]
    assert [
        _visits(history / f"{d}.duckdb") for d in ("2013-06-30", "2013-12-31", "2014-06-30")
    ] == [
        2,
        4,
        6,
    ]
    assert publication_info(history / "2013-06-30.duckdb")["as_of"] == "2013-06-30"

    # a rerun of one date replaces its history file; a later date moves the current file on
    _build(build, 3)
    publish(build, published, "rerun", dt.date(2013, 6, 30))
    assert _visits(history / "2013-06-30.duckdb") == 3
    _build(build, 7)
    assert publish(build, published, "next-night", dt.date(2014, 7, 1))["current"] is True
    assert publication_info(published)["as_of"] == "2014-07-01" and _visits(published) == 7
    leftovers = [p.name for p in history.iterdir() if p.name.startswith(".")]
    assert leftovers == [] and not list(published.parent.glob(".*tmp"))


def test_a_run_is_compared_with_the_newest_warehouse_on_or_before_its_date(tmp_path):
    from outreach.pipeline.publish import baseline_for

    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    assert not baseline_for(published, AS_OF).exists()  # nothing published yet
    _build(build, 2)
    for day in (dt.date(2013, 3, 31), dt.date(2013, 12, 31), AS_OF):
        publish(build, published, str(day), day)
    assert baseline_for(published, dt.date(2014, 7, 1)) == published  # the next night
    assert baseline_for(published, AS_OF) == published  # a rerun
    # a backfill never compares with a later date
    assert baseline_for(published, dt.date(2014, 3, 31)).name == "2013-12-31.duckdb"
    assert baseline_for(published, dt.date(2013, 3, 31)).name == "2013-03-31.duckdb"
    assert not baseline_for(published, dt.date(2012, 12, 31)).exists()


# --- Parquet --------------------------------------------------------------------------------


def _current(published: Path) -> Path:
    return (parquet_dir(published) / "current").resolve()


def _runs(published: Path) -> list[str]:
    return sorted(p.name for p in (parquet_dir(published) / "runs").iterdir())


def _parquet_rows(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def test_parquet_is_one_folder_per_run_behind_a_symlink_and_old_runs_are_pruned(tmp_path):
    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    root = parquet_dir(published)
    _build(build, 3)
    result = publish(build, published, "run1", AS_OF)
    link = root / "current"
    assert link.is_symlink() and os.readlink(link) == os.path.join("runs", "run1")  # relative
    assert result["parquet"]["run_path"] == str(root / "runs" / "run1")
    assert sorted(p.name for p in link.iterdir()) == [
        "_manifest.json",
        "fct_visits.parquet",
        "publication.parquet",
    ]
    manifest = json.loads((link / "_manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == "run1" and manifest["as_of"] == "2014-06-30"
    assert manifest["tables"] == {"fct_visits": 3, "publication": 1}
    assert manifest["published_at"] == publication_info(published)["published_at"].replace(" ", "T")

    # a reader holds the previous run's file open while the next runs are published
    reader = pq.ParquetFile(link / "fct_visits.parquet")
    for visits, run in ((5, "run2"), (6, "run3")):
        _build(build, visits)
        publish(build, published, run, AS_OF)
        assert _current(published).name == run
        assert _parquet_rows(link / "fct_visits.parquet") == visits
    assert _runs(published) == ["run1", "run2", "run3"]  # the previous folders are kept
    _build(build, 7)
    result = publish(build, published, "run4", AS_OF)
    assert result["parquet"]["pruned"] == ["run1"]
    assert _runs(published) == ["run2", "run3", "run4"]  # the last three runs
    assert reader.read().num_rows == 3  # its folder is gone; the open file still reads
    assert not [p for p in root.rglob(".*")]  # no staging folder or link left behind


def test_a_reader_of_current_always_sees_one_whole_run(tmp_path):
    """While runs are published, a reader lists ``current/*.parquet`` and reads every file and
    the manifest from the folder ``current`` resolved to: always the full set of one run."""
    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    _build(build, 1)
    publish(build, published, "run-1", AS_OF)
    link = parquet_dir(published) / "current"
    seen: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set() or not seen:
                names = {p.name for p in link.glob("*.parquet")}  # through the link itself
                assert names == {"fct_visits.parquet", "publication.parquet"}, names
                run = link.resolve()
                try:
                    manifest = json.loads((run / "_manifest.json").read_text(encoding="utf-8"))
                    stamp = pq.read_table(run / "publication.parquet").to_pylist()[0]
                    visits = _parquet_rows(run / "fct_visits.parquet")
                except FileNotFoundError:
                    if run.exists():
                        raise
                    continue  # three runs were published meanwhile: its folder was pruned
                assert stamp["run_id"] == manifest["run_id"] == run.name
                assert visits == manifest["tables"]["fct_visits"] == int(run.name.split("-")[1])
                seen.append((run.name, visits))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for n in range(2, 8):
            _build(build, n)
            publish(build, published, f"run-{n}", AS_OF)
    finally:
        done.set()
        thread.join(timeout=120)
    assert not errors, errors[0]
    assert seen and _current(published).name == "run-7"


def test_a_backfill_leaves_parquet_current_alone(tmp_path):
    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    _build(build, 6)
    publish(build, published, "night", AS_OF)
    before = _current(published)
    _build(build, 2)
    result = publish(build, published, "backfill", dt.date(2013, 6, 30))
    assert result["current"] is False and result["parquet"] is None
    assert _current(published) == before and _runs(published) == ["night"]
    assert _parquet_rows(before / "fct_visits.parquet") == 6
    # the next night moves it on
    _build(build, 7)
    publish(build, published, "next-night", dt.date(2014, 7, 1))
    assert _current(published).name == "next-night" and _runs(published) == [
        "next-night",
        "night",
    ]


def test_a_run_published_twice_gets_a_new_folder(tmp_path):
    """A retried publish task reuses its run id: the folder ``current`` names is never rewritten."""
    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    _build(build, 3)
    publish(build, published, "scheduled__2014-06-30T18:00:00+00:00", AS_OF)
    first = _current(published)
    assert first.name == "scheduled__2014-06-30T18_00_00_00_00"
    publish(build, published, "scheduled__2014-06-30T18:00:00+00:00", AS_OF)
    assert _current(published).name == first.name + ".2" and first.is_dir()


def test_a_failed_export_changes_nothing(tmp_path, monkeypatch):
    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    _build(build, 3)
    publish(build, published, "run1", AS_OF)
    before = published.read_bytes()
    history = published.parent / "history" / "2014-06-30.duckdb"
    history_before = history.read_bytes()

    def broken(db, root, run_id):
        raise OSError("disk full")

    monkeypatch.setattr(publish_module, "export_parquet", broken)
    _build(build, 5)
    with pytest.raises(OSError, match="disk full"):
        publish(build, published, "run2", AS_OF)
    assert published.read_bytes() == before and history.read_bytes() == history_before
    assert _current(published).name == "run1"
    assert not list(published.parent.glob(".*tmp"))


# --- marts_cn -------------------------------------------------------------------------------


def _views(con) -> dict[str, list[str]]:
    views: dict[str, list[str]] = {}
    for view, column in con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts_cn' order by table_name, ordinal_position"
    ).fetchall():
        views.setdefault(view, []).append(column)
    return views


def test_a_mart_without_labels_is_published_under_english_names_with_a_warning(tmp_path, caplog):
    build, published = tmp_path / "build.duckdb", tmp_path / "published" / "outreach.duckdb"
    con = duckdb.connect(str(build))
    con.execute("create schema marts")
    con.execute("create table marts.fct_visits as select 1 as visit_id, 'x' as brand_new_column")
    con.execute("create table marts.mystery as select 2 as a")
    con.close()
    with caplog.at_level(logging.WARNING, logger="outreach.pipeline.marts_cn"):
        result = publish(build, published, "run1", AS_OF)
    assert result["current"] is True  # never blocked by a label
    fallbacks = result["marts_cn"]["fallbacks"]
    assert any(f.startswith("fct_visits.brand_new_column") for f in fallbacks), fallbacks
    assert any(f.startswith("mystery:") for f in fallbacks), fallbacks
    assert "brand_new_column" in caplog.text and "mystery" in caplog.text
    con = duckdb.connect(str(published), read_only=True)
    try:
        assert _views(con) == {
            "帮扶走访": ["走访ID", "brand_new_column"],
            "mystery": ["a"],
            "发布信息": ["运行编号", "统计截止日", "发布时间"],
        }
        assert con.execute("select * from marts_cn.mystery").fetchall() == [(2,)]
    finally:
        con.close()


def test_labels_that_cannot_be_names_fall_back_to_english():
    labels = {
        "t": marts_cn.TableLabel(
            "t",
            "表",
            "表 / Table",
            {
                "a": marts_cn.ColumnLabel("名称", "名称 / Name"),
                "b": marts_cn.ColumnLabel("名称", "名称 / Name, again"),  # used twice
                "c": marts_cn.ColumnLabel("金额 (元)", "金额 / Amount"),  # a space, ASCII brackets
                "d": marts_cn.ColumnLabel(None, None),
            },
        ),
        "u": marts_cn.TableLabel("u", "表", "表 / Table, again", {}),  # view name used twice
    }
    plans, fallbacks = marts_cn.plan_views({"t": ["a", "b", "c", "d"], "u": ["x"]}, labels)
    assert [(p.view, p.columns) for p in plans] == [
        ("表", [("a", "名称"), ("b", "b"), ("c", "c"), ("d", "d")]),
        ("u", [("x", "x")]),
    ]
    assert len(fallbacks) == 5, fallbacks


# --- the demo warehouse ---------------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def demo(demo_home):
    """The session's demo night, published by the publish stage (read only here): its settings,
    the run's context and what the publish stage reported."""
    from outreach.pipeline.context import RunContext
    from outreach.settings import load_settings

    settings = load_settings({"OUTREACH_HOME": str(demo_home)})
    run = json.loads((settings.reports_dir / "latest" / "run.json").read_text(encoding="utf-8"))
    ctx = RunContext.from_xcom(run)
    result = json.loads((ctx.report_dir(settings) / "publish.json").read_text(encoding="utf-8"))
    return settings, ctx, result


@pytest.fixture
def published(demo):
    settings, _, _ = demo
    con = duckdb.connect(str(settings.published_db), read_only=True)
    yield con
    con.close()


def _mart_columns(con) -> dict[str, list[str]]:
    columns: dict[str, list[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' order by table_name, ordinal_position"
    ).fetchall():
        columns.setdefault(table, []).append(column)
    return columns


def _yml_nodes() -> dict[str, dict]:
    """Every model and source table of dbt_project/models/marts/*.yml, read with yaml."""
    nodes: dict[str, dict] = {}
    for path in sorted(marts_cn.MARTS_YML_DIR.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        found = list(doc.get("models") or [])
        for source in doc.get("sources") or []:
            found += source.get("tables") or []
        for node in found:
            assert node["name"] not in nodes, f"{node['name']} described twice"
            nodes[node["name"]] = node
    return nodes


def _bilingual(text) -> bool:
    """'走访日期 / Visit date': Chinese, then ' / ', then English."""
    return bool(text) and marts_cn.BILINGUAL_PATTERN.match(" ".join(str(text).split())) is not None


def test_every_published_column_has_a_chinese_label_and_a_bilingual_description(published, demo):
    nodes = _yml_nodes()
    problems = []
    table_labels = []
    for table, columns in _mart_columns(published).items():
        node = nodes.get(table)
        if node is None:
            problems.append(f"{table}: not described in dbt_project/models/marts/*.yml")
            continue
        label = (node.get("meta") or {}).get("cn")
        table_labels.append(label)
        if not (label and marts_cn.LABEL_PATTERN.match(label) and CJK.search(label)):
            problems.append(f"{table}: meta.cn {label!r}")
        if not _bilingual(node.get("description")):
            problems.append(f"{table}: description is not '中文 / English'")
        described = {c["name"]: c for c in node.get("columns") or []}
        labels = []
        for column in columns:
            col = described.get(column)
            if col is None:
                problems.append(f"{table}.{column}: not described")
                continue
            cn = (col.get("meta") or {}).get("cn")
            labels.append(cn)
            if not (cn and marts_cn.LABEL_PATTERN.match(cn) and CJK.search(cn)):
                problems.append(f"{table}.{column}: meta.cn {cn!r}")
            if not _bilingual(col.get("description")):
                problems.append(f"{table}.{column}: description {col.get('description')!r}")
        duplicates = {cn for cn in labels if labels.count(cn) > 1}
        if duplicates:
            problems.append(f"{table}: meta.cn used twice: {sorted(duplicates)}")
        stale = set(described) - set(columns)
        if stale:
            problems.append(f"{table}: describes columns it does not have: {sorted(stale)}")
    duplicates = {cn for cn in table_labels if table_labels.count(cn) > 1}
    if duplicates:
        problems.append(f"table meta.cn used twice: {sorted(duplicates)}")
    assert problems == [], "\n".join(problems)
    assert demo[2]["marts_cn"]["fallbacks"] == []  # so publishing needed no English fallback


def test_marts_cn_has_a_view_per_mart_with_chinese_columns_and_the_same_rows(published, demo):
    nodes = _yml_nodes()
    marts = _mart_columns(published)
    views = _views(published)
    assert demo[2]["marts_cn"]["views"] == {t: nodes[t]["meta"]["cn"] for t in marts}
    assert len(views) == len(marts)
    for table, columns in marts.items():
        view = nodes[table]["meta"]["cn"]
        by_name = {c["name"]: c["meta"]["cn"] for c in nodes[table]["columns"]}
        assert views[view] == [by_name[c] for c in columns], table
        assert all(CJK.search(c) for c in views[view]), view
        q = f'marts_cn."{view}"'
        assert (
            published.execute(f"select count(*) from {q}").fetchone()
            == published.execute(f'select count(*) from marts."{table}"').fetchone()
        )
        for a, b in ((q, f'marts."{table}"'), (f'marts."{table}"', q)):
            assert (
                published.execute(f"select * from {a} except all select * from {b}").fetchall()
                == []
            )
    # the descriptions travel with the file, on the views and on the tables
    comments = dict(
        published.execute(
            "select schema_name || '.' || table_name || '.' || column_name, comment "
            "from duckdb_columns() where schema_name in ('marts', 'marts_cn')"
        ).fetchall()
    )
    assert comments["marts.fct_visits.visit_date"] == "走访日期 / Visit date"
    assert comments["marts_cn.帮扶走访.走访日期"] == "走访日期 / Visit date"


def test_the_example_query_of_the_docs_runs(published):
    doc = (Path(__file__).parents[2] / "docs" / "PUBLISHED_FILES.md").read_text(encoding="utf-8")
    sql = next(b for b in re.findall(r"```sql\n(.*?)```", doc, re.DOTALL) if "marts_cn" in b)
    rows = published.execute(sql).fetchall()
    assert (
        rows
        and sum(r[2] for r in rows)
        == published.execute(
            "select count(*) from marts.fct_visits where visit_date <= '2014-06-30'"
        ).fetchone()[0]
    )


def test_parquet_holds_every_mart_with_its_rows(published, demo):
    settings, ctx, result = demo
    run = (parquet_dir(settings.published_db) / "current").resolve()
    assert result["parquet"]["run_path"] == str(run)
    marts = _mart_columns(published)
    manifest = json.loads((run / "_manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == ctx.run_id and manifest["as_of"] == ctx.as_of.isoformat()
    assert sorted(p.stem for p in run.glob("*.parquet")) == sorted(marts)
    for table, columns in marts.items():
        rows = published.execute(f'select count(*) from marts."{table}"').fetchone()[0]
        assert manifest["tables"][table] == rows, table
        path = run / f"{table}.parquet"
        assert _parquet_rows(path) == rows and pq.read_schema(path).names == columns, table
        assert (
            published.execute(
                f'select count(*) from (select * from marts."{table}" except all '
                f"select * from read_parquet('{path}'))"
            ).fetchone()[0]
            == 0
        ), table
    visits = pd.read_parquet(run / "fct_visits.parquet")
    assert len(visits) == manifest["tables"]["fct_visits"] > 0
