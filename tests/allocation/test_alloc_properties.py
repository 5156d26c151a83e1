"""Hypothesis invariants: capacity, stability, non-wastefulness, determinism under shuffling.

The stability and waste checks here are written independently of allocation/certify.py.
"""

from __future__ import annotations

import json
import random

from alloc_testlib import allocate_doc, applicant, instance, published_priority
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

POLICIES = ["lottery", "admit_all", "reject_all"]


@st.composite
def instances(draw, families=False):
    nz = draw(st.integers(1, 3))
    zones = [
        {"id": f"z{i}", "name": f"区{i}", "weight": draw(st.integers(1, 5))} for i in range(nz)
    ]
    ns = draw(st.integers(1, 6))
    schools = [
        {"id": f"s{j}", "zone": f"z{j % nz}", "category": "sc", "seats": draw(st.integers(0, 4))}
        for j in range(ns)
    ]
    by_zone: dict[str, list[str]] = {}
    for s in schools:
        by_zone.setdefault(s["zone"], []).append(s["id"])
    n = draw(st.integers(0, 30))
    apps = []
    for i in range(n):
        z = f"z{draw(st.integers(0, nz - 1))}"
        opts = by_zone.get(z, [])
        ch = draw(st.permutations(opts)) if opts else []
        ch = ch[: draw(st.integers(0, len(ch)))]
        cat = "sc" if opts and draw(st.booleans()) else "hh"
        fam = None
        if families and cat == "sc" and draw(st.integers(0, 4)) == 0:
            fam = f"F{z}{draw(st.integers(0, 2))}"
        apps.append(
            applicant(
                f"a{i:02d}", z, cat, draw(st.integers(0, 6)) / 2, {"k": draw(st.integers(0, 1))},
                ch if cat == "sc" else (), any_=cat == "sc" and draw(st.booleans()),
                family=fam, el=draw(st.integers(0, 9)) > 0,
            )
        )  # fmt: skip
    seats = sum(s["seats"] for s in schools)
    cats = [
        {"id": "hh", "kind": "household", "total": draw(st.integers(0, 10))},
        {"id": "sc", "kind": "school", "total": draw(st.integers(0, seats))},
    ]
    method = draw(st.sampled_from(["hamilton", "sainte-lague", "dhondt", "min-max-deviation"]))
    return instance(
        apps, schools, cats, zones,
        tie_policy=draw(st.sampled_from(POLICIES)),
        apportion={"method": method, "basis": draw(st.sampled_from(["demand", "weight"]))},
    )  # fmt: skip


