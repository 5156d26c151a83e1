"""Read and validate an allocation instance (format `jifen.allocation/1`).

Everything is indexed in sorted-id order, so that the order of the records in the file never
changes the result. Points and tie-break keys are kept as integer hundredths.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from dataclasses import dataclass, field
from itertools import chain, islice, repeat
from operator import attrgetter, itemgetter, lt
from typing import Any, Literal

import msgspec
import numpy as np
import orjson

from .ranking import lottery_numbers
from .worker import Bulky, WorkerError, keep, kept

FORMAT = "jifen.allocation/1"
TIE_POLICIES = ("lottery", "admit_all", "reject_all")
METHODS = ("hamilton", "sainte-lague", "dhondt", "min-max-deviation")
BASES = ("demand", "weight")
KINDS = ("household", "school")
MAX_ERRORS = 20


class InstanceError(ValueError):
    """A bad instance. The message names every bad record and field (English and Chinese)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        more = ""
        if len(problems) > MAX_ERRORS:
            k = len(problems) - MAX_ERRORS
            more = f"\n… and {k} more problems / 另有 {k} 处问题"
        super().__init__(
            "invalid allocation instance / 分配实例无效:\n"
            + "\n".join("  - " + p for p in problems[:MAX_ERRORS])
            + more
        )


@dataclass
class Instance:
    year: Any
    seed: str
    tie_break: list[str]
    tie_policy: str
    method: str
    basis: str
    categories: list[dict]  # sorted by id
    zones: list[dict]  # sorted by id
    schools: list[dict]  # sorted by id
    cat_index: dict[str, int]
    zone_index: dict[str, int]
    school_index: dict[str, int]
    school_zone: np.ndarray  # int32 per school
    school_cat: np.ndarray  # int32 per school
    school_seats: np.ndarray  # int64 per school
    ids: list[str]  # applicants sorted by id
    zone: np.ndarray  # int32
    cat: np.ndarray  # int32
    points: np.ndarray  # int64 hundredths
    keys: np.ndarray  # int64 hundredths, shape (n, len(tie_break))
    eligible: np.ndarray  # bool
    accept_any: np.ndarray  # bool
    family: list[str | None]
    choices: list[list[int]]  # school indices, in preference order
    vacancy: dict | None = None
    canonical_sha256: str = ""
    extra: dict = field(default_factory=dict)
    choice_counts: np.ndarray | None = None  # len(choices[a]), if made while reading
    choice_flat: np.ndarray | None = None  # the choices, one run (int64)
    lottery: np.ndarray | None = None  # lottery numbers in id order, if made while reading
    digest_job: Any = None  # (job, document): the helper computing canonical_sha256
    ids_in_helper: bool = False  # the helper process holds `ids` (see allocation/worker.py)

    @property
    def n(self) -> int:
        return len(self.ids)


def _is_number(v) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and math.isfinite(v))


MAX_NUMBER = 10**12  # points and keys: far above any real figure, exact in hundredths


def to_hundredths(v) -> int | None:
    """Exact integer hundredths of a JSON number with at most two decimals, else None."""
    if not _is_number(v) or abs(v) > MAX_NUMBER:
        return None
    if isinstance(v, int):
        return v * 100
    h = round(v * 100)
    if abs(v * 100 - h) > 1e-6 * max(1.0, abs(v)):
        return None
    return int(h)


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


def _one_of(ids: list[str]):
    return Literal[tuple(ids)] if ids else str


