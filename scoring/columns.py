"""Facts for many applicants at once: cells (CSV text or JSON values) to validated integer columns.

The definition of a valid fact is `scoring.facts` (`parse_value` for one value, `check_together`
for how values fit together); nothing here decides validity on its own. A fast path turns the
cells of a plain, canonical form (ASCII digits, a listed level, an ISO date) into integers in one
vectorised step, where the result is evidently the one `parse_value` gives; every other cell is
handed to `parse_value` itself, so both paths accept and refuse the same cells with the same
messages. Integers are in the fact's smallest unit: fen for yuan, 1/10000 for shares, 1/100 hour;
enums are level indexes; dates are yyyymmdd, NO_DATE when not given.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scoring.facts import (
    FACT_SPECS,
    FALSE_WORDS,
    MONTH_FACTS,
    OLDEST_AGE,
    TRUE_WORDS,
    WORKING_AGE,
    FactError,
    FactSpec,
    check_together,
    parse_date,
    parse_value,
)

NO_DATE = -1  # dates are yyyymmdd integers; -1 is "not given"


@dataclass(frozen=True)
class CellError:
    row: int  # 1-based data row (the header is row 0)
    column: str
    zh: str
    en: str

    def __str__(self) -> str:
        return (
            f"第 {self.row} 行 {self.column}：{self.zh} / row {self.row}, {self.column}: {self.en}"
        )


def date_int(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def int_date(value: int) -> dt.date:
    return dt.date(value // 10000, value // 100 % 100, value % 100)


# ---- the fast path: canonical cells only ------------------------------------------------------

# Integer part short enough that value x scale stays well inside float64's exact integers, so
# the float reading of a canonical decimal rounds back to exactly its digits.
_MAX_INT_DIGITS = 11
_CANONICAL_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"


def _canonical_number(places: int) -> str:
    fraction = f"(?:\\.[0-9]{{1,{places}}})?" if places else ""
    return f"[0-9]{{1,{_MAX_INT_DIGITS}}}{fraction}"


@functools.cache
def _patterns(single: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The cell pattern (blank allowed), and the same for a whole column joined by newlines."""
    return re.compile(f"(?:{single})?"), re.compile(f"(?:(?:{single})?\n)*")


def _canonical(single: str, cells: np.ndarray) -> np.ndarray:
    """Which cells are strings of the canonical form (or blank). The whole column goes through
    the regex engine in one pass; only a column with an odd cell is looked at cell by cell."""
    cell, column = _patterns(single)
    try:
        joined = "\n".join(cells) + "\n"
    except TypeError:  # a JSON value that is not a string
        joined = ""
    # A cell holding a newline itself would pass as two cells: count them.
    if joined.count("\n") == len(cells) and column.fullmatch(joined):
        return np.ones(len(cells), dtype=bool)
    return np.fromiter(
        (type(c) is str and cell.fullmatch(c) is not None for c in cells),
        dtype=bool,
        count=len(cells),
    )


