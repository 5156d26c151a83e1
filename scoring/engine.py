"""Score one applicant's facts against a table, exactly, and say how every point came about.

Arithmetic is in integer hundredths of a point ("cents"): 0.3 points x 7 months is 210 cents,
2.1 points, never 2.0999. Quantities are integers too: money in fen, shares in 1/10000, hours in
1/100 hour. A table is compiled once into a list of rules; scoring walks that list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from scoring.facts import FACT_SPECS, Facts, add_years, completed_years, months_between
from scoring.model import (
    Age,
    Count,
    Deduction,
    Gap,
    Group,
    ItemBase,
    Ladder,
    Once,
    ProRata,
    Rate,
    Requirement,
    Table,
    Veto,
    item_facts,
)
from scoring.tables import decimal_str

# How the notes say that a basic condition or a gate failed (docs/api.md): the applicant's
# status page reads them back to say which condition barred an application.
CONDITION_FAILED = "基本条件不符合："
GATE_FAILED = "基本要求"
NOT_SCORED = "，其余指标不予计分"


def cents(points: Decimal) -> int:
    return int(points * 100)


def fixed_str(value: int, scale: int) -> str:
    """An integer count of 1/scale as people write it: (210, 100) -> '2.1'."""
    if value % scale == 0:
        return str(value // scale)
    whole, part = divmod(abs(value), scale)
    sign = "-" if value < 0 else ""
    if not part:
        return f"{sign}{whole}"
    digits = len(str(scale)) - 1
    return f"{sign}{whole}.{part:0{digits}d}".rstrip("0")


def pts(value: int) -> str:
    """Cents as points in words: 210 -> '2.1'."""
    return fixed_str(value, 100)


def scaled_str(name: str, value: int) -> str:
    return fixed_str(value, FACT_SPECS[name].scale)


def started_years(born: dt.date, on: dt.date) -> int:
    """Years of age with a year begun counted whole: 40 years and a day is 41."""
    years = completed_years(born, on)
    return years if add_years(born, years) == on else years + 1


def whole_units(span: int, unit: int, rounding: str) -> int:
    """Units in a span: completed ones only, or (rounding "started") every unit begun."""
    return span // unit if rounding == "completed" else -(-span // unit)


class ItemScore(NamedTuple):
    """One line of the breakdown (a tuple: scoring makes many of these, fast)."""

    code: str
    label: str
    cents: int
    # The explanation, or a function that writes it: words are only written when read.
    why: str | Callable[[], str]
    group: str = ""
    source: str = ""
    confidence: str = ""

    @property
    def rule(self) -> str:
        return self.why if isinstance(self.why, str) else self.why()

    @property
    def points(self) -> Decimal:
        return Decimal(self.cents).scaleb(-2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "points": cents_number(self.cents),
            "rule": self.rule,
        }


class VetoHit(NamedTuple):
    code: str
    label: str
    message: str
    ban_until: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "message": self.message,
            "ban_until": self.ban_until.isoformat() if self.ban_until else None,
        }


@dataclass(slots=True)
class ScoreResult:
    table_id: str
    total: Decimal
    qualification_score: Decimal
    ranking_score: Decimal
    threshold: Decimal
    eligible: bool
    items: list[ItemScore]
    vetoes: list[VetoHit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reference_date: dt.date | None = None
    # A basic requirement or a gate item failed: nothing else was scored.
    gated: bool = False
    # What the table does not encode and could matter for these facts.
    gaps: list[Gap] = field(default_factory=list)

    @property
    def conditions_unchecked(self) -> list[str]:
        return [gap.label for gap in self.gaps if gap.kind == "condition"]

    @property
    def points_incomplete(self) -> bool:
        return any(gap.kind == "points" for gap in self.gaps)

    def to_dict(self) -> dict[str, Any]:
        """The `jifen score` JSON (docs/scoring.md): fixed keys, then the documented additions."""
        return {
            "table": self.table_id,
            "total": json_number(self.total),
            "qualification_score": json_number(self.qualification_score),
            "ranking_score": json_number(self.ranking_score),
            "threshold": json_number(self.threshold),
            "eligible": self.eligible,
            "items": [item.to_dict() for item in self.items],
            "vetoes": [veto.to_dict() for veto in self.vetoes],
            "notes": list(self.notes),
            "reference_date": self.reference_date.isoformat() if self.reference_date else None,
            "points_incomplete": self.points_incomplete,
            "conditions_unchecked": self.conditions_unchecked,
            "gaps": [{"code": g.code, "kind": g.kind, "label": g.label} for g in self.gaps],
        }


def cents_number(value: int) -> int | float:
    return value // 100 if value % 100 == 0 else value / 100


HUNDREDTH = Decimal("0.01")


def json_number(value: Decimal) -> int | float:
    value = value.quantize(HUNDREDTH)
    return int(value) if value == value.to_integral_value() else float(value)


# A compiled rule: facts -> (cents, words or a function writing them). Requirements and vetoes
# are compiled apart.
Scorer = Callable[[Facts, dt.date], tuple[int, "str | Callable[[], str]"]]


def _cap_words(cap: int | None, raw: int) -> str:
    if cap is None:
        return ""
    if raw > cap:
        return f"，超过上限 {pts(cap)} 分，按 {pts(cap)} 分计"
    return f"（上限 {pts(cap)} 分）"


def _ladder(item: Ladder) -> Scorer:
    ladders = []
    for name, levels in item.ladders.items():
        spec = FACT_SPECS[name]
        order = spec.levels
        # "at least" semantics: a level scores the points of the highest listed level at or below it
        best: dict[str, tuple[int, str]] = {}
        current: tuple[int, str] | None = None
        for level in order:
            if level in levels:
                current = (cents(levels[level].points), level)
            if current is not None:
                best[level] = current
        ladders.append((name, spec, best))
    # A combined rung holds when every fact is at least at its level.
    combos = [
        (
            cents(combo.points),
            [
                (name, frozenset(FACT_SPECS[name].levels[FACT_SPECS[name].levels.index(lv) :]))
                for name, lv in combo.levels.items()
            ],
            "且".join(
                f"{FACT_SPECS[name].label}达到「{FACT_SPECS[name].choice_label(lv)}」"
                for name, lv in combo.levels.items()
            ),
        )
        for combo in item.combos
    ]
    several = len(ladders) + len(combos) > 1

    def words(levels: list[str], held: list[str], top: int) -> str:
        parts = []
        for (_, spec, best), level in zip(ladders, levels, strict=True):
            hit = best.get(level)
            if hit is None:
                parts.append(f"{spec.label}：{spec.choice_label(level)}，不计分")
                continue
            points, counted = hit
            as_level = "" if counted == level else f"，按「{spec.choice_label(counted)}」"
            parts.append(f"{spec.label}：{spec.choice_label(level)}{as_level}计 {pts(points)} 分")
        parts.extend(held)
        text = "；".join(parts)
        if several:
            text += f"；只计最高一项，得 {pts(top)} 分"
        return text

    def score(facts: Facts, on: dt.date):
        top, levels = 0, []
        for name, _, best in ladders:
            level = getattr(facts, name)
            levels.append(level)
            hit = best.get(level)
            if hit is not None and hit[0] > top:
                top = hit[0]
        held = []
        for points, conditions, said in combos:
            if all(getattr(facts, name) in enough for name, enough in conditions):
                held.append(f"{said}，同时具备计 {pts(points)} 分")
                top = max(top, points)
        return top, lambda: words(levels, held, top)

    return score


def rate_schedule_words(item: Rate) -> str:
    """A rate's tiers in words: 每满 6 个月计 10 分; 50 小时以内每满 50 小时计 4 分；超过 …"""
    name = item.facts[0]
    spec = FACT_SPECS[name]
    out = []
    for tier in item.schedule():
        start, unit = int(tier.start * spec.scale), int(tier.unit * spec.scale)
        end = None if tier.end is None else int(tier.end * spec.scale)
        points = cents(tier.points)
        amount = f"{scaled_str(name, unit)} {spec.unit}"
        if item.rounding == "completed":
            step = f"每满 {amount}计 {pts(points)} 分"
        else:
            step = f"每 {amount}计 {pts(points)} 分（不满 {amount}按 {amount}计）"
        if start == 0 and end is None:
            out.append(step)
        elif start == 0:
            out.append(f"{scaled_str(name, end)} {spec.unit}以内{step}")
        elif end is None:
            out.append(f"超过 {scaled_str(name, start)} {spec.unit}的部分{step}")
        else:
            out.append(
                f"{scaled_str(name, start)} 至 {scaled_str(name, end)} {spec.unit}的部分{step}"
            )
    return "；".join(out)


