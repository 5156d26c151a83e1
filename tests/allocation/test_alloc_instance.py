"""Instance reading: defaults, bounds through the pipeline, input hash, more bad input."""

from __future__ import annotations

import copy
import json

import pytest
from alloc_testlib import allocate_doc, applicant, instance

from allocation.instance import InstanceError, input_sha256, parse_instance

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
    h = input_sha256(parse_instance(doc))
    rev = copy.deepcopy(doc)
    rev["applicants"].reverse()
    rev["zones"].reverse()
    assert input_sha256(parse_instance(rev)) == h
    changed = copy.deepcopy(doc)
    changed["applicants"][3]["points"] = 53.5
    assert input_sha256(parse_instance(changed)) != h
    changed2 = copy.deepcopy(doc)
    changed2["seed"] = "another seed"
    assert input_sha256(parse_instance(changed2)) != h


@pytest.mark.parametrize(
    "points,hundredths",
    [(80.25, 8025), (2.1, 210), (0.07, 7), (600000.12, 60000012), (10**12, 10**14), (0, 0)],
)
def test_points_with_two_decimals_are_read_exactly(points, hundredths):
    inst = parse_instance(instance([applicant("p", "a", "hukou", points)], categories=HUKOU,
                                   zones=ZONES))  # fmt: skip
    assert inst.points.tolist() == [hundredths]


@pytest.mark.parametrize(
    "points", [600000.125, 80.125, 2.0999999999999996, 0.1 + 0.2, 10**12 + 0.01, 1e13, -0.5]
)
def test_points_with_more_than_two_decimals_are_an_error(points):
    """Exactly: the double must be that of a decimal with two decimals (no tolerance)."""
    apps = [applicant("p", "a", "hukou", points)]
    with pytest.raises(InstanceError, match=r"applicants\[0\] \(id 'p'\), field 'points'"):
        parse_instance(instance(apps, categories=HUKOU, zones=ZONES))


def test_a_key_with_three_decimals_is_an_error_read_from_the_file(tmp_path, capsys):
    from app.cli import main

    apps = [applicant("p", "a", "hukou", 80, {"k": 0.5}), applicant("q", "a", "hukou", 80)]
    path = tmp_path / "i.json"
    path.write_text(
        json.dumps(instance(apps, categories=HUKOU, zones=ZONES)).replace("0.5", "600000.125")
    )
    assert main(["allocate", str(path), "-o", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "applicants[0] (id 'p'), field 'keys.k': missing, or not a number" in err


def test_household_vacancy_round_fills_the_freed_quota_by_ranking():
    from allocation.operations import make_vacancy

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
