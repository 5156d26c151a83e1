"""The points-table format: a typed schema for the TOML files in tables/.

One file is one programme version. Points sit on leaf items; items belong to groups (一级 > 二级
indicators) that may cap their sum or keep only the best item. See docs/tables.md.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Confidence = Literal["C-off", "C", "P", "D"]
CONFIDENCE_LABELS: dict[str, str] = {
    "C-off": "官方文件",
    "C": "公开报道",
    "P": "二手资料（待核实）",
    "D": "按已证实规则推算",
}
SECONDARY = {"P", "D"}

Points = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]
# How a part unit counts: "completed" units only (每满 6 个月), or every unit once begun
# (每超过 1 岁（含不满 1 岁）减 2 分).
Rounding = Literal["completed", "started"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cited(Strict):
    """A value that may name its own source and confidence mark; without them it takes those of
    the item (or table) it belongs to."""

    source: str = ""
    confidence: Confidence | None = None


class Source(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    document: str = ""
    url: str = ""
    publisher: str = ""
    date: dt.date | None = None
    confidence: Confidence


class Group(Cited):
    """A block of indicators; `source` and `confidence` cite its cap."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    parent: str = ""
    cap: Points | None = Field(default=None, ge=0)
    pick: Literal["sum", "max"] = "sum"
    gate: bool = False
    note: str = ""