def once_condition(item: Once) -> str:
    """What a one-time item needs, in words: 本市自有住房产权份额大于零; 无「受过刑事处罚」情形."""
    spec = FACT_SPECS[item.fact]
    if item.absent:
        return f"无「{spec.label}」情形"
    condition = spec.label
    if spec.kind == "enum":
        condition += "为" + "或".join(spec.choice_label(lv) for lv in item.levels)
    elif spec.kind in ("int", "decimal"):
        threshold = item.minimum
        condition += f"达到 {decimal_str(threshold)} {spec.unit}" if threshold else "大于零"
    return condition


def _rate(item: Rate) -> Scorer:
    names = item.facts
    scale = FACT_SPECS[names[0]].scale
    unit_word = FACT_SPECS[names[0]].unit
    tiers = [
        (
            int(t.start * scale),
            None if t.end is None else int(t.end * scale),
            int(t.unit * scale),
            cents(t.points),
        )
        for t in item.schedule()
    ]
    cap = None if item.cap is None else cents(item.cap)
    share, times = item.share, item.times
    label = "、".join(FACT_SPECS[n].label for n in names)
    unit_label = item.unit_label
    rounding, counted_from = item.rounding, item.counted_from

    schedule_words = rate_schedule_words(item)

    scales = [(name, FACT_SPECS[name].scale) for name in names]
    share_label = FACT_SPECS[share].label if share else ""
    times_label = FACT_SPECS[times].label if times else ""

    if unit_label:
        per_unit = f" 个{unit_label}"
    elif len(tiers) == 1:
        per_unit = f" 个 {scaled_str(names[0], tiers[0][2])} {unit_word}".rstrip()
    else:
        per_unit = " 个计分单位"
    space_unit = f" {unit_word}" if unit_word else ""

    def words(
        given: int, part: int, quantity: int, units: int, multiplier: int, raw: int, on: dt.date
    ) -> str:
        text = f"{label} {fixed_str(given, scale)}{space_unit}"
        if counted_from is not None and quantity < given:
            text += (
                f"，自 {counted_from.isoformat()} 起计至 {on.isoformat()} 最多 "
                f"{fixed_str(quantity, scale)}{space_unit}，按 {fixed_str(quantity, scale)}"
                f"{space_unit}计"
            )
        if share:
            text += (
                f"，按{share_label} {fixed_str(part, 10000)} 折算为 "
                f"{fixed_str(quantity, scale)}{space_unit}"
            )
        counted = f"共 {units}{per_unit}"
        if times:
            counted += f"，乘以{times_label} {multiplier}"
        return f"{text}，{schedule_words}，{counted}，得 {pts(raw)} 分{_cap_words(cap, raw)}"

    def score(facts: Facts, on: dt.date):
        given = 0
        for name, fact_scale in scales:
            value = getattr(facts, name)
            given += value if fact_scale == 1 else int(value * fact_scale)
        quantity, part = given, 0
        if counted_from is not None:
            quantity = min(quantity, max(0, months_between(counted_from, on)))
        if share:
            part = int(getattr(facts, share) * 10000)
            quantity = quantity * part // 10000
        raw = units_total = 0
        for start, end, unit, points in tiers:
            span = (quantity if end is None else min(quantity, end)) - start
            if span > 0:
                units = whole_units(span, unit, rounding)
                units_total += units
                raw += units * points
        multiplier = getattr(facts, times) if times else 1
        raw *= multiplier
        got = raw if cap is None or raw <= cap else cap
        return got, lambda: words(given, part, quantity, units_total, multiplier, raw, on)

    return score


