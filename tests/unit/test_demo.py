"""Tests of the demo inbox (outreach.demo).

The inbox is written once per session (and a second time, concurrently, by a subprocess with a
different hash seed, for the determinism test). Every data row of every file is then read back
with python-calamine / csv and decoded by the small reference reader below, which resolves the
mess the contract lists (title rows, merged cells, 同上, units, date and boolean spellings, ...).
The decoded rows must equal the truth records they were rendered from, and the headline figures
computed from the decoded rows must equal docs/RULES.md's.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import os
import re
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
import zhconv
from python_calamine import CalamineWorkbook

import outreach.demo as demo
from outreach.demo import DEMO_AS_OF, DemoManifest, demo_truth, write_demo_inbox
from outreach.demo.ids import is_valid_credit_code, is_valid_resident_id, resident_id_check
from outreach.demo.periods import (
    EXCEL_EPOCH,
    active_days,
    excel_serial,
    last_friday,
    owed_quarters,
    quarter_bounds,
    quarter_label,
    quarter_of,
)
from outreach.demo.render import (
    BOOL_FIELDS,
    DATE_FIELDS,
    INT_FIELDS,
    MONEY_FIELDS,
    NAME_FIELDS,
    REQUIRED,
)
from outreach.demo.truth import (
    missed_annual_talks,
    missed_branch_quarters,
    missed_quarterly_visits,
)
from tests.article import ARTICLE

REPO = Path(__file__).resolve().parents[2]
NATURAL_KEYS = {
    "visits": ("visit_date", "cadre_code", "household_code"),
    "funding": (
        "funded_on",
        "source_type",
        "source_unit",
        "amount_yuan",
        "project_code",
        "village",
    ),
    "projects": ("project_code",),
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session", autouse=True)
def second_run(tmp_path_factory):
    """A second, independent run (another process, another hash seed), started first so that it
    runs while this process builds and writes its own copy."""
    second = tmp_path_factory.mktemp("inbox_b")
    env = dict(os.environ, PYTHONHASHSEED="4711")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from outreach.demo import write_demo_inbox; "
            "write_demo_inbox(Path(sys.argv[1]))",
            str(second),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    yield {"root": second, "proc": proc}
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def inbox(tmp_path_factory):
    """The demo inbox, written in-process."""
    first = tmp_path_factory.mktemp("inbox_a")
    manifest = write_demo_inbox(first)
    return {"root": first, "manifest": manifest}


@pytest.fixture(scope="session")
def layouts():
    from outreach.demo import _layouts

    return _layouts()


@pytest.fixture(scope="session")
def registry():
    return yaml.safe_load((REPO / "ingest" / "registry.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def gazetteer():
    return yaml.safe_load((REPO / "config" / "gazetteer.yml").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- reference reader


@functools.cache
def read_grids(path: Path) -> dict[str, tuple[list[list], list]]:
    """sheet name -> (grid of raw cell values, merged ranges ((r1, c1), (r2, c2)))."""
    data = path.read_bytes()
    if path.suffix == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
        rows = [list(r) for r in csv.reader(io.StringIO(text))]
        return {path.stem: (rows, [])}
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))  # sniffs xls / xlsx by content
    out = {}
    for name in wb.sheet_names:
        sh = wb.get_sheet_by_name(name)
        out[name] = (sh.to_python(skip_empty_area=False), sh.merged_cell_ranges or [])
    return out


def cell(grid, r, c):
    if r < len(grid) and c < len(grid[r]):
        v = grid[r][c]
        return None if v == "" else v
    return None


def norm_text(v) -> str:
    return zhconv.convert(unicodedata.normalize("NFKC", str(v)), "zh-hans").strip()


def norm_header(v) -> str:
    s = norm_text(v)
    s = re.sub(r"\s+", "", s).replace("*", "")
    return re.sub(r"\([^()]*\)$", "", s) or s


LONGTEXT = {"notes", "requests", "description", "opinions", "agenda", "purpose"}  # not NFKC'd
DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
BOOLS = {
    "是": True,
    "否": False,
    "√": True,
    "×": False,
    "有": True,
    "无": False,
    "1": True,
    "0": False,
    "Y": True,
    "N": False,
}
ENUM_ALIASES = {
    "上门": "入户",
    "到户": "入户",
    "集中座谈": "座谈",
    "县财政": "财政",
    "县级财政": "财政",
}


def decode_date(v) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, int | float):
        return EXCEL_EPOCH + dt.timedelta(days=int(v))
    m = DATE_RE.match(unicodedata.normalize("NFKC", v).strip())
    if not m:
        raise ValueError(f"unreadable date {v!r}")
    return dt.date(*map(int, m.groups()))


def decode_money(v, wan: bool) -> Decimal:
    if isinstance(v, int | float):
        d = Decimal(repr(float(v)))
        return (d * 10000 if wan else d).quantize(Decimal("0.01"))
    s = unicodedata.normalize("NFKC", v).strip().replace(",", "")
    mult = Decimal(1)
    if s.endswith("元"):
        s = s[:-1]
    if s.endswith("万"):
        s, mult = s[:-1], Decimal(10000)
    elif wan:
        mult = Decimal(10000)
    if not re.fullmatch(r"\d+(\.\d+)?", s):
        raise ValueError(f"unreadable money {v!r}")
    return (Decimal(s) * mult).quantize(Decimal("0.01"))


class Decoder:
    def __init__(self, townships: set[str]):
        self.townships = townships

    def decode(self, f: str, v, wan: bool):
        if v is None:
            return None
        if f in DATE_FIELDS:
            return decode_date(v)
        if f in MONEY_FIELDS:
            return decode_money(v, wan)
        if f in BOOL_FIELDS:
            key = str(int(v)) if isinstance(v, float) else norm_text(v)
            return BOOLS[key]
        if f in INT_FIELDS:
            return int(float(v))
        if f == "study_hours":
            return Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
        if f == "phone":
            return str(int(v)) if isinstance(v, float) else norm_text(v)
        if f == "head_id_number":
            if isinstance(v, float):
                raise ValueError("resident ID stored as a number")
            return norm_text(v).upper()
        if f in LONGTEXT:
            return str(v).strip()
        s = norm_text(v)
        if f in NAME_FIELDS:
            return re.sub(r"\s+", "", s)
        if f == "township":
            if s in self.townships:
                return s
            for full in self.townships:
                if full[:-1] == s:
                    return full
            return s
        if f == "village" and s.endswith("村") and not s.endswith("村委会"):
            return s + "委会"
        return ENUM_ALIASES.get(s, s)


def decode_sheet(grid, merges, layout, decoder):
    """[(RowInfo, decoded dict or exception)] for every ledger row of a sheet layout."""
    grid = [list(r) for r in grid]
    for (r1, c1), (r2, c2) in merges:
        top = cell(grid, r1, c1)
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                if r < len(grid) and c < len(grid[r]):
                    grid[r][c] = "" if top is None else top
    decoded: dict[tuple[int, int], object] = {}
    out = []
    for info in layout.data:
        rec = {}
        try:
            for c, f in enumerate(layout.columns):
                if f is None:
                    continue
                raw = cell(grid, info.row, c)
                if raw == "同上":
                    value = decoded[(info.row - 1, c)]
                else:
                    value = decoder.decode(f, raw, f in layout.wan_fields)
                decoded[(info.row, c)] = value
                rec[f] = value
            out.append((info, rec))
        except (ValueError, KeyError) as e:
            out.append((info, e))
    return out


@pytest.fixture(scope="session")
def decoded(inbox, layouts, gazetteer):
    """dataset -> list of (path, sheet, RowInfo, decoded record | exception)."""
    decoder = Decoder({t["name"] for t in gazetteer["townships"]})
    out = defaultdict(list)
    for f in layouts:
        grids = read_grids(inbox["root"] / f.path)
        for s in f.sheets:
            name = s.name if not f.path.endswith(".csv") else Path(f.path).stem
            grid, merges = grids[name]
            if s.dataset is None:
                continue
            for info, rec in decode_sheet(grid, merges, s, decoder):
                out[s.dataset].append((f.path, s.name, info, rec))
    return out


def loaded(decoded, dataset):
    return [rec for _, _, info, rec in decoded[dataset] if info.rule is None]


def dedup(rows, dataset):
    keys = NATURAL_KEYS.get(dataset)
    if not keys:
        return rows
    seen = {}
    for r in rows:
        seen.setdefault(tuple(r[k] for k in keys), r)
    return list(seen.values())


# --------------------------------------------------------------------------- API and determinism


def test_api_constants():
    assert DEMO_AS_OF == dt.date(2014, 6, 30)
    assert set(demo.EXPECTED_HEADLINES) == set(ARTICLE) | {
        "enterprise_problems_solved",
        "quarterly_visit_rate",
    }
    for key in (
        "missed_annual_talks",
        "missed_quarterly_visits",
        "org_cadre_pairing_load",
        "duplicate_visits",
        "duplicate_funding",
        "unknown_codes",
        "quarantined_rows",
        "quarantined",
        "unmatched_sheets",
        "missed_branch_quarters",
    ):
        assert key in demo.PLANTED


def test_manifest(inbox):
    m: DemoManifest = inbox["manifest"]
    root = inbox["root"]
    written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert list(m.files) == written
    assert {p.split("/")[0] for p in m.files} == {
        "townships",
        "joint_branches",
        "enterprises",
        "county",
    }
    assert m.counts["files"] == len(m.files)
    assert m.counts["quarantined_rows"] == demo.PLANTED["quarantined_rows"]
    assert m.counts["unmatched_sheets"] == len(demo.PLANTED["unmatched_sheets"])
    assert 9000 <= m.counts["visits"] <= 11000


def test_two_runs_give_identical_bytes(inbox, second_run):
    _, err = second_run["proc"].communicate(timeout=120)
    assert second_run["proc"].returncode == 0, err.decode()
    a, b = inbox["root"], second_run["root"]
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_xlsx_zip_entries_have_fixed_timestamps(inbox):
    import zipfile

    for rel in inbox["manifest"].files:
        data = (inbox["root"] / rel).read_bytes()
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                assert {i.date_time for i in z.infolist()} == {(2014, 6, 30, 18, 0, 0)}
                assert b"2014-06-30T18:00:00Z" in z.read("docProps/core.xml")


# --------------------------------------------------------------------------- headline figures


def test_expected_headlines_match_the_article():
    for k, v in ARTICLE.items():
        assert demo.EXPECTED_HEADLINES[k] == v, k
    assert demo.EXPECTED_HEADLINES["enterprise_problems_solved"] >= 130
    t = demo_truth()
    owed = met = 0
    seen = {(v.cadre_code, v.household_code, quarter_of(v.visit_date)) for v in t.visits}
    for p in t.pairings:
        for yq in owed_quarters(p.pair_start, p.pair_end, DEMO_AS_OF):
            owed += 1
            met += (p.cadre_code, p.household_code, yq) in seen
    assert demo.EXPECTED_HEADLINES["quarterly_visit_rate"] == met / owed
    assert owed - met == len(demo.PLANTED["missed_quarterly_visits"])


def test_headlines_recomputed_from_the_written_files(decoded):
    talks = loaded(decoded, "talks")
    visits = dedup(loaded(decoded, "visits"), "visits")
    funding = dedup(loaded(decoded, "funding"), "funding")
    projects = dedup(loaded(decoded, "projects"), "projects")
    matters = loaded(decoded, "matters")
    teams = loaded(decoded, "work_teams")
    closed = Counter(m["category"] for m in matters if m["status"] == "已办结")
    got = {
        "cadres_talked": len({r["cadre_code"] for r in talks}),
        "opinions_collected": sum(r["opinion_count"] or 0 for r in talks),
        "households_visited": len({r["household_code"] for r in visits}),
        "households_paired": len({r["household_code"] for r in loaded(decoded, "pairings")}),
        "funding_yuan": sum(r["amount_yuan"] for r in funding),
        "cooperatives": sum(r["project_type"] == "专业合作社" for r in projects),
        "practical_matters_done": closed["办实事"],
        "branch_problems_solved": closed["支部难题"],
        "capacity_projects": sum(bool(r["is_capacity_building"]) for r in projects),
        "members_transformed": closed["党员转化"],
        "branches_upgraded": closed["支部升级"],
        "work_teams": len({r["team_code"] for r in teams}),
        "villages_stationed": len({r["village"] for r in teams}),
        "cadres_stationed": len({r["cadre_code"] for r in teams}),
    }
    assert got == ARTICLE
    assert closed["企业诉求"] >= 130
    assert len(loaded(decoded, "visits")) - len(visits) == demo.PLANTED["duplicate_visits"] == 3
    assert len(loaded(decoded, "funding")) - len(funding) == demo.PLANTED["duplicate_funding"] == 1
    assert len(loaded(decoded, "projects")) - len(projects) == 1


# --------------------------------------------------------------------------- planted findings


def test_missed_visits_recomputed_from_truth():
    t = demo_truth()
    seen = defaultdict(set)
    for v in t.visits:
        seen[(v.cadre_code, v.household_code)].add(quarter_of(v.visit_date))
    missed = []
    for p in t.pairings:
        y, q = quarter_of(p.pair_start)
        while quarter_bounds(y, q)[1] <= DEMO_AS_OF:
            qs, qe = quarter_bounds(y, q)
            first, last = max(qs, p.pair_start), min(qe, p.pair_end or qe)
            days = (last - first).days + 1
            if days >= 30 and (y, q) not in seen[(p.cadre_code, p.household_code)]:
                missed.append((p.cadre_code, p.household_code, f"{y}Q{q}"))
            y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    assert sorted(set(missed)) == demo.PLANTED["missed_quarterly_visits"]
    assert 40 <= len(missed) <= 60
    assert demo.PLANTED["missed_quarterly_visits"] == t.intended["missed_quarterly_visits"]
    # the 30-day edge is exercised both ways
    edges = {(c, h, q): d for c, h, q, d in t.intended["edge_pairings"]}
    assert {30, 29} <= set(edges.values())
    assert any(k in set(missed) for k, d in edges.items() if d == 30)


def test_missed_visits_recomputed_from_the_written_files(decoded):
    from outreach.demo.truth import Pairing, Visit

    pairings = [
        Pairing(
            r["cadre_code"], "", r["household_code"], "", "", "", r["pair_start"], r["pair_end"]
        )
        for r in loaded(decoded, "pairings")
    ]
    visits = [
        Visit(r["visit_date"], r["cadre_code"], "", r["household_code"], "", "", "", "", "", None)
        for r in loaded(decoded, "visits")
    ]
    assert (
        missed_quarterly_visits(pairings, visits, DEMO_AS_OF)
        == demo.PLANTED["missed_quarterly_visits"]
    )


def test_other_planted_findings():
    t = demo_truth()
    assert demo.PLANTED["missed_annual_talks"] == t.intended["missed_annual_talks"]
    assert demo.PLANTED["missed_annual_talks"] == missed_annual_talks(t.roster, t.talks, DEMO_AS_OF)
    ranked = {c.code for c in t.roster if c.rank}
    assert all(c in ranked and y in (2012, 2013) for c, y in demo.PLANTED["missed_annual_talks"])
    assert demo.PLANTED["missed_branch_quarters"] == missed_branch_quarters(
        t.branch_activities, DEMO_AS_OF
    )
    assert 6 <= len(demo.PLANTED["missed_branch_quarters"]) <= 10
    zero_only = [
        (b, q)
        for b, q in demo.PLANTED["missed_branch_quarters"]
        if any(
            a.joint_branch == b and quarter_label(*quarter_of(a.activity_date)) == q
            for a in t.branch_activities
        )
    ]
    assert len(zero_only) == 1
    late = {a.joint_branch for a in t.branch_activities} - {
        a.joint_branch for a in t.branch_activities if a.activity_date.year == 2012
    }
    assert late, "some branches only start reporting in 2013"
    assert sorted(demo.PLANTED["org_cadre_pairing_load"].values()) == [4, 6]
    org = [c for c in t.cadres if c.is_org_dept]
    assert len(org) == 30 and all(c.unit == "县委组织部" for c in org)
    assert len(demo.PLANTED["present_over_expected"]) == 2
    assert len(demo.PLANTED["bad_matters"]) == 4
    five = {"办实事", "企业诉求", "支部难题", "党员转化", "支部升级"}
    by_code = {m.matter_code: m for m in t.matters}
    for code, kind in demo.PLANTED["bad_matters"]:
        m = by_code[code]
        assert m.category not in five and m.status == "已办结"
        if kind == "closed_before_raised":
            assert m.closed_on < m.raised_on
        else:
            assert m.closed_on is None
    codes = {h.code for h in t.households}
    cadres = {c.code for c in t.cadres}
    unknown = demo.PLANTED["unknown_codes"]
    assert sorted(col for _, col, _ in unknown) == [
        "cadre_code",
        "household_code",
        "household_code",
    ]
    for _, col, code in unknown:
        assert code not in (codes if col == "household_code" else cadres)
        assert any(getattr(v, col) == code for v in t.visits)
    assert [f[3] for f in demo.PLANTED["large_funding"]] == [Decimal("1200000.00")]


def test_truth_invariants(gazetteer):
    t = demo_truth()
    assert [(x["code"], x["name"]) for x in gazetteer["townships"]] == [
        (c, n) for c, n in __import__("outreach.demo.names", fromlist=["TOWNSHIPS"]).TOWNSHIPS
    ]
    roster = t.roster
    assert 200 <= len(roster) <= 240 and 190 <= sum(bool(c.rank) for c in roster) < len(roster)
    stationed = {m.cadre_code for m in t.team_members}
    assert 110 <= len(stationed & {c.code for c in roster}) <= 150
    assert all(
        len({m.team_code for m in t.team_members if m.cadre_code == c}) == 1 for c in stationed
    )
    for team in {m.team_code for m in t.team_members}:
        roles = Counter(m.team_role for m in t.team_members if m.team_code == team)
        assert roles["队长"] == 1 and roles["第一书记"] == 1
    assert 1250 <= len(t.households) <= 1350
    for h in t.households:
        assert h.head_id_number.startswith("469029") and is_valid_resident_id(h.head_id_number)
    assert any(h.head_id_number.endswith("X") for h in t.households)
    assert len({h.head_id_number for h in t.households}) == len(t.households)
    for e in t.enterprises:
        assert is_valid_credit_code(e.credit_code) and not e.credit_code[:17].isdigit()
    assert 12 <= len(t.enterprises) <= 18 and 25 <= len(t.enterprise_links) <= 35
    assert 18 <= len(t.joint_branches) <= 22
    for m in t.matters:
        if m.decided_on:
            assert m.decided_on == last_friday(m.decided_on.year, m.decided_on.month)
    # every dated value lies in [2012-01-01, as-of]
    for rows in (
        t.visits,
        t.pairings,
        t.talks,
        t.team_members,
        t.funding,
        t.projects,
        t.branch_activities,
        t.matters,
        t.enterprise_links,
    ):
        for r in rows:
            for f in DATE_FIELDS:
                d = getattr(r, f, None)
                if d is not None:
                    assert dt.date(2012, 1, 1) <= d <= DEMO_AS_OF, (r, f)
    # text is already in its normalised form (NFKC, simplified)
    for rows in (
        t.cadres,
        t.households,
        t.villages,
        t.team_members,
        t.matters,
        t.projects,
        t.funding,
        t.enterprises,
        t.enterprise_links,
        t.joint_branches,
        t.talks,
        t.branch_activities,
        t.pairings,
        t.visits,
    ):
        for r in rows:
            for k, v in vars(r).items():
                if isinstance(v, str) and k not in LONGTEXT:
                    assert v == zhconv.convert(unicodedata.normalize("NFKC", v), "zh-hans").strip()


def test_periods_and_ids():
    q2 = quarter_bounds(2013, 2)
    assert q2 == (dt.date(2013, 4, 1), dt.date(2013, 6, 30))
    assert active_days(dt.date(2013, 6, 1), None, *q2) == 30
    assert owed_quarters(dt.date(2013, 6, 1), None, dt.date(2013, 6, 30)) == [(2013, 2)]
    assert owed_quarters(dt.date(2013, 6, 2), None, dt.date(2013, 6, 30)) == []
    assert owed_quarters(dt.date(2013, 1, 1), dt.date(2013, 1, 30), DEMO_AS_OF) == [(2013, 1)]
    assert owed_quarters(dt.date(2013, 1, 1), dt.date(2013, 1, 29), DEMO_AS_OF) == []
    assert owed_quarters(dt.date(2014, 4, 1), None, dt.date(2014, 6, 29)) == []
    assert excel_serial(dt.date(2013, 4, 2)) == 41366
    assert last_friday(2014, 6) == dt.date(2014, 6, 27)
    assert resident_id_check("11010519491231002") == "X"
    assert is_valid_resident_id("11010519491231002X") and not is_valid_resident_id(
        "110105194912310021"
    )


# --------------------------------------------------------------------------- files read back


def test_every_data_row_decodes_to_its_record(decoded):
    checked = 0
    for dataset, rows in decoded.items():
        for path, sheet, info, rec in rows:
            if info.rule:
                continue
            assert not isinstance(rec, Exception), (path, sheet, info.row + 1, rec)
            assert rec == info.record, (path, sheet, info.row + 1, dataset)
            for f in REQUIRED[dataset]:
                if f in rec:
                    assert rec[f] is not None, (path, sheet, info.row + 1, f)
            checked += 1
    assert checked > 14000


def test_quarantine_rows_are_really_broken(decoded, gazetteer, scan):
    townships = {t["name"] for t in gazetteer["townships"]}
    found = []
    for dataset, rows in decoded.items():
        for path, sheet, info, rec in rows:
            if not info.rule:
                continue
            found.append((path, sheet, info.row + 1, info.rule))
            rule = info.rule
            if rule in ("date_unreadable", "money_unreadable"):
                assert isinstance(rec, ValueError), (path, rule)
            elif rule == "resident_id_invalid":
                assert isinstance(rec, ValueError) or not is_valid_resident_id(
                    rec["head_id_number"]
                )
            elif rule == "date_out_of_range":
                assert min(v for k, v in rec.items() if k in DATE_FIELDS and v) < dt.date(
                    2012, 1, 1
                )
            elif rule == "enum_invalid":
                assert rec["visit_mode"] == "微信"
            elif rule == "township_unknown":
                assert rec["township"] not in townships
            elif rule == "required_empty":
                assert any(rec.get(f) is None for f in REQUIRED[dataset])
            else:
                raise AssertionError(rule)
    assert sorted(found) == demo.PLANTED["quarantined"]
    assert {r for *_, r in found} == {
        "date_unreadable",
        "date_out_of_range",
        "resident_id_invalid",
        "money_unreadable",
        "enum_invalid",
        "township_unknown",
        "required_empty",
    }
    for needle in ("2013-02-30", "二〇一三年四月", "五千元", "微信", "保亭镇"):
        assert needle in scan["text"], needle


def test_headers_match_the_registry(inbox, layouts, registry):
    for f in layouts:
        grids = read_grids(inbox["root"] / f.path)
        for s in f.sheets:
            if s.dataset is None:
                continue
            grid, merges = grids[s.name if not f.path.endswith(".csv") else Path(f.path).stem]
            cols = {c["name"]: c for c in registry["datasets"][s.dataset]["columns"]}
            h0, h1 = s.header_rows
            for c, field in enumerate(s.columns):
                text = cell(grid, h1, c) or cell(grid, h0, c)  # two-row header: bottom or merged
                if field is None:
                    assert norm_header(text) == "序号"
                    continue
                spec = cols[field]
                accepted = {norm_header(spec["header"])} | {
                    norm_header(a) for a in spec.get("aliases", [])
                }
                assert norm_header(text) in accepted, (f.path, s.name, field, text)


def test_unmatched_sheets_match_no_dataset(inbox, registry):
    headers = {
        norm_header(c["header"]) for d in registry["datasets"].values() for c in d["columns"]
    }
    for path, sheet in demo.PLANTED["unmatched_sheets"]:
        grid, _ = read_grids(inbox["root"] / path)[sheet]
        cells = {norm_header(v) for row in grid for v in row if v not in ("", None)}
        assert len(cells & headers) <= 1, (path, sheet, cells & headers)


# --------------------------------------------------------------------------- every kind of mess


@pytest.fixture(scope="session")
def scan(inbox, layouts):
    """Everything a clerk could see: cells, merged ranges, column fields, per file."""
    cells, merges, by_field, kinds = [], [], defaultdict(list), {}
    for f in layouts:
        path = inbox["root"] / f.path
        kinds[f.path] = path.read_bytes()[:4]
        grids = read_grids(path)
        for s in f.sheets:
            grid, mr = grids[s.name if not f.path.endswith(".csv") else Path(f.path).stem]
            for row in grid:
                cells.extend(v for v in row if v not in ("", None))
            merges.extend((f.path, s, m) for m in mr)
            for info in s.data:
                for c, field in enumerate(s.columns):
                    v = cell(grid, info.row, c)
                    if field and v is not None:
                        by_field[field].append(v)
    return {
        "cells": cells,
        "text": [v for v in cells if isinstance(v, str)],
        "merges": merges,
        "fields": by_field,
        "magic": kinds,
    }


def test_mess_header_position(scan, layouts):
    text = scan["text"]
    assert any(re.fullmatch(r"保亭县什玲镇20\d\d年第.季度帮扶走访记录表", v) for v in text)
    assert any(v.startswith("填报单位：") for v in text)
    assert "单位：万元" in text
    assert max(s.header_rows[0] for f in layouts for s in f.sheets if s.dataset) >= 5
    assert any(s.header_rows[0] == 0 for f in layouts for s in f.sheets if s.dataset)
    # a two-row header: a group label merged across columns, single headers merged vertically
    across = [
        (p, m)
        for p, s, m in scan["merges"]
        if s.header_rows
        and m[0][0] == m[1][0] == s.header_rows[0]
        and m[1][1] > m[0][1]
        and s.header_rows[1] > s.header_rows[0]
    ]
    down = [
        (p, m)
        for p, s, m in scan["merges"]
        if s.header_rows and m[0][0] == s.header_rows[0] and m[1][0] == s.header_rows[0] + 1
    ]
    assert across and down


def test_mess_rows_to_skip(scan, inbox):
    text = [re.sub(r"\s", "", v) for v in scan["text"]]
    assert "合计" in text and "小计" in text
    assert any(v.startswith("填表人：") for v in scan["text"])
    assert any(v.startswith("审核人：") for v in scan["text"])
    assert any(v.startswith("注：") for v in scan["text"])
    # blank rows between data rows, in an xlsx and in a csv
    blank_in_csv = False
    for rel in inbox["manifest"].files:
        if rel.endswith(".csv"):
            rows = list(read_grids(inbox["root"] / rel).values())[0][0]
            nonblank = [i for i, r in enumerate(rows) if any(r)]
            blank_in_csv |= any(not any(rows[i]) for i in range(nonblank[0], nonblank[-1]))
    assert blank_in_csv


def test_mess_money(scan):
    money = [v for f in MONEY_FIELDS for v in scan["fields"][f]]
    text = [v for v in money if isinstance(v, str)]
    assert any(isinstance(v, float | int) for v in money)
    assert any(re.fullmatch(r"\d{1,3}(,\d{3})+\.\d\d", v) for v in text)
    assert any(re.fullmatch(r"\d+(\.\d\d)?元", v) for v in text)
    assert any(re.fullmatch(r"\d+(\.\d+)?万", v) for v in text)
    assert any(re.fullmatch(r"\d+(\.\d+)?万元", v) for v in text)
    assert any("（万元）" in v for v in scan["text"])


def test_mess_dates(scan):
    dates = [v for f in DATE_FIELDS for v in scan["fields"][f]]
    text = [unicodedata.normalize("NFC", v) for v in dates if isinstance(v, str)]
    assert any(isinstance(v, dt.date) for v in dates)  # real date cells
    assert any(isinstance(v, float | int) and 40909 <= v <= 41820 for v in dates)  # serials
    for pattern in (
        r"\d{4}-\d\d-\d\d",
        r"\d{4}/\d{1,2}/\d{1,2}",
        r"\d{4}\.\d{1,2}\.\d{1,2}",
        r"\d{4}年\d{1,2}月\d{1,2}日",
        r"[０-９]{4}年[０-９]{1,2}月[０-９]{1,2}日",
    ):
        assert any(re.fullmatch(pattern, v) for v in text), pattern


def test_mess_text(scan):
    text = scan["text"]
    assert any(re.fullmatch(r"\S\u3000\S", v) for v in text)  # 张　三
    assert any(re.search(r"[Ａ-Ｚ０-９]{3}", v) for v in text)  # full-width codes
    assert any("保亭縣" in v for v in text) and any("新政鎮" in v for v in text)
    assert any(v != v.strip() for v in text)
    assert any(h in text for h in ("戶編號", "走訪日期"))  # traditional headers


def test_mess_booleans_ditto_merges_aliases(scan):
    bools = {
        str(int(v)) if isinstance(v, float) else v for f in BOOL_FIELDS for v in scan["fields"][f]
    }
    assert {"是", "否", "√", "×", "有", "无", "1", "0", "Y", "N"} <= bools
    ditto_fields = {f for f, vs in scan["fields"].items() if "同上" in vs}
    assert {"township", "village", "visit_mode"} <= ditto_fields
    vertical = [
        (p, s, m)
        for p, s, m in scan["merges"]
        if s.dataset
        and m[1][0] > m[0][0]
        and m[0][0] > s.header_rows[1]
        and s.columns[m[0][1]] == "township"
    ]
    assert vertical
    text = set(scan["text"])
    assert {"农户编号", "入户日期", "帮扶干部", "走访干部", "行政村"} <= text
    modes = set(scan["fields"]["visit_mode"])
    assert {"上门", "到户", "集中座谈"} <= modes
    assert {"县财政", "县级财政"} & set(scan["fields"]["source_type"])
    assert any(isinstance(v, str) and v.endswith("x") for v in scan["fields"]["head_id_number"])
    assert any(isinstance(v, float) and v > 4e17 for v in scan["fields"]["head_id_number"])


def test_mess_files(inbox, layouts):
    root = inbox["root"]
    files = inbox["manifest"].files
    xls = [f for f in files if f.endswith(".xls")]
    assert any((root / f).read_bytes()[:4] == b"\xd0\xcf\x11\xe0" for f in xls)
    assert any((root / f).read_bytes()[:2] == b"PK" for f in xls)  # the extension lies
    gb, utf8 = [], []
    for f in files:
        if f.endswith(".csv"):
            data = (root / f).read_bytes()
            try:
                data.decode("utf-8")
                utf8.append(f)
            except UnicodeDecodeError:
                data.decode("gb18030")
                gb.append(f)
    assert gb and utf8
    multi = [f for f in layouts if len({s.dataset for s in f.sheets if s.dataset}) >= 2]
    assert multi
    for p, _ in demo.PLANTED["unmatched_sheets"]:
        assert p in files


def test_no_pii_patterns_in_codes():
    t = demo_truth()
    pii = re.compile(r"1[3-9]\d{9}|\d{17}[\dXx]")
    codes = (
        [h.code for h in t.households]
        + [c.code for c in t.cadres]
        + [m.matter_code for m in t.matters]
        + [p.project_code for p in t.projects]
        + [m.team_code for m in t.team_members]
        + [e.credit_code for e in t.enterprises]
    )
    assert not [c for c in codes if pii.search(c)]
    # but visit notes do carry some phone numbers and IDs for the scrubber
    notes = " ".join(v.notes for v in t.visits)
    assert re.search(r"1[3-9]\d{9}", notes) and re.search(r"469029\d{11}[\dX]", notes)


def test_generator_hits_the_targets_for_another_seed():
    from outreach.demo.truth import TARGETS, build_truth, headlines

    t = build_truth(seed=7)  # build_truth itself asserts every target and planted finding
    h = headlines(t)
    assert all(h[k] == v for k, v in TARGETS.items())
