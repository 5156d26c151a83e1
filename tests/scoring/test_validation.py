"""The batch path accepts and refuses exactly what `Facts.parse` does, with the same messages.

`Facts.parse` (`parse_value` for each fact, then `check_together`) is the definition of a valid
fact; `scoring.columns.encode_frame` has a vectorised fast path for canonical cells and hands
every other cell to that definition. These properties draw cells of every sort (canonical,
valid but odd, on the bounds, invalid) and require both paths to give the same verdict for each
row: the same (field, zh, en) errors, the same rows kept, and for kept rows the same values.
"""

import contextlib
import csv
import datetime as dt
import functools
import io
import json
import tempfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.batchfile import _csv_chunks, _jsonl_chunks, run_batch_file
from scoring.columns import as_column_value, date_int, encode_frame
from scoring.engine import score
from scoring.facts import (
    EDUCATION_LEVELS,
    FACT_SPECS,
    FALSE_WORDS,
    MAX_MONTHS,
    MONTH_FACTS,
    TRUE_WORDS,
    Facts,
    FactsError,
    add_years,
    load_json,
    months_between,
    parse_date,
)
from scoring.tables import get_table

TODAY = dt.date(2024, 6, 30)  # `today` for the date bounds ("not in the future")
ON = dt.date(2023, 6, 30)  # a reference date before TODAY: births in between are after it
ALL_FACTS = list(FACT_SPECS)
EDUCATION = [level for level, _ in EDUCATION_LEVELS]
# One failure shrunk, not every distinct one: shrinking rows of cells is slow.
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Facts of every kind: int months, decimal yuan, share and hours, enum, bool, two dates.
CSV_FACTS = (
    "insured_months_city",
    "residence_permit_months",
    "income_tax_yuan",
    "home_share",
    "volunteer_hours",
    "education",
    "criminal_record",
    "birth_date",
    "family_planning_violation_date",
)


# ---- cells -------------------------------------------------------------------------------------


def pick(*values):
    return st.sampled_from(values)


# Whitespace that str.strip() removes: the scalar path strips it, so the batch must too.
PADDING = pick("", " ", "  ", "\t", "\n", "\u3000", "\xa0")
NOT_NUMBERS = (
    "3_6",
    "٣٦",
    "１２",
    "1e3",
    "1E3",
    "abc",
    "0x10",
    "NaN",
    "inf",
    "1,200",
    "36 5",
    "--1",
    "+-1",
    "+",
    "-",
    ".",
    "．5",
    "½",
)
LONG_NUMBERS = ("1" * 41, "0" * 41, "9" * 40, " " + "1" * 40 + " ", "0." + "0" * 39 + "1")
NUMBER_TEXT = st.from_regex(r"[+-]?[0-9]{0,13}(\.[0-9]{0,6})?", fullmatch=True)


def padded(strategy):
    return st.tuples(PADDING, strategy, PADDING).map("".join)


def month_cells():
    return st.one_of(
        st.integers(0, MAX_MONTHS).map(str),
        pick(" 36 ", "+5", "36.0", "036", "0.0", "-0", "+0", "1.", "1200.000", "00000000000036"),
        pick("0", str(MAX_MONTHS), str(MAX_MONTHS + 1), "1200.5", "0.5", ".5"),
        pick("-1", "-0.5", "123456789.125", "", " ", "12.5", *NOT_NUMBERS, *LONG_NUMBERS),
        padded(NUMBER_TEXT),
        st.text(max_size=5),
    )


def decimal_cells(name):
    spec = FACT_SPECS[name]
    places = len(str(spec.scale)) - 1
    unit = Decimal(1).scaleb(-places)
    top = spec.maximum
    bounds = (
        str(top),
        f"{top}.{'0' * places}",
        str(top + unit),
        str(unit),
        str(unit / 10),
        "0." + "1" * places,  # exactly the places allowed
        "0." + "1" * (places + 1),  # one more
        "1." + "9" * (places + 1),
        "0." + "0" * places + "5",
    )
    return st.one_of(
        st.integers(0, int(top * spec.scale)).map(lambda v: str(Decimal(v).scaleb(-places))),
        st.integers(0, int(top)).map(str),
        pick(".5", "1.50", "+5", " 7 ", "5.", "007.5", "000000000001.5", "-0", "-0.0"),
        pick(*bounds),
        pick("123456789.125", "-0.01", "-1", "", *NOT_NUMBERS, *LONG_NUMBERS),
        padded(NUMBER_TEXT),
        st.text(max_size=5),
    )


