"""A helper process for large runs, forked at start-up while the heap is still small.

On a large instance `jifen allocate` does two things in two processes at once: reading the
applicant records (each process parses half of the bytes) and explaining the outcome (the
helper explains and serialises the last part of the applicants while this process certifies
the result). The helper is forked before anything large is loaded: a process forked from a
heap of a million records makes both processes take a page fault on the first write to every
shared page, which on this machine made each of them about 40% slower (docs/allocation.md,
"Speed"). Bulky data goes to the helper and back through unlinked temporary files (the page
cache moves it several times faster than a pipe).

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


class Worker:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self._proc = ctx.Process(target=_serve, args=(child, self._conn), daemon=True)
        self._proc.start()
        child.close()
        self._pending = False
        self.broken = False

    def submit(self, fn, *args, bulky: bool = False) -> None:
        """Start fn(*args) in the helper; collect the value with result().

        With `bulky`, the arguments travel through a temporary file.
        """
        if self.broken or self._pending:
            raise WorkerError("helper not available")
        try:
            payload = ("file", _dump_to_file(args)) if bulky else ("inline", args)
            self._conn.send((fn, payload))
        except (OSError, ValueError, pickle.PicklingError) as exc:
            self.broken = True
            raise WorkerError(repr(exc)) from None
        self._pending = True

    def result(self):
        """The value of the submitted job (WorkerError if it failed)."""
        if not self._pending:
            raise WorkerError("no job submitted")
        self._pending = False
        try:
            kind, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            self.broken = True
            raise WorkerError(f"helper went away: {exc!r}") from None
        if kind == "file":
            return _load_from_file(value)
        if kind != "ok":
            raise WorkerError(value)
        return value

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
