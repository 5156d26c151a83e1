"""Certificates computed on every run: capacity, quotas, blocking pairs, wasted seats.

Priority comparisons use the zone ranking: under `lottery` the full order (points, keys,
lottery); under `admit_all` and `reject_all` only points and keys (the tie group), because
there applicants tied on points and keys are treated alike.

* blocking pair (a, s): applicant a wanted school s more than what a got, and s admitted an
  applicant ranked below a (or s has a free seat but the zone quota went to someone ranked
  below a). For household categories s is null: someone ranked below a was admitted in a's
  zone. Pairs caused by a family placed together (a belongs to it, or the applicant below a
  does) are listed with `cause: "family"`; in a vacancy round, kept admissions are not
  reconsidered and pairs against them have `cause: "vacancy"`. Any other pair is a defect.
* wasted seat: a free seat at school s, inside the zone quota, that an applicant wanted more
  than what they got (families: only if the seats would hold the whole family), unless the
  `reject_all` tie policy closed s (or the zone) at or above that applicant's tie group.
"""

from __future__ import annotations

import numpy as np

from .applicants import take_choices
from .instance import Instance
from .outcome import Outcome, cells, choices_ahead, extended, last_by_group
from .reasons import Reason

NEVER = np.iinfo(np.int64).max  # the tie group at which a school or zone closes, if it never does


def certify(inst: Instance, out: Outcome) -> dict:
    """The checks of an outcome (the result's `checks`)."""
    seats = _Seats(inst, out)
    quota_sum_ok = _quotas_add_up(inst, out, seats.quota)
    claims = _Claims(inst, out, seats)
    claims.examine_listed_choices()
    claims.examine_other_schools()
    claims.examine_household_places()
    claims.examine_families()
    pair_list = [_pair_record(inst, out, claims, a, s) for a, s in claims.pairs()]
    unexplained = sum(1 for p in pair_list if p["cause"] is None)
    wasted = claims.wasted_seats()
    ok = seats.capacity_ok and seats.quota_ok and quota_sum_ok and unexplained == 0 and not wasted
    return {
        "capacity_ok": seats.capacity_ok,
        "quota_ok": seats.quota_ok,
        "quota_sum_ok": quota_sum_ok,
        "blocking_pairs": len(pair_list),
        "blocking_pairs_unexplained": unexplained,
        "blocking_pair_list": pair_list,
        "wasted_seats": wasted,
        "tie_overflow": int(seats.beyond.sum()),
        "seats_closed_by_tie_policy": sum(int(max(seats.free[s], 0)) for s in out.closed_school),
        "ok": ok,
    }


class _Seats:
    """Seats and quota places taken and left, per school and per (category, zone) cell; both
    may be exceeded only by the 同分同落 overflow (admitted_tie)."""

    def __init__(self, inst: Instance, out: Outcome):
        nz, n_cells = len(inst.zones), len(inst.categories) * len(inst.zones)
        self.cell = cells(inst)
        self.school_cell = inst.school_cat.astype(np.int64) * nz + inst.school_zone
        placed = out.school >= 0
        beyond = Reason.ADMITTED_TIE
        self.beyond = np.array([r == beyond for r in out.placement], dtype=bool).reshape(inst.n)
        taken = np.bincount(out.school[placed], minlength=len(inst.schools))
        taken_beyond = np.bincount(out.school[placed & self.beyond], minlength=len(inst.schools))
        self.capacity_ok = bool((taken <= inst.school_seats + taken_beyond).all())
        self.quota = np.array([out.zone_quota[divmod(k, nz)] for k in range(n_cells)], np.int64)
        in_cell = np.bincount(self.cell[out.admitted], minlength=n_cells)
        in_cell_beyond = np.bincount(self.cell[out.admitted & self.beyond], minlength=n_cells)
        self.quota_ok = bool((in_cell <= self.quota + in_cell_beyond).all())
        self.free = inst.school_seats - taken  # per school
        self.quota_left = self.quota - in_cell  # per cell


def _quotas_add_up(inst: Instance, out: Outcome, quota: np.ndarray) -> bool:
    """Every category's quotas add up to its total, each inside its bounds and its seats."""
    nz = len(inst.zones)
    for c, cat in enumerate(inst.categories):
        quotas = quota[c * nz : (c + 1) * nz]
        if int(quotas.sum()) != cat["total"]:
            return False
        for z, zone in enumerate(inst.zones):
            bounds = zone.get("bounds", {}).get(cat["id"])
            if bounds and not (bounds[0] <= quotas[z] <= bounds[1]):
                return False
            schools = out.zone_schools.get((c, z), [])
            if cat["kind"] == "school" and quotas[z] > int(inst.school_seats[schools].sum()):
                return False
    return True