def enum_cells(name):
    levels = FACT_SPECS[name].levels
    odd = (" bachelor ", "BACHELOR", "Bachelor", "bachelor\n", "\u3000master", "none ")
    bad = ("", " ", "phd", "本科", "bachelor_", "0", "1")
    return st.one_of(pick(*levels), pick(*odd, *bad), st.text(max_size=4))


def bool_cells():
    odd = ("TRUE", "True", " yes ", "Y", "N", "NO", "T", "F", "是 ", "\u3000否")
    bad = ("2", "-1", "maybe", "1.0", "ｔｒｕｅ", " ", "真")
    words = sorted(TRUE_WORDS | FALSE_WORDS)
    return st.one_of(pick(*words), pick(*odd, *bad), st.text(max_size=4))


def iso(day):
    return day.isoformat()


def date_cells(today):
    special = (
        "2024-02-29",
        "2023-02-29",
        "2020-02-30",
        "2024-13-01",
        "2024-00-10",
        "2024-06-31",
        iso(today),
        iso(today + dt.timedelta(days=1)),
        " 1990-01-01 ",
        "1990-1-1",
        "19900101",
        "1990/01/01",
        "",
        " ",
        "0000-01-01",
        "0001-01-01",
        "1600-03-01",
        "9999-12-31",
        # on the edges of the cross-field checks for a reference date of 2024-06-30
        "1924-06-30",
        "1924-06-29",
        "1924-02-29",
        "2008-02-29",
        "2008-06-30",
        "2008-07-01",
        "２０２０-01-01",
        "2020-01-01T00:00",
    )
    return st.one_of(
        st.dates(dt.date(1915, 1, 1), today).map(iso),
        pick(*special),
        padded(st.dates(dt.date(1915, 1, 1), today + dt.timedelta(days=3)).map(iso)),
        st.text(max_size=3),
    )


def reference_cells(today):
    return st.one_of(
        st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31)).map(iso),
        pick("", " ", "2024-02-29", "2023-02-29", "2020-02-30", "abc", "9999-12-31"),
        pick("0001-01-01", " 2024-01-01 ", iso(today), iso(today + dt.timedelta(days=1))),
    )


@functools.cache
def cells_for(name, today):
    """Cells of every sort for `name`: canonical, odd but valid, on the bounds, invalid."""
    if name == "reference_date":
        return reference_cells(today)
    spec = FACT_SPECS[name]
    return {
        "int": month_cells,
        "decimal": lambda: decimal_cells(name),
        "enum": lambda: enum_cells(name),
        "bool": bool_cells,
        "date": lambda: date_cells(today),
    }[spec.kind]()


@functools.cache
def valid_cells_for(name, today):
    """Only valid cells (each alone), canonical or odd, so that rows reach check_together."""
    if name == "reference_date":
        days = st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31)).map(iso)
        return st.one_of(days, padded(days), pick(""))
    spec = FACT_SPECS[name]
    if spec.kind == "date":
        days = st.dates(dt.date(1925, 1, 1), today).map(iso)
        return st.one_of(days, padded(days), pick("", "2024-02-29", iso(today)))
    if spec.kind == "enum":
        return st.one_of(pick(*spec.levels), pick("", " bachelor ", "master\n"))
    if spec.kind == "bool":
        return pick(*sorted(TRUE_WORDS | FALSE_WORDS), "TRUE", " Yes ", "是 ")
    places = len(str(spec.scale)) - 1
    top = int(min(spec.maximum, MAX_MONTHS) * spec.scale)
    numbers = st.integers(0, top).map(lambda v: str(Decimal(v).scaleb(-places)))
    odd = pick("", "+5", "5.", "036", "-0", "1.0", str(spec.maximum))
    return st.one_of(numbers, padded(numbers), odd)


def date_or_none(cell):
    try:
        return parse_date(cell)
    except ValueError:
        return None


