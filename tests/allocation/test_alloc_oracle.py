"""Oracle equality with the `matching` package (HospitalResident, resident-optimal).

The schools' priorities given to `matching` come from the instance and the published ranking
rule (points, keys, lottery), not from the zone ranks the allocator reports."""

from __future__ import annotations

import random
import warnings

import pytest
from alloc_testlib import (
    allocate_doc,
    published_priority,
    random_school_instance,
    run_with_big_stack,
)
from matching.games import HospitalResident


def oracle_and_ours(doc):
    res, _ = allocate_doc(doc)
    assert res["checks"]["ok"] and res["checks"]["blocking_pairs"] == 0
    ours = {a["applicant"]: a["school"] for a in res["assignments"]}
    records = {a["id"]: a for a in doc["applicants"]}
    seats = {s["id"]: s["seats"] for s in doc["schools"]}
    zone_schools: dict[str, list[str]] = {}
    for s in sorted(doc["schools"], key=lambda s: s["id"]):
        zone_schools.setdefault(s["zone"], []).append(s["id"])
    rprefs = {}
    for a in doc["applicants"]:
        lst = list(a.get("choices", []))
        if a.get("accept_any_in_zone"):
            lst += [s for s in zone_schools.get(a["zone"], []) if s not in lst]
        lst = [s for s in lst if seats[s] > 0]
        if lst:
            rprefs[a["id"]] = lst
    hprefs = {s: [] for s in seats if seats[s] > 0}
    for r, lst in rprefs.items():
        for s in lst:
            hprefs[s].append(r)
    for s in hprefs:
        hprefs[s].sort(key=lambda r: published_priority(doc, records[r]))
    caps = {s: seats[s] for s in hprefs}

    def solve():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            game = HospitalResident.create_from_dictionaries(rprefs, hprefs, caps)
            m = game.solve(optimal="resident")
        return {r.name: h.name for h, rs in m.items() for r in rs}

    theirs = run_with_big_stack(solve)
    expected = {a["id"]: theirs.get(a["id"]) for a in doc["applicants"]}
    return ours, expected


@pytest.mark.parametrize("seed,n,zones,schools", [(1, 60, 1, 4), (2, 300, 3, 12), (3, 1000, 4, 30)])
def test_matches_hospital_resident_small(seed, n, zones, schools):
    ours, expected = oracle_and_ours(random_school_instance(random.Random(seed), n, zones, schools))
    assert ours == expected


@pytest.mark.slow
def test_matches_hospital_resident_5000():
    doc = random_school_instance(random.Random(5000), 5000, 6, 60)
    ours, expected = oracle_and_ours(doc)
    assert ours == expected
    placed = sum(1 for v in ours.values() if v)
    assert placed > 2000  # the instance is not trivially empty
