"""Batch scoring: whole populations at once, column by column with numpy.

The same compiled table as the scalar path, the same integer arithmetic (cents, fen, 1/10000
shares), so every row gets exactly the figures `scoring.score` gives (tests hold the two equal).
Bad cells are reported by row and column; those rows are skipped, the others scored.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from scoring.engine import (
    CompiledTable,
    cents,
    compile_table,
)
from scoring.facts import FACT_SPECS, FALSE_WORDS, TRUE_WORDS, FactSpec
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

CHUNK_ROWS = 100_000
NO_DATE = -1  # dates are yyyymmdd integers; -1 is "not given"


@dataclass
class BatchResult:
    """Figures in cents per row; `items` by item code, cap lines `<group>_cap` and `max_total`."""

    total: np.ndarray
    qualification: np.ndarray
    ranking: np.ndarray
    eligible: np.ndarray
    items: dict[str, np.ndarray]
    ban_until: np.ndarray  # yyyymmdd of the latest ban end, NO_DATE if none


def _date_int(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def _is_leap(year: np.ndarray) -> np.ndarray:
    return (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))


def _completed_years(born: np.ndarray, on: dt.date) -> np.ndarray:
    year, monthday = born // 10000, born % 10000
    return on.year - year - ((on.month * 100 + on.day) < monthday)


def _add_years(day: np.ndarray, years: int) -> np.ndarray:
    year, month, dom = day // 10000 + years, (day // 100) % 100, day % 100
    dom = np.where((month == 2) & (dom == 29) & ~_is_leap(year), 28, dom)
    return year * 10000 + month * 100 + dom


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


def _item_points(item, cols: dict[str, np.ndarray], on: dt.date, n: int) -> np.ndarray:
    if isinstance(item, Ladder):
        best = np.zeros(n, dtype=np.int64)
        for name, levels in item.ladders.items():
            lookup, current = [], 0
            for level in FACT_SPECS[name].levels:
                if level in levels:
                    current = cents(levels[level])
                lookup.append(current)
            best = np.maximum(best, np.asarray(lookup, dtype=np.int64)[cols[name]])
        return best
    if isinstance(item, Rate):
        scale = FACT_SPECS[item.facts[0]].scale
        quantity = sum(cols[name] for name in item.facts)
        if item.share:
            quantity = quantity * cols[item.share] // 10000
        raw = np.zeros(n, dtype=np.int64)
        for tier in item.schedule():
            start, unit = int(tier.start * scale), int(tier.unit * scale)
            top = quantity if tier.end is None else np.minimum(quantity, int(tier.end * scale))
            raw += np.maximum(top - start, 0) // unit * cents(tier.points)
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
        age = _completed_years(born, on)
        out = np.zeros(n, dtype=np.int64)
        for band in item.bands:
            out = np.where((age >= band.min) & (age <= band.max), cents(band.points), out)
        return np.where(born == NO_DATE, 0, out)
    if isinstance(item, Deduction):
        return np.where(cols[item.fact].astype(bool), -cents(item.points), 0).astype(np.int64)
    raise TypeError(item)


def _requirement_fails(item: Requirement, cols: dict[str, np.ndarray], on: dt.date) -> np.ndarray:
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


def score_columns(table: Table, cols: dict[str, np.ndarray], *, on: dt.date) -> BatchResult:
    """Score validated columns (see `encode_frame`) exactly as `scoring.score` scores one row."""
    c: CompiledTable = compile_table(table)
    n = len(next(iter(cols.values()))) if cols else 0
    ban_until = np.full(n, NO_DATE, dtype=np.int64)
    vetoed = np.zeros(n, dtype=bool)
    for item in (i for i in table.items if isinstance(i, Veto)):
        col = cols[item.fact]
        if FACT_SPECS[item.fact].kind == "bool":
            vetoed |= col.astype(bool)
        else:
            ends = np.where(col == NO_DATE, NO_DATE, _add_years(col, item.ban_years))
            hit = (col != NO_DATE) & (_date_int(on) < ends)
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
    return BatchResult(total, qualification, ranking, eligible, items, ban_until)


# ---- reading and validating files -------------------------------------------------------------


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


def _encode_column(
    spec: FactSpec, raw: pd.Series, today: dt.date
) -> tuple[np.ndarray, np.ndarray, str, str]:
    """(values, bad-row mask, zh reason, en reason) for one column of text cells.

    The common case (clean cells) takes the fast vectorised path; only cells that fail it are
    looked at again, stripped of spaces, so odd input costs time only where it occurs."""
    cells = raw.to_numpy(dtype=object)
    blank = cells == ""
    if spec.kind in ("enum", "bool"):
        if spec.kind == "enum":
            mapping = {level: i for i, level in enumerate(spec.levels)}
            allowed = ", ".join(spec.levels)
            reason = f"不是有效的选项，可选：{allowed}", f"not one of: {allowed}"
        else:
            mapping = {w: 1 for w in TRUE_WORDS} | {w: 0 for w in FALSE_WORDS}
            reason = "应为是或否", "must be true or false"
        codes = raw.map(mapping)
        retry = codes.isna().to_numpy() & ~blank
        if retry.any():
            again = raw[retry].str.strip()
            codes[retry] = (again.str.lower() if spec.kind == "bool" else again).map(mapping)
        bad = codes.isna().to_numpy() & ~blank
        return codes.fillna(0).astype(np.int64).to_numpy(), bad, *reason
    if spec.kind == "date":
        parsed = pd.to_datetime(raw.str.strip(), format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna().to_numpy() & ~blank
        ymd = (parsed.dt.year * 10000 + parsed.dt.month * 100 + parsed.dt.day).fillna(NO_DATE)
        values = ymd.astype(np.int64).to_numpy()
        future = values > _date_int(today)
        values = np.where(bad | future, NO_DATE, values)
        return (
            values,
            bad | future,
            "不是有效的日期（YYYY-MM-DD，不晚于今天）",
            "not a valid past date",
        )
    try:
        number = np.where(blank, "0", cells).astype(np.float64)
        bad = np.zeros(len(cells), dtype=bool)
    except (ValueError, TypeError):
        number = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(number) & ~blank
        number = np.where(blank, 0.0, number)
    bad |= ~np.isfinite(number)
    number = np.where(np.isfinite(number), number, 0.0)
    scaled = np.rint(number * spec.scale)
    bad |= np.abs(number * spec.scale - scaled) > 1e-6 * np.maximum(1.0, np.abs(scaled))
    bad |= (number < float(spec.minimum)) | (number > float(spec.maximum))
    values = np.where(bad, 0, scaled).astype(np.int64)
    places = len(str(spec.scale)) - 1
    kind = "整数" if spec.kind == "int" else f"最多 {places} 位小数的数"
    zh = f"应为 {spec.minimum} 到 {spec.maximum} 之间的{kind}"
    en = f"must be a number from {spec.minimum} to {spec.maximum}" + (
        "" if spec.kind == "decimal" else ", whole"
    )
    return values, bad, zh, en


def encode_frame(
    frame: pd.DataFrame, facts: list[str], *, first_row: int, today: dt.date
) -> tuple[dict[str, np.ndarray], np.ndarray, list[CellError]]:
    """Validated integer columns for `facts`, the mask of good rows, and every bad cell."""
    n = len(frame)
    cols: dict[str, np.ndarray] = {}
    good = np.ones(n, dtype=bool)
    errors: list[CellError] = []
    for name in facts:
        spec = FACT_SPECS[name]
        if name not in frame.columns:
            default = NO_DATE if spec.kind == "date" else 0
            cols[name] = np.full(n, default, dtype=np.int64)
            continue
        values, bad, zh, en = _encode_column(spec, frame[name], today)
        cols[name] = values
        if bad.any():
            good &= ~bad
            errors.extend(CellError(first_row + int(i), name, zh, en) for i in np.flatnonzero(bad))
    return cols, good, errors


_HUNDREDTHS = [""] + [f".{i:02d}".rstrip("0") for i in range(1, 100)]


def _format_cents(values: np.ndarray) -> list[str]:
    """Cents as point strings ('60', '2.1', '-0.5'), fast: most cells are whole points."""
    absolute = np.abs(values)
    out = list(map(str, (absolute // 100).tolist()))
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


def _count_rows(path: Path) -> int:
    """Data rows in a file, for the progress bar (one fast pass over the bytes)."""
    lines = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            lines += block.count(b"\n")
    return lines - (0 if path.suffix.lower() == ".jsonl" else 1)


def _json_cell(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _chunks(path: Path) -> Iterator[pd.DataFrame]:
    if path.suffix.lower() == ".jsonl":
        for frame in pd.read_json(path, lines=True, dtype=False, chunksize=CHUNK_ROWS):
            yield frame.astype(object).map(_json_cell)
    else:
        yield from pd.read_csv(
            path, dtype=str, keep_default_na=False, chunksize=CHUNK_ROWS, encoding="utf-8-sig"
        )


def run_batch_file(table: Table, source: Path, output: Path, *, on: dt.date | None = None) -> int:
    """Score every row of a CSV or JSONL file; write CSV or JSONL by the output's suffix."""
    from tqdm import tqdm

    on = on or dt.date.today()
    today = dt.date.today()
    facts = table.facts_used()
    if not source.exists():
        print(f"找不到文件 / no such file: {source}", file=sys.stderr)
        return 2
    as_jsonl = output.suffix.lower() == ".jsonl"
    output.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed into place, or removed
        "w", encoding="utf-8", dir=output.parent, delete=False, suffix=".part", newline=""
    )
    errors: list[CellError] = []
    scored = rows = 0
    on_terminal = sys.stderr.isatty()
    progress = tqdm(
        unit=" 行",
        disable=not on_terminal,
        desc=table.id,
        total=_count_rows(source) if on_terminal else None,
    )
    try:
        with handle:
            header_written = False
            for frame in _chunks(source):
                unknown = [col for col in frame.columns if col != "id" and col not in FACT_SPECS]
                if unknown:
                    print(
                        f"未知的列 / unknown columns: {', '.join(map(str, unknown))}",
                        file=sys.stderr,
                    )
                    raise SystemExit(2)
                cols, good, bad_cells = encode_frame(frame, facts, first_row=rows + 1, today=today)
                errors.extend(bad_cells)
                ids = (
                    frame["id"].astype(str).to_numpy()
                    if "id" in frame.columns
                    else np.arange(rows + 1, rows + len(frame) + 1).astype(str)
                )
                rows += len(frame)
                cols = {k: v[good] for k, v in cols.items()}
                result = score_columns(table, cols, on=on)
                scored += int(good.sum())
                _write(handle, ids[good], result, as_jsonl, header=not header_written)
                header_written = True
                progress.update(len(frame))
        os.replace(handle.name, output)
    except BaseException:
        os.unlink(handle.name)
        raise
    finally:
        progress.close()
    for error in errors[:50]:
        print(error, file=sys.stderr)
    if len(errors) > 50:
        print(f"……另有 {len(errors) - 50} 处错误 / {len(errors) - 50} more", file=sys.stderr)
    bad_rows = len({e.row for e in errors})
    print(
        f"已计分 {scored} 行，跳过 {bad_rows} 行有误数据 / scored {scored} rows, "
        f"skipped {bad_rows} bad rows -> {output}",
        file=sys.stderr,
    )
    return 1 if bad_rows else 0


