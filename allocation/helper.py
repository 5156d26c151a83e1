"""The helper process of large runs: everything about sharing a run with a second process.

On a large instance `jifen allocate -o` forks one helper process at start-up, while this process
is still small: a process forked from a heap of a million records makes both processes take a
page fault on the first write to every shared page, which on this machine made each of them
about 40% slower. Bulky data goes to the helper and back through temporary files, removed once
read (the page cache moves it several times faster than a pipe). The helper

1. decodes the second half of the applicant array while this process decodes the first,
2. makes the lottery numbers and the input digest while this process sorts and checks,
3. places the zones of about 42% of the school applicants while this process places the others
   (zones share no school, applicant or quota),
4. explains and writes the last 60% of the applicants into a temporary file while this process
   certifies the result and explains the first 40%; that file is then hashed through a memory
   map and copied into the result by the kernel.

Each job is a typed description (a dataclass whose `run` the helper calls) made of the domain's
plain functions. If the helper fails in any way, this process does the job itself, so a run
with the helper gives the bytes of a run without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import mmap
import multiprocessing
import os
import pickle
import sys
import tempfile
import traceback
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .applicants import (
    Columns,
    choice_lists,
    decode_typed,
    record_ids,
    reorder,
    take_choices,
    typed_columns,
)
from .engine import (
    PlacementRules,
    SchoolZone,
    ZonePlacements,
    finish,
    place_apart,
    place_school_zone,
    placement_rules,
    placement_state,
    rank,
)
from .explain import explain_all
from .header import Header
from .instance import (
    Instance,
    applicants_in_id_order,
    digest,
    digest_columns,
    input_sha256,
    make_instance,
    split_document,
)
from .outcome import Outcome
from .ranking import lottery_numbers
from .result import Assignments, certified, document, statuses


@dataclass(frozen=True)
class Thresholds:
    """From which size the helper takes each part (measured on the 2-core build machine)."""

    file_bytes: int = 8_000_000  # instance files (about 40,000 applicants): fork a helper
    applicant_bytes: int = 4_000_000  # applicant arrays: it decodes the second half
    school_applicants: int = 50_000  # it places some school zones:
    zone_share: float = 0.42  # this share of the school applicants (it also unpacks them)
    applicants_explained: int = 50_000  # it explains the last applicants:
    explain_share: float = 0.6  # this share of them (this process also certifies)


USUAL = Thresholds()
EVERY_PART = Thresholds(
    file_bytes=0, applicant_bytes=0, school_applicants=0, applicants_explained=2
)


class HelperError(RuntimeError):
    """The helper failed or went away: do the job in this process."""


def start_helper(instance_path: str, thresholds: Thresholds = USUAL) -> Helper | None:
    """A helper process for a run on the instance at `instance_path`, if it is large enough
    and processes can fork here; forked now, while this process is small."""
    try:
        big = os.path.getsize(instance_path) >= thresholds.file_bytes
    except OSError:
        big = False
    return Helper() if big and hasattr(os, "fork") else None


# --- the process


@dataclass
class Memory:
    """What the helper keeps from one job to the next: the applicant ids in file order, as it
    decoded them or was sent them for the lottery (so that they never travel twice)."""

    ids: list[str] | None = None


class Job:
    """A job submitted to the helper; jobs run, and their results arrive, in submission order."""

    def __init__(self, helper: Helper, args_file: str | None) -> None:
        self._helper = helper
        self.args_file = args_file  # (removed by the helper once read)
        self.done = False
        self._value = None
        self._error: str | None = None

    def result(self):
        """The job's value (HelperError if it failed or the helper went away)."""
        while not self.done:
            self._helper._receive_one()
        if self._error is not None:
            raise HelperError(self._error)
        return self._value

    def value_or_none(self):
        try:
            return self.result()
        except HelperError:
            return None


