"""The fast readings of the applicant records follow the one definition, check_record.

Records are drawn with every field valid, invalid or missing; the vectorised reading of dicts
(dict_columns) and of JSON text (decode_typed + typed_columns) must give exactly the columns of
the records read one by one, or leave them to check_record (None), and must leave them whenever
check_record finds a problem.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from allocation.applicants import (
    check_record,
    decode_typed,
    dict_columns,
    hundredths,
    hundredths_column,
    record_ids,
    rows_to_columns,
    typed_columns,
)
from allocation.header import read_header

HEADER = read_header(
    {
        "format": "jifen.allocation/1",
        "seed": "s",
        "tie_break": ["k1", "k2"],
        "categories": [
            {"id": "hh", "kind": "household", "total": 1},
            {"id": "sc", "kind": "school", "total": 1},
        ],
        "zones": [{"id": "z1"}, {"id": "z2"}],
        "schools": [
            {"id": "s1", "zone": "z1", "category": "sc", "seats": 1},
            {"id": "s2", "zone": "z1", "category": "sc", "seats": 1},
            {"id": "s3", "zone": "z2", "category": "sc", "seats": 1},
        ],
    },
    [],
)

VALID_AMOUNTS = st.one_of(st.integers(0, 300), st.decimals(0, 300, places=2).map(float))
NEAR_MISSES = st.tuples(VALID_AMOUNTS, st.sampled_from([math.inf, -math.inf])).map(
    lambda t: math.nextafter(*t)
)  # one ulp from a two-decimal double: within any tolerance, yet not two decimals
AMOUNTS = st.one_of(  # mostly valid: the fast readings must then agree value for value
    VALID_AMOUNTS,
    VALID_AMOUNTS,
    VALID_AMOUNTS,
    NEAR_MISSES,
    st.integers(-10, -1),
    st.integers(10**12 - 1, 10**12 + 1),
    st.integers(2**63, 2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([600000.125, 80.125, 2.0999999999999996, 1e12, 1e12 + 0.01, -0.0]),
    st.sampled_from([True, None, "80", [1]]),
)
MISSING = object()
IDS = st.sampled_from(["a", "b", "c", "d", "e", "a", "b", "c", "d", "e", "", 7, None])
ZONES = st.sampled_from(["z1", "z2", "z1", "z2", "z9", 3, None])
CATEGORIES = st.sampled_from(["hh", "sc", "sc", "sc", "xx", None])
FLAGS = st.sampled_from([True, False, True, False, None, 1, MISSING, MISSING])
KEYS = st.one_of(
    st.fixed_dictionaries({"k1": AMOUNTS, "k2": AMOUNTS}),
    st.fixed_dictionaries({"k1": AMOUNTS, "k2": AMOUNTS}),
    st.fixed_dictionaries({}, optional={"k1": AMOUNTS, "k2": AMOUNTS}),
    st.sampled_from([None, [], "k", MISSING]),
)
CHOICES = st.one_of(
    st.lists(st.sampled_from(["s1", "s2", "s3", "s1", "s2", "s3", "s9", 5]), max_size=3),
    st.sampled_from([None, "s1", MISSING, MISSING]),
)
FAMILIES = st.sampled_from(["F1", "F2", "", None, 3, MISSING, MISSING, MISSING])


@st.composite
def record(draw):
    fields = {
        "id": draw(IDS),
        "zone": draw(ZONES),
        "category": draw(CATEGORIES),
        "points": draw(st.one_of(AMOUNTS, st.just(MISSING))),
        "eligible": draw(FLAGS),
        "keys": draw(KEYS),
        "choices": draw(CHOICES),
        "accept_any_in_zone": draw(FLAGS),
        "family": draw(FAMILIES),
    }
    return {k: v for k, v in fields.items() if v is not MISSING}


@st.composite
def valid_record(draw):
    zone, category = draw(st.sampled_from(["z1", "z2"])), draw(st.sampled_from(["hh", "sc"]))
    schools = {"z1": ["s1", "s2"], "z2": ["s3"]}[zone] if category == "sc" else []
    fields = {
        "id": draw(st.sampled_from(["a", "b", "c", "d", "e"])),
        "zone": zone,
        "category": category,
        "points": draw(VALID_AMOUNTS),
        "eligible": draw(st.sampled_from([True, False, MISSING])),
        "keys": {"k1": draw(VALID_AMOUNTS), "k2": draw(VALID_AMOUNTS)},
        "choices": draw(st.one_of(st.permutations(schools), st.just(MISSING))),
        "accept_any_in_zone": draw(st.sampled_from([True, False, MISSING])),
        "family": draw(st.sampled_from(["F1", None, MISSING])),
    }
    return {k: v for k, v in fields.items() if v is not MISSING}


INVALID = st.one_of(
    NEAR_MISSES,
    NEAR_MISSES,
    st.integers(-10, -1),
    st.integers(10**12 + 1, 2**64),
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: hundredths(v) is None),
    st.sampled_from([600000.125, 80.125, 2.0999999999999996, 1e12 + 0.01, True, None, "80"]),
)
ANY_VALUE = {  # per field: values that are (mostly) not valid there
    "id": st.sampled_from(["", 7, None, ["a"]]),
    "zone": st.sampled_from(["z9", 3, None, ["z1"]]),
    "category": st.sampled_from(["xx", None, 5]),
    "points": INVALID,
    "eligible": st.sampled_from([None, 1, "yes"]),
    "keys": st.one_of(st.sampled_from([None, [], "k", {}]),
                      st.fixed_dictionaries({"k1": INVALID, "k2": VALID_AMOUNTS})),
    "choices": st.sampled_from([None, "s1", ["s9"], [5], ["s1", "s1"], ["s3"], ["s1"], ["s2"]]),
    "accept_any_in_zone": st.sampled_from([None, 0, "y"]),
    "family": st.sampled_from(["", 3, ["F"]]),
}  # fmt: skip


@st.composite
def nearly_valid_record(draw):
    """A valid record with one field changed to a value that is mostly not valid there (or
    left out)."""
    rec = draw(valid_record())
    name = draw(st.sampled_from(sorted(ANY_VALUE)))
    value = draw(st.one_of(ANY_VALUE[name], ANY_VALUE[name], st.just(MISSING)))
    rec.pop(name, None)
    return rec if value is MISSING else {**rec, name: value}


RECORDS = st.lists(
    st.one_of(valid_record(), valid_record(), nearly_valid_record(), record()), max_size=4
)


def same_columns(got, want) -> None:
    for f in dataclasses.fields(want):
        x, y = getattr(got, f.name), getattr(want, f.name)
        if isinstance(y, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


def one_by_one(recs):
    rows = [check_record(a, i, HEADER) for i, a in enumerate(recs)]
    if any(isinstance(r, str) for r in rows):
        return None
    return rows_to_columns(rows, HEADER)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS)
def test_dict_columns_read_records_as_check_record_does(recs):
    want, got = one_by_one(recs), dict_columns(recs, HEADER)
    if want is None:
        assert got is None
    elif got is not None:
        event("read as columns")
        same_columns(got, want)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS)
def test_typed_columns_read_records_as_check_record_does(recs):
    text = json.dumps(recs).encode()  # NaN and Infinity are not JSON: decode_typed refuses
    want, decoded = one_by_one(json.loads(text)), decode_typed(text, HEADER)
    got = None if decoded is None else typed_columns(decoded, record_ids(decoded), HEADER)
    if want is None:
        assert got is None
    elif got is not None:
        same_columns(got, want)


def test_valid_records_are_read_fast():
    """The fast readings do not give up on plain valid records (else they would be no use)."""
    recs = [
        {"id": "a", "zone": "z1", "category": "sc", "points": 80.25,
         "keys": {"k1": 3, "k2": 0.5}, "choices": ["s2", "s1"], "family": "F"},
        {"id": "b", "zone": "z2", "category": "hh", "points": 70, "keys": {"k1": 1, "k2": 2}},
        {"id": "c", "zone": "z2", "category": "sc", "points": 0, "eligible": False},
    ]  # fmt: skip
    want = one_by_one(recs)
    assert want.points.tolist() == [8025, 7000, 0] and want.keys.tolist()[0] == [300, 50]
    same_columns(dict_columns(recs, HEADER), want)
    text = json.dumps(recs).encode()
    decoded = decode_typed(text, HEADER)
    same_columns(typed_columns(decoded, record_ids(decoded), HEADER), want)


@given(AMOUNTS)
def test_the_column_rule_for_amounts_is_the_one_rule(v):
    h, col = hundredths(v), hundredths_column([v])
    assert (None if col is None else col.tolist()) == (None if h is None else [h])
