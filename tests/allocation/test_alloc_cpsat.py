"""A CP-SAT stability model with the rank objective reproduces deferred acceptance."""

from __future__ import annotations

import random

import pytest
from ortools.sat.python import cp_model

from allocation.da import blocking_pairs, deferred_acceptance, serial_dictatorship


def cpsat_stable(prefs, caps, prio):
    """Stability constraints with prefix sums; minimise the total preference rank."""
    m = cp_model.CpModel()
    n = len(prefs)
    x = {}
    for s, lst in enumerate(prefs):
        for k, h in enumerate(lst):
            if s in prio[h]:
                x[s, k] = m.new_bool_var(f"x{s}_{k}")
        m.add_at_most_one(x[s, k] for k in range(len(lst)) if (s, k) in x)
    for h, c in enumerate(caps):
        apps = sorted(
            (
                (prio[h][s], s, k)
                for s, lst in enumerate(prefs)
                for k, hh in enumerate(lst)
                if hh == h and (s, k) in x
            )
        )
        m.add(sum(x[s, k] for _, s, k in apps) <= c)
        prev = 0
        for j, (_, s, k) in enumerate(apps):
            if c > 0:
                better = [x[s, kk] for kk in range(k + 1) if (s, kk) in x]
                m.add(c * sum(better) + prev >= c)
            y = m.new_int_var(0, min(c, j + 1), f"y{h}_{j}")
            m.add(y == prev + x[s, k])
            prev = y
    L = max((len(p) for p in prefs), default=0)
    m.minimize(sum((k + 1) * v for (s, k), v in x.items()) - (L + 1) * sum(x.values()))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    assert solver.solve(m) == cp_model.OPTIMAL
    out = [-1] * n
    for (s, k), v in x.items():
        if solver.value(v):
            out[s] = prefs[s][k]
    return out


def random_market(rng, n, h, common):
    prefs = [rng.sample(range(h), rng.randint(0, min(4, h))) for _ in range(n)]
    caps = [rng.randint(0, 3) for _ in range(h)]
    if common:
        order = list(range(n))
        rng.shuffle(order)
        prio = [{s: order.index(s) for s in range(n)} for _ in range(h)]
    else:
        prio = []
        for _ in range(h):
            order = list(range(n))
            rng.shuffle(order)
            prio.append({s: r for r, s in enumerate(order)})
    return prefs, caps, prio


@pytest.mark.parametrize("seed", range(12))
def test_cpsat_rank_objective_equals_da_with_school_priorities(seed):
    rng = random.Random(seed)
    prefs, caps, prio = random_market(rng, rng.randint(5, 40), rng.randint(2, 6), common=False)
    da = deferred_acceptance(prefs, caps, prio)
    assert blocking_pairs(prefs, caps, prio, da) == []
    assert cpsat_stable(prefs, caps, prio) == da


@pytest.mark.parametrize("seed", range(12))
def test_da_equals_serial_dictatorship_with_common_priority(seed):
    rng = random.Random(100 + seed)
    prefs, caps, prio = random_market(rng, rng.randint(5, 60), rng.randint(2, 8), common=True)
    order = sorted(range(len(prefs)), key=lambda s: prio[0][s])
    sd = serial_dictatorship(order, prefs, caps)
    assert deferred_acceptance(prefs, caps, prio) == sd
    assert cpsat_stable(prefs, caps, prio) == sd


def test_da_known_example():
    # three applicants, two schools with one seat each, opposite priorities
    prefs = [[0, 1], [0, 1], [1, 0]]
    caps = [1, 1]
    prio = [{0: 1, 1: 0, 2: 2}, {0: 0, 1: 2, 2: 1}]
    # 0 and 1 propose to school 0, which keeps 1; 0 goes to school 1 and displaces 2,
    # who is then rejected by school 0 (holds 1, ranked above 2).
    assert deferred_acceptance(prefs, caps, prio) == [1, 0, -1]
