"""Read and validate an allocation instance (format `jifen.allocation/1`).

An instance is a header (header.py) and the applicant records (applicants.py), indexed in
sorted-id order, so that the order of the records in the file never changes the result.
Points and tie-break keys are kept as integer hundredths.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any

import msgspec
import numpy as np
import orjson

from .applicants import (
    Columns,
    check_families,
    check_record,
    choice_lists,
    decode_typed,
    dict_columns,
    in_id_order,
    record_ids,
    reorder,
    rows_to_columns,
    typed_columns,
)
from .header import Header, InstanceError, read_header
from .ranking import lottery_numbers
from .worker import Bulky, WorkerError, keep, kept


@dataclass
class Instance(Header):
    ids: list[str]  # applicants sorted by id
    zone: np.ndarray  # int32
    cat: np.ndarray  # int32
    points: np.ndarray  # int64 hundredths
    keys: np.ndarray  # int64 hundredths, shape (n, len(tie_break))
    eligible: np.ndarray  # bool
    accept_any: np.ndarray  # bool
    family: list[str | None]
    choices: list[list[int]]  # school indices, in preference order
    choice_counts: np.ndarray  # int64 len(choices[a])
    choice_flat: np.ndarray  # int64 the choices, one run
    vacancy: dict | None = None
    canonical_sha256: str = ""
    lottery: np.ndarray | None = None  # lottery numbers in id order, if made while reading
    digest_job: Any = None  # (job, document): the helper computing canonical_sha256
    ids_in_helper: bool = False  # the helper process holds `ids` (see allocation/worker.py)

    @property
    def n(self) -> int:
        return len(self.ids)


def _instance(header: Header, cols: Columns, vacancy) -> Instance:
    """The instance of a header and its applicants' columns in id order."""
    own = {f.name: getattr(header, f.name) for f in fields(Header)}
    return Instance(
        **own,
        ids=cols.ids,
        zone=cols.zone,
        cat=cols.cat,
        points=cols.points,
        keys=cols.keys,
        eligible=cols.eligible,
        accept_any=cols.accept_any,
        family=cols.family,
        choices=choice_lists(cols.choice_counts, cols.choice_flat),
        choice_counts=cols.choice_counts,
        choice_flat=cols.choice_flat,
        vacancy=vacancy,
    )