@st.composite
def csv_rows(draw, names, today, on):
    """A row of cells: of every sort, or all valid but perhaps one; often months on the edge of
    what the birth date allows."""
    mode = draw(st.integers(0, 2))
    row = {name: draw((valid_cells_for if mode else cells_for)(name, today)) for name in names}
    if mode == 2:
        name = draw(st.sampled_from(names))
        row[name] = draw(cells_for(name, today))
    born = date_or_none(row.get("birth_date"))
    months = [name for name in names if name in MONTH_FACTS]
    if born and born <= today and months and draw(st.booleans()):
        reference = on or date_or_none(row.get("reference_date")) or today
        limit = max(0, months_between(add_years(born, 16), reference))
        for name in months:
            edge = (str(limit), str(limit + 1), str(max(0, limit - 1)), f" {limit + 1} ")
            row[name] = draw(pick(*edge, f"{limit}.0"))
    return row


@st.composite
def csv_frames(draw, today, on, with_reference):
    names = draw(st.lists(st.sampled_from(CSV_FACTS), min_size=1, unique=True))
    if draw(st.integers(0, 2)) and "birth_date" not in names:
        names.append("birth_date")  # the cross-field check needs one
    if with_reference:
        names.insert(draw(st.integers(0, len(names))), "reference_date")
    rows = draw(st.lists(csv_rows(names, today, on), min_size=1, max_size=20))
    return names, rows


# ---- the two verdicts --------------------------------------------------------------------------


def scalar_verdict(raw, *, today, on):
    """(Facts or None, sorted (field, zh, en) errors) from `Facts.parse`."""
    try:
        facts = Facts.parse(raw, today=today, on=on)
    except FactsError as exc:
        return None, sorted((e.field, e.zh, e.en) for e in exc.errors)
    return facts, []


def csv_verdict(raw, *, today, on):
    """The scalar verdict on a row of cells; a blank cell is the fact not given, so leaving the
    blank cells out gives the same verdict."""
    verdict = scalar_verdict(raw, today=today, on=on)
    given = {k: v for k, v in raw.items() if v != ""}
    assert scalar_verdict(given, today=today, on=on) == verdict
    return verdict


def assert_same_verdicts(columns, raws, numbers, *, today, on, verdict=scalar_verdict):
    """encode_frame on `columns` gives, for row `numbers[i]`, the verdict of `raws[i]`."""
    numbers = np.asarray(numbers, dtype=np.int64)
    cols, reference, good, errors = encode_frame(
        columns, ALL_FACTS, rows=numbers, today=today, on=on
    )
    batch = defaultdict(list)
    for e in errors:
        batch[e.row].append((e.column, e.zh, e.en))
    assert set(batch) <= set(numbers.tolist())
    assert len(good) == len(raws)
    for i, (number, raw) in enumerate(zip(numbers.tolist(), raws, strict=True)):
        facts, expected = verdict(raw, today=today, on=on)
        got = sorted(batch.get(number, []))
        assert got == expected, f"row {raw!r}: Facts.parse {expected}, batch {got}"
        assert bool(good[i]) == (facts is not None), raw
        if facts is None:
            continue
        assert int(reference[i]) == date_int(on or facts.reference_date or today), raw
        for name, spec in FACT_SPECS.items():
            assert int(cols[name][i]) == as_column_value(spec, getattr(facts, name)), (name, raw)


CONTAINERS = {
    "list": list,
    "ndarray": lambda cells: np.asarray(cells, dtype=object),
    "series": lambda cells: pd.Series(cells, dtype=str),
}


# ---- 1. CSV cells --------------------------------------------------------------------------


# (on, with a reference_date column): `on` given and a reference_date column is its own case.
CSV_CASES = [
    pytest.param(None, True, id="reference_date-column"),
    pytest.param(ON, False, id="on"),
    pytest.param(ON, True, id="on-and-reference_date-column"),
]


