"""Assemble, hash, write and verify a result (format `jifen.allocation-result/1`).

The result file is the canonical JSON of the result (UTF-8, keys sorted, separators "," and
":", no spaces) followed by one LF. `manifest.output_sha256` is the SHA-256 of the canonical
JSON of the same result with `manifest.output_sha256` set to the empty string.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
from importlib import metadata

from .certify import certify
from .engine import allocate
from .explain import cutoffs, explain_all
from .instance import Instance, canonical_bytes

RESULT_FORMAT = "jifen.allocation-result/1"
STATUS = {"ineligible": "ineligible", "withdrawn": "not_admitted"}


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "unknown"


def versions() -> dict:
    return {
        "jifen": _version("jifen"),
        "ortools": _version("ortools"),
        "numpy": _version("numpy"),
        "python": platform.python_version(),
    }


def run(inst: Instance, progress=None) -> dict:
    """Allocate and return the complete result document (output_sha256 filled in)."""
    out = allocate(inst, progress)
    checks = certify(inst, out)
    cut, last_s, last_z = cutoffs(inst, out)
    reasons, texts = explain_all(inst, out, last_s, last_z)
    sids = [s["id"] for s in inst.schools]
    cids = [c["id"] for c in inst.categories]
    zids = [z["id"] for z in inst.zones]
    adm = out.admitted.tolist()
    sch = out.school.tolist()
    cr = out.choice_rank.tolist()
    zr = out.zone_rank.tolist()
    catl = inst.cat.tolist()
    zonel = inst.zone.tolist()
    assignments = [
        {
            "applicant": inst.ids[a],
            "category": cids[catl[a]],
            "zone": zids[zonel[a]],
            "status": "admitted" if adm[a] else STATUS.get(reasons[a], "not_admitted"),
            "school": sids[sch[a]] if sch[a] >= 0 else None,
            "choice_rank": cr[a] or None,
            "zone_rank": zr[a] or None,
            "reason": reasons[a],
            "explanation": texts[a],
        }
        for a in range(inst.n)
    ]
    params = {
        "year": inst.year,
        "tie_break": inst.tie_break,
        "tie_policy": inst.tie_policy,
        "apportion": {"method": inst.method, "basis": inst.basis},
        "lottery": "first 7 bytes of SHA-256(seed + U+001F + applicant id), smaller first",
        "school_placement": "serial dictatorship in zone ranking order (= student-proposing DA)",
        "families": "placed together at the turn of the family's best-ranked member",
    }
    if inst.vacancy:
        params["vacancy"] = {
            "previous_output_sha256": inst.vacancy.get("previous_output_sha256"),
            "kept": len(inst.vacancy.get("admitted", {})),
            "withdrawn": sorted(inst.vacancy.get("withdrawn", [])),
        }
    result = {
        "format": RESULT_FORMAT,
        "manifest": {
            "input_sha256": inst.canonical_sha256,
            "seed": inst.seed,
            "params": params,
            "versions": versions(),
            "output_sha256": "",
        },
        "quotas": out.quotas,
        "assignments": assignments,
        "cutoffs": cut,
        "checks": checks,
    }
    return result


def serialise(result: dict) -> bytes:
    """Canonical bytes with output_sha256 filled in (computed with it blank)."""
    result["manifest"]["output_sha256"] = ""
    raw = canonical_bytes(result)
    digest = hashlib.sha256(raw).hexdigest()
    result["manifest"]["output_sha256"] = digest
    marker = b'"output_sha256":""'
    assert raw.count(marker) == 1
    return raw.replace(marker, b'"output_sha256":"' + digest.encode() + b'"') + b"\n"


def write_atomic(path: str, data: bytes) -> None:
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".jifen-", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def verify_bytes(raw: bytes) -> tuple[bool, str, str]:
    """(ok, recorded, recomputed) for a result file's output_sha256."""
    doc = json.loads(raw)
    recorded = doc["manifest"]["output_sha256"]
    doc["manifest"]["output_sha256"] = ""
    recomputed = hashlib.sha256(canonical_bytes(doc)).hexdigest()
    return recorded == recomputed, recorded, recomputed


if __name__ == "__main__":  # pragma: no cover
    print(versions(), file=sys.stderr)