def _write(handle, ids: np.ndarray, result: BatchResult, as_jsonl: bool, *, header: bool) -> None:
    columns = {
        "total": result.total,
        "qualification_score": result.qualification,
        "ranking_score": result.ranking,
        **{f"item:{code}": v for code, v in result.items.items()},
    }
    text = {name: _format_cents(v) for name, v in columns.items()}
    eligible = ["true" if e else "false" for e in result.eligible.tolist()]
    ban = _format_dates(result.ban_until)
    ids = [str(i) for i in ids.tolist()]
    if as_jsonl:
        names = list(text)
        for i, row_id in enumerate(ids):
            record = {"id": row_id}
            for name in names:
                record[name] = float(text[name][i]) if "." in text[name][i] else int(text[name][i])
            record["eligible"] = eligible[i] == "true"
            record["ban_until"] = ban[i] or None
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    if header:
        handle.write(",".join(["id", *text, "eligible", "ban_until"]) + "\n")
    joined = "".join(ids)
    if any(ch in joined for ch in ',"\n\r'):
        ids = [_csv_cell(i) for i in ids]
    rows = zip(ids, *text.values(), eligible, ban, strict=True)
    handle.write("\n".join(map(",".join, rows)))
    handle.write("\n")


def _csv_cell(value: str) -> str:
    if any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value