@pytest.mark.parametrize(("on", "with_reference"), CSV_CASES)
@SETTINGS
@given(data=st.data())
def test_csv_cells_get_the_verdict_of_facts_parse(on, with_reference, data):
    names, rows = data.draw(csv_frames(TODAY, on, with_reference))
    container = CONTAINERS[data.draw(st.sampled_from(sorted(CONTAINERS)))]
    columns = {name: container([row[name] for row in rows]) for name in names}
    numbers = np.arange(1, len(rows) + 1)
    assert_same_verdicts(columns, rows, numbers, today=TODAY, on=on, verdict=csv_verdict)


@settings(SETTINGS, max_examples=25)
@given(data=st.data())
def test_csv_file_cells_get_the_verdict_of_facts_parse(data):
    """The same through the CSV reader: cells written with the csv module, read back by
    `_csv_chunks` (pandas, every cell text, nothing read as NA). A row with nothing given may
    be written as an empty line: it is still a row."""
    names, rows = data.draw(csv_frames(TODAY, None, data.draw(st.booleans())))
    empty = data.draw(st.sets(st.integers(0, len(rows) - 1), max_size=2))
    empty_lines = {i for i in empty if data.draw(st.booleans())}
    for i in empty:
        rows[i] = dict.fromkeys(names, "")
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(names)
    for i, row in enumerate(rows):
        if i in empty_lines:
            text.write("\r\n")
        else:
            writer.writerow([row[name] for name in names])
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "facts.csv"
        path.write_text(text.getvalue(), encoding="utf-8", newline="")
        (chunk,) = list(_csv_chunks(path))
    assert chunk.errors == []
    assert chunk.rows.tolist() == list(range(1, len(rows) + 1))
    for name, cells in chunk.columns.items():  # the cells as written
        for i, (cell, row) in enumerate(zip(cells, rows, strict=True)):
            assert i in empty or cell == row[name], (name, row)
    assert_same_verdicts(chunk.columns, rows, chunk.rows, today=TODAY, on=None, verdict=csv_verdict)


# ---- 2. JSONL ------------------------------------------------------------------------------

FLOAT_LITERALS = (
    "99.50",
    "1e2",
    "1E2",
    "1e+2",
    "0.1000000000000000055511151231257827",
    "123456789.125",
    "36.0",
    "-0.0",
    "0.0",
    "1e41",
    "1e-41",
    "1e40",
    "1.5e1",
    "0.5",
    "1200.0",
    "1201.0",
    "1200.5",
    "1e400",
    "0.0001",
    "0.00005",
    "1.0000",
    "1.0001",
    "2.5E-1",
    "10000000000.00",
    "10000000000.01",
    "100000.01",
    "1.23456789012345678901234567890123456789e5",
)
# JSON integers whose digits (as the batch reader spells them) are at most 40 characters.
PLAIN_INTEGERS = (0, 1, 2, -1, 1200, 1201, 100000, 10**10, 10**10 + 1, 10**12)
# Where a reader's integer columns change type (int64, uint64, object).
WIDE_INTEGERS = (2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1)
EDGE_INTEGERS = (10**40 - 1, -(10**39 - 1))
# Longer ones (the paths disagreed on them at 5576493: see the tests at the end).
HUGE_INTEGERS = (10**40, -(10**39), 10**45, -(10**45))
CONTAINERS_JSON = ("[]", "[1]", '["36"]', "[[]]", "[1, 2]", "[null]", "{}", '{"a": 1}')


# Short decimals (no exponent, at most 15 digits) stand exactly for a float: a reader may take
# them as floats. The others must be read as written.
SHORT_DECIMALS = st.from_regex(r"-?(0|[1-9][0-9]{0,5})\.[0-9]{1,6}", fullmatch=True)
OTHER_FLOATS = st.one_of(
    pick(*FLOAT_LITERALS),
    st.from_regex(r"-?(0|[1-9][0-9]{0,5})\.[0-9]{1,6}[eE][+-]?[0-9]{1,2}", fullmatch=True),
    st.from_regex(r"-?(0|[1-9][0-9]{0,3})[eE][+-]?[0-9]{1,2}", fullmatch=True),
    st.from_regex(r"-?(0|[1-9][0-9]{0,12})\.[0-9]{1,9}", fullmatch=True),
)
INTEGERS = st.one_of(
    st.integers(-3, 1300),
    pick(*PLAIN_INTEGERS, *WIDE_INTEGERS, *EDGE_INTEGERS),
    st.integers(-(10**39 - 1), 10**40 - 1),
).map(str)
# How the values of one key are drawn: a column of one JSON type only (which a reader may
# type as a whole: integers, floats, true/false), or of anything.
COLUMN_MODES = ("mixed", "mixed", "integers", "floats", "short-floats", "booleans", "strings")
COLUMN_MODES += ("valid",)


