"""The machine's speed at the moment, printed beside a benchmark's figures: the same 2-core
machine has been 1.5 to 2 times slower from one day (or hour) to the next, so a figure means
little without it. A fixed pure-Python loop's CPU time, the best of three (about 0.8 s when
the import figures of docs/office.md were taken on 2026-12-02)."""

from __future__ import annotations

import time


def reference_loop() -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        total = 0
        for i in range(20_000_000):
            total += i
        best = min(best, time.process_time() - start)
    return best


def speed_line() -> str:
    return f"reference loop (20 million additions): {reference_loop():.2f} s of CPU"
