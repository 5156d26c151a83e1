"""What the views need from the scoring engine, in one place: table listings, the cross-programme
comparison and the suggestions. Pure functions over scoring's objects; nothing here knows HTTP."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby
from typing import Any

from scoring.engine import ScoreResult, json_number, score
from scoring.facts import FACT_SPECS, Facts, FactSpec, to_json_value
from scoring.model import CONFIDENCE_LABELS, SECONDARY, Table
from scoring.suggest import suggest
from scoring.tables import decimal_str, get_table, load_tables

KIND_LABELS = {"household": "积分入户", "school": "积分入学", "residence": "居住证积分"}
ILLUSTRATIVE_LABEL = "示例，非官方分值"
SECONDARY_LABEL = "部分分值来自二手资料，待核实"


HOME_PROVINCE = "广东"  # the project's own province comes first; other regions are for comparison


def region_key(region: str) -> tuple[bool, str]:
    return (not region.startswith(HOME_PROVINCE), region)


def all_tables() -> list[Table]:
    """Every programme, by region (Guangdong first), newest first within a region."""
    tables = list(load_tables().values())
    tables.sort(key=lambda t: t.id)
    tables.sort(key=lambda t: t.effective_from, reverse=True)
    tables.sort(key=lambda t: region_key(t.region))
    return tables


def by_region() -> list[tuple[str, list[Table]]]:
    return [(region, list(ts)) for region, ts in groupby(all_tables(), key=lambda t: t.region)]


def find_table(table_id: str) -> Table:
    """The table, or UnknownTable (a KeyError)."""
    return get_table(table_id)


def points(value: Decimal) -> str:
    return decimal_str(value)


def effective_words(table: Table) -> str:
    start = table.effective_from.isoformat()
    words = f"{start} 起施行" if table.effective_to is None else f"{start} 至 {table.effective_to}"
    if table.year_uncertain:
        words += "（年份待核实）"
    return words


def verdict(result: ScoreResult) -> str:
    """'veto', 'eligible', 'below' (under the threshold) or 'conditions' (a basic condition or
    gate is not met although the points reach the threshold)."""
    if result.vetoes:
        return "veto"
    if result.eligible:
        return "eligible"
    if result.qualification_score < result.threshold:
        return "below"
    return "conditions"


# ---- the cross-programme comparison -------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    table: Table
    result: ScoreResult
    unasked: list[str]  # labels of facts the applicant gave that this table does not read


def compare(facts: Facts, given: list[str], on: dt.date | None = None) -> list[Comparison]:
    """The same facts under every programme that reads at least one of them."""
    rows: list[Comparison] = []
    for table in all_tables():
        used = set(table.facts_used())
        if given and not used.intersection(given):
            continue
        unasked = [FACT_SPECS[n].label for n in given if n not in used and n in FACT_SPECS]
        rows.append(Comparison(table, score(table, facts, on=on), unasked))
    return rows


def given_facts(facts: Facts) -> list[str]:
    return [n for n in FACT_SPECS if getattr(facts, n) != FACT_SPECS[n].default()]


# ---- suggestions ----------------------------------------------------------------------------


def suggestions(
    table: Table,
    facts: Facts,
    *,
    target: Decimal | None = None,
    on: dt.date | None = None,
    limit: int = 5,
) -> list[Any]:
    return list(suggest(table, facts, target=target, on=on, limit=limit))


def suggestion_dict(s: Any) -> dict[str, Any]:
    spec = FACT_SPECS.get(s.fact)
    return {
        "fact": s.fact,
        "label": s.label,
        "current": _json_fact(spec, s.current),
        "proposed": _json_fact(spec, s.proposed),
        "gain": json_number(Decimal(s.gain)),
        "reaches_target": bool(s.reaches_target),
        "text": s.text,
        "effort_months": None if s.effort_months is None else json_number(Decimal(s.effort_months)),
    }


def _json_fact(spec: FactSpec | None, value: Any) -> Any:
    """A fact value as JSON: numbers as numbers (suggestions may hold Decimals for any kind)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if spec is not None:
        return to_json_value(spec, value)
    return str(value)


# ---- API representations ----------------------------------------------------------------------


def source_dict(table: Table, source: Any) -> dict[str, Any]:
    return {
        "id": source.id,
        "title": source.title,
        "document": source.document,
        "url": source.url,
        "publisher": source.publisher,
        "date": source.date.isoformat() if source.date else None,
        "confidence": source.confidence,
        "confidence_label": CONFIDENCE_LABELS.get(source.confidence, source.confidence),
    }


def fact_dict(spec: FactSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "label": spec.label,
        "help": spec.help,
        "unit": spec.unit,
        "minimum": None if spec.minimum is None else json_number(Decimal(spec.minimum)),
        "maximum": None if spec.maximum is None else json_number(Decimal(spec.maximum)),
        "choices": [{"value": v, "label": label} for v, label in spec.choices],
    }


def table_summary(table: Table) -> dict[str, Any]:
    return {
        "id": table.id,
        "name": table.name,
        "region": table.region,
        "kind": table.kind,
        "kind_label": KIND_LABELS.get(table.kind, table.kind),
        "effective_from": table.effective_from.isoformat(),
        "effective_to": table.effective_to.isoformat() if table.effective_to else None,
        "year_uncertain": table.year_uncertain,
        "illustrative": table.illustrative,
        "has_secondary_values": table.has_secondary_values,
        "threshold": json_number(table.threshold),
    }


def table_detail(table: Table) -> dict[str, Any]:
    groups = [
        {
            "code": g.code,
            "label": g.label,
            "parent": g.parent or None,
            "cap": None if g.cap is None else json_number(g.cap),
            "pick": g.pick,
            "gate": g.gate,
        }
        for g in table.groups
    ]
    indicators = []
    for item in table.items:
        mark = table.confidence(item)
        indicators.append(
            {
                "code": item.code,
                "group": item.group,
                "label": item.label,
                "type": item.type,
                "source": item.source,
                "confidence": mark,
                "confidence_label": CONFIDENCE_LABELS.get(mark, mark),
                "secondary": mark in SECONDARY,
            }
        )
    return {
        **table_summary(table),
        "qualification_groups": list(table.qualification_groups),
        "ranking_groups": list(table.ranking_groups),
        "tie_break": list(table.tie_break),
        "notes": list(table.applicant_notes),
        "gaps": [{"code": g.code, "kind": g.kind, "label": g.label} for g in table.gaps],
        "facts": [fact_dict(FACT_SPECS[n]) for n in table.facts_used() if n in FACT_SPECS],
        "groups": groups,
        "indicators": indicators,
        "sources": [source_dict(table, s) for s in table.sources],
    }