def _applicant_decoder(meta: dict) -> msgspec.json.Decoder:
    """A decoder of the applicant array into typed records (ids of known zones, categories and
    schools come out as the one shared string each, so a million records make few objects)."""
    tie_break = meta["tie_break"]
    slots = [f"k{j}" for j in range(len(tie_break))]  # key names need not be identifiers
    keys = msgspec.defstruct(
        "Keys",
        [(s, int | float | None, None) for s in slots],
        rename=dict(zip(slots, tie_break, strict=True)),
        gc=False,
    )
    applicant = msgspec.defstruct(
        "Applicant",
        [
            ("id", str),
            ("zone", _one_of([z["id"] for z in meta["zones"]])),
            ("category", _one_of([c["id"] for c in meta["categories"]])),
            ("points", int | float),
            ("keys", keys, msgspec.field(default_factory=keys)),
            ("eligible", bool, True),
            ("choices", list[_one_of([s["id"] for s in meta["schools"]])], []),
            ("accept_any_in_zone", bool, False),
            ("family", str | None, None),
        ],
        gc=False,
    )
    return msgspec.json.Decoder(list[applicant])


def _struct_columns(recs: list, ids: list[str], ctx: tuple) -> dict | None:
    """_columns of records decoded by _applicant_decoder (`ids`: their ids)."""
    kvs = list(map(attrgetter("keys"), recs))
    return _columns(
        len(recs),
        ids,
        map(attrgetter("zone"), recs),
        map(attrgetter("category"), recs),
        list(map(attrgetter("points"), recs)),
        list(map(attrgetter("eligible"), recs)),
        [list(map(attrgetter(f"k{j}"), kvs)) for j in range(len(ctx[0]))],
        list(map(attrgetter("accept_any_in_zone"), recs)),
        list(map(attrgetter("family"), recs)),
        list(map(attrgetter("choices"), recs)),
        ctx,
    )


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
    meta = _check_meta(doc, problems)
    if problems:
        return None
    ctx = _context(meta)
    cols = _columns_in_two(raw, apps, meta, ctx, worker) if worker is not None else None
    if cols is None:
        try:
            recs = _applicant_decoder(meta).decode(apps)
        except msgspec.DecodeError:
            return None
        ids = list(map(attrgetter("id"), recs))
        lottery_job = _submit(worker, _lottery_in_helper, meta["seed"], ids)
        cols = _struct_columns(recs, ids, ctx)
        del recs
    else:
        cols, lottery_job = cols
    del apps, top
    fast = None if cols is None else _in_id_order(cols)
    if fast is None:
        return None
    vac = doc.get("vacancy")
    if vac is not None:
        _check_vacancy(vac, set(fast["ids"]), meta["school_index"], problems)
        if problems:
            return None
    order, counts, flat = fast.pop("order"), fast["choice_counts"], fast["choice_flat"]
    inst = Instance(**meta, vacancy=vac, **fast)
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


PIECES_MIN_BYTES = 4_000_000  # applicant arrays from here on: the helper decodes half


def _columns_in_two(raw: bytes, apps, meta: dict, ctx: tuple, worker):
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
    job = _submit(worker, _piece_in_helper, meta, second, bulky=True)
    del second
    if job is None:
        return None
    try:
        recs = _applicant_decoder(meta).decode(b"".join((memoryview(raw)[start : cut + 1], b"]")))
        ids = list(map(attrgetter("id"), recs))
        first = _struct_columns(recs, ids, ctx)
    except msgspec.DecodeError:
        first = None
    try:
        second_cols = job.result()
    except WorkerError:
        return None
    if first is None or second_cols is None:
        return None
    lottery_job = _submit(worker, _lottery_in_helper, meta["seed"], first["ids"], True)
    cols = {}
    for k, v in first.items():
        w = second_cols[k]
        cols[k] = v + w if isinstance(v, list) else np.concatenate([v, w])
    return cols, lottery_job


def _piece_in_helper(meta: dict, piece: bytes):
    """In the helper: the columns of the second piece of the applicant array (or None)."""
    try:
        recs = _applicant_decoder(meta).decode(piece)
    except msgspec.DecodeError:
        return None
    ids = list(map(attrgetter("id"), recs))
    cols = _struct_columns(recs, ids, _context(meta))
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
    return _digest(doc, _reorder(kept("ids"), order.tolist()), *columns)


def load_instance(path: str) -> Instance:
    return parse_instance(load_json(path))


