"""Classified management and zone ranking: quotas, household admission, school placement.

School placement within a zone is serial dictatorship in ranking order (积分优先、遵循志愿). All
schools of a zone rank applicants by the same zone ranking, so this equals student-proposing
deferred acceptance (the student-optimal stable assignment) under the zone quota; `da.py` holds
the general deferred acceptance used when priorities differ and as a cross-check.
"""

from __future__ import annotations

from itertools import islice
from types import SimpleNamespace

import numpy as np

from .applicants import choice_lists, take_choices
from .apportion import ApportionError, apportion
from .instance import Instance, InstanceError
from .outcome import Outcome
from .ranking import lottery_numbers, rank_order
from .reasons import Reason, settle
from .worker import Bulky, WorkerError


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


def allocate_outcome(inst: Instance, progress=None, worker=None) -> Outcome:
    """Quotas, ranking and placement. With a helper process (`worker`, see worker.py) and
    enough school applicants, the helper places about half of the school zones meanwhile
    (zones share no schools, applicants or quota, so the outcome is the same)."""
    n = inst.n
    out = Outcome(
        school=[-1] * n,  # lists while placing (fast item writes), numpy at the end
        admitted=[False] * n,
        choice_rank=[0] * n,
        zone_rank=np.zeros(n, dtype=np.int64),
        level=np.full(n, -1, dtype=np.int64),
        pos=np.full(n, -1, dtype=np.int64),
        placement=[Reason.BELOW_CUTOFF] * n,
        quotas={},
        remaining=inst.school_seats.tolist(),
    )
    idx_of = {a: i for i, a in enumerate(inst.ids)} if inst.vacancy else {}
    kept_school: dict[int, int] = {}
    if inst.vacancy:
        for aid, sid in inst.vacancy.get("admitted", {}).items():
            kept_school[idx_of[aid]] = inst.school_index[sid] if sid is not None else -1
        out.withdrawn = {idx_of[a] for a in inst.vacancy.get("withdrawn", [])}
        for w in out.withdrawn:
            kept_school.pop(w, None)
        out.kept = set(kept_school)
    lottery = inst.lottery if inst.lottery is not None else lottery_numbers(inst.seed, inst.ids)
    out.lottery = lottery
    nz = len(inst.zones)
    for i in np.nonzero(~inst.eligible)[0]:
        out.placement[i] = Reason.INELIGIBLE
    for w in out.withdrawn:
        out.placement[w] = Reason.WITHDRAWN
    # zone schools (sorted by id, which is the index order)
    for s in range(len(inst.schools)):
        out.zone_schools.setdefault((int(inst.school_cat[s]), int(inst.school_zone[s])), []).append(
            s
        )
    in_family = np.fromiter((f is not None for f in inst.family), dtype=bool, count=n)
    school_zones: list[tuple] = []  # (category, zone, applicants in order, levels, quota)
    for c, cat in enumerate(inst.categories):
        in_cat = inst.cat == c
        demand = np.bincount(inst.zone[in_cat & inst.eligible], minlength=nz)
        quotas = compute_quotas(inst, c, demand)
        out.quotas[cat["id"]] = {z["id"]: q for z, q in zip(inst.zones, quotas, strict=True)}
        for zi in range(nz):
            out.zone_quota[(c, zi)] = quotas[zi]
        ranked = in_cat & inst.eligible
        if out.withdrawn:
            wmask = np.zeros(n, dtype=bool)
            wmask[list(out.withdrawn)] = True
            ranked &= ~wmask
        idx = np.nonzero(ranked)[0]
        order, level = rank_order(idx, inst.zone, inst.points, inst.keys, lottery)
        out.pos[order] = np.arange(len(order))
        out.level[order] = level
        zsorted = inst.zone[order]
        bounds = np.searchsorted(zsorted, np.arange(nz + 1))
        for zi in range(nz):
            a0, a1 = int(bounds[zi]), int(bounds[zi + 1])
            out.zone_rank[order[a0:a1]] = np.arange(1, a1 - a0 + 1)
        if cat["kind"] == "school":
            _families(inst, c, order, out, in_family)
        for zi in range(nz):
            a0, a1 = int(bounds[zi]), int(bounds[zi + 1])
            if cat["kind"] == "household":
                block = order[a0:a1].tolist()
                lev = level[a0:a1].tolist()
                _household_zone(block, lev, quotas[zi], inst.tie_policy, kept_school, out, (c, zi))
                if progress is not None:
                    progress(1)
            else:
                school_zones.append((c, zi, order[a0:a1], level[a0:a1], quotas[zi]))
    mine, theirs = _share_zones(school_zones, worker)
    job = _submit_zones(worker, inst, out, theirs, kept_school, in_family) if theirs else None
    if job is None:
        mine, theirs = school_zones, []
    for c, zi, block, lev, quota in mine:
        _school_zone(inst, c, zi, block.tolist(), lev.tolist(), quota, kept_school, out)
        if progress is not None:
            progress(1)
    placed = None
    if job is not None:
        try:
            placed = job.result()
        except WorkerError:
            placed = None
        if placed is None:  # the helper failed: place its zones here
            for c, zi, block, lev, quota in theirs:
                _school_zone(inst, c, zi, block.tolist(), lev.tolist(), quota, kept_school, out)
    out.school = np.array(out.school, dtype=np.int64)
    out.admitted = np.array(out.admitted, dtype=bool)
    out.choice_rank = np.array(out.choice_rank, dtype=np.int64)
    if placed is not None:
        members, school, admitted, crank, reasons, remaining, closed_school, closed_zone = placed
        out.school[members] = school
        out.admitted[members] = admitted
        out.choice_rank[members] = crank
        for a, r in zip(members.tolist(), reasons, strict=True):
            out.placement[a] = r
        for s, left in remaining.items():
            out.remaining[s] = left
        out.closed_school.update(closed_school)
        out.closed_zone.update(closed_zone)
    if progress is not None:
        for _ in theirs:
            progress(1)
    out.reasons = settle(inst, out)
    return out


