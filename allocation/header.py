"""The header of an instance: everything but the applicants, checked and indexed by sorted id.

Every record list is indexed in sorted-id order, so that the order of the records in the file
never changes the result. A round (app/rounds) is checked by the same code: it is an instance's
header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

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
class Header:
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

    @property
    def school_kind(self) -> np.ndarray:
        """Per category: whether it is a school category (bool)."""
        return np.array([c.get("kind") == "school" for c in self.categories], dtype=bool)


def read_header(doc: dict, problems: list[str]) -> Header:
    """The header of `doc` (a JSON object); every problem is appended to `problems`."""
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
    tie_break = _tie_break(doc, problems)
    tie_policy = doc.get("tie_policy", "lottery")
    if tie_policy not in TIE_POLICIES:
        problems.append(
            f"field 'tie_policy': must be one of {', '.join(TIE_POLICIES)} / 同分政策无效"
        )
    method, basis = _apportion(doc, problems)
    cats = _categories(doc, problems)
    cat_index = {c["id"]: i for i, c in enumerate(cats)}
    zones = _zones(doc, cat_index, problems)
    zone_index = {z["id"]: i for i, z in enumerate(zones)}
    schools = sorted(_records(doc, "schools", problems), key=lambda r: r["id"])
    school_zone, school_cat, school_seats = _schools(schools, zone_index, cats, problems)
    return Header(
        year=doc.get("year"),
        seed=seed,
        tie_break=tie_break,
        tie_policy=tie_policy,
        method=method,
        basis=basis,
        categories=cats,
        zones=zones,
        schools=schools,
        cat_index=cat_index,
        zone_index=zone_index,
        school_index={s["id"]: i for i, s in enumerate(schools)},
        school_zone=school_zone,
        school_cat=school_cat,
        school_seats=school_seats,
    )


def is_number(v) -> bool:
    """A JSON number as read: an int (not a bool) or a finite float."""
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and math.isfinite(v))


def is_count(v) -> bool:
    """An integer ≥ 0 (not a bool)."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _tie_break(doc: dict, problems: list[str]) -> list[str]:
    tie_break = doc.get("tie_break", [])
    if not isinstance(tie_break, list) or not all(isinstance(k, str) for k in tie_break):
        problems.append("field 'tie_break': must be a list of key names / 必须是字段名列表")
        return []
    if len(set(tie_break)) != len(tie_break):
        problems.append("field 'tie_break': repeated key / 同分排序字段重复")
    return list(tie_break)


def _apportion(doc: dict, problems: list[str]) -> tuple[str, str]:
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
    return method, basis


def _records(doc: dict, name: str, problems: list[str]) -> list[dict]:
    """The records of list `name` that are objects with a non-empty string id."""
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
    for d in sorted(k for k, c in seen.items() if c > 1):
        problems.append(f"{name} id '{d}': duplicate id / 编号重复")
    return out


def _categories(doc: dict, problems: list[str]) -> list[dict]:
    cats = sorted(_records(doc, "categories", problems), key=lambda r: r["id"])
    for c in cats:
        if c.get("kind") not in KINDS:
            problems.append(
                f"categories id '{c['id']}', field 'kind': must be household or school"
                " / 类别必须是 household 或 school"
            )
        if not is_count(c.get("total")):
            problems.append(
                f"categories id '{c['id']}', field 'total': must be an integer ≥ 0"
                " / 指标总数必须是非负整数"
            )
    return cats


def _zones(doc: dict, cat_index: dict[str, int], problems: list[str]) -> list[dict]:
    zones = sorted(_records(doc, "zones", problems), key=lambda r: r["id"])
    for z in zones:
        w = z.get("weight", 1.0)
        if not is_number(w) or w < 0:
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
                or not all(map(is_count, lohi))
                or lohi[0] > lohi[1]
            ):
                problems.append(
                    f"zones id '{z['id']}', field 'bounds.{cid}': must be [min, max] integers,"
                    " 0 ≤ min ≤ max"
                    " / 上下限无效"
                )
    return zones


def _schools(schools: list[dict], zone_index: dict, cats: list[dict], problems: list[str]):
    """Per school (sorted by id): zone index, category index, seats."""
    cat_index = {c["id"]: i for i, c in enumerate(cats)}
    school_zone = np.zeros(len(schools), dtype=np.int32)
    school_cat = np.zeros(len(schools), dtype=np.int32)
    school_seats = np.zeros(len(schools), dtype=np.int64)
    for i, s in enumerate(schools):
        where = f"schools id '{s['id']}'"
        if s.get("zone") not in zone_index:
            problems.append(f"{where}, field 'zone': unknown zone {s.get('zone')!r} / 未知镇街")
        else:
            school_zone[i] = zone_index[s["zone"]]
        c = s.get("category")
        if c not in cat_index:
            problems.append(f"{where}, field 'category': unknown category {c!r} / 未知类别")
        elif cats[cat_index[c]].get("kind") != "school":
            problems.append(
                f"{where}, field 'category': '{c}' is not a school category / 不是学位类别"
            )
        else:
            school_cat[i] = cat_index[c]
        seats = s.get("seats")
        if not is_count(seats):
            problems.append(
                f"{where}, field 'seats': must be an integer ≥ 0, got {seats!r}"
                " / 学位数必须是非负整数"
            )
        else:
            school_seats[i] = seats
    return school_zone, school_cat, school_seats