def _count(item: Count) -> Scorer:
    spec = FACT_SPECS[item.fact]
    each = cents(item.points)
    cap = None if item.cap is None else cents(item.cap)

    def score(facts: Facts, on: dt.date) -> tuple[int, str]:
        n = getattr(facts, item.fact)
        raw = n * each
        got = raw if cap is None else min(raw, cap)
        words = f"{spec.label} {n} {spec.unit}，每{spec.unit}计 {pts(each)} 分，得 {pts(raw)} 分"
        return got, words + _cap_words(cap, raw)

    return score


def _holds(spec_name: str, facts: Facts, minimum: Decimal | None, levels: list[str]) -> bool:
    spec = FACT_SPECS[spec_name]
    value = getattr(facts, spec_name)
    if spec.kind == "bool":
        return bool(value)
    if spec.kind == "enum":
        return value in levels
    if spec.kind == "date":
        return value is not None
    return value >= minimum if minimum is not None else value > 0


def _once(item: Once) -> Scorer:
    points = cents(item.points)
    condition = once_condition(item)
    yes, no = f"{condition}，计 {pts(points)} 分", f"不符合「{condition}」，不计分"

    def score(facts: Facts, on: dt.date):
        if _holds(item.fact, facts, item.minimum, item.levels) != item.absent:
            return points, yes
        return 0, no

    return score


