"""Total control, overall balance (总量控制、统筹兼顾): split a category total among zones.

Methods: `hamilton` (largest remainder), `sainte-lague` (divisors 1, 3, 5, …), `dhondt`
(divisors 1, 2, 3, …) and `min-max-deviation` (OR-Tools CP-SAT). Every method respects
per-zone bounds [lo, hi] (hi already includes a school category's seats):

* divisor and remainder methods: apportion without bounds; if some zones fall outside their
  bounds, the zones above their upper bound are fixed at it (or, if none is above, the zones
  below their lower bound are fixed at it), and the rest of the total is apportioned again
  among the other zones; repeat until every zone is inside its bounds.
* min-max-deviation: lexicographic CP-SAT: (1) minimise the largest deviation
  |x_i·V − T·v_i|, (2) then the sum of deviations, (3) then, zone by zone in the order
  (basis descending, id ascending), give the zone the largest quota still optimal. The
  answer is therefore unique.

Ties (equal remainder or equal quotient) go to the zone with the larger basis, then the
smaller zone id. Everything is exact integer arithmetic.
"""

from __future__ import annotations

import heapq
from fractions import Fraction

METHODS = ("hamilton", "sainte-lague", "dhondt", "min-max-deviation")


class ApportionError(ValueError):
    pass


def _order(votes: list[int], ids: list[str]) -> list[int]:
    return sorted(range(len(votes)), key=lambda i: (-votes[i], ids[i]))


def hamilton(votes: list[int], total: int, ids: list[str]) -> list[int]:
    V = sum(votes)
    if V == 0:
        raise ApportionError("all zones have basis 0 / 所有镇街的分配基数都为 0")
    seats = [v * total // V for v in votes]
    rem = [v * total % V for v in votes]
    left = total - sum(seats)
    order = sorted(range(len(votes)), key=lambda i: (-rem[i], -votes[i], ids[i]))
    for i in order[:left]:
        seats[i] += 1
    return seats


def divisor(votes: list[int], total: int, ids: list[str], method: str) -> list[int]:
    """Highest averages. Starts from a safe lower bound (quota − number of zones), then greedy."""
    V = sum(votes)
    if V == 0:
        raise ApportionError("all zones have basis 0 / 所有镇街的分配基数都为 0")
    n = len(votes)
    seats = [max(0, v * total // V - n) if v > 0 else 0 for v in votes]
    rank = {i: r for r, i in enumerate(_order(votes, ids))}

    def d(s: int) -> int:  # divisor, scaled so that Sainte-Laguë stays integral
        return 2 * s + 1 if method == "sainte-lague" else s + 1

    heap = [(-Fraction(votes[i], d(seats[i])), rank[i], i) for i in range(n) if votes[i] > 0]
    heapq.heapify(heap)
    for _ in range(total - sum(seats)):
        _, r, i = heapq.heappop(heap)
        seats[i] += 1
        heapq.heappush(heap, (-Fraction(votes[i], d(seats[i])), r, i))
    return seats


def min_max_deviation(
    votes: list[int], total: int, ids: list[str], lo: list[int], hi: list[int]
) -> list[int]:
    from ortools.sat.python import cp_model

    n = len(votes)
    V = sum(votes)
    if V == 0:
        raise ApportionError("all zones have basis 0 / 所有镇街的分配基数都为 0")
    big = total * V + 1

    def build():
        # dev[i] >= |x[i] V - total votes[i]| and mx >= every dev[i], as plain inequalities:
        # every stage bounds or minimises them, so the optimal values and the feasible x are
        # those of the equalities, and presolve never meets the holed domains an abs/max
        # equality over x*V makes (those took CP-SAT minutes with 30 zones of ~500 applicants)
        m = cp_model.CpModel()
        x = [m.new_int_var(lo[i], hi[i], f"x{i}") for i in range(n)]
        m.add(sum(x) == total)
        dev = [m.new_int_var(0, big, f"d{i}") for i in range(n)]
        mx = m.new_int_var(0, big, "max")
        for i in range(n):
            m.add(dev[i] >= x[i] * V - total * votes[i])
            m.add(dev[i] >= total * votes[i] - x[i] * V)
            m.add(mx >= dev[i])
        return m, x, dev, mx

    def solve(m):
        s = cp_model.CpSolver()
        s.parameters.num_workers = 1
        s.parameters.random_seed = 0
        s.parameters.max_deterministic_time = 60.0
        st = s.solve(m)
        if st != cp_model.OPTIMAL:
            raise ApportionError(f"min-max-deviation: solver status {s.status_name(st)}")
        return s

    m, x, dev, mx = build()
    m.minimize(mx)
    s1 = solve(m)
    best_max = int(s1.value(mx))
    m, x, dev, mx = build()
    m.add(mx <= best_max)
    m.minimize(sum(dev))
    s2 = solve(m)
    best_sum = sum(int(s2.value(d)) for d in dev)
    fixed: dict[int, int] = {}
    for i in _order(votes, ids):
        m, x, dev, mx = build()
        m.add(mx <= best_max)
        m.add(sum(dev) <= best_sum)
        for j, v in fixed.items():
            m.add(x[j] == v)
        m.maximize(x[i])
        s = solve(m)
        fixed[i] = int(s.value(x[i]))
    return [fixed[i] for i in range(n)]


def apportion(
    method: str,
    votes: list[int],
    total: int,
    ids: list[str],
    lo: list[int] | None = None,
    hi: list[int] | None = None,
) -> list[int]:
    """Split `total` among zones in proportion to `votes` (integers), inside [lo, hi]."""
    n = len(votes)
    lo = list(lo) if lo is not None else [0] * n
    hi = list(hi) if hi is not None else [total] * n
    for i in range(n):
        hi[i] = min(hi[i], total)
    if sum(votes) == 0:  # nobody to weigh by: every zone counts the same
        votes = [1] * n
    if sum(lo) > total or sum(hi) < total:
        raise ApportionError(
            f"bounds cannot hold the total {total}: minimums sum to {sum(lo)}, "
            f"maximums (bounds and seats) sum to {sum(hi)} / 上下限或学位数与指标总数不相容"
        )
    if method == "min-max-deviation":
        return min_max_deviation(votes, total, ids, lo, hi)
    if method not in METHODS:
        raise ApportionError(f"unknown method {method!r}")
    fixed: dict[int, int] = {}
    while True:
        free = [i for i in range(n) if i not in fixed]
        rest = total - sum(fixed.values())
        fv = [votes[i] for i in free]
        if not free:
            return [fixed[i] for i in range(n)]
        if sum(fv) == 0:
            # no basis left: fill the remaining zones up to their bounds in basis/id order
            fv = [1] * len(free)
        fids = [ids[i] for i in free]
        got = hamilton(fv, rest, fids) if method == "hamilton" else divisor(fv, rest, fids, method)
        over = [(i, g) for i, g in zip(free, got, strict=True) if g > hi[i]]
        under = [(i, g) for i, g in zip(free, got, strict=True) if g < lo[i]]
        if not over and not under:
            for i, g in zip(free, got, strict=True):
                fixed[i] = g
            return [fixed[i] for i in range(n)]
        if over:
            for i, _ in over:
                fixed[i] = hi[i]
        else:
            for i, _ in under:
                fixed[i] = lo[i]
