"""`jifen score --batch`: read a CSV or JSONL file in chunks, score it, write CSV or JSONL.

Reading turns each chunk into columns of cells (CSV text; JSON values, numbers with a fraction
kept as written, `JsonNumber`, so that they are judged by their digits, as a CSV cell is);
`scoring.columns` validates them and `scoring.batch` scores them. Bad rows are reported and
skipped; the output is written to a temporary file and renamed into place.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson
import pandas as pd

from scoring.batch import BatchResult, columns_needed, score_columns
from scoring.columns import NO_DATE, CellError, encode_frame
from scoring.facts import FACT_SPECS, JsonNumber
from scoring.model import Table

CHUNK_ROWS = 100_000
# Columns a file may carry besides the facts.
EXTRA_COLUMNS = ("id", "reference_date")
NUMBERS = ("int", "decimal")


@dataclass
class Chunk:
    columns: dict[str, Any]  # name -> cells (a pandas Series or a list)
    rows: np.ndarray  # each position's row number, for messages (1-based, after any header)
    ids: list[str]
    errors: list[CellError]  # rows that could not be read at all (not a JSON object)


class UnknownColumns(ValueError):
    pass


def _check_columns(names: list[str]) -> None:
    unknown = [str(c) for c in names if c not in EXTRA_COLUMNS and c not in FACT_SPECS]
    if unknown:
        raise UnknownColumns(", ".join(unknown))


def _csv_chunks(path: Path) -> Iterator[Chunk]:
    first = 1
    # Every line after the header is a row (an empty line too: a row with nothing given), so
    # the row numbers of the messages are the lines' numbers after the header.
    for frame in pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=False,
        chunksize=CHUNK_ROWS,
        encoding="utf-8-sig",
    ):
        _check_columns(list(frame.columns))
        rows = np.arange(first, first + len(frame))
        first += len(frame)
        ids = frame["id"].tolist() if "id" in frame.columns else rows.astype(str).tolist()
        yield Chunk({c: frame[c] for c in frame.columns}, rows, ids, [])


# Numbers with a fraction are read as floats where that loses nothing, else as written.
_FLOATS = msgspec.json.Decoder()
_AS_WRITTEN = msgspec.json.Decoder(float_hook=JsonNumber)


def floats_are_exact(block: bytes) -> bool:
    """Whether every number literal in the block stands exactly for a float: no exponent and at
    most 15 digits. A decimal of at most 15 significant digits is the shortest form of the
    nearest float, so reading it as a float and back loses nothing. (A string that looks like
    such a number only makes the block take the slower, exact reading.)"""
    data = np.frombuffer(block, dtype=np.uint8)
    digit = (data >= 48) & (data <= 57)
    if np.any(digit[:-1] & ((data[1:] | 32) == ord("e"))):
        return False
    numeric = digit | (data == 46)
    # Runs of digits and points: where `numeric` changes, a run starts or ends.
    edges = np.flatnonzero(numeric[1:] != numeric[:-1]) + 1
    if len(numeric) and numeric[0]:
        edges = np.concatenate(([0], edges))
    if len(numeric) and numeric[-1]:
        edges = np.concatenate((edges, [len(numeric)]))
    starts, ends = edges[0::2], edges[1::2]
    long_runs = np.flatnonzero(ends - starts > 15)  # rare: count their digits one by one
    return not any(np.count_nonzero(digit[starts[i] : ends[i]]) > 15 for i in long_runs)


def _decode_lines(
    lines: list[bytes], first: int
) -> tuple[list[dict], list[int], list[CellError], bool]:
    """The objects of a block of lines, their row numbers, the lines that are not objects, and
    whether numbers were read as floats (else as written, `JsonNumber`). Blank lines are passed
    over."""
    block = b"".join(lines)
    as_floats = floats_are_exact(block)
    decoder = _FLOATS if as_floats else _AS_WRITTEN
    try:
        objects = decoder.decode_lines(block)
        if len(objects) == sum(1 for line in lines if line.strip()) and all(
            type(o) is dict for o in objects
        ):
            rows = [first + i for i, line in enumerate(lines) if line.strip()]
            return objects, rows, [], as_floats
    except msgspec.DecodeError:
        pass
    objects, rows, errors = [], [], []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            value = decoder.decode(line)
        except msgspec.DecodeError:
            value = None
        if type(value) is dict:
            objects.append(value)
            rows.append(first + i)
        else:
            errors.append(
                CellError(first + i, "(行)", "不是有效的 JSON 对象", "not a valid JSON object")
            )
    return objects, rows, errors, as_floats


def _jsonl_chunks(path: Path) -> Iterator[Chunk]:
    first = 1
    with path.open("rb") as handle:
        while lines := list(itertools.islice(handle, CHUNK_ROWS)):
            objects, rows, errors, as_floats = _decode_lines(lines, first)
            first += len(lines)
            # One column per key, typed where the values are all numbers or all true/false
            # (a key missing from a line is NaN: not given); cells are judged in scoring.columns.
            frame = pd.DataFrame.from_records(objects) if objects else pd.DataFrame()
            _check_columns(list(frame.columns))
            if "id" not in frame.columns:
                ids = [str(r) for r in rows]
            else:  # integer ids with gaps became floats in the frame: take them as written
                given = [o.get("id") for o in objects] if frame["id"].dtype.kind == "f" else None
                given = given if given is not None else frame["id"].tolist()
                ids = [_id_text(v, r) for v, r in zip(given, rows, strict=True)]
            columns = {c: frame[c] for c in frame.columns if c != "id"}
            for name, column in columns.items():
                spec = FACT_SPECS.get(name)
                if not as_floats:
                    # Numbers kept as written must reach the cells as they are (a frame may
                    # store text in a form that drops the JsonNumber kind).
                    columns[name] = _as_given(objects, name)
                elif column.dtype.kind == "f" and (spec is None or spec.kind not in NUMBERS):
                    # Integers with gaps became floats; for a yes/no, a level or a date that
                    # changes the verdict (0 is "no", 0.0 is not): keep the values as given.
                    columns[name] = _as_given(objects, name)
            yield Chunk(columns, np.asarray(rows, dtype=np.int64), ids, errors)


def _as_given(objects: list[dict], name: str) -> np.ndarray:
    """A column of the values exactly as decoded (a missing key: None, i.e. not given)."""
    return np.fromiter((o.get(name) for o in objects), dtype=object, count=len(objects))


def _id_text(value: Any, row: int) -> str:
    if value is None or (isinstance(value, float) and value != value):  # no id: the row
        return str(row)
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _count_rows(path: Path) -> int:
    """Data rows in a file, for the progress bar (one fast pass over the bytes)."""
    lines = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            lines += block.count(b"\n")
    return lines - (0 if path.suffix.lower() == ".jsonl" else 1)


def run_batch_file(table: Table, source: Path, output: Path, *, on: dt.date | None = None) -> int:
    """Score every row of a CSV or JSONL file; write CSV or JSONL by the output's suffix."""
    from tqdm import tqdm

    today = dt.date.today()
    facts = columns_needed(table)
    if not source.exists():
        print(f"找不到文件 / no such file: {source}", file=sys.stderr)
        return 2
    as_jsonl = output.suffix.lower() == ".jsonl"
    chunks = _jsonl_chunks(source) if source.suffix.lower() == ".jsonl" else _csv_chunks(source)
    output.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed into place, or removed
        "w", encoding="utf-8", dir=output.parent, delete=False, suffix=".part", newline=""
    )
    errors: list[CellError] = []
    scored = outside = 0
    on_terminal = sys.stderr.isatty()
    progress = tqdm(
        unit=" 行",
        disable=not on_terminal,
        desc=table.id,
        total=_count_rows(source) if on_terminal else None,
    )
    writer = JsonlWriter(table) if as_jsonl else CsvWriter(table)
    try:
        with handle:
            for chunk in chunks:
                cols, reference, good, bad_cells = encode_frame(
                    chunk.columns, facts, rows=chunk.rows, today=today, on=on
                )
                errors.extend(chunk.errors)
                errors.extend(bad_cells)
                kept = {k: v[good] for k, v in cols.items()}
                result = score_columns(table, kept, on=reference[good], n=int(good.sum()))
                scored += int(good.sum())
                outside += _outside_validity(table, reference[good])
                ids = [i for i, ok in zip(chunk.ids, good.tolist(), strict=True) if ok]
                writer.write(handle, ids, result)
                progress.update(len(chunk.rows) + len(chunk.errors))
        os.replace(handle.name, output)
    except UnknownColumns as exc:
        os.unlink(handle.name)
        print(f"未知的列 / unknown columns: {exc}", file=sys.stderr)
        return 2
    except BaseException:
        os.unlink(handle.name)
        raise
    finally:
        progress.close()
    errors.sort(key=lambda e: e.row)
    for error in errors[:50]:
        print(error, file=sys.stderr)
    if len(errors) > 50:
        print(f"……另有 {len(errors) - 50} 处错误 / {len(errors) - 50} more", file=sys.stderr)
    if outside:
        print(
            f"注意：{outside} 行的参照日不在本政策有效期内，结果仅供参考 / {outside} rows have a "
            "reference date outside the programme's validity",
            file=sys.stderr,
        )
    bad_rows = len({e.row for e in errors})
    print(
        f"已计分 {scored} 行，跳过 {bad_rows} 行有误数据 / scored {scored} rows, "
        f"skipped {bad_rows} bad rows -> {output}",
        file=sys.stderr,
    )
    return 1 if bad_rows else 0