def _pro_rata(item: ProRata) -> Scorer:
    spec = FACT_SPECS[item.fact]
    full = cents(item.points)

    def score(facts: Facts, on: dt.date):
        share = int(getattr(facts, item.fact) * 10000)
        got = (full * share + 5000) // 10000  # half up to the hundredth of a point
        if share == 0:
            return 0, f"{spec.label}为 0，不计分"
        return (
            got,
            lambda: (
                f"{spec.label} {fixed_str(share, 10000)}，{pts(full)} 分 × "
                f"{fixed_str(share, 10000)} = {pts(got)} 分"
            ),
        )

    return score


def _age(item: Age) -> Scorer:
    bands = [(b.min, b.max, cents(b.points)) for b in item.bands]
    started = item.rounding == "started"

    def score(facts: Facts, on: dt.date) -> tuple[int, str]:
        if facts.birth_date is None:
            return 0, "未填写出生日期，年龄不计分"
        completed = completed_years(facts.birth_date, on)
        age = started_years(facts.birth_date, on) if started else completed
        said = f"年龄 {completed} 周岁"
        if age != completed:
            said += f"又不满 1 岁，不满 1 岁的部分按 1 岁计，计为 {age} 岁"
        unit = "岁" if started else "周岁"
        for low, high, points in bands:
            if low <= age <= high:
                span = f"{low} {unit}" if low == high else f"{low}–{high} {unit}"
                return points, f"{said}，{span}计 {pts(points)} 分"
        return 0, f"{said}，不在计分年龄段内，不计分"

    return score


def _deduction(item: Deduction) -> Scorer:
    spec = FACT_SPECS[item.fact]
    points = cents(item.points)

    yes, no = f"{spec.label}，扣 {pts(points)} 分", f"无「{spec.label}」情形，不扣分"

    def score(facts: Facts, on: dt.date):
        if getattr(facts, item.fact):
            return -points, yes
        return 0, no

    return score


# How many distinct inputs each item remembers before it starts again (a few hundred at most for
# a count of months; one per birth date for an age).
REMEMBERED = 20_000


def _remembering(scorer: Scorer, reads: list[str]) -> Scorer:
    """The same scorer, remembering its points and words for the values of the facts the item
    reads (`item_facts`, which the forms ask from) on the reference date. An import of 100,000
    rows meets a few hundred distinct values per item; scoring and writing the words of each
    once is an eighth less work per row checked (counted in instructions, a warm import row:
    701,000 -> 615,000)."""
    names = tuple(reads)
    known: dict[tuple, tuple[int, str]] = {}

    def score(facts: Facts, on: dt.date) -> tuple[int, str]:
        key = (on, *[getattr(facts, name) for name in names])
        hit = known.get(key)
        if hit is None:
            got, words = scorer(facts, on)
            hit = (got, words if isinstance(words, str) else words())
            if len(known) >= REMEMBERED:
                known.clear()
            known[key] = hit
        return hit

    return score


SCORERS: dict[type, Callable[[Any], Scorer]] = {
    Ladder: _ladder,
    Rate: _rate,
    Count: _count,
    Once: _once,
    ProRata: _pro_rata,
    Age: _age,
    Deduction: _deduction,
}


