"""Assemble, hash, write and verify a result (format `jifen.allocation-result/1`).

The result file is the canonical JSON of the result (UTF-8, keys sorted, separators "," and
":", no spaces) followed by one LF. `manifest.output_sha256` is the SHA-256 of the canonical
JSON of the same result with `manifest.output_sha256` set to the empty string.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import mmap
import os
import platform
import sys
import tempfile
from importlib import metadata

import numpy as np
import orjson

from .applicants import choice_lists
from .certify import certify
from .engine import allocate
from .explain import cutoffs, explain_all
from .families import refine
from .instance import (
    Instance,
    canonical_bytes,
    ids_kept_in_helper,
    input_digest,
)
from .reasons import Reason
from .worker import WorkerError

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


class Columns:
    """Per-applicant outcome in id order, as integer codes and lists (cheap to serialise)."""

    def __init__(self, inst: Instance, out, texts: list[str], lo: int = 0, hi=None):
        """Applicants lo..hi-1 (default all); `texts` covers just those."""
        hi = inst.n if hi is None else hi
        reasons = out.reasons.code[lo:hi]
        self.sids = [s["id"] for s in inst.schools]
        self.cids = [c["id"] for c in inst.categories]
        self.zids = [z["id"] for z in inst.zones]
        self.ids = inst.ids if lo == 0 and hi == inst.n else inst.ids[lo:hi]
        self.cat = inst.cat[lo:hi].tolist()
        self.zon = inst.zone[lo:hi].tolist()
        self.sch = out.school[lo:hi].tolist()
        self.cr = out.choice_rank[lo:hi].tolist()
        self.zr = out.zone_rank[lo:hi].tolist()
        self.reason = reasons
        self.explanation = texts
        adm = out.admitted[lo:hi].tolist()
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
        return b"".join(self.json_chunks())

    def json_chunks(self, block: int = 32768, first: bool = True, last: bool = True):
        """json_array() in pieces of `block` records (so the whole array is never one buffer).

        With first=False the opening '[' is left out, with last=False the closing ']' is
        replaced by ',' (for writing a long array from consecutive ranges of applicants).

        Keys are in sorted order. The two free-text columns (ids, explanations) are escaped by
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

        def lit(v) -> bytes:
            return orjson.dumps(v)

        top = max(max(self.cr, default=0), max(self.zr, default=0))
        nums = [b"null", *(str(i).encode() for i in range(1, top + 1))]  # 0 -> null
        # '","category":C,"choice_rank":R,"explanation":"' per (category, choice rank)
        nc = len(self.cids)
        ecat = [lit(c) for c in self.cids]
        k1, inv1 = np.unique(
            np.asarray(self.cr, dtype=np.int64) * nc + np.asarray(self.cat, dtype=np.int64),
            return_inverse=True,
        )
        p1 = [
            b'","category":' + ecat[k % nc] + b',"choice_rank":' + nums[k // nc]
            + b',"explanation":"'
            for k in k1.tolist()
        ]  # fmt: skip
        # '","reason":R,"school":S,"status":T,"zone":Z,"zone_rank":' per combination
        rnames = sorted(set(self.reason))
        ri = {r: i for i, r in enumerate(rnames)}
        tnames = sorted(set(self.status))
        ti = {t: i for i, t in enumerate(tnames)}
        ns, nzn, nt = len(self.sids) + 1, len(self.zids), len(tnames)
        code = np.fromiter(map(ri.__getitem__, self.reason), dtype=np.int64, count=n)
        code = code * nt + np.fromiter(map(ti.__getitem__, self.status), dtype=np.int64, count=n)
        code = code * ns + (np.asarray(self.sch, dtype=np.int64) + 1)
        code = code * nzn + np.asarray(self.zon, dtype=np.int64)
        k2, inv2 = np.unique(code, return_inverse=True)
        esch = [b"null", *(lit(s) for s in self.sids)]
        p2 = []
        for k in k2.tolist():
            k, z = divmod(k, nzn)
            k, s = divmod(k, ns)
            r, t = divmod(k, nt)
            p2.append(
                b'","reason":' + lit(rnames[r]) + b',"school":' + esch[s] + b',"status":'
                + lit(tnames[t]) + b',"zone":' + lit(self.zids[z]) + b',"zone_rank":'
            )  # fmt: skip
        # 'N},{"applicant":"' after each record
        tail = [x + b'},{"applicant":"' for x in nums]
        c1 = list(map(p1.__getitem__, inv1.ravel().tolist()))
        c3 = list(map(p2.__getitem__, inv2.ravel().tolist()))
        c4 = list(map(tail.__getitem__, self.zr))
        c4[-1] = nums[self.zr[-1]] + (b"}]" if last else b"},")
        del inv1, inv2, code
        yield b'[{"applicant":"' if first else b'{"applicant":"'
        for a0 in range(0, n, block):
            a1 = min(n, a0 + block)
            m = a1 - a0
            parts: list = [None] * (5 * m)
            parts[0::5] = _escaped_items(self.ids[a0:a1])
            parts[1::5] = c1[a0:a1]
            parts[2::5] = _escaped_items(self.explanation[a0:a1])
            parts[3::5] = c3[a0:a1]
            parts[4::5] = c4[a0:a1]
            yield b"".join(parts)


def _escaped_items(strings: list[str]) -> list[bytes]:
    """Each string JSON-escaped as json.dumps(ensure_ascii=False) would, without the quotes."""
    raw = orjson.dumps(strings)
    items = raw[2:-2].split(b'","')
    del raw
    if len(items) != len(strings):  # cannot happen: see Columns.json_array
        raise AssertionError("escaped column does not split into its items")
    return items


def run(inst: Instance, progress=None) -> dict:
    """Allocate and return the complete result document (assignments as dicts)."""
    result, cols = run_columns(inst, progress)
    result["assignments"] = cols.records()
    return result


SPLIT_MIN = 50_000  # applicants: from here on, a helper process explains the last part
HELPER_SHARE = 0.6  # of the applicants: the helper's part (this process also certifies)


def _explain_in_helper(inst, out, lo, ids_tail, counts, flat, misses, path):
    """In the helper: explain applicants lo.. and write their part of the JSON array to `path`.

    `inst` comes without its per-applicant lists; they are put back for lo.. (the choices from
    their arrays, the ids from those kept while reading if `ids_tail` is None), and the misses
    of their choices (`misses`) with them. Returns how many applicants were written.
    """
    n = len(inst.points)
    if ids_tail is None:
        ids_tail = ids_kept_in_helper()[lo:]
    if len(ids_tail) != n - lo or len(counts) != n - lo:
        raise ValueError("the helper's applicants do not match")
    inst.ids = [""] * lo + ids_tail
    inst.choices = [[]] * lo + choice_lists(counts, flat)
    inst.choice_counts = np.concatenate([np.zeros(lo, dtype=np.int64), counts])
    inst.choice_flat = flat
    out.reasons.miss_at_choice = misses
    texts = explain_all(inst, out, lo, inst.n)
    cols = Columns(inst, out, texts, lo, inst.n)
    with open(path, "wb") as fh:
        for chunk in cols.json_chunks(first=False, last=True):
            fh.write(chunk)
    return n - lo


class _HelperPart:
    """Applicants lo..n-1 being explained by the helper process, into a temporary file."""

    def __init__(self, worker, inst: Instance, out):
        self.n, self.lo = inst.n, inst.n - int(inst.n * HELPER_SHARE)
        fd, self.path = tempfile.mkstemp(prefix="jifen-part-", suffix=".json")
        self.file = os.fdopen(fd, "rb")
        input_digest(inst)  # (a pending job cannot travel)
        counts, flat = inst.choice_counts, inst.choice_flat
        slim = dataclasses.replace(
            inst, ids=[], choices=[], family=[], lottery=None, choice_counts=None, choice_flat=None
        )
        lo = self.lo
        first = int(counts[:lo].sum())
        slim_reasons = dataclasses.replace(out.reasons, miss_at_choice=None)
        slim_out = dataclasses.replace(
            out, placement=[], families={}, lottery=None, reasons=slim_reasons
        )
        try:
            self.job = worker.submit(
                _explain_in_helper, slim, slim_out, lo,
                None if inst.ids_in_helper else inst.ids[lo:],
                counts[lo:], flat[first:], out.reasons.miss_at_choice[first:], self.path,
                bulky=True,
            )  # fmt: skip
        except WorkerError:
            self.close()
            raise

    def done(self) -> bool:
        """Whether the helper wrote its part (if not, the file is closed)."""
        try:
            written = self.job.result()
        except WorkerError:
            written = None
        if written != self.n - self.lo:
            self.close()
            return False
        return True

    def close(self) -> None:
        self.file.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _start_helper(worker, inst: Instance, out):
    if worker is None or inst.n < SPLIT_MIN or worker.broken:
        return None
    try:
        return _HelperPart(worker, inst, out)
    except (WorkerError, OSError):  # no helper, or no room for its file: explain here
        return None


class HelperColumns:
    """The assignments of a large run: the first applicants explained here, the rest by the
    helper. The bytes are exactly those of Columns.json_chunks() for all applicants; if the
    helper fails for any reason, this process explains its part too.
    """

    def __init__(self, inst: Instance, out, part: _HelperPart):
        self.inst, self.out = inst, out
        self.h = part.lo
        self.head = Columns(inst, out, explain_all(inst, out, 0, self.h), 0, self.h)
        self.part: _HelperPart | None = part
        self.tail: Columns | None = None
        self.joined = False

    def _join(self) -> None:
        if self.joined:
            return
        self.joined = True
        if self.part.done():
            return
        self.part = None
        inst, n, h = self.inst, self.inst.n, self.h
        self.tail = Columns(inst, self.out, explain_all(inst, self.out, h, n), h, n)

    @property
    def status(self) -> list[str]:
        adm = self.out.admitted.tolist()
        return [
            "admitted" if ad else STATUS.get(r, "not_admitted")
            for ad, r in zip(adm, self.out.reasons.code, strict=True)
        ]

    def json_chunks(self):
        yield from self.head.json_chunks(first=True, last=False)
        self._join()
        if self.tail is not None:
            yield from self.tail.json_chunks(first=False, last=True)
            return
        region = FileRegion(self.part.file)
        try:
            yield region
        finally:
            region.close()
            self.part.close()


class FileRegion:
    """A piece of the output that is the whole of an open file (the helper's part): hashed
    through a memory map and copied file to file by the kernel, never read into memory."""

    def __init__(self, file) -> None:
        self.file = file
        self.size = os.fstat(file.fileno()).st_size
        self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) if self.size else None

    def view(self):
        return self._map if self._map is not None else b""

    def to_bytes(self) -> bytes:
        return self._map[:] if self._map is not None else b""

    def copy_to(self, fd: int) -> None:
        src, left, at = self.file.fileno(), self.size, 0
        try:
            while left:
                done = os.copy_file_range(src, fd, left, at)
                if not done:
                    break
                left, at = left - done, at + done
        except OSError:  # no in-kernel copy here: copy through memory
            pass
        view = memoryview(self.view())
        while at < self.size:
            at += os.write(fd, view[at:])
        view.release()

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None


