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


def _digit_strings(cells: np.ndarray, places: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Canonical number cells read exactly, all at once, from the bytes of the whole column:
    (values in the fact's smallest unit, which cells were canonical). Canonical: blank, or 1 to
    11 ASCII digits, then at most `places` decimals after a point. None when the column is not
    all ASCII strings (then each cell is looked at alone)."""
    n = len(cells)
    try:
        joined = "\n".join(cells)
        data = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    except (TypeError, UnicodeEncodeError):
        return None
    newlines = np.flatnonzero(data == 10)
    if len(newlines) != n - 1:  # a cell holding a newline itself
        return None
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    owner = np.repeat(np.arange(n), ends - starts + 1)[: len(data)]  # each byte's cell
    digit = (data >= 48) & (data <= 57)
    dot = data == 46
    others = np.bincount(owner[~digit & ~dot & (data != 10)], minlength=n)
    dots = np.bincount(owner[dot], minlength=n)
    digits = np.bincount(owner[digit], minlength=n)
    dot_at = np.full(n, -1, dtype=np.int64)
    where_dot = np.flatnonzero(dot)
    dot_at[owner[where_dot]] = where_dot - starts[owner[where_dot]]
    whole = np.where(dots == 1, dot_at, digits)  # digits before the point
    fraction = digits - whole
    taken = (ends == starts) | (
        (others == 0)
        & (dots <= (1 if places else 0))
        & (whole >= 1)
        & (whole <= _MAX_INT_DIGITS)
        & ((dots == 0) | ((fraction >= 1) & (fraction <= places)))
    )
    # Each digit's power of ten in the scaled integer; sums stay below 2**53, so exact.
    at = np.flatnonzero(digit)
    cell = owner[at]
    offset = at - starts[cell]
    power = np.where(
        offset < whole[cell], whole[cell] - offset - 1 + places, places - (offset - dot_at[cell])
    )
    weights = (data[at] - 48) * np.power(10.0, np.clip(power, 0, 18))
    values = np.bincount(cell, weights=weights, minlength=n)
    return np.where(taken, values, 0).astype(np.int64), taken


def _fast_numbers(spec: FactSpec, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, taken): integers for the canonical, in-range cells; the rest left to parse_value.

    Cells are text (CSV, JSON strings), or a numeric column of JSON numbers: integers, and
    floats that the reader has made sure stand exactly for their literals (NaN: not given)."""
    places = len(str(spec.scale)) - 1
    low, high = int(spec.minimum * spec.scale), int(spec.maximum * spec.scale)
    if cells.dtype.kind in "iu":
        taken = (cells >= spec.minimum) & (cells <= spec.maximum)
        values = np.where(taken, cells, 0).astype(np.int64) * spec.scale
    elif cells.dtype.kind == "f":
        given = ~np.isnan(cells)
        number = np.where(given & (np.abs(cells) < 1e11), cells, 0.0)
        scaled = np.rint(number * spec.scale)
        # The float is k / scale exactly for a whole k: its shortest literal has <= places decimals.
        taken = ~given | ((number == cells) & (scaled / spec.scale == number))
        values = scaled.astype(np.int64)
    else:
        read = _digit_strings(cells, places)
        if read is None:
            # Mixed JSON values: integers as their digits, anything else for parse_value.
            cells = np.asarray(
                [c if type(c) is str else str(c) if type(c) is int else "\x00" for c in cells],
                dtype=object,
            )
            read = _digit_strings(cells, places) or (np.zeros(len(cells), np.int64), cells == "")
        values, taken = read
    taken &= (values >= low) & (values <= high)
    return np.where(taken, values, 0), taken


def _fast_codes(spec: FactSpec, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if cells.dtype == bool:  # a column of JSON true/false
        if spec.kind == "bool":
            return cells.astype(np.int64), np.ones(len(cells), dtype=bool)
        return np.zeros(len(cells), np.int64), np.zeros(len(cells), bool)
    if spec.kind == "enum":
        mapping = {level: i for i, level in enumerate(spec.levels)}
    else:
        mapping = {w: 1 for w in TRUE_WORDS} | {w: 0 for w in FALSE_WORDS}
    codes = [mapping.get(c, -1) if type(c) is str else -1 for c in cells]
    values = np.fromiter(codes, dtype=np.int64, count=len(cells))
    taken = values >= 0
    return np.where(taken, values, 0), taken


def _fast_dates(cells: np.ndarray, today: dt.date | None) -> tuple[np.ndarray, np.ndarray]:
    blank = cells == ""
    taken = _canonical(_CANONICAL_DATE, cells)
    text = pd.Series(np.where(taken & ~blank, cells, ""))
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    ymd = (parsed.dt.year * 10000 + parsed.dt.month * 100 + parsed.dt.day).fillna(NO_DATE)
    values = ymd.astype(np.int64).to_numpy()
    taken &= blank | (values >= 10101)  # a parsed date, of year 1 or later as Python's are
    if today is not None:
        taken &= values <= date_int(today)
    return np.where(taken, values, NO_DATE), taken


# ---- the definition, for every other cell ----------------------------------------------------


def _python(cell: Any) -> Any:
    """A cell as the JSON reader gives it to `Facts.parse`: numpy scalars as Python values, a
    missing value (NaN, NA) as None."""
    if cell is None or cell is pd.NA or (isinstance(cell, float) and cell != cell):
        return None
    return cell.item() if isinstance(cell, np.generic) else cell


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
        values, taken = _fast_codes(spec, cells)
    elif spec.kind == "date":
        values, taken = _fast_dates(cells, today)
    else:
        values, taken = _fast_numbers(spec, cells)
    values = np.array(values, dtype=np.int64)  # a writable copy
    bad: dict[int, tuple[str, str]] = {}
    for i in np.flatnonzero(~taken).tolist():
        try:
            values[i] = as_column_value(spec, parse_value(spec, _python(cells[i]), today=today))
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
            day = parse_date(_python(cells[i]))
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
        if isinstance(col, np.ndarray):
            return col
        if not isinstance(col, pd.Series):  # a list: one cell per item, even lists of lists
            return np.fromiter(col, dtype=object, count=len(col))
        if col.dtype.kind in "iufb":  # a JSON column of numbers or of true/false only
            return col.to_numpy()
        return col.to_numpy(dtype=object)

    reference = np.full(n, date_int(on or today), dtype=np.int64)
    if "reference_date" in columns:  # checked even where `on` overrides it, as Facts.parse does
        days, bad = encode_reference_dates(cells_of("reference_date"))
        if on is None:
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
