"""The demo at a scale factor (outreach/demo/scale.py): x1 is today's demo byte for byte, another
片区 is a whole programme of its own that shares no identifier with any other, the big visits
workbook holds every visit of the bulk 片区, and a bad scale gets a clear error. Writing x2 and
loading it into a warehouse: tests/integration/test_scaled_demo.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from outreach import cli
from outreach.demo import DEMO_AS_OF, demo_truth, write_demo_inbox
from outreach.demo.scale import (
    MAX_SCALE,
    SEED_STRIDE,
    ScaleError,
    big_file_layout,
    check_scale,
    cn_number,
    is_bulk,
    part_layouts,
    part_seed,
    part_truth,
    plan_part,
)
from outreach.demo.truth import (
    TARGETS,
    headlines,
    missed_annual_talks,
    missed_branch_quarters,
    missed_quarterly_visits,
    org_cadre_pairing_load,
)

# sha256 over every (path, sha256 of the bytes, modification time) of the x1 demo inbox: x1
# must stay the demo exactly, since the tests and the end-to-end truth depend on it. It was the
# inbox of before the scale factor (commit fa24256) until issue 17 changed the three talk files
# and the county's 问题台账 on purpose (each talk by the leader of the cadre's rank on the six
# topics, but four by another leader and six leaving topics out; three open matters for several
# departments); every other file is byte for byte the same.
DEMO_X1_DIGEST = "5b93883943eab04580217e052c27d94d778ea1a1f6d5da7a87df0d76d323afbb"


def inbox_digest(root: Path, files) -> str:
    h = hashlib.sha256()
    for rel in files:
        p = root / rel
        h.update(rel.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
        h.update(str(int(p.stat().st_mtime)).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def planned2():
    return plan_part(2)


@pytest.fixture(scope="module")
def part2(planned2):
    return planned2[0]


# --------------------------------------------------------------------------- bad scale


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "at least 1"),
        (-3, "at least 1"),
        ("0", "at least 1"),
        ("-1", "at least 1"),
        (2.5, "whole number"),
        ("2.5", "whole number"),
        ("1e3", "whole number"),
        ("ten", "whole number"),
        ("", "whole number"),
        (None, "whole number"),
        (True, "whole number"),
        (MAX_SCALE + 1, f"at most {MAX_SCALE}"),
        (10**12, f"at most {MAX_SCALE}"),
        ("99999999999999999999", f"at most {MAX_SCALE}"),
    ],
)
def test_a_bad_scale_is_refused_with_the_reason(value, message):
    with pytest.raises(ScaleError, match=message):
        check_scale(value)


def test_good_scales():
    assert check_scale(1) == 1
    assert check_scale("10") == 10
    assert check_scale(" 100 ") == 100
    assert check_scale(MAX_SCALE) == MAX_SCALE


def test_write_refuses_a_bad_scale_before_writing(tmp_path):
    with pytest.raises(ScaleError):
        write_demo_inbox(tmp_path / "inbox", scale=0)
    assert not (tmp_path / "inbox").exists()


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "x", "1000", "1000000000"])
def test_cli_refuses_a_bad_scale(tmp_path, capsys, value):
    target = tmp_path / "inbox"
    assert cli.main(["demo", str(target), f"--scale={value}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("outreach: the scale must be") and value in err
    assert not target.exists()


# --------------------------------------------------------------------------- x1 is the demo


def test_x1_is_the_demo_byte_for_byte(tmp_path):
    from outreach.demo import EXPECTED_HEADLINES, PLANTED

    m = write_demo_inbox(tmp_path, scale=1)
    assert m.scale == 1 and len(m.files) == 133
    assert inbox_digest(tmp_path, m.files) == DEMO_X1_DIGEST
    assert m.expected["headlines"] == EXPECTED_HEADLINES
    assert m.expected["obligations"] == {
        "dq_missing_quarterly_visits": len(PLANTED["missed_quarterly_visits"]),
        "dq_missing_annual_talks": len(PLANTED["missed_annual_talks"]),
        "dq_missing_branch_activities": len(PLANTED["missed_branch_quarters"]),
        "dq_org_cadre_pairing_load": len(PLANTED["org_cadre_pairing_load"]),
    }


# --------------------------------------------------------------------------- another 片区


def test_cn_number():
    expected = {1: "一", 2: "二", 10: "十", 11: "十一", 20: "二十", 21: "二十一", 99: "九十九"}
    expected |= {100: "一百", 101: "一百零一", 110: "一百一十", 999: "九百九十九"}
    assert {n: cn_number(n) for n in expected} == expected
    assert len({cn_number(n) for n in range(1, 1000)}) == 999


def test_another_part_hits_the_targets_and_its_own_plants(part2):
    t = part2
    assert {k: v for k, v in headlines(t).items() if k in TARGETS} == TARGETS
    assert missed_quarterly_visits(t.pairings, t.visits, t.as_of) == sorted(
        t.intended["missed_quarterly_visits"]
    )
    assert missed_annual_talks(t.roster, t.talks, t.as_of) == sorted(
        t.intended["missed_annual_talks"]
    )
    assert missed_branch_quarters(t.branch_activities, t.as_of) == sorted(
        t.intended["missed_branch_quarters"]
    )
    assert (
        org_cadre_pairing_load(t.cadres, t.pairings, t.as_of)
        == t.intended["org_cadre_pairing_load"]
    )
    assert t.as_of == DEMO_AS_OF


def _identifiers(t) -> dict[str, set]:
    return {
        "cadre": {c.code for c in t.cadres},
        "household": {h.code for h in t.households},
        "team": {m.team_code for m in t.team_members},
        "village": {v.name for v in t.villages},
        "joint_branch": {b.name for b in t.joint_branches},
        "enterprise": {e.name for e in t.enterprises},
        "project": {p.project_code for p in t.projects},
        "matter": {m.matter_code for m in t.matters},
        "funding": {f.key for f in t.funding},
        "visit": {v.key for v in t.visits},
        "pairing": {(p.cadre_code, p.household_code, p.pair_start) for p in t.pairings},
        "talk": {(x.talk_date, x.cadre_code) for x in t.talks},
        "activity": {
            (a.joint_branch, a.activity_date, a.activity_type) for a in t.branch_activities
        },
        "link": {(x.enterprise, x.village) for x in t.enterprise_links},
    }


def test_parts_share_no_natural_key(part2):
    """The warehouse merges rows with the same natural key as duplicates: no key of one 片区
    may be a key of another, or the counts would not add up."""
    ids1, ids2, ids3 = _identifiers(demo_truth()), _identifiers(part2), _identifiers(part_truth(3))
    for kind in ids1:
        assert ids1[kind] and ids2[kind]
        assert not ids1[kind] & ids2[kind], kind
        assert not ids2[kind] & ids3[kind], kind
        assert not ids1[kind] & ids3[kind], kind


def test_a_part_is_consistent_within_itself(part2):
    t = part2
    codes = {c.code for c in t.cadres}
    households = {h.code for h in t.households}
    villages = {v.name for v in t.villages}
    assert all(c.startswith("P002-") for c in codes | households)
    assert {p.cadre_code for p in t.pairings} <= codes
    assert {p.household_code for p in t.pairings} <= households
    assert {m.village for m in t.team_members} | {h.village for h in t.households} <= villages
    unknown = {x for _, _, x in t.intended["unknown_codes"]}
    assert unknown and not unknown & (codes | households)  # the sender's typos stay unknown
    assert all(v.endswith("二村委会") for v in villages)
    branches = {b.name for b in t.joint_branches}
    assert {a.joint_branch for a in t.branch_activities} <= branches
    assert all("第二片区" in b for b in branches)
    dup_f = t.double_reported["funding"][0]
    assert dup_f in t.funding  # the row a township also reports is the 片区's own


def test_a_part_is_the_same_whatever_else_is_generated():
    """片区 c depends on c alone: built again after another 片区, it is equal."""
    a = part_truth(4)
    part_truth(2)
    assert part_truth(4) == a


def test_bulk_parts():
    assert [p for p in range(1, 11) if is_bulk(p, 10)] == [10]
    assert [p for p in range(1, 101) if is_bulk(p, 100)] == list(range(91, 101))
    assert not any(is_bulk(p, 9) for p in range(1, 10))
    assert not is_bulk(1, 1)


def test_a_seed_that_does_not_fit_is_followed_by_the_next_of_the_part():
    """片区 25's first seed gives 加茂镇 fewer than four visits in 2012Q1, where the planner
    plants a bad row: the 片区 takes its next seed, whole."""
    t, planned = plan_part(25)
    assert t.seed == part_seed(25) + SEED_STRIDE
    assert planned and all(c.code.startswith("P025-") for c in t.cadres)


def test_bulk_part_sends_its_visits_in_the_big_workbook(part2, planned2):
    small = part_layouts(planned2[1], 2, bulk=False)
    bulk = part_layouts(planned2[1], 2, bulk=True)
    visits_files = [f for f in small if any(s.dataset == "visits" for s in f.sheets)]
    assert visits_files and all(f.path.split("/")[1] == "片区002" for f in small)
    assert [f.path for f in bulk] == [f.path for f in small if f not in visits_files]
    big = big_file_layout([2], part2.visits)
    assert big.kind == "xlsx" and [s.dataset for s in big.sheets] == ["visits"]
    rows = [r for r in big.sheets[0].data if not r.rule]
    assert len(rows) == len(part2.visits)
    assert {
        (r.record["visit_date"], r.record["cadre_code"], r.record["household_code"]) for r in rows
    } == {v.key for v in part2.visits}