class Helper:
    """The helper process. A task is a dataclass with run(memory); its class says whether its
    arguments (`bulky_args`) and its value (`bulky_result`) go through a temporary file."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self._proc = ctx.Process(target=_serve, args=(child, self._conn), daemon=True)
        self._proc.start()
        child.close()
        self._pending: deque[Job] = deque()
        self.broken = False

    def submit(self, task) -> Job:
        """Start `task` in the helper (HelperError if it cannot take it)."""
        if self.broken:
            raise HelperError("helper not available")
        args_file = None
        try:
            args_file = _dump_to_file(task) if task.bulky_args else None
            self._conn.send(("file", args_file) if args_file else ("inline", task))
        except (OSError, ValueError, pickle.PicklingError) as exc:
            self._break(repr(exc), Job(self, args_file))
            raise HelperError(repr(exc)) from None
        job = Job(self, args_file)
        self._pending.append(job)
        return job

    def try_submit(self, task) -> Job | None:
        try:
            return self.submit(task)
        except HelperError:
            return None

    def _receive_one(self) -> None:
        job = self._pending.popleft()
        try:
            kind, value = self._conn.recv()
            if kind == "file":
                kind, value = "ok", _load_from_file(value)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            self._break(f"helper went away: {exc!r}", job)
            return
        job.done = True
        if kind == "ok":
            job._value = value
        else:
            job._error = value

    def _break(self, why: str, job: Job) -> None:
        """The helper is gone (or cannot be reached): `job` and every pending job fail, and
        the files of their arguments, which it will never read, are removed."""
        self.broken = True
        self._pending.appendleft(job)
        while self._pending:
            job = self._pending.popleft()
            job.done, job._error = True, why
            if job.args_file is not None:
                with contextlib.suppress(OSError):
                    os.unlink(job.args_file)

    def close(self) -> None:
        if not self.broken:
            with contextlib.suppress(OSError):
                self._conn.send(None)
        self._conn.close()
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()

    def __enter__(self) -> Helper:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve(conn, parent_end) -> None:
    parent_end.close()
    memory = Memory()
    while True:
        try:
            msg = conn.recv()
            if msg is None:
                return
            how, task = msg
            if how == "file":
                task = _load_from_file(task)
            value = task.run(memory)
            if task.bulky_result:
                conn.send(("file", _dump_to_file(value)))
            else:
                conn.send(("ok", value))
        except (EOFError, OSError):  # the parent went away
            return
        except BaseException:  # report everything: the parent then does the job itself
            try:
                conn.send(("error", traceback.format_exc(limit=5)))
            except OSError:
                return


def _dump_to_file(obj) -> str:
    fd, path = tempfile.mkstemp(prefix="jifen-helper-", suffix=".pickle")
    with os.fdopen(fd, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def _load_from_file(path: str):
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    finally:
        os.unlink(path)


# --- the jobs


@dataclass
class DecodeSecondHalf:
    """The columns of the second half of the applicant array (`piece`: '[' and its records)."""

    bulky_args: ClassVar[bool] = True
    bulky_result: ClassVar[bool] = True
    header: Header
    piece: bytes

    def run(self, memory: Memory) -> Columns | None:
        recs = decode_typed(self.piece, self.header)
        if recs is None:
            return None
        ids = record_ids(recs)
        cols = typed_columns(recs, ids, self.header)
        memory.ids = ids if cols is not None else None
        return cols


@dataclass
class LotteryNumbers:
    """The lottery numbers of `ids` and then, with `then_second_half`, of the second half the
    helper decoded; it keeps all those ids, in file order."""

    bulky_args: ClassVar[bool] = False
    bulky_result: ClassVar[bool] = True
    seed: str
    ids: list[str]
    then_second_half: bool

    def run(self, memory: Memory) -> np.ndarray:
        memory.ids = self.ids + memory.ids if self.then_second_half else self.ids
        return lottery_numbers(self.seed, memory.ids)


@dataclass
class InputDigest:
    """input_sha256 of the instance, from the ids the helper keeps (put in id order)."""

    bulky_args: ClassVar[bool] = True
    bulky_result: ClassVar[bool] = False
    header_doc: dict
    order: np.ndarray  # positions in file order, in id order
    columns: tuple  # instance.digest_columns of the applicants in id order

    def run(self, memory: Memory) -> str:
        if memory.ids is None or len(memory.ids) != len(self.order):
            raise ValueError("the helper does not hold these applicants' ids")
        return digest(self.header_doc, reorder(memory.ids, self.order.tolist()), *self.columns)


@dataclass
class PlaceZones:
    """The placements of `zones`, from what placing them reads (their applicants only)."""

    bulky_args: ClassVar[bool] = True
    bulky_result: ClassVar[bool] = True
    n: int
    tie_policy: str
    zones: list[SchoolZone]
    members: np.ndarray  # the zones' applicants
    choice_counts: np.ndarray  # their choices
    choice_flat: np.ndarray
    family: dict[int, str]  # applicant -> family, for those in one
    families: dict[tuple[int, str], list[int]]
    zone_schools: dict[tuple[int, int], list[int]]
    seats: dict[int, int]  # the zones' schools -> free seats
    kept: dict[int, int]
    accept_any: np.ndarray  # every applicant's

    def run(self, memory: Memory) -> ZonePlacements:
        choices: list[list[int]] = [[]] * self.n
        lists = choice_lists(self.choice_counts, self.choice_flat)
        for a, ch in zip(self.members.tolist(), lists, strict=True):
            choices[a] = ch
        family: list[str | None] = [None] * self.n
        for a, f in self.family.items():
            family[a] = f
        rules = PlacementRules(
            self.tie_policy, choices, self.accept_any.tolist(), family, self.families,
            self.zone_schools, self.kept,
        )  # fmt: skip
        return place_apart(self.zones, rules, self.seats, self.n)


@dataclass
class ExplainTail:
    """Explain applicants lo.. and write their part of the assignments array to `path`; the
    number of applicants written.

    `inst` comes without its per-applicant lists and `out` without what explaining does not
    read; the lists of applicants lo.. come with the job (their ids, or None: the helper holds
    them), and are put back in front of placeholders for those before lo, which explaining
    lo.. never reads."""

    bulky_args: ClassVar[bool] = True
    bulky_result: ClassVar[bool] = False
    inst: Instance
    out: Outcome
    lo: int
    ids: list[str] | None
    choice_counts: np.ndarray  # of applicants lo..
    choice_flat: np.ndarray
    misses: np.ndarray  # Reasons.miss_at_choice of applicants lo..
    path: str

    def run(self, memory: Memory) -> int:
        n, lo = len(self.inst.points), self.lo
        ids = memory.ids[lo:] if self.ids is None else self.ids
        if len(ids) != n - lo or len(self.choice_counts) != n - lo:
            raise ValueError("the helper's applicants do not match")
        inst = dataclasses.replace(
            self.inst,
            ids=[""] * lo + ids,
            choices=[[]] * lo + choice_lists(self.choice_counts, self.choice_flat),
            choice_counts=np.concatenate([np.zeros(lo, dtype=np.int64), self.choice_counts]),
            choice_flat=self.choice_flat,
        )
        reasons = dataclasses.replace(self.out.reasons, miss_at_choice=self.misses)
        out = dataclasses.replace(self.out, reasons=reasons)
        assignments = Assignments(inst, out, explain_all(inst, out, lo, n), lo, n)
        with open(self.path, "wb") as fh:
            for chunk in assignments.json_chunks(first=False, last=True):
                fh.write(chunk)
        return n - lo


# --- a run shared with the helper


class SharedRun:
    """One run of `jifen allocate -o`, shared with the helper: this process's side. It does
    what the domain's single-process functions do (instance.read_instance, engine.allocate,
    result.run_columns), with parts of it done by the helper meanwhile. `used` names the parts
    the helper did."""

    def __init__(self, helper: Helper, thresholds: Thresholds = USUAL) -> None:
        self.helper, self.thresholds = helper, thresholds
        self.used: set[str] = set()
        self._digest: Job | None = None  # the helper making input_sha256
        self._helper_has_ids = False  # in id order

    # reading

    def read(self, raw: bytes) -> Instance | None:
        """instance.read_instance(raw), half decoded by the helper, the lottery numbers and
        the input digest made there."""
        parts = split_document(raw)
        if parts is None:
            return None
        doc, header, apps = parts
        halves = self._decode_in_two(raw, apps, header)
        if halves is None:
            recs = decode_typed(apps, header)
            if recs is None:
                return None
            ids = record_ids(recs)
            lottery = self.helper.try_submit(LotteryNumbers(header.seed, ids, False))
            cols = typed_columns(recs, ids, header)
            del recs
        else:
            cols, lottery = halves
        del apps
        got = None if cols is None else applicants_in_id_order(cols, header, doc.get("vacancy"))
        if got is None:
            return None
        cols, order = got
        if lottery is not None:  # (then the helper holds the ids: it makes the digest next)
            self._digest = self.helper.try_submit(InputDigest(doc, order, digest_columns(cols)))
        numbers = None if lottery is None else lottery.value_or_none()
        if numbers is not None:
            self.used.add("lottery")
            self._helper_has_ids = bool((order == np.arange(len(order))).all())
        return make_instance(header, doc, cols, None if numbers is None else numbers[order])

    def _decode_in_two(self, raw: bytes, apps, header: Header) -> tuple | None:
        """(columns, lottery job): the applicant array decoded half here, half by the helper;
        None if that does not work out (then this process decodes it all).

        The array (already checked to be well-formed JSON) is cut at a '},{' near its middle.
        If '[' + first part + ']' and '[' + second part + ']' both decode, the cut was between
        two records: a cut inside a string or a nested value leaves a bracket or a quote
        unmatched.
        """
        n = len(apps)
        if n < self.thresholds.applicant_bytes:
            return None
        start = np.frombuffer(apps, np.uint8).ctypes.data - np.frombuffer(raw, np.uint8).ctypes.data
        if not 0 <= start <= len(raw) - n:  # not a view of raw after all
            return None
        cut = raw.find(b"},{", start + n // 2, start + n)
        if cut < 0:
            return None
        second = b"".join((b"[", memoryview(raw)[cut + 2 : start + n]))
        job = self.helper.try_submit(DecodeSecondHalf(header, second))
        del second
        if job is None:
            return None
        recs = decode_typed(b"".join((memoryview(raw)[start : cut + 1], b"]")), header)
        first = None if recs is None else typed_columns(recs, record_ids(recs), header)
        del recs
        second_cols = job.value_or_none()
        if first is None or second_cols is None:
            return None
        self.used.add("decode")
        lottery = self.helper.try_submit(LotteryNumbers(header.seed, first.ids, True))
        joined = {}
        for f in dataclasses.fields(Columns):
            v, w = getattr(first, f.name), getattr(second_cols, f.name)
            joined[f.name] = v + w if isinstance(v, list) else np.concatenate([v, w])
        return Columns(**joined), lottery

    def input_sha256(self, inst: Instance) -> str:
        if self._digest is not None:
            made = self._digest.value_or_none()
            if made is not None:
                self.used.add("digest")
                return made
        return input_sha256(inst)

    # placing

    def allocate(self, inst: Instance, progress=None) -> Outcome:
        """engine.allocate(inst), with some school zones placed by the helper."""
        out, zones = rank(inst, progress)
        mine, theirs = self._share(zones)
        job = self._place_zones(inst, out, theirs) if theirs else None
        if job is None:
            mine, theirs = zones, []
        rules, state = placement_rules(inst, out), placement_state(out)
        for zone in mine:
            place_school_zone(zone, rules, state)
            if progress is not None:
                progress(1)
        placed = None if job is None else job.value_or_none()
        if placed is None:  # (the helper failed: its zones are placed here)
            for zone in theirs:
                place_school_zone(zone, rules, state)
        else:
            self.used.add("zones")
        if progress is not None:
            for _ in theirs:
                progress(1)
        return finish(inst, out, [placed] if placed is not None else [])

    def _share(self, zones: list[SchoolZone]) -> tuple[list, list]:
        """The zones for this process and for the helper (`zone_share` of the applicants)."""
        total = sum(len(z.members) for z in zones)
        if self.helper.broken or total < self.thresholds.school_applicants:
            return zones, []
        share = self.thresholds.zone_share
        load = [0, 0]
        sides: list[list] = [[], []]
        for z in sorted(zones, key=lambda z: (-len(z.members), z.category, z.zone)):
            side = 0 if load[0] * share <= load[1] * (1 - share) else 1
            sides[side].append(z)
            load[side] += len(z.members)
        return [sorted(side, key=lambda z: (z.category, z.zone)) for side in sides]

    def _place_zones(self, inst: Instance, out: Outcome, zones: list[SchoolZone]) -> Job | None:
        """Send the helper what placing `zones` reads; None if it cannot take the job."""
        members = np.concatenate([z.members for z in zones])
        counts, flat = take_choices(inst.choice_counts, inst.choice_flat, members)
        sent = np.zeros(inst.n, dtype=bool)
        sent[members] = True
        zone_schools = {(z.category, z.zone): out.zone_schools.get((z.category, z.zone), [])
                        for z in zones}  # fmt: skip
        return self.helper.try_submit(
            PlaceZones(
                n=inst.n,
                tie_policy=inst.tie_policy,
                zones=zones,
                members=members,
                choice_counts=counts,
                choice_flat=flat,
                family={a: inst.family[a] for a in members.tolist() if inst.family[a] is not None},
                families={k: v for k, v in out.families.items() if sent[v[0]]},
                zone_schools=zone_schools,
                seats={s: out.remaining[s] for ss in zone_schools.values() for s in ss},
                kept={a: s for a, s in out.kept.items() if sent[a]},
                accept_any=inst.accept_any,
            )
        )

    # the whole run

    def run(self, inst: Instance, progress=None) -> tuple[dict, Assignments | SharedAssignments]:
        """result.run_columns(inst): the result document with empty `assignments`, and the
        assignments (the last ones explained by the helper)."""
        out = self.allocate(inst, progress)
        # optimistic: the helper starts explaining before the certification; only a re-solved
        # zone changes the outcome, and then it starts again
        tail = self._explain_tail(inst, out)
        checks, refined = certified(inst, out)
        if refined and tail is not None:
            tail.done()  # wait for the stale job, then drop it
            tail.close()
            tail = self._explain_tail(inst, out)
        result = document(inst, out, checks, refined, self.input_sha256(inst))
        if tail is None:
            return result, Assignments(inst, out, explain_all(inst, out))
        return result, SharedAssignments(inst, out, tail, self.used)

    def _explain_tail(self, inst: Instance, out: Outcome) -> Tail | None:
        if self.helper.broken or inst.n < self.thresholds.applicants_explained:
            return None
        try:
            return Tail(self.helper, inst, out, self.thresholds.explain_share, self._helper_has_ids)
        except (HelperError, OSError):  # no helper, or no room for its file: explain here
            return None


class Tail:
    """Applicants lo..n-1 being explained by the helper, into a temporary file."""

    def __init__(self, helper: Helper, inst: Instance, out: Outcome, share: float, has_ids: bool):
        self.n, self.lo = inst.n, inst.n - int(inst.n * share)
        fd, self.path = tempfile.mkstemp(prefix="jifen-part-", suffix=".json")
        self.file = os.fdopen(fd, "rb")
        lo, counts = self.lo, inst.choice_counts
        first = int(counts[:lo].sum())
        nothing = np.zeros(0, dtype=np.int64)
        slim = dataclasses.replace(
            inst, header_doc={}, ids=[], choices=[], family=[], lottery=nothing,
            choice_counts=nothing, choice_flat=nothing,
        )  # fmt: skip
        reasons = dataclasses.replace(out.reasons, miss_at_choice=nothing)
        slim_out = dataclasses.replace(out, placement=[], families={}, reasons=reasons)
        task = ExplainTail(
            inst=slim,
            out=slim_out,
            lo=lo,
            ids=None if has_ids else inst.ids[lo:],
            choice_counts=counts[lo:],
            choice_flat=inst.choice_flat[first:],
            misses=out.reasons.miss_at_choice[first:],
            path=self.path,
        )
        try:
            self.job = helper.submit(task)
        except HelperError:
            self.close()
            raise

    def done(self) -> bool:
        """Whether the helper wrote its part (if not, the file is closed)."""
        if self.job.value_or_none() != self.n - self.lo:
            self.close()
            return False
        return True

    def close(self) -> None:
        self.file.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


class SharedAssignments:
    """The assignments of a run shared with the helper: the first applicants explained here,
    the others by the helper (its file). The bytes are exactly those of Assignments for all
    applicants; if the helper fails, this process explains its part too."""

    def __init__(self, inst: Instance, out: Outcome, tail: Tail, used: set[str]):
        self.inst, self.out, self.tail, self.used = inst, out, tail, used
        self.head = Assignments(inst, out, explain_all(inst, out, 0, tail.lo), 0, tail.lo)

    @property
    def status(self) -> list[str]:
        return statuses(self.out)

    def json_chunks(self):
        yield from self.head.json_chunks(first=True, last=False)
        if not self.tail.done():
            inst, out, lo = self.inst, self.out, self.tail.lo
            yield from Assignments(inst, out, explain_all(inst, out, lo), lo).json_chunks(
                first=False, last=True
            )
            return
        self.used.add("explain")
        region = FileRegion(self.tail.file)
        try:
            yield region
        finally:
            region.close()
            self.tail.close()


class FileRegion(mmap.mmap):
    """The whole of an open file as a chunk of the output: hashed through a memory map, copied
    file to file by the kernel (copy_to), never read into this process's memory."""

    def __new__(cls, file) -> FileRegion:
        region = super().__new__(cls, file.fileno(), 0, access=mmap.ACCESS_READ)
        region.source = file
        return region

    def copy_to(self, fd: int) -> None:
        src, size, at = self.source.fileno(), len(self), 0
        try:
            while at < size:
                done = os.copy_file_range(src, fd, size - at, at)
                if not done:
                    break
                at += done
        except OSError:  # no in-kernel copy here: copy through memory
            pass
        view = memoryview(self)
        while at < size:
            at += os.write(fd, view[at:])
        view.release()
