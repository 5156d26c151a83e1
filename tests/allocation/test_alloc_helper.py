"""The helper process of large runs (allocation/helper.py) and the typed reading.

The one guarantee of the helper: a run shared with it gives the bytes of a run without it,
whatever the helper does or fails to do. Here both run on generated instances with every part
given to the helper (EVERY_PART), with each kind of job dying or failing in the helper, and a
normal run really uses every part. The typed reading gives the instance the ordinary reading
(json.loads, parse_instance) gives, or leaves the document to it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import tempfile

import numpy as np
import pytest

import allocation.helper as helper_mod
from allocation.generate import generate
from allocation.helper import EVERY_PART, Helper, HelperError, SharedRun
from allocation.instance import (
    InstanceError,
    canonical_bytes,
    input_sha256,
    parse_instance,
    read_instance,
)
from allocation.operations import allocate_to_file
from allocation.result import run_columns, serialise

ALL_PARTS = {"decode", "lottery", "digest", "zones", "explain"}


def same_instance(a, b) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


def compact(doc) -> bytes:
    """As `jifen instance generate` writes it."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def whole(data: bytes):
    """The ordinary reading: json.loads and parse_instance (None where that is an error)."""
    try:
        return parse_instance(json.loads(data))
    except (InstanceError, ValueError):
        return None


def alone(data: bytes) -> bytes:
    """The result file of a run in this process only."""
    result, assignments = run_columns(read_instance(data) or parse_instance(json.loads(data)))
    return serialise(result, assignments)


def shared(data: bytes, path) -> set[str]:
    """Write the result file of a run shared with a helper to `path` (as `jifen allocate -o`
    does, but with every part given to the helper); the parts it did."""
    source = path.with_suffix(".instance.json")
    source.write_bytes(data)
    return allocate_to_file(str(source), str(path), thresholds=EVERY_PART).helper_used


def _die(*args):
    os._exit(7)


def _fail(*args):
    raise RuntimeError("helper job failed")


def _no_copy_file_range(*args):
    raise OSError(18, "Invalid cross-device link")


JOBS = ["DecodeSecondHalf", "LotteryNumbers", "InputDigest", "PlaceZones", "ExplainTail"]
PARTS_OF = {
    "DecodeSecondHalf": {"decode"},
    "LotteryNumbers": {"lottery", "digest"},  # (the digest needs the ids the lottery keeps)
    "InputDigest": {"digest"},
    "PlaceZones": {"zones"},
    "ExplainTail": {"explain"},
}


@pytest.mark.parametrize(
    "seed,job,failure",
    [(6, None, None), (7, None, None)] + [(6, job, f) for job in JOBS for f in (_die, _fail)],
)  # seed 6: a zone is re-solved with CP-SAT, 7: none is
def test_a_shared_run_writes_the_bytes_of_a_run_alone(tmp_path, monkeypatch, seed, job, failure):
    data = compact(generate(3001, zones=3, schools=30, seed=seed, family_rate=0.2))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    if job is not None:
        monkeypatch.setattr(getattr(helper_mod, job), "run", failure)
    used = shared(data, tmp_path / "r.json")
    assert (tmp_path / "r.json").read_bytes() == alone(data)
    if job is None:
        assert used == ALL_PARTS
    elif failure is _fail:  # only that part is done here
        assert used == ALL_PARTS - PARTS_OF[job]
    else:  # the helper is gone: that part and every later one are done here
        assert not used & PARTS_OF[job] and "explain" not in used
    assert os.listdir(scratch) == []  # the helper's temporary files are gone


@pytest.mark.parametrize("policy", ["lottery", "admit_all", "reject_all"])
@pytest.mark.parametrize("shuffled", [False, True])
def test_every_tie_policy_and_record_order_give_the_same_bytes(tmp_path, policy, shuffled):
    # (two zones: too large to be re-solved with CP-SAT, which the test above does)
    doc = generate(4000, zones=2, schools=40, seed=8, family_rate=0.2, tie_policy=policy)
    if shuffled:  # ids out of order: the helper is sent the ids it explains
        random.Random(8).shuffle(doc["applicants"])
    data = compact(doc)
    assert shared(data, tmp_path / "r.json") == ALL_PARTS
    assert (tmp_path / "r.json").read_bytes() == alone(data)