def _records(doc: dict, name: str, problems: list[str]) -> list[dict]:
    recs = doc.get(name)
    if not isinstance(recs, list):
        problems.append(f"field '{name}': must be a list / 必须是列表")
        return []
    out = []
    for i, r in enumerate(recs):
        if not isinstance(r, dict):
            problems.append(f"{name}[{i}]: must be an object / 必须是对象")
            continue
        rid = r.get("id")
        if not isinstance(rid, str) or not rid:
            problems.append(
                f"{name}[{i}], field 'id': must be a non-empty string / 编号必须是非空字符串"
            )
            continue
        out.append(r)
    seen: dict[str, int] = {}
    for r in out:
        seen[r["id"]] = seen.get(r["id"], 0) + 1
    dups = sorted(k for k, c in seen.items() if c > 1)
    for d in dups:
        problems.append(f"{name} id '{d}': duplicate id / 编号重复")
    return out


def _check_meta(doc: dict, problems: list[str]) -> dict:
    """Everything but the applicants: checked (problems appended) and indexed by sorted id."""
    if doc.get("format") != FORMAT:
        problems.append(
            f"field 'format': expected '{FORMAT}', got {doc.get('format')!r} / 格式标记错误"
        )
    seed = doc.get("seed")
    if not isinstance(seed, str):
        problems.append(
            "field 'seed': must be a string (the published lottery seed) / 抽签种子必须是字符串"
        )
        seed = ""
    tie_break = doc.get("tie_break", [])
    if not isinstance(tie_break, list) or not all(isinstance(k, str) for k in tie_break):
        problems.append("field 'tie_break': must be a list of key names / 必须是字段名列表")
        tie_break = []
    if len(set(tie_break)) != len(tie_break):
        problems.append("field 'tie_break': repeated key / 同分排序字段重复")
    tie_policy = doc.get("tie_policy", "lottery")
    if tie_policy not in TIE_POLICIES:
        problems.append(
            f"field 'tie_policy': must be one of {', '.join(TIE_POLICIES)} / 同分政策无效"
        )
    app = doc.get("apportion", {"method": "hamilton", "basis": "demand"})
    if not isinstance(app, dict):
        problems.append("field 'apportion': must be an object / 必须是对象")
        app = {}
    method = app.get("method", "hamilton")
    basis = app.get("basis", "demand")
    if method not in METHODS:
        problems.append(
            f"field 'apportion.method': must be one of {', '.join(METHODS)} / 分配方法无效"
        )
    if basis not in BASES:
        problems.append(
            f"field 'apportion.basis': must be one of {', '.join(BASES)} / 分配基数无效"
        )

    cats = sorted(_records(doc, "categories", problems), key=lambda r: r["id"])
    cat_index = {c["id"]: i for i, c in enumerate(cats)}
    for c in cats:
        if c.get("kind") not in KINDS:
            problems.append(
                f"categories id '{c['id']}', field 'kind': must be household or school"
                " / 类别必须是 household 或 school"
            )
        t = c.get("total")
        if not isinstance(t, int) or isinstance(t, bool) or t < 0:
            problems.append(
                f"categories id '{c['id']}', field 'total': must be an integer ≥ 0"
                " / 指标总数必须是非负整数"
            )
    zones = sorted(_records(doc, "zones", problems), key=lambda r: r["id"])
    zone_index = {z["id"]: i for i, z in enumerate(zones)}
    for z in zones:
        w = z.get("weight", 1.0)
        if not _is_number(w) or w < 0:
            problems.append(
                f"zones id '{z['id']}', field 'weight': must be a number ≥ 0 / 权重必须是非负数"
            )
        b = z.get("bounds", {})
        if not isinstance(b, dict):
            problems.append(f"zones id '{z['id']}', field 'bounds': must be an object / 必须是对象")
            continue
        for cid, lohi in b.items():
            if cid not in cat_index:
                problems.append(
                    f"zones id '{z['id']}', field 'bounds.{cid}': unknown category / 未知类别"
                )
            elif (
                not isinstance(lohi, list)
                or len(lohi) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in lohi)
                or lohi[0] < 0
                or lohi[0] > lohi[1]
            ):
                problems.append(
                    f"zones id '{z['id']}', field 'bounds.{cid}': must be [min, max] integers,"
                    " 0 ≤ min ≤ max"
                    " / 上下限无效"
                )
    schools = sorted(_records(doc, "schools", problems), key=lambda r: r["id"])
    school_index = {s["id"]: i for i, s in enumerate(schools)}
    sz = np.zeros(len(schools), dtype=np.int32)
    sc = np.zeros(len(schools), dtype=np.int32)
    ss = np.zeros(len(schools), dtype=np.int64)
    for i, s in enumerate(schools):
        where = f"schools id '{s['id']}'"
        if s.get("zone") not in zone_index:
            problems.append(f"{where}, field 'zone': unknown zone {s.get('zone')!r} / 未知镇街")
        else:
            sz[i] = zone_index[s["zone"]]
        c = s.get("category")
        if c not in cat_index:
            problems.append(f"{where}, field 'category': unknown category {c!r} / 未知类别")
        elif cats[cat_index[c]].get("kind") != "school":
            problems.append(
                f"{where}, field 'category': '{c}' is not a school category / 不是学位类别"
            )
        else:
            sc[i] = cat_index[c]
        seats = s.get("seats")
        if not isinstance(seats, int) or isinstance(seats, bool) or seats < 0:
            problems.append(
                f"{where}, field 'seats': must be an integer ≥ 0, got {seats!r}"
                " / 学位数必须是非负整数"
            )
        else:
            ss[i] = seats

    return {
        "year": doc.get("year"),
        "seed": seed,
        "tie_break": list(tie_break),
        "tie_policy": tie_policy,
        "method": method,
        "basis": basis,
        "categories": cats,
        "zones": zones,
        "schools": schools,
        "cat_index": cat_index,
        "zone_index": zone_index,
        "school_index": school_index,
        "school_zone": sz,
        "school_cat": sc,
        "school_seats": ss,
    }