def _outside_validity(table: Table, reference: np.ndarray) -> int:
    start = table.effective_from
    low = start.year * 10000 + start.month * 100 + start.day
    outside = reference < low
    if table.effective_to is not None:
        end = table.effective_to
        outside |= reference > end.year * 10000 + end.month * 100 + end.day
    return int(outside.sum())


# ---- writing ----------------------------------------------------------------------------------

_HUNDREDTHS = [""] + [f".{i:02d}".rstrip("0") for i in range(1, 100)]
# Whole points as text, looked up rather than formatted: nearly every figure is below this.
_WHOLE = np.array([str(i) for i in range(10_000)], dtype=object)


def _format_cents(values: np.ndarray) -> list[str]:
    """Cents as point strings ('60', '2.1', '-0.5'), fast: most cells are small whole points."""
    absolute = np.abs(values)
    whole = absolute // 100
    if len(whole) and whole.max() < len(_WHOLE):
        out = _WHOLE[whole].tolist()
    else:
        out = list(map(str, whole.tolist()))
    for i in np.flatnonzero(absolute % 100).tolist():
        out[i] += _HUNDREDTHS[int(absolute[i]) % 100]
    for i in np.flatnonzero(values < 0).tolist():
        out[i] = "-" + out[i]
    return out


def _format_dates(days: np.ndarray) -> list[str]:
    out = [""] * len(days)
    for i in np.flatnonzero(days != NO_DATE).tolist():
        d = int(days[i])
        out[i] = f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}"
    return out