def test_without_in_kernel_copy_or_temporary_files_the_bytes_are_the_same(tmp_path, monkeypatch):
    data = compact(generate(2000, zones=3, schools=20, seed=9, family_rate=0.1))
    monkeypatch.setattr(os, "copy_file_range", _no_copy_file_range)
    assert shared(data, tmp_path / "copied.json") == ALL_PARTS  # copied through memory
    assert (tmp_path / "copied.json").read_bytes() == alone(data)
    real = tempfile.mkstemp

    def no_space(*args, prefix=None, **kwargs):
        if prefix and prefix.startswith(("jifen-part-", "jifen-helper-")):
            raise OSError(28, "No space left on device")
        return real(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", no_space)  # nothing can go to the helper
    assert shared(data, tmp_path / "here.json") <= {"lottery"}
    assert (tmp_path / "here.json").read_bytes() == alone(data)


@pytest.mark.parametrize("layout", ["generated", "canonical", "indented"])
@pytest.mark.parametrize("seed", [1, 2])
def test_typed_reading_gives_the_instance_the_ordinary_reading_gives(layout, seed):
    doc = generate(700, zones=3, schools=12, seed=seed, family_rate=0.2)
    data = {
        "generated": compact(doc),
        "canonical": canonical_bytes(doc),
        "indented": json.dumps(doc, indent=2).encode(),
    }[layout]
    want = parse_instance(doc)
    same_instance(read_instance(data), want)
    with Helper() as helper:
        run = SharedRun(helper, EVERY_PART)
        same_instance(run.read(data), want)
        assert run.input_sha256(want) == input_sha256(want)
    # no '},{' between indented records: then the helper does not decode half
    assert run.used == ({"lottery", "digest"} | ({"decode"} if layout != "indented" else set()))


def variant(where: str) -> bytes:
    doc = generate(60, zones=2, schools=4, seed=3, family_rate=0.2)
    apps = doc["applicants"]
    school_app = next(a for a in apps if a["choices"])
    household_app = next(a for a in apps if a["category"] == "hukou")
    elsewhere = next(  # a school applicant of the same category in another zone
        a for a in apps
        if a.get("choices") and a["category"] == school_app["category"]
        and a["zone"] != school_app["zone"]
    )  # fmt: skip
    edits = {
        "extra-fields": lambda: (
            apps[0].update(extra=[{"a": 1}, {"b": [{"c": 2}]}]),
            doc.update(note={"x": [1, 2]}),
        ),
        "strings": lambda: (
            apps[3].update(id='x}],{"applicants":[},{\u2028末'),
            school_app.update(family='f"\\'),
        ),
        "ineligible-without-keys": lambda: apps[4].update(eligible=False, keys={}),
        "keys-null-values": lambda: apps[4].update(
            eligible=False, keys={k: None for k in doc["tie_break"]}
        ),
        "two-decimals": lambda: apps[5].update(points=80.25),
        "shuffled": lambda: apps.reverse(),
        "vacancy": lambda: doc.update(
            vacancy={"admitted": {apps[0]["id"]: None}, "withdrawn": [apps[1]["id"]]}
        ),
        "bad-points": lambda: apps[50].update(points="lots"),
        "bad-three-decimals": lambda: apps[50].update(points=80.125),
        "bad-near-two-decimals": lambda: apps[50].update(points=2.0999999999999996),
        "bad-negative": lambda: apps[50].update(points=-1),
        "bad-bool-points": lambda: apps[50].update(points=True),
        "bad-school": lambda: school_app.update(choices=["no-such-school"]),
        "bad-household-choices": lambda: household_app.update(choices=[doc["schools"][0]["id"]]),
        "bad-duplicate-id": lambda: apps[55].update(id=apps[1]["id"]),
        "bad-duplicate-id-in-order": lambda: apps[2].update(id=apps[1]["id"]),
        "bad-empty-id": lambda: apps[7].update(id=""),
        "bad-keys-null": lambda: apps[8].update(keys=None),
        "bad-eligible-null": lambda: apps[8].update(eligible=None),
        "bad-missing-key": lambda: apps[8].update(eligible=True, keys={}),
        "bad-empty-family": lambda: school_app.update(family=""),
        "bad-family-in-two-zones": lambda: (
            school_app.update(family="F-two"),
            elsewhere.update(family="F-two"),
        ),
        "bad-unknown-zone": lambda: apps[9].update(zone="atlantis"),
        "bad-vacancy": lambda: doc.update(vacancy={"admitted": {"nobody": None}}),
        "bad-format": lambda: doc.update(format="other/1"),
    }
    if where in edits:
        edits[where]()
    data = compact(doc)
    if where == "big-integer":  # json.loads reads it exactly; so must the typed reading
        data = data.replace(b'"points":', b'"was":1234567890123456789012,"points":', 1)
    elif where == "bad-big-points":
        data = data.replace(b'"points":', b'"points":1234567890123456789012,"was":', 1)
    elif where == "bad-huge-points":
        data = data.replace(b'"points":', b'"points":1' + b"0" * 400 + b',"was":', 1)
    elif where == "duplicate-key":  # in a record and at the top: the last one counts
        data = data.replace(b'"points":', b'"points":1,"points":', 3)
        data = data[:-1] + b',"applicants":' + compact(apps[:5]) + b"}"
    elif where == "bad-nan":
        data = data.replace(b'"points":', b'"points":NaN,"x":', 1)
    elif where == "bad-lone-surrogate":
        data = data.replace(b'"id":"', b'"id":"\\ud800', 1)
    elif where == "bad-not-object":
        data = b"[" + data + b"]"
    elif where == "bad-truncated":
        data = data[:-2]
    return data


GOOD = [
    "extra-fields", "strings", "ineligible-without-keys", "keys-null-values", "two-decimals",
    "vacancy", "big-integer", "duplicate-key", "shuffled",
]  # fmt: skip
BAD = [
    "bad-points", "bad-three-decimals", "bad-near-two-decimals", "bad-negative",
    "bad-bool-points", "bad-school", "bad-household-choices", "bad-duplicate-id",
    "bad-duplicate-id-in-order", "bad-empty-id", "bad-keys-null", "bad-eligible-null",
    "bad-missing-key", "bad-empty-family", "bad-family-in-two-zones", "bad-unknown-zone",
    "bad-vacancy", "bad-format", "bad-nan", "bad-lone-surrogate", "bad-not-object",
    "bad-truncated", "bad-big-points", "bad-huge-points",
]  # fmt: skip


def typed(data: bytes, helped: bool):
    if not helped:
        return read_instance(data)
    with Helper() as helper:
        return SharedRun(helper, EVERY_PART).read(data)


@pytest.mark.parametrize("helped", [False, True])
@pytest.mark.parametrize("where", GOOD)
def test_unusual_valid_documents_read_the_same(where, helped):
    data = variant(where)
    want = whole(data)
    assert want is not None
    same_instance(typed(data, helped), want)


@pytest.mark.parametrize("helped", [False, True])
@pytest.mark.parametrize("where", BAD)
def test_invalid_documents_are_left_to_the_ordinary_path(where, helped):
    """The ordinary path names the problems; the typed reading never accepts what it rejects."""
    data = variant(where)
    assert whole(data) is None
    assert typed(data, helped) is None
    if where.endswith("-points"):
        with pytest.raises(InstanceError, match="field 'points': must be a number from 0 to"):
            parse_instance(json.loads(data))


@dataclasses.dataclass
class Length:
    bulky_args = False
    bulky_result = False
    items: list

    def run(self, memory):
        return len(self.items)


@dataclasses.dataclass
class BulkySum(Length):
    bulky_args = True
    bulky_result = True

    def run(self, memory):
        return sum(self.items)


@dataclasses.dataclass
class Failing(Length):
    def run(self, memory):
        raise RuntimeError("helper job failed")


@dataclasses.dataclass
class Dying(Length):
    def run(self, memory):
        os._exit(7)


def test_the_helper_runs_jobs_in_order_and_reports_errors_and_death():
    with Helper() as helper:
        failed = helper.submit(Failing([]))
        three = helper.submit(Length([1, 2, 3]))
        big = helper.submit(BulkySum(list(range(100_000))))
        assert three.result() == 3  # results arrive in order; the earlier ones are kept
        assert big.result() == sum(range(100_000))
        with pytest.raises(HelperError, match="helper job failed"):
            failed.result()
        died = helper.submit(Dying([]))
        after = helper.submit(Length([]))
        with pytest.raises(HelperError, match="went away"):
            after.result()
        with pytest.raises(HelperError, match="went away"):
            died.result()
        with pytest.raises(HelperError):
            helper.submit(Length([]))
