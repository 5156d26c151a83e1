"""Allocator benchmark: end-to-end `jifen allocate` time and peak RSS, and `matching` at 10k.

    uv run python benchmarks/allocate.py                 # 100k and 1M, plus the 10k comparison
    uv run python benchmarks/allocate.py --sizes 100000  # quicker
    uv run python benchmarks/allocate.py --repeat 3      # median of three runs per size

Instances come from `jifen instance generate` (24 zones, 1,000 schools, 5 choices, household
and school categories, about 5% of school applicants in families); generating them is not
timed. The 10k comparison uses an instance without families whose school totals equal the
seats (so the zone quota never binds and the `matching` HospitalResident game is the same
problem), and checks that both give identical assignments.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


def jifen_cmd() -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "jifen")
    if os.path.exists(exe):
        return [exe]
    return [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]


def run_measured(cmd: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in KiB, exit code) of one child process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode() if p.stderr else ""
    if p.returncode != 0:
        print(err, file=sys.stderr)
    return wall, usage.ru_maxrss, p.returncode


def end_to_end(n: int, workdir: str, repeat: int = 1) -> dict:
    inst = os.path.join(workdir, f"instance-{n}.json")
    res = os.path.join(workdir, f"result-{n}.json")
    gen = [*jifen_cmd(), "instance", "generate", "--applicants", str(n), "--zones", "24",
           "--schools", "1000", "--choices", "5", "--seed", "1", "-o", inst]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(gen, check=True)
    t_gen = time.perf_counter() - t0
    runs = [
        run_measured([*jifen_cmd(), "allocate", inst, "-o", res, "--quiet"]) for _ in range(repeat)
    ]
    walls = sorted(r[0] for r in runs)
    wall, rss, rc = walls[len(walls) // 2], max(r[1] for r in runs), max(r[2] for r in runs)
    with open(res, "rb") as fh:
        doc = json.loads(fh.read())
    c = doc["checks"]
    return {
        "applicants": n,
        "generate_s": round(t_gen, 2),
        "allocate_wall_s": round(wall, 2),  # the median of the runs
        "allocate_wall_s_runs": [round(w, 2) for w in walls],
        "peak_rss_mb": round(rss / 1024),
        "exit": rc,
        "admitted": sum(1 for a in doc["assignments"] if a["status"] == "admitted"),
        "checks_ok": c["ok"],
        "blocking_pairs": c["blocking_pairs"],
        "blocking_pairs_unexplained": c["blocking_pairs_unexplained"],
        "wasted_seats": c["wasted_seats"],
        "input_mb": round(os.path.getsize(inst) / 1e6),
        "output_mb": round(os.path.getsize(res) / 1e6),
    }


def versus_matching(n: int = 10_000) -> dict:
    from matching.games import HospitalResident

    from allocation.engine import allocate
    from allocation.generate import generate
    from allocation.instance import parse_instance
    from allocation.result import run_columns, serialise

    doc = generate(n, 24, 1000, seed=1, family_rate=0.0)
    seats: dict[str, int] = {}
    for s in doc["schools"]:
        seats[s["category"]] = seats.get(s["category"], 0) + s["seats"]
    for c in doc["categories"]:
        if c["kind"] == "school":
            c["total"] = seats[c["id"]]
    inst = parse_instance(doc)
    t0 = time.perf_counter()
    out = allocate(inst)
    t_engine = time.perf_counter() - t0
    t0 = time.perf_counter()
    inst2 = parse_instance(doc)
    result, cols = run_columns(inst2)
    serialise(result, cols)
    t_full = time.perf_counter() - t0

    # the same problem as a HospitalResident game: school applicants, extended lists
    zone_schools: dict[tuple[int, int], list[int]] = {}
    for s in range(len(inst.schools)):
        zone_schools.setdefault((int(inst.school_cat[s]), int(inst.school_zone[s])), []).append(s)
    sid = [s["id"] for s in inst.schools]
    rprefs, order = {}, {}
    for a in range(inst.n):
        if out.pos[a] < 0 or inst.categories[int(inst.cat[a])]["kind"] != "school":
            continue
        lst = list(inst.choices[a])
        if inst.accept_any[a]:
            zs = zone_schools[(int(inst.cat[a]), int(inst.zone[a]))]
            lst += [s for s in zs if s not in lst]
        lst = [s for s in lst if inst.school_seats[s] > 0]
        if lst:
            rprefs[inst.ids[a]] = [sid[s] for s in lst]
            order[inst.ids[a]] = int(out.pos[a])
    hprefs: dict[str, list[str]] = {sid[s]: [] for s in range(len(sid)) if inst.school_seats[s]}
    for r, lst in rprefs.items():
        for s in lst:
            hprefs[s].append(r)
    for s in hprefs:
        hprefs[s].sort(key=order.__getitem__)
    caps = {s: int(inst.school_seats[inst.school_index[s]]) for s in hprefs}
    box: dict = {}

    def solve():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            game = HospitalResident.create_from_dictionaries(rprefs, hprefs, caps)
            m = game.solve(optimal="resident")
            box["t"] = time.perf_counter() - t
            box["m"] = {r.name: h.name for h, rs in m.items() for r in rs}

    sys.setrecursionlimit(10**6)
    threading.stack_size(512 * 1024 * 1024)
    th = threading.Thread(target=solve)
    th.start()
    th.join()
    ours = {
        inst.ids[a]: sid[int(out.school[a])]
        for a in range(inst.n)
        if inst.ids[a] in rprefs and out.school[a] >= 0
    }
    return {
        "applicants": n,
        "school_applicants_in_game": len(rprefs),
        "matching_s": round(box["t"], 3),
        "ours_engine_s": round(t_engine, 3),
        "ours_end_to_end_in_process_s": round(t_full, 3),
        "ratio_engine": round(box["t"] / t_engine, 1),
        "ratio_end_to_end": round(box["t"] / t_full, 1),
        "identical_assignments": ours == box["m"],
    }


def min_max_apportionment(n: int = 60_000, zones: int = 30) -> dict:
    """The CP-SAT apportionment (min-max-deviation, three stages) on every category."""
    import numpy as np

    from allocation.engine import compute_quotas
    from allocation.generate import generate
    from allocation.instance import parse_instance

    inst = parse_instance(generate(n, zones, 300, seed=13, method="min-max-deviation"))
    t0 = time.perf_counter()
    for c in range(len(inst.categories)):
        m = (inst.cat == c) & inst.eligible
        compute_quotas(inst, c, np.bincount(inst.zone[m], minlength=zones))
    return {
        "min_max_deviation_zones": zones,
        "min_max_deviation_applicants": n,
        "min_max_deviation_s": round(time.perf_counter() - t0, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--no-matching", action="store_true")
    ap.add_argument("--keep", help="keep generated instances and results in this directory")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size (the median is reported)")
    args = ap.parse_args()
    workdir = args.keep or tempfile.mkdtemp(prefix="jifen-bench-")
    os.makedirs(workdir, exist_ok=True)
    print(f"machine: {os.cpu_count()} cpu, python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    try:
        for n in args.sizes:
            r = end_to_end(n, workdir, args.repeat)
            print(json.dumps(r, sort_keys=True))
        if not args.no_matching:
            print(json.dumps(versus_matching(), sort_keys=True))
        print(json.dumps(min_max_apportionment(), sort_keys=True))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("rerun: uv run python benchmarks/allocate.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
