"""A helper process for large runs, forked at start-up while the heap is still small.

On a large instance `jifen allocate -o` shares its work with the helper: decoding half of the
applicant records, the lottery numbers and input digest, the placement of some school zones,
and the explanations and JSON of the last applicants (docs/allocation.md, "Performance").
The helper is forked before anything large is loaded: a process forked from a heap of a
million records makes both processes take a page fault on the first write to every shared
page, which on this machine made each of them about 40% slower. Bulky data goes to the helper
and back through temporary files, removed once read (the page cache moves it several times
faster than a pipe).

Every job is a module-level function and its arguments, run in the helper. If the helper fails
in any way, `WorkerError` is raised and the caller does the job itself, so no result ever
depends on the helper.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import sys
import tempfile
import traceback
from collections import deque


class WorkerError(RuntimeError):
    """The helper failed or went away: do the job in this process."""


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


class Job:
    """A job submitted to the helper; jobs run, and their results arrive, in submission order."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self.done = False
        self._value = None
        self._error: str | None = None

    def result(self):
        """The job's value (WorkerError if it failed or the helper went away)."""
        while not self.done:
            self._worker._receive_one()
        if self._error is not None:
            raise WorkerError(self._error)
        return self._value


class Worker:
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

    def submit(self, fn, *args, bulky: bool = False) -> Job:
        """Start fn(*args) in the helper. With `bulky` the arguments go through a file."""
        if self.broken:
            raise WorkerError("helper not available")
        try:
            payload = ("file", _dump_to_file(args)) if bulky else ("inline", args)
            self._conn.send((fn, payload))
        except (OSError, ValueError, pickle.PicklingError) as exc:
            self._break(repr(exc))
            raise WorkerError(repr(exc)) from None
        job = Job(self)
        self._pending.append(job)
        return job

    def _receive_one(self) -> None:
        job = self._pending.popleft()
        try:
            kind, value = self._conn.recv()
            if kind == "file":
                kind, value = "ok", _load_from_file(value)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            job.done, job._error = True, f"helper went away: {exc!r}"
            self._break(job._error)
            return
        job.done = True
        if kind == "ok":
            job._value = value
        else:
            job._error = value

    def _break(self, why: str) -> None:
        self.broken = True
        while self._pending:
            job = self._pending.popleft()
            job.done, job._error = True, why

    def close(self) -> None:
        if not self.broken:
            with contextlib.suppress(OSError):
                self._conn.send(None)
        self._conn.close()
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve(conn, parent_end) -> None:
    parent_end.close()
    while True:
        try:
            msg = conn.recv()
            if msg is None:
                return
            fn, (how, args) = msg
            if how == "file":
                args = _load_from_file(args)
            value = fn(*args)
            if isinstance(value, Bulky):
                conn.send(("file", _dump_to_file(value.value)))
            else:
                conn.send(("ok", value))
        except (EOFError, OSError):  # the parent went away
            return
        except BaseException:  # report everything: the parent then does the job itself
            try:
                conn.send(("error", traceback.format_exc(limit=5)))
            except OSError:
                return


class Bulky:
    """Wrap a job's return value in this to send it back through a temporary file."""

    def __init__(self, value) -> None:
        self.value = value


_STASH: dict = {}  # in the helper: values kept for later jobs


def keep(key: str, value) -> None:
    _STASH[key] = value


def kept(key: str):
    return _STASH[key]