class ItemBase(Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    group: str
    label: str
    source: str
    confidence: Confidence | None = None
    note: str = ""


class LevelPoints(Cited):
    points: Points


class Combo(Cited):
    """A rung reached only when several levels are held together (硕士 + 中级职称 100 分): each
    fact at least at its level."""

    points: Points
    levels: dict[str, str] = Field(min_length=2)


class Ladder(ItemBase):
    """Highest level only; across several facts, the one that scores most (技能或职称，就高), and
    combined rungs (`combos`) that need several levels at once."""

    type: Literal["ladder"]
    ladders: dict[str, dict[str, LevelPoints]]
    combos: list[Combo] = []

    @field_validator("ladders", mode="before")
    @classmethod
    def _plain_points(cls, ladders: Any) -> Any:
        """A level may be written as plain points (`bachelor = 90`) or as
        `{ points = 90, source = "…" }`."""
        if not isinstance(ladders, dict):
            return ladders
        return {
            name: (
                {
                    lv: v if isinstance(v, dict | LevelPoints) else {"points": v}
                    for lv, v in levels.items()
                }
                if isinstance(levels, dict)
                else levels
            )
            for name, levels in ladders.items()
        }

    def points(self, name: str, level: str) -> Decimal:
        return self.ladders[name][level].points


class Tier(Cited):
    start: Decimal = Field(default=Decimal(0), ge=0)
    end: Decimal | None = None
    unit: Decimal = Field(gt=0)
    points: Points


class Rate(ItemBase):
    """Points per whole unit of a quantity (months, yuan, hours), in tiers, with a cap."""

    type: Literal["rate"]
    facts: list[str] = Field(min_length=1)
    unit: Decimal | None = Field(default=None, gt=0)
    points: Points | None = None
    tiers: list[Tier] = []
    share: str = ""
    times: str = ""
    cap: Points | None = Field(default=None, ge=0)
    unit_label: str = ""
    rounding: Rounding = "completed"
    # Months counted only from this date (中山居住证自 2010-01-01 起计): at most the whole months
    # from it to the reference date.
    counted_from: dt.date | None = None

    @model_validator(mode="after")
    def _one_schedule(self) -> Rate:
        if bool(self.tiers) == (self.unit is not None or self.points is not None):
            raise ValueError("give either unit and points, or tiers")
        if not self.tiers and (self.unit is None or self.points is None):
            raise ValueError("unit and points go together")
        return self

    def schedule(self) -> list[Tier]:
        if self.tiers:
            return list(self.tiers)
        return [Tier(unit=self.unit, points=self.points)]


class Count(ItemBase):
    """Points per event (献血每次 2 分), with a cap."""

    type: Literal["count"]
    fact: str
    points: Points
    cap: Points | None = Field(default=None, ge=0)


class Once(ItemBase):
    """A one-time item: the fact holds (true, a level in a list, at least a minimum, a date
    given), or with `absent = true` it does not (未超生 1 分, 无犯罪记录 1 分)."""

    type: Literal["once"]
    fact: str
    points: Points
    minimum: Decimal | None = None
    levels: list[str] = []
    absent: bool = False


class ProRata(ItemBase):
    """Points times a share between 0 and 1 (共有住房按份额计分)."""

    type: Literal["pro_rata"]
    fact: str
    points: Points


class AgeBand(Cited):
    min: int = Field(ge=0, le=150)
    max: int = Field(ge=0, le=150)
    points: Points


class Age(ItemBase):
    """Points by years of age on the reference date: completed years, or with
    `rounding = "started"` a year begun counts as a whole one (40 岁又 3 个月 counts as 41)."""

    type: Literal["age"]
    bands: list[AgeBand] = Field(min_length=1)
    rounding: Rounding = "completed"


class Deduction(ItemBase):
    """Points taken off when the fact holds (受过刑事处罚扣 100 分)."""

    type: Literal["deduction"]
    fact: str
    points: Points = Field(gt=0)


class Veto(ItemBase):
    """Disqualifies while the fact holds; with a date fact, for `ban_years` after that date."""

    type: Literal["veto"]
    fact: str
    ban_years: int | None = Field(default=None, ge=1, le=100)


class Requirement(ItemBase):
    """A basic condition that must hold before anything is scored."""

    type: Literal["requirement"]
    fact: str
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    levels: list[str] = []
    equals: bool | None = None
    absent: bool = False


class Gap(Strict):
    """Something the sources require or award that this table does not encode: an indicator
    whose values no source gives (`kind = "points"`), or a condition no fact expresses
    (`kind = "condition"`). Every score lists the gaps that could matter for its facts."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["points", "condition"]
    # Which way the points left out would move the score (a deduction left out: "lower").
    direction: Literal["higher", "lower", "either"] = "higher"
    label: str  # plain Chinese, completes "本测算未计入：…" / "未核对的申请条件：…"
    why: str  # for maintainers: why it is not encoded
    # The gap matters only for applicants who have one of these facts; empty: for everyone.
    facts: list[str] = []
    source: str = ""


Item = Annotated[
    Ladder | Rate | Count | Once | ProRata | Age | Deduction | Veto | Requirement,
    Field(discriminator="type"),
]


class TableFile(Strict):
    """A table as written in its TOML file; an overlay (`extends`) may leave fields out."""

    format: Literal["jifen.table/1"]
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    extends: str = ""
    name: str | None = None
    region: str | None = None
    city: str | None = None
    kind: Literal["household", "school", "residence"] | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    year_uncertain: bool | None = None
    illustrative: bool | None = None
    superseded: str | None = None
    threshold: Points | None = None
    max_total: Points | None = Field(default=None, ge=0)
    qualification_groups: list[str] | None = None
    ranking_groups: list[str] | None = None
    tie_break: list[str] | None = None
    citations: dict[str, Cited] = {}
    notes: list[str] = []
    applicant_notes: list[str] = []
    fact_help: dict[str, str] = {}
    remove: list[str] = []
    sources: list[Source] = []
    groups: list[Group] = []
    items: list[Item] = []
    gaps: list[Gap] = []

    @field_validator("tie_break")
    @classmethod
    def _no_duplicate_keys(cls, keys: list[str] | None) -> list[str] | None:
        if keys is not None and len(set(keys)) != len(keys):
            raise ValueError("tie-break keys repeat")
        return keys


class Table(Strict):
    """A resolved table: overlays merged onto their base, every reference checked."""

    id: str
    extends: str = ""
    name: str
    region: str
    # The city (or province) whose "本市" facts the table reads: facts about one city never
    # score under another city's table.
    city: str
    kind: Literal["household", "school", "residence"]
    effective_from: dt.date
    effective_to: dt.date | None = None
    year_uncertain: bool = False
    illustrative: bool = False
    # Why the table is no longer in force when its successor is not in this project (plain
    # Chinese, shown to applicants); a later table of the same city and kind supersedes it too.
    superseded: str = ""
    threshold: Decimal
    max_total: Decimal | None = None
    qualification_groups: list[str] = []
    ranking_groups: list[str] = []
    tie_break: list[str] = []
    # Sources of the table's own values: keys `threshold`, `tie_break`, `max_total`.
    citations: dict[str, Cited] = {}
    notes: list[str] = []  # for maintainers: how the table was read, what was left out and why
    applicant_notes: list[str] = []  # for applicants, in plain words: shown on public pages
    # What a fact's question says for this table, where the generic help would mislead (the
    # window an amount counts over: "近 5 年在中山缴纳的个人所得税").
    fact_help: dict[str, str] = {}
    sources: list[Source]
    groups: list[Group]
    items: list[Item]
    gaps: list[Gap] = []
    path: str = ""

    def source(self, source_id: str) -> Source:
        return next(s for s in self.sources if s.id == source_id)

    def confidence(self, item: ItemBase) -> str:
        return item.confidence or self.source(item.source).confidence

    def value_confidence(self, value: Cited, owner: ItemBase | None = None) -> str:
        """The mark of one value: its own, else its source's, else its item's."""
        if value.confidence:
            return value.confidence
        if value.source:
            return self.source(value.source).confidence
        return self.confidence(owner) if owner is not None else ""

    @property
    def has_secondary_values(self) -> bool:
        return any(self.confidence(item) in SECONDARY for item in self.items)

    def facts_used(self) -> list[str]:
        """The facts this table reads, in the order of its items (the form asks these)."""
        seen: dict[str, None] = {}
        for item in self.items:
            for name in item_facts(item):
                seen.setdefault(name, None)
        for name in self.tie_break:
            seen.setdefault(name, None)
        return list(seen)


def item_facts(item: ItemBase) -> list[str]:
    if isinstance(item, Ladder):
        names = list(item.ladders)
        for combo in item.combos:
            names.extend(n for n in combo.levels if n not in names)
        return names
    if isinstance(item, Rate):
        return [*item.facts, *(f for f in (item.share, item.times) if f)]
    if isinstance(item, Age):
        return ["birth_date"]
    return [item.fact]