class _Claims:
    """Who may claim which place, and the claims the outcome leaves unmet: blocking pairs
    (the place went to someone ranked below) and waste (a free place inside the quota).

    A school with a free seat can be claimed against the zone's quota (the last admitted in
    the zone); a full school against its own last admitted. reject_all closures hold for the
    closing tie group and everyone ranked below it."""

    def __init__(self, inst: Instance, out: Outcome, seats: _Seats):
        self.inst, self.out, self.seats = inst, out, seats
        # the comparison: the full ranking, or only the tie groups where ties are kept whole
        self.rank = out.level if inst.tie_policy != "lottery" else out.pos
        n_cells = len(seats.quota)
        ranked_in = np.nonzero(out.admitted & (out.pos >= 0))[0]
        at_school = ranked_in[out.school[ranked_in] >= 0]
        worst_at = last_by_group(at_school, out.school, len(inst.schools), self.rank)
        self.worst_in_cell = last_by_group(ranked_in, seats.cell, n_cells, self.rank)
        free, cell_of = seats.free > 0, seats.school_cell
        # per school: who holds the place a claim is against, and whether a seat is open
        self.holder = np.where(free, self.worst_in_cell[cell_of], worst_at)
        self.open = free & (seats.quota_left[cell_of] > 0)
        self.closed_at_school = np.full(len(inst.schools), NEVER, dtype=np.int64)
        for s, g in out.closed_school.items():
            self.closed_at_school[s] = g
        self.closed_at_cell = np.full(n_cells, NEVER, dtype=np.int64)
        for (c, z), g in out.closed_zone.items():
            self.closed_at_cell[c * len(inst.zones) + z] = g
        self.in_family = np.zeros(inst.n, dtype=bool)
        for members in out.families.values():
            self.in_family[members] = True
        self._pairs: list[tuple[np.ndarray, np.ndarray]] = []  # (applicants, schools or -1)
        self._waste: list[tuple[np.ndarray, np.ndarray]] = []

    def rank_of(self, applicants: np.ndarray) -> np.ndarray:
        """The rank of `applicants` (-1: nobody), for comparisons: nobody ranks above all."""
        return np.where(applicants >= 0, self.rank[np.maximum(applicants, 0)], -1)

    def examine(self, a: np.ndarray, s: np.ndarray) -> None:
        """Claims of applicants `a` to schools `s` they wanted more than their outcome."""
        if not len(a):
            return
        level, cell = self.out.level, self.seats.cell
        allowed = (level[a] < self.closed_at_school[s]) & (level[a] < self.closed_at_cell[cell[a]])
        blocked = (self.rank[a] < self.rank_of(self.holder[s])) & ~self.open[s] & allowed
        self._pairs.append((a[blocked], s[blocked]))
        wasted = self.open[s] & allowed & ~self.in_family[a]  # (families: examine_families)
        self._waste.append((a[wasted], s[wasted]))

    def examine_listed_choices(self) -> None:
        a, at = choices_ahead(self.inst, self.out)
        self.examine(a, self.inst.choice_flat[at])

    def examine_other_schools(self) -> None:
        """服从调剂: the zone's schools not listed, in id order, ahead of the outcome."""
        inst, out = self.inst, self.out
        kept = np.zeros(inst.n, dtype=bool)
        kept[list(out.kept)] = True
        rows = np.nonzero((out.pos >= 0) & ~kept & inst.accept_any & (out.choice_rank == 0))[0]
        if not len(rows):
            return
        cell = self.seats.cell[rows]
        apps, schools = [], []
        for k in np.unique(cell).tolist():
            zone_schools = np.array(out.zone_schools.get(divmod(k, len(inst.zones)), []), np.int64)
            members = rows[cell == k]
            apps.append(np.repeat(members, len(zone_schools)))
            schools.append(np.tile(zone_schools, len(members)))
        a, s = np.concatenate(apps), np.concatenate(schools)
        got = out.school[a]
        ahead = (got < 0) | (s < got)
        # not listed: (applicant, school) keys looked up among the listed ones, sorted
        counts, flat = take_choices(inst.choice_counts, inst.choice_flat, rows)
        width = len(inst.schools) + 1
        listed = np.sort(np.repeat(rows, counts) * width + flat)
        if len(listed):
            key = a * width + s
            ahead &= listed[np.minimum(np.searchsorted(listed, key), len(listed) - 1)] != key
        self.examine(a[ahead], s[ahead])

    def examine_household_places(self) -> None:
        inst, out, seats = self.inst, self.out, self.seats
        household = np.array([c["kind"] == "household" for c in inst.categories], dtype=bool)
        a = np.nonzero((out.pos >= 0) & ~out.admitted & household[inst.cat])[0]
        cell = seats.cell[a]
        blocked = self.rank[a] < self.rank_of(self.worst_in_cell[cell])
        self._pairs.append((a[blocked], np.full(int(blocked.sum()), -1, dtype=np.int64)))
        wasted = (seats.quota_left[cell] > 0) & (out.level[a] < self.closed_at_cell[cell])
        self._waste.append((a[wasted], np.full(int(wasted.sum()), -1, dtype=np.int64)))

    def examine_families(self) -> None:
        """A family wastes the seats of a school its leader wanted more, that every member
        accepts, if they would have held all of it inside the quota and were not closed."""
        inst, out, seats = self.inst, self.out, self.seats
        leaders, schools = [], []
        for (c, _), members in out.families.items():
            lead = members[0]  # best ranked: the family's order is the leader's
            if any(m in out.kept for m in members) or out.choice_rank[lead] == 1:
                continue  # (kept, or at the first choice: nothing better to waste)
            zone_schools = out.zone_schools.get((c, int(inst.zone[lead])), [])
            accepted = [
                set(extended(inst.choices[m], inst.accept_any[m], zone_schools)) for m in members
            ]
            joint = [
                s
                for s in extended(inst.choices[lead], inst.accept_any[lead], zone_schools)
                if all(s in x for x in accepted)
            ]
            k, got, cell = len(members), int(out.school[lead]), seats.cell[lead]
            for s in joint:
                if s == got:
                    break
                if (
                    seats.free[s] >= k
                    and seats.quota_left[seats.school_cell[s]] >= k
                    and out.level[lead] < self.closed_at_school[s]
                    and out.level[lead] < self.closed_at_cell[cell]
                ):
                    leaders.append(lead)
                    schools.append(s)
        self._waste.append((np.array(leaders, np.int64), np.array(schools, np.int64)))

    def pairs(self) -> list[tuple[int, int]]:
        """The blocking pairs (applicant, school or -1), sorted."""
        a = np.concatenate([p[0] for p in self._pairs]) if self._pairs else np.zeros(0, np.int64)
        s = np.concatenate([p[1] for p in self._pairs]) if self._pairs else np.zeros(0, np.int64)
        return sorted(zip(a.tolist(), s.tolist(), strict=True))

    def ranked_below(self, a: int, s: int) -> int:
        """The admitted applicant ranked below `a` whom the pair (a, s) is against."""
        return int(self.holder[s]) if s >= 0 else int(self.worst_in_cell[self.seats.cell[a]])

    def wasted_seats(self) -> int:
        """The free places of the schools (and household zones) some claim found open."""
        seats = self.seats
        a = np.concatenate([w[0] for w in self._waste])
        s = np.concatenate([w[1] for w in self._waste])
        wasted = sum(
            int(min(seats.free[x], seats.quota_left[seats.school_cell[x]]))
            for x in sorted(set(s[s >= 0].tolist()))
        )
        return wasted + sum(int(seats.quota_left[k]) for k in set(seats.cell[a[s < 0]].tolist()))


def _pair_record(inst: Instance, out: Outcome, claims: _Claims, a: int, s: int) -> dict:
    below = claims.ranked_below(a, s)
    cause, family = None, None
    if claims.in_family[a]:
        cause, family = "family", inst.family[a]
    elif below >= 0 and claims.in_family[below]:
        cause, family = "family", inst.family[below]
    elif below >= 0 and below in out.kept:
        cause = "vacancy"
    return {
        "applicant": inst.ids[a],
        "school": inst.schools[s]["id"] if s >= 0 else None,
        "category": inst.categories[int(inst.cat[a])]["id"],
        "zone": inst.zones[int(inst.zone[a])]["id"],
        "ranked_below": inst.ids[below] if below >= 0 else None,
        "cause": cause,
        "family": family,
    }
