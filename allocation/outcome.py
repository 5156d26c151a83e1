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
    quotas: dict[str, dict[str, int]]  # category id -> zone id -> quota
    closed_school: dict[int, int] = field(default_factory=dict)  # school -> level (reject_all)
    closed_zone: dict[tuple[int, int], int] = field(default_factory=dict)  # (cat, zone) -> level
    zone_quota: dict[tuple[int, int], int] = field(default_factory=dict)
    families: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    kept: dict[int, int] = field(default_factory=dict)  # vacancy round: applicant -> school, -1
    withdrawn: set[int] = field(default_factory=set)
    zone_schools: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    remaining: list[int] = field(default_factory=list)  # free seats per school after placement
    reasons: Reasons | None = None  # the public reasons, once the outcome is final


def last_admitted(inst: Instance, out: Outcome) -> tuple[np.ndarray, np.ndarray]:
    """The last admitted applicant in ranking order (the cut-off), -1 if none: per school, and
    per (category, zone) at index category * zones + zone."""
    nz = len(inst.zones)
    ranked_in = out.admitted & (out.pos >= 0)
    at_school = np.nonzero(ranked_in & (out.school >= 0))[0]
    last_s = _last_by_group(at_school, out.school, len(inst.schools), out.pos)
    cell = inst.cat.astype(np.int64) * nz + inst.zone
    last_z = _last_by_group(np.nonzero(ranked_in)[0], cell, len(inst.categories) * nz, out.pos)
    return last_s, last_z


def _last_by_group(members: np.ndarray, group: np.ndarray, groups: int, pos: np.ndarray):
    """Per group, the one of `members` with the largest `pos` (-1 if none). A group lies in
    one category, where positions are unique: the largest pos * n + member names it."""
    n = len(pos)
    best = np.full(groups, -1, dtype=np.int64)
    np.maximum.at(best, group[members], pos[members] * n + members)
    return np.where(best >= 0, best % max(n, 1), -1)
