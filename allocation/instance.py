"""Read and validate an allocation instance (format `jifen.allocation/1`).

An instance is a header (header.py) and the applicant records (applicants.py), indexed in
sorted-id order, so that the order of the records in the file never changes the result.
Points and tie-break keys are kept as integer hundredths.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields

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
    rows_to_columns,
    typed_columns,
)
from .header import Header, InstanceError, read_header
from .ranking import lottery_numbers


@dataclass
class Instance(Header):
    header_doc: dict  # the document without its applicants, as read (for input_sha256)
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
    choice_flat: np.ndarray  # int64 the choices, one run (for the vectorised steps)
    lottery: np.ndarray  # int64 the published lottery number (ranking.py)
    vacancy: dict | None = None

    @property
    def n(self) -> int:
        return len(self.ids)


def make_instance(header: Header, header_doc: dict, cols: Columns, lottery=None) -> Instance:
    """The instance of a header and its applicants' columns in id order (with the lottery
    numbers of those applicants, if already made)."""
    own = {f.name: getattr(header, f.name) for f in fields(Header)}
    return Instance(
        **own,
        header_doc=header_doc,
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
        lottery=lottery_numbers(header.seed, cols.ids) if lottery is None else lottery,
        vacancy=header_doc.get("vacancy"),
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


def split_document(raw: bytes) -> tuple[dict, Header, memoryview] | None:
    """(the document without its applicants, its header, the applicant array's JSON text) of
    an instance file; None if it is not an object with an `applicants` member that reads
    simply, or its header has a problem."""
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
    header = read_header(doc, problems := [])
    return None if problems else (doc, header, apps)


def read_instance(raw: bytes) -> Instance | None:
    """The instance in `raw` by typed decoding, or None: then read it with loads() and
    parse_instance(), which give the same instance or name every problem.

    The applicant records are decoded straight into typed records (msgspec, applicants.py),
    checking the types as they are read; everything else is read by loads(). Typed decoding
    reads JSON exactly as json.loads does where both succeed (integers of any size included);
    wherever it fails, or anything is unusual, the ordinary path decides.
    """
    parts = split_document(raw)
    if parts is None:
        return None
    doc, header, apps = parts
    recs = decode_typed(apps, header)
    cols = None if recs is None else typed_columns(recs, record_ids(recs), header)
    del recs, apps
    got = None if cols is None else applicants_in_id_order(cols, header, doc.get("vacancy"))
    return None if got is None else make_instance(header, doc, got[0])


def applicants_in_id_order(cols: Columns, header: Header, vacancy) -> tuple | None:
    """(the columns in id order, that order) once the checks that need every record hold
    (no repeated id, no family in two zones, a vacancy round naming known applicants); None if
    one does not."""
    got = in_id_order(cols)
    if got is None or check_families(got[0].ids, got[0].cat, got[0].zone, got[0].family, header):
        return None
    if vacancy is not None and check_vacancy(vacancy, set(got[0].ids), header.school_index):
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
    header_doc = {k: v for k, v in doc.items() if k != "applicants"}
    got = None
    if not problems:
        cols = dict_columns(recs, header)
        got = None if cols is None else applicants_in_id_order(cols, header, doc.get("vacancy"))
    if got is None:
        got = _applicants_one_by_one(recs, header, problems)
        if doc.get("vacancy") is not None:
            ids = set(got[0].ids) if got else set()
            problems += check_vacancy(doc["vacancy"], ids, header.school_index)
    if problems:
        raise InstanceError(problems)
    return make_instance(header, header_doc, got[0])


def _applicants_one_by_one(recs: list, header: Header, problems: list[str]):
    """(the applicants in id order, None), read record by record by check_record; every
    problem is appended to `problems` (and then the result is None)."""
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


def check_vacancy(vac, ids: set[str], school_index: dict) -> list[str]:
    """The problems of a vacancy round's `vacancy` member (given the applicant ids)."""
    problems: list[str] = []
    if not isinstance(vac, dict):
        return ["field 'vacancy': must be an object / 必须是对象"]
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
    return problems


def input_sha256(inst: Instance) -> str:
    """SHA-256 of the normalised instance: what the allocation reads, independent of record order.

    Bytes hashed, in order: the canonical JSON of the document without `applicants` (record
    lists sorted by id); NUL; the applicant ids sorted, joined by LF; NUL; then, for applicants
    in id order, little-endian int64 arrays of zone index, category index, points in
    hundredths, tie-break keys in hundredths (row-major), eligible (0/1), accept_any (0/1);
    the family ids joined by LF (empty for none); the number of choices per applicant and the
    flattened choice school indices (indices are positions in the id-sorted record lists).
    """
    return digest(inst.header_doc, inst.ids, *digest_columns(inst))


def digest_columns(c: Instance | Columns) -> tuple:
    """The columns input_sha256 hashes after the ids (of an instance, or of its applicants'
    columns in id order)."""
    return (
        c.zone, c.cat, c.points, c.keys, c.eligible, c.accept_any, c.family, c.choice_counts,
        c.choice_flat,
    )  # fmt: skip


def digest(
    header_doc: dict, ids, zone, cat, points, keys, eligible, accept_any, family, counts, flat
) -> str:
    """input_sha256 of an instance given as its header document and columns in id order."""
    meta = dict(header_doc)
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
