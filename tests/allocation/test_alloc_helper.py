"""The helper process of large runs: reading in two pieces, explaining in two processes.

Whatever the helper does, or fails to do, the instance and the result bytes are those of the
one-process run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile

import numpy as np
import pytest

import allocation.instance as instance_mod
import allocation.result as result_mod
from allocation.generate import generate
from allocation.instance import (
    InstanceError,
    canonical_bytes,
    parse_instance,
    read_file,
    read_instance_in_pieces,
)
from allocation.ranking import lottery_numbers
from allocation.worker import Worker, WorkerError
from app.cli import main


def same_instance(a, b) -> None:
    for f in dataclasses.fields(a):
        if f.name == "lottery":
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


def compact(doc) -> bytes:
    """As `jifen instance generate` writes it."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def read_in_pieces(tmp_path, data: bytes, monkeypatch):
    monkeypatch.setattr(instance_mod, "SPLIT_MIN_BYTES", 0)
    path = tmp_path / "instance.json"
    path.write_bytes(data)
    raw, identity = read_file(str(path))
    with Worker() as worker:
        return read_instance_in_pieces(raw, str(path), identity, worker)


def whole(data: bytes):
    try:
        return parse_instance(json.loads(data))
    except InstanceError:
        return None


@pytest.mark.parametrize("layout", ["generated", "canonical"])
@pytest.mark.parametrize("seed", [1, 2])
def test_pieces_read_the_instance_the_whole_document_gives(tmp_path, monkeypatch, layout, seed):
    doc = generate(700, zones=3, schools=12, seed=seed, family_rate=0.2)
    data = canonical_bytes(doc) if layout == "canonical" else compact(doc)
    got = read_in_pieces(tmp_path, data, monkeypatch)
    assert got is not None
    want = parse_instance(doc)
    same_instance(got, want)
    assert got.lottery.tolist() == lottery_numbers(want.seed, want.ids).tolist()


def nested_doc(where: str) -> dict:
    doc = generate(60, zones=2, schools=4, seed=3, family_rate=0.0)
    apps = doc["applicants"]
    if where == "nested-array-first":
        apps[0]["extra"] = [{"a": 1}, {"b": [{"c": 2}]}]
    elif where == "nested-array-middle":
        apps[30]["extra"] = [{"a": 1}, {"b": 2}]
    elif where == "strings":
        apps[29]["id"] = 'x}],{"applicants":[},{'
        apps[31]["family"] = "}]"
    elif where == "second-key":
        doc["zz"] = 1
    elif where == "nested-key":
        doc["vacancy"] = {"admitted": {}, "withdrawn": [], "applicants": [{"a": 1}]}
    elif where == "bad-record-late":
        apps[50]["points"] = "lots"
    elif where == "bad-record-early":
        apps[2]["choices"] = ["no-such-school"]
    elif where == "duplicate-across-pieces":
        apps[55]["id"] = apps[1]["id"]
    return doc


VARIANTS = [
    "nested-array-first", "nested-array-middle", "strings", "second-key", "nested-key",
    "bad-record-late", "bad-record-early", "duplicate-across-pieces",
]  # fmt: skip


@pytest.mark.parametrize("where", VARIANTS)
def test_unusual_documents_give_the_same_instance_or_the_ordinary_path(
    tmp_path, monkeypatch, where
):
    doc = nested_doc(where)
    data = compact(doc)
    if where == "second-key":  # a second top-level "applicants": the last one counts
        data = data[:-1] + b',"applicants":[]}'
    got = read_in_pieces(tmp_path, data, monkeypatch)
    want = whole(data)
    if where.startswith(("bad-", "duplicate", "second")):
        assert got is None
    if got is not None:
        same_instance(got, want)


def test_whitespace_and_small_files_take_the_ordinary_path(tmp_path, monkeypatch):
    doc = generate(50, zones=2, schools=4, seed=4)
    assert read_in_pieces(tmp_path, json.dumps(doc, indent=1).encode(), monkeypatch) is None
    monkeypatch.undo()
    path = tmp_path / "small.json"
    path.write_bytes(compact(doc))
    raw, identity = read_file(str(path))
    with Worker() as worker:  # below SPLIT_MIN_BYTES
        assert read_instance_in_pieces(raw, str(path), identity, worker) is None


def _die(*args):
    os._exit(7)


def _fail(*args):
    raise RuntimeError("helper job failed")


@pytest.mark.parametrize("failure", [_die, _fail])
def test_a_failing_helper_changes_nothing_when_reading(tmp_path, monkeypatch, failure):
    doc = generate(400, zones=2, schools=6, seed=5, family_rate=0.1)
    monkeypatch.setattr(instance_mod, "_piece_columns_at", failure)
    got = read_in_pieces(tmp_path, compact(doc), monkeypatch)
    same_instance(got, parse_instance(doc))


def test_a_changed_file_is_not_read_by_the_helper(tmp_path):
    path = tmp_path / "i.json"
    path.write_bytes(b"[1]")
    _, identity = read_file(str(path))
    path.write_bytes(b"[1, 2]")
    assert instance_mod._piece_columns_at(str(path), 0, 3, identity, ()) is None


def test_worker_reports_errors_and_death():
    with Worker() as worker:
        worker.submit(_fail)
        with pytest.raises(WorkerError, match="helper job failed"):
            worker.result()
        worker.submit(len, [1, 2, 3])
        assert worker.result() == 3
        worker.submit(_die)
        with pytest.raises(WorkerError, match="went away"):
            worker.result()
        with pytest.raises(WorkerError):
            worker.submit(len, [])


@pytest.mark.parametrize("failure", [None, _die, _fail])
@pytest.mark.parametrize("seed", [6, 7])  # 6: a zone is re-solved with CP-SAT, 7: none is
def test_the_helper_writes_the_one_process_bytes(tmp_path, capsys, monkeypatch, failure, seed):
    doc = generate(3001, zones=3, schools=30, seed=seed, family_rate=0.2)
    inst = tmp_path / "i.json"
    inst.write_bytes(compact(doc))
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert main(["allocate", str(inst), "-o", str(one)]) == 0
    summary_one = capsys.readouterr().err
    monkeypatch.setattr(instance_mod, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(result_mod, "SPLIT_MIN", 2)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    if failure is not None:
        monkeypatch.setattr(result_mod, "_explain_in_helper", failure)
    assert main(["allocate", str(inst), "-o", str(two)]) == 0
    assert capsys.readouterr().err == summary_one
    assert two.read_bytes() == one.read_bytes()
    assert os.listdir(scratch) == []  # the helper's temporary files are gone