@functools.cache
def valid_json(name, today):
    """JSON texts of valid values only: numbers, or strings as in valid CSV cells."""
    text = valid_cells_for(name, today).map(json.dumps)
    spec = FACT_SPECS.get(name)
    if spec is None or spec.kind in ("date", "enum"):
        return text
    if spec.kind == "bool":
        return st.one_of(pick("true", "false", "0", "1"), text)
    places = len(str(spec.scale)) - 1
    top = int(min(spec.maximum, MAX_MONTHS) * spec.scale)
    literals = st.integers(0, top).map(lambda v: str(Decimal(v).scaleb(-places)))
    return st.one_of(literals, st.integers(0, int(min(spec.maximum, MAX_MONTHS))).map(str), text)


@functools.cache
def json_literals(name, today, mode, extras):
    """JSON texts for the value of `name`: numbers as written, strings, constants."""
    if mode == "valid":
        return valid_json(name, today)
    strings = st.tuples(st.one_of(cells_for(name, today), st.text(max_size=6)), st.booleans()).map(
        lambda s: json.dumps(s[0], ensure_ascii=s[1])
    )
    booleans = pick("true", "false")
    if mode == "integers":
        return INTEGERS
    if mode == "short-floats":
        return st.one_of(SHORT_DECIMALS, pick("36.0", "0.5", "99.50", "1200.0", "1201.0", "-0.0"))
    if mode == "floats":
        return st.one_of(SHORT_DECIMALS, OTHER_FLOATS)
    if mode == "booleans":
        return booleans
    if mode == "strings":
        return strings
    choices = [INTEGERS, SHORT_DECIMALS, OTHER_FLOATS, strings, booleans, pick("null")]
    if "containers" in extras:
        choices.append(pick(*CONTAINERS_JSON))
    if "huge" in extras:
        choices.append(pick(*HUGE_INTEGERS).map(str))
        choices.append(st.integers(10**40, 10**60).map(str))
    return st.one_of(choices)


@st.composite
def jsonl_lines(draw, today, *, with_reference, extras=(), max_rows=20, ids=False):
    """Lines of JSON objects, as text. A key is in every line, or missing from some."""
    keys = list(CSV_FACTS) + (["reference_date"] if with_reference else [])
    names = draw(st.lists(st.sampled_from(keys), min_size=1, unique=True))
    valid = draw(st.integers(0, 2)) == 0  # then each row valid but perhaps one value
    modes = {name: "valid" if valid else draw(pick(*COLUMN_MODES)) for name in names}
    always = {name: draw(st.booleans()) for name in names}
    lines = []
    for _ in range(draw(st.integers(1, max_rows))):
        row = {}
        for name in names:
            if always[name] or draw(st.integers(0, 3)):
                row[name] = draw(json_literals(name, today, modes[name], extras))
        if valid and row and draw(st.booleans()):
            name = draw(st.sampled_from(sorted(row)))
            row[name] = draw(json_literals(name, today, "mixed", extras))
        if ids and draw(st.booleans()):
            row["id"] = draw(st.one_of(st.text(max_size=4).map(json.dumps), pick("7", "null")))
        parts = [f"{json.dumps(k)}: {v}" for k, v in row.items()]
        lines.append("{" + draw(pick(", ", ",")).join(parts) + "}")
    return lines


def facts_of(line):
    raw = load_json(line)
    raw.pop("id", None)
    return raw


def write_lines(path, lines, blank_after=()):
    """Write the lines, a blank line after those in `blank_after`; return their row numbers."""
    text, numbers, number = [], [], 0
    for i, line in enumerate(lines):
        number += 1
        text.append(line)
        numbers.append(number)
        if i in blank_after:
            number += 1
            text.append("  ")
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return numbers