def parse_instance(doc) -> Instance:
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise InstanceError(["top level: must be a JSON object / 顶层必须是对象"])
    meta = _check_meta(doc, problems)
    tie_break, cats = meta["tie_break"], meta["categories"]
    zone_index, cat_index = meta["zone_index"], meta["cat_index"]
    school_index, sz, sc = meta["school_index"], meta["school_zone"], meta["school_cat"]
    recs = doc.get("applicants")
    if not isinstance(recs, list):
        problems.append("field 'applicants': must be a list / 必须是列表")
        recs = []
    fast = None
    if not problems:
        fast = _fast_applicants(recs, meta)
    if fast is None:
        problems.extend(
            _diagnose_applicants(recs, tie_break, cats, zone_index, cat_index, school_index, sz, sc)
        )
        if not problems:
            problems.append("applicants: invalid records / 申请人记录无效")
    vac = doc.get("vacancy")
    if vac is not None:
        seen_ids = set(fast["ids"]) if fast is not None else set()
        _check_vacancy(vac, seen_ids, school_index, problems)
    if problems:
        raise InstanceError(problems)

    inst = Instance(**meta, vacancy=vac, **fast)
    inst.canonical_sha256 = input_sha256(doc, inst)
    return inst


def _diagnose_applicants(recs, tie_break, cats, zone_index, cat_index, school_index, sz, sc):
    """Slow pass over the applicants that names every bad record and field."""
    problems: list[str] = []
    seen_ids: set[str] = set()
    for i, a in enumerate(recs):
        if not isinstance(a, dict):
            problems.append(f"applicants[{i}]: must be an object / 必须是对象")
            continue
        aid = a.get("id")
        if not isinstance(aid, str) or not aid:
            problems.append(
                f"applicants[{i}], field 'id': must be a non-empty string / 编号必须是非空字符串"
            )
            continue
        where = f"applicants[{i}] (id '{aid}')"
        if aid in seen_ids:
            problems.append(f"{where}, field 'id': duplicate id / 编号重复")
            continue
        seen_ids.add(aid)
        z = zone_index.get(a.get("zone"))
        if z is None:
            problems.append(f"{where}, field 'zone': unknown zone {a.get('zone')!r} / 未知镇街")
            continue
        c = cat_index.get(a.get("category"))
        if c is None:
            problems.append(
                f"{where}, field 'category': unknown category {a.get('category')!r} / 未知类别"
            )
            continue
        p = to_hundredths(a.get("points"))
        if p is None or p < 0:
            problems.append(
                f"{where}, field 'points': must be a number from 0 to 10^12 with at most two"
                f" decimals, got {a.get('points')!r}"
                " / 积分必须是 0 到 10^12 之间且最多两位小数的数"
            )
            continue
        el = a.get("eligible", True)
        if not isinstance(el, bool):
            problems.append(
                f"{where}, field 'eligible': must be true or false / 必须是 true 或 false"
            )
            continue
        kv = a.get("keys", {})
        if not isinstance(kv, dict):
            problems.append(f"{where}, field 'keys': must be an object / 必须是对象")
            continue
        krow = []
        bad = False
        for k in tie_break:
            h = to_hundredths(kv.get(k))
            if h is None:
                if el:
                    problems.append(
                        f"{where}, field 'keys.{k}': missing, or not a number up to 10^12 with"
                        " at most two decimals"
                        " / 同分排序字段缺失或无效（须为不超过 10^12、最多两位小数的数）"
                    )
                    bad = True
                    break
                h = 0
            krow.append(h)
        if bad:
            continue
        fam = a.get("family")
        if fam is not None and (not isinstance(fam, str) or not fam):
            problems.append(
                f"{where}, field 'family': must be a non-empty string or null / 家庭编号无效"
            )
            continue
        anyz = a.get("accept_any_in_zone", False)
        if not isinstance(anyz, bool):
            problems.append(
                f"{where}, field 'accept_any_in_zone': must be true or false / 必须是 true 或 false"
            )
            continue
        ch = a.get("choices", [])
        if not isinstance(ch, list):
            problems.append(f"{where}, field 'choices': must be a list / 必须是列表")
            continue
        is_school = cats[c].get("kind") == "school"
        if not is_school and ch:
            problems.append(
                f"{where}, field 'choices': a household applicant has no school choices"
                " / 入户申请不填报学校"
            )
            continue
        cl = []
        for j, sid in enumerate(ch):
            si = school_index.get(sid) if isinstance(sid, str) else None
            if si is None:
                problems.append(f"{where}, field 'choices[{j}]': unknown school {sid!r} / 未知学校")
                bad = True
                break
            if sz[si] != z or sc[si] != c:
                problems.append(
                    f"{where}, field 'choices[{j}]': school '{sid}' is not in zone"
                    f" '{a.get('zone')}' and category '{a.get('category')}'"
                    " / 志愿学校不在本人的镇街或类别内"
                )
                bad = True
                break
            if si in cl:
                problems.append(
                    f"{where}, field 'choices[{j}]': school '{sid}' listed twice / 志愿学校重复"
                )
                bad = True
                break
            cl.append(si)
        if bad:
            continue

    return problems


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


