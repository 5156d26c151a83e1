"""The outcome of an allocation: quotas, the zone ranking, and who was placed where."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .instance import Instance

if TYPE_CHECKING:
    from .reasons import Reason, Reasons


@dataclass
class Outcome:
    """Per applicant (id order) arrays, and per zone the quota and the schools."""

    school: np.ndarray  # int64, -1 = none
    admitted: np.ndarray  # bool
    choice_rank: np.ndarray  # int64, position of the school in the choices from 1, 0 = not listed
    zone_rank: np.ndarray  # int64, from 1 in the zone and category, 0 = not ranked
    level: np.ndarray  # int64 tie group (equal zone, points and keys), -1 = not ranked
    pos: np.ndarray  # int64 position in the category's ranking, -1 = not ranked
    placement: list[Reason]  # what placement did at the applicant's turn (see reasons.py)
    closed_school: dict[int, int] = field(default_factory=dict)  # school -> level (reject_all)
    closed_zone: dict[tuple[int, int], int] = field(default_factory=dict)  # (cat, zone) -> level
    zone_quota: dict[tuple[int, int], int] = field(default_factory=dict)  # (cat, zone) -> quota
    families: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    kept: dict[int, int] = field(default_factory=dict)  # vacancy round: applicant -> school, -1
    withdrawn: set[int] = field(default_factory=set)
    zone_schools: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    remaining: list[int] = field(default_factory=list)  # free seats per school after placement
    reasons: Reasons | None = None  # the public reasons, once the outcome is final


def last_admitted(inst: Instance, out: Outcome) -> tuple[np.ndarray, np.ndarray]:
    """The last admitted applicant in ranking order (the cut-off), -1 if none: per school, and
    per (category, zone) at index category * zones + zone."""
    ranked_in = np.nonzero(out.admitted & (out.pos >= 0))[0]
    at_school = ranked_in[out.school[ranked_in] >= 0]
    last_s = last_by_group(at_school, out.school, len(inst.schools), out.pos)
    last_z = last_by_group(ranked_in, cells(inst), len(inst.categories) * len(inst.zones), out.pos)
    return last_s, last_z


def cells(inst: Instance) -> np.ndarray:
    """Per applicant, their (category, zone) as one index: category * zones + zone."""
    return inst.cat.astype(np.int64) * len(inst.zones) + inst.zone


def last_by_group(members: np.ndarray, group: np.ndarray, groups: int, rank: np.ndarray):
    """Per group (0..groups-1), the one of `members` with the largest `rank` (the largest
    index among equals), -1 if none: the largest rank * n + member names it."""
    n = len(rank)
    best = np.full(groups, -1, dtype=np.int64)
    np.maximum.at(best, group[members], rank[members] * n + members)
    return np.where(best >= 0, best % max(n, 1), -1)


def extended(choices: list[int], accept_any: bool, zone_schools: list[int]) -> list[int]:
    """An applicant's list: their choices, then (服从调剂) the other schools of their zone and
    category (`zone_schools`) in id order."""
    if not accept_any:
        return list(choices)
    listed = set(choices)
    return list(choices) + [s for s in zone_schools if s not in listed]


def choices_ahead(inst: Instance, out: Outcome) -> tuple[np.ndarray, np.ndarray]:
    """(applicant, index in Instance.choice_flat) of every listed choice the applicant wanted
    more than their outcome (all of them if they got none, or a school they did not list), for
    everyone ranked whose admission is not kept from a previous round; by applicant, then in
    the order of their choices."""
    counts = inst.choice_counts
    kept = np.zeros(inst.n, dtype=bool)
    kept[list(out.kept)] = True
    ahead = np.where(out.choice_rank > 0, out.choice_rank - 1, counts)
    rows = np.nonzero((out.pos >= 0) & ~kept & (ahead > 0))[0]
    pair_a = np.repeat(rows, ahead[rows])
    first = np.cumsum(counts) - counts  # where each applicant's choices start
    before = np.cumsum(ahead[rows]) - ahead[rows]
    return pair_a, np.repeat(first[rows] - before, ahead[rows]) + np.arange(len(pair_a))
