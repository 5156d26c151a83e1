"""Apportionment: oracle equality with `apportionment`, bounds, uniqueness, known paradoxes."""

from __future__ import annotations

import random

import apportionment.methods as ap
import pytest
from alloc_testlib import allocate_doc, applicant, instance

from allocation.apportion import ApportionError, apportion

ORACLE = {"hamilton": "largest_remainder", "sainte-lague": "saintelague", "dhondt": "dhondt"}
IDS6 = [f"z{i}" for i in range(6)]


def test_reference_example():
    votes = [5230, 3120, 1460, 880, 310, 45]
    assert apportion("hamilton", votes, 1000, IDS6) == [474, 282, 132, 80, 28, 4]
    assert apportion("sainte-lague", votes, 1000, IDS6) == [474, 282, 132, 80, 28, 4]
    assert apportion("dhondt", votes, 1000, IDS6) == [474, 283, 132, 79, 28, 4]


@pytest.mark.parametrize("method", sorted(ORACLE))
def test_equals_apportionment_package(method):
    rng = random.Random(7)
    checked = 0
    while checked < 60:
        k = rng.randint(2, 12)
        votes = [rng.randint(1, 100000) for _ in range(k)]
        seats = rng.randint(1, 5000)
        try:
            expected = ap.compute(ORACLE[method], votes, seats, tiesallowed=False, verbose=False)
        except ap.TiesException:
            continue
        ids = [f"z{i:02d}" for i in range(k)]
        assert apportion(method, votes, seats, ids) == list(expected), (votes, seats)
        checked += 1


def test_hamilton_alabama_paradox_is_reproduced():
    ids = ["a", "b", "c"]
    assert apportion("hamilton", [17, 11, 5], 16, ids) == [8, 5, 3]
    assert apportion("hamilton", [17, 11, 5], 17, ids) == [9, 6, 2]


def test_divisor_methods_are_house_monotone():
    votes, ids = [17, 11, 5], ["a", "b", "c"]
    for m in ("sainte-lague", "dhondt"):
        prev = apportion(m, votes, 1, ids)
        for t in range(2, 60):
            cur = apportion(m, votes, t, ids)
            assert all(c >= p for c, p in zip(cur, prev, strict=True))
            prev = cur


def test_min_max_deviation_respects_bounds_and_is_unique():
    votes = [5230, 3120, 1460, 880, 310, 45]
    lo = [0, 0, 0, 0, 30, 10]
    hi = [1000, 1000, 1000, 1000, 1000, 20]
    got = apportion("min-max-deviation", votes, 1000, IDS6, lo, hi)
    assert sum(got) == 1000
    assert all(a <= g <= b for a, g, b in zip(lo, got, hi, strict=True))
    # The floor of z5 (10 against a share of 4.07) fixes the largest deviation at 5.93 seats,
    # so z3 (share 79.67) cannot go below 74. Every zone other than z4/z5 is then below its
    # share, so the sum of deviations is the same for all of them; the third stage gives the
    # larger zones as much as possible in basis order: z0 473, z1 282, and z2 the rest, 131.
    assert got == [473, 282, 131, 74, 30, 10]
    again = [apportion("min-max-deviation", votes, 1000, IDS6, lo, hi) for _ in range(3)]
    assert all(a == got for a in again)
    # reversing the zone order in the input gives the same answer zone by zone
    rev = apportion("min-max-deviation", votes[::-1], 1000, IDS6[::-1], lo[::-1], hi[::-1])
    assert rev[::-1] == got


def test_min_max_deviation_tie_goes_to_larger_basis_then_id():
    # two equal zones, one seat: the smaller id gets it; unequal: the larger basis
    assert apportion("min-max-deviation", [5, 5], 1, ["b", "a"]) == [0, 1]
    assert apportion("min-max-deviation", [4, 6], 1, ["a", "b"]) == [0, 1]


def test_bounds_apply_to_every_method():
    votes = [900, 90, 10]
    ids = ["a", "b", "c"]
    for m in ("hamilton", "sainte-lague", "dhondt", "min-max-deviation"):
        got = apportion(m, votes, 100, ids, [0, 0, 5], [80, 100, 100])
        assert sum(got) == 100 and got[0] <= 80 and got[2] >= 5, (m, got)
    with pytest.raises(ApportionError):
        apportion("hamilton", votes, 100, ids, [0, 0, 0], [10, 10, 10])


def test_school_quota_never_exceeds_zone_seats():
    zones = [{"id": "big", "name": "大", "weight": 9.0}, {"id": "small", "name": "小", "weight": 1}]
    schools = [
        {"id": "s1", "zone": "big", "category": "school", "seats": 3},
        {"id": "s2", "zone": "small", "category": "school", "seats": 10},
    ]
    apps = [applicant(f"a{i}", "big", "school", 50, choices=["s1"]) for i in range(9)]
    apps.append(applicant("b0", "small", "school", 50, choices=["s2"]))
    doc = instance(apps, schools, [{"id": "school", "kind": "school", "total": 10}], zones)
    res, _ = allocate_doc(doc)
    assert res["quotas"]["school"] == {"big": 3, "small": 7}
    assert res["checks"]["quota_sum_ok"] is True