def run_columns(inst: Instance, progress=None, worker=None):
    """Allocate; the result document with empty `assignments`, and the assignments as columns.

    With a helper process (`worker`: only for writing the result, as the columns then have no
    records()), the last applicants of a large instance are explained by the helper while
    this process certifies the result and explains the first ones.
    """
    out = allocate(inst, progress, worker)
    # optimistic: the helper starts explaining before the certification; only a re-solved
    # zone changes the outcome, and then it starts again
    part = _start_helper(worker, inst, out)
    checks = certify(inst, out)
    refined = refine(inst, out, checks["blocking_pair_list"])
    if refined:
        checks = certify(inst, out)
        if part is not None:
            part.done()  # wait for the stale job, then drop it
            part.close()
            part = _start_helper(worker, inst, out)
    cut = cutoffs(inst, out)
    if part is not None:
        cols = HelperColumns(inst, out, part)
    else:
        cols = Columns(inst, out, explain_all(inst, out))
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
            "input_sha256": input_digest(inst),
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


def iter_serialised(result: dict, cols: Columns | HelperColumns | None = None):
    """The result file as byte chunks (joined: canonical JSON + LF), hash filled in, lazily.

    `manifest.output_sha256` is computed with it blank; it comes after `assignments` in the
    canonical key order, so the big array can be hashed and written piece by piece before the
    chunk holding the digest is made. With `cols`, `result["assignments"]` must be empty; the
    columns are spliced in without building the big array as one buffer.
    """
    result["manifest"]["output_sha256"] = ""
    raw = canonical_bytes(result)
    marker = b'"output_sha256":""'
    assert raw.count(marker) == 1
    h = hashlib.sha256()
    if cols is not None:
        head = b'{"assignments":[]'
        assert raw.startswith(head) and not result["assignments"]
        first = b'{"assignments":'
        h.update(first)
        yield first
        for chunk in cols.json_chunks():
            h.update(chunk if isinstance(chunk, bytes) else chunk.view())
            yield chunk
        last = raw[len(head) :]
    else:
        last = raw
    h.update(last)
    digest = h.hexdigest()
    result["manifest"]["output_sha256"] = digest
    yield last.replace(marker, b'"output_sha256":"' + digest.encode() + b'"')
    yield b"\n"


def serialise_chunks(result: dict, cols: Columns | None = None) -> list[bytes]:
    """The result file as a list of byte chunks (joined: canonical JSON + LF), hash filled in."""
    return [c if isinstance(c, bytes) else c.to_bytes() for c in iter_serialised(result, cols)]


def serialise(result: dict, cols: Columns | None = None) -> bytes:
    """Canonical bytes + LF with output_sha256 filled in (computed with it blank)."""
    return b"".join(serialise_chunks(result, cols))


def write_atomic(path: str, data) -> None:
    """Write bytes, or an iterable of bytes and FileRegion pieces, to `path` atomically."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".jifen-", suffix=".tmp", dir=d)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            for chunk in [data] if isinstance(data, bytes) else data:
                if isinstance(chunk, FileRegion):
                    fh.flush()  # then the kernel appends at the file's offset
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


if __name__ == "__main__":  # pragma: no cover
    print(versions(), file=sys.stderr)
