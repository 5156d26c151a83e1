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
import tempfile
from importlib import metadata

import numpy as np
import orjson

from .certify import certify
from .engine import allocate
from .explain import cutoffs, explain_all
from .families import refine
from .instance import Instance, canonical_bytes, input_sha256
from .outcome import Outcome
from .reasons import Reason

RESULT_FORMAT = "jifen.allocation-result/1"
STATUS = {Reason.INELIGIBLE: "ineligible", Reason.WITHDRAWN: "not_admitted"}


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


def statuses(out: Outcome, lo: int = 0, hi: int | None = None) -> list[str]:
    """The public status of applicants lo..hi-1 (default all)."""
    hi = len(out.admitted) if hi is None else hi
    return [
        "admitted" if admitted else STATUS.get(r, "not_admitted")
        for admitted, r in zip(out.admitted[lo:hi].tolist(), out.reasons.code[lo:hi], strict=True)
    ]


class Assignments:
    """The assignments of applicants lo..hi-1 in id order, as lists (cheap to serialise)."""

    def __init__(self, inst: Instance, out: Outcome, texts: list[str], lo: int = 0, hi=None):
        """Applicants lo..hi-1 (default all); `texts`, their explanations."""
        hi = inst.n if hi is None else hi
        self.school_ids = [s["id"] for s in inst.schools]
        self.category_ids = [c["id"] for c in inst.categories]
        self.zone_ids = [z["id"] for z in inst.zones]
        self.ids = inst.ids if lo == 0 and hi == inst.n else inst.ids[lo:hi]
        self.category = inst.cat[lo:hi].tolist()
        self.zone = inst.zone[lo:hi].tolist()
        self.school = out.school[lo:hi].tolist()
        self.choice_rank = out.choice_rank[lo:hi].tolist()
        self.zone_rank = out.zone_rank[lo:hi].tolist()
        self.reason = out.reasons.code[lo:hi]
        self.explanation = texts
        self.status = statuses(out, lo, hi)

    def record(self, a: int) -> dict:
        s = self.school[a]
        return {
            "applicant": self.ids[a],
            "category": self.category_ids[self.category[a]],
            "zone": self.zone_ids[self.zone[a]],
            "status": self.status[a],
            "school": self.school_ids[s] if s >= 0 else None,
            "choice_rank": self.choice_rank[a] or None,
            "zone_rank": self.zone_rank[a] or None,
            "reason": self.reason[a],
            "explanation": self.explanation[a],
        }

    def records(self) -> list[dict]:
        return [self.record(a) for a in range(len(self.ids))]

    def json_chunks(self, block: int = 32768, first: bool = True, last: bool = True):
        """canonical_bytes(records()) in pieces of `block` records (so the whole array is
        never one buffer), built much faster.

        With first=False the opening '[' is left out, with last=False the closing ']' is
        replaced by ',' (for writing a long array from consecutive ranges of applicants).

        Keys are in sorted order: applicant, category, choice_rank, explanation, reason, school,
        status, zone, zone_rank. The two free-text columns (ids, explanations) are escaped by
        orjson, which escapes strings exactly as json.dumps(ensure_ascii=False) does (the
        tests check every code point), one call per column and block; in the compact output
        of a list of strings the separator '","' only ever occurs between two items, as a quote
        inside an item is always written as backslash-quote. The other columns take few
        values and are written once per distinct combination.
        """
        n = len(self.ids)
        if n == 0:
            if first or last:
                yield (b"[" if first else b"") + (b"]" if last else b"")
            return
        top = max(max(self.choice_rank, default=0), max(self.zone_rank, default=0))
        numbers = [b"null", *(str(i).encode() for i in range(1, top + 1))]  # 0 -> null
        after_id = self._after_id(numbers)
        after_text = self._after_explanation()
        ends = [x + b'},{"applicant":"' for x in numbers]  # the zone rank, then the next record
        after_rank = list(map(ends.__getitem__, self.zone_rank))
        after_rank[-1] = numbers[self.zone_rank[-1]] + (b"}]" if last else b"},")
        yield b'[{"applicant":"' if first else b'{"applicant":"'
        for a0 in range(0, n, block):
            a1 = min(n, a0 + block)
            parts: list = [None] * (5 * (a1 - a0))
            parts[0::5] = _escaped_items(self.ids[a0:a1])
            parts[1::5] = after_id[a0:a1]
            parts[2::5] = _escaped_items(self.explanation[a0:a1])
            parts[3::5] = after_text[a0:a1]
            parts[4::5] = after_rank[a0:a1]
            yield b"".join(parts)

    def _after_id(self, numbers: list[bytes]) -> list[bytes]:
        """Per record: '","category":C,"choice_rank":R,"explanation":"' (made once for each
        (category, choice rank))."""
        nc = len(self.category_ids)
        combination = np.asarray(self.choice_rank, np.int64) * nc + np.asarray(
            self.category, np.int64
        )
        kinds, which = np.unique(combination, return_inverse=True)
        text = [
            b'","category":' + orjson.dumps(self.category_ids[k % nc]) + b',"choice_rank":'
            + numbers[k // nc] + b',"explanation":"'
            for k in kinds.tolist()
        ]  # fmt: skip
        return list(map(text.__getitem__, which.ravel().tolist()))

    def _after_explanation(self) -> list[bytes]:
        """Per record: '","reason":R,"school":S,"status":T,"zone":Z,"zone_rank":' (made once
        for each combination)."""
        n = len(self.ids)
        reasons, status_names = sorted(set(self.reason)), sorted(set(self.status))
        reason_of = {r: i for i, r in enumerate(reasons)}
        status_of = {t: i for i, t in enumerate(status_names)}
        ns, nz, nt = len(self.school_ids) + 1, len(self.zone_ids), len(status_names)
        code = np.fromiter(map(reason_of.__getitem__, self.reason), dtype=np.int64, count=n)
        code = code * nt + np.fromiter(map(status_of.__getitem__, self.status), np.int64, n)
        code = code * ns + (np.asarray(self.school, dtype=np.int64) + 1)
        code = code * nz + np.asarray(self.zone, dtype=np.int64)
        kinds, which = np.unique(code, return_inverse=True)
        school = [b"null", *(orjson.dumps(s) for s in self.school_ids)]
        text = []
        for k in kinds.tolist():
            k, z = divmod(k, nz)
            k, s = divmod(k, ns)
            r, t = divmod(k, nt)
            text.append(
                b'","reason":' + orjson.dumps(reasons[r]) + b',"school":' + school[s]
                + b',"status":' + orjson.dumps(status_names[t]) + b',"zone":'
                + orjson.dumps(self.zone_ids[z]) + b',"zone_rank":'
            )  # fmt: skip
        return list(map(text.__getitem__, which.ravel().tolist()))


def _escaped_items(strings: list[str]) -> list[bytes]:
    """Each string JSON-escaped as json.dumps(ensure_ascii=False) would, without the quotes."""
    raw = orjson.dumps(strings)
    items = raw[2:-2].split(b'","')
    del raw
    if len(items) != len(strings):  # cannot happen: see Assignments.json_chunks
        raise AssertionError("escaped column does not split into its items")
    return items


def run(inst: Instance, progress=None) -> dict:
    """Allocate and return the complete result document (assignments as dicts)."""
    result, assignments = run_columns(inst, progress)
    result["assignments"] = assignments.records()
    return result


def run_columns(inst: Instance, progress=None) -> tuple[dict, Assignments]:
    """Allocate: the result document with empty `assignments`, and the assignments."""
    out = allocate(inst, progress)
    checks, refined = certified(inst, out)
    result = document(inst, out, checks, refined, input_sha256(inst))
    return result, Assignments(inst, out, explain_all(inst, out))


def certified(inst: Instance, out: Outcome) -> tuple[dict, list[str]]:
    """The checks of the outcome, once the zones where families cause blocking pairs are
    re-solved (families.py); and those zones."""
    checks = certify(inst, out)
    refined = refine(inst, out, checks["blocking_pair_list"])
    if refined:
        checks = certify(inst, out)
    return checks, refined


def document(inst: Instance, out: Outcome, checks: dict, refined: list[str], input_digest: str):
    """The result document, its `assignments` left empty."""
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
    return {
        "format": RESULT_FORMAT,
        "manifest": {
            "input_sha256": input_digest,
            "seed": inst.seed,
            "params": params,
            "versions": versions(),
            "output_sha256": "",
        },
        "quotas": {
            cat["id"]: {z["id"]: out.zone_quota[(c, zi)] for zi, z in enumerate(inst.zones)}
            for c, cat in enumerate(inst.categories)
        },
        "assignments": [],
        "cutoffs": cutoffs(inst, out),
        "checks": checks,
    }


def iter_serialised(result: dict, assignments=None):
    """The result file as byte chunks (joined: canonical JSON + LF), hash filled in, lazily.

    `manifest.output_sha256` is computed with it blank; it comes after `assignments` in the
    canonical key order, so the big array can be hashed and written piece by piece before the
    chunk holding the digest is made. With `assignments` (anything with json_chunks(), whose
    chunks are bytes-like), `result["assignments"]` must be empty: the array is spliced in
    without ever being one buffer.
    """
    result["manifest"]["output_sha256"] = ""
    raw = canonical_bytes(result)
    marker = b'"output_sha256":""'
    assert raw.count(marker) == 1
    h = hashlib.sha256()
    if assignments is not None:
        head = b'{"assignments":[]'
        assert raw.startswith(head) and not result["assignments"]
        first = b'{"assignments":'
        h.update(first)
        yield first
        for chunk in assignments.json_chunks():
            h.update(chunk)
            yield chunk
        last = raw[len(head) :]
    else:
        last = raw
    h.update(last)
    digest = h.hexdigest()
    result["manifest"]["output_sha256"] = digest
    yield last.replace(marker, b'"output_sha256":"' + digest.encode() + b'"')
    yield b"\n"


def serialise(result: dict, assignments=None) -> bytes:
    """Canonical bytes + LF with output_sha256 filled in (computed with it blank)."""
    return b"".join(bytes(c) for c in iter_serialised(result, assignments))


def write_atomic(path: str, data) -> None:
    """Write bytes, or an iterable of bytes-like chunks, to `path` atomically. A chunk with a
    copy_to(fd) method (a piece of another file) copies itself."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".jifen-", suffix=".tmp", dir=d)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            for chunk in [data] if isinstance(data, bytes) else data:
                if hasattr(chunk, "copy_to"):
                    fh.flush()  # then it appends at the file's offset
                    chunk.copy_to(fh.fileno())
                else:
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
