"""One import row at a time: check it and, when it is good, prepare everything written for it
(keyed hashes, encrypted fields, the score and its words, the claimed facts).

Plain functions over plain data, with no database and no Flask: the importer runs them inline
for a small file and in helper processes for a large one (app/applications/parallel.py). What
needs the whole file (the same person twice, families, people already in the round) is the
importer's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import orjson

from app.protect import (
    DataKeys,
    IdNumberError,
    birth_date_of,
    check_id_number,
    encrypt,
    lookup_hash,
    normal_name,
)
from scoring.engine import score
from scoring.facts import FACT_SPECS, FALSE_WORDS, TRUE_WORDS, Facts, FactsError, to_json_value
from scoring.tables import get_table

# The first eight columns, with the Chinese headers a clerk may use instead.
COLUMNS = {
    "name": "姓名",
    "id_number": "身份证号",
    "zone": "镇街",
    "category": "类别",
    "phone": "手机",
    "family": "家庭",
    "choices": "志愿",
    "accept_any_in_zone": "服从调剂",
}
REQUIRED = ("name", "id_number", "zone", "category")
ALIASES = {zh: en for en, zh in COLUMNS.items()}
MOBILE = re.compile(r"1[3-9][0-9]{9}")
LANDLINE = re.compile(r"0[0-9]{2,3}-?[0-9]{7,8}")
MAX_NAME = 50
CHOICE_SEPARATORS = re.compile("[;；]")


@dataclass(frozen=True)
class Problem:
    row: int  # the row as the spreadsheet numbers it: the header is row 1
    column: str  # the column's header as written in the file ("" for the whole file)
    zh: str
    en: str

    def __str__(self) -> str:
        if not self.column:
            return f"{self.zh} / {self.en}"
        return (
            f"第 {self.row} 行 {self.column}：{self.zh} / row {self.row}, {self.column}: {self.en}"
        )


@dataclass(frozen=True)
class RoundRules:
    """What a row is checked against and prepared with: the file's columns, the round's zones,
    categories and schools, what the importing user may do, and how the rows are written."""

    positions: dict[str, int]  # canonical column name -> index in the row
    titles: dict[str, str]  # canonical column name -> the header as written
    zones: frozenset[str]
    kinds: dict[str, str]  # category -> "school" or "household"
    schools: dict[str, tuple[str, str]]  # school id -> (zone, category)
    sees_every_zone: bool
    own_zones: frozenset[str]
    today: dt.date
    keys: DataKeys
    table_id: str
    owners: dict[str, str]  # fact -> department
    verified: bool  # the facts were verified elsewhere (an import by the city)
    max_choices: int | None = None  # the round's limit on school choices, if it sets one

    @property
    def fact_columns(self) -> list[str]:
        return [n for n in self.positions if n in FACT_SPECS]


@dataclass(slots=True)
class Prepared:
    """Everything written for one good row, except the ids and the application number."""

    id_number_enc: bytes
    name_hash: str
    name_enc: bytes
    phone_enc: bytes | None
    choices: str  # JSON
    accept_any: bool
    total_cents: int
    qualification_cents: int
    ranking_cents: int
    eligible: bool
    result: str  # the score as JSON, items and words included
    facts: list[tuple[str, str, str]]  # (fact, department, claimed value as JSON)


@dataclass(slots=True)
class RowResult:
    number: int
    problems: list[Problem] = field(default_factory=list)
    id_hash: str = ""  # the keyed hash of the ID number, when it is a valid one
    zone: str = ""
    category: str = ""
    family: str = ""
    prepared: Prepared | None = None


def _bool_cell(text: str) -> bool | None:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


@dataclass(frozen=True)
class ChoiceRules:
    """What choices are checked against (RoundRules carries the same three for the import)."""

    kinds: dict[str, str]
    schools: dict[str, tuple[str, str]]
    max_choices: int | None


def check_choices(
    rules: RoundRules | ChoiceRules, zone: str, category: str, choices: list[str]
) -> list[tuple[str, str, str]]:
    """What is wrong with these school choices of an application in this zone and category:
    (column, Chinese, English). The one rule for the import, the forms and later corrections."""
    found = []
    kind = rules.kinds.get(category)
    if choices and kind == "household":
        found.append(("choices", "入户类别不填志愿", "a household category takes no choices"))
    for choice in choices:
        school = rules.schools.get(choice)
        if school is None:
            found.append(("choices", f"未知的学校：{choice}", f"unknown school {choice}"))
        elif school != (zone, category):
            found.append(
                (
                    "choices",
                    f"学校 {choice} 不属于本镇街的本类别",
                    f"{choice} is not of this zone and category",
                )
            )
    if len(set(choices)) != len(choices):
        found.append(("choices", "志愿中学校重复", "a school is chosen twice"))
    if rules.max_choices is not None and len(choices) > rules.max_choices:
        found.append(
            (
                "choices",
                f"本轮最多填 {rules.max_choices} 个志愿，填了 {len(choices)} 个",
                f"at most {rules.max_choices} choices in this round, {len(choices)} given",
            )
        )
    return found


def applicant_birth_date(table, id_number: str) -> dt.date | None:
    """The birth date the facts are checked and scored with, from the application's ID number.
    The person of a household application is the one whose points count. A school application
    is the child's (one per child), scored on a parent's facts: its ID number says nothing
    about them."""
    return birth_date_of(id_number) if table.kind != "school" else None


def check_rows(rules: RoundRules, rows: list[tuple[int, list[str]]]) -> list[RowResult]:
    """Each row checked on its own and, when good, prepared."""
    table = get_table(rules.table_id)
    columns = list(rules.positions.items())
    facts = rules.fact_columns
    return [_check_row(rules, table, columns, facts, number, cells) for number, cells in rows]


def _check_row(
    rules: RoundRules,
    table,
    columns: list[tuple[str, int]],
    fact_columns: list[str],
    number: int,
    cells: list[str],
) -> RowResult:
    title = rules.titles
    out = RowResult(number)
    width = len(cells)  # each cell read once (a column the file leaves out reads as "")
    values = {name: cells[i].strip() if i < width else "" for name, i in columns}

    def cell(name: str) -> str:
        return values.get(name, "")

    def bad(name: str, zh: str, en: str) -> None:
        out.problems.append(Problem(number, title[name], zh, en))

    name = normal_name(cell("name"))
    if not name:
        bad("name", "必填", "required")
    elif len(name) > MAX_NAME:
        bad("name", f"姓名不能超过 {MAX_NAME} 个字", f"at most {MAX_NAME} characters")
    id_number = ""
    if not cell("id_number"):
        bad("id_number", "必填", "required")
    else:
        try:
            id_number = check_id_number(cell("id_number"))
        except IdNumberError as exc:
            bad("id_number", exc.zh, exc.en)
    raw = {n: v for n in fact_columns if (v := values[n]) != ""}
    born = applicant_birth_date(table, id_number) if id_number else None
    if born is not None and "birth_date" not in raw:
        raw["birth_date"] = born.isoformat()  # the birth date the ID number carries
    try:
        facts = Facts.parse(raw, today=rules.today)
    except FactsError as exc:
        facts = None
        for error in exc.errors:
            if error.field in title:
                bad(error.field, error.zh, error.en)
            else:  # a fact the file leaves out but the ID number gives (birth_date)
                bad("id_number", f"按身份证号中的出生日期：{error.zh}", error.en)
    if facts is not None and born is not None and facts.birth_date != born:
        bad(
            "id_number",
            "身份证号中的出生日期与出生日期一栏不一致",
            "the birth date in the ID number differs from birth_date",
        )
    zone = out.zone = cell("zone")
    if zone not in rules.zones:
        bad("zone", f"不是本轮的镇街：{zone}" if zone else "必填", "not a zone of this round")
    elif not rules.sees_every_zone and zone not in rules.own_zones:
        bad("zone", "不属于您负责的镇街", "not one of your zones")
    category = out.category = cell("category")
    kinds = rules.kinds
    if category not in kinds:
        bad(
            "category",
            f"不是本轮的类别（可选：{'、'.join(kinds)}）",
            f"not a category of this round ({', '.join(kinds)})",
        )
    phone = cell("phone").replace(" ", "")
    if phone and not (MOBILE.fullmatch(phone) or LANDLINE.fullmatch(phone)):
        bad("phone", "不是有效的手机或固定电话号码", "not a valid phone number")
    family = out.family = cell("family")
    if len(family) > 64:
        bad("family", "家庭编号不能超过 64 个字符", "at most 64 characters")
    choices = [c.strip() for c in CHOICE_SEPARATORS.split(cell("choices")) if c.strip()]
    for column, zh, en in check_choices(rules, zone, category, choices):
        bad(column, zh, en)
    accept_text = cell("accept_any_in_zone")
    accept_any = _bool_cell(accept_text) if accept_text else False
    if accept_any is None:
        bad("accept_any_in_zone", "应为是或否", "must be true or false")
    elif accept_any and kinds.get(category) == "household":
        bad("accept_any_in_zone", "入户类别不适用服从调剂", "only for school categories")
    if id_number:
        out.id_hash = lookup_hash(rules.keys, "id_number", id_number)
    if out.problems or facts is None:
        return out
    claimed = {  # the facts the file claims (not the birth date it implies)
        n: to_json_value(FACT_SPECS[n], getattr(facts, n)) for n in raw if n in title
    }
    result = score(table, facts, on=rules.today)
    keys = rules.keys
    out.prepared = Prepared(
        id_number_enc=encrypt(keys, "id_number", id_number),
        name_hash=lookup_hash(keys, "name", name),
        name_enc=encrypt(keys, "name", name),
        phone_enc=encrypt(keys, "phone", phone) if phone else None,
        choices=orjson.dumps(choices).decode(),
        accept_any=bool(accept_any),
        total_cents=int(result.total * 100),
        qualification_cents=int(result.qualification_score * 100),
        ranking_cents=int(result.ranking_score * 100),
        eligible=result.eligible,
        result=orjson.dumps(result.to_dict()).decode(),
        facts=[(n, rules.owners[n], orjson.dumps(v).decode()) for n, v in claimed.items()],
    )
    return out
