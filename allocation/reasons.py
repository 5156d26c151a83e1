"""Why each applicant got what they got: the public reason codes, decided in one place.

Placement records, at each applicant's turn, what it did (`Outcome.placement`): the kind of
admission, or why nobody could be placed: the wanted seats were taken (`BELOW_CUTOFF`), the
zone quota was used up, the tie group was rejected (同分同不落), the family had no joint seat.
Once the outcome is final, `settle` compares every applicant with the last admitted applicant
of each school they wanted ahead of their outcome (for household places: of their zone): that
gives a `Miss` per wanted school, and with the placement record, the public `Reason`. The
explanations quote the misses; nothing else decides a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

import numpy as np

from .instance import Instance
from .outcome import Outcome, cells, choices_ahead, last_admitted


class Reason(StrEnum):
    """The public reason code of an assignment (docs/allocation.md, "Format additions")."""

    ADMITTED = "admitted"  # household: inside the zone quota
    ADMITTED_CHOICE = "admitted_choice"  # at a listed school
    ADMITTED_ANY = "admitted_any"  # 服从调剂: at a school of the zone that was not listed
    ADMITTED_FAMILY = "admitted_family"  # at one school with the rest of the family
    ADMITTED_TIE = "admitted_tie"  # 同分同落: beyond the quota or the seats, with the tie group
    ADMITTED_KEPT = "admitted_kept"  # vacancy round: kept from the previous round
    BELOW_CUTOFF = "below_cutoff"  # the places went to applicants ranked above
    LOST_LOTTERY = "lost_lottery"  # equal points and keys with the last admitted: the lottery
    TIE_REJECTED = "tie_rejected"  # 同分同不落: the tie group did not fit
    QUOTA_EXHAUSTED = "quota_exhausted"  # a wanted school had seats, the zone quota was used up
    FAMILY_NO_JOINT_SEAT = "family_no_joint_seat"
    NO_CHOICES = "no_choices"  # no school listed and no 服从调剂
    INELIGIBLE = "ineligible"
    WITHDRAWN = "withdrawn"  # vacancy round

    @property
    def admits(self) -> bool:
        return self.startswith("admitted")


class Miss(IntEnum):
    """Why a wanted school (household: the zone quota) did not take the applicant, from the
    last applicant it admitted (the cut-off)."""

    NO_SEATS = 0  # nobody admitted and no free seat
    QUOTA_USED = 1  # a free seat, but the zone quota went to applicants ranked above
    POINTS_SHORT = 2  # fewer points than the cut-off
    KEY_SHORT = 3  # equal points, a smaller tie-break key
    LOST_LOTTERY = 4  # equal points and keys, ranked below by the lottery
    TIE_REJECTED = 5  # equal points and keys, not ranked below by the lottery: 同分同不落
    FAMILY = 6  # ranked above the cut-off: the last seats went to a family ranked below


@dataclass
class Reasons:
    """The public reasons of an outcome, and what they were decided from (for the explanations)."""

    code: list[Reason]  # per applicant
    last_at_school: np.ndarray  # per school: the last admitted applicant (ranking order), -1
    last_in_zone: np.ndarray  # per (category, zone), index c * zones + z: likewise
    miss_at_choice: np.ndarray  # int8 per listed choice (Instance.choice_flat): a Miss, or -1
    miss_in_zone: np.ndarray  # int8 per applicant: household applicants not admitted, or -1


def settle(inst: Instance, out: Outcome) -> Reasons:
    """The public reason of every applicant, from the final outcome."""
    last_s, last_z = last_admitted(inst, out)
    pair_a, pair_at, pair_miss = _choice_misses(inst, out, last_s)
    miss_at_choice = np.full(len(inst.choice_flat), -1, dtype=np.int8)
    miss_at_choice[pair_at] = pair_miss
    unplaced = np.nonzero((out.pos >= 0) & ~out.admitted)[0]
    seen = np.fromiter(map(_SEEN.index, map(out.placement.__getitem__, unplaced.tolist())),
                       dtype=np.int8, count=len(unplaced))  # fmt: skip
    household = np.array([c["kind"] == "household" for c in inst.categories], dtype=bool)
    in_household = household[inst.cat[unplaced]]
    # household applicants not admitted miss the zone's quota, unless their tie group did
    in_zone = unplaced[in_household & (seen != _SEEN.index(Reason.TIE_REJECTED))]
    cell = cells(inst)[in_zone]
    miss_in_zone = np.full(inst.n, -1, dtype=np.int8)
    miss_in_zone[in_zone] = _misses(inst, out, in_zone, last_z[cell], np.zeros(len(cell), bool))

    def missed(kind: Miss) -> np.ndarray:  # per unplaced applicant: a wanted school missed so
        flags = np.zeros(inst.n, dtype=bool)
        flags[pair_a[pair_miss == kind]] = True
        return flags[unplaced]

    quota, tie, lottery = map(missed, (Miss.QUOTA_USED, Miss.TIE_REJECTED, Miss.LOST_LOTTERY))
    listed = inst.choice_counts[unplaced] > 0
    settled = _settled(seen, in_household, miss_in_zone[unplaced], listed,
                       inst.accept_any[unplaced], quota, tie, lottery)  # fmt: skip
    code = list(out.placement)
    for a, r in zip(unplaced.tolist(), map(_ORDER.__getitem__, settled.tolist()), strict=True):
        code[a] = r
    return Reasons(code, last_s, last_z, miss_at_choice, miss_in_zone)


def _choice_misses(inst: Instance, out: Outcome, last_s: np.ndarray):
    """(applicant, index in Instance.choice_flat, Miss) of every listed choice ahead of the
    outcome (outcome.choices_ahead)."""
    pair_a, pair_at = choices_ahead(inst, out)
    pair_s = inst.choice_flat[pair_at]
    taken = np.bincount(out.school[out.school >= 0], minlength=len(inst.schools))
    free = taken < inst.school_seats
    return pair_a, pair_at, _misses(inst, out, pair_a, last_s[pair_s], free[pair_s])


# what placement records for an applicant it did not place
_SEEN = (
    Reason.BELOW_CUTOFF,
    Reason.QUOTA_EXHAUSTED,
    Reason.TIE_REJECTED,
    Reason.FAMILY_NO_JOINT_SEAT,
)
_ORDER = tuple(Reason)


def _settled(seen, household, zone_miss, listed, accept_any, quota, tie, lottery) -> np.ndarray:
    """The public reason (index in _ORDER) of applicants not placed, from what placement saw
    (index in _SEEN), their household miss, whether they listed a school or accept any, and
    whether a school they wanted was missed for the zone quota, a tie group or the lottery."""
    seen_as = {r: seen == _SEEN.index(r) for r in _SEEN}
    by_zone = np.array([_ORDER.index(_HOUSEHOLD[m]) for m in Miss])[np.maximum(zone_miss, 0)]
    quota_used = quota | (seen_as[Reason.QUOTA_EXHAUSTED] & (~listed | accept_any))
    rules = [  # the first that holds decides
        (household & seen_as[Reason.TIE_REJECTED], Reason.TIE_REJECTED),
        (household, by_zone),
        (~listed & ~accept_any, Reason.NO_CHOICES),
        (quota_used, Reason.QUOTA_EXHAUSTED),
        (seen_as[Reason.FAMILY_NO_JOINT_SEAT], Reason.FAMILY_NO_JOINT_SEAT),
        (seen_as[Reason.TIE_REJECTED] | tie, Reason.TIE_REJECTED),
        (lottery, Reason.LOST_LOTTERY),
    ]
    codes = [r if isinstance(r, np.ndarray) else _ORDER.index(r) for _, r in rules]
    return np.select([c for c, _ in rules], codes, default=_ORDER.index(Reason.BELOW_CUTOFF))


def _misses(inst: Instance, out: Outcome, a, last, free) -> np.ndarray:
    """The Miss of applicants `a` against the last admitted `last` (-1: none) of a place that
    has a free seat where `free`."""
    miss = np.where(free, Miss.QUOTA_USED, Miss.FAMILY).astype(np.int8)
    some = last >= 0
    miss[~some] = np.where(free[~some], Miss.QUOTA_USED, Miss.NO_SEATS)
    a, last = a[some], last[some]
    got = miss[some]
    p, cp = inst.points[a], inst.points[last]
    got[p < cp] = Miss.POINTS_SHORT
    level = p == cp
    diff = inst.keys[a] - inst.keys[last]
    differs = diff != 0
    first = np.argmax(differs, axis=1) if diff.shape[1] else np.zeros(len(a), dtype=np.int64)
    sign = diff[np.arange(len(a)), first] if diff.shape[1] else np.zeros(len(a), dtype=np.int64)
    equal = level & ~differs.any(axis=1)
    got[level & (sign < 0)] = Miss.KEY_SHORT
    got[equal] = Miss.TIE_REJECTED
    if inst.tie_policy == "lottery":
        got[equal & (out.pos[a] > out.pos[last])] = Miss.LOST_LOTTERY
    miss[some] = got
    return miss


_HOUSEHOLD = {  # the public reason of a household applicant not admitted, by their zone miss
    Miss.NO_SEATS: Reason.BELOW_CUTOFF,
    Miss.QUOTA_USED: Reason.QUOTA_EXHAUSTED,  # (not for a zone quota: it has no free seat)
    Miss.POINTS_SHORT: Reason.BELOW_CUTOFF,
    Miss.KEY_SHORT: Reason.BELOW_CUTOFF,
    Miss.LOST_LOTTERY: Reason.LOST_LOTTERY,
    Miss.TIE_REJECTED: Reason.TIE_REJECTED,
    Miss.FAMILY: Reason.BELOW_CUTOFF,  # (no families in household places: above the cut-off)
}
