"""Load the TOML tables, merge overlays onto their base, and check every reference.

Problems are reported with the file, the path inside it and the reason, so that whoever edits a
table can find the line to fix.
"""

from __future__ import annotations

import functools
import itertools
import os
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scoring.facts import FACT_SPECS
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
    TableFile,
    Veto,
)

TABLES_DIR = Path(
    os.environ.get("JIFEN_TABLES_DIR", Path(__file__).resolve().parent.parent / "tables")
)
CASES_SUFFIX = ".cases.toml"
# Data beside the tables that is not a table: which department verifies which fact.
NOT_TABLES = {"departments.toml"}


@dataclass(frozen=True)
class TableProblem:
    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.reason}"


class TableError(ValueError):
    def __init__(self, problems: list[TableProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class UnknownTable(KeyError):
    def __init__(self, table_id: str):
        self.table_id = table_id
        super().__init__(table_id)

    def __str__(self) -> str:
        return f"未知的积分表 / unknown table: {self.table_id}"


def _loc(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = raw
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "code" in node:
                parts.append(f"(code={node['code']})")
        elif isinstance(node, dict) and part in node:
            parts.append(f".{part}" if parts else str(part))
            node = node[part]
        # pydantic adds the union tag ("rate") to the location: it is not a key in the file
    return "".join(parts)


def read_table_file(path: Path) -> TableFile:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TableError([TableProblem(path.name, "", f"not valid TOML: {exc}")]) from None
    try:
        return TableFile.model_validate(raw)
    except ValidationError as exc:
        raise TableError(
            [TableProblem(path.name, _loc(e["loc"], raw), e["msg"]) for e in exc.errors()]
        ) from None


def _merge(base: Table, overlay: TableFile) -> dict[str, Any]:
    """An overlay's fields replace the base's; groups and items replace by code, `remove` drops."""
    merged = base.model_dump(exclude={"path"})
    for key in (
        "name", "region", "city", "kind", "effective_from", "effective_to", "year_uncertain",
        "illustrative", "superseded", "threshold", "max_total", "qualification_groups",
        "ranking_groups", "tie_break",
    ):  # fmt: skip
        value = getattr(overlay, key)
        if value is not None:
            merged[key] = value
    merged["id"] = overlay.id
    merged["extends"] = overlay.extends
    merged["notes"] = [*base.notes, *overlay.notes]
    merged["applicant_notes"] = [*base.applicant_notes, *overlay.applicant_notes]
    merged["fact_help"] = {**base.fact_help, **overlay.fact_help}
    merged["citations"] = {**base.citations, **overlay.citations}
    removed = set(overlay.remove)
    sources = {s.id: s for s in base.sources}
    sources.update({s.id: s for s in overlay.sources})
    merged["sources"] = list(sources.values())
    groups = {g.code: g for g in base.groups if g.code not in removed}
    for group in overlay.groups:
        if group.code in groups:
            given = group.model_dump(exclude_unset=True)
            groups[group.code] = groups[group.code].model_copy(update=given)
        else:
            groups[group.code] = group
    merged["groups"] = list(groups.values())
    items = {i.code: i for i in base.items if i.code not in removed and i.group in groups}
    for item in overlay.items:
        items[item.code] = item
    merged["items"] = list(items.values())
    gaps = {g.code: g for g in base.gaps if g.code not in removed}
    gaps.update({g.code: g for g in overlay.gaps})
    merged["gaps"] = list(gaps.values())
    return merged


def _resolve(
    table_id: str, files: dict[str, tuple[Path, TableFile]], chain: tuple[str, ...]
) -> Table:
    path, file = files[table_id]
    if file.extends:
        if file.extends in chain or file.extends == table_id:
            raise TableError([TableProblem(path.name, "extends", "overlays form a cycle")])
        if file.extends not in files:
            raise TableError(
                [TableProblem(path.name, "extends", f"base table {file.extends!r} not found")]
            )
        base = _resolve(file.extends, files, (*chain, table_id))
        data = _merge(base, file)
    else:
        data = file.model_dump(exclude={"format", "remove"})
        missing = [
            k for k in ("name", "region", "kind", "effective_from", "threshold") if data[k] is None
        ]
        if missing:
            raise TableError([TableProblem(path.name, k, "required") for k in missing])
        data = {k: v for k, v in data.items() if v is not None}
        data.setdefault("city", data["region"])  # a table of one place: its city is its region
    data["path"] = str(path)
    try:
        table = Table.model_validate(data)
    except ValidationError as exc:
        raise TableError(
            [TableProblem(path.name, _loc(e["loc"], data), e["msg"]) for e in exc.errors()]
        ) from None
    problems = check_table(table, path.name)
    if problems:
        raise TableError(problems)
    return table


def _fact_problem(name: str, kinds: tuple[str, ...]) -> str | None:
    spec = FACT_SPECS.get(name)
    if spec is None:
        return f"unknown fact {name!r}"
    if spec.kind not in kinds:
        return f"fact {name!r} is {spec.kind}, this rule needs {' or '.join(kinds)}"
    return None


def _whole_units(name: str, value: Decimal) -> bool:
    """Whether `value` is a whole number of the fact's smallest unit (months: 1; yuan: 0.01)."""
    spec = FACT_SPECS.get(name)
    if spec is None:
        return True
    scaled = value * spec.scale
    return scaled == scaled.to_integral_value()


def _smallest_unit(name: str) -> str:
    spec = FACT_SPECS[name]
    step = decimal_str(Decimal(1) / spec.scale) if spec.scale > 1 else "1"
    return f"{step} {spec.unit}".rstrip() if spec.unit else step


def _item_problems(item: Any) -> list[tuple[str, str]]:
    """(field, reason) pairs for one item's facts and values."""
    out: list[tuple[str, str]] = []

    def whole(field: str, name: str, value: Decimal | None) -> None:
        """Scoring counts in the fact's smallest unit: a finer value would be cut off silently
        (or, for a unit, become zero)."""
        if value is not None and name in FACT_SPECS and not _whole_units(name, value):
            out.append(
                (
                    field,
                    f"{format(value, 'f')} is not a whole number of {name}'s unit "
                    f"({_smallest_unit(name)}); it would be truncated when scoring",
                )
            )

    def need(field: str, name: str, *kinds: str) -> None:
        problem = _fact_problem(name, kinds)
        if problem:
            out.append((field, problem))

    if isinstance(item, Ladder):
        if not item.ladders:
            out.append(("ladders", "no ladder given"))
        for name, levels in item.ladders.items():
            need(f"ladders.{name}", name, "enum")
            spec = FACT_SPECS.get(name)
            if spec and spec.kind == "enum":
                for level in levels:
                    if level not in spec.levels:
                        out.append((f"ladders.{name}.{level}", f"unknown level of {name}"))
        for i, combo in enumerate(item.combos):
            for name, level in combo.levels.items():
                need(f"combos[{i}].levels.{name}", name, "enum")
                spec = FACT_SPECS.get(name)
                if spec and spec.kind == "enum" and level not in spec.levels:
                    out.append((f"combos[{i}].levels.{name}", f"unknown level {level!r}"))
    elif isinstance(item, Rate):
        for name in item.facts:
            need("facts", name, "int", "decimal")
        units = {(FACT_SPECS[n].unit, FACT_SPECS[n].scale) for n in item.facts if n in FACT_SPECS}
        if len(units) > 1:
            out.append(("facts", "facts added together must share one unit"))
        if item.share:
            need("share", item.share, "decimal")
            if item.share in FACT_SPECS and FACT_SPECS[item.share].maximum != 1:
                out.append(("share", f"{item.share!r} is not a share between 0 and 1"))
        if item.times:
            need("times", item.times, "int")
        starts = [t.start for t in item.schedule()]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            out.append(("tiers", "tiers must start in increasing order"))
        where = "tiers[{}]" if item.tiers else ""
        for i, tier in enumerate(item.schedule()):
            at = where.format(i)
            if tier.end is not None and tier.end <= tier.start:
                out.append((f"{at}.end".lstrip("."), "end must be after start"))
            for field in ("unit", "start", "end"):
                whole(f"{at}.{field}".lstrip("."), item.facts[0], getattr(tier, field))
        if item.counted_from is not None:
            if any(FACT_SPECS.get(n) and FACT_SPECS[n].unit != "个月" for n in item.facts):
                out.append(("counted_from", "counted_from needs months facts"))
            if item.share:
                out.append(("counted_from", "counted_from does not go with share"))
    elif isinstance(item, Count):
        need("fact", item.fact, "int")
    elif isinstance(item, Once):
        need("fact", item.fact, "bool", "enum", "int", "decimal", "date")
        spec = FACT_SPECS.get(item.fact)
        if spec and spec.kind == "enum":
            if not item.levels:
                out.append(("levels", "an enum fact needs the levels that count"))
            out.extend(
                ("levels", f"unknown level {lv!r}") for lv in item.levels if lv not in spec.levels
            )
        whole("minimum", item.fact, item.minimum)
    elif isinstance(item, ProRata):
        need("fact", item.fact, "decimal")
        if item.fact in FACT_SPECS and FACT_SPECS[item.fact].maximum != 1:
            out.append(("fact", f"{item.fact!r} is not a share between 0 and 1"))
    elif isinstance(item, Age):
        for i, band in enumerate(item.bands):
            if band.min > band.max:
                out.append((f"bands[{i}]", "min is above max"))
        ordered = sorted(item.bands, key=lambda b: b.min)
        for a, b in itertools.pairwise(ordered):
            if b.min <= a.max:
                out.append(("bands", f"bands {a.min}-{a.max} and {b.min}-{b.max} overlap"))
    elif isinstance(item, Deduction):
        need("fact", item.fact, "bool")
    elif isinstance(item, Veto):
        need("fact", item.fact, "bool", "date")
        if item.fact in FACT_SPECS:
            is_date = FACT_SPECS[item.fact].kind == "date"
            if is_date != (item.ban_years is not None):
                out.append(("ban_years", "a date fact needs ban_years; a yes/no fact takes none"))
    elif isinstance(item, Requirement):
        need("fact", item.fact, "bool", "enum", "int", "decimal", "date")
        for field in ("minimum", "maximum"):
            value = getattr(item, field)
            if item.fact == "birth_date":  # compared with completed years of age
                if value is not None and value != value.to_integral_value():
                    out.append((field, "an age bound must be whole years"))
            else:
                whole(field, item.fact, value)
    return out


CITABLE = ("threshold", "tie_break", "max_total")


def _citation_problems(table: Table) -> list[tuple[str, str]]:
    """Every value that carries a source must name one that exists, and every source must be
    cited by some value."""
    out: list[tuple[str, str]] = []
    known = {s.id for s in table.sources}
    cited: set[str] = set()

    def cite(path: str, source: str) -> None:
        if not source:
            return
        if source not in known:
            out.append((f"{path}.source", f"unknown source {source!r}"))
        cited.add(source)

    for key, value in table.citations.items():
        if key not in CITABLE:
            out.append((f"citations.{key}", f"not a citable value (one of {', '.join(CITABLE)})"))
        cite(f"citations.{key}", value.source)
    present = {
        "threshold": True,
        "tie_break": bool(table.tie_break),
        "max_total": table.max_total is not None,
    }
    for key in CITABLE:
        if present[key] and not (key in table.citations and table.citations[key].source):
            out.append((f"citations.{key}", f"the {key} has no source"))
    for group in table.groups:
        cite(f"groups(code={group.code})", group.source)
        if group.cap is not None and not group.source:
            out.append((f"groups(code={group.code}).cap", "the cap has no source"))
    for item in table.items:
        where = f"items(code={item.code})"
        cited.add(item.source)
        for i, tier in enumerate(getattr(item, "tiers", [])):
            cite(f"{where}.tiers[{i}]", tier.source)
        for i, band in enumerate(getattr(item, "bands", [])):
            cite(f"{where}.bands[{i}]", band.source)
        for i, combo in enumerate(getattr(item, "combos", [])):
            cite(f"{where}.combos[{i}]", combo.source)
        for name, levels in getattr(item, "ladders", {}).items():
            for level, value in levels.items():
                cite(f"{where}.ladders.{name}.{level}", value.source)
    for gap in table.gaps:
        cite(f"gaps(code={gap.code})", gap.source)
    for source in table.sources:
        if source.id not in cited:
            out.append((f"sources(id={source.id})", "no value cites this source"))
    return out


def check_table(table: Table, file: str) -> list[TableProblem]:
    problems: list[TableProblem] = []

    def add(path: str, reason: str) -> None:
        problems.append(TableProblem(file, path, reason))

    if table.effective_to and table.effective_to < table.effective_from:
        add("effective_to", "ends before effective_from")
    source_ids = [s.id for s in table.sources]
    if not source_ids:
        add("sources", "a table needs at least one source")
    if len(set(source_ids)) != len(source_ids):
        add("sources", "duplicate source id")
    groups = {}
    for i, group in enumerate(table.groups):
        if group.code in groups:
            add(f"groups[{i}].code", f"duplicate group {group.code!r}")
        groups[group.code] = group
    for i, group in enumerate(table.groups):
        if group.parent and group.parent not in groups:
            add(f"groups[{i}].parent", f"unknown group {group.parent!r}")
        seen, node = {group.code}, group
        while node.parent in groups:
            node = groups[node.parent]
            if node.code in seen:
                add(f"groups[{i}].parent", "group parents form a cycle")
                break
            seen.add(node.code)
    codes: set[str] = set()
    for item in table.items:
        where = f"items(code={item.code})"
        if item.code in codes or item.code in groups:
            add(f"{where}.code", f"duplicate code {item.code!r}")
        codes.add(item.code)
        if item.group not in groups:
            add(f"{where}.group", f"unknown group {item.group!r}")
        if item.source not in source_ids:
            add(f"{where}.source", f"unknown source {item.source!r}")
        for field, reason in _item_problems(item):
            add(f"{where}.{field}", reason)
    top = {g.code for g in table.groups if not g.parent}
    for key in ("qualification_groups", "ranking_groups"):
        for code in getattr(table, key):
            if code not in top:
                add(key, f"{code!r} is not a top-level group")
    for key in table.tie_break:
        problem = _fact_problem(key, ("int", "decimal"))
        if problem:
            add("tie_break", problem)
    if table.illustrative and not any("示例" in note for note in table.applicant_notes):
        add(
            "applicant_notes",
            "an illustrative table must say so in its applicant notes (示例，非官方分值)",
        )
    used = set(table.facts_used())
    for name in table.fact_help:
        if name not in used:
            add(f"fact_help.{name}", "not a fact this table asks")
    gap_codes: set[str] = set()
    for gap in table.gaps:
        where = f"gaps(code={gap.code})"
        if gap.code in gap_codes:
            add(f"{where}.code", f"duplicate gap {gap.code!r}")
        gap_codes.add(gap.code)
        for name in gap.facts:
            if name not in FACT_SPECS:
                add(f"{where}.facts", f"unknown fact {name!r}")
    for path, reason in _citation_problems(table):
        add(path, reason)
    return problems


def check_all(directory: Path | None = None) -> tuple[dict[str, Table], list[TableProblem]]:
    """Every table and every problem, without stopping at the first bad file."""
    directory = directory or TABLES_DIR
    problems: list[TableProblem] = []
    files: dict[str, tuple[Path, TableFile]] = {}
    for path in sorted(directory.glob("*.toml")):
        if path.name.endswith(CASES_SUFFIX) or path.name in NOT_TABLES:
            continue
        try:
            file = read_table_file(path)
        except TableError as exc:
            problems.extend(exc.problems)
            continue
        if path.stem != file.id:
            problems.append(TableProblem(path.name, "id", f"id {file.id!r} differs from file name"))
            continue
        files[file.id] = (path, file)
    tables: dict[str, Table] = {}
    for table_id in files:
        try:
            tables[table_id] = _resolve(table_id, files, ())
        except TableError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    return tables, problems


@functools.cache
def _load(directory: str) -> dict[str, Table]:
    tables, problems = check_all(Path(directory))
    if problems:
        raise TableError(problems)
    return tables


def load_tables(directory: Path | None = None) -> dict[str, Table]:
    """All tables by id, checked; cached per directory (tables are data shipped with the code)."""
    return _load(str(directory or TABLES_DIR))


def get_table(table_id: str, directory: Path | None = None) -> Table:
    tables = load_tables(directory)
    if table_id not in tables:
        raise UnknownTable(table_id)
    return tables[table_id]


def decimal_str(value: Decimal) -> str:
    """Points as people write them: 60, 2.1, 7.5 (no trailing zeros, no exponent)."""
    text = format(value.quantize(Decimal("0.01")), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
