"""What the views need from the scoring engine, in one place: table listings, the cross-programme
comparison and the suggestions. Pure functions over scoring's objects; nothing here knows HTTP."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.applications.departments import checklist
from app.localtime import beijing_today
from scoring.engine import ScoreResult, check_requirement, json_number, score
from scoring.facts import FACT_SPECS, Facts, FactSpec, to_json_value
from scoring.model import CONFIDENCE_LABELS, SECONDARY, Requirement, Table, item_facts
from scoring.programmes import Standing, chinese_date, standing
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


def standing_of(table: Table, today: dt.date | None = None) -> Standing:
    return standing(table, all_tables(), today or beijing_today())


@dataclass(frozen=True)
class City:
    """A city on the home page: the programmes in force first, the others after."""

    name: str
    current: list[tuple[Table, Standing]]
    others: list[tuple[Table, Standing]]


def by_city(today: dt.date | None = None) -> list[City]:
    """Cities of Guangdong first, each with its current programmes before the older ones."""
    today = today or beijing_today()
    tables = all_tables()
    cities: dict[str, list[Table]] = {}
    for table in tables:
        cities.setdefault(table.city, []).append(table)
    out = []
    for name, members in cities.items():
        ranked = [(t, standing(t, tables, today)) for t in members]
        out.append(
            City(
                name,
                [(t, st) for t, st in ranked if st.in_force],
                [(t, st) for t, st in ranked if not st.in_force],
            )
        )

    def order(city: City) -> tuple[bool, bool, str]:
        outside, region = region_key((city.current or city.others)[0][0].region)
        return (outside, not city.current, region)  # Guangdong first; in force before not

    out.sort(key=order)
    return out


def find_table(table_id: str) -> Table:
    """The table, or UnknownTable (a KeyError)."""
    return get_table(table_id)


def points(value: Decimal) -> str:
    return decimal_str(value)


def effective_words(table: Table) -> str:
    start = chinese_date(table.effective_from)
    if table.effective_to is None:
        words = f"{start}起施行"
    else:
        words = f"{start}至 {chinese_date(table.effective_to)}"
    if table.year_uncertain:
        words += "（年份待核实）"
    return words


# ---- basic conditions and the verdict --------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One basic condition of a programme and where the applicant stands on it."""

    item: Requirement
    state: str  # "met", "failed" or "unanswered"
    message: str = ""  # why it fails, in Chinese

    @property
    def question(self) -> str:
        return FACT_SPECS[self.item.fact].label


def conditions(table: Table) -> list[Requirement]:
    return [item for item in table.items if isinstance(item, Requirement)]


def condition_facts(table: Table) -> list[str]:
    """The facts the basic conditions ask, in order, each once."""
    return list(dict.fromkeys(item.fact for item in conditions(table)))


def check_conditions(
    table: Table, facts: Facts, answered: set[str], on: dt.date
) -> list[Condition]:
    """Each condition met, failed, or unanswered: a yes/no or a choice nobody gave is not
    taken as met even where its default would pass (a number left empty means zero and is an
    answer)."""
    out = []
    for item in conditions(table):
        spec = FACT_SPECS[item.fact]
        asks = (
            spec.kind in ("bool", "enum", "date") and item.fact != "family_planning_violation_date"
        )
        if asks and item.fact not in answered:
            out.append(Condition(item, "unanswered"))
            continue
        if check_requirement(item, facts, on) is None:
            out.append(Condition(item, "met"))
        else:
            out.append(Condition(item, "failed", _plain_failure(item, getattr(facts, item.fact))))
    return out


def _plain_failure(item: Requirement, value: Any) -> str:
    """Why a condition fails, as a person reads it: what they answered and what it needs."""
    spec = FACT_SPECS[item.fact]
    if spec.kind == "bool" and item.equals is not None:
        said, needed = ("是" if value else "否"), ("是" if item.equals else "否")
        return f"{item.label}：您回答「{said}」，须为「{needed}」。"
    if spec.kind == "enum" and item.levels:
        allowed = "或".join(spec.choice_label(level) for level in item.levels)
        return f"{item.label}：您选择「{spec.choice_label(value)}」，只限{allowed}。"
    return check_requirement(item, Facts().replace(**{item.fact: value}), beijing_today()) or ""


@dataclass(frozen=True)
class Verdict:
    """What the result means, in words a person reads before any points."""

    code: str  # "veto", "conditions", "unanswered", "eligible", "below"
    headline: str
    meaning: str  # what reaching the line does and does not give

    @property
    def ok(self) -> bool:
        return self.code == "eligible"


