"""Zone ranking (分区排名): points, then the tie-break keys, then the published lottery.

The lottery number of an applicant is the first 7 bytes of SHA-256(seed + U+001F + id), read as
a big-endian integer; the smaller number ranks first. Anyone can recompute their own number from
the published seed, and it does not depend on the other applicants or on the file order.
"""

from __future__ import annotations

import hashlib

import numpy as np


def lottery_numbers(seed: str, ids: list[str]) -> np.ndarray:
    """The lottery number of every id (int64): the digests side by side, the first 7 bytes of
    each read at once."""
    if not ids:
        return np.zeros(0, dtype=np.int64)
    pre = seed + "\x1f"
    sha = hashlib.sha256
    digests = b"".join([sha((pre + i).encode()).digest() for i in ids])
    first8 = np.frombuffer(digests, dtype=">u8", count=len(ids) * 4)[::4]
    return (first8 >> np.uint64(8)).astype(np.int64)


def rank_order(
    idx: np.ndarray, zone: np.ndarray, points: np.ndarray, keys: np.ndarray, lottery: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sort applicants `idx` by zone, then ranking. Returns (order, level).

    `level[j]` numbers the tie groups (equal zone, points and keys) in order; the lottery only
    orders applicants inside one tie group.
    """
    if len(idx) == 0:
        return idx, np.zeros(0, dtype=np.int64)
    major = [zone[idx], -points[idx], *(-keys[idx, k] for k in range(keys.shape[1]))]
    packed = _packed(major)
    new = np.ones(len(idx), dtype=bool)
    if packed is not None:  # one sort key instead of several: same order, faster
        o = np.lexsort((lottery[idx], packed))
        order = idx[o]
        p = packed[o]
        new[1:] = p[1:] != p[:-1]
    else:
        order = idx[np.lexsort([lottery[idx], *reversed(major)])]
        same = (zone[order[1:]] == zone[order[:-1]]) & (points[order[1:]] == points[order[:-1]])
        for k in range(keys.shape[1]):
            same &= keys[order[1:], k] == keys[order[:-1], k]
        new[1:] = ~same
    level = np.cumsum(new) - 1
    return order, level


def _packed(columns: list[np.ndarray]) -> np.ndarray | None:
    """One int64 per row ordered as the rows' columns are, lexicographically (None if the
    value ranges do not fit in 62 bits)."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    room = 1
    for c in columns:
        lo = int(c.min())
        span = int(c.max()) - lo + 1
        room *= span
        if room >= 1 << 62:
            return None
        key *= span
        key += c - lo
    return key