JSONL_CASES = [
    pytest.param(None, True, (), id="reference_date"),
    pytest.param(ON, True, (), id="on"),
    # Lists and objects as values, and integers longer than 40 digits, on which the paths
    # disagreed at 5576493: cases of their own, so that a failure says which.
    pytest.param(None, True, ("containers",), id="containers"),
    pytest.param(None, True, ("huge",), id="huge-integers"),
]


@pytest.mark.parametrize(("on", "with_reference", "extras"), JSONL_CASES)
@SETTINGS
@given(data=st.data())
def test_jsonl_values_get_the_verdict_of_facts_parse(on, with_reference, extras, data):
    lines = data.draw(jsonl_lines(TODAY, with_reference=with_reference, extras=extras))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "facts.jsonl"
        numbers = write_lines(path, lines)
        (chunk,) = list(_jsonl_chunks(path))
    assert chunk.errors == []
    assert chunk.rows.tolist() == numbers
    raws = [facts_of(line) for line in lines]
    assert_same_verdicts(chunk.columns, raws, chunk.rows, today=TODAY, on=on)


def error_line(row, field, zh, en):
    return f"第 {row} 行 {field}：{zh} / row {row}, {field}: {en}"


@pytest.mark.parametrize(
    ("on", "with_reference"),
    [pytest.param(dt.date(2024, 6, 30), False, id="on"), pytest.param(None, True, id="reference")],
)
@settings(SETTINGS, max_examples=20)
@given(data=st.data())
def test_jsonl_file_reports_what_facts_parse_refuses(on, with_reference, data):
    """run_batch_file itself: the lines it prints on stderr are the scalar errors, the rows it
    writes are the rows the scalar path accepts, with the scalar total."""
    table = get_table("guangdong-2010")
    today = dt.date.today()  # as run_batch_file takes it
    lines = data.draw(jsonl_lines(today, with_reference=with_reference, max_rows=12, ids=True))
    blank_after = data.draw(st.sets(st.integers(0, len(lines) - 1), max_size=2))
    stderr = io.StringIO()
    with tempfile.TemporaryDirectory() as directory:
        source, output = Path(directory) / "in.jsonl", Path(directory) / "out.jsonl"
        numbers = write_lines(source, lines, blank_after)
        with contextlib.redirect_stderr(stderr):
            status = run_batch_file(table, source, output, on=on)
        # JSON Lines end at "\n" only: str.splitlines would also split inside an id at U+0085.
        written = [json.loads(line) for line in output.read_text().split("\n") if line]
    expected, kept = [], []
    for number, line in zip(numbers, lines, strict=True):
        facts, errors = scalar_verdict(facts_of(line), today=today, on=on)
        expected.extend(error_line(number, *e) for e in errors)
        if facts is not None:
            given_id = load_json(line).get("id")
            kept.append((str(number) if given_id is None else str(given_id), facts))
    printed = [line for line in stderr.getvalue().splitlines() if line.startswith("第 ")]
    if len(expected) <= 50:
        assert sorted(printed) == sorted(expected)
    else:  # the first 50, by row, then a count of the rest
        assert len(printed) == 50 and set(printed) <= set(expected)
        assert f"……另有 {len(expected) - 50} 处错误 / {len(expected) - 50} more" in (
            stderr.getvalue()
        )
    assert status == (1 if expected else 0)
    assert [row["id"] for row in written] == [i for i, _ in kept]
    for row, (_, facts) in zip(written, kept, strict=True):
        assert Decimal(str(row["total"])) == score(table, facts, on=on).total


# ---- 3. the messages, pinned -------------------------------------------------------------------


def batch_errors(columns, *, today=TODAY, on=None):
    n = len(next(iter(columns.values())))
    _, _, good, errors = encode_frame(
        columns, ALL_FACTS, rows=np.arange(1, n + 1), today=today, on=on
    )
    return good.tolist(), [(e.row, e.column, e.zh, e.en) for e in errors]


def jsonl_batch_errors(lines, *, today=TODAY, on=None):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "facts.jsonl"
        write_lines(path, lines)
        (chunk,) = list(_jsonl_chunks(path))
    _, _, good, errors = encode_frame(chunk.columns, ALL_FACTS, rows=chunk.rows, today=today, on=on)
    return good.tolist(), [(e.row, e.column, e.zh, e.en) for e in errors]