ZONES_IN_HELPER_MIN = 50_000  # school applicants: from here on the helper places some zones
ZONES_HELPER_SHARE = 0.42  # of those applicants


def _share_zones(zones: list, worker) -> tuple[list, list]:
    """Zones for this process and for the helper (ZONES_HELPER_SHARE of the applicants)."""
    total = sum(len(z[2]) for z in zones)
    if worker is None or worker.broken or total < ZONES_IN_HELPER_MIN:
        return zones, []
    load = [0, 0]
    sides: list[list] = [[], []]
    for z in sorted(zones, key=lambda z: (-len(z[2]), z[0], z[1])):
        # the helper also unpacks its part: give it a little less (measured at 1M)
        side = 0 if load[0] * ZONES_HELPER_SHARE <= load[1] * (1 - ZONES_HELPER_SHARE) else 1
        sides[side].append(z)
        load[side] += len(z[2])
    key = lambda z: (z[0], z[1])  # noqa: E731
    return sorted(sides[0], key=key), sorted(sides[1], key=key)


def _submit_zones(
    worker, inst: Instance, out: Outcome, zones: list, kept_school: dict, in_family: np.ndarray
):
    """Send the helper what placing `zones` reads; None if it cannot take the job."""
    members = np.concatenate([z[2] for z in zones])
    cs, mflat = take_choices(inst.choice_counts, inst.choice_flat, members)
    sent = np.zeros(inst.n, dtype=bool)
    sent[members] = True
    fam = {a: inst.family[a] for a in members[in_family[members]].tolist()}
    families = {k: v for k, v in out.families.items() if sent[v[0]]}
    zone_schools = {(c, zi): out.zone_schools.get((c, zi), []) for c, zi, *_ in zones}
    remaining = {s: out.remaining[s] for ss in zone_schools.values() for s in ss}
    kept = {a: s for a, s in kept_school.items() if sent[a]}
    try:
        return worker.submit(
            _place_in_helper, inst.n, inst.tie_policy, zones, members, cs, mflat, fam,
            families, zone_schools, remaining, kept, inst.accept_any, bulky=True,
        )  # fmt: skip
    except WorkerError:
        return None