def independent_checks(doc, res):
    """Capacity, quota, stability and waste, recomputed from the instance and the published
    result alone: priorities by the published ranking rule (the lottery from its formula), and
    every seat or quota place left empty must be one the tie policy 同分同不落 closed."""
    policy = doc["tie_policy"]
    apps = {a["id"]: a for a in doc["applicants"]}
    out = {a["applicant"]: a for a in res["assignments"]}
    seats = {s["id"]: s["seats"] for s in doc["schools"]}
    zone_schools: dict[str, list[str]] = {}
    for s in sorted(doc["schools"], key=lambda s: s["id"]):
        zone_schools.setdefault(s["zone"], []).append(s["id"])

    def prio(aid):  # smaller is better; a tie group shares it unless the lottery decides
        return published_priority(doc, apps[aid], lottery=policy == "lottery")

    at = {}
    for aid, o in out.items():
        if o["school"]:
            at.setdefault(o["school"], []).append(aid)
    tie_adm = {aid for aid, o in out.items() if o["reason"] == "admitted_tie"}
    for s, lst in at.items():  # capacity (同分同落 may exceed it only by admitted_tie)
        assert len([a for a in lst if a not in tie_adm]) <= seats[s]
    for cat in ("hh", "sc"):
        for z, q in res["quotas"][cat].items():
            adm = [a for a, o in out.items() if o["category"] == cat and o["zone"] == z
                   and o["status"] == "admitted"]  # fmt: skip
            assert len([a for a in adm if a not in tie_adm]) <= q

    def ext_of(a):
        ext = list(a.get("choices", []))
        if a.get("accept_any_in_zone"):
            ext += [s for s in zone_schools.get(a["zone"], []) if s not in ext]
        return ext

    def tie_groups_above(a):
        """The tie groups (two or more eligible applicants of a's zone and category with equal
        points and keys) ranked at or above `a`."""
        groups: dict[tuple, list[dict]] = {}
        for b in apps.values():
            if b["eligible"] and (b["zone"], b["category"]) == (a["zone"], a["category"]):
                groups.setdefault(published_priority(doc, b, lottery=False), []).append(b)
        own = published_priority(doc, a, lottery=False)
        return [(g, m) for g, m in groups.items() if len(m) >= 2 and g <= own]

    def closed_by_tie(a, admitted, room, wants=lambda b: True):
        """Under reject_all (同分同不落) only: whether a tie group ranked at or above `a` did not
        fit the room left at its turn (`room`: seats, or the zone quota, given `admitted`, the
        applicants holding them), so that nobody of it and nobody ranked below it was admitted
        there. `wants`: which members compete for that room."""
        if policy != "reject_all":
            return False
        for group, members in tie_groups_above(a):
            holders = [apps[b] for b in admitted]
            above = [b for b in holders if published_priority(doc, b, lottery=False) < group]
            if len(above) == len(holders) and sum(map(wants, members)) > room - len(above):
                return True
        return False

    for aid, a in apps.items():
        o = out[aid]
        if not a["eligible"]:
            assert o["status"] == "ineligible" and o["zone_rank"] is None
            continue
        zadm = [b for b, x in out.items() if x["category"] == a["category"]
                and x["zone"] == a["zone"] and x["status"] == "admitted"]  # fmt: skip
        q = res["quotas"][a["category"]][a["zone"]]
        quota_closed = closed_by_tie(a, zadm, q)
        if a["category"] == "hh":
            if o["status"] != "admitted":
                assert all(prio(b) <= prio(aid) for b in zadm), "household justified envy"
                assert len(zadm) >= q or quota_closed, "household quota left unused"
            continue
        for s in ext_of(a):
            if s == o["school"]:
                break
            lst = at.get(s, [])
            school_closed = closed_by_tie(a, lst, seats[s], lambda b, s=s: s in ext_of(b))
            if len(lst) >= seats[s]:
                assert all(prio(b) <= prio(aid) for b in lst), ("envy", aid, s)
            elif len(zadm) >= q and not school_closed:
                assert all(prio(b) <= prio(aid) for b in zadm), ("quota envy", aid, s)
            else:
                assert school_closed or quota_closed, ("wasted seat", aid, s)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_invariants_without_families(doc):
    res, raw = allocate_doc(doc)
    c = res["checks"]
    assert c["ok"], c
    assert c["capacity_ok"] and c["quota_sum_ok"] and c["blocking_pairs"] == 0
    assert c["wasted_seats"] == 0
    for cat in doc["categories"]:
        assert sum(res["quotas"][cat["id"]].values()) == cat["total"]
    independent_checks(doc, res)
    # determinism under shuffling of every record list
    rng = random.Random(len(raw))
    shuffled = json.loads(json.dumps(doc))
    for k in ("applicants", "schools", "zones", "categories"):
        rng.shuffle(shuffled[k])
    assert allocate_doc(shuffled)[1] == raw


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(families=True))
def test_families_together_and_pairs_explained(doc):
    res, raw = allocate_doc(doc)
    c = res["checks"]
    assert c["capacity_ok"] and c["quota_sum_ok"] and c["blocking_pairs_unexplained"] == 0
    assert c["blocking_pairs"] == len(c["blocking_pair_list"])
    out = {a["applicant"]: a for a in res["assignments"]}
    fams: dict[tuple, list] = {}
    for a in doc["applicants"]:
        if a.get("family") and a["eligible"]:
            fams.setdefault((a["category"], a["family"]), []).append(out[a["id"]])
    for members in fams.values():
        assert len({(m["status"], m["school"]) for m in members}) == 1
    shuffled = json.loads(json.dumps(doc))
    random.Random(1).shuffle(shuffled["applicants"])
    assert allocate_doc(shuffled)[1] == raw
