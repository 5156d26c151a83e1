"""Matching primitives: student-proposing deferred acceptance and serial dictatorship.

`deferred_acceptance` takes school-specific priorities; with one common priority it returns the
same assignment as `serial_dictatorship` (the unique stable assignment), which is what the
allocator runs per zone. Both are plain Python, O(applicants × list length × log capacity).
"""

from __future__ import annotations

from heapq import heappush, heapreplace


def deferred_acceptance(
    prefs: list[list[int]], caps: list[int], prio: list[dict[int, int]]
) -> list[int]:
    """Student-optimal stable assignment. prio[h][s] = rank of applicant s at school h (0 best).

    An applicant missing from prio[h] is unacceptable to h. Returns the school per applicant,
    -1 for none.
    """
    n = len(prefs)
    assign = [-1] * n
    nxt = [0] * n
    held: list[list[tuple[int, int]]] = [[] for _ in caps]
    for s0 in range(n):
        s: int | None = s0
        while s is not None and nxt[s] < len(prefs[s]):
            h = prefs[s][nxt[s]]
            nxt[s] += 1
            r = prio[h].get(s)
            if r is None or caps[h] <= 0:
                continue
            if len(held[h]) < caps[h]:
                heappush(held[h], (-r, s))
                assign[s] = h
                s = None
            elif -held[h][0][0] > r:
                _, out = heapreplace(held[h], (-r, s))
                assign[s] = h
                assign[out] = -1
                s = out
    return assign


def serial_dictatorship(order: list[int], prefs: list[list[int]], caps: list[int]) -> list[int]:
    """Each applicant in `order` takes the first listed school with a free seat."""
    left = list(caps)
    assign = [-1] * len(prefs)
    for s in order:
        for h in prefs[s]:
            if left[h] > 0:
                left[h] -= 1
                assign[s] = h
                break
    return assign


def blocking_pairs(
    prefs: list[list[int]], caps: list[int], prio: list[dict[int, int]], assign: list[int]
) -> list[tuple[int, int]]:
    """(applicant, school) pairs where the applicant prefers the school and the school has a free
    seat or holds someone it ranks lower (justified envy or waste)."""
    members: list[list[int]] = [[] for _ in caps]
    for s, h in enumerate(assign):
        if h >= 0:
            members[h].append(s)
    worst = [max((prio[h][s] for s in members[h]), default=-1) for h in range(len(caps))]
    out = []
    for s, lst in enumerate(prefs):
        for h in lst:
            if h == assign[s]:
                break
            r = prio[h].get(s)
            if r is None:
                continue
            if len(members[h]) < caps[h] or r < worst[h]:
                out.append((s, h))
    return out
