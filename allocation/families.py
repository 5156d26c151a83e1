"""Families placed together, per zone with CP-SAT (only zones where families force blocking pairs).

The greedy rule in engine.py places a family at the turn of its best-ranked member. Where that
creates blocking pairs in a zone, and the zone is small enough (at most `MAX_LITERALS`
applicant-school pairs), the zone is re-solved with an OR-Tools CP-SAT model:

* x[a, s] for every school s on a's extended list; each applicant at most one school;
* seats per school and the zone quota (less what a vacancy round keeps);
* a family takes the same school for every member, or no school;
* no wasted seat (hard): a single applicant is placed at s or better, or s is full, or the
  zone quota is used up; a family likewise, counting the seats it needs, in its leader's order;
* points first (hard): an applicant outside a family gets the greedy school or a better one,
  so a family can never push out someone the points ranking placed;
* justified envy is soft: b[a, s] = 1 when a wanted s and s is full with someone ranked below
  a (or the quota went to someone ranked below a);
* objective, lexicographic: fewest blocking pairs, then the smallest total choice rank
  (unplaced counts as the longest list + 1).

The model is built in sorted order and solved with one worker, seed 0 and a deterministic
time limit, with the greedy answer as hint, so the same instance always gives the same answer;
when two placements tie on both objectives, the one CP-SAT finds first is kept (not unique
in theory, reproducible in practice). If the solver finds no solution, greedy stays.

Zones under `admit_all` or `reject_all`, and larger zones, keep the greedy placement; the
result's manifest says which zones were re-solved.
"""

from __future__ import annotations

import numpy as np

from .instance import Instance
from .outcome import Outcome
from .reasons import Reason, settle

MAX_LITERALS = 1500
MAX_MEMBERS = 2000


def refine(inst: Instance, out: Outcome, pairs: list[dict]) -> list[str]:
    """Re-solve the zones where families caused blocking `pairs` (checks.blocking_pair_list)
    and settle the reasons again if any was; the zones re-solved, as "category/zone"."""
    refined = []
    for c, z in zones_to_refine(inst, out, pairs):
        if refine_zone(inst, out, c, z):
            refined.append(f"{inst.categories[c]['id']}/{inst.zones[z]['id']}")
    if refined:
        out.reasons = settle(inst, out)
    return refined


def zones_to_refine(inst: Instance, out: Outcome, pairs: list[dict]) -> list[tuple[int, int]]:
    if inst.tie_policy != "lottery":
        return []
    keys = set()
    for p in pairs:
        if p["cause"] == "family":
            keys.add((inst.cat_index[p["category"]], inst.zone_index[p["zone"]]))
    return sorted(keys)


