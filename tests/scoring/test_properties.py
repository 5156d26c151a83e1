"""Invariants of the engine on every table, for any facts (hypothesis)."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.batch import columns_needed, score_columns
from scoring.columns import encode_frame
from scoring.engine import score
from scoring.facts import FACT_SPECS, MONTH_FACTS, Facts, add_years, months_between
from scoring.model import Requirement
from scoring.tables import load_tables

ON = dt.date(2024, 6, 30)
TABLES = sorted(load_tables())
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fact_value(name):
    spec = FACT_SPECS[name]
    if spec.kind == "enum":
        return st.sampled_from(spec.levels)
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "date":
        return st.one_of(st.none(), st.dates(dt.date(1950, 1, 1), ON))
    if spec.kind == "int":
        return st.integers(0, min(int(spec.maximum), 400))
    top = min(int(spec.maximum * spec.scale), 50_000_000)
    return st.integers(0, top).map(lambda v: Decimal(v) / spec.scale)


@st.composite
def facts_for(draw, table_id):
    """Valid facts: each in range, and no more months than the birth date allows."""
    table = load_tables()[table_id]
    names = table.facts_used()
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    values = {name: draw(fact_value(name)) for name in chosen}
    if draw(st.booleans()):  # mostly meet the basic requirements, so the rest gets scored
        for item in table.items:
            if isinstance(item, Requirement) and item.minimum is not None:
                spec = FACT_SPECS[item.fact]
                if spec.kind in ("int", "decimal"):
                    low = max(values.get(item.fact, 0), item.minimum)
                    values[item.fact] = int(low) if spec.kind == "int" else low
            elif isinstance(item, Requirement) and item.equals is not None:
                values[item.fact] = item.equals
    if values.get("birth_date"):
        limit = max(0, months_between(add_years(values["birth_date"], 16), ON))
        for name in MONTH_FACTS:
            if name in values:
                values[name] = min(values[name], limit)
    return Facts(**values)


def item_sum(result):
    return sum((item.points for item in result.items), Decimal(0))


@pytest.mark.parametrize("table_id", TABLES)
@SETTINGS
@given(data=st.data())
def test_total_is_sum_of_items_and_caps_hold(table_id, data):
    table = load_tables()[table_id]
    facts = data.draw(facts_for(table_id))
    result = score(table, facts, on=ON)
    assert result.total == item_sum(result)
    if table.max_total is not None:
        assert result.total <= table.max_total
    for group in table.groups:
        if group.cap is None:
            continue
        subtree = {group.code}
        grew = True
        while grew:
            more = {g.code for g in table.groups if g.parent in subtree} - subtree
            subtree |= more
            grew = bool(more)
        lines = [i for i in result.items if i.group in subtree and i.code != "max_total"]
        assert sum((i.points for i in lines), Decimal(0)) <= group.cap
    for item in table.items:
        cap = getattr(item, "cap", None)
        line = next((i for i in result.items if i.code == item.code), None)
        if cap is not None and line is not None:
            assert line.points <= cap


@pytest.mark.parametrize("table_id", TABLES)
@SETTINGS
@given(data=st.data())
def test_more_of_a_positive_fact_never_lowers_the_score(table_id, data):
    table = load_tables()[table_id]
    # A condition with a maximum, or one that names its levels (the child's grade: 小学一年级
    # or 初中一年级, not "other"), is not "more is better".
    capped_above = {
        i.fact for i in table.items if isinstance(i, Requirement) and (i.maximum or i.levels)
    }
    growable = [
        n
        for n in table.facts_used()
        if FACT_SPECS[n].kind in ("int", "decimal", "enum") and n not in capped_above
    ]
    if not growable:
        return
    facts = data.draw(facts_for(table_id))
    name = data.draw(st.sampled_from(growable))
    spec = FACT_SPECS[name]
    before = score(table, facts, on=ON)
    if before.gated:  # not scored at all (0, deductions included): nothing to compare
        return
    if spec.kind == "enum":
        level = spec.levels.index(getattr(facts, name))
        bigger = spec.levels[data.draw(st.integers(level, len(spec.levels) - 1))]
    else:
        room = int((spec.maximum - getattr(facts, name)) * spec.scale)
        step = data.draw(st.integers(0, min(room, 500_000)))
        bigger = getattr(facts, name) + (Decimal(step) / spec.scale if spec.scale > 1 else step)
    after = score(table, facts.replace(**{name: bigger}), on=ON)
    assert after.qualification_score >= before.qualification_score
    assert after.ranking_score >= before.ranking_score
    assert after.total >= before.total


def frame_of(rows, names):
    cells = []
    for facts in rows:
        row = {}
        for name in names:
            value = getattr(facts, name)
            row[name] = "" if value is None else str(value)
        cells.append(row)
    return pd.DataFrame(cells, columns=names, dtype=str)


def encode(frame, names, **kwargs):
    rows = np.arange(1, len(frame) + 1)
    return encode_frame({c: frame[c] for c in frame.columns}, names, rows=rows, **kwargs)


@pytest.mark.parametrize("table_id", TABLES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_batch_gives_exactly_the_scalar_figures(table_id, data):
    table = load_tables()[table_id]
    rows = data.draw(st.lists(facts_for(table_id), min_size=1, max_size=30))
    names = columns_needed(table)
    cols, reference, good, errors = encode(frame_of(rows, names), names, today=ON, on=ON)
    assert errors == [] and good.all()
    batch = score_columns(table, cols, on=reference)
    for i, facts in enumerate(rows):
        scalar = score(table, facts, on=ON)
        assert Decimal(int(batch.total[i])) / 100 == scalar.total
        assert Decimal(int(batch.qualification[i])) / 100 == scalar.qualification_score
        assert Decimal(int(batch.ranking[i])) / 100 == scalar.ranking_score
        assert bool(batch.eligible[i]) == scalar.eligible
        batch_items = {c: Decimal(int(v[i])) / 100 for c, v in batch.items.items() if v[i]}
        assert batch_items == {it.code: it.points for it in scalar.items if it.points}
        bans = [v.ban_until for v in scalar.vetoes if v.ban_until]
        expected = max(bans).strftime("%Y%m%d") if bans else "-1"
        assert str(int(batch.ban_until[i])) == expected
        codes = [g.code for k, g in enumerate(table.gaps) if int(batch.gaps[i]) >> k & 1]
        assert codes == [g.code for g in scalar.gaps]


@pytest.mark.parametrize("table_id", TABLES)
@SETTINGS
@given(data=st.data())
def test_same_facts_same_result(table_id, data):
    table = load_tables()[table_id]
    facts = data.draw(facts_for(table_id))
    again = Facts.parse(facts.given(), today=ON)
    first, second = score(table, facts, on=ON), score(table, again, on=ON)
    assert first.to_dict() == second.to_dict()
    assert [i.rule for i in first.items] == [i.rule for i in second.items]


@pytest.mark.parametrize("table_id", TABLES)
@SETTINGS
@given(data=st.data())
def test_what_the_items_remember_never_changes_a_score(table_id, data):
    """Each item remembers its points and words by the facts it reads (`item_facts`): scoring
    one applicant after others, on one date after another, gives what scoring them first gives.
    The facts drawn are any of every kind, so an item reading a fact it does not declare would
    show here."""
    table = load_tables()[table_id]
    every = st.lists(st.sampled_from(sorted(FACT_SPECS)), unique=True, max_size=12)
    people = [
        Facts(**{name: data.draw(fact_value(name)) for name in data.draw(every)}) for _ in range(4)
    ]
    people.append(data.draw(facts_for(table_id)))
    for person in people:
        on = data.draw(st.sampled_from([ON, dt.date(2023, 2, 28), dt.date(2026, 12, 1)]))
        remembered = score(table, person, on=on).to_dict()
        fresh = score(table.model_copy(deep=True), person, on=on).to_dict()  # compiled anew
        assert remembered == fresh