def _place_in_helper(
    n, policy, zones, members, counts, flat, fam, families, zone_schools, remaining, kept, anyz
):
    """In the helper: _school_zone for `zones`; what it decided for their applicants."""
    choices: list[list[int]] = [[]] * n
    for a, ch in zip(members.tolist(), choice_lists(counts, flat), strict=True):
        choices[a] = ch
    family: list[str | None] = [None] * n
    for a, f in fam.items():
        family[a] = f
    inst = SimpleNamespace(choices=choices, accept_any=anyz, family=family, tie_policy=policy)
    rem = [0] * (max(remaining, default=-1) + 1)
    for s, left in remaining.items():
        rem[s] = left
    out = SimpleNamespace(
        school=[-1] * n, admitted=[False] * n, choice_rank=[0] * n,
        placement=[Reason.BELOW_CUTOFF] * n,
        remaining=rem, zone_schools=zone_schools, families=families, closed_zone={},
        closed_school={},
    )  # fmt: skip
    for c, zi, block, lev, quota in zones:
        _school_zone(inst, c, zi, block.tolist(), lev.tolist(), quota, kept, out)
    m = members.tolist()
    return Bulky(
        (
            members,
            np.array([out.school[a] for a in m], dtype=np.int64),
            np.array([out.admitted[a] for a in m], dtype=bool),
            np.array([out.choice_rank[a] for a in m], dtype=np.int64),
            [out.placement[a] for a in m],
            {s: rem[s] for s in remaining},
            out.closed_school,
            out.closed_zone,
        )
    )


def _families(inst: Instance, c: int, order: np.ndarray, out: Outcome, in_family: np.ndarray):
    """The families of category `c` with two or more ranked members, in ranking order (each in
    one zone: the instance says so)."""
    fams: dict[str, list[int]] = {}
    fam = inst.family
    for a in order[in_family[order]].tolist():  # ranking order, family members only
        fams.setdefault(fam[a], []).append(a)
    for f, members in sorted(fams.items()):
        if len(members) > 1:
            out.families[(c, f)] = members


def _household_zone(block, lev, quota, policy, kept_school, out: Outcome, key) -> None:
    kept = [a for a in block if a in kept_school]
    for a in kept:
        out.admitted[a] = True
        out.placement[a] = Reason.ADMITTED_KEPT
    rest = [a for a in block if a not in kept_school] if kept else block
    rlev = [lv for a, lv in zip(block, lev, strict=True) if a not in kept_school] if kept else lev
    ql = quota - len(kept)
    cut = max(0, min(ql, len(rest)))
    rejected_group = None
    if 0 < cut < len(rest) and rlev[cut - 1] == rlev[cut]:
        g = rlev[cut]
        if policy == "admit_all":
            while cut < len(rest) and rlev[cut] == g:
                cut += 1
        elif policy == "reject_all":
            while cut > 0 and rlev[cut - 1] == g:
                cut -= 1
            out.closed_zone[key] = g
            rejected_group = g
    admitted, placement = out.admitted, out.placement
    inside, beyond = Reason.ADMITTED, Reason.ADMITTED_TIE  # (locals: see _school_zone)
    for j, a in enumerate(rest):
        if j < cut:
            admitted[a] = True
            placement[a] = inside if j < ql else beyond
        elif rlev[j] == rejected_group:
            placement[a] = Reason.TIE_REJECTED
    # the others keep BELOW_CUTOFF: the quota went to applicants ranked above them


