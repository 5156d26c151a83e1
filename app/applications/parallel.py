"""The rows of a large import checked and prepared in helper processes, chunk by chunk, while
the importer writes the chunks already done (the speed work of the import, kept here).

A chunk is `rows.check_rows` over a slice of the file: the same function, with the same
results, as for a small file checked inline. Helper processes are started with "spawn" (not
fork: the importer holds database connections and may run beside threads).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from app.applications.rows import RoundRules, RowResult, check_rows

# Below this many rows a file is checked inline: starting helpers costs about a second.
PARALLEL_FROM = 20_000
CHUNK = 5_000
HELPER_NICENESS = 19

_rules: RoundRules | None = None  # a helper's copy of the rules, set once when it starts


def checked_chunks(
    rules: RoundRules, rows: list[tuple[int, list[str]]], *, server_writes: bool = False
) -> Iterator[list[RowResult]]:
    """The rows checked and prepared, chunk by chunk, in the file's order. The helpers leave
    one core to this process, which writes the chunks (measured on 2 cores: one helper beside
    the writer beats two, which starve it); whenever the next chunk is not back yet, this
    process checks one itself instead of waiting: the first (while the helpers start) and
    then the last ones no helper has begun.

    `server_writes` (PostgreSQL): a database server writes the chunks in a process of its own,
    and its work for an import (one backend, one transaction) is the longest part of it. The
    helpers then run at the lowest priority, and this process checks only the first chunk, so
    that the server is never kept from a core by the checking (measured, 100,000 rows: 34.8 s
    -> 26.8-29.3 s, where the server alone needs 22-27 s)."""
    chunks = [rows[start : start + CHUNK] for start in range(0, len(rows), CHUNK)]
    cores = os.cpu_count() or 1
    if len(rows) < PARALLEL_FROM or cores < 2:
        for chunk in chunks:
            yield check_rows(rules, chunk)
        return
    pool = ProcessPoolExecutor(
        cores - 1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(rules, HELPER_NICENESS if server_writes else 0),
    )
    try:
        futures: list[Future | None] = [None]  # the first chunk: this process's own
        futures += [pool.submit(_check_chunk, chunk) for chunk in chunks[1:]]
        started = time.perf_counter()
        here: dict[int, list[RowResult]] = {0: check_rows(rules, chunks[0])}
        check = time.perf_counter() - started  # what a chunk takes to check here
        consumed = 0.0  # what the chunks yielded so far took the importer (writing them)
        last = len(chunks)  # chunks from here on are checked here, not by a helper
        helpers = cores - 1
        for i in range(len(chunks)):
            while i not in here and not futures[i].done():
                j = last - 1
                # Only while the helpers' share left is larger than this process's (writing
                # every chunk not yet written, and checking this one): otherwise the helpers
                # would finish first and wait while this process still writes.
                write = consumed / i * (len(chunks) - i)
                if (
                    server_writes
                    or j < i
                    or (j - i) * check / helpers < write + check
                    or not futures[j].cancel()
                ):
                    break  # wait for the helper
                here[j], last = check_rows(rules, chunks[j]), j
            result = here.pop(i) if i in here else futures[i].result()
            futures[i] = None  # the results are the importer's now
            handed = time.perf_counter()
            yield result
            consumed += time.perf_counter() - handed
    finally:  # a refused or interrupted import: drop the chunks not started
        pool.shutdown(wait=True, cancel_futures=True)


def _start(rules: RoundRules, niceness: int) -> None:
    global _rules
    import gc

    if niceness:
        os.nice(niceness)

    gc.disable()  # a helper builds many small objects that live until its chunk is sent back
    _rules = rules


def _check_chunk(chunk: list[tuple[int, list[str]]]) -> list[RowResult]:
    assert _rules is not None
    return check_rows(_rules, chunk)