def _hundredths_array(raw: list) -> np.ndarray | None:
    if not set(map(type, raw)) <= {int, float}:
        return None
    try:
        arr = np.array(raw, dtype=np.float64)
    except OverflowError:  # an integer beyond any float
        return None
    if not np.isfinite(arr).all() or (np.abs(arr) > MAX_NUMBER).any():
        return None
    h = np.rint(arr * 100)
    if (np.abs(arr * 100 - h) > 1e-6 * np.maximum(1.0, np.abs(arr))).any():
        return None
    return h.astype(np.int64)


_NO_KEYS: dict = {}
_NO_CHOICES: list = []


def _reorder(col: list, order: list[int]) -> list:
    if len(order) > 1:
        return list(itemgetter(*order)(col))
    return [col[i] for i in order]


def _columns(n, ids, zones, cats, points, eligible, key_cols, accept_any, family, choices, ctx):
    """The fields of valid applicant records as columns, in file order; None if anything looks
    wrong (the slow pass then names every problem).

    `zones`, `cats` are iterables of ids, the other arguments lists (one per tie-break key in
    `key_cols`). Checks that need every record (duplicate ids) are left to _in_id_order.
    """
    tie_break, kind_school, zone_index, cat_index, school_index, sz, sc = ctx
    try:
        if set(map(type, ids)) - {str} or not all(ids):
            return None
        zl = np.fromiter(map(zone_index.__getitem__, zones), dtype=np.int32, count=n)
        cl = np.fromiter(map(cat_index.__getitem__, cats), dtype=np.int32, count=n)
        pts = _hundredths_array(points) if n else np.zeros(0, dtype=np.int64)
        if pts is None or (pts < 0).any():
            return None
        if set(map(type, eligible)) - {bool}:
            return None
        elig = np.array(eligible, dtype=bool).reshape(n)
        keys = np.zeros((n, len(tie_break)), dtype=np.int64)
        for j, col in enumerate(key_cols):
            if None in col:
                if any(v is None and e for v, e in zip(col, eligible, strict=True)):
                    return None
                col = [0 if v is None else v for v in col]
            h = _hundredths_array(col) if n else np.zeros(0, dtype=np.int64)
            if h is None:
                return None
            keys[:, j] = h
        is_school = kind_school[cl]
        if set(map(type, accept_any)) - {bool}:
            return None
        anyz = np.array(accept_any, dtype=bool).reshape(n) & is_school
        if set(map(type, family)) - {str, type(None)} or "" in set(family):
            return None
        isl = is_school.tolist()
        fam = [f if sch else None for f, sch in zip(family, isl, strict=True)]
        if set(map(type, choices)) - {list}:
            return None
        counts = np.fromiter(map(len, choices), dtype=np.int64, count=n)
        if (counts[~is_school] > 0).any():
            return None
        total = int(counts.sum())
        flat = np.fromiter(
            map(school_index.__getitem__, chain.from_iterable(choices)),
            dtype=np.int64,
            count=total,
        )
        row = np.repeat(np.arange(n), counts)
        if len(flat):
            if (sz[flat] != zl[row]).any() or (sc[flat] != cl[row]).any():
                return None
            key = np.sort(row * (len(sz) + 1) + flat)
            if (key[1:] == key[:-1]).any():
                return None
    except (KeyError, TypeError, AttributeError, ValueError):
        return None
    return {
        "ids": ids,
        "zone": zl,
        "cat": cl,
        "points": pts,
        "keys": keys,
        "eligible": elig,
        "accept_any": anyz,
        "family": fam,
        "counts": counts,
        "flat": flat,
    }