def _fast_numbers(spec: FactSpec, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, taken): integers for the canonical, in-range cells; the rest left to parse_value."""
    taken = _canonical(_canonical_number(len(str(spec.scale)) - 1), cells)
    text = np.where(taken, cells, "")
    text = np.where(text == "", "0", text).astype(str)
    if spec.scale == 1:
        values = text.astype(np.int64)
    else:
        values = np.rint(text.astype(np.float64) * spec.scale).astype(np.int64)
    taken &= (values >= int(spec.minimum * spec.scale)) & (values <= int(spec.maximum * spec.scale))
    return np.where(taken, values, 0), taken


def _fast_codes(spec: FactSpec, raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if spec.kind == "enum":
        mapping = {level: i for i, level in enumerate(spec.levels)}
    else:
        mapping = {w: 1 for w in TRUE_WORDS} | {w: 0 for w in FALSE_WORDS}
    codes = raw.map(mapping)
    taken = codes.notna().to_numpy()
    return codes.fillna(0).astype(np.int64).to_numpy(), taken


def _fast_dates(cells: np.ndarray, today: dt.date | None) -> tuple[np.ndarray, np.ndarray]:
    blank = cells == ""
    taken = _canonical(_CANONICAL_DATE, cells)
    text = pd.Series(np.where(taken & ~blank, cells, ""))
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    ymd = (parsed.dt.year * 10000 + parsed.dt.month * 100 + parsed.dt.day).fillna(NO_DATE)
    values = ymd.astype(np.int64).to_numpy()
    taken &= blank | (values != NO_DATE)
    if today is not None:
        taken &= values <= date_int(today)
    return np.where(taken, values, NO_DATE), taken


# ---- the definition, for every other cell ----------------------------------------------------


def as_column_value(spec: FactSpec, value: Any) -> int:
    """A parsed fact as the integer its column holds."""
    if spec.kind == "date":
        return NO_DATE if value is None else date_int(value)
    if spec.kind == "enum":
        return spec.levels.index(value)
    if spec.kind == "bool":
        return int(value)
    if spec.kind == "decimal":
        return int(value * spec.scale)
    return value


def encode_cells(
    spec: FactSpec, cells: np.ndarray, *, today: dt.date
) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    """One column: (integer values, {row index: (zh, en) reason}) for the bad cells."""
    if spec.kind in ("enum", "bool"):
        values, taken = _fast_codes(spec, pd.Series(cells, dtype=object))
    elif spec.kind == "date":
        values, taken = _fast_dates(cells, today)
    else:
        values, taken = _fast_numbers(spec, cells)
    values = np.array(values, dtype=np.int64)  # a writable copy
    bad: dict[int, tuple[str, str]] = {}
    for i in np.flatnonzero(~taken).tolist():
        try:
            values[i] = as_column_value(spec, parse_value(spec, cells[i], today=today))
        except ValueError as exc:
            bad[i] = exc.args
            values[i] = NO_DATE if spec.kind == "date" else 0
    return values, bad


def encode_reference_dates(cells: np.ndarray) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    """A `reference_date` column (no bound: a reference date may lie ahead)."""
    values, taken = _fast_dates(cells, None)
    values = np.array(values, dtype=np.int64)  # a writable copy
    bad: dict[int, tuple[str, str]] = {}
    for i in np.flatnonzero(~taken).tolist():
        try:
            day = parse_date(cells[i])
            values[i] = NO_DATE if day is None else date_int(day)
        except ValueError as exc:
            bad[i] = exc.args
    return values, bad


# ---- how the facts of one row fit together ---------------------------------------------------


def add_years(day: np.ndarray, years: int | np.ndarray) -> np.ndarray:
    year, month, dom = day // 10000 + years, (day // 100) % 100, day % 100
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    dom = np.where((month == 2) & (dom == 29) & ~leap, 28, dom)
    return year * 10000 + month * 100 + dom


def months_between(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    return (
        (end // 10000 - start // 10000) * 12
        + (end // 100 % 100 - start // 100 % 100)
        - ((end % 100) < (start % 100))
    )


def _may_not_fit(cols: dict[str, np.ndarray], on: np.ndarray) -> np.ndarray:
    """Rows that `check_together` has to look at: a birth date with durations it may not allow."""
    born = cols.get("birth_date")
    if born is None:
        return np.zeros(len(on), dtype=bool)
    given = born != NO_DATE
    flagged = given & ((born > on) | (add_years(born, OLDEST_AGE) < on))
    limit = np.maximum(0, months_between(add_years(born, WORKING_AGE), on))
    for name in MONTH_FACTS:
        if name in cols:
            flagged |= given & (cols[name] > limit)
    return flagged


def check_rows(
    cols: dict[str, np.ndarray], on: np.ndarray, candidates: np.ndarray
) -> list[tuple[int, FactError]]:
    """`check_together` on the candidate rows that may not fit: (row index, error) pairs."""
    errors: list[tuple[int, FactError]] = []
    for i in np.flatnonzero(candidates & _may_not_fit(cols, on)).tolist():
        values: dict[str, Any] = {}
        for name, col in cols.items():
            if name == "birth_date":
                values[name] = None if col[i] == NO_DATE else int_date(int(col[i]))
            elif name in MONTH_FACTS:
                values[name] = int(col[i])
        errors.extend((i, error) for error in check_together(values, int_date(int(on[i]))))
    return errors


def default_column(spec: FactSpec, n: int) -> np.ndarray:
    return np.full(n, NO_DATE if spec.kind == "date" else 0, dtype=np.int64)


def encode_frame(
    columns: Mapping[str, Sequence[Any]],
    facts: list[str],
    *,
    rows: np.ndarray,
    today: dt.date,
    on: dt.date | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[CellError]]:
    """Validate the cells of a chunk: `columns` maps column names to cells (CSV text or JSON
    values), `rows` gives each position's row number for messages.

    Returns the integer columns of `facts`, the reference date of each row (yyyymmdd: `on`, else
    the row's `reference_date`, else today), the mask of good rows, and every bad cell. Every
    fact column present is validated (as `Facts.parse` validates every fact given), not only
    those the table reads."""
    n = len(rows)
    errors: list[CellError] = []
    good = np.ones(n, dtype=bool)

    def cells_of(name: str) -> np.ndarray:
        col = columns[name]
        return col.to_numpy(dtype=object) if isinstance(col, pd.Series) else np.asarray(col, object)

    reference = np.full(n, date_int(on or today), dtype=np.int64)
    if on is None and "reference_date" in columns:
        days, bad = encode_reference_dates(cells_of("reference_date"))
        reference = np.where(days == NO_DATE, reference, days)
        for i, (zh, en) in bad.items():
            errors.append(CellError(int(rows[i]), "reference_date", zh, en))
            good[i] = False
    cols: dict[str, np.ndarray] = {}
    for name in FACT_SPECS:
        if name in columns:
            values, bad = encode_cells(FACT_SPECS[name], cells_of(name), today=today)
            cols[name] = values
            for i, (zh, en) in bad.items():
                errors.append(CellError(int(rows[i]), name, zh, en))
                good[i] = False
    for i, error in check_rows(cols, reference, good):
        errors.append(CellError(int(rows[i]), error.field, error.zh, error.en))
        good[i] = False
    errors.sort(key=lambda e: e.row)
    wanted = {name: cols.get(name) for name in facts}
    for name, col in wanted.items():
        if col is None:
            wanted[name] = default_column(FACT_SPECS[name], n)
    return wanted, reference, good, errors