def scalar_errors(raw, *, today=TODAY, on=None):
    return scalar_verdict(raw, today=today, on=on)[1]


def test_three_decimals_of_yuan_are_refused_on_both_paths():
    message = ("income_tax_yuan", "最多保留 2 位小数", "at most 2 decimal places")
    assert scalar_errors({"income_tax_yuan": "123456789.125"}) == [message]
    assert batch_errors({"income_tax_yuan": ["123456789.125", "123456789.12"]}) == (
        [False, True],
        [(1, *message)],
    )
    for literal in ("123456789.125", '"123456789.125"'):
        line = '{"income_tax_yuan": ' + literal + "}"
        assert scalar_errors(facts_of(line)) == [message]
        assert jsonl_batch_errors([line]) == ([False], [(1, *message)])


@pytest.mark.parametrize("cell", ["3_6", "٣٦"])
def test_digits_other_than_ascii_are_not_numbers_on_both_paths(cell):
    assert int(cell) == 36  # what Python's int() would have made of it
    message = ("insured_months_city", "应为数字", "must be a number")
    assert scalar_errors({"insured_months_city": cell}) == [message]
    assert batch_errors({"insured_months_city": [cell, "36"]}) == ([False, True], [(1, *message)])
    line = json.dumps({"insured_months_city": cell})
    assert scalar_errors(facts_of(line)) == [message]
    assert jsonl_batch_errors([line]) == ([False], [(1, *message)])


def test_months_from_before_the_sixteenth_birthday_are_refused_on_both_paths():
    # Born 1990-01-01: 16 on 2006-01-01; to 2024-06-30 that is 18 years and 5 months.
    message = (
        "residence_permit_months",
        "不能超过 221 个月：从 16 周岁（2006-01-01）到参照日（2024-06-30）只有 221 个月",
        "at most 221 months: only 221 months from age 16 (2006-01-01) to the reference date "
        "(2024-06-30)",
    )
    on = dt.date(2024, 6, 30)
    raw = {"birth_date": "1990-01-01", "residence_permit_months": "1200"}
    assert scalar_errors(raw, on=on) == [message]
    columns = {"birth_date": ["1990-01-01"] * 2, "residence_permit_months": ["1200", "221"]}
    assert batch_errors(columns, on=on) == ([False, True], [(1, *message)])
    # The same day given as the row's reference date instead of `on`.
    columns["reference_date"] = ["2024-06-30"] * 2
    assert scalar_errors({**raw, "reference_date": "2024-06-30"}) == [message]
    assert batch_errors(columns) == ([False, True], [(1, *message)])
    line = '{"birth_date": "1990-01-01", "residence_permit_months": 1200}'
    assert jsonl_batch_errors([line], on=on) == ([False], [(1, *message)])


def test_a_jsonl_row_is_scored_on_its_reference_date(tmp_path, capsys):
    table = get_table("shenzhen-2011")
    base = {
        "birth_date": "1981-03-01",
        "health_certified": True,
        "residence_permit_months": 12,
        "employment_registered": True,
        "education": "doctor",
    }
    rows = [
        {"id": "30", **base, "reference_date": "2011-09-01"},  # 30 years old: 15 points
        {"id": "36", **base, "reference_date": "2017-09-01"},  # 36: 10 points
        {"id": "44", **base, "reference_date": "2025-09-01"},  # 44: 5 points
    ]
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert run_batch_file(table, source, output) == 0
    written = {row["id"]: row for row in map(json.loads, output.read_text().splitlines())}
    assert {i: row["item:age"] for i, row in written.items()} == {"30": 15, "36": 10, "44": 5}
    for row in rows:
        facts = Facts.parse({k: v for k, v in row.items() if k != "id"})
        assert facts.reference_date == dt.date.fromisoformat(row["reference_date"])
        expected = score(table, facts, on=facts.reference_date)
        assert written[row["id"]]["total"] == expected.total
    assert "跳过 0 行" in capsys.readouterr().err


