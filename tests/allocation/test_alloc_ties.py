"""Tie policies at a straddled cut-off, keys before the lottery, the Beijing-style 6,000 case."""

from __future__ import annotations

import numpy as np
import pytest
from alloc_testlib import allocate_doc, applicant, by_id, instance, published_lottery

from allocation.ranking import lottery_numbers

HUKOU = [{"id": "hukou", "kind": "household", "total": 3}]


def hukou_doc(policy, keys=None):
    keys = keys or {}
    pts = {"A": 100, "B": 90, "C": 80, "D": 80, "E": 80, "F": 70}
    apps = [applicant(a, "z1", "hukou", p, {"k": keys.get(a, 0)}) for a, p in pts.items()]
    return instance(apps, categories=HUKOU, tie_policy=policy)


def admitted(res):
    return sorted(a["applicant"] for a in res["assignments"] if a["status"] == "admitted")


def test_lottery_decides_a_straddled_cutoff():
    res, _ = allocate_doc(hukou_doc("lottery"))
    winner = min("CDE", key=lambda a: published_lottery("test-seed", a))
    assert admitted(res) == sorted(["A", "B", winner])
    r = by_id(res)
    for loser in sorted(set("CDE") - {winner}):
        assert r[loser]["reason"] == "lost_lottery"
        assert "抽签" in r[loser]["explanation"]
    assert r["F"]["reason"] == "below_cutoff"
    assert "录取分数线 80 分，您差 10 分" in r["F"]["explanation"]
    assert res["checks"]["ok"] and res["checks"]["wasted_seats"] == 0


def test_admit_all_admits_the_whole_tie_group():
    res, _ = allocate_doc(hukou_doc("admit_all"))
    assert admitted(res) == ["A", "B", "C", "D", "E"]
    c = res["checks"]
    assert c["tie_overflow"] == 2 and c["quota_ok"] and c["capacity_ok"] and c["ok"]
    assert by_id(res)["F"]["reason"] == "below_cutoff"
    assert (
        "同分同落" in by_id(res)["E"]["explanation"] or "同分同落" in by_id(res)["D"]["explanation"]
    )


def test_reject_all_rejects_the_whole_tie_group():
    res, _ = allocate_doc(hukou_doc("reject_all"))
    assert admitted(res) == ["A", "B"]
    r = by_id(res)
    assert [r[x]["reason"] for x in "CDE"] == ["tie_rejected"] * 3
    assert r["F"]["reason"] == "below_cutoff"
    c = res["checks"]
    assert c["wasted_seats"] == 0 and c["blocking_pairs"] == 0 and c["ok"]


@pytest.mark.parametrize("policy", ["lottery", "admit_all", "reject_all"])
def test_tie_break_key_decides_before_any_policy(policy):
    res, _ = allocate_doc(hukou_doc(policy, keys={"D": 5}))
    assert admitted(res) == ["A", "B", "D"]
    r = by_id(res)
    assert r["C"]["reason"] == "below_cutoff"
    assert r["C"]["explanation"].endswith(  # a key without a label: its id, set off by spaces
        "本镇街指标 3 个，录取分数线 80 分，您同分，但 k 为 0，少于最后录取者的 5，未获入户指标。"
    )


def school_tie_doc(policy):
    schools = [
        {"id": "s1", "zone": "z1", "category": "school", "seats": 2},
        {"id": "s2", "zone": "z1", "category": "school", "seats": 5},
    ]
    apps = [
        applicant("A", "z1", "school", 100, choices=["s1"]),
        applicant("B", "z1", "school", 90, choices=["s1", "s2"]),
        applicant("C", "z1", "school", 90, choices=["s1", "s2"]),
        applicant("D", "z1", "school", 90, choices=["s1"]),
        applicant("E", "z1", "school", 80, choices=["s1", "s2"]),
    ]
    cats = [{"id": "school", "kind": "school", "total": 7}]
    return instance(apps, schools, cats, tie_policy=policy)


def test_school_admit_all_exceeds_the_school_by_the_tie():
    res, _ = allocate_doc(school_tie_doc("admit_all"))
    r = by_id(res)
    assert [r[x]["school"] for x in "ABCDE"] == ["s1", "s1", "s1", "s1", "s2"]
    cut = {c["school"]: c for c in res["cutoffs"]}
    assert cut["s1"]["admitted"] == 4 and cut["s1"]["seats"] == 2 and cut["s1"]["points"] == 90
    assert res["checks"]["ok"] and res["checks"]["blocking_pairs"] == 0


def test_school_reject_all_closes_the_school_at_the_tie():
    res, _ = allocate_doc(school_tie_doc("reject_all"))
    r = by_id(res)
    assert [r[x]["school"] for x in "ABCDE"] == ["s1", "s2", "s2", None, "s2"]
    assert r["D"]["reason"] == "tie_rejected"
    c = res["checks"]
    assert c["seats_closed_by_tie_policy"] == 1 and c["wasted_seats"] == 0 and c["ok"]


def test_school_lottery_gives_the_last_seat_to_the_lottery_winner():
    res, _ = allocate_doc(school_tie_doc("lottery"))
    r = by_id(res)
    winner = min("BCD", key=lambda a: published_lottery("test-seed", a))
    assert r[winner]["school"] == "s1"
    assert sum(1 for x in "BCD" if r[x]["school"] == "s1") == 1
    assert r["E"]["school"] == "s2"


def test_beijing_style_6000_quota_admits_more_because_of_ties():
    apps = []
    for i in range(5989):  # distinct points above the tie
        apps.append(
            applicant(f"A{i:05d}", "z1", "hukou", round(90 + (5989 - i) / 100, 2), {"k": 1})
        )
    for i in range(30):  # 30 applicants tied on points and key at the cut-off
        apps.append(applicant(f"T{i:05d}", "z1", "hukou", 90, {"k": 1}))
    for i in range(981):
        apps.append(applicant(f"B{i:05d}", "z1", "hukou", 80, {"k": 1}))
    cats = [{"id": "hukou", "kind": "household", "total": 6000}]
    res, _ = allocate_doc(instance(apps, categories=cats, tie_policy="admit_all"))
    assert res["quotas"] == {"hukou": {"z1": 6000}}
    st = [a for a in res["assignments"] if a["status"] == "admitted"]
    assert len(st) == 6019
    cut = next(c for c in res["cutoffs"] if c["school"] is None)
    assert cut["points"] == 90 and cut["admitted"] == 6019 and cut["seats"] == 6000
    assert res["checks"]["tie_overflow"] == 19 and res["checks"]["ok"]
    res2, _ = allocate_doc(instance(apps, categories=cats, tie_policy="reject_all"))
    assert sum(a["status"] == "admitted" for a in res2["assignments"]) == 5989


def test_lottery_numbers_match_the_published_formula():
    ids = [f"A{i:05d}" for i in range(1001)] + ["末", "x\u2028y", ""]
    got = lottery_numbers("seed-1", ids)
    assert got.dtype == np.int64
    assert got.tolist() == [published_lottery("seed-1", i) for i in ids]
