"""Families are placed together or not at all; the blocking pairs this forces are listed."""

from __future__ import annotations

from alloc_testlib import allocate_doc, applicant, by_id, instance

SCHOOLS = [
    {"id": "s1", "zone": "z1", "category": "school", "seats": 2},
    {"id": "s2", "zone": "z1", "category": "school", "seats": 5},
]
CATS = [{"id": "school", "kind": "school", "total": 7}]


def test_family_placed_together_and_forced_pair_reported():
    apps = [
        applicant("L", "z1", "school", 100, choices=["s1", "s2"], family="F1"),
        applicant("M", "z1", "school", 60, choices=["s1", "s2"], family="F1"),
        applicant("Y", "z1", "school", 80, choices=["s1", "s2"]),
        applicant("Z", "z1", "school", 50, choices=["s1"]),
    ]
    res, _ = allocate_doc(instance(apps, SCHOOLS, CATS))
    r = by_id(res)
    assert (r["L"]["school"], r["M"]["school"], r["Y"]["school"], r["Z"]["school"]) == (
        "s1",
        "s1",
        "s2",
        None,
    )
    assert r["L"]["reason"] == r["M"]["reason"] == "admitted_family"
    c = res["checks"]
    assert c["blocking_pairs"] == 1 and c["blocking_pairs_unexplained"] == 0 and c["ok"]
    assert c["blocking_pair_list"] == [
        {
            "applicant": "Y",
            "category": "school",
            "cause": "family",
            "family": "F1",
            "ranked_below": "M",
            "school": "s1",
            "zone": "z1",
        }
    ]
    assert "同一家庭" in r["Y"]["explanation"]


def test_family_not_split_when_only_one_seat_is_left():
    apps = [
        applicant("A", "z1", "school", 100, choices=["s1"]),
        applicant("T1", "z1", "school", 90, choices=["s1"], family="F2"),
        applicant("T2", "z1", "school", 90, choices=["s1"], family="F2"),
        applicant("B", "z1", "school", 70, choices=["s1"]),
    ]
    res, _ = allocate_doc(instance(apps, SCHOOLS, CATS))
    r = by_id(res)
    assert [r[x]["school"] for x in ("A", "T1", "T2", "B")] == ["s1", None, None, "s1"]
    assert r["T1"]["reason"] == r["T2"]["reason"] == "family_no_joint_seat"
    assert "同校" in r["T1"]["explanation"]
    # the twins wanted s1 and B (ranked below them) got it: two pairs, both caused by F2
    c = res["checks"]
    assert c["blocking_pairs"] == 2 and c["blocking_pairs_unexplained"] == 0
    assert {p["applicant"] for p in c["blocking_pair_list"]} == {"T1", "T2"}


def test_family_uses_only_schools_every_member_accepts():
    apps = [
        applicant("T1", "z1", "school", 90, choices=["s1", "s2"], family="F3"),
        applicant("T2", "z1", "school", 90, choices=["s2"], family="F3"),
    ]
    res, _ = allocate_doc(instance(apps, SCHOOLS, CATS))
    r = by_id(res)
    assert r["T1"]["school"] == r["T2"]["school"] == "s2"
    assert r["T1"]["choice_rank"] == 2 and r["T2"]["choice_rank"] == 1


def test_cpsat_repair_reduces_family_blocking_pairs():
    schools = [
        {"id": "s1", "zone": "z1", "category": "school", "seats": 2},
        {"id": "s2", "zone": "z1", "category": "school", "seats": 2},
    ]
    apps = [
        applicant("L", "z1", "school", 100, choices=["s1", "s2"], family="F1"),
        applicant("M", "z1", "school", 60, choices=["s1", "s2"], family="F1"),
        applicant("Y", "z1", "school", 80, choices=["s1"]),
        applicant("Z", "z1", "school", 70, choices=["s1"]),
    ]
    cats = [{"id": "school", "kind": "school", "total": 4}]
    res, _ = allocate_doc(instance(apps, schools, cats))
    r = by_id(res)
    # greedy (family at L's turn takes s1) would leave Y and Z out with 2 blocking pairs;
    # the CP-SAT repair places the family at s2 and Y, Z at s1: one pair, (L, s1).
    assert [r[x]["school"] for x in "LMYZ"] == ["s2", "s2", "s1", "s1"]
    assert res["manifest"]["params"]["families_cpsat"] == ["school/z1"]
    c = res["checks"]
    assert c["ok"] and c["blocking_pairs"] == 1 and c["wasted_seats"] == 0
    assert c["blocking_pair_list"][0]["applicant"] == "L"
    assert c["blocking_pair_list"][0]["school"] == "s1"
    assert c["blocking_pair_list"][0]["cause"] == "family"


def test_cpsat_repair_never_displaces_a_points_placed_applicant():
    # A (100) is placed by points; the twins cannot take s1 from A or B even though that
    # would create fewer blocking pairs.
    apps = [
        applicant("A", "z1", "school", 100, choices=["s1"]),
        applicant("T1", "z1", "school", 90, choices=["s1"], family="F2"),
        applicant("T2", "z1", "school", 90, choices=["s1"], family="F2"),
        applicant("B", "z1", "school", 70, choices=["s1"]),
    ]
    res, _ = allocate_doc(instance(apps, SCHOOLS, CATS))
    assert by_id(res)["A"]["school"] == "s1" and by_id(res)["B"]["school"] == "s1"
    assert res["manifest"]["params"]["families_cpsat"] == ["school/z1"]