def test_json_numbers_with_an_exponent_are_read_as_written():
    """A column of JSON numbers such as `5e-1` is judged by its literal, as Facts.parse judges
    it (a reader that turns the literals into plain strings, as an Arrow-backed pandas string
    column does, makes `5e-1` "not a number")."""
    lines = ['{"volunteer_hours": 5e-1}', '{"volunteer_hours": 1e-7}', '{"volunteer_hours": 1E2}']
    message = ("volunteer_hours", "最多保留 2 位小数", "at most 2 decimal places")
    assert [scalar_errors(facts_of(line)) for line in lines] == [[], [message], []]
    assert jsonl_batch_errors(lines) == ([True, False, True], [(2, *message)])
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "facts.jsonl"
        write_lines(path, lines)
        (chunk,) = list(_jsonl_chunks(path))
    cols, *_ = encode_frame(chunk.columns, ["volunteer_hours"], rows=chunk.rows, today=TODAY)
    assert cols["volunteer_hours"].tolist() == [50, 0, 10000]


# ---- disagreements the properties found at 5576493 (each the smallest example) ----------------


@pytest.mark.parametrize(
    ("line", "field", "zh"),
    [
        ('{"insured_months_city": [1, 2]}', "insured_months_city", "应为数字"),
        ('{"income_tax_yuan": []}', "income_tax_yuan", "应为数字"),
        ('{"education": []}', "education", "不是有效的选项，可选：" + ", ".join(EDUCATION)),
        ('{"criminal_record": [1]}', "criminal_record", "应为是或否"),
        ('{"birth_date": [1, 2]}', "birth_date", "不是有效的日期，应为 YYYY-MM-DD"),
        ('{"reference_date": {}}', "reference_date", "不是有效的日期，应为 YYYY-MM-DD"),
    ],
    ids=["int", "decimal", "enum", "bool", "date", "reference_date"],
)
def test_a_list_or_object_value_in_jsonl_is_refused_like_facts_parse(line, field, zh):
    """Facts.parse refuses the row; the batch must refuse it too, not fail the whole file (at
    5576493 np.asarray made a 2-D array of a column of equal-length lists, and pandas' map
    could not hash a list)."""
    (error,) = scalar_errors(facts_of(line))
    assert error[:2] == (field, zh)
    assert jsonl_batch_errors([line]) == ([False], [(1, *error)])


@pytest.mark.parametrize("cell", ["0000-01-01", "0000-02-29"])
def test_year_zero_is_not_a_date_on_either_path(cell):
    """Python's dates start in year 1; pandas' to_datetime reads "0000-01-01" as a date, so at
    5576493 the fast path took it (and int_date failed on it in the cross-field check)."""
    message = (
        "birth_date",
        "不是有效的日期，应为 YYYY-MM-DD",
        "not a valid date, expected YYYY-MM-DD",
    )
    assert scalar_errors({"birth_date": cell}) == [message]
    assert batch_errors({"birth_date": [cell]}) == ([False], [(1, *message)])
    columns = {"birth_date": [cell], "insured_months_city": ["36"]}
    assert batch_errors(columns) == ([False], [(1, *message)])


def test_an_integer_of_more_than_40_digits_gets_the_same_message():
    """A JSON integer is judged by its value in Facts.parse (不能大于 1200); at 5576493 the batch
    spelt it as text and judged the length of its digits (数字过长)."""
    line = '{"insured_months_city": ' + str(10**40) + "}"
    message = ("insured_months_city", "不能大于 1200", "must be at most 1200")
    assert scalar_errors(facts_of(line)) == [message]
    assert jsonl_batch_errors([line]) == ([False], [(1, *message)])


def test_a_bad_reference_date_is_refused_even_when_on_is_given():
    """Facts.parse(raw, on=...) still validates a reference_date it is given; at 5576493
    encode_frame with `on` did not look at the column."""
    raw = {"reference_date": "abc", "insured_months_city": "36"}
    message = (
        "reference_date",
        "不是有效的日期，应为 YYYY-MM-DD",
        "not a valid date, expected YYYY-MM-DD",
    )
    assert scalar_errors(raw, on=ON) == [message]
    columns = {name: [cell] for name, cell in raw.items()}
    assert batch_errors(columns, on=ON) == ([False], [(1, *message)])
