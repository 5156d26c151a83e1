"""Batch scoring: whole populations at once, column by column with numpy.

The same compiled table as the scalar path, the same integer arithmetic (cents, fen, 1/10000
shares), so every row gets exactly the figures `scoring.score` gives (tests hold the two equal).
Columns come validated from `scoring.columns`; files are read and written by `scoring.batchfile`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from scoring.columns import NO_DATE, add_years, date_int, months_between
from scoring.engine import (
    CompiledTable,
    cents,
    compile_table,
)
from scoring.facts import FACT_SPECS, FactSpec
from scoring.model import (
    Age,
    Count,
    Deduction,
    Ladder,
    Once,
    ProRata,
    Rate,
    Requirement,
    Table,
    Veto,
)


@dataclass
class BatchResult:
    """Figures in cents per row; `items` by item code, cap lines `<group>_cap` and `max_total`."""

    total: np.ndarray
    qualification: np.ndarray
    ranking: np.ndarray
    eligible: np.ndarray
    items: dict[str, np.ndarray]
    ban_until: np.ndarray  # yyyymmdd of the latest ban end, NO_DATE if none
    # Per row, a bit per gap of the table (in its order) that could matter for the row's facts
    gaps: np.ndarray


def columns_needed(table: Table) -> list[str]:
    """The fact columns that scoring a table reads: its facts, and those its gaps depend on."""
    names = table.facts_used()
    for gap in table.gaps:
        names.extend(n for n in gap.facts if n not in names)
    return names


def _completed_years(born: np.ndarray, on: np.ndarray) -> np.ndarray:
    return on // 10000 - born // 10000 - ((on % 10000) < (born % 10000))


def _started_years(born: np.ndarray, on: np.ndarray) -> np.ndarray:
    years = _completed_years(born, on)
    return years + (add_years(born, years) != on)


def _holds(spec: FactSpec, col: np.ndarray, minimum: Decimal | None, levels: list[str]):
    if spec.kind == "bool":
        return col.astype(bool)
    if spec.kind == "enum":
        return np.isin(col, [spec.levels.index(lv) for lv in levels])
    if spec.kind == "date":
        return col != NO_DATE
    if minimum is not None:
        return col >= int(minimum * spec.scale)
    return col > 0


def _item_points(item, cols: dict[str, np.ndarray], on: np.ndarray, n: int) -> np.ndarray:
    if isinstance(item, Ladder):
        best = np.zeros(n, dtype=np.int64)
        for name, levels in item.ladders.items():
            lookup, current = [], 0
            for level in FACT_SPECS[name].levels:
                if level in levels:
                    current = cents(levels[level].points)
                lookup.append(current)
            best = np.maximum(best, np.asarray(lookup, dtype=np.int64)[cols[name]])
        for combo in item.combos:
            held = np.ones(n, dtype=bool)
            for name, level in combo.levels.items():
                held &= cols[name] >= FACT_SPECS[name].levels.index(level)
            best = np.where(held, np.maximum(best, cents(combo.points)), best)
        return best
    if isinstance(item, Rate):
        scale = FACT_SPECS[item.facts[0]].scale
        quantity = sum(cols[name] for name in item.facts)
        if item.counted_from is not None:
            since = months_between(np.int64(date_int(item.counted_from)), on)
            quantity = np.minimum(quantity, np.maximum(since, 0))
        if item.share:
            quantity = quantity * cols[item.share] // 10000
        raw = np.zeros(n, dtype=np.int64)
        for tier in item.schedule():
            start, unit = int(tier.start * scale), int(tier.unit * scale)
            top = quantity if tier.end is None else np.minimum(quantity, int(tier.end * scale))
            span = np.maximum(top - start, 0)
            units = span // unit if item.rounding == "completed" else -(-span // unit)
            raw += units * cents(tier.points)
        if item.times:
            raw = raw * cols[item.times]
        return raw if item.cap is None else np.minimum(raw, cents(item.cap))
    if isinstance(item, Count):
        raw = cols[item.fact] * cents(item.points)
        return raw if item.cap is None else np.minimum(raw, cents(item.cap))
    if isinstance(item, Once):
        mask = _holds(FACT_SPECS[item.fact], cols[item.fact], item.minimum, item.levels)
        if item.absent:
            mask = ~mask
        return np.where(mask, cents(item.points), 0).astype(np.int64)
    if isinstance(item, ProRata):
        return (cents(item.points) * cols[item.fact] + 5000) // 10000
    if isinstance(item, Age):
        born = cols["birth_date"]
        age = (_started_years if item.rounding == "started" else _completed_years)(born, on)
        out = np.zeros(n, dtype=np.int64)
        for band in item.bands:
            out = np.where((age >= band.min) & (age <= band.max), cents(band.points), out)
        return np.where(born == NO_DATE, 0, out)
    if isinstance(item, Deduction):
        return np.where(cols[item.fact].astype(bool), -cents(item.points), 0).astype(np.int64)
    raise TypeError(item)


def _requirement_fails(
    item: Requirement, cols: dict[str, np.ndarray], on: np.ndarray
) -> np.ndarray:
    spec = FACT_SPECS[item.fact]
    col = cols[item.fact]
    fails = np.zeros(len(col), dtype=bool)
    if item.fact == "birth_date":
        missing = col == NO_DATE
        value = _completed_years(col, on)
        fails |= missing
        scale = 1
    else:
        value, scale = col, spec.scale
    if item.absent and spec.kind == "date":
        fails |= col != NO_DATE
    if item.equals is not None:
        fails |= col.astype(bool) != item.equals
    if item.levels:
        fails |= ~np.isin(col, [spec.levels.index(lv) for lv in item.levels])
    if item.minimum is not None:
        fails |= value < item.minimum * scale
    if item.maximum is not None:
        fails |= value > item.maximum * scale
    return fails


def score_columns(
    table: Table, cols: dict[str, np.ndarray], *, on: dt.date | np.ndarray, n: int | None = None
) -> BatchResult:
    """Score validated columns (see `scoring.columns.encode_frame`) exactly as `scoring.score`
    scores one row; `on` is one reference date, or one per row (yyyymmdd integers)."""
    c: CompiledTable = compile_table(table)
    if n is None:
        n = len(next(iter(cols.values()))) if cols else len(np.atleast_1d(on))
    if isinstance(on, dt.date):
        on = np.full(n, date_int(on), dtype=np.int64)
    ban_until = np.full(n, NO_DATE, dtype=np.int64)
    vetoed = np.zeros(n, dtype=bool)
    for item in (i for i in table.items if isinstance(i, Veto)):
        col = cols[item.fact]
        if FACT_SPECS[item.fact].kind == "bool":
            vetoed |= col.astype(bool)
        else:
            ends = np.where(col == NO_DATE, NO_DATE, add_years(col, item.ban_years))
            hit = (col != NO_DATE) & (on < ends)
            vetoed |= hit
            ban_until = np.where(hit, np.maximum(ban_until, ends), ban_until)
    failed = np.zeros(n, dtype=bool)
    for item in c.requirements:
        failed |= _requirement_fails(item, cols, on)

    items: dict[str, np.ndarray] = {}
    for item, _ in c.scorers:
        items[item.code] = _item_points(item, cols, on, n)
    gate_failed = np.zeros(n, dtype=bool)
    for item, _ in c.scorers:
        if item.group in c.gate_groups:
            gate_failed |= items[item.code] <= 0
    for item, _ in c.scorers:
        keep = ~failed if item.group in c.gate_groups else ~(failed | gate_failed)
        items[item.code] = np.where(keep, items[item.code], 0)

    members: dict[str, list[str]] = {code: list(c.children[code]) for code in c.groups}
    for item, _ in c.scorers:
        members[item.group].append(item.code)
    value: dict[str, np.ndarray] = dict(items)

    def zero(code: str, where: np.ndarray) -> None:
        value[code] = np.where(where, 0, value[code])
        if code in items:
            items[code] = np.where(where, 0, items[code])
        else:
            for member in members[code]:
                zero(member, where)

    for group in c.order:
        codes = members[group.code]
        if group.pick == "max" and codes:
            stack = np.stack([value[m] for m in codes])
            best = np.argmax(stack, axis=0)
            for k, m in enumerate(codes):
                zero(m, best != k)
        raw = sum((value[m] for m in codes), np.zeros(n, dtype=np.int64))
        if group.cap is not None:
            cap = cents(group.cap)
            items[f"{group.code}_cap"] = np.where(raw > cap, cap - raw, 0)
            raw = np.minimum(raw, cap)
        value[group.code] = raw
    top = [g.code for g in c.order if not g.parent]
    total = sum((value[g] for g in top), np.zeros(n, dtype=np.int64))
    if c.max_total is not None:
        items["max_total"] = np.where(total > c.max_total, c.max_total - total, 0)
        total = np.minimum(total, c.max_total)
    qualification = (
        sum(value[g] for g in table.qualification_groups) if table.qualification_groups else total
    )
    ranking = sum(value[g] for g in table.ranking_groups) if table.ranking_groups else total
    if c.max_total is not None:
        qualification = np.minimum(qualification, c.max_total)
        ranking = np.minimum(ranking, c.max_total)
    eligible = ~vetoed & ~failed & ~gate_failed & (qualification >= c.threshold)
    gaps = np.zeros(n, dtype=np.int64)
    for bit, (_, facts_that_matter) in enumerate(c.gaps):
        matters = np.ones(n, dtype=bool) if not facts_that_matter else np.zeros(n, dtype=bool)
        for name, _ in facts_that_matter:
            if name in cols:
                matters |= cols[name] != _none(FACT_SPECS[name])
        gaps |= np.where(matters, 1 << bit, 0)
    return BatchResult(total, qualification, ranking, eligible, items, ban_until, gaps)


def _none(spec: FactSpec) -> int:
    """The column value of a fact not given."""
    return NO_DATE if spec.kind == "date" else 0