def _dict_columns(recs: list, ctx: tuple) -> dict | None:
    """_columns of records read as dicts (each field in one C-level pass over the records)."""
    tie_break = ctx[0]
    get = dict.get  # raises TypeError for a record that is not an object
    try:
        kvs = list(map(get, recs, repeat("keys"), repeat(_NO_KEYS)))
        return _columns(
            len(recs),
            list(map(itemgetter("id"), recs)),
            map(itemgetter("zone"), recs),
            map(itemgetter("category"), recs),
            list(map(itemgetter("points"), recs)),
            list(map(get, recs, repeat("eligible"), repeat(True))),
            [list(map(get, kvs, repeat(k))) for k in tie_break],
            list(map(get, recs, repeat("accept_any_in_zone"), repeat(False))),
            list(map(get, recs, repeat("family"))),
            list(map(get, recs, repeat("choices"), repeat(_NO_CHOICES))),
            ctx,
        )
    except (KeyError, TypeError):
        return None


def _in_id_order(c: dict) -> dict | None:
    """The columns sorted by applicant id (the order everything is indexed in); None if an id
    repeats."""
    ids = c["ids"]
    n = len(ids)
    if all(map(lt, ids, islice(ids, 1, None))):  # already in order (and so no repeats)
        cs, flat = c["counts"], c["flat"]
        return {
            **{k: c[k] for k in ("ids", "zone", "cat", "points", "keys", "eligible")},
            **{k: c[k] for k in ("accept_any", "family")},
            "choices": choice_lists(cs, flat),
            "order": np.arange(n, dtype=np.int64),
            "choice_counts": cs,
            "choice_flat": flat,
        }
    if n and max(map(len, ids)) <= 64:  # numpy compares code points, like Python
        ida = np.array(ids)
        order_a = np.argsort(ida, kind="stable")
        ida = ida[order_a]
        if len(ida) > 1 and (ida[1:] == ida[:-1]).any():
            if len(set(ids)) != n:
                return None
            order_a = None  # numpy drops trailing NULs: let Python order these ids
        del ida
        order = order_a.tolist() if order_a is not None else sorted(range(n), key=ids.__getitem__)
    else:
        order = sorted(range(n), key=ids.__getitem__)
        if len(set(ids)) != n:
            return None
    oarr = np.array(order, dtype=np.int64)
    cs, flat_sorted = take_choices(c["counts"], c["flat"], oarr)
    return {
        "ids": _reorder(ids, order),
        "zone": c["zone"][oarr],
        "cat": c["cat"][oarr],
        "points": c["points"][oarr],
        "keys": c["keys"][oarr],
        "eligible": c["eligible"][oarr],
        "accept_any": c["accept_any"][oarr],
        "family": _reorder(c["family"], order),
        "choices": choice_lists(cs, flat_sorted),
        "order": oarr,
        "choice_counts": cs,
        "choice_flat": flat_sorted,
    }