class _Writer:
    def __init__(self, table: Table):
        self.codes = [gap.code for gap in table.gaps]
        self.header_written = False

    def figures(self, result: BatchResult) -> dict[str, list[str]]:
        columns = {
            "total": result.total,
            "qualification_score": result.qualification,
            "ranking_score": result.ranking,
            **{f"item:{code}": v for code, v in result.items.items()},
        }
        return {name: _format_cents(v) for name, v in columns.items()}

    def gap_cells(self, result: BatchResult, spell) -> list[str]:
        """Each row's applicable gap codes as `spell(codes)` (few distinct sets: each spelt once
        per bit pattern)."""
        spelt = {
            bits: spell([code for k, code in enumerate(self.codes) if bits >> k & 1])
            for bits in np.unique(result.gaps).tolist()
        }
        return [spelt[bits] for bits in result.gaps.tolist()]


class CsvWriter(_Writer):
    def write(self, handle, ids: list[str], result: BatchResult) -> None:
        text = self.figures(result)
        if not self.header_written:
            handle.write(",".join(["id", *text, "eligible", "ban_until", "gaps"]) + "\n")
            self.header_written = True
        if not ids:
            return
        eligible = ["true" if e else "false" for e in result.eligible.tolist()]
        gaps = self.gap_cells(result, ";".join)
        if any(ch in "".join(ids) for ch in ',"\n\r'):
            ids = [_csv_cell(i) for i in ids]
        rows = zip(
            ids, *text.values(), eligible, _format_dates(result.ban_until), gaps, strict=True
        )
        handle.write("\n".join(map(",".join, rows)))
        handle.write("\n")


class JsonlWriter(_Writer):
    def write(self, handle, ids: list[str], result: BatchResult) -> None:
        """Lines assembled column by column from formatted parts (the figures are JSON numbers
        as written: at most two decimals)."""
        if not ids:
            return
        parts = [['{"id":' + orjson.dumps(i).decode() for i in ids]]
        for name, cells in self.figures(result).items():
            key = orjson.dumps(name).decode() + ":"
            parts.append([key + cell for cell in cells])
        parts.append(['"eligible":true' if e else '"eligible":false' for e in result.eligible])
        parts.append(
            [
                f'"ban_until":"{d}"' if d else '"ban_until":null'
                for d in _format_dates(result.ban_until)
            ]
        )
        parts.append(
            self.gap_cells(result, lambda codes: f'"gaps":{orjson.dumps(codes).decode()}}}')
        )
        handle.write("\n".join(map(",".join, zip(*parts, strict=True))))
        handle.write("\n")


def _csv_cell(value: str) -> str:
    if any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value