def _school_zone(inst: Instance, c: int, zi: int, block, lev, quota, kept_school, out) -> None:
    choices = inst.choices
    accept_any = inst.accept_any
    fam = inst.family
    policy = inst.tie_policy
    rem = out.remaining
    zschools = out.zone_schools.get((c, zi), [])
    decided = set()
    ql = quota
    school, crank, reason = out.school, out.choice_rank, out.placement
    for a in block:
        if a in kept_school:
            s = kept_school[a]
            decided.add(a)
            out.admitted[a] = True
            reason[a] = Reason.ADMITTED_KEPT
            if s >= 0:
                school[a] = s
                rem[s] -= 1
                ch = choices[a]
                crank[a] = ch.index(s) + 1 if s in ch else 0
            ql -= 1

    def ext(a):
        ch = choices[a]
        if accept_any[a]:
            cs = set(ch)
            return ch + [s for s in zschools if s not in cs]
        return ch

    def unit_of(a):
        f = fam[a]
        if f is not None and (c, f) in out.families:
            members = [m for m in out.families[(c, f)] if m not in decided]
            if len(members) > 1:
                others = [set(ext(m)) for m in members[1:]]
                lst = [s for s in ext(members[0]) if all(s in o for o in others)]
                return members, lst
        return [a], ext(a)

    def place(members, s, tie):
        for m in members:
            school[m] = s
            out.admitted[m] = True
            ch = choices[m]
            if s in ch:
                crank[m] = ch.index(s) + 1
                reason[m] = Reason.ADMITTED_CHOICE
            else:
                reason[m] = Reason.ADMITTED_ANY
            if tie:
                reason[m] = Reason.ADMITTED_TIE
            if len(members) > 1:
                reason[m] = Reason.ADMITTED_FAMILY
        rem[s] -= len(members)

    def fail(members, why):
        for m in members:
            reason[m] = why

    simple = policy == "lottery"
    # (the fast path's codes as locals: an enum member lookup costs more than the placement)
    at_choice, at_any, no_quota = (
        Reason.ADMITTED_CHOICE,
        Reason.ADMITTED_ANY,
        Reason.QUOTA_EXHAUSTED,
    )
    open_from, nzs = 0, len(zschools)
    nb = len(block)
    j = 0
    while j < nb:
        a = block[j]
        if simple:
            j += 1
            if a in decided:
                continue
            if fam[a] is None:  # fast path: one applicant
                if ql <= 0:
                    reason[a] = no_quota
                    continue
                for k, s in enumerate(choices[a]):
                    if rem[s] > 0:
                        rem[s] -= 1
                        school[a] = s
                        crank[a] = k + 1
                        out.admitted[a] = True
                        reason[a] = at_choice
                        ql -= 1
                        break
                else:
                    if accept_any[a]:
                        cs = choices[a]
                        # seats only ever fill up: skip the zone's schools known to be full
                        while open_from < nzs and rem[zschools[open_from]] <= 0:
                            open_from += 1
                        for s in islice(zschools, open_from, None):
                            if rem[s] > 0 and s not in cs:
                                rem[s] -= 1
                                school[a] = s
                                out.admitted[a] = True
                                reason[a] = at_any
                                ql -= 1
                                break
                continue
            members, lst = unit_of(a)
            decided.update(members)
            k = len(members)
            if ql < k:
                fail(members, Reason.QUOTA_EXHAUSTED if k == 1 else Reason.FAMILY_NO_JOINT_SEAT)
                continue
            for s in lst:
                if rem[s] >= k:
                    place(members, s, False)
                    ql -= k
                    break
            else:
                fail(members, Reason.BELOW_CUTOFF if k == 1 else Reason.FAMILY_NO_JOINT_SEAT)
            continue
        # admit_all / reject_all: one tie group at a time
        g = lev[j]
        j1 = j
        while j1 < nb and lev[j1] == g:
            j1 += 1
        units = []
        for a in block[j:j1]:
            if a in decided:
                continue
            members, lst = unit_of(a)
            decided.update(members)
            units.append((members, lst))
        j = j1
        zone_closed = (c, zi) in out.closed_zone
        if policy == "admit_all":
            start: dict[int, int] = {}
            ql0 = ql
            for members, lst in units:
                k = len(members)
                if ql0 <= 0 or (k > 1 and ql < k):
                    fail(members, Reason.QUOTA_EXHAUSTED if k == 1 else Reason.FAMILY_NO_JOINT_SEAT)
                    continue
                for s in lst:
                    r0 = start.setdefault(s, rem[s])
                    # 同分同落: a single applicant gets any school open when the tie group
                    # began; a family needs its seats now (no overflow for families)
                    if (k == 1 and r0 > 0) or (k > 1 and rem[s] >= k):
                        place(members, s, rem[s] < k or ql < k)
                        ql -= k
                        break
                else:
                    fail(members, Reason.BELOW_CUTOFF if k == 1 else Reason.FAMILY_NO_JOINT_SEAT)
            continue
        # reject_all
        if zone_closed or ql <= 0:
            for members, _ in units:
                fail(members, Reason.TIE_REJECTED if zone_closed else Reason.QUOTA_EXHAUSTED)
            continue
        closed = out.closed_school
        while True:
            target = []
            demand: dict[int, int] = {}
            for members, lst in units:
                k = len(members)
                t = -1
                for s in lst:
                    if s not in closed and rem[s] >= k:
                        t = s
                        break
                target.append(t)
                if t >= 0:
                    demand[t] = demand.get(t, 0) + k
            over = [s for s, d in demand.items() if d > rem[s]]
            if not over:
                break
            for s in over:
                closed[s] = g
        total = sum(demand.values())
        if total > ql:
            out.closed_zone[(c, zi)] = g
            for members, _ in units:
                fail(members, Reason.TIE_REJECTED)
            continue
        for (members, lst), t in zip(units, target, strict=True):
            if t >= 0:
                place(members, t, False)
                ql -= len(members)
            elif any(closed.get(s) == g for s in lst):
                fail(members, Reason.TIE_REJECTED)
            else:
                fail(
                    members,
                    Reason.BELOW_CUTOFF if len(members) == 1 else Reason.FAMILY_NO_JOINT_SEAT,
                )


allocate = allocate_outcome