def line_meaning(table: Table) -> str:
    line = points(table.threshold)
    if table.kind == "school":
        return f"达到 {line} 分可以申请，是否录取取决于所在镇街的排名和学校的录取分数。"
    if table.kind == "household":
        return f"达到 {line} 分可以申请，能否入户取决于当年的入户指标和积分排名。"
    return f"达到 {line} 分的标准分值，可以按规定享受相应待遇。"


def verdict(result: ScoreResult, table: Table, checked: list[Condition]) -> Verdict:
    meaning = line_meaning(table)
    failed = [c for c in checked if c.state == "failed"]
    if result.vetoes:
        return Verdict("veto", "不符合申请条件", meaning)
    if failed or (result.gated and not [c for c in checked if c.state == "unanswered"]):
        return Verdict("conditions", "您可能不符合申请条件", meaning)
    if any(c.state == "unanswered" for c in checked):
        return Verdict("unanswered", "需补充信息：请先回答申请条件", meaning)
    line = points(result.threshold)
    if result.eligible:
        if table.kind == "school":
            return Verdict("eligible", f"已达到申请分数线（{line} 分），可以申请", meaning)
        return Verdict("eligible", f"已达到分数线（{line} 分）", meaning)
    gap = points(result.threshold - result.qualification_score)
    return Verdict("below", f"未达到分数线（{line} 分），还差 {gap} 分", meaning)


def documents_needed(table: Table, result: ScoreResult, answered: set[str]) -> list[str]:
    """What to bring: proof of each basic condition and of every item that scored."""
    scored = {item.code for item in result.items if item.points}
    facts: list[str] = condition_facts(table)
    for item in table.items:
        if item.code in scored:
            facts.extend(item_facts(item))
    facts.extend(n for n in ("birth_date",) if n in answered)
    return checklist(list(dict.fromkeys(facts)))


# ---- the cross-programme comparison -------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    table: Table
    result: ScoreResult
    standing: Standing
    verdict: Verdict
    unasked: list[str]  # labels of facts the applicant gave that this table does not read
    # Labels of this table's local facts that the applicant would have to answer for its city:
    # never carried over from another city's answers.
    to_answer: list[str]


def carried_over(facts: Facts, same_city: bool) -> Facts:
    """The facts that mean the same under another programme: all of them in the same city;
    elsewhere only what does not depend on the city (education, skills, age, donations)."""
    if same_city:
        return facts
    reset = {n: spec.default() for n, spec in FACT_SPECS.items() if spec.local}
    return facts.replace(**reset)


def compare(
    current: Table,
    facts: Facts,
    answered: set[str],
    on: dt.date | None = None,
    *,
    every_kind: bool = False,
) -> list[Comparison]:
    """The same situation under the other programmes of the same kind (all kinds when asked),
    the current one first. Under another city's programme only the facts that carry over
    count; its own local questions are listed as still to answer, and its verdict says so."""
    tables = all_tables()
    today = beijing_today()
    rows: list[Comparison] = []
    for table in tables:
        if table.kind != current.kind and not every_kind and table.id != current.id:
            continue
        used = table.facts_used()
        if table.id != current.id and not answered.intersection(used):
            continue
        same_city = table.city == current.city
        moved = carried_over(facts, same_city)
        kept = answered if same_city else {n for n in answered if not FACT_SPECS[n].local}
        to_answer = [] if same_city else [FACT_SPECS[n].label for n in used if FACT_SPECS[n].local]
        result = score(table, moved, on=on)
        checked = check_conditions(table, moved, kept, on or today)
        found = verdict(result, table, checked)
        if to_answer and found.code in ("below", "conditions", "unanswered"):
            found = Verdict("unanswered", "需补充信息", found.meaning)
        questions = set(condition_facts(current))
        unasked = [
            FACT_SPECS[n].label
            for n in answered
            if n not in used and n in FACT_SPECS and n not in questions
        ]
        rows.append(
            Comparison(table, result, standing(table, tables, today), found, unasked, to_answer)
        )
    rows.sort(key=lambda r: r.table.id != current.id)
    return rows


def answered_facts(raw: dict[str, Any]) -> set[str]:
    return {n for n in raw if n in FACT_SPECS}


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
    st = standing_of(table)
    return {
        "id": table.id,
        "name": table.name,
        "region": table.region,
        "city": table.city,
        "status": st.status,
        "status_label": st.label,
        "superseded_by": st.successor.id if st.successor else None,
        "status_note": st.note or None,
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
