"""Helpers for the allocator tests: build instances, run them, oracle calls."""

from __future__ import annotations

import hashlib
import random
import sys
import threading
from decimal import Decimal

from allocation.instance import parse_instance
from allocation.result import run, serialise


def published_lottery(seed: str, applicant_id: str) -> int:
    """The lottery number as docs/allocation.md publishes it (rule 3), written out here so that
    the tests do not take it from the allocator: the first 7 bytes of SHA-256(seed + U+001F + id),
    big-endian; the smaller number ranks first."""
    digest = hashlib.sha256(f"{seed}\x1f{applicant_id}".encode()).digest()
    return int.from_bytes(digest[:7], "big")


def published_priority(doc: dict, record: dict, lottery: bool = True) -> tuple:
    """An applicant's place in their zone ranking as docs/allocation.md defines it, from the
    instance alone (smaller ranks first): points, then every tie-break key, descending (read
    as the exact decimals the instance writes), then the lottery number (if `lottery`)."""
    exact = [Decimal(str(record["points"]))]
    exact += [Decimal(str(record["keys"][k])) for k in doc["tie_break"]]
    order = tuple(-v for v in exact)
    return (*order, published_lottery(doc["seed"], record["id"])) if lottery else order


def applicant(aid, zone, cat, points, keys=None, choices=(), any_=False, family=None, el=True):
    a = {
        "id": aid,
        "zone": zone,
        "category": cat,
        "points": points,
        "keys": keys if keys is not None else {"k": 0},
        "eligible": el,
    }
    if choices or any_ or family:
        a["choices"] = list(choices)
        a["accept_any_in_zone"] = any_
    if family:
        a["family"] = family
    return a


def instance(applicants, schools=(), categories=None, zones=None, **kw):
    doc = {
        "format": "jifen.allocation/1",
        "year": 2026,
        "seed": "test-seed",
        "tie_break": ["k"],
        "tie_policy": "lottery",
        "apportion": {"method": "hamilton", "basis": "demand"},
        "categories": categories or [{"id": "school", "kind": "school", "total": 0}],
        "zones": zones or [{"id": "z1", "name": "石岐街道", "weight": 1.0}],
        "schools": list(schools),
        "applicants": list(applicants),
    }
    doc.update(kw)
    return doc


def allocate_doc(doc):
    res = run(parse_instance(doc))
    return res, serialise(res)


def by_id(res):
    return {a["applicant"]: a for a in res["assignments"]}


def random_school_instance(rng: random.Random, n: int, zones: int, schools: int, *, common=True):
    """Random school-only instance, no families, seats = zone quota (quota never binds)."""
    zs = [{"id": f"z{i}", "name": f"区{i}", "weight": 1.0} for i in range(zones)]
    sch = []
    for j in range(schools):
        sch.append(
            {
                "id": f"s{j:03d}",
                "zone": f"z{j % zones}",
                "category": "school",
                "seats": rng.randint(0, max(1, 2 * n // (schools * 2))),
            }
        )
    by_zone: dict[str, list[str]] = {}
    for s in sch:
        by_zone.setdefault(s["zone"], []).append(s["id"])
    apps = []
    for i in range(n):
        z = f"z{rng.randrange(zones)}"
        opts = by_zone.get(z, [])
        k = rng.randint(0, min(5, len(opts)))
        apps.append(
            applicant(
                f"a{i:05d}",
                z,
                "school",
                rng.randint(0, 40),
                {"k": rng.randint(0, 3)},
                rng.sample(opts, k),
                any_=rng.random() < 0.2 and bool(opts),
            )
        )
    total = sum(s["seats"] for s in sch)
    return instance(
        apps, sch, categories=[{"id": "school", "kind": "school", "total": total}], zones=zs
    )


def run_with_big_stack(fn, *args):
    """matching's create_from_dictionaries deep-copies recursively: raise the limits."""
    out = {}
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(10**6)
    size = threading.stack_size(512 * 1024 * 1024)

    def target():
        out["v"] = fn(*args)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    threading.stack_size(size)
    sys.setrecursionlimit(old)
    return out["v"]