def _context(meta: dict) -> tuple:
    kind_school = np.array([c.get("kind") == "school" for c in meta["categories"]], dtype=bool)
    return (
        meta["tie_break"], kind_school, meta["zone_index"], meta["cat_index"],
        meta["school_index"], meta["school_zone"], meta["school_cat"],
    )  # fmt: skip


def _fast_applicants(recs: list, meta: dict) -> dict | None:
    """Vectorised reading of valid applicants, sorted by id; None if anything looks wrong."""
    cols = _dict_columns(recs, _context(meta))
    fast = None if cols is None else _in_id_order(cols)
    if fast is not None:
        del fast["order"]
    return fast


def input_sha256(doc: dict, inst: Instance) -> str:
    """SHA-256 of the normalised instance: what the allocation reads, independent of record order.

    Bytes hashed, in order: the canonical JSON of the document without `applicants` (record
    lists sorted by id); NUL; the applicant ids sorted, joined by LF; NUL; then, for applicants
    in id order, little-endian int64 arrays of zone index, category index, points in
    hundredths, tie-break keys in hundredths (row-major), eligible (0/1), accept_any (0/1);
    the family ids joined by LF (empty for none); the number of choices per applicant and the
    flattened choice school indices (indices are positions in the id-sorted record lists).
    """
    return _digest(doc, inst.ids, *_digest_columns(inst), *choice_arrays(inst))


def take_choices(counts, flat, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The choices of applicants `rows` as (counts, one flat run), from everyone's."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    cs = counts[rows]
    gather = np.repeat(starts[rows] - np.concatenate([[0], np.cumsum(cs)[:-1]]), cs)
    return cs, flat[gather + np.arange(len(gather))]


def choice_lists(counts, flat) -> list[list[int]]:
    """Per applicant, the list of their choices (the inverse of choice_arrays)."""
    fl = flat.tolist()
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64).tolist()
    return [fl[off[i] : off[i + 1]] for i in range(len(counts))]


def choice_arrays(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """(number of choices per applicant, all choices in one run), both int64."""
    if inst.choice_counts is None or inst.choice_flat is None:
        inst.choice_counts = np.fromiter(map(len, inst.choices), dtype=np.int64, count=inst.n)
        inst.choice_flat = np.fromiter(chain.from_iterable(inst.choices), dtype=np.int64)
    return inst.choice_counts, inst.choice_flat


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
