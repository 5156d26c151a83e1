"""A table's point values in words, for the person reviewing it ("本科 90 分"), with the source of
every value that cites its own. `jifen tables show` prints these lines."""

from __future__ import annotations

from scoring.engine import once_condition, rate_schedule_words
from scoring.facts import FACT_SPECS
from scoring.model import (
    CONFIDENCE_LABELS,
    Age,
    Cited,
    Count,
    Deduction,
    ItemBase,
    Ladder,
    Once,
    ProRata,
    Rate,
    Requirement,
    Table,
    Veto,
)
from scoring.tables import decimal_str

ROUNDING_WORDS = {"started": "不满一个单位的部分按一个单位计"}


def _cited(table: Table, value: Cited, owner: ItemBase) -> str:
    """' [来源 x，二手资料（待核实）]' where a value cites other than its item, else ''."""
    if not value.source and not value.confidence:
        return ""
    source = value.source or owner.source
    mark = CONFIDENCE_LABELS[table.value_confidence(value, owner)]
    return f" [来源 {source}，{mark}]"


def _cap(cap) -> str:
    return "" if cap is None else f"，最高 {decimal_str(cap)} 分"


def _ladder(table: Table, item: Ladder) -> list[str]:
    lines = []
    for name, levels in item.ladders.items():
        spec = FACT_SPECS[name]
        steps = "；".join(
            f"{spec.choice_label(level)} {decimal_str(value.points)} 分{_cited(table, value, item)}"
            for level in spec.levels
            if (value := levels.get(level)) is not None
        )
        lines.append(f"{spec.label}：{steps}")
    for combo in item.combos:
        held = "且".join(
            f"{FACT_SPECS[name].label}达到「{FACT_SPECS[name].choice_label(level)}」"
            for name, level in combo.levels.items()
        )
        lines.append(
            f"{held}（同时具备）：{decimal_str(combo.points)} 分{_cited(table, combo, item)}"
        )
    lines.append("未列出的等级按其下最近一档计分" + ("；只计最高一项" if len(lines) > 1 else ""))
    return lines


def _rate(table: Table, item: Rate) -> list[str]:
    text = rate_schedule_words(item) + _cap(item.cap)
    if item.share:
        text += f"；数量先按{FACT_SPECS[item.share].label}折算"
    if item.times:
        text += f"；乘以{FACT_SPECS[item.times].label}"
    if item.counted_from is not None:
        text += f"；自 {item.counted_from.isoformat()} 起计"
    lines = [text]
    lines.extend(
        f"第 {i + 1} 段{_cited(table, tier, item)}"
        for i, tier in enumerate(item.tiers)
        if _cited(table, tier, item)
    )
    return lines


def _age(table: Table, item: Age) -> list[str]:
    unit = "周岁" if item.rounding == "completed" else "岁"
    bands = "；".join(
        (f"{b.min} {unit}" if b.min == b.max else f"{b.min}–{b.max} {unit}")
        + f" {decimal_str(b.points)} 分{_cited(table, b, item)}"
        for b in item.bands
    )
    lines = [bands, "其他年龄不计分"]
    if item.rounding == "started":
        lines.append("年龄按已开始的岁数计：不满 1 岁的部分按 1 岁计（40 岁又 1 天计为 41 岁）")
    return lines


def _requirement(item: Requirement) -> str:
    spec = FACT_SPECS[item.fact]
    unit = "周岁" if item.fact == "birth_date" else spec.unit
    what = "年龄" if item.fact == "birth_date" else spec.label
    parts = []
    if item.absent:
        parts.append("须无此情形")
    if item.equals is not None:
        parts.append("须为「是」" if item.equals else "须为「否」")
    if item.levels:
        parts.append("须为" + "或".join(spec.choice_label(lv) for lv in item.levels))
    if item.minimum is not None:
        parts.append(f"须至少 {decimal_str(item.minimum)} {unit}".rstrip())
    if item.maximum is not None:
        parts.append(f"须不超过 {decimal_str(item.maximum)} {unit}".rstrip())
    return f"基本条件：{what}{'，'.join(parts)}；不符合则不得申请，其余指标不予计分"


def item_values(table: Table, item: ItemBase) -> list[str]:
    """The item's point values as lines a reviewer reads."""
    if isinstance(item, Ladder):
        return _ladder(table, item)
    if isinstance(item, Rate):
        return _rate(table, item)
    if isinstance(item, Count):
        spec = FACT_SPECS[item.fact]
        return [f"每{spec.unit} {decimal_str(item.points)} 分{_cap(item.cap)}"]
    if isinstance(item, Once):
        return [f"{once_condition(item)}：{decimal_str(item.points)} 分"]
    if isinstance(item, ProRata):
        label = FACT_SPECS[item.fact].label
        half = decimal_str(item.points / 2)
        return [f"{decimal_str(item.points)} 分 × {label}（如份额 0.5 得 {half} 分）"]
    if isinstance(item, Age):
        return _age(table, item)
    if isinstance(item, Deduction):
        return [f"{FACT_SPECS[item.fact].label}：扣 {decimal_str(item.points)} 分"]
    if isinstance(item, Veto):
        spec = FACT_SPECS[item.fact]
        if item.ban_years:
            return [f"{spec.label}：自该日起 {item.ban_years} 年内不得申请"]
        return [f"{spec.label}：不得申请（一票否决）"]
    if isinstance(item, Requirement):
        return [_requirement(item)]
    raise TypeError(item)
