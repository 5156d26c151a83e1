"""The rows of a large import checked and prepared in helper processes, chunk by chunk, while
the importer writes the chunks already done (the speed work of the import, kept here).

A chunk is `rows.check_rows` over a slice of the file: the same function, with the same
results, as for a small file checked inline. Helper processes are started with "spawn" (not
fork: the importer holds database connections and may run beside threads).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from app.applications.rows import RoundRules, RowResult, check_rows

# Below this many rows a file is checked inline: starting helpers costs about a second.
PARALLEL_FROM = 20_000
CHUNK = 5_000

_rules: RoundRules | None = None  # a helper's copy of the rules, set once when it starts


def checked_chunks(
    rules: RoundRules, rows: list[tuple[int, list[str]]]
) -> Iterator[list[RowResult]]:
    """The rows checked and prepared, chunk by chunk, in the file's order. The helpers leave
    one core to this process, which writes the chunks (measured on 2 cores: one helper beside
    the writer beats two, which starve it)."""
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
        initargs=(rules,),
    )
    try:
        yield from pool.map(_check_chunk, chunks)
    finally:  # a refused or interrupted import: drop the chunks not started
        pool.shutdown(wait=True, cancel_futures=True)


def _start(rules: RoundRules) -> None:
    global _rules
    import gc

    gc.disable()  # a helper builds many small objects that live until its chunk is sent back
    _rules = rules


def _check_chunk(chunk: list[tuple[int, list[str]]]) -> list[RowResult]:
    assert _rules is not None
    return check_rows(_rules, chunk)
