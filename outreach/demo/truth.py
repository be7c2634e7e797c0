"""The demo's truth: clean records of every entity, generated from a seed.

Nothing here knows about spreadsheets. ``build_truth`` returns a :class:`Truth`; the figures the
demo promises (docs/RULES.md headlines, planted findings) are computed from it by
:func:`headlines` (:func:`headlines_as_of` for any other as-of date, as a backfill restates it)
and the ``missed_*`` functions, never typed in by hand. ``TARGETS`` holds the
article's figures that the generator aims at; ``build_truth`` checks that it hit them.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal

from ..outputs.calendar_dates import next_meeting
from ..settings import PROGRAMME_START
from . import names as N
from .ids import credit_code, mobile, resident_id
from .periods import (
    last_friday,
    owed_quarters,
    quarter_bounds,
    quarter_label,
    quarter_of,
    quarters_between,
)

DEMO_AS_OF = dt.date(2014, 6, 30)
# The leader who must hold a cadre's annual talk, by rank (docs/RULES.md, the calendar), the six
# topics every talk covers (六必谈), and how many talks the demo plants against each rule.
REQUIRED_ROLE = {"正科": "组织部长", "副科": "副部长", "一般干部": "干部科长"}
TOPICS = (
    "topic_family",
    "topic_health",
    "topic_work",
    "topic_team",
    "topic_opinions",
    "topic_other",
)
WRONG_LEADER_TALKS = 4
MISSING_TOPIC_TALKS = 6
MULTI_DEPARTMENT_MATTERS = 3
DEFAULT_SEED = 20140630

TARGETS: dict[str, int | Decimal] = {
    "cadres_talked": 186,
    "opinions_collected": 235,
    "households_visited": 1156,
    "households_paired": 873,
    "funding_yuan": Decimal("5170000.00"),
    "cooperatives": 148,
    "practical_matters_done": 718,
    "enterprise_problems_solved": 133,  # the article says "130多件"
    "branch_problems_solved": 127,
    "capacity_projects": 12,
    "members_transformed": 34,
    "branches_upgraded": 7,
    "work_teams": 62,
    "villages_stationed": 62,
    "cadres_stationed": 260,
}

ROSTER_SIZE = 220
ROSTER_UNRANKED = 14
STATIONED_FROM_ROSTER = 130
HOUSEHOLDS = 1300
MISSED_VISITS = 50


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Village:
    township: str
    township_code: str
    stem: str
    index: int  # 1-based within its township

    @property
    def name(self) -> str:  # canonical: 什玲村委会
        return self.stem + "村委会"

    @property
    def short(self) -> str:  # as often written: 什玲村
        return self.stem + "村"


@dataclass(frozen=True)
class Cadre:
    code: str
    name: str
    sex: str
    unit: str
    rank: str | None
    is_org_dept: bool
    phone: str
    on_roster: bool


@dataclass(frozen=True)
class TeamMember:
    team_code: str
    township: str
    village: str
    cadre_code: str
    cadre_name: str
    unit: str
    team_role: str
    start_date: dt.date
    end_date: dt.date | None


@dataclass(frozen=True)
class Household:
    code: str
    township: str
    village: str
    head_name: str
    head_id_number: str
    household_type: str
    household_size: int
    phone: str | None


@dataclass(frozen=True)
class Pairing:
    cadre_code: str
    cadre_name: str
    household_code: str
    head_name: str
    township: str
    village: str
    pair_start: dt.date
    pair_end: dt.date | None

    def active_on(self, d: dt.date) -> bool:
        return self.pair_start <= d and (self.pair_end is None or d <= self.pair_end)


@dataclass(frozen=True)
class Visit:
    visit_date: dt.date
    cadre_code: str
    cadre_name: str
    household_code: str
    head_name: str
    township: str
    village: str
    visit_mode: str
    notes: str
    requests: str | None

    @property
    def key(self) -> tuple[dt.date, str, str]:
        return (self.visit_date, self.cadre_code, self.household_code)


@dataclass(frozen=True)
class Talk:
    talk_date: dt.date
    interviewer: str
    interviewer_role: str
    cadre_code: str
    cadre_name: str
    rank: str | None
    topic_family: bool
    topic_health: bool
    topic_work: bool
    topic_team: bool
    topic_opinions: bool
    topic_other: bool
    opinion_count: int
    opinions: str | None


@dataclass(frozen=True)
class JointBranch:
    name: str
    township: str
    agency_branch: str
    rural_branch: str
    members: int


@dataclass(frozen=True)
class BranchActivity:
    joint_branch: str
    agency_branch: str
    rural_branch: str
    activity_date: dt.date
    activity_type: str
    expected_count: int
    present_count: int
    study_hours: Decimal | None
    agenda: str
    spend_yuan: Decimal | None


@dataclass(frozen=True)
class Enterprise:
    name: str
    credit_code: str
    branch: str | None
    township: str  # where it sits


@dataclass(frozen=True)
class EnterpriseLink:
    enterprise: str
    credit_code: str
    enterprise_branch: str | None
    village: str
    township: str
    linked_on: dt.date
    link_mode: str
    project_code: str | None


@dataclass(frozen=True)
class Project:
    project_code: str
    project_name: str
    project_type: str
    is_capacity_building: bool
    implementer: str
    township: str
    village: str | None
    partner: str | None
    started_on: dt.date
    planned_yuan: Decimal | None
    status: str
    households_reached: int | None
    provider: str
    sender: str


@dataclass(frozen=True)
class Funding:
    funded_on: dt.date
    source_type: str
    source_unit: str
    amount_yuan: Decimal
    purpose: str
    project_code: str | None
    township: str | None
    village: str | None
    provider: str
    sender: str

    @property
    def key(self) -> tuple:
        return (
            self.funded_on,
            self.source_type,
            self.source_unit,
            self.amount_yuan,
            self.project_code,
            self.village,
        )


@dataclass(frozen=True)
class Matter:
    matter_code: str
    source: str
    category: str
    raised_on: dt.date
    township: str | None
    place_or_partner: str | None
    description: str
    decided_on: dt.date | None
    owner_unit: str | None
    status: str
    closed_on: dt.date | None
    provider: str
    sender: str


@dataclass
class Truth:
    seed: int
    as_of: dt.date
    villages: list[Village]
    cadres: list[Cadre]  # roster cadres and outside stationed cadres (on_roster False)
    team_members: list[TeamMember]
    households: list[Household]
    pairings: list[Pairing]
    visits: list[Visit]  # unique visits (the three sent twice appear once)
    talks: list[Talk]
    joint_branches: list[JointBranch]
    branch_activities: list[BranchActivity]
    enterprises: list[Enterprise]
    enterprise_links: list[EnterpriseLink]
    projects: list[Project]
    funding: list[Funding]
    matters: list[Matter]
    # what the generator deliberately planted (verified against recomputation by the tests)
    intended: dict = field(default_factory=dict)
    # rows that are sent twice: visit keys re-sent in a 补报 file; a funding row and a project
    # that a second provider also reports: {"funding": (Funding, provider, sender), ...}
    resent_visits: list[tuple[dt.date, str, str]] = field(default_factory=list)
    double_reported: dict = field(default_factory=dict)

    @property
    def roster(self) -> list[Cadre]:
        return [c for c in self.cadres if c.on_roster]

    def cadre(self, code: str) -> Cadre:
        return self._cadres_by_code()[code]

    def _cadres_by_code(self) -> dict[str, Cadre]:
        if not hasattr(self, "_cbc"):
            self._cbc = {c.code: c for c in self.cadres}
        return self._cbc


# --------------------------------------------------------------------------- computations from truth


def missed_quarterly_visits(
    pairings: list[Pairing], visits: list[Visit], as_of: dt.date
) -> list[tuple[str, str, str]]:
    """(cadre_code, household_code, 'YYYYQn') owed by the 30-day rule and not met."""
    seen = {(v.cadre_code, v.household_code, quarter_of(v.visit_date)) for v in visits}
    out = set()
    for p in pairings:
        for y, q in owed_quarters(p.pair_start, p.pair_end, as_of):
            if (p.cadre_code, p.household_code, (y, q)) not in seen:
                out.add((p.cadre_code, p.household_code, quarter_label(y, q)))
    return sorted(out)


def pairing_quarter_stats(pairings: list[Pairing], visits: list[Visit], as_of: dt.date):
    """(owed, met) over pairing x quarter owed."""
    seen = {(v.cadre_code, v.household_code, quarter_of(v.visit_date)) for v in visits}
    owed = met = 0
    for p in pairings:
        for yq in owed_quarters(p.pair_start, p.pair_end, as_of):
            owed += 1
            met += (p.cadre_code, p.household_code, yq) in seen
    return owed, met


def missed_annual_talks(roster: list[Cadre], talks: list[Talk], as_of: dt.date):
    """(cadre_code, year) for ranked roster cadres without a talk in a year owed."""
    if not talks:
        return []
    first_year = min(t.talk_date.year for t in talks)
    talked = {(t.cadre_code, t.talk_date.year) for t in talks}
    out = []
    for c in roster:
        if c.rank is None:
            continue
        for y in range(first_year, as_of.year + 1):
            if dt.date(y, 12, 31) <= as_of and (c.code, y) not in talked:
                out.append((c.code, y))
    return sorted(out)


def wrong_leader_talks(roster: list[Cadre], talks: list[Talk]) -> list[tuple[dt.date, str]]:
    """(talk_date, cadre_code) of talks held by another leader than the cadre's rank requires
    (the roster's rank, else the talk's)."""
    ranks = {c.code: c.rank for c in roster if c.rank}
    return sorted(
        (t.talk_date, t.cadre_code)
        for t in talks
        if (rank := ranks.get(t.cadre_code) or t.rank) in REQUIRED_ROLE
        and t.interviewer_role
        and t.interviewer_role != REQUIRED_ROLE[rank]
    )


def talks_missing_topics(talks: list[Talk]) -> list[tuple[dt.date, str]]:
    """(talk_date, cadre_code) of talks that covered fewer than the six topics."""
    return sorted(
        (t.talk_date, t.cadre_code) for t in talks if not all(getattr(t, x) for x in TOPICS)
    )


def matters_not_decided_at_meeting(matters, as_of: dt.date) -> list[str]:
    """matter codes not decided at the meeting they were due at: undecided after it (it was
    before ``as_of``), or decided at a later one."""
    out = []
    for m in matters:
        due = next_meeting(m.raised_on)
        if (m.decided_on is None and due < as_of) or (m.decided_on and m.decided_on > due):
            out.append(m.matter_code)
    return sorted(out)


def matters_decided_off_meeting_day(matters) -> list[str]:
    """matter codes whose 议定日期 is not the last Friday of its month."""
    return sorted(
        m.matter_code
        for m in matters
        if m.decided_on and m.decided_on != last_friday(m.decided_on.year, m.decided_on.month)
    )


def missed_branch_quarters(activities: list[BranchActivity], as_of: dt.date):
    """(joint_branch, 'YYYYQn') owed (from the branch's first report) without an activity with
    实到人数 > 0."""
    first: dict[str, dt.date] = {}
    ok = set()
    for a in activities:
        if a.joint_branch not in first or a.activity_date < first[a.joint_branch]:
            first[a.joint_branch] = a.activity_date
        if a.present_count > 0:
            ok.add((a.joint_branch, quarter_of(a.activity_date)))
    out = []
    for b, d in first.items():
        for y, q in quarters_between(d, as_of):
            if quarter_bounds(y, q)[1] <= as_of and (b, (y, q)) not in ok:
                out.append((b, quarter_label(y, q)))
    return sorted(out)


def org_cadre_pairing_load(cadres: list[Cadre], pairings: list[Pairing], as_of: dt.date):
    """{cadre_code: active pairings on as_of} for is_org_dept cadres whose count is not 5."""
    load = Counter(p.cadre_code for p in pairings if p.active_on(as_of))
    return {c.code: load[c.code] for c in cadres if c.is_org_dept and load[c.code] != 5}


def headlines(t: Truth) -> dict[str, int | float]:
    """docs/RULES.md headline metrics computed from the truth, on the demo's as-of date."""
    return headlines_as_of(t, t.as_of)


def matter_done_by(m: Matter, as_of: dt.date) -> bool:
    """Whether a matter counts as 已办结 on ``as_of``: raised by then, its status 已办结, and closed
    by then. The sheet holds a matter's latest status: one closed after ``as_of`` was still
    待议/办理中 on that day. A 已办结 matter without 办结日期 (a flagged warning) counts from the day
    it was raised, as on the nightly date: its closing day is unknown, not later."""
    return (
        m.raised_on <= as_of
        and m.status == "已办结"
        and (m.closed_on is None or m.closed_on <= as_of)
    )


def headlines_as_of(t: Truth, as_of: dt.date) -> dict[str, int | float]:
    """docs/RULES.md headline metrics as the warehouse reports them for ``as_of`` (a backfill restates
    any earlier date from the records as they stand now): "computed from the facts for
    everything up to the as-of date", each record counted from its own date:

    - talks held, visits made, funding arrived (funded_on), on or before ``as_of``;
    - households paired: pairings started (pair_start) by ``as_of``, ended since or not;
    - cooperatives and capacity projects: projects started (started_on) by ``as_of``;
    - the matter counts: matters done by ``as_of`` (:func:`matter_done_by`);
    - work teams, villages and cadres stationed: team members stationed (start_date) by
      ``as_of``, withdrawn since or not (the nightly figure, 260 cadres, counts every member
      who ever served, the 10 who rotated out with their replacements);
    - quarterly_visit_rate: met ÷ owed over the pairing quarters owed by ``as_of`` (30-day
      rule, quarter ended on or before ``as_of``); 0 when nothing is owed yet.

    ``headlines(t)`` is this function on the truth's own as-of date (EXPECTED_HEADLINES).
    """
    talks = [x for x in t.talks if x.talk_date <= as_of]
    visits = [v for v in t.visits if v.visit_date <= as_of]
    pairings = [p for p in t.pairings if p.pair_start <= as_of]
    projects = [p for p in t.projects if p.started_on <= as_of]
    members = [m for m in t.team_members if m.start_date <= as_of]
    owed, met = pairing_quarter_stats(t.pairings, t.visits, as_of)
    closed = Counter(m.category for m in t.matters if matter_done_by(m, as_of))
    funding = sum((f.amount_yuan for f in t.funding if f.funded_on <= as_of), Decimal("0"))
    return {
        "cadres_talked": len({x.cadre_code for x in talks}),
        "opinions_collected": sum(x.opinion_count for x in talks),
        "households_visited": len({v.household_code for v in visits}),
        "households_paired": len({p.household_code for p in pairings}),
        "funding_yuan": int(funding) if funding == funding.to_integral() else float(funding),
        "cooperatives": sum(p.project_type == "专业合作社" for p in projects),
        "practical_matters_done": closed["办实事"],
        "enterprise_problems_solved": closed["企业诉求"],
        "branch_problems_solved": closed["支部难题"],
        "capacity_projects": sum(p.is_capacity_building for p in projects),
        "members_transformed": closed["党员转化"],
        "branches_upgraded": closed["支部升级"],
        "work_teams": len({m.team_code for m in members}),
        "villages_stationed": len({m.village for m in members}),
        "cadres_stationed": len({m.cadre_code for m in members}),
        "quarterly_visit_rate": met / owed if owed else 0,
    }


# --------------------------------------------------------------------------- generation


def _rdate(rng: random.Random, a: dt.date, b: dt.date) -> dt.date:
    return a + dt.timedelta(days=rng.randint(0, (b - a).days))


def _d(y: int, m: int, d: int) -> dt.date:
    return dt.date(y, m, d)


class _Gen:
    def __init__(self, seed: int):
        self.seed = seed
        self.rng = random.Random(seed)
        self.as_of = DEMO_AS_OF
        self.used_names: set[str] = set()
        self.used_phones: set[str] = set()

    # ---- small helpers
    def unique_name(self) -> str:
        while True:
            n = N.person_name(self.rng)
            if n not in self.used_names:
                self.used_names.add(n)
                return n

    def phone(self) -> str:
        while True:
            p = mobile(self.rng)
            if p not in self.used_phones:
                self.used_phones.add(p)
                return p

    # ---- places
    def villages(self) -> list[Village]:
        out = []
        for code, twp in N.TOWNSHIPS:
            for i, stem in enumerate(N.VILLAGE_STEMS[twp], 1):
                out.append(Village(twp, code, stem, i))
        assert len(out) == TARGETS["villages_stationed"]
        assert len({v.name for v in out}) == len(out)
        return out

    # ---- cadres
    def cadres(self) -> list[Cadre]:
        rng = self.rng
        specs = []  # (unit, rank, is_org)
        for rank in ["正科"] * 2 + ["副科"] * 8 + ["一般干部"] * 20:
            specs.append((N.ORG_UNIT, rank, True))
        other_ranks = ["正科"] * 38 + ["副科"] * 80 + ["一般干部"] * 58 + [None] * ROSTER_UNRANKED
        rng.shuffle(other_ranks)
        for rank in other_ranks:
            specs.append((rng.choice(N.COUNTY_UNITS), rank, False))
        assert len(specs) == ROSTER_SIZE
        unit_order = {u: i for i, u in enumerate((N.ORG_UNIT, *N.COUNTY_UNITS))}
        rank_order = {"正科": 0, "副科": 1, "一般干部": 2, None: 3}
        specs.sort(key=lambda s: (unit_order[s[0]], rank_order[s[1]]))
        out = []
        for i, (unit, rank, org) in enumerate(specs, 1):
            out.append(
                Cadre(
                    f"GB{i:04d}",
                    self.unique_name(),
                    "男" if rng.random() < 0.7 else "女",
                    unit,
                    rank,
                    org,
                    self.phone(),
                    True,
                )
            )
        for i in range(1, TARGETS["cadres_stationed"] - STATIONED_FROM_ROSTER + 1):
            out.append(
                Cadre(
                    f"ZC{i:04d}",
                    self.unique_name(),
                    "男" if rng.random() < 0.75 else "女",
                    rng.choice(N.OUTSIDE_UNITS),
                    None,
                    False,
                    self.phone(),
                    False,
                )
            )
        return out

    # ---- work teams
    def teams(self, villages, cadres):
        rng = self.rng
        roster = [c for c in cadres if c.on_roster]
        org = [c for c in roster if c.is_org_dept]
        non_org = [c for c in roster if not c.is_org_dept]
        stationed_org = rng.sample(org, 4)
        stationed_non_org = rng.sample(non_org, STATIONED_FROM_ROSTER - 4)
        outside = [c for c in cadres if not c.on_roster]
        n_teams = len(villages)
        sizes = [4] * n_teams
        for i in rng.sample(range(n_teams), TARGETS["cadres_stationed"] - 4 * n_teams):
            sizes[i] = 5
        # org-dept stationed cadres must not be the rotating member: deal them as team leaders
        pool = stationed_non_org + outside
        rng.shuffle(pool)
        five = [i for i in range(n_teams) if sizes[i] == 5]
        rotating = set(rng.sample(five, 10))
        org_teams = rng.sample([i for i in range(n_teams) if i not in rotating], 4)
        members: list[TeamMember] = []
        self.team_of_village: dict[str, list[TeamMember]] = {}
        self.leavers: dict[str, TeamMember] = {}  # village -> leaver
        self.replacements: dict[str, TeamMember] = {}
        for ti, v in enumerate(villages):
            code = f"ZCD-{v.township_code}-{v.index:02d}"
            start = _rdate(rng, _d(2012, 2, 20), _d(2012, 4, 30))
            chosen = []
            if ti in org_teams:
                chosen.append(stationed_org[org_teams.index(ti)])
            while len(chosen) < sizes[ti]:
                chosen.append(pool.pop())
            team = []
            for k, c in enumerate(chosen):
                role = "队长" if k == 0 else ("第一书记" if k == 1 else "队员")
                s, e = start, None
                if ti in rotating and k == 3:
                    e = _rdate(rng, _d(2013, 3, 1), _d(2013, 12, 20))
                    leave_end = e
                if ti in rotating and k == 4:
                    s = leave_end + dt.timedelta(days=rng.randint(1, 10))
                m = TeamMember(code, v.township, v.name, c.code, c.name, c.unit, role, s, e)
                team.append(m)
                if ti in rotating and k == 3:
                    self.leavers[v.name] = m
                if ti in rotating and k == 4:
                    self.replacements[v.name] = m
            members.extend(team)
            self.team_of_village[v.name] = team
        assert not pool
        return members

    # ---- households
    def households(self, villages) -> list[Household]:
        rng = self.rng
        counts = [rng.randint(16, 26) for _ in villages]
        while sum(counts) != HOUSEHOLDS:
            i = rng.randrange(len(counts))
            if sum(counts) > HOUSEHOLDS and counts[i] > 16:
                counts[i] -= 1
            elif sum(counts) < HOUSEHOLDS and counts[i] < 26:
                counts[i] += 1
        used_ids = set()
        out = []
        types = ["困难群众"] * 50 + ["低保户"] * 25 + ["困难党员"] * 15 + ["五保户"] * 10
        for v, n in zip(villages, counts, strict=True):
            for s in range(1, n + 1):
                htype = rng.choice(types)
                while True:
                    birth = _rdate(rng, _d(1935, 1, 1), _d(1990, 12, 31))
                    male = rng.random() < 0.72
                    seq = rng.randrange(1, 500) * 2 - (1 if male else 0)
                    rid = resident_id(N.COUNTY_CODE, birth, seq)
                    if rid not in used_ids:
                        used_ids.add(rid)
                        break
                size = 1 if htype == "五保户" else rng.choice((2, 3, 3, 4, 4, 4, 5, 5, 6, 7, 8))
                phone = self.phone() if rng.random() < 0.75 else None
                out.append(
                    Household(
                        f"H{v.township_code}{v.index:02d}{s:03d}",
                        v.township,
                        v.name,
                        N.person_name(rng),
                        rid,
                        htype,
                        size,
                        phone,
                    )
                )
        return out

    # ---- pairings
    def pairings(self, villages, cadres, households):
        rng = self.rng
        by_code = {c.code: c for c in cadres}
        hh_by_village = defaultdict(list)
        for h in households:
            hh_by_village[h.village].append(h)
        # paired households per village: largest remainder of 873 over village sizes
        total = TARGETS["households_paired"]
        quotas = {v.name: total * len(hh_by_village[v.name]) / len(households) for v in villages}
        n_v = {k: int(q) for k, q in quotas.items()}
        for k in sorted(quotas, key=lambda k: (-(quotas[k] - n_v[k]), k))[
            : total - sum(n_v.values())
        ]:
            n_v[k] += 1
        assert sum(n_v.values()) == total

        roster = [c for c in cadres if c.on_roster]
        stationed = {m.cadre_code for ms in self.team_of_village.values() for m in ms}
        org = [c for c in roster if c.is_org_dept]
        org_stationed = [c for c in org if c.code in stationed]
        org_free = [c for c in org if c.code not in stationed]
        org_village: dict[str, str] = {}
        for c in org_stationed:
            org_village[c.code] = next(
                v
                for v, ms in self.team_of_village.items()
                if any(m.cadre_code == c.code for m in ms)
            )
        free_villages = [
            v.name
            for v in villages
            if v.name not in org_village.values() and v.name not in self.leavers
        ]
        for c, vname in zip(org_free, rng.sample(free_villages, len(org_free)), strict=False):
            org_village[c.code] = vname
        org4, org6 = rng.sample(org_free, 2)
        self.org4, self.org6 = org4.code, org6.code

        # holdings: village -> list of (final cadre code, kind); kinds A,B,C,D,
        # 'R' = handed over from the village's leaving team member to the replacement,
        # 'C4' = the org cadre who lost a household, 'D6' = the org cadre with a sixth
        holdings: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for c in org:
            v = org_village[c.code]
            slots = 5
            if c.code == self.org4:
                holdings[v].append((c.code, "C4"))
                slots = 4
            if c.code == self.org6:
                holdings[v].append((c.code, "D6"))
            for _ in range(slots):
                holdings[v].append((c.code, rng.choice("AAAAAAAAABD")))
        others = [c for c in roster if not c.is_org_dept and c.code not in stationed]
        for c in others:
            for _ in range(10):
                v = rng.choice(villages).name
                room = n_v[v] - len(holdings[v]) - 6
                if room >= 2:
                    for _ in range(min(room, rng.randint(2, 4))):
                        holdings[v].append((c.code, rng.choice("AAAAAAAAAAAAAAAABBDDC")))
                    break
        for v in villages:
            team = self.team_of_village[v.name]
            leaver = self.leavers.get(v.name)
            repl = self.replacements.get(v.name)
            eligible = [m for m in team if m is not leaver and m.cadre_code not in org_village]
            rest = n_v[v.name] - len(holdings[v.name])
            assert rest >= 0, v.name
            if leaver is not None:
                handed = min(2, rest)
                holdings[v.name].extend([(repl.cadre_code, "R")] * handed)
                rest -= handed
            k = rng.randrange(len(eligible))
            for _ in range(rest):
                m = eligible[k % len(eligible)]
                k += 1
                holdings[v.name].append((m.cadre_code, rng.choice("AAAAAAAAAAAAAAAABBDDC")))
            assert len(holdings[v.name]) == n_v[v.name]

        member_of = {m.cadre_code: m for ms in self.team_of_village.values() for m in ms}

        def earliest(code: str) -> dt.date:
            m = member_of.get(code)
            return max(m.start_date, _d(2012, 2, 15)) if m else _d(2012, 2, 15)

        pairings: list[Pairing] = []
        edge_d = [(2012, 3), (2013, 1), (2013, 3), (2014, 2), (2012, 4), (2013, 2)]  # 30 / 29 days
        edge_c = [(2013, 1), (2013, 4), (2014, 1), (2012, 4)]
        self.edge_pairings: list[tuple[Pairing, tuple[int, int], int]] = []
        for v in rng.sample(villages, len(villages)):  # edges land anywhere
            pool = list(hh_by_village[v.name])
            rng.shuffle(pool)
            paired = sorted(pool[: n_v[v.name]], key=lambda h: h.code)
            slots = holdings[v.name]
            rng.shuffle(slots)
            leaver = self.leavers.get(v.name)
            village_cadres = sorted(
                {c for c, _ in slots}
                | {m.cadre_code for m in self.team_of_village[v.name] if m is not leaver}
            )
            for h, (code, kind) in zip(paired, slots, strict=True):
                c = by_code[code]

                def mk(cc: Cadre, s: dt.date, e: dt.date | None, h: Household = h) -> Pairing:
                    return Pairing(
                        cc.code, cc.name, h.code, h.head_name, h.township, h.village, s, e
                    )

                a_start = max(earliest(code), _rdate(rng, _d(2012, 2, 15), _d(2012, 6, 30)))
                if kind == "A":
                    pairings.append(mk(c, a_start, None))
                elif kind == "D":
                    lo = max(earliest(code), _d(2012, 7, 1))
                    s = _rdate(rng, lo, _d(2014, 6, 25))
                    if (
                        edge_d
                        and code in member_of
                        and member_of[code].end_date is None
                        and earliest(code) <= quarter_bounds(*edge_d[0])[1] - dt.timedelta(days=29)
                    ):
                        (y, q), extra = edge_d.pop(0), len(edge_d) % 2
                        qe = quarter_bounds(y, q)[1]
                        s = qe - dt.timedelta(days=29 - extra)  # 30 days active, or 29
                        p = mk(c, s, None)
                        self.edge_pairings.append((p, (y, q), 30 - extra))
                        pairings.append(p)
                        continue
                    pairings.append(mk(c, s, None))
                elif kind == "C":
                    e = _rdate(
                        rng, max(_d(2012, 10, 1), a_start + dt.timedelta(days=60)), _d(2014, 6, 15)
                    )
                    edge_end = (
                        quarter_bounds(*edge_c[0])[0]
                        + dt.timedelta(days=29 - (len(edge_c) - 1) % 2)
                        if edge_c
                        else None
                    )
                    if edge_end and edge_end >= a_start + dt.timedelta(days=60):
                        (y, q), extra = edge_c.pop(0), len(edge_c) % 2
                        e = quarter_bounds(y, q)[0] + dt.timedelta(days=29 - extra)
                        assert e == edge_end
                        p = mk(c, a_start, e)
                        self.edge_pairings.append((p, (y, q), 30 - extra))
                        pairings.append(p)
                        continue
                    pairings.append(mk(c, a_start, e))
                elif kind == "C4":
                    pairings.append(mk(c, a_start, _rdate(rng, _d(2014, 2, 10), _d(2014, 4, 20))))
                elif kind == "D6":
                    pairings.append(mk(c, _rdate(rng, _d(2014, 1, 6), _d(2014, 2, 28)), None))
                elif kind == "R":
                    lv = self.leavers[v.name]
                    s0 = max(lv.start_date, _rdate(rng, _d(2012, 2, 15), _d(2012, 6, 30)))
                    pairings.append(mk(by_code[lv.cadre_code], s0, lv.end_date))
                    rs = self.replacements[v.name].start_date + dt.timedelta(days=rng.randint(0, 5))
                    pairings.append(mk(c, rs, None))
                elif kind == "B":
                    prev = [
                        x for x in village_cadres if x != code and x not in self.org_codes_set(org)
                    ]
                    if member_of.get(code) and member_of[code].start_date > _d(2012, 9, 1):
                        pairings.append(mk(c, max(earliest(code), a_start), None))
                        continue
                    prev = [x for x in prev if earliest(x) <= _d(2012, 8, 1)]
                    if not prev:
                        pairings.append(mk(c, a_start, None))
                        continue
                    pc = by_code[rng.choice(prev)]
                    s0 = max(earliest(pc.code), _rdate(rng, _d(2012, 2, 15), _d(2012, 6, 30)))
                    e0 = _rdate(
                        rng, max(_d(2012, 9, 1), s0 + dt.timedelta(days=60)), _d(2014, 3, 31)
                    )
                    if pc.code in member_of and member_of[pc.code].end_date:
                        e0 = min(e0, member_of[pc.code].end_date)
                    s1 = max(earliest(code), e0 + dt.timedelta(days=rng.randint(1, 25)))
                    pairings.append(mk(pc, s0, e0))
                    pairings.append(mk(c, s1, None))
                else:  # pragma: no cover
                    raise AssertionError(kind)
        assert not edge_d and not edge_c, (edge_d, edge_c)
        for p in pairings:
            assert PROGRAMME_START <= p.pair_start <= self.as_of
            assert p.pair_end is None or p.pair_start <= p.pair_end <= self.as_of
            m = member_of.get(p.cadre_code)
            if m:
                assert m.start_date <= p.pair_start and (
                    m.end_date is None or (p.pair_end and p.pair_end <= m.end_date)
                ), (m, p)
        keys = [(p.cadre_code, p.household_code) for p in pairings]
        assert len(keys) == len(set(keys))
        pairings.sort(key=lambda p: (p.household_code, p.pair_start))
        return pairings

    @staticmethod
    def org_codes_set(org):
        return {c.code for c in org}

    # ---- visits
    def visits(self, villages, cadres, households, pairings):
        rng = self.rng
        as_of = self.as_of
        hh = {h.code: h for h in households}
        by_code = {c.code: c for c in cadres}
        modes = ["入户"] * 15 + ["电话"] * 3 + ["座谈"] * 2
        used = set()
        out: list[Visit] = []

        def add(d: dt.date, cadre: Cadre, h: Household, hcode: str | None = None) -> bool:
            code = hcode or h.code
            if (d, cadre.code, code) in used:
                return False
            used.add((d, cadre.code, code))
            mode = rng.choice(modes)
            notes = rng.choice(N.VISIT_NOTES[mode])
            if "群众路线" in notes and d.isoformat() < N.MASS_LINE_CAMPAIGN_START:
                notes = N.VISIT_NOTES[mode][0]
            if h.phone and rng.random() < 0.02:
                notes += f"，户主电话{h.phone}"
            elif rng.random() < 0.004:
                notes += f"，代办低保申请（身份证号{h.head_id_number}）"
            req = rng.choice(N.VISIT_REQUESTS) if rng.random() < 0.55 else None
            out.append(
                Visit(
                    d,
                    cadre.code,
                    cadre.name,
                    code,
                    h.head_name,
                    h.township,
                    h.village,
                    mode,
                    notes,
                    req,
                )
            )
            return True

        owed_all = []
        for i, p in enumerate(pairings):
            for yq in owed_quarters(p.pair_start, p.pair_end, as_of):
                owed_all.append((i, yq))
        missed = set(rng.sample(owed_all, MISSED_VISITS - 1))
        # one planted miss sits exactly on the 30-day edge
        edge = next(e for e in self.edge_pairings if e[2] == 30)
        idx = next(i for i, p in enumerate(pairings) if p == edge[0])
        missed.add((idx, edge[1]))
        if len(missed) < MISSED_VISITS:
            rest = [x for x in owed_all if x not in missed]
            missed.add(rng.choice(rest))
        self.intended_missed = sorted(
            (pairings[i].cadre_code, pairings[i].household_code, quarter_label(*yq))
            for i, yq in missed
        )
        for i, p in enumerate(pairings):
            last = as_of if p.pair_end is None else min(p.pair_end, as_of)
            owed = set(owed_quarters(p.pair_start, p.pair_end, as_of))
            cadre = by_code[p.cadre_code]
            for y, q in quarters_between(p.pair_start, last):
                qs, qe = quarter_bounds(y, q)
                lo, hi = max(qs, p.pair_start), min(qe, last)
                if (i, (y, q)) in missed:
                    continue
                if (y, q) in owed:
                    n = rng.choices((1, 2, 3), (70, 25, 5))[0]
                elif rng.random() < 0.4:
                    n = 1
                else:
                    continue
                for _ in range(n):
                    add(_rdate(rng, lo, hi), cadre, hh[p.household_code])
        paired_visited = {v.household_code for v in out}
        # stationed cadres visit households nobody is paired with
        paired_all = {p.household_code for p in pairings}
        unpaired = [h for h in households if h.code not in paired_all]
        need = TARGETS["households_visited"] - 2 - len(paired_visited)
        assert 0 <= need <= len(unpaired), need
        for h in sorted(rng.sample(unpaired, need), key=lambda h: h.code):
            team = [m for m in self.team_of_village[h.village]]
            for _ in range(rng.choices((1, 2, 3), (60, 30, 10))[0]):
                m = rng.choice(team)
                hi = m.end_date or as_of
                add(_rdate(rng, m.start_date, hi), by_code[m.cadre_code], h)
        # unknown codes (typos by the sender): two household codes, one cadre code
        known_h = set(hh)
        mg = [
            p
            for p in pairings
            if p.township == "毛感乡" and p.pair_end is None and p.pair_start < _d(2013, 6, 1)
        ]
        unknown = []
        taken = set(known_h)
        for p in rng.sample(mg, 2):
            c = p.household_code
            candidates = [c[:-2] + c[-1] + c[-2], c[:5] + c[6:], c[:-1] + "9", c[:-2] + "9" + c[-1]]
            typo = next(x for x in candidates if x not in taken)  # a transposed or lost digit
            taken.add(typo)
            d = _rdate(rng, _d(2013, 10, 8), _d(2013, 12, 20))
            assert add(d, by_code[p.cadre_code], hh[c], hcode=typo)
            unknown.append(("visits", "household_code", typo))
        p = rng.choice([x for x in mg if x.household_code in paired_visited])
        ghost = Cadre(
            "GB0" + str(300 + rng.randint(10, 90)),
            by_code[p.cadre_code].name,
            "男",
            "",
            None,
            False,
            "",
            False,
        )
        assert ghost.code not in by_code
        assert add(_rdate(rng, _d(2014, 1, 6), _d(2014, 3, 28)), ghost, hh[p.household_code])
        unknown.append(("visits", "cadre_code", ghost.code))
        self.intended_unknown = unknown
        out.sort(
            key=lambda v: (v.township, v.visit_date, v.village, v.cadre_code, v.household_code)
        )
        # three visits of 什玲镇 2013Q2 are sent again in a 补报 file
        sl = [
            v
            for v in out
            if v.township == "什玲镇"
            and quarter_of(v.visit_date) == (2013, 2)
            and v.household_code in known_h
        ]
        self.resent = sorted(v.key for v in rng.sample(sl, 3))
        return out

    # ---- talks
    def talks(self, cadres) -> list[Talk]:
        rng = self.rng
        roster = [c for c in cadres if c.on_roster]
        ranked = [c for c in roster if c.rank]
        unranked = [c for c in roster if not c.rank]
        talked_r = rng.sample(ranked, 178)
        talked_u = rng.sample(unranked, TARGETS["cadres_talked"] - 178)
        patterns = ["only2012"] * 5 + ["only2013"] * 7 + ["only2014"] * 2
        patterns += ["both"] * (len(talked_r) - len(patterns))
        rng.shuffle(patterns)
        plan: list[tuple[Cadre, list[int]]] = []
        for c, pat in zip(talked_r, patterns, strict=True):
            years = {
                "only2012": [2012],
                "only2013": [2013],
                "only2014": [2014],
                "both": [2012, 2013],
            }[pat]
            if pat != "only2014" and rng.random() < 0.55:
                years = years + [2014]
            if 2013 in years and rng.random() < 0.1:
                years = years + [2013]
            plan.append((c, years))
        for c in talked_u:
            plan.append((c, sorted(rng.sample([2012, 2013, 2014], rng.randint(1, 2)))))
        spans = {
            2012: (_d(2012, 3, 1), _d(2012, 12, 25)),
            2013: (_d(2013, 1, 10), _d(2013, 12, 25)),
            2014: (_d(2014, 1, 10), _d(2014, 6, 27)),
        }
        roles = (
            [N.INTERVIEWERS[0]] * 3
            + [N.INTERVIEWERS[1]] * 5
            + [N.INTERVIEWERS[2]] * 5
            + [N.INTERVIEWERS[3]] * 7
        )
        raw = []
        used = set()
        for c, years in plan:
            for y in years:
                while True:
                    d = _rdate(rng, *spans[y])
                    if (d, c.code) not in used:
                        used.add((d, c.code))
                        break
                n = rng.choices((0, 1, 2, 3), (55, 30, 12, 3))[0]
                raw.append([d, c, n])
        total = sum(r[2] for r in raw)
        while total != TARGETS["opinions_collected"]:
            r = rng.choice(raw)
            if total < TARGETS["opinions_collected"] and r[2] < 4:
                r[2] += 1
                total += 1
            elif total > TARGETS["opinions_collected"] and r[2] > 0:
                r[2] -= 1
                total -= 1
        out = []
        for d, c, n in raw:
            drawn = rng.choice(roles)
            # the leader the rank requires (a cadre of no rank: whoever was drawn); the draws
            # below are made as before, so the rest of the demo is drawn the same
            role, who = next(
                (r for r in N.INTERVIEWERS if r[0] == REQUIRED_ROLE.get(c.rank)), drawn
            )
            if role == drawn[0]:
                who = drawn[1]  # of the two 副部长, the one drawn
            ops = None
            if n:
                items = rng.sample(N.TALK_OPINIONS, n)
                ops = "；".join(f"{i}.{s}" for i, s in enumerate(items, 1))
            for _ in range(
                4
            ):  # the draws of four topics, then 意见建议's when no opinion, then 其他
                rng.random()
            if not n:
                rng.random()
            rng.random()
            out.append(Talk(d, who, role, c.code, c.name, c.rank, *([True] * 6), n, ops))
        out.sort(key=lambda t: (t.talk_date, t.cadre_code))
        # planted (a draw of its own, so nothing else moves): talks held by a leader of another
        # level than the rank requires, and talks that left topics of the six out
        planted = random.Random(17)
        ranked_talks = [i for i, t in enumerate(out) if t.rank]
        picks = planted.sample(ranked_talks, WRONG_LEADER_TALKS + MISSING_TOPIC_TALKS)
        for i in picks[:WRONG_LEADER_TALKS]:
            wrong = next(r for r in N.INTERVIEWERS if r[0] != out[i].interviewer_role)
            out[i] = replace(out[i], interviewer_role=wrong[0], interviewer=wrong[1])
        for k, i in enumerate(picks[WRONG_LEADER_TALKS:]):
            left_out = TOPICS[k % len(TOPICS) : k % len(TOPICS) + 1 + k % 2]
            out[i] = replace(out[i], **{topic: False for topic in left_out})
        first_year = min(t.talk_date.year for t in out)
        self.intended_missed_talks = sorted(
            (c.code, y)
            for c in ranked
            for y in range(first_year, 2014)
            if not any(cc is c and y in ys for cc, ys in plan)
        )
        return out

    # ---- joint branches
    def joint_branches(self, villages) -> list[JointBranch]:
        rng = self.rng
        per = {"保城镇": 3, "什玲镇": 3}
        units = list(N.COUNTY_UNITS)
        rng.shuffle(units)
        out = []
        for _, twp in N.TOWNSHIPS:
            vs = [v for v in villages if v.township == twp]
            for k in range(per.get(twp, 2)):
                chosen = rng.sample(vs, rng.randint(2, 3))
                rural = "、".join(v.stem + "村党支部" for v in chosen)
                out.append(
                    JointBranch(
                        f"{twp}第{N.CHINESE_NUMERALS[k]}联合党支部",
                        twp,
                        units.pop() + "机关党支部",
                        rural,
                        rng.randint(18, 45),
                    )
                )
        assert len(out) == 20
        return out

    def branch_activities(self, branches) -> list[BranchActivity]:
        rng = self.rng
        starts = {}
        late = set(b.name for b in rng.sample(branches, 6))
        for b in branches:
            if b.name in late:
                starts[b.name] = rng.choice([(2013, 1), (2013, 2), (2013, 3)])
            else:
                starts[b.name] = rng.choice([(2012, 1), (2012, 2), (2012, 2)])
        cands = []
        for b in branches:
            for y, q in quarters_between(quarter_bounds(*starts[b.name])[0], self.as_of):
                if (y, q) != starts[b.name]:
                    cands.append((b.name, (y, q)))
        picked = []
        for x in rng.sample(cands, len(cands)):
            if all(x[0] != p[0] for p in picked):
                picked.append(x)
            if len(picked) == 8:
                break
        empty = set(picked[:7])
        zero_only = picked[7]
        types = ["党员大会", "支委会", "党课", "主题党日", "组织生活会"]
        out = []
        for b in branches:
            for y, q in quarters_between(quarter_bounds(*starts[b.name])[0], self.as_of):
                qs, qe = quarter_bounds(y, q)
                if (b.name, (y, q)) in empty:
                    continue
                n = 1 if (b.name, (y, q)) == zero_only else rng.choices((1, 2, 3), (50, 35, 15))[0]
                days = set()
                for k in range(n):
                    while True:
                        d = _rdate(rng, qs, qe)
                        if d not in days:
                            days.add(d)
                            break
                    expected = b.members - rng.randint(0, 3)
                    present = max(1, expected - rng.randint(0, 7))
                    agenda = rng.choice(N.ACTIVITY_AGENDA)
                    if (b.name, (y, q)) == zero_only:
                        present, agenda = 0, "受台风影响，活动延期，党员未能到会"
                    hours = rng.choice(
                        (Decimal("1"), Decimal("1.5"), Decimal("2"), Decimal("2.5"), Decimal("3"))
                    )
                    spend = None if rng.random() < 0.4 else Decimal(rng.randrange(20, 160) * 10)
                    out.append(
                        BranchActivity(
                            b.name,
                            b.agency_branch,
                            b.rural_branch,
                            d,
                            types[(k + rng.randrange(5)) % 5],
                            expected,
                            present,
                            hours,
                            agenda,
                            spend,
                        )
                    )
        # planted: two activities with 实到人数 > 应到人数
        eligible = [i for i, a in enumerate(out) if a.present_count > 0]
        for i in rng.sample(eligible, 2):
            out[i] = replace(out[i], present_count=out[i].expected_count + 2)
        keys = [(a.joint_branch, a.activity_date, a.activity_type) for a in out]
        assert len(keys) == len(set(keys))
        out.sort(key=lambda a: (a.joint_branch, a.activity_date))
        self.intended_missed_branch = sorted((b, quarter_label(*yq)) for b, yq in picked)
        return out

    # ---- enterprises
    def enterprises(self) -> list[Enterprise]:
        rng = self.rng
        out = []
        seen = set()
        twps = [t for _, t in N.TOWNSHIPS]
        for name in N.ENTERPRISES:
            while True:
                body = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(4))
                if body not in seen:
                    seen.add(body)
                    break
            twp = next((t for t in twps if t[:2] in name), rng.choice(twps))
            branch = (
                None
                if rng.random() < 0.3
                else name.replace("有限公司", "").replace("股份", "") + "党支部"
            )
            out.append(Enterprise(name, credit_code(N.COUNTY_CODE, body), branch, twp))
        return out

    def projects(self, villages, enterprises, branches) -> list[Project]:
        rng = self.rng
        twps = [t for _, t in N.TOWNSHIPS]
        vs_by_twp = defaultdict(list)
        for v in villages:
            vs_by_twp[v.township].append(v)
        tcode = dict((t, c) for c, t in N.TOWNSHIPS)
        plan = []  # (provider, sender, type)
        other_types = (
            ["乡村旅游"] * 8 + ["种植"] * 16 + ["养殖"] * 14 + ["基础设施"] * 14 + ["其他"] * 8
        )
        rng.shuffle(other_types)
        for i in range(120):
            plan.append(("townships", twps[i % 9], "专业合作社"))
        for t in other_types[:30]:
            plan.append(("townships", rng.choice(twps), t))
        for i in range(16):
            plan.append(("joint_branches", branches[i % len(branches)].name, "专业合作社"))
        for t in other_types[30:40]:
            plan.append(("joint_branches", rng.choice(branches).name, t))
        for i in range(12):
            plan.append(("enterprises", enterprises[i % 6].name, "专业合作社"))
        for t in other_types[40:52]:
            plan.append(("enterprises", enterprises[rng.randrange(6)].name, t))
        rest = other_types[52:]
        for t in rest:
            plan.append(("county", "县委组织部", t))
        assert sum(p[2] == "专业合作社" for p in plan) == TARGETS["cooperatives"]
        capacity = set(
            rng.sample(
                [i for i, p in enumerate(plan) if p[2] != "基础设施"], TARGETS["capacity_projects"]
            )
        )
        branch_by = {b.name: b for b in branches}
        ent_by = {e.name: e for e in enterprises}
        seq = Counter()
        names = set()
        out = []
        for i, (prov, sender, ptype) in enumerate(plan):
            if prov == "townships":
                twp = sender
            elif prov == "joint_branches":
                twp = branch_by[sender].township
            elif prov == "enterprises":
                twp = ent_by[sender].township
            else:
                twp = rng.choice(twps)
            v = rng.choice(vs_by_twp[twp])
            started = _rdate(rng, _d(2012, 3, 1), _d(2014, 6, 20))
            seq[(started.year, twp)] += 1
            code = f"XM-{started.year}-{tcode[twp]}-{seq[(started.year, twp)]:03d}"
            stem = rng.choice(N.PROJECT_STEMS[ptype])
            name = f"{v.stem}村{stem}"
            k = 2
            while name in names:
                name = f"{v.stem}村{stem}{N.CHINESE_NUMERALS[k - 1]}期"
                k += 1
            names.add(name)
            if started >= _d(2014, 3, 1):
                status = rng.choice(("筹备", "在建"))
            else:
                status = (
                    rng.choice(("运营", "运营", "运营", "完工", "在建", "终止"))
                    if ptype != "基础设施"
                    else rng.choice(("完工", "完工", "在建"))
                )
            implementer = {
                "townships": rng.choice(("工作队", "工作队", "部门")),
                "joint_branches": "联合党支部",
                "enterprises": "企业",
                "county": "部门",
            }[prov]
            partner = (
                sender
                if prov == "enterprises"
                else (
                    rng.choice(enterprises).name
                    if prov == "townships" and rng.random() < 0.15
                    else None
                )
            )
            planned = None if rng.random() < 0.1 else Decimal(rng.randrange(20, 600) * 1000)
            reached = None if rng.random() < 0.1 else rng.randint(5, 120)
            out.append(
                Project(
                    code,
                    name,
                    ptype,
                    i in capacity,
                    implementer,
                    twp,
                    v.name,
                    partner,
                    started,
                    planned,
                    status,
                    reached,
                    prov,
                    sender,
                )
            )
        # number the projects of each township and year in the order they started
        ordered = sorted(range(len(out)), key=lambda i: (out[i].township, out[i].started_on, i))
        seq = Counter()
        for i in ordered:
            p = out[i]
            key = (p.started_on.year, p.township)
            seq[key] += 1
            out[i] = replace(
                p, project_code=f"XM-{p.started_on.year}-{tcode[p.township]}-{seq[key]:03d}"
            )
        assert len({p.project_code for p in out}) == len(out)
        return out

    def enterprise_links(self, enterprises, villages, projects) -> list[EnterpriseLink]:
        rng = self.rng
        out = []
        modes = ("产业", "就业", "消费", "公益")
        for i, e in enumerate(enterprises):
            n = 2 if i < 15 else 1
            own = [v for v in villages if v.township == e.township]
            for v in rng.sample(own, n):
                proj = next(
                    (
                        p.project_code
                        for p in projects
                        if p.sender == e.name and p.village == v.name
                    ),
                    None,
                )
                out.append(
                    EnterpriseLink(
                        e.name,
                        e.credit_code,
                        e.branch,
                        v.name,
                        v.township,
                        _rdate(rng, _d(2012, 3, 1), _d(2014, 5, 30)),
                        rng.choice(modes),
                        proj,
                    )
                )
        return out

    def funding(self, villages, cadres, enterprises, branches, projects) -> list[Funding]:
        rng = self.rng
        twps = [t for _, t in N.TOWNSHIPS]
        vs_by_twp = defaultdict(list)
        for v in villages:
            vs_by_twp[v.township].append(v)
        proj_by_village = defaultdict(list)
        for p in projects:
            proj_by_village[p.village].append(p)
        rows: list[dict] = []

        def add(provider, sender, twp, stype, unit, lo, hi, purpose=None, step=100):
            v = rng.choice(vs_by_twp[twp]) if twp else None
            proj = None
            if v and proj_by_village[v.name] and rng.random() < 0.5:
                proj = rng.choice(proj_by_village[v.name])
            amount = Decimal(rng.randrange(lo // step, hi // step + 1) * step)
            purpose = purpose or (
                f"{proj.project_name}建设资金"
                if proj
                else rng.choice(
                    (
                        "村级活动场所建设",
                        "困难户慰问金",
                        "产业扶持资金",
                        "村道硬化",
                        "饮水工程配套",
                        "技能培训经费",
                    )
                )
            )
            rows.append(
                dict(
                    funded_on=_rdate(rng, _d(2012, 3, 1), _d(2014, 6, 27)),
                    source_type=stype,
                    source_unit=unit,
                    amount_yuan=amount,
                    purpose=purpose,
                    project_code=proj.project_code if proj else None,
                    township=twp,
                    village=v.name if v else None,
                    provider=provider,
                    sender=sender,
                )
            )

        rows.append(
            dict(
                funded_on=_d(2013, 3, 15),
                source_type="财政",
                source_unit="县财政局",
                amount_yuan=Decimal("1200000.00"),
                purpose="村级组织活动场所建设专项资金（全县统筹）",
                project_code=None,
                township=None,
                village=None,
                provider="county",
                sender="county",
            )
        )
        for _ in range(6):
            add(
                "county",
                "county",
                rng.choice(twps),
                "帮扶单位",
                rng.choice(N.COUNTY_UNITS),
                5000,
                60000,
            )
        for twp in twps:
            for _ in range(3):
                add("townships", twp, twp, "财政", "县财政局", 20000, 120000, step=1000)
            for _ in range(rng.randint(3, 4)):
                add("townships", twp, twp, "帮扶单位", rng.choice(N.OUTSIDE_UNITS), 5000, 80000)
            for _ in range(rng.randint(1, 2)):
                add(
                    "townships",
                    twp,
                    twp,
                    "社会捐赠",
                    rng.choice(("保亭县商会", "海南省青年志愿者协会", "保亭县慈善会", "爱心人士")),
                    1000,
                    20000,
                )
        for b in branches:
            for _ in range(1 if rng.random() < 0.7 else 2):
                add(
                    "joint_branches", b.name, b.township, "联合党支部", b.agency_branch, 2000, 15000
                )
        for e in enterprises:
            for _ in range(rng.randint(1, 2)):
                add("enterprises", e.name, e.township, "企业", e.name, 10000, 150000)
        # a few amounts with fen, in senders whose files are in yuan
        for r in rows:
            if (
                r["sender"] in ("响水镇", "county")
                and r["amount_yuan"] < 1000000
                and rng.random() < 0.5
            ):
                r["amount_yuan"] += Decimal(rng.randint(1, 99)) / 100
        target = TARGETS["funding_yuan"]
        adjust = next(r for r in rows if r["sender"] == "响水镇" and r["source_type"] == "财政")
        movable = [r for r in rows if r is not adjust and r["amount_yuan"] < 1000000]
        diff = target - sum(r["amount_yuan"] for r in rows if r is not adjust)
        while not Decimal(30000) <= diff <= Decimal(250000):
            r = rng.choice(movable)
            if diff < 30000 and r["amount_yuan"] > 8000:
                r["amount_yuan"] -= 1000
                diff += 1000
            elif diff > 250000 and r["amount_yuan"] < 140000:
                r["amount_yuan"] += 1000
                diff -= 1000
        adjust["amount_yuan"] = diff
        out = [Funding(**r) for r in rows]
        assert sum(f.amount_yuan for f in out) == target
        assert len({f.key for f in out}) == len(out)
        out.sort(key=lambda f: (f.provider, f.sender, f.funded_on))
        return out

    def matters(self, villages, cadres, enterprises, branches) -> list[Matter]:
        rng = self.rng
        twps = [t for _, t in N.TOWNSHIPS]
        vs_by_twp = defaultdict(list)
        for v in villages:
            vs_by_twp[v.township].append(v)
        plan = []  # (category, status, provider)
        for cat, st, n, prov in (
            ("办实事", "已办结", 718, None),
            ("办实事", "办理中", 40, None),
            ("办实事", "待议", 14, None),
            ("企业诉求", "已办结", 133, "enterprises"),
            ("企业诉求", "办理中", 9, "enterprises"),
            ("企业诉求", "待议", 4, "enterprises"),
            ("支部难题", "已办结", 127, "joint_branches"),
            ("支部难题", "办理中", 8, "joint_branches"),
            ("支部难题", "待议", 3, "joint_branches"),
            ("党员转化", "已办结", 34, "joint_branches"),
            ("党员转化", "办理中", 5, "joint_branches"),
            ("支部升级", "已办结", 7, "joint_branches"),
            ("支部升级", "办理中", 3, "joint_branches"),
        ):
            for _ in range(n):
                plan.append([cat, st, prov, None])
        for cat in ("教育", "医疗", "增收", "其他"):
            for _ in range(rng.randint(26, 34)):
                plan.append(
                    [cat, rng.choice(("已办结", "已办结", "已办结", "办理中", "待议")), None, None]
                )
        planted = [
            ("教育", "closed_before_raised"),
            ("其他", "closed_before_raised"),
            ("医疗", "closed_without_date"),
            ("增收", "closed_without_date"),
        ]
        for cat, kind in planted:
            plan.append([cat, "已办结", "townships", kind])
        rng.shuffle(plan)
        seq = Counter()
        out = []
        bad_index: dict[int, str] = {}
        for cat, st, prov, kind in plan:
            if prov is None:
                prov = "county" if rng.random() < 0.1 else "townships"
            if prov == "townships":
                sender = twp = rng.choice(twps)
                place = rng.choice(vs_by_twp[twp]).name
                source = rng.choice(("走访", "走访", "工作队"))
                owner = f"{twp}人民政府" if rng.random() < 0.5 else rng.choice(N.COUNTY_UNITS)
                prefix = "YY" + dict((t, c) for c, t in N.TOWNSHIPS)[twp]
            elif prov == "county":
                sender, twp = "county", rng.choice(twps)
                place = rng.choice(vs_by_twp[twp]).name
                source, owner, prefix = "约谈", rng.choice(N.COUNTY_UNITS), "ZZB"
            elif prov == "joint_branches":
                b = rng.choice(branches)
                sender, twp = b.name, b.township
                place = rng.choice(vs_by_twp[twp]).name
                source, owner = "联合党支部", b.agency_branch
                prefix = "ZB" + f"{branches.index(b) + 1:02d}"
            else:
                e = rng.choice(enterprises)
                sender, twp, place = e.name, e.township, e.name
                source, owner = "企业", rng.choice(N.COUNTY_UNITS)
                prefix = "QY" + f"{enterprises.index(e) + 1:02d}"
            hi = (
                _d(2014, 4, 30)
                if st == "已办结"
                else (_d(2014, 6, 20) if st == "办理中" else self.as_of)
            )
            lo = _d(2012, 2, 1)
            raised = _rdate(rng, lo, hi)
            if st == "待议":
                raised = _rdate(rng, _d(2014, 5, 31), self.as_of) if rng.random() < 0.7 else raised
            decided = last_friday(raised.year, raised.month)
            if decided < raised:
                ny, nm = (
                    (raised.year + 1, 1) if raised.month == 12 else (raised.year, raised.month + 1)
                )
                decided = last_friday(ny, nm)
            if st == "待议":
                decided = None
            closed = None
            if st == "已办结":
                closed = min(decided + dt.timedelta(days=rng.randint(5, 90)), self.as_of)
            if st == "办理中" and decided > self.as_of:
                st, decided = "待议", None
            seq[(prefix, raised.year)] += 1
            code = f"{prefix}-{raised.year}-{seq[(prefix, raised.year)]:03d}"
            desc = rng.choice(N.MATTER_TEXT[cat]).format(n=rng.randint(2, 30))
            if kind == "closed_before_raised":
                closed = raised - dt.timedelta(days=rng.randint(20, 200))
                closed = max(closed, _d(2012, 1, 5))
                assert closed < raised
            if kind == "closed_without_date":
                closed = None
            if kind:
                bad_index[len(out)] = kind
            out.append(
                Matter(
                    code,
                    source,
                    cat,
                    raised,
                    twp,
                    place,
                    desc,
                    decided,
                    owner,
                    st,
                    closed,
                    prov,
                    sender,
                )
            )
        # number the matters of each sender and year in the order they were raised
        ordered = sorted(
            range(len(out)), key=lambda i: (out[i].matter_code.split("-")[0], out[i].raised_on, i)
        )
        seq = Counter()
        for i in ordered:
            m = out[i]
            prefix = m.matter_code.split("-")[0]
            seq[(prefix, m.raised_on.year)] += 1
            out[i] = replace(
                m, matter_code=f"{prefix}-{m.raised_on.year}-{seq[(prefix, m.raised_on.year)]:03d}"
            )
        self.intended_bad_matters = sorted((out[i].matter_code, k) for i, k in bad_index.items())
        assert len({m.matter_code for m in out}) == len(out)
        out.sort(key=lambda m: (m.provider, m.sender, m.raised_on, m.matter_code))
        # matters that need several departments (the department's head leads them at the
        # meeting): a few open county-level ones, drawn apart so that nothing else moves
        planted = random.Random(1717)
        open_county = [
            i for i, m in enumerate(out) if m.status != "已办结" and m.provider == "county"
        ]
        for i in planted.sample(open_county, min(MULTI_DEPARTMENT_MATTERS, len(open_county))):
            units = planted.sample(N.COUNTY_UNITS, 2)
            out[i] = replace(out[i], owner_unit="、".join(units))
        return out


def build_truth(seed: int = DEFAULT_SEED) -> Truth:
    g = _Gen(seed)
    villages = g.villages()
    cadres = g.cadres()
    members = g.teams(villages, cadres)
    households = g.households(villages)
    pairings = g.pairings(villages, cadres, households)
    visits = g.visits(villages, cadres, households, pairings)
    talks = g.talks(cadres)
    branches = g.joint_branches(villages)
    activities = g.branch_activities(branches)
    enterprises = g.enterprises()
    projects = g.projects(villages, enterprises, branches)
    links = g.enterprise_links(enterprises, villages, projects)
    funding = g.funding(villages, cadres, enterprises, branches, projects)
    matters = g.matters(villages, cadres, enterprises, branches)
    rng = g.rng
    # one enterprise funding row is also reported by its township; one enterprise project too
    ent_funding = [
        f
        for f in funding
        if f.provider == "enterprises"
        and f.village
        and f.sender in {e.name for e in enterprises[:5]}
    ]
    dup_f = rng.choice(ent_funding)
    ent_proj = [
        p
        for p in projects
        if p.provider == "enterprises" and p.sender in {e.name for e in enterprises[:5]}
    ]
    dup_p = rng.choice(ent_proj)
    t = Truth(
        seed=seed,
        as_of=DEMO_AS_OF,
        villages=villages,
        cadres=cadres,
        team_members=members,
        households=households,
        pairings=pairings,
        visits=visits,
        talks=talks,
        joint_branches=branches,
        branch_activities=activities,
        enterprises=enterprises,
        enterprise_links=links,
        projects=projects,
        funding=funding,
        matters=matters,
        resent_visits=g.resent,
        double_reported={
            "funding": (dup_f, "townships", dup_f.township),
            "projects": (dup_p, "townships", dup_p.township),
        },
    )
    t.intended = {
        "missed_quarterly_visits": g.intended_missed,
        "missed_annual_talks": g.intended_missed_talks,
        "missed_branch_quarters": g.intended_missed_branch,
        "org_cadre_pairing_load": {g.org4: 4, g.org6: 6},
        "unknown_codes": g.intended_unknown,
        "bad_matters": sorted(g.intended_bad_matters),
        "edge_pairings": [
            (p.cadre_code, p.household_code, quarter_label(*yq), days)
            for p, yq, days in g.edge_pairings
        ],
    }
    _check_targets(t)
    return t


def _check_targets(t: Truth) -> None:
    h = headlines(t)
    for k, v in TARGETS.items():
        assert h[k] == v, (k, h[k], v)
    assert (
        missed_quarterly_visits(t.pairings, t.visits, t.as_of)
        == t.intended["missed_quarterly_visits"]
    )
    assert missed_annual_talks(t.roster, t.talks, t.as_of) == t.intended["missed_annual_talks"]
    assert (
        missed_branch_quarters(t.branch_activities, t.as_of) == t.intended["missed_branch_quarters"]
    )
    assert (
        org_cadre_pairing_load(t.cadres, t.pairings, t.as_of)
        == t.intended["org_cadre_pairing_load"]
    )
