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
from .families import refine_zone, zones_to_refine
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


REASONS = (
    "admitted", "admitted_any", "admitted_choice", "admitted_family", "admitted_kept",
    "admitted_tie", "below_cutoff", "family_no_joint_seat", "ineligible", "lost_lottery",
    "no_choices", "quota_exhausted", "tie_rejected", "withdrawn",
)  # fmt: skip


class Columns:
    """Per-applicant outcome in id order, as integer codes and lists (cheap to serialise)."""

    def __init__(self, inst: Instance, out, reasons: list[str], texts: list[str]):
        self.sids = [s["id"] for s in inst.schools]
        self.cids = [c["id"] for c in inst.categories]
        self.zids = [z["id"] for z in inst.zones]
        self.ids = inst.ids
        self.cat = inst.cat.tolist()
        self.zon = inst.zone.tolist()
        self.sch = out.school.tolist()
        self.cr = out.choice_rank.tolist()
        self.zr = out.zone_rank.tolist()
        self.reason = reasons
        self.explanation = texts
        adm = out.admitted.tolist()
        self.status = [
            "admitted" if ad else STATUS.get(r, "not_admitted")
            for ad, r in zip(adm, reasons, strict=True)
        ]

    def record(self, a: int) -> dict:
        s = self.sch[a]
        return {
            "applicant": self.ids[a],
            "category": self.cids[self.cat[a]],
            "zone": self.zids[self.zon[a]],
            "status": self.status[a],
            "school": self.sids[s] if s >= 0 else None,
            "choice_rank": self.cr[a] or None,
            "zone_rank": self.zr[a] or None,
            "reason": self.reason[a],
            "explanation": self.explanation[a],
        }

    def records(self) -> list[dict]:
        return [self.record(a) for a in range(len(self.ids))]

    def json_array(self) -> bytes:
        """Exactly what canonical_bytes gives for records(), built much faster."""
        enc = json.encoder.encode_basestring  # the encoder json.dumps uses (ensure_ascii=False)
        ecat = [enc(c) for c in self.cids]
        ezone = [enc(z) for z in self.zids]
        esch = [enc(s) for s in self.sids] + ["null"]  # index -1 -> null
        top = max(max(self.cr, default=0), max(self.zr, default=0))
        nums = ["null"] + [str(i) for i in range(1, top + 1)]  # index 0 -> null
        ere = {r: enc(r) for r in set(self.reason)}
        est = {r: enc(r) for r in set(self.status)}
        n = len(self.ids)
        if n == 0:
            return b"[]"
        columns = [
            list(map(enc, self.ids)),
            [ecat[c] for c in self.cat],
            list(map(nums.__getitem__, self.cr)),
            list(map(enc, self.explanation)),
            list(map(ere.__getitem__, self.reason)),
            list(map(esch.__getitem__, self.sch)),
            list(map(est.__getitem__, self.status)),
            [ezone[z] for z in self.zon],
            list(map(nums.__getitem__, self.zr)),
        ]
        names = ["applicant", "category", "choice_rank", "explanation", "reason", "school",
                 "status", "zone", "zone_rank"]  # fmt: skip
        K = 2 * len(names) + 1
        parts: list = [None] * (n * K)
        for j, (name, col) in enumerate(zip(names, columns, strict=True)):
            parts[2 * j :: K] = [("{" if j == 0 else ",") + f'"{name}":'] * n
            parts[2 * j + 1 :: K] = col
        parts[K - 1 :: K] = ["},"] * n
        parts[0] = '[{"applicant":'
        parts[-1] = "}]"
        return "".join(parts).encode()


def run(inst: Instance, progress=None) -> dict:
    """Allocate and return the complete result document (assignments as dicts)."""
    result, cols = run_columns(inst, progress)
    result["assignments"] = cols.records()
    return result


def run_columns(inst: Instance, progress=None):
    """Allocate; the result document with empty `assignments`, and the assignments as columns."""
    out = allocate(inst, progress)
    checks = certify(inst, out)
    refined = []
    for c, z in zones_to_refine(inst, out, checks["blocking_pair_list"]):
        if refine_zone(inst, out, c, z):
            refined.append(f"{inst.categories[c]['id']}/{inst.zones[z]['id']}")
    if refined:
        checks = certify(inst, out)
    cut, last_s, last_z = cutoffs(inst, out)
    reasons, texts = explain_all(inst, out, last_s, last_z)
    cols = Columns(inst, out, reasons, texts)
    params = {
        "year": inst.year,
        "tie_break": inst.tie_break,
        "tie_policy": inst.tie_policy,
        "apportion": {"method": inst.method, "basis": inst.basis},
        "lottery": "first 7 bytes of SHA-256(seed + U+001F + applicant id), smaller first",
        "school_placement": "serial dictatorship in zone ranking order (= student-proposing DA)",
        "families": "placed together at the turn of the family's best-ranked member; "
        "zones listed in families_cpsat re-solved with CP-SAT (fewest blocking pairs)",
        "families_cpsat": refined,
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
        "assignments": [],
        "cutoffs": cut,
        "checks": checks,
    }
    return result, cols


def serialise_chunks(result: dict, cols: Columns | None = None) -> list[bytes]:
    """The result file as a list of byte chunks (joined: canonical JSON + LF), hash filled in.

    `manifest.output_sha256` is computed with it blank. With `cols`, `result["assignments"]`
    must be empty; the columns are spliced in without copying the big array.
    """
    result["manifest"]["output_sha256"] = ""
    raw = canonical_bytes(result)
    marker = b'"output_sha256":""'
    assert raw.count(marker) == 1
    if cols is not None:
        head = b'{"assignments":[]'
        assert raw.startswith(head) and not result["assignments"]
        chunks = [b'{"assignments":', cols.json_array(), raw[len(head) :]]
    else:
        chunks = [raw]
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    digest = h.hexdigest()
    result["manifest"]["output_sha256"] = digest
    chunks[-1] = chunks[-1].replace(marker, b'"output_sha256":"' + digest.encode() + b'"')
    chunks.append(b"\n")
    return chunks


def serialise(result: dict, cols: Columns | None = None) -> bytes:
    """Canonical bytes + LF with output_sha256 filled in (computed with it blank)."""
    return b"".join(serialise_chunks(result, cols))


def write_atomic(path: str, data: bytes | list[bytes]) -> None:
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".jifen-", suffix=".tmp", dir=d)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            for chunk in [data] if isinstance(data, bytes) else data:
                fh.write(chunk)
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