def check_veto(item: Veto, facts: Facts, on: dt.date) -> tuple[VetoHit | None, str | None]:
    """A hit while the veto holds; a note when a ban has run out."""
    spec = FACT_SPECS[item.fact]
    value = getattr(facts, item.fact)
    if spec.kind == "bool":
        if value:
            return VetoHit(item.code, item.label, f"{spec.label}，不得申请（一票否决）"), None
        return None, None
    if value is None:
        return None, None
    ends = add_years(value, item.ban_years or 0)
    if on < ends:
        message = (
            f"{spec.label} {value.isoformat()}，{item.ban_years} 年内不得申请，"
            f"{ends.isoformat()} 起可以申请"
        )
        return VetoHit(item.code, item.label, message, ends), None
    return None, f"{item.label}的 {item.ban_years} 年限制期已于 {ends.isoformat()} 届满"


def check_requirement(item: Requirement, facts: Facts, on: dt.date) -> str | None:
    """None when the condition holds, else why not (in Chinese)."""
    spec = FACT_SPECS[item.fact]
    value = getattr(facts, item.fact)
    if item.fact == "birth_date":
        if value is None:
            return "未填写出生日期"
        value = completed_years(value, on)
    if (
        not (item.absent and value is not None and spec.kind == "date")
        and (item.equals is None or bool(value) == item.equals)
        and (not item.levels or value in item.levels)
        and (item.minimum is None or value >= item.minimum)
        and (item.maximum is None or value <= item.maximum)
    ):
        return None
    if item.fact == "birth_date":
        shown, unit = str(value), "周岁"
    elif spec.kind == "date":
        shown, unit = (value.isoformat() if value else "无"), ""
    elif spec.kind == "enum":  # (said as a choice: "孩子申请入读的年级为「初中二年级」")
        shown, unit = f"为「{spec.choice_label(value)}」", ""
    elif spec.kind == "bool":
        shown, unit = ("为「是」" if value else "为「否」"), ""
    else:
        shown, unit = decimal_str(Decimal(value)), spec.unit
    reasons = []
    if item.absent and value is not None and spec.kind == "date":
        reasons.append("须无此情形")
    if item.equals is not None and bool(value) != item.equals:
        reasons.append("须为「是」" if item.equals else "须为「否」")
    if item.levels and value not in item.levels:
        reasons.append("须为" + "或".join(spec.choice_label(lv) for lv in item.levels))
    if item.minimum is not None and value < item.minimum:
        reasons.append(f"须至少 {decimal_str(item.minimum)} {unit}".rstrip())
    if item.maximum is not None and value > item.maximum:
        reasons.append(f"须不超过 {decimal_str(item.maximum)} {unit}".rstrip())
    if not reasons:
        return None
    said = (
        f"{spec.label}{shown}" if spec.kind in ("enum", "bool") else f"{spec.label} {shown} {unit}"
    )
    return f"{item.label}：{said.rstrip()}，" + "，".join(reasons)


@dataclass
class CompiledTable:
    table: Table
    scorers: list[tuple[ItemBase, Scorer]]
    vetoes: list[Veto]
    requirements: list[Requirement]
    groups: dict[str, Group]
    order: list[Group]  # children before parents
    children: dict[str, list[str]]
    gate_groups: set[str]
    threshold: int
    max_total: int | None
    confidence: dict[str, str]
    # Per item: (scorer, code, label, group, source, confidence, in a gate group)
    plan: list[tuple[Scorer, str, str, str, str, str, bool]]
    gate_items: set[str]
    rollup_members: dict[str, list[str]]
    # Per group, children first: (group, member codes, cap in cents or None)
    rollup: list[tuple[Group, list[str], int | None]]
    top: list[str]
    # Per gap: the facts that make it matter (empty: it always does)
    gaps: list[tuple[Gap, tuple[tuple[str, Any], ...]]]
    # The notes for each set of gaps met so far, by their places in `gaps` (a table has a
    # handful of gaps, so a few sets; the words are written once each)
    gap_words: dict[tuple[int, ...], list[str]] = field(default_factory=dict)


