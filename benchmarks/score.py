"""Scoring speed and memory. Run: uv run python benchmarks/score.py [--rows N]

Prints: median microseconds per applicant on the scalar path; applicants per second on the
batch path (compute only) for N synthetic applicants on zhongshan-2020-school; the end-to-end
time of `jifen score --batch` on an N-row CSV file (to CSV) and on the same rows as JSONL (to
JSONL); and peak memory (RSS) of each.
Targets (2-core machine): scalar <= 30 us, batch >= 2,000,000/s, 1M rows end to end <= 10 s
from CSV and from JSONL, peak <= 1 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from scoring import Facts, get_table, score
from scoring.batch import NO_DATE, score_columns
from scoring.facts import FACT_SPECS

TABLE = "zhongshan-2020-school"
ON = dt.date(2020, 6, 30)


def synthetic(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Raw fact values (not scaled) for n applicants, on the table's facts."""
    rng = np.random.default_rng(seed)
    table = get_table(TABLE)
    out = {}
    for name in table.facts_used():
        spec = FACT_SPECS[name]
        if spec.kind == "enum":
            out[name] = rng.integers(0, len(spec.levels), n)
        elif spec.kind == "bool":
            out[name] = rng.integers(0, 2, n)
        elif spec.kind == "date":
            out[name] = np.full(n, NO_DATE)
        elif spec.scale == 10000:
            out[name] = rng.choice([0, 0, 0, 5000, 10000], n)
        elif spec.unit == "元":
            out[name] = rng.integers(0, 50_000, n) * 100
        else:
            out[name] = rng.integers(0, 180, n)
    return out


def scalar_median_us(cols: dict[str, np.ndarray], samples: int = 20_000) -> tuple[float, float]:
    table = get_table(TABLE)
    facts = []
    for i in range(samples):
        row = {}
        for name, col in cols.items():
            spec = FACT_SPECS[name]
            value = int(col[i])
            if spec.kind == "enum":
                row[name] = spec.levels[value]
            elif spec.kind == "decimal":
                row[name] = str(value / spec.scale)
            elif spec.kind != "date":
                row[name] = value
        facts.append(row)
    medians = []
    for render in (False, True):
        times = []
        for row in facts:  # validate + score (+ write every explanation), as one request does
            start = time.perf_counter_ns()
            result = score(table, Facts.parse(row, today=ON), on=ON)
            if render:
                result.to_dict()
            times.append(time.perf_counter_ns() - start)
        medians.append(statistics.median(times) / 1000)
    return medians[0], medians[1]


def batch_rate(cols: dict[str, np.ndarray]) -> tuple[float, float]:
    table = get_table(TABLE)
    score_columns(table, {k: v[:1000] for k, v in cols.items()}, on=ON)  # warm up
    start = time.perf_counter()
    score_columns(table, cols, on=ON)
    seconds = time.perf_counter() - start
    return len(next(iter(cols.values()))) / seconds, seconds


def write_csv(cols: dict[str, np.ndarray], path: Path) -> None:
    frame = {"id": np.char.add("A", np.arange(len(next(iter(cols.values())))).astype(str))}
    for name, col in cols.items():
        spec = FACT_SPECS[name]
        if spec.kind == "enum":
            frame[name] = np.asarray(spec.levels)[col]
        elif spec.kind == "decimal":
            frame[name] = col / spec.scale
        elif spec.kind != "date":
            frame[name] = col
    pd.DataFrame(frame).to_csv(path, index=False)


def write_jsonl(cols: dict[str, np.ndarray], path: Path) -> None:
    """The same rows as `write_csv`, one JSON object a line (numbers as JSON numbers)."""
    n = len(next(iter(cols.values())))
    values: dict[str, list] = {}
    for name, col in cols.items():
        spec = FACT_SPECS[name]
        if spec.kind == "enum":
            values[name] = np.asarray(spec.levels)[col].tolist()
        elif spec.kind == "decimal":
            values[name] = (col / spec.scale).tolist()
        elif spec.kind != "date":
            values[name] = col.tolist()
    with path.open("wb") as handle:
        for i in range(n):
            row = {"id": f"A{i}", **{name: column[i] for name, column in values.items()}}
            handle.write(orjson.dumps(row) + b"\n")


def end_to_end(source: Path, output: Path) -> float:
    command = [
        sys.executable, "-m", "app.cli", "score", TABLE, "--batch", str(source),
        "-o", str(output), "--on", ON.isoformat(),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    cols = synthetic(args.rows)
    print(f"table {TABLE}, {args.rows:,} synthetic applicants, reference date {ON}")
    figures, explained = scalar_median_us(cols)
    print(f"scalar: median {figures:.1f} us per applicant (validate facts + score)")
    print(
        f"scalar: median {explained:.1f} us per applicant (validate + score + JSON with every"
        " explanation written)"
    )
    rate, seconds = batch_rate(cols)
    print(f"batch compute: {rate:,.0f} applicants/s ({seconds:.2f} s for {args.rows:,})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, write in (("CSV", write_csv), ("JSONL", write_jsonl)):
            suffix = kind.lower()
            source, output = Path(tmp) / f"in.{suffix}", Path(tmp) / f"out.{suffix}"
            write(cols, source)
            seconds = end_to_end(source, output)
            child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(
                f"end to end: jifen score --batch on a {args.rows:,}-row {kind} (to {kind}): "
                f"{seconds:.1f} s ({args.rows / seconds:,.0f} rows/s), peak RSS {child:.0f} MB"
            )
    print("rerun: uv run python benchmarks/score.py --rows", args.rows)


if __name__ == "__main__":
    main()
