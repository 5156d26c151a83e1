"""Typed reading of instances, and the helper process of large runs.

The typed reading gives the instance the ordinary reading (json.loads, parse_instance) gives,
or leaves the document to it. Whatever the helper does, or fails to do, the instance and the
result bytes are those of the one-process run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import tempfile

import numpy as np
import pytest

import allocation.cli as cli_mod
import allocation.engine as engine_mod
import allocation.instance as instance_mod
import allocation.result as result_mod
from allocation.generate import generate
from allocation.instance import (
    InstanceError,
    canonical_bytes,
    input_digest,
    parse_instance,
    read_instance,
)
from allocation.ranking import lottery_numbers
from allocation.worker import Worker, WorkerError
from app.cli import main


def same_instance(a, b) -> None:
    for f in dataclasses.fields(a):
        if f.name in ("lottery", "digest_job", "ids_in_helper"):
            continue
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


def typed(data: bytes, worker=None):
    inst = read_instance(data, worker)
    if inst is not None:
        input_digest(inst)
    return inst


@pytest.fixture
def in_two(monkeypatch):
    """Even small applicant arrays are decoded half by the helper."""
    monkeypatch.setattr(instance_mod, "PIECES_MIN_BYTES", 0)


@pytest.mark.parametrize("layout", ["generated", "canonical", "indented"])
@pytest.mark.parametrize("seed", [1, 2])
def test_typed_reading_gives_the_instance_the_ordinary_reading_gives(
    layout, seed, in_two, monkeypatch
):
    doc = generate(700, zones=3, schools=12, seed=seed, family_rate=0.2)
    data = {
        "generated": compact(doc),
        "canonical": canonical_bytes(doc),
        "indented": json.dumps(doc, indent=2).encode(),
    }[layout]
    want = parse_instance(doc)
    same_instance(typed(data), want)
    split = []
    in_two_pieces = instance_mod._columns_in_two

    def spy(*args):
        columns = in_two_pieces(*args)
        split.append(columns is not None)
        return columns

    monkeypatch.setattr(instance_mod, "_columns_in_two", spy)
    with Worker() as worker:
        got = read_instance(data, worker)
        job, _ = got.digest_job
        assert job.result() == want.canonical_sha256  # made by the helper
        input_digest(got)
    same_instance(got, want)
    assert got.lottery.tolist() == lottery_numbers(want.seed, want.ids).tolist()
    assert split == [layout != "indented"]  # no '},{' between indented records


def variant(where: str) -> bytes:
    doc = generate(60, zones=2, schools=4, seed=3, family_rate=0.2)
    apps = doc["applicants"]
    school_app = next(a for a in apps if a["choices"])
    household_app = next(a for a in apps if a["category"] == "hukou")
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
    "bad-points", "bad-three-decimals", "bad-negative", "bad-bool-points", "bad-school",
    "bad-household-choices", "bad-duplicate-id", "bad-duplicate-id-in-order", "bad-empty-id",
    "bad-keys-null",
    "bad-eligible-null", "bad-missing-key", "bad-empty-family", "bad-unknown-zone",
    "bad-vacancy", "bad-format", "bad-nan", "bad-lone-surrogate", "bad-not-object",
    "bad-truncated", "bad-big-points", "bad-huge-points",
]  # fmt: skip


@pytest.mark.parametrize("helper", [False, True])
@pytest.mark.parametrize("where", GOOD)
def test_unusual_valid_documents_read_the_same(where, helper, in_two):
    data = variant(where)
    want = whole(data)
    assert want is not None
    with Worker() as worker:
        same_instance(typed(data, worker if helper else None), want)


@pytest.mark.parametrize("helper", [False, True])
@pytest.mark.parametrize("where", BAD)
def test_invalid_documents_are_left_to_the_ordinary_path(where, helper, in_two):
    """The ordinary path names the problems; the typed reading never accepts what it rejects."""
    data = variant(where)
    assert whole(data) is None
    with Worker() as worker:
        assert typed(data, worker if helper else None) is None
    if where.endswith("-points"):
        with pytest.raises(InstanceError, match="field 'points': must be a number from 0 to"):
            parse_instance(json.loads(data))


def _die(*args):
    os._exit(7)


def _fail(*args):
    raise RuntimeError("helper job failed")


@pytest.mark.parametrize("job", ["_piece_in_helper", "_lottery_in_helper", "_digest_in_helper"])
@pytest.mark.parametrize("failure", [_die, _fail])
def test_a_failing_helper_changes_nothing_when_reading(monkeypatch, job, failure, in_two):
    doc = generate(400, zones=2, schools=6, seed=5, family_rate=0.1)
    monkeypatch.setattr(instance_mod, job, failure)
    with Worker() as worker:
        got = typed(compact(doc), worker)
    want = parse_instance(doc)
    same_instance(got, want)
    if got.lottery is not None:
        assert got.lottery.tolist() == lottery_numbers(doc["seed"], want.ids).tolist()


def test_worker_runs_jobs_in_order_and_reports_errors_and_death():
    with Worker() as worker:
        failed = worker.submit(_fail)
        three = worker.submit(len, [1, 2, 3])
        big = worker.submit(sum, list(range(100_000)), bulky=True)
        assert three.result() == 3  # results arrive in order; the earlier ones are kept
        assert big.result() == sum(range(100_000))
        with pytest.raises(WorkerError, match="helper job failed"):
            failed.result()
        died = worker.submit(_die)
        after = worker.submit(len, [])
        with pytest.raises(WorkerError, match="went away"):
            after.result()
        with pytest.raises(WorkerError, match="went away"):
            died.result()
        with pytest.raises(WorkerError):
            worker.submit(len, [])


def _no_copy_file_range(*args):
    raise OSError(18, "Invalid cross-device link")


_mkstemp = tempfile.mkstemp


def _no_temporary_files(*args, prefix=None, **kwargs):
    if prefix and prefix.startswith(("jifen-part-", "jifen-helper-")):
        raise OSError(28, "No space left on device")
    return _mkstemp(*args, prefix=prefix, **kwargs)


@pytest.mark.parametrize(
    "failure", [None, _die, _fail, _no_copy_file_range, _no_temporary_files, "shuffled"]
)
@pytest.mark.parametrize("seed", [6, 7])  # 6: a zone is re-solved with CP-SAT, 7: none is
def test_the_helper_writes_the_one_process_bytes(tmp_path, capsys, monkeypatch, failure, seed):
    doc = generate(3001, zones=3, schools=30, seed=seed, family_rate=0.2)
    if failure == "shuffled":  # ids out of order: the helper is sent the ids it explains
        random.Random(seed).shuffle(doc["applicants"])
    inst = tmp_path / "i.json"
    inst.write_bytes(compact(doc))
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert main(["allocate", str(inst), "-o", str(one)]) == 0
    summary_one = capsys.readouterr().err
    monkeypatch.setattr(cli_mod, "HELPER_MIN_BYTES", 0)
    monkeypatch.setattr(instance_mod, "PIECES_MIN_BYTES", 0)
    monkeypatch.setattr(engine_mod, "ZONES_IN_HELPER_MIN", 0)
    monkeypatch.setattr(result_mod, "SPLIT_MIN", 2)
    shared = []
    share = engine_mod._share_zones

    def spy_share(zones, worker):
        mine, theirs = share(zones, worker)
        shared.append(len(theirs))
        return mine, theirs

    monkeypatch.setattr(engine_mod, "_share_zones", spy_share)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    if failure is _no_copy_file_range:  # the helper's part is then copied through memory
        monkeypatch.setattr(os, "copy_file_range", failure)
    elif failure is _no_temporary_files:  # nothing can go to the helper: all done here
        monkeypatch.setattr(tempfile, "mkstemp", failure)
    elif callable(failure):
        monkeypatch.setattr(result_mod, "_explain_in_helper", failure)
        monkeypatch.setattr(engine_mod, "_place_in_helper", failure)
    helped = []
    join = result_mod.HelperColumns._join

    def spy(self):
        join(self)
        helped.append(self.tail is None)  # the helper's part was used

    monkeypatch.setattr(result_mod.HelperColumns, "_join", spy)
    assert main(["allocate", str(inst), "-o", str(two)]) == 0
    if failure in (_die, _fail, _no_temporary_files):
        assert not any(helped)
    else:
        assert helped and all(helped)
    if failure is not _no_temporary_files:  # (without files the helper is given up at once)
        assert shared and shared[0] > 0  # the helper was offered school zones to place
    assert capsys.readouterr().err == summary_one
    assert two.read_bytes() == one.read_bytes()
    assert os.listdir(scratch) == []  # the helper's temporary files are gone


@pytest.mark.parametrize("policy", ["lottery", "admit_all", "reject_all"])
def test_zones_placed_by_the_helper_give_the_same_outcome(monkeypatch, policy):
    from allocation.engine import allocate_outcome

    doc = generate(4000, zones=4, schools=40, seed=8, family_rate=0.2, tie_policy=policy)
    alone = allocate_outcome(parse_instance(doc))
    monkeypatch.setattr(engine_mod, "ZONES_IN_HELPER_MIN", 0)
    jobs = []
    submit = engine_mod._submit_zones

    def spy(*args):
        jobs.append(submit(*args))
        return jobs[-1]

    monkeypatch.setattr(engine_mod, "_submit_zones", spy)
    with Worker() as worker:
        helped = allocate_outcome(parse_instance(doc), worker=worker)
        assert jobs and jobs[0].result() is not None  # the helper's placements were used
    for name in ("school", "admitted", "choice_rank", "zone_rank", "level", "pos"):
        assert np.array_equal(getattr(alone, name), getattr(helped, name)), name
    for name in ("placement", "remaining", "closed_school", "closed_zone", "quotas"):
        assert getattr(alone, name) == getattr(helped, name), name