def compile_table(table: Table) -> CompiledTable:
    cached = _COMPILED.get(id(table))
    if cached is not None and cached.table is table:
        return cached
    groups = {g.code: g for g in table.groups}
    children: dict[str, list[str]] = {code: [] for code in groups}
    for g in table.groups:
        if g.parent:
            children[g.parent].append(g.code)

    order: list[Group] = []

    def visit(code: str) -> None:
        for child in children[code]:
            visit(child)
        order.append(groups[code])

    for g in table.groups:
        if not g.parent:
            visit(g.code)
    gate_groups = {g.code for g in table.groups if g.gate}
    confidence = {i.code: table.confidence(i) for i in table.items}
    scorers = [
        (i, _remembering(SCORERS[type(i)](i), item_facts(i)))
        for i in table.items
        if type(i) in SCORERS
    ]
    members: dict[str, list[str]] = {code: list(children[code]) for code in groups}
    for item, _ in scorers:
        members[item.group].append(item.code)
    compiled = CompiledTable(
        table=table,
        scorers=scorers,
        vetoes=[i for i in table.items if isinstance(i, Veto)],
        requirements=[i for i in table.items if isinstance(i, Requirement)],
        groups=groups,
        order=order,
        children=children,
        gate_groups=gate_groups,
        threshold=cents(table.threshold),
        max_total=None if table.max_total is None else cents(table.max_total),
        confidence=confidence,
        plan=[
            (scorer, i.code, i.label, i.group, i.source, confidence[i.code], i.group in gate_groups)
            for i, scorer in scorers
        ],
        rollup=[(g, members[g.code], None if g.cap is None else cents(g.cap)) for g in order],
        top=[g.code for g in order if not g.parent],
        gate_items={i.code for i, _ in scorers if i.group in gate_groups},
        rollup_members=members,
        gaps=[
            (gap, tuple((name, FACT_SPECS[name].default()) for name in gap.facts))
            for gap in table.gaps
        ],
    )
    _COMPILED[id(table)] = compiled
    return compiled


_COMPILED: dict[int, CompiledTable] = {}


def score(table: Table, facts: Facts, *, on: dt.date | None = None) -> ScoreResult:
    """Score `facts` against `table` on the reference date (default: the facts' own, else today)."""
    on = on or facts.reference_date or dt.date.today()
    c = compile_table(table)
    notes: list[str] = []
    vetoes: list[VetoHit] = []
    for item in c.vetoes:
        hit, note = check_veto(item, facts, on)
        if hit:
            vetoes.append(hit)
        if note:
            notes.append(note)
    failed = [m for m in (check_requirement(r, facts, on) for r in c.requirements) if m]

    lines: list[ItemScore] = []
    points: dict[str, int] = {}
    gate_failed = False
    if failed:
        notes.extend(f"{CONDITION_FAILED}{m}{NOT_SCORED}" for m in failed)
    else:
        for scorer, code, label, group, source, mark, gate in c.plan:
            got, words = scorer(facts, on)
            if gate and got <= 0:
                gate_failed = True
                said = words if isinstance(words, str) else words()
                notes.append(f"{GATE_FAILED}「{label}」未得分（{said}）{NOT_SCORED}")
            lines.append(ItemScore(code, label, got, words, group, source, mark))
            points[code] = got
        if gate_failed:
            lines = [
                line
                if line.code in c.gate_items
                else ItemScore(
                    line.code,
                    line.label,
                    0,
                    "基本要求未全部满足，本项不予计分",
                    line.group,
                    line.source,
                    line.confidence,
                )
                for line in lines
            ]
            points = {line.code: line.cents for line in lines}
        lines = _aggregate(c, lines, points)
    group_total = {code: points.get(code, 0) for code in c.top}
    total = sum(group_total.values())
    if c.max_total is not None and total > c.max_total:
        lines.append(
            ItemScore(
                "max_total",
                "总分封顶",
                c.max_total - total,
                f"各项合计 {pts(total)} 分，总分上限 {pts(c.max_total)} 分",
            )
        )
        total = c.max_total
    qualification = (
        sum(group_total[g] for g in table.qualification_groups)
        if table.qualification_groups
        else total
    )
    ranking = sum(group_total[g] for g in table.ranking_groups) if table.ranking_groups else total
    if c.max_total is not None:  # the overall cap binds every score, not only the total
        qualification, ranking = min(qualification, c.max_total), min(ranking, c.max_total)
    eligible = not vetoes and not failed and not gate_failed and qualification >= c.threshold
    matter = tuple(
        i
        for i, (_, facts_that_matter) in enumerate(c.gaps)
        if not facts_that_matter
        or any(getattr(facts, name) != none for name, none in facts_that_matter)
    )
    gaps = [c.gaps[i][0] for i in matter]
    words = c.gap_words.get(matter)
    if words is None:
        words = c.gap_words[matter] = gap_notes(gaps)
    notes.extend(words)
    outside = validity_note(table, on)
    if outside:
        notes.insert(0, outside)
    if table.illustrative:
        notes.insert(0, "示例，非官方分值：本表为示意，分值不代表任何城市的正式政策。")
    return ScoreResult(
        table_id=table.id,
        total=Decimal(total).scaleb(-2),
        qualification_score=Decimal(qualification).scaleb(-2),
        ranking_score=Decimal(ranking).scaleb(-2),
        threshold=table.threshold,
        eligible=eligible,
        items=lines,
        vetoes=vetoes,
        notes=notes,
        reference_date=on,
        gated=bool(failed) or gate_failed,
        gaps=gaps,
    )


