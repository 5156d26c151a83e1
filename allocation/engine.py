"""Classified management and zone ranking: quotas, household admission, school placement.

School placement within a zone is serial dictatorship in ranking order (积分优先、遵循志愿). All
schools of a zone rank applicants by the same zone ranking, so this equals student-proposing
deferred acceptance (the student-optimal stable assignment) under the zone quota; `da.py` holds
the general deferred acceptance used when priorities differ and as a cross-check.

Zones share no school, applicant or quota: `rank` gives the school zones to place, and each
can be placed by `place_school_zone` on its own, in any order or in another process
(`place_apart`, whose placements `finish` merges).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from .apportion import ApportionError, apportion
from .instance import Instance, InstanceError
from .outcome import Outcome, extended
from .ranking import rank_order
from .reasons import Reason, settle


def _votes(inst: Instance, c: int, demand: np.ndarray) -> list[int]:
    if inst.basis == "demand":
        return [int(v) for v in demand]
    return [round(float(z.get("weight", 1.0)) * 1_000_000) for z in inst.zones]


def compute_quotas(inst: Instance, c: int, demand: np.ndarray) -> list[int]:
    cat = inst.categories[c]
    nz = len(inst.zones)
    lo = [0] * nz
    hi = [cat["total"]] * nz
    for zi, z in enumerate(inst.zones):
        b = z.get("bounds", {}).get(cat["id"])
        if b:
            lo[zi], hi[zi] = b[0], b[1]
    if cat["kind"] == "school":
        seats = np.zeros(nz, dtype=np.int64)
        m = inst.school_cat == c
        np.add.at(seats, inst.school_zone[m], inst.school_seats[m])
        hi = [min(h, int(s)) for h, s in zip(hi, seats, strict=True)]
    try:
        return apportion(
            inst.method,
            _votes(inst, c, demand),
            cat["total"],
            [z["id"] for z in inst.zones],
            lo,
            hi,
        )
    except ApportionError as exc:
        raise InstanceError([f"categories id '{cat['id']}', field 'total': {exc}"]) from None


@dataclass
class SchoolZone:
    """One zone of one school category, to place: its ranked applicants in ranking order."""

    category: int
    zone: int
    members: np.ndarray  # int64 applicants
    levels: np.ndarray  # int64 their tie groups
    quota: int


@dataclass
class PlacementRules:
    """What school placement reads. Per applicant (id order): only those of the zones placed
    need be filled in."""

    tie_policy: str
    choices: list[list[int]]
    accept_any: list[bool]
    family: list[str | None]
    families: dict[tuple[int, str], list[int]]  # (category, family) -> members, ranking order
    zone_schools: dict[tuple[int, int], list[int]]  # (category, zone) -> schools by id
    kept: dict[int, int]  # vacancy round: applicant -> school kept (-1 for household places)


@dataclass
class PlacementState:
    """What school placement writes: per applicant (lists: fast item writes), per school."""

    school: list[int]
    admitted: list[bool]
    choice_rank: list[int]
    placement: list[Reason]
    remaining: list[int]  # free seats per school
    closed_school: dict[int, int]  # reject_all: school -> the tie group it closed at
    closed_zone: dict[tuple[int, int], int]  # reject_all: (category, zone) -> likewise


@dataclass
class ZonePlacements:
    """What placing some zones apart decided for their applicants and schools."""

    members: np.ndarray  # int64 applicants
    school: np.ndarray  # int64
    admitted: np.ndarray  # bool
    choice_rank: np.ndarray  # int64
    placement: list[Reason]
    remaining: dict[int, int]  # school -> free seats
    closed_school: dict[int, int] = field(default_factory=dict)
    closed_zone: dict[tuple[int, int], int] = field(default_factory=dict)


def allocate(inst: Instance, progress=None) -> Outcome:
    """Quotas, ranking and placement: the outcome, with its public reasons. `progress(1)` is
    called once per (category, zone) placed."""
    out, zones = rank(inst, progress)
    rules, state = placement_rules(inst, out), placement_state(out)
    for zone in zones:
        place_school_zone(zone, rules, state)
        if progress is not None:
            progress(1)
    return finish(inst, out)


def rank(inst: Instance, progress=None) -> tuple[Outcome, list[SchoolZone]]:
    """The quotas and the zone ranking of every category, the household places, and the school
    zones left to place (by category, then zone)."""
    n = inst.n
    out = Outcome(
        school=[-1] * n,  # lists while placing (fast item writes), numpy in finish()
        admitted=[False] * n,
        choice_rank=[0] * n,
        zone_rank=np.zeros(n, dtype=np.int64),
        level=np.full(n, -1, dtype=np.int64),
        pos=np.full(n, -1, dtype=np.int64),
        placement=[Reason.BELOW_CUTOFF] * n,
        remaining=inst.school_seats.tolist(),
    )
    _vacancy(inst, out)
    for i in np.nonzero(~inst.eligible)[0]:
        out.placement[i] = Reason.INELIGIBLE
    for w in out.withdrawn:
        out.placement[w] = Reason.WITHDRAWN
    for s in range(len(inst.schools)):  # (in id order, which is the index order)
        key = (int(inst.school_cat[s]), int(inst.school_zone[s]))
        out.zone_schools.setdefault(key, []).append(s)
    withdrawn = np.zeros(n, dtype=bool)
    withdrawn[list(out.withdrawn)] = True
    ranked = inst.eligible & ~withdrawn
    in_family = np.fromiter((f is not None for f in inst.family), dtype=bool, count=n)
    zones: list[SchoolZone] = []
    for c in range(len(inst.categories)):
        zones += _rank_category(inst, out, c, ranked, in_family, progress)
    return out, zones


def _rank_category(inst: Instance, out: Outcome, c: int, ranked, in_family, progress):
    """Category `c`: its quotas and zone ranking (of the `ranked` applicants); its household
    places, or its school zones to place (returned)."""
    nz = len(inst.zones)
    in_cat = inst.cat == c
    quotas = compute_quotas(inst, c, np.bincount(inst.zone[in_cat & inst.eligible], minlength=nz))
    for z in range(nz):
        out.zone_quota[(c, z)] = quotas[z]
    order, level = rank_order(
        np.nonzero(in_cat & ranked)[0], inst.zone, inst.points, inst.keys, inst.lottery
    )
    out.pos[order] = np.arange(len(order))
    out.level[order] = level
    bounds = np.searchsorted(inst.zone[order], np.arange(nz + 1)).tolist()
    is_school = inst.categories[c]["kind"] == "school"
    if is_school:
        _families(inst, c, order[in_family[order]], out)
    zones = []
    for z in range(nz):
        members, levels = order[bounds[z] : bounds[z + 1]], level[bounds[z] : bounds[z + 1]]
        out.zone_rank[members] = np.arange(1, len(members) + 1)
        if is_school:
            zones.append(SchoolZone(c, z, members, levels, quotas[z]))
        else:
            _household_zone(members.tolist(), levels.tolist(), quotas[z], inst.tie_policy, out,
                            (c, z))  # fmt: skip
            if progress is not None:
                progress(1)
    return zones


def _vacancy(inst: Instance, out: Outcome) -> None:
    """A vacancy round: the admissions kept and the applicants withdrawn."""
    if not inst.vacancy:
        return
    index = {a: i for i, a in enumerate(inst.ids)}
    out.withdrawn = {index[a] for a in inst.vacancy.get("withdrawn", [])}
    for aid, sid in inst.vacancy.get("admitted", {}).items():
        if index[aid] not in out.withdrawn:
            out.kept[index[aid]] = inst.school_index[sid] if sid is not None else -1


def placement_rules(inst: Instance, out: Outcome) -> PlacementRules:
    return PlacementRules(
        inst.tie_policy, inst.choices, inst.accept_any.tolist(), inst.family, out.families,
        out.zone_schools, out.kept,
    )  # fmt: skip


def placement_state(out: Outcome) -> PlacementState:
    """The state of `out` (its lists, shared: placing writes into the outcome)."""
    return PlacementState(
        out.school, out.admitted, out.choice_rank, out.placement, out.remaining,
        out.closed_school, out.closed_zone,
    )  # fmt: skip


def place_apart(zones: list[SchoolZone], rules: PlacementRules, seats: dict[int, int], n: int):
    """Place `zones` with a state of their own (for a process that holds only their
    applicants: `seats` are the free seats of their schools, `n` the number of applicants)."""
    remaining = [0] * (max(seats, default=-1) + 1)
    for s, left in seats.items():
        remaining[s] = left
    state = PlacementState([-1] * n, [False] * n, [0] * n, [Reason.BELOW_CUTOFF] * n, remaining,
                           {}, {})  # fmt: skip
    for zone in zones:
        place_school_zone(zone, rules, state)
    members = np.concatenate([z.members for z in zones]) if zones else np.zeros(0, np.int64)
    m = members.tolist()
    return ZonePlacements(
        members,
        np.array([state.school[a] for a in m], dtype=np.int64),
        np.array([state.admitted[a] for a in m], dtype=bool),
        np.array([state.choice_rank[a] for a in m], dtype=np.int64),
        [state.placement[a] for a in m],
        {s: remaining[s] for s in seats},
        state.closed_school,
        state.closed_zone,
    )


def finish(inst: Instance, out: Outcome, apart: list[ZonePlacements] = ()) -> Outcome:
    """The outcome once every zone is placed (here, or apart: `apart` is merged), as arrays,
    with its public reasons."""
    out.school = np.array(out.school, dtype=np.int64)
    out.admitted = np.array(out.admitted, dtype=bool)
    out.choice_rank = np.array(out.choice_rank, dtype=np.int64)
    for placed in apart:
        out.school[placed.members] = placed.school
        out.admitted[placed.members] = placed.admitted
        out.choice_rank[placed.members] = placed.choice_rank
        for a, r in zip(placed.members.tolist(), placed.placement, strict=True):
            out.placement[a] = r
        for s, left in placed.remaining.items():
            out.remaining[s] = left
        out.closed_school.update(placed.closed_school)
        out.closed_zone.update(placed.closed_zone)
    out.reasons = settle(inst, out)
    return out


def _families(inst: Instance, c: int, members: np.ndarray, out: Outcome) -> None:
    """The families of category `c` with two or more ranked members (`members`: those in a
    family, in ranking order; each family is in one zone: the instance says so)."""
    families: dict[str, list[int]] = {}
    for a in members.tolist():
        families.setdefault(inst.family[a], []).append(a)
    for f, members in sorted(families.items()):
        if len(members) > 1:
            out.families[(c, f)] = members


def _household_zone(block, levels, quota, policy, out: Outcome, key) -> None:
    """The top of the zone's ranking, up to the quota (less the places kept); a tie group
    straddling the cut-off is admitted (admit_all), or rejected (reject_all), as a whole."""
    kept = [a for a in block if a in out.kept]
    for a in kept:
        out.admitted[a] = True
        out.placement[a] = Reason.ADMITTED_KEPT
    ranked = [a for a in block if a not in out.kept] if kept else block
    groups = (
        [g for a, g in zip(block, levels, strict=True) if a not in out.kept] if kept else levels
    )
    places = quota - len(kept)
    cut = max(0, min(places, len(ranked)))
    rejected_group = None
    if 0 < cut < len(ranked) and groups[cut - 1] == groups[cut]:
        g = groups[cut]
        if policy == "admit_all":
            while cut < len(ranked) and groups[cut] == g:
                cut += 1
        elif policy == "reject_all":
            while cut > 0 and groups[cut - 1] == g:
                cut -= 1
            out.closed_zone[key] = g
            rejected_group = g
    admitted, placement = out.admitted, out.placement
    inside, beyond = Reason.ADMITTED, Reason.ADMITTED_TIE  # (locals: see _Zone.by_lottery)
    for j, a in enumerate(ranked):
        if j < cut:
            admitted[a] = True
            placement[a] = inside if j < places else beyond
        elif groups[j] == rejected_group:
            placement[a] = Reason.TIE_REJECTED
    # the others keep BELOW_CUTOFF: the quota went to applicants ranked above them


def place_school_zone(zone: SchoolZone, rules: PlacementRules, state: PlacementState) -> None:
    """Place one school zone: the admissions kept first, then the ranking under the policy."""
    placer = _Zone(zone, rules, state)
    quota_left = placer.keep_admissions()
    if rules.tie_policy == "lottery":
        placer.by_lottery(quota_left)
    else:
        placer.by_tie_groups(quota_left)


class _Zone:
    """Placing one school zone: its applicants in ranking order take seats of its schools."""

    def __init__(self, zone: SchoolZone, rules: PlacementRules, state: PlacementState):
        self.zone, self.rules, self.state = zone, rules, state
        self.key = (zone.category, zone.zone)
        self.schools = rules.zone_schools.get(self.key, [])
        self.block, self.levels = zone.members.tolist(), zone.levels.tolist()
        self.decided: set[int] = set()  # applicants whose outcome is settled

    def keep_admissions(self) -> int:
        """Vacancy round: the admissions kept stay where they are. The quota left."""
        rules, state = self.rules, self.state
        quota_left = self.zone.quota
        for a in self.block:
            if a in rules.kept:
                s = rules.kept[a]
                self.decided.add(a)
                state.admitted[a] = True
                state.placement[a] = Reason.ADMITTED_KEPT
                if s >= 0:
                    state.school[a] = s
                    state.remaining[s] -= 1
                    ch = rules.choices[a]
                    state.choice_rank[a] = ch.index(s) + 1 if s in ch else 0
                quota_left -= 1
        return quota_left

    def extended(self, a: int) -> list[int]:
        return extended(self.rules.choices[a], self.rules.accept_any[a], self.schools)

    def unit_of(self, a: int) -> tuple[list[int], list[int]]:
        """Who is placed with `a` (their family members not yet decided, in ranking order, or
        `a` alone) and the schools all of them accept, in the first one's order."""
        f = self.rules.family[a]
        family = self.rules.families.get((self.zone.category, f)) if f is not None else None
        if family is not None:
            members = [m for m in family if m not in self.decided]
            if len(members) > 1:
                others = [set(self.extended(m)) for m in members[1:]]
                joint = [s for s in self.extended(members[0]) if all(s in o for o in others)]
                return members, joint
        return [a], self.extended(a)

    def units(self, applicants) -> list[tuple[list[int], list[int]]]:
        """The units of `applicants` not yet decided (now decided), in order."""
        out = []
        for a in applicants:
            if a not in self.decided:
                members, joint = self.unit_of(a)
                self.decided.update(members)
                out.append((members, joint))
        return out

    def place(self, members: list[int], s: int, beyond: bool) -> None:
        """Admit `members` at school `s` (`beyond`: over the seats or quota, 同分同落)."""
        state, choices = self.state, self.rules.choices
        for m in members:
            state.school[m] = s
            state.admitted[m] = True
            ch = choices[m]
            if s in ch:
                state.choice_rank[m] = ch.index(s) + 1
                state.placement[m] = Reason.ADMITTED_CHOICE
            else:
                state.placement[m] = Reason.ADMITTED_ANY
            if beyond:
                state.placement[m] = Reason.ADMITTED_TIE
            if len(members) > 1:
                state.placement[m] = Reason.ADMITTED_FAMILY
        state.remaining[s] -= len(members)

    def fail(self, members: list[int], why: Reason) -> None:
        for m in members:
            self.state.placement[m] = why

    @staticmethod
    def no_seat(k: int) -> Reason:
        return Reason.BELOW_CUTOFF if k == 1 else Reason.FAMILY_NO_JOINT_SEAT

    @staticmethod
    def no_quota(k: int) -> Reason:
        return Reason.QUOTA_EXHAUSTED if k == 1 else Reason.FAMILY_NO_JOINT_SEAT

    def by_lottery(self, quota_left: int) -> None:
        """Serial dictatorship in ranking order (the lottery orders each tie group)."""
        choices, accept_any, family = self.rules.choices, self.rules.accept_any, self.rules.family
        state, decided, schools = self.state, self.decided, self.schools
        rem, school, crank, admitted, placement = (
            state.remaining, state.school, state.choice_rank, state.admitted, state.placement
        )  # fmt: skip
        # (the codes as locals: an enum member lookup costs more than the placement)
        at_choice, at_any, no_quota = (
            Reason.ADMITTED_CHOICE, Reason.ADMITTED_ANY, Reason.QUOTA_EXHAUSTED
        )  # fmt: skip
        open_from, n_schools = 0, len(schools)
        for a in self.block:
            if a in decided:
                continue
            if family[a] is not None:
                members, joint = self.unit_of(a)
                decided.update(members)
                k = len(members)
                if quota_left < k:
                    self.fail(members, self.no_quota(k))
                    continue
                for s in joint:
                    if rem[s] >= k:
                        self.place(members, s, False)
                        quota_left -= k
                        break
                else:
                    self.fail(members, self.no_seat(k))
                continue
            # one applicant: the first listed school with a seat, else (服从调剂) any other
            if quota_left <= 0:
                placement[a] = no_quota
                continue
            for k, s in enumerate(choices[a]):
                if rem[s] > 0:
                    rem[s] -= 1
                    school[a], crank[a], admitted[a], placement[a] = s, k + 1, True, at_choice
                    quota_left -= 1
                    break
            else:
                if accept_any[a]:
                    listed = choices[a]
                    # seats only ever fill up: skip the zone's schools known to be full
                    while open_from < n_schools and rem[schools[open_from]] <= 0:
                        open_from += 1
                    for s in islice(schools, open_from, None):
                        if rem[s] > 0 and s not in listed:
                            rem[s] -= 1
                            school[a], admitted[a], placement[a] = s, True, at_any
                            quota_left -= 1
                            break

    def by_tie_groups(self, quota_left: int) -> None:
        """admit_all or reject_all: one tie group (equal points and keys) at a time."""
        block, levels = self.block, self.levels
        j = 0
        while j < len(block):
            g, end = levels[j], j
            while end < len(block) and levels[end] == g:
                end += 1
            units = self.units(block[j:end])
            j = end
            if self.rules.tie_policy == "admit_all":
                quota_left = self.admit_group(units, quota_left)
            else:
                quota_left = self.reject_group(units, g, quota_left)

    def admit_group(self, units, quota_left: int) -> int:
        """同分同落: a single applicant gets the first school that had a free seat when the tie
        group began (beyond its seats and the quota if need be); a family needs its seats now."""
        rem = self.state.remaining
        start: dict[int, int] = {}  # free seats per school when the group began
        quota_at_start = quota_left
        for members, joint in units:
            k = len(members)
            if quota_at_start <= 0 or (k > 1 and quota_left < k):
                self.fail(members, self.no_quota(k))
                continue
            for s in joint:
                free_at_start = start.setdefault(s, rem[s])
                if (k == 1 and free_at_start > 0) or (k > 1 and rem[s] >= k):
                    self.place(members, s, rem[s] < k or quota_left < k)
                    quota_left -= k
                    break
            else:
                self.fail(members, self.no_seat(k))
        return quota_left

    def reject_group(self, units, g: int, quota_left: int) -> int:
        """同分同不落: a school wanted by more of the tie group than it has seats closes to the
        group and everyone below; if the group needs more than the quota left, the zone does."""
        state = self.state
        if self.key in state.closed_zone or quota_left <= 0:
            why = Reason.TIE_REJECTED if self.key in state.closed_zone else Reason.QUOTA_EXHAUSTED
            for members, _ in units:
                self.fail(members, why)
            return quota_left
        rem, closed = state.remaining, state.closed_school
        while True:  # each unit's first open school with room; close the oversubscribed ones
            target, demand = [], {}
            for members, joint in units:
                k = len(members)
                t = next((s for s in joint if s not in closed and rem[s] >= k), -1)
                target.append(t)
                if t >= 0:
                    demand[t] = demand.get(t, 0) + k
            over = [s for s, d in demand.items() if d > rem[s]]
            if not over:
                break
            for s in over:
                closed[s] = g
        if sum(demand.values()) > quota_left:
            state.closed_zone[self.key] = g
            for members, _ in units:
                self.fail(members, Reason.TIE_REJECTED)
            return quota_left
        for (members, joint), t in zip(units, target, strict=True):
            if t >= 0:
                self.place(members, t, False)
                quota_left -= len(members)
            elif any(closed.get(s) == g for s in joint):
                self.fail(members, Reason.TIE_REJECTED)
            else:
                self.fail(members, self.no_seat(len(members)))
        return quota_left