def refine_zone(inst: Instance, out: Outcome, c: int, z: int) -> bool:
    """Re-solve one zone; True if the model was built and the outcome updated."""
    zs = out.zone_schools.get((c, z), [])
    sel = np.nonzero((inst.cat == c) & (inst.zone == z) & (out.pos >= 0))[0]
    if len(sel) > MAX_MEMBERS:
        return False
    size = sum(len(inst.choices[a]) for a in sel.tolist())
    if size + int(inst.accept_any[sel].sum()) * len(zs) > MAX_LITERALS:  # upper bound
        return False
    from ortools.sat.python import cp_model  # heavy import (~2 s): only when needed

    members = [a for a in sel.tolist() if a not in out.kept]
    members.sort(key=lambda a: out.pos[a])
    ext = {}
    for a in members:
        ch = inst.choices[a]
        ext[a] = list(ch) + ([s for s in zs if s not in ch] if inst.accept_any[a] else [])
    kept_at: dict[int, int] = {}
    kept_n = 0
    for a in out.kept:
        if inst.cat[a] == c and inst.zone[a] == z:
            kept_n += 1
            if out.school[a] >= 0:
                kept_at[int(out.school[a])] = kept_at.get(int(out.school[a]), 0) + 1
    cap = {s: int(inst.school_seats[s]) - kept_at.get(s, 0) for s in zs}
    Q = out.zone_quota[(c, z)] - kept_n
    m = cp_model.CpModel()
    x = {}
    for a in members:
        for s in ext[a]:
            x[a, s] = m.new_bool_var(f"x{a}_{s}")
        m.add_at_most_one(x[a, s] for s in ext[a])
    by_school: dict[int, list[int]] = {s: [] for s in zs}
    for a in members:
        for s in ext[a]:
            by_school[s].append(a)
    count = {s: sum(x[a, s] for a in by_school[s]) for s in zs}
    for s in zs:
        m.add(count[s] <= max(cap[s], 0))
    placed = {a: sum(x[a, s] for s in ext[a]) for a in members}
    total = sum(placed.values())
    m.add(total <= max(Q, 0))
    # families
    fam_units: dict[str, list[int]] = {}
    for a in members:
        f = inst.family[a]
        if f is not None and (c, f) in out.families:
            fam_units.setdefault(f, []).append(a)
    in_family = set()
    for mem in fam_units.values():
        if len(mem) < 2:
            continue
        in_family.update(mem)
        sets = [set(ext[a]) for a in mem]
        for a in mem:
            for s in ext[a]:
                if not all(s in st for st in sets):
                    m.add(x[a, s] == 0)
        for s in set.intersection(*sets):
            for a in mem[1:]:
                m.add(x[a, s] == x[mem[0], s])
    # points first: no applicant outside a family ends up worse than under the greedy rule
    for a in members:
        g = int(out.school[a])
        if a not in in_family and g >= 0:
            gk = ext[a].index(g)
            m.add(sum(x[a, t] for t in ext[a][: gk + 1]) == 1)
    # prefix counts in ranking order (linear-size model): before[i] = placed among the first i
    # members; at_s[s][j] = admitted at s among the first j applicants listing s
    index = {a: i for i, a in enumerate(members)}
    before = [0]
    for i, a in enumerate(members):
        v = m.new_int_var(0, i + 1, f"P{i}")
        m.add(v == before[-1] + placed[a])
        before.append(v)
    at_s: dict[int, list] = {}
    pos_in_s: dict[tuple[int, int], int] = {}
    for s in zs:
        chain = [0]
        for j, a in enumerate(by_school[s]):  # by_school is in ranking order
            v = m.new_int_var(0, j + 1, f"C{s}_{j}")
            m.add(v == chain[-1] + x[a, s])
            chain.append(v)
            pos_in_s[(a, s)] = j
        at_s[s] = chain
    full = {}
    for s in zs:
        full[s] = m.new_bool_var(f"full{s}")
        m.add(count[s] >= max(cap[s], 0)).only_enforce_if(full[s])
    zone_full = m.new_bool_var("zone_full")
    m.add(total >= max(Q, 0)).only_enforce_if(zone_full)
    blocks = []
    for a in members:
        i = index[a]
        qb = m.new_bool_var(f"qb{a}")  # the quota went to applicants ranked above a
        m.add(before[i] >= max(Q, 0)).only_enforce_if(qb)
        for k, s in enumerate(ext[a]):
            upto = sum(x[a, t] for t in ext[a][: k + 1])
            if a not in in_family:  # non-wastefulness, hard
                m.add(upto + full[s] + zone_full >= 1)
            fb = m.new_bool_var("")  # s is full with applicants ranked above a
            m.add(at_s[s][pos_in_s[(a, s)]] >= max(cap[s], 0)).only_enforce_if(fb)
            b = m.new_bool_var("")
            m.add(upto + fb + qb + b >= 1)
            blocks.append(b)
    # family non-wastefulness in the leader's order
    for mem in fam_units.values():
        if len(mem) < 2:
            continue
        k_need = len(mem)
        lead = mem[0]
        joint = [s for s in ext[lead] if all(s in ext[a] for a in mem)]
        for j, s in enumerate(joint):
            upto = sum(x[lead, t] for t in joint[: j + 1])
            nofit = m.new_bool_var("")
            m.add(count[s] >= cap[s] - k_need + 1).only_enforce_if(nofit)
            noq = m.new_bool_var("")
            m.add(total >= Q - k_need + 1).only_enforce_if(noq)
            m.add(upto + nofit + noq >= 1)
    L = max((len(v) for v in ext.values()), default=0) + 1
    rank_cost = []
    for a in members:
        for k, s in enumerate(ext[a]):
            rank_cost.append((k + 1 - L) * x[a, s])
    n_m = len(members)
    big = n_m * L + 1
    m.minimize(big * sum(blocks) + sum(rank_cost))
    for a in members:
        for s in ext[a]:
            m.add_hint(x[a, s], int(out.school[a]) == s)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_deterministic_time = 1.0
    st = solver.solve(m)
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False
    for a in members:
        got = -1
        for s in ext[a]:
            if solver.value(x[a, s]):
                got = s
        ch = inst.choices[a]
        out.school[a] = got
        out.admitted[a] = got >= 0
        out.choice_rank[a] = ch.index(got) + 1 if got in ch else 0
        if got >= 0:
            if a in in_family:
                out.placement[a] = Reason.ADMITTED_FAMILY
            else:
                out.placement[a] = Reason.ADMITTED_CHOICE if got in ch else Reason.ADMITTED_ANY
        elif out.placement[a].admits:
            out.placement[a] = (
                Reason.FAMILY_NO_JOINT_SEAT if a in in_family else Reason.BELOW_CUTOFF
            )
    return True