def gap_notes(gaps: list[Gap]) -> list[str]:
    """What an applicant reads about the gaps: one sentence for points, one for conditions."""
    notes = []
    points = [g for g in gaps if g.kind == "points"]
    conditions = [g.label for g in gaps if g.kind == "condition"]
    if points:
        directions = {g.direction for g in points}
        outcome = {
            frozenset({"higher"}): "实际积分可能更高",
            frozenset({"lower"}): "实际积分可能更低",
        }.get(frozenset(directions), "实际积分可能与本测算不同")
        notes.append(f"本测算未计入：{'；'.join(g.label for g in points)}。{outcome}。")
    if conditions:
        notes.append(
            f"本测算未核对以下申请条件：{'；'.join(conditions)}。是否符合，以受理部门审核为准。"
        )
    return notes


def validity_note(table: Table, on: dt.date) -> str:
    """A warning when the reference date lies outside the programme's validity."""
    if table.effective_from <= on and (table.effective_to is None or on <= table.effective_to):
        return ""
    period = f"{table.effective_from.isoformat()} 起"
    if table.effective_to is not None:
        period = f"{table.effective_from.isoformat()} 至 {table.effective_to.isoformat()}"
    return f"参照日 {on.isoformat()} 不在本政策有效期（{period}）内，结果仅供参考。"


def _aggregate(c: CompiledTable, lines: list[ItemScore], points: dict[str, int]) -> list[ItemScore]:
    """Sum items into groups, children first (group sums go into `points` too): keep only the
    best member where a group says `pick = "max"`, and add a cap line where a sum passes a cap."""
    by_code: dict[str, ItemScore] | None = None
    extra: list[ItemScore] = []

    def zero(code: str, best_label: str) -> None:
        if code in by_code:
            line = by_code[code]
            if line.cents:
                by_code[code] = ItemScore(
                    line.code,
                    line.label,
                    0,
                    f"{line.rule}；与「{best_label}」不累计，取较高者，本项不计",
                    line.group,
                    line.source,
                    line.confidence,
                )
        else:
            for member in c.rollup_members[code]:
                zero(member, best_label)
        points[code] = 0

    for group, codes, cap in c.rollup:
        if group.pick == "max" and codes:
            if by_code is None:
                by_code = {line.code: line for line in lines}
            best = max(codes, key=lambda m: (points.get(m, 0), -codes.index(m)))
            best_label = by_code[best].label if best in by_code else c.groups[best].label
            for m in codes:
                if m != best and points.get(m, 0):
                    zero(m, best_label)
        raw = 0
        for m in codes:
            raw += points.get(m, 0)
        if cap is not None and raw > cap:
            extra.append(
                ItemScore(
                    f"{group.code}_cap",
                    f"{group.label}封顶",
                    cap - raw,
                    f"「{group.label}」各项合计 {pts(raw)} 分，"
                    f"上限 {pts(cap)} 分，按 {pts(cap)} 分计",
                    group.code,
                )
            )
            raw = cap
        points[group.code] = raw
    if by_code is not None:
        lines = [by_code[line.code] for line in lines]
    return lines + extra
