"""Instance reading: defaults, bounds through the pipeline, input hash, more bad input."""

from __future__ import annotations

import copy

import pytest
from alloc_testlib import allocate_doc, applicant, instance

from allocation.instance import InstanceError, parse_instance

ZONES = [
    {"id": "a", "name": "石岐街道", "weight": 3, "bounds": {"hukou": [0, 6]}},
    {"id": "b", "name": "东区街道", "weight": 1},
]
HUKOU = [{"id": "hukou", "kind": "household", "total": 10}]


def hukou_apps(n_a=12, n_b=12):
    apps = [applicant(f"a{i:02d}", "a", "hukou", 50 + i) for i in range(n_a)]
    return apps + [applicant(f"b{i:02d}", "b", "hukou", 40 + i) for i in range(n_b)]


@pytest.mark.parametrize(
    "method,unbounded",
    [("hamilton", 8), ("sainte-lague", 8), ("dhondt", 8), ("min-max-deviation", 8)],
)
def test_weight_basis_with_upper_bound(method, unbounded):
    doc = instance(hukou_apps(), categories=HUKOU, zones=ZONES,
                   apportion={"method": method, "basis": "weight"})  # fmt: skip
    res, _ = allocate_doc(doc)
    assert res["quotas"] == {"hukou": {"a": 6, "b": 4}}
    free = copy.deepcopy(doc)
    del free["zones"][0]["bounds"]
    res2, _ = allocate_doc(free)
    assert res2["quotas"]["hukou"]["a"] == unbounded
    admitted_a = [x for x in res["assignments"] if x["zone"] == "a" and x["status"] == "admitted"]
    assert sorted(x["applicant"] for x in admitted_a) == [f"a{i:02d}" for i in range(6, 12)]


def test_bounds_that_cannot_hold_the_total_are_rejected():
    zones = copy.deepcopy(ZONES)
    zones[1]["bounds"] = {"hukou": [0, 2]}
    with pytest.raises(InstanceError, match=r"categories id 'hukou', field 'total'"):
        allocate_doc(instance(hukou_apps(), categories=HUKOU, zones=zones))


def test_ineligible_may_omit_keys_but_eligible_may_not():
    apps = hukou_apps(2, 2)
    apps[0]["eligible"] = False
    del apps[0]["keys"]
    res, _ = allocate_doc(instance(apps, categories=HUKOU, zones=ZONES))
    out = {a["applicant"]: a for a in res["assignments"]}
    assert out["a00"]["status"] == "ineligible" and out["a00"]["zone_rank"] is None
    assert "不符合" in out["a00"]["explanation"]
    del apps[1]["keys"]
    with pytest.raises(InstanceError, match=r"applicants\[1\] \(id 'a01'\), field 'keys.k'"):
        parse_instance(instance(apps, categories=HUKOU, zones=ZONES))


def test_household_applicant_with_choices_and_split_family_are_rejected():
    apps = hukou_apps(1, 1)
    apps[0]["choices"] = ["s1"]
    schools = [{"id": "s1", "zone": "a", "category": "sc", "seats": 1}]
    cats = [*HUKOU, {"id": "sc", "kind": "school", "total": 1}]
    with pytest.raises(InstanceError, match=r"id 'a00'\), field 'choices'"):
        parse_instance(instance(apps, schools, cats, ZONES))
    schools.append({"id": "s2", "zone": "b", "category": "sc", "seats": 1})
    fam = [
        applicant("x1", "a", "sc", 10, choices=["s1"], family="F"),
        applicant("x2", "b", "sc", 10, choices=["s2"], family="F"),
    ]
    with pytest.raises(InstanceError, match=r"family 'F' spans several zones"):
        allocate_doc(instance(fam, schools, cats, ZONES))


def test_input_hash_ignores_record_order_and_sees_values():
    doc = instance(hukou_apps(), categories=HUKOU, zones=ZONES)
    h = parse_instance(doc).canonical_sha256
    rev = copy.deepcopy(doc)
    rev["applicants"].reverse()
    rev["zones"].reverse()
    assert parse_instance(rev).canonical_sha256 == h
    changed = copy.deepcopy(doc)
    changed["applicants"][3]["points"] = 53.5
    assert parse_instance(changed).canonical_sha256 != h
    changed2 = copy.deepcopy(doc)
    changed2["seed"] = "another seed"
    assert parse_instance(changed2).canonical_sha256 != h


def test_points_keep_two_decimals_exactly():
    apps = [applicant("p", "a", "hukou", 0.3 * 7), applicant("q", "a", "hukou", 2.1)]
    res, _ = allocate_doc(instance(apps, categories=HUKOU, zones=ZONES))
    out = {a["applicant"]: a for a in res["assignments"]}
    # 0.3 × 7 = 2.0999999999999996 in binary: read as exactly 2.10, tied with q
    assert "您的积分 2.1 分" in out["p"]["explanation"]
    assert "您的积分 2.1 分" in out["q"]["explanation"]


def test_household_vacancy_round_fills_the_freed_quota_by_ranking():
    from allocation.cli import make_vacancy

    apps = [applicant(f"h{i}", "a", "hukou", 100 - i) for i in range(6)]
    cats = [{"id": "hukou", "kind": "household", "total": 3}]
    zones = [{"id": "a", "name": "石岐街道"}]
    doc = instance(apps, categories=cats, zones=zones)
    first, _ = allocate_doc(doc)
    assert [x["applicant"] for x in first["assignments"] if x["status"] == "admitted"] == [
        "h0", "h1", "h2",
    ]  # fmt: skip
    second_doc = make_vacancy(doc, first, ["h1"])
    second, _ = allocate_doc(second_doc)
    out = {x["applicant"]: (x["status"], x["reason"]) for x in second["assignments"]}
    assert out == {
        "h0": ("admitted", "admitted_kept"),
        "h1": ("not_admitted", "withdrawn"),
        "h2": ("admitted", "admitted_kept"),
        "h3": ("admitted", "admitted"),
        "h4": ("not_admitted", "below_cutoff"),
        "h5": ("not_admitted", "below_cutoff"),
    }
    assert second["quotas"] == first["quotas"] and second["checks"]["ok"]
    assert (
        second["manifest"]["params"]["vacancy"]["previous_output_sha256"]
        == (first["manifest"]["output_sha256"])
    )


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": 18446744073709551616, "b": -9223372036854775809, "c": [1e5, -0, 0.1]}',
        b'{"a": 123456789012345678901234567890}',
        b'{"a": NaN, "b": Infinity, "c": 1e400}',
        b'\xef\xbb\xbf{"a": 1}',
        b'{"a": "\\ud800", "a": 2.675}',
        '{"a": 1}'.encode("utf-16"),
        b'{"id": "A1", "points": 98.25, "keys": {"k": 12}, "x": [true, false, null]}',
    ],
)
def test_load_json_reads_like_json_loads(tmp_path, text):
    import json

    from allocation.instance import load_json

    p = tmp_path / "doc.json"
    p.write_bytes(text)
    got, want = load_json(str(p)), json.loads(text)
    assert repr(got) == repr(want)
