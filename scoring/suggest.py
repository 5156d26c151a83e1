"""What would raise an applicant's points: the smallest realistic changes, ordered by effort.

Only facts a person can change by their own effort where they live are considered (months of
insurance or residence in this city, volunteering, blood donation, the next education, skill or
title level). Money (tax, charity, buying a home), history (age, records) and insurance paid in
another city or province are never suggested, and no suggestion is shown that another one beats
(as much gain or more for as little effort or less). Effort is a rough
number of months (docs/suggestions.md gives the figures): it orders suggestions, it is not
shown as a promise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from scoring.engine import score
from scoring.facts import FACT_SPECS, Facts
from scoring.model import Table
from scoring.tables import decimal_str

# How a change of each fact is said: "再{action} N {unit}".
ACTIONS: dict[str, str] = {
    "insured_months_city": "在本市缴纳社保",
    "medical_insured_months_city": "在本市参加医疗保险",
    "residence_permit_months": "连续持有居住证",
    "home_owned_months": "持有本市自有住房",
    "rented_months": "在本市租房或住单位宿舍",
    "housing_fund_months": "缴存住房公积金",
    "city_work_months": "在本市工作居住",
    "priority_occupation_months": "从事紧缺岗位",
    "blood_donations": "献血",
    "blood_donation_ml": "献血",
    "volunteer_hours": "参加志愿服务",
}
# Longer changes than this are not realistic advice for an application this year or next.
MAX_EFFORT_MONTHS = Decimal(120)


@dataclass(frozen=True, slots=True)
class Suggestion:
    fact: str
    label: str
    current: object
    proposed: object
    gain: Decimal
    reaches_target: bool
    text: str
    effort_months: Decimal

    def to_dict(self) -> dict[str, object]:
        spec = FACT_SPECS.get(self.fact)

        def plain(v: object) -> object:
            if isinstance(v, Decimal):
                return int(v) if v == v.to_integral_value() else float(v)
            return v

        return {
            "fact": self.fact,
            "label": self.label,
            "current": plain(self.current),
            "proposed": plain(self.proposed),
            "unit": spec.unit if spec else "",
            "gain": plain(self.gain.quantize(Decimal("0.01"))),
            "reaches_target": self.reaches_target,
            "text": self.text,
            "effort_months": plain(self.effort_months),
        }


def _points(table: Table, facts: Facts, on: dt.date) -> Decimal:
    return score(table, facts, on=on).qualification_score


def _smallest(lo: int, hi: int, ok) -> int | None:
    """The smallest k in [lo, hi] with ok(k), for a monotone ok; None if there is none."""
    if not ok(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _numeric(table: Table, facts: Facts, name: str, base: Decimal, target: Decimal, on: dt.date):
    spec = FACT_SPECS[name]
    current = Decimal(getattr(facts, name))
    limit = Decimal(spec.maximum) - current
    by_effort = MAX_EFFORT_MONTHS / spec.effort_months_per_unit
    room = int(min(limit, by_effort))
    if room <= 0:
        return []

    def value(k: int):
        new = current + k
        return int(new) if spec.kind == "int" else new

    def gain(k: int) -> Decimal:
        return _points(table, facts.replace(**{name: value(k)}), on) - base

    out = []
    first = _smallest(1, room, lambda k: gain(k) > 0)
    if first is not None:
        out.append((first, gain(first)))
    if base < target:
        reach = _smallest(1, room, lambda k: base + gain(k) >= target)
        if reach is not None and reach != first:
            out.append((reach, gain(reach)))
    return [
        _make(
            spec.name,
            current,
            value(k),
            g,
            base < target <= base + g,
            k * spec.effort_months_per_unit,
            f"再{ACTIONS[name]} {decimal_str(Decimal(k))} {spec.unit}".rstrip(),
        )
        for k, g in out
    ]


def _ladder(table: Table, facts: Facts, name: str, base: Decimal, target: Decimal, on: dt.date):
    spec = FACT_SPECS[name]
    levels = spec.levels
    current = getattr(facts, name)
    out = []
    for steps, level in enumerate(levels[levels.index(current) + 1 :], start=1):
        gained = _points(table, facts.replace(**{name: level}), on) - base
        if gained <= 0:
            continue
        effort = steps * spec.effort_months_per_unit
        out.append(
            _make(
                name,
                current,
                level,
                gained,
                base < target <= base + gained,
                effort,
                f"取得「{spec.choice_label(level)}」{spec.label.removeprefix('最高')}"
                f"（通常需要约 {decimal_str(effort)} 个月）",
            )
        )
        if base < target <= base + gained:
            break
        if len(out) >= 2:
            break
    return out


def _make(name, current, proposed, gain, reaches, effort, action) -> Suggestion:
    spec = FACT_SPECS[name]
    return Suggestion(
        fact=name,
        label=spec.label,
        current=current,
        proposed=proposed,
        gain=gain,
        reaches_target=reaches,
        text=f"{action}可加 {decimal_str(gain)} 分" + ("，达到目标分数" if reaches else ""),
        effort_months=Decimal(effort),
    )


def suggest(
    table: Table,
    facts: Facts,
    *,
    target: Decimal | None = None,
    on: dt.date | None = None,
    limit: int = 5,
) -> list[Suggestion]:
    """Single-fact changes that raise the qualification score, those reaching `target` (default:
    the table's threshold) first, each group by effort; at most `limit` of them."""
    on = on or facts.reference_date or dt.date.today()
    target = table.threshold if target is None else Decimal(target)
    base = _points(table, facts, on)
    found: list[Suggestion] = []
    for name in table.facts_used():
        spec = FACT_SPECS.get(name)
        if spec is None or not spec.improvable:
            continue
        if spec.kind == "enum":
            found.extend(_ladder(table, facts, name, base, target, on))
        elif name in ACTIONS:
            found.extend(_numeric(table, facts, name, base, target, on))
    found = [s for s in found if not any(_beats(t, s) for t in found)]
    found.sort(key=lambda s: (not s.reaches_target, s.effort_months, -s.gain, s.fact))
    return found[:limit]


def _beats(one: Suggestion, other: Suggestion) -> bool:
    """`one` gains at least as much for no more effort, and is better in one of the two."""
    return (
        one.gain >= other.gain
        and one.effort_months <= other.effort_months
        and (one.gain > other.gain or one.effort_months < other.effort_months)
    )