def canonical_bytes(obj) -> bytes:
    """The one canonical serialisation used for hashes and for result files."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


_NOT_FAST = object()
_DIGITS = bytes(48 if 48 <= i < 58 else 32 for i in range(256))  # every digit -> "0"


def _fast_loads(raw: bytes):
    """orjson's reading of `raw` where it is certainly the same as json.loads', else _NOT_FAST.

    orjson rejects what json.loads would accept but is not strict JSON (NaN, Infinity, lone
    surrogates, a BOM, UTF-16, very deep nesting, out-of-range floats); json.loads then reads
    it (or reports the error) as before. The one difference on strict JSON is an integer
    beyond 64 bits, which orjson turns into a float: anything with a run of 19 or more
    digits goes to json.loads too.
    """
    if raw.translate(_DIGITS).find(b"0" * 19) >= 0:
        return _NOT_FAST
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _NOT_FAST


def load_json(path: str):
    return loads(read_file(path), path)


def read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InstanceError([f"cannot read {path}: {exc.strerror} / 无法读取文件"]) from None


def loads(raw: bytes, path: str):
    """The JSON document in `raw` (read from `path`), exactly as json.loads reads it."""
    doc = _fast_loads(raw)
    if doc is not _NOT_FAST:
        return doc
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InstanceError([f"{path}: malformed JSON: {exc} / JSON 格式错误"]) from None


def read_instance(raw: bytes, worker=None) -> Instance | None:
    """The instance in `raw` by typed decoding, or None: then read it with loads() and
    parse_instance(), which give the same instance or name every problem.

    The applicant records are decoded straight into typed records (msgspec), checking the
    types as they are read; everything else is read by loads(). Typed decoding reads JSON
    exactly as json.loads does where both succeed (integers of any size included); wherever
    it fails, or anything is unusual, the ordinary path decides. With a helper process
    (`worker`), the lottery numbers and the input digest are computed there meanwhile.
    """
    try:
        top = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
    except msgspec.DecodeError:  # malformed, or not an object: the ordinary path says which
        return None
    apps = top.pop("applicants", None)
    if apps is None:
        return None
    doc = {}
    for k, v in top.items():
        doc[k] = _fast_loads(bytes(v))
        if doc[k] is _NOT_FAST:
            return None
    problems: list[str] = []
    header = read_header(doc, problems)
    if problems:
        return None
    cols = _columns_in_two(raw, apps, header, worker) if worker is not None else None
    if cols is None:
        recs = decode_typed(apps, header)
        if recs is None:
            return None
        ids = record_ids(recs)
        lottery_job = _submit(worker, _lottery_in_helper, header.seed, ids)
        cols = typed_columns(recs, ids, header)
        del recs
    else:
        cols, lottery_job = cols
    del apps, top
    got = None if cols is None else _applicants_in_id_order(cols, header)
    if got is None:
        return None
    sorted_cols, order = got
    vac = doc.get("vacancy")
    if vac is not None:
        _check_vacancy(vac, set(sorted_cols.ids), header.school_index, problems)
        if problems:
            return None
    inst = _instance(header, sorted_cols, vac)
    counts, flat = inst.choice_counts, inst.choice_flat
    job = _submit(
        worker, _digest_in_helper, doc, order, *_digest_columns(inst), counts, flat, bulky=True
    )
    if job is None:
        inst.canonical_sha256 = _digest(doc, inst.ids, *_digest_columns(inst), counts, flat)
    else:
        inst.digest_job = (job, doc)
    if lottery_job is not None:
        with contextlib.suppress(WorkerError):
            inst.lottery = lottery_job.result()[order]
            # the helper keeps the ids it hashed, in file order: the same list if no sorting
            inst.ids_in_helper = bool((order == np.arange(len(order))).all())
    return inst


def _applicants_in_id_order(cols: Columns, header: Header) -> tuple[Columns, np.ndarray] | None:
    """The columns in id order and that order; None if an id repeats or a family spans
    several zones (the checks that need every record)."""
    got = in_id_order(cols)
    if got is None or check_families(got[0].ids, got[0].cat, got[0].zone, got[0].family, header):
        return None
    return got


def parse_instance(doc) -> Instance:
    """The instance in `doc` (the JSON document as json.loads reads it), or InstanceError
    naming every problem."""
    if not isinstance(doc, dict):
        raise InstanceError(["top level: must be a JSON object / 顶层必须是对象"])
    problems: list[str] = []
    header = read_header(doc, problems)
    recs = doc.get("applicants")
    if not isinstance(recs, list):
        problems.append("field 'applicants': must be a list / 必须是列表")
        recs = []
    got = None
    if not problems:
        cols = dict_columns(recs, header)
        got = None if cols is None else _applicants_in_id_order(cols, header)
    if got is None:
        got = _applicants_one_by_one(recs, header, problems)
    vac = doc.get("vacancy")
    if vac is not None:
        _check_vacancy(vac, set(got[0].ids) if got else set(), header.school_index, problems)
    if problems:
        raise InstanceError(problems)
    inst = _instance(header, got[0], vac)
    inst.canonical_sha256 = input_sha256(doc, inst)
    return inst


def _applicants_one_by_one(recs: list, header: Header, problems: list[str]):
    """The applicants in id order, read record by record by check_record; every problem is
    appended to `problems` (and then the result is None)."""
    rows, seen = [], set()
    for i, a in enumerate(recs):
        row = check_record(a, i, header)
        if isinstance(row, str):
            problems.append(row)
        elif row.id in seen:
            problems.append(f"applicants[{i}] (id '{row.id}'), field 'id': duplicate id / 编号重复")
        else:
            seen.add(row.id)
            rows.append(row)
    if problems:
        return None
    cols = rows_to_columns(sorted(rows, key=lambda r: r.id), header)
    problems.extend(check_families(cols.ids, cols.cat, cols.zone, cols.family, header))
    return None if problems else (cols, None)


PIECES_MIN_BYTES = 4_000_000  # applicant arrays from here on: the helper decodes half


def _columns_in_two(raw: bytes, apps, header: Header, worker):
    """(columns, lottery job): the applicant array decoded half here, half by the helper; None
    if that does not work out (then this process decodes it all).

    The array (already checked to be well-formed JSON) is cut at a '},{' near its middle. If
    '[' + first part + ']' and '[' + second part + ']' both decode, the cut was between two
    records: a cut inside a string or a nested value leaves a bracket or a quote unmatched.
    """
    n = len(apps)
    if n < PIECES_MIN_BYTES:
        return None
    start = np.frombuffer(apps, np.uint8).ctypes.data - np.frombuffer(raw, np.uint8).ctypes.data
    if not 0 <= start <= len(raw) - n:  # not a view of raw after all
        return None
    cut = raw.find(b"},{", start + n // 2, start + n)
    if cut < 0:
        return None
    second = b"".join((b"[", memoryview(raw)[cut + 2 : start + n]))
    job = _submit(worker, _piece_in_helper, header, second, bulky=True)
    del second
    if job is None:
        return None
    recs = decode_typed(b"".join((memoryview(raw)[start : cut + 1], b"]")), header)
    first = None if recs is None else typed_columns(recs, record_ids(recs), header)
    del recs
    try:
        second_cols = job.result()
    except WorkerError:
        return None
    if first is None or second_cols is None:
        return None
    lottery_job = _submit(worker, _lottery_in_helper, header.seed, first.ids, True)
    joined = {}
    for f in fields(Columns):
        v, w = getattr(first, f.name), getattr(second_cols, f.name)
        joined[f.name] = v + w if isinstance(v, list) else np.concatenate([v, w])
    return Columns(**joined), lottery_job


def _piece_in_helper(header: Header, piece: bytes):
    """In the helper: the columns of the second piece of the applicant array (or None)."""
    recs = decode_typed(piece, header)
    if recs is None:
        return None
    ids = record_ids(recs)
    cols = typed_columns(recs, ids, header)
    if cols is not None:
        keep("ids", ids)
    return Bulky(cols)


def _submit(worker, fn, *args, bulky: bool = False):
    if worker is None:
        return None
    try:
        return worker.submit(fn, *args, bulky=bulky)
    except WorkerError:
        return None


def _lottery_in_helper(seed: str, ids: list[str], before_kept: bool = False):
    """In the helper: the lottery numbers of `ids` (put before the ids of _piece_in_helper)."""
    if before_kept:
        ids = ids + kept("ids")
    keep("ids", ids)
    return Bulky(lottery_numbers(seed, ids))


def ids_kept_in_helper() -> list[str]:
    """In the helper: the ids of the applicants as read (see Instance.ids_in_helper)."""
    return kept("ids")


def _digest_in_helper(doc, order, *columns) -> str:
    return _digest(doc, reorder(kept("ids"), order.tolist()), *columns)


def _check_vacancy(vac, ids: set[str], school_index: dict, problems: list[str]) -> None:
    if not isinstance(vac, dict):
        problems.append("field 'vacancy': must be an object / 必须是对象")
        return
    kept = vac.get("admitted")
    if not isinstance(kept, dict):
        problems.append(
            "field 'vacancy.admitted': must be an object {applicant: school or null} / 必须是对象"
        )
    else:
        for aid, sid in sorted(kept.items()):
            if aid not in ids:
                problems.append(f"vacancy.admitted '{aid}': unknown applicant / 未知申请人")
            elif sid is not None and sid not in school_index:
                problems.append(f"vacancy.admitted '{aid}': unknown school {sid!r} / 未知学校")
    wd = vac.get("withdrawn", [])
    if not isinstance(wd, list) or not all(isinstance(w, str) for w in wd):
        problems.append(
            "field 'vacancy.withdrawn': must be a list of applicant ids / 必须是申请人编号列表"
        )
    else:
        for w in wd:
            if w not in ids:
                problems.append(f"vacancy.withdrawn '{w}': unknown applicant / 未知申请人")


def input_sha256(doc: dict, inst: Instance) -> str:
    """SHA-256 of the normalised instance: what the allocation reads, independent of record order.

    Bytes hashed, in order: the canonical JSON of the document without `applicants` (record
    lists sorted by id); NUL; the applicant ids sorted, joined by LF; NUL; then, for applicants
    in id order, little-endian int64 arrays of zone index, category index, points in
    hundredths, tie-break keys in hundredths (row-major), eligible (0/1), accept_any (0/1);
    the family ids joined by LF (empty for none); the number of choices per applicant and the
    flattened choice school indices (indices are positions in the id-sorted record lists).
    """
    return _digest(doc, inst.ids, *_digest_columns(inst), inst.choice_counts, inst.choice_flat)


def input_digest(inst: Instance) -> str:
    """inst.canonical_sha256, once the helper that computes it has answered."""
    if inst.digest_job is not None:
        (job, doc), inst.digest_job = inst.digest_job, None
        try:
            inst.canonical_sha256 = job.result()
        except WorkerError:
            inst.canonical_sha256 = input_sha256(doc, inst)
    return inst.canonical_sha256


def _digest_columns(inst: Instance) -> tuple:
    return (
        inst.zone, inst.cat, inst.points, inst.keys, inst.eligible, inst.accept_any, inst.family
    )  # fmt: skip


def _digest(doc, ids, zone, cat, points, keys, eligible, accept_any, family, counts, flat) -> str:
    """input_sha256 of columns in id order (counts and flat: the choices)."""
    meta = {k: v for k, v in doc.items() if k != "applicants"}
    for name in ("categories", "zones", "schools"):
        if isinstance(meta.get(name), list):
            meta[name] = sorted(meta[name], key=lambda r: r["id"])
    h = hashlib.sha256(canonical_bytes(meta))
    h.update(b"\0")
    h.update("\n".join(ids).encode())
    h.update(b"\0")
    for arr in (zone, cat, points, keys, eligible, accept_any):
        h.update(np.ascontiguousarray(arr, dtype="<i8").tobytes())
    h.update("\n".join(f or "" for f in family).encode())
    h.update(np.ascontiguousarray(counts, dtype="<i8").tobytes())
    h.update(np.ascontiguousarray(flat, dtype="<i8").tobytes())
    return h.hexdigest()
