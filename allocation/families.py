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
from .outcome import Outcome, extended
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
    schools = out.zone_schools.get((c, z), [])
    ranked = np.nonzero((inst.cat == c) & (inst.zone == z) & (out.pos >= 0))[0]
    if len(ranked) > MAX_MEMBERS:
        return False
    pairs = sum(len(inst.choices[a]) for a in ranked.tolist())
    if pairs + int(inst.accept_any[ranked].sum()) * len(schools) > MAX_LITERALS:  # upper bound
        return False
    from ortools.sat.python import cp_model  # heavy import (~2 s): only when needed

    model = _ZoneModel(inst, out, c, z, schools, cp_model)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_deterministic_time = 1.0
    if solver.solve(model.model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False
    model.write_back(solver)
    return True


class _ZoneModel:
    """The CP-SAT model of one zone (see the module's docstring), built step by step in a fixed
    order (the order is part of what makes the answer reproducible)."""

    def __init__(self, inst: Instance, out: Outcome, c: int, z: int, schools: list[int], cp):
        self.inst, self.out, self.schools, self.cp = inst, out, schools, cp
        self.model = cp.CpModel()
        members = [a for a in np.nonzero((inst.cat == c) & (inst.zone == z) & (out.pos >= 0))[0]
                   .tolist() if a not in out.kept]  # fmt: skip
        members.sort(key=lambda a: out.pos[a])
        self.members = members  # re-solved: ranked, not kept, in ranking order
        self.lists = {a: extended(inst.choices[a], inst.accept_any[a], schools) for a in members}
        kept_at: dict[int, int] = {}
        kept_here = 0
        for a in out.kept:
            if inst.cat[a] == c and inst.zone[a] == z:
                kept_here += 1
                if out.school[a] >= 0:
                    kept_at[int(out.school[a])] = kept_at.get(int(out.school[a]), 0) + 1
        self.room = {s: int(inst.school_seats[s]) - kept_at.get(s, 0) for s in schools}
        self.quota = out.zone_quota[(c, z)] - kept_here
        self.families = self._families(c)
        self.in_family = {a for mem in self.families for a in mem}
        self._variables()
        self._seats_and_quota()
        self._families_together()
        self._points_first()
        self._counts_in_ranking_order()
        envies = self._envy_and_waste()
        self._family_waste()
        self._objective(envies)

    def _families(self, c: int) -> list[list[int]]:
        """The families of two or more members re-solved, each in ranking order."""
        units: dict[str, list[int]] = {}
        for a in self.members:
            f = self.inst.family[a]
            if f is not None and (c, f) in self.out.families:
                units.setdefault(f, []).append(a)
        return [mem for mem in units.values() if len(mem) >= 2]

    def _variables(self) -> None:
        """takes[a, s]: a is placed at s, for every s on a's list; at most one."""
        m, self.takes = self.model, {}
        for a in self.members:
            for s in self.lists[a]:
                self.takes[a, s] = m.new_bool_var(f"x{a}_{s}")
            m.add_at_most_one(self.takes[a, s] for s in self.lists[a])
        self.wanting = {s: [] for s in self.schools}  # per school, in ranking order
        for a in self.members:
            for s in self.lists[a]:
                self.wanting[s].append(a)

    def _seats_and_quota(self) -> None:
        m, takes = self.model, self.takes
        self.count = {s: sum(takes[a, s] for a in self.wanting[s]) for s in self.schools}
        for s in self.schools:
            m.add(self.count[s] <= max(self.room[s], 0))
        self.placed = {a: sum(takes[a, s] for s in self.lists[a]) for a in self.members}
        self.total = sum(self.placed.values())
        m.add(self.total <= max(self.quota, 0))

    def _families_together(self) -> None:
        """A family takes the same school for every member, one all of them list, or none."""
        m, takes = self.model, self.takes
        for mem in self.families:
            sets = [set(self.lists[a]) for a in mem]
            for a in mem:
                for s in self.lists[a]:
                    if not all(s in st for st in sets):
                        m.add(takes[a, s] == 0)
            for s in set.intersection(*sets):
                for a in mem[1:]:
                    m.add(takes[a, s] == takes[mem[0], s])

    def _points_first(self) -> None:
        """Nobody outside a family ends up worse than the greedy rule placed them."""
        for a in self.members:
            greedy = int(self.out.school[a])
            if a not in self.in_family and greedy >= 0:
                upto = self.lists[a][: self.lists[a].index(greedy) + 1]
                self.model.add(sum(self.takes[a, t] for t in upto) == 1)

    def _counts_in_ranking_order(self) -> None:
        """Prefix counts (a model of linear size): before[i], placed among the first i members;
        at_school[s][j], placed at s among the first j applicants listing s."""
        m = self.model
        self.before = [0]
        for i, a in enumerate(self.members):
            v = m.new_int_var(0, i + 1, f"P{i}")
            m.add(v == self.before[-1] + self.placed[a])
            self.before.append(v)
        self.at_school, self.rank_at = {}, {}
        for s in self.schools:
            chain = [0]
            for j, a in enumerate(self.wanting[s]):
                v = m.new_int_var(0, j + 1, f"C{s}_{j}")
                m.add(v == chain[-1] + self.takes[a, s])
                chain.append(v)
                self.rank_at[(a, s)] = j
            self.at_school[s] = chain
        self.full = {}
        for s in self.schools:
            self.full[s] = m.new_bool_var(f"full{s}")
            m.add(self.count[s] >= max(self.room[s], 0)).only_enforce_if(self.full[s])
        self.zone_full = m.new_bool_var("zone_full")
        m.add(self.total >= max(self.quota, 0)).only_enforce_if(self.zone_full)

    def _envy_and_waste(self) -> list:
        """No wasted seat for one applicant (hard); justified envy soft: the envy flags."""
        m, takes, envies = self.model, self.takes, []
        quota = max(self.quota, 0)
        for i, a in enumerate(self.members):
            quota_above = m.new_bool_var(f"qb{a}")  # the quota went to applicants ranked above
            m.add(self.before[i] >= quota).only_enforce_if(quota_above)
            for k, s in enumerate(self.lists[a]):
                upto = sum(takes[a, t] for t in self.lists[a][: k + 1])
                if a not in self.in_family:  # non-wastefulness, hard
                    m.add(upto + self.full[s] + self.zone_full >= 1)
                full_above = m.new_bool_var("")  # s is full with applicants ranked above a
                filled = self.at_school[s][self.rank_at[(a, s)]]
                m.add(filled >= max(self.room[s], 0)).only_enforce_if(full_above)
                envy = m.new_bool_var("")
                m.add(upto + full_above + quota_above + envy >= 1)
                envies.append(envy)
        return envies

    def _family_waste(self) -> None:
        """No wasted seats for a family either, in its leader's order, counting its seats."""
        m = self.model
        for mem in self.families:
            need, lead = len(mem), mem[0]
            joint = [s for s in self.lists[lead] if all(s in self.lists[a] for a in mem)]
            for j, s in enumerate(joint):
                upto = sum(self.takes[lead, t] for t in joint[: j + 1])
                no_fit = m.new_bool_var("")
                m.add(self.count[s] >= self.room[s] - need + 1).only_enforce_if(no_fit)
                no_quota = m.new_bool_var("")
                m.add(self.total >= self.quota - need + 1).only_enforce_if(no_quota)
                m.add(upto + no_fit + no_quota >= 1)

    def _objective(self, envies: list) -> None:
        """Fewest blocking pairs, then the smallest total choice rank (the greedy answer as
        hint)."""
        m, takes = self.model, self.takes
        longest = max((len(v) for v in self.lists.values()), default=0) + 1
        rank_cost = [
            (k + 1 - longest) * takes[a, s]
            for a in self.members
            for k, s in enumerate(self.lists[a])
        ]
        weight = len(self.members) * longest + 1
        m.minimize(weight * sum(envies) + sum(rank_cost))
        for a in self.members:
            for s in self.lists[a]:
                m.add_hint(takes[a, s], int(self.out.school[a]) == s)

    def write_back(self, solver) -> None:
        """The solver's placement into the outcome (and what placement records for it)."""
        inst, out = self.inst, self.out
        for a in self.members:
            got = -1
            for s in self.lists[a]:
                if solver.value(self.takes[a, s]):
                    got = s
            listed = inst.choices[a]
            out.school[a] = got
            out.admitted[a] = got >= 0
            out.choice_rank[a] = listed.index(got) + 1 if got in listed else 0
            if got >= 0:
                if a in self.in_family:
                    out.placement[a] = Reason.ADMITTED_FAMILY
                else:
                    out.placement[a] = (
                        Reason.ADMITTED_CHOICE if got in listed else Reason.ADMITTED_ANY
                    )
            elif out.placement[a].admits:
                out.placement[a] = (
                    Reason.FAMILY_NO_JOINT_SEAT if a in self.in_family else Reason.BELOW_CUTOFF
                )
