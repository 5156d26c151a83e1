"""The applicant records of an instance: what a valid record is, and reading them as columns.

`check_record` is the definition: it reads one record into a `Row`, or says what is wrong with
it, naming the record and the field (English and Chinese). `columns` reads a whole array of
records at once by the same rules, vectorised (a million records in about a second); wherever
it is not sure it answers None, and the records are then read one by one, which names every
problem. It never accepts a record that `check_record` rejects, and it gives the same values
(the tests compare both on generated records).

Points and tie-break keys are kept as integer hundredths. A JSON number is read as the
double nearest to its text, as every JSON reader does; it is a valid amount if it is an
integer, or the double of a decimal with at most two decimals (decided exactly: 80.25 is,
600000.125 and 2.0999999999999996 are not), and at most 10^12 in size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain, islice, repeat
from operator import attrgetter, itemgetter, lt
from typing import Literal

import msgspec
import numpy as np

from .header import Header

MAX_NUMBER = 10**12  # points and keys: far above any real figure, exact in hundredths
DEFAULTS = {
    "eligible": True,
    "keys": {},
    "choices": [],
    "accept_any_in_zone": False,
    "family": None,
}


def hundredths(v) -> int | None:
    """The exact integer hundredths of an amount (see the module's docstring), else None."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    if isinstance(v, int):
        return v * 100 if abs(v) <= MAX_NUMBER else None
    if not math.isfinite(v) or abs(v) > MAX_NUMBER:
        return None
    h = round(v * 100)  # exact when v is a two-decimal double: |v * 100 - h| < 0.05
    return h if h / 100 == v else None  # the correctly rounded h / 100 reads as v


def hundredths_column(values: list) -> np.ndarray | None:
    """hundredths() of every value (int64), or None if one of them has none."""
    if not set(map(type, values)) <= {int, float}:
        return None
    try:
        v = np.array(values, dtype=np.float64)  # integers up to 10^12 are exact doubles
    except OverflowError:  # an integer beyond any double
        return None
    if not np.isfinite(v).all() or (np.abs(v) > MAX_NUMBER).any():
        return None
    h = np.rint(v * 100)
    if (h / 100 != v).any():  # IEEE division, correctly rounded as in hundredths()
        return None
    return h.astype(np.int64)


@dataclass
class Row:
    """One valid applicant record, with indices for the zone, category and schools."""

    id: str
    zone: int
    cat: int
    points: int  # hundredths
    eligible: bool
    keys: list[int]  # hundredths, one per tie-break key (0 where an ineligible record has none)
    accept_any: bool  # 服从调剂 (false for household categories)
    family: str | None  # (None for household categories)
    choices: list[int]  # school indices, in preference order


def check_record(a, i: int, header: Header) -> Row | str:
    """Applicant record number `i` of the file: its Row, or what is wrong with it."""
    if not isinstance(a, dict):
        return f"applicants[{i}]: must be an object / 必须是对象"
    aid = a.get("id")
    if not isinstance(aid, str) or not aid:
        return f"applicants[{i}], field 'id': must be a non-empty string / 编号必须是非空字符串"
    where = f"applicants[{i}] (id '{aid}')"
    z = header.zone_index.get(a.get("zone")) if isinstance(a.get("zone"), str) else None
    if z is None:
        return f"{where}, field 'zone': unknown zone {a.get('zone')!r} / 未知镇街"
    c = header.cat_index.get(a.get("category")) if isinstance(a.get("category"), str) else None
    if c is None:
        return f"{where}, field 'category': unknown category {a.get('category')!r} / 未知类别"
    p = hundredths(a.get("points"))
    if p is None or p < 0:
        return (
            f"{where}, field 'points': must be a number from 0 to 10^12 with at most two"
            f" decimals, got {a.get('points')!r}"
            " / 积分必须是 0 到 10^12 之间且最多两位小数的数"
        )
    eligible = a.get("eligible", DEFAULTS["eligible"])
    if not isinstance(eligible, bool):
        return f"{where}, field 'eligible': must be true or false / 必须是 true 或 false"
    keys = _keys(a, where, eligible, header.tie_break)
    if isinstance(keys, str):
        return keys
    family = a.get("family", DEFAULTS["family"])
    if family is not None and (not isinstance(family, str) or not family):
        return f"{where}, field 'family': must be a non-empty string or null / 家庭编号无效"
    accept_any = a.get("accept_any_in_zone", DEFAULTS["accept_any_in_zone"])
    if not isinstance(accept_any, bool):
        return f"{where}, field 'accept_any_in_zone': must be true or false / 必须是 true 或 false"
    is_school = header.categories[c].get("kind") == "school"
    choices = _choices(a, where, z, c, is_school, header)
    if isinstance(choices, str):
        return choices
    if not is_school:  # 服从调剂 and families mean something for school places only
        accept_any, family = False, None
    return Row(aid, z, c, p, eligible, keys, accept_any, family, choices)


def _keys(a: dict, where: str, eligible: bool, tie_break: list[str]) -> list[int] | str:
    """The tie-break keys: required for an eligible applicant; an ineligible one may leave
    them out or null (they count as 0), but a key given must be a valid amount."""
    kv = a.get("keys", DEFAULTS["keys"])
    if not isinstance(kv, dict):
        return f"{where}, field 'keys': must be an object / 必须是对象"
    row = []
    for k in tie_break:
        v = kv.get(k)
        h = hundredths(v)
        if h is None and (eligible or v is not None):
            return (
                f"{where}, field 'keys.{k}': missing, or not a number up to 10^12 with"
                " at most two decimals"
                " / 同分排序字段缺失或无效（须为不超过 10^12、最多两位小数的数）"
            )
        row.append(0 if h is None else h)
    return row


def _choices(a, where, z: int, c: int, is_school: bool, header: Header) -> list[int] | str:
    ch = a.get("choices", DEFAULTS["choices"])
    if not isinstance(ch, list):
        return f"{where}, field 'choices': must be a list / 必须是列表"
    if not is_school and ch:
        return (
            f"{where}, field 'choices': a household applicant has no school choices"
            " / 入户申请不填报学校"
        )
    out: list[int] = []
    for j, sid in enumerate(ch):
        s = header.school_index.get(sid) if isinstance(sid, str) else None
        if s is None:
            return f"{where}, field 'choices[{j}]': unknown school {sid!r} / 未知学校"
        if header.school_zone[s] != z or header.school_cat[s] != c:
            return (
                f"{where}, field 'choices[{j}]': school '{sid}' is not in zone"
                f" '{a.get('zone')}' and category '{a.get('category')}'"
                " / 志愿学校不在本人的镇街或类别内"
            )
        if s in out:
            return f"{where}, field 'choices[{j}]': school '{sid}' listed twice / 志愿学校重复"
        out.append(s)
    return out


def check_families(ids: list[str], cat, zone, family: list, header: Header) -> list[str]:
    """Applicants of one family in a school category are in one zone: a problem per family
    that is not (ids, cat, zone, family: the applicants' columns)."""
    zones: dict[tuple[int, str], set[int]] = {}
    first: dict[tuple[int, str], int] = {}
    cat, zone = cat.tolist(), zone.tolist()
    for a, f in enumerate(family):
        if f is not None:
            zones.setdefault((cat[a], f), set()).add(zone[a])
            first.setdefault((cat[a], f), a)
    return [
        f"applicant id '{ids[first[k]]}', field 'family': family '{k[1]}' spans "
        f"several zones in category '{header.categories[k[0]]['id']}'"
        " / 同一家庭的子女须在同一镇街申请"
        for k in sorted(zones, key=lambda k: (k[1], k[0]))
        if len(zones[k]) > 1
    ]


@dataclass
class Columns:
    """Valid applicant records as columns, in file order (or in id order, see in_id_order)."""

    ids: list[str]
    zone: np.ndarray  # int32 zone index
    cat: np.ndarray  # int32 category index
    points: np.ndarray  # int64 hundredths
    keys: np.ndarray  # int64 hundredths, shape (n, len(tie_break))
    eligible: np.ndarray  # bool
    accept_any: np.ndarray  # bool
    family: list[str | None]
    choice_counts: np.ndarray  # int64 number of choices per applicant
    choice_flat: np.ndarray  # int64 every applicant's choices, one after the other

    def __len__(self) -> int:
        return len(self.ids)


def rows_to_columns(rows: list[Row], header: Header) -> Columns:
    counts = np.fromiter((len(r.choices) for r in rows), dtype=np.int64, count=len(rows))
    return Columns(
        ids=[r.id for r in rows],
        zone=np.array([r.zone for r in rows], dtype=np.int32),
        cat=np.array([r.cat for r in rows], dtype=np.int32),
        points=np.array([r.points for r in rows], dtype=np.int64),
        keys=np.array([r.keys for r in rows], dtype=np.int64).reshape(
            len(rows), len(header.tie_break)
        ),
        eligible=np.array([r.eligible for r in rows], dtype=bool),
        accept_any=np.array([r.accept_any for r in rows], dtype=bool),
        family=[r.family for r in rows],
        choice_counts=counts,
        choice_flat=np.fromiter(
            chain.from_iterable(r.choices for r in rows), dtype=np.int64, count=int(counts.sum())
        ),
    )


def columns(ids, zones, cats, points, eligible, key_cols, accept_any, family, choices, header):
    """The Columns of the records whose fields are given as columns (file order), by the rules
    of check_record; None if a rule may not hold (check_record then decides, record by record).

    `zones`, `cats` are iterables of ids, the other arguments lists (one per tie-break key in
    `key_cols`). Checks that need every record (repeated ids, families) are made afterwards.
    """
    n = len(ids)
    try:
        if set(map(type, ids)) - {str} or not all(ids):
            return None
        zl = np.fromiter(map(header.zone_index.__getitem__, zones), dtype=np.int32, count=n)
        cl = np.fromiter(map(header.cat_index.__getitem__, cats), dtype=np.int32, count=n)
        pts = hundredths_column(points)
        if pts is None or (pts < 0).any():
            return None
        if set(map(type, eligible)) - {bool}:
            return None
        elig = np.array(eligible, dtype=bool).reshape(n)
        keys = _key_columns(key_cols, eligible, n)
        if keys is None:
            return None
        is_school = header.school_kind[cl]
        if set(map(type, accept_any)) - {bool}:
            return None
        anyz = np.array(accept_any, dtype=bool).reshape(n) & is_school
        if set(map(type, family)) - {str, type(None)} or "" in set(family):
            return None
        fam = [f if sch else None for f, sch in zip(family, is_school.tolist(), strict=True)]
        counts, flat = _choice_columns(choices, zl, cl, is_school, header)
    except (KeyError, TypeError, AttributeError, ValueError):
        return None
    return Columns(ids, zl, cl, pts, keys, elig, anyz, fam, counts, flat)


def _key_columns(key_cols: list[list], eligible: list[bool], n: int) -> np.ndarray | None:
    keys = np.zeros((n, len(key_cols)), dtype=np.int64)
    for j, col in enumerate(key_cols):
        if None in col:  # allowed for ineligible applicants only: they count as 0
            if any(v is None and e for v, e in zip(col, eligible, strict=True)):
                return None
            col = [0 if v is None else v for v in col]
        h = hundredths_column(col)
        if h is None:
            return None
        keys[:, j] = h
    return keys


def _choice_columns(choices: list, zl, cl, is_school, header: Header):
    """(counts, flat) of the choice lists; ValueError if a rule does not hold."""
    if set(map(type, choices)) - {list}:
        raise ValueError("a choice list is not a list")
    n = len(choices)
    counts = np.fromiter(map(len, choices), dtype=np.int64, count=n)
    if (counts[~is_school] > 0).any():
        raise ValueError("a household applicant with choices")
    flat = np.fromiter(
        map(header.school_index.__getitem__, chain.from_iterable(choices)),
        dtype=np.int64,
        count=int(counts.sum()),
    )
    row = np.repeat(np.arange(n), counts)
    if len(flat):
        sz, sc = header.school_zone, header.school_cat
        if (sz[flat] != zl[row]).any() or (sc[flat] != cl[row]).any():
            raise ValueError("a school outside the applicant's zone or category")
        key = np.sort(row * (len(sz) + 1) + flat)
        if (key[1:] == key[:-1]).any():
            raise ValueError("a school listed twice")
    return counts, flat


def dict_columns(recs: list, header: Header) -> Columns | None:
    """columns() of records read as dicts (each field in one C-level pass over the records)."""
    get = dict.get  # raises TypeError for a record that is not an object

    def field(name: str) -> list:
        return list(map(get, recs, repeat(name), repeat(DEFAULTS[name])))

    try:
        kvs = field("keys")
        return columns(
            list(map(itemgetter("id"), recs)),
            map(itemgetter("zone"), recs),
            map(itemgetter("category"), recs),
            list(map(itemgetter("points"), recs)),
            field("eligible"),
            [list(map(get, kvs, repeat(k))) for k in header.tie_break],
            field("accept_any_in_zone"),
            field("family"),
            field("choices"),
            header,
        )
    except (KeyError, TypeError):
        return None


def _one_of(ids: list[str]):
    return Literal[tuple(ids)] if ids else str


def typed_decoder(header: Header) -> msgspec.json.Decoder:
    """A decoder of the applicant array into typed records, with the types and defaults of
    check_record (ids of known zones, categories and schools come out as the one shared string
    each, so a million records make few objects). What it cannot decode, check_record judges."""
    slots = [f"k{j}" for j in range(len(header.tie_break))]  # key names need not be identifiers
    keys = msgspec.defstruct(
        "Keys",
        [(s, int | float | None, None) for s in slots],
        rename=dict(zip(slots, header.tie_break, strict=True)),
        gc=False,
    )
    applicant = msgspec.defstruct(
        "Applicant",
        [
            ("id", str),
            ("zone", _one_of([z["id"] for z in header.zones])),
            ("category", _one_of([c["id"] for c in header.categories])),
            ("points", int | float),
            ("keys", keys, msgspec.field(default_factory=keys)),
            ("eligible", bool, DEFAULTS["eligible"]),
            ("choices", list[_one_of([s["id"] for s in header.schools])], []),
            ("accept_any_in_zone", bool, DEFAULTS["accept_any_in_zone"]),
            ("family", str | None, DEFAULTS["family"]),
        ],
        gc=False,
    )
    return msgspec.json.Decoder(list[applicant])


def decode_typed(raw: bytes, header: Header) -> list | None:
    """The records of an applicant array (JSON bytes) decoded by typed_decoder, or None."""
    try:
        return typed_decoder(header).decode(raw)
    except msgspec.DecodeError:
        return None


def typed_columns(recs: list, ids: list[str], header: Header) -> Columns | None:
    """columns() of records from decode_typed (`ids`: their ids)."""

    def field(name: str) -> list:
        return list(map(attrgetter(name), recs))

    kvs = field("keys")
    return columns(
        ids,
        map(attrgetter("zone"), recs),
        map(attrgetter("category"), recs),
        field("points"),
        field("eligible"),
        [list(map(attrgetter(f"k{j}"), kvs)) for j in range(len(header.tie_break))],
        field("accept_any_in_zone"),
        field("family"),
        field("choices"),
        header,
    )


def record_ids(recs: list) -> list[str]:
    return list(map(attrgetter("id"), recs))


def in_id_order(c: Columns) -> tuple[Columns, np.ndarray] | None:
    """The columns sorted by applicant id (the order everything is indexed in) and the order
    (positions in `c`); None if an id repeats."""
    ids = c.ids
    n = len(ids)
    if all(map(lt, ids, islice(ids, 1, None))):  # already in order (and so no repeats)
        return c, np.arange(n, dtype=np.int64)
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
    o = np.array(order, dtype=np.int64)
    counts, flat = take_choices(c.choice_counts, c.choice_flat, o)
    sorted_columns = Columns(
        ids=reorder(ids, order),
        zone=c.zone[o],
        cat=c.cat[o],
        points=c.points[o],
        keys=c.keys[o],
        eligible=c.eligible[o],
        accept_any=c.accept_any[o],
        family=reorder(c.family, order),
        choice_counts=counts,
        choice_flat=flat,
    )
    return sorted_columns, o


def reorder(col: list, order: list[int]) -> list:
    if len(order) > 1:
        return list(itemgetter(*order)(col))
    return [col[i] for i in order]


def take_choices(counts, flat, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The choices of applicants `rows` as (counts, one flat run), from everyone's."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    cs = counts[rows]
    gather = np.repeat(starts[rows] - np.concatenate([[0], np.cumsum(cs)[:-1]]), cs)
    return cs, flat[gather + np.arange(len(gather))]


def choice_lists(counts, flat) -> list[list[int]]:
    """Per applicant, the list of their choices (from counts and one flat run)."""
    fl = flat.tolist()
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64).tolist()
    return [fl[off[i] : off[i + 1]] for i in range(len(counts))]
