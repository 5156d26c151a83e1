"""Each rule type on a made-up table (tests/scoring/fixtures), with exact figures and words."""

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from scoring import Facts, FactsError, score, suggest
from scoring.tables import TableError, check_all, load_tables

FIXTURES = Path(__file__).parent / "fixtures"
ON = dt.date(2024, 6, 30)


@pytest.fixture(scope="module")
def tables():
    return load_tables(FIXTURES)


def run(table, **facts):
    return score(table, Facts.parse(facts, today=ON), on=ON)


def points(result):
    return {i.code: i.points for i in result.items if i.points}


def test_exact_decimal_arithmetic(tables):
    result = run(
        tables["rules-base"], insured_months_city=3, health_certified=True, housing_fund_months=7
    )
    assert points(result)["fund"] == Decimal("2.1")
    assert result.total == Decimal("3.1")
    assert result.to_dict()["total"] == 3.1


def test_requirement_gates_everything(tables):
    result = run(
        tables["rules-base"], insured_months_city=2, health_certified=True, housing_fund_months=100
    )
    assert result.total == 0 and result.items == [] and not result.eligible
    assert "须至少 3 个月" in result.notes[0]


def test_gate_group_item_must_score(tables):
    result = run(tables["rules-base"], insured_months_city=36, housing_fund_months=10)
    assert points(result) == {}
    assert not result.eligible
    assert any("体检合格" in note for note in result.notes)


def test_times_multiplies_per_unit_points(tables):
    result = run(
        tables["rules-base"], insured_months_city=59, insurance_kinds=5, health_certified=True
    )
    line = next(i for i in result.items if i.code == "insurance")
    assert line.points == 40  # 4 whole years x 2 points x 5 kinds
    assert "共 4 个 12 个月" in line.rule and "乘以本市参保险种数 5" in line.rule


def test_pick_max_keeps_the_better_home_item(tables):
    result = run(
        tables["rules-base"],
        insured_months_city=3,
        health_certified=True,
        home_share="0.5",
        rented_months=60,
    )
    assert points(result) == {"health": 1, "rented": 20}
    owned = next(i for i in result.items if i.code == "owned")
    assert owned.points == 0 and "不累计" in owned.rule


def test_pro_rata_rounds_half_up_to_hundredths(tables):
    result = run(
        tables["rules-base"], insured_months_city=3, health_certified=True, home_share="0.3333"
    )
    assert points(result)["owned"] == Decimal("6.67")


def test_tiers_cap_and_share(tables):
    result = run(
        tables["rules-base"],
        insured_months_city=3,
        health_certified=True,
        volunteer_hours=79,
        business_tax_yuan=100000,
        business_share="0.35",
    )
    got = points(result)
    assert got["volunteer"] == 6  # 4 for the first 50 h, then 2 whole 10 h
    assert got["tax"] == 3  # 35,000 yuan attributed: 3 whole 10,000s
    assert "extra_cap" not in got  # 9 is under the cap of 10
    result = run(
        tables["rules-base"],
        insured_months_city=3,
        health_certified=True,
        volunteer_hours=200,
        business_tax_yuan=0,
    )
    got = points(result)
    assert got["volunteer"] == 19 and got["extra_cap"] == -9
    cap_line = next(i for i in result.items if i.code == "extra_cap")
    assert cap_line.rule == "「附加」各项合计 19 分，上限 10 分，按 10 分计"


def test_age_bands_on_completed_years(tables):
    table = tables["rules-base"]
    assert (
        points(run(table, insured_months_city=3, health_certified=True, birth_date="1988-07-01"))[
            "age"
        ]
        == 15
    )  # 35 the next day
    assert (
        points(run(table, insured_months_city=3, health_certified=True, birth_date="1988-06-30"))[
            "age"
        ]
        == 5
    )  # 36 today


def test_deduction_and_ranking_groups(tables):
    result = run(
        tables["rules-base"],
        insured_months_city=3,
        health_certified=True,
        criminal_record=True,
        volunteer_hours=50,
    )
    assert points(result) == {"health": 1, "criminal": -100, "volunteer": 4}
    assert result.total == -95
    assert result.ranking_score == -100  # main only
    assert result.qualification_score == -95


def test_overlay_replaces_removes_and_adds(tables):
    overlay = tables["rules-overlay"]
    assert overlay.threshold == 20
    assert "criminal" not in {i.code for i in overlay.items}
    assert next(g for g in overlay.groups if g.code == "extra").cap == 5
    result = run(
        overlay,
        insured_months_city=3,
        health_certified=True,
        blood_donations=4,
        criminal_record=True,
    )
    assert points(result) == {"health": 1, "blood": 6, "extra_cap": -1}
    assert result.total == 6


def test_bad_facts_one_message_per_field_in_both_languages():
    with pytest.raises(FactsError) as caught:
        Facts.parse(
            {
                "insured_months_city": -1,
                "education": "phd",
                "home_share": "1.5",
                "volunteer_hours": "1.234",
                "birth_date": "2999-01-01",
                "x": 1,
            },
            today=ON,
        )
    errors = caught.value.by_field()
    assert set(errors) == {
        "insured_months_city",
        "education",
        "home_share",
        "volunteer_hours",
        "birth_date",
        "x",
    }
    assert errors["insured_months_city"].zh == "不能小于 0"
    assert errors["insured_months_city"].en == "must be at least 0"
    assert errors["birth_date"].zh == "日期不能晚于今天"
    assert errors["volunteer_hours"].en == "at most 2 decimal places"


def test_table_problems_name_file_path_and_reason(tmp_path):
    shutil.copy(FIXTURES / "rules-base.toml", tmp_path)
    text = (FIXTURES / "rules-overlay.toml").read_text()
    text = text.replace('fact = "blood_donations"', 'fact = "blood_volume"')
    text = text.replace("points = 2\n", "points = -2\n", 1)
    (tmp_path / "rules-overlay.toml").write_text(text)
    (tmp_path / "broken.toml").write_text(
        'format = "jifen.table/1"\nid = "broken"\nthreshold = "x"\n'
    )
    tables, problems = check_all(tmp_path)
    assert set(tables) == {"rules-base"}
    messages = [str(p) for p in problems]
    assert any(
        m.startswith("rules-overlay.toml: items(code=blood).fact: unknown fact") for m in messages
    ), messages
    assert any(m.startswith("broken.toml: threshold:") for m in messages), messages
    with pytest.raises(TableError):
        load_tables(tmp_path)


def test_suggestions_reach_threshold_in_order_of_effort(tables):
    table = tables["rules-base"]
    facts = Facts.parse(
        {"insured_months_city": 3, "health_certified": True, "housing_fund_months": 10}, today=ON
    )
    found = suggest(table, facts, on=ON, target=Decimal(10))
    texts = [s.text for s in found]
    assert texts[0] == "再参加志愿服务 70 小时可加 6 分，达到目标分数"
    assert found[0].reaches_target and found[0].effort_months == Decimal("3.5")
    # 20 more months of housing fund would also reach 10, but volunteering gains as much for
    # far less effort: a suggestion another one beats is not shown.
    assert not any(t.startswith("再缴存住房公积金 20 个月") for t in texts)
    assert "再在本市租房或住单位宿舍 24 个月可加 10 分，达到目标分数" in texts
    for one in found:
        assert not any(
            o.gain >= one.gain
            and o.effort_months <= one.effort_months
            and o != one
            and (o.gain > one.gain or o.effort_months < one.effort_months)
            for o in found
        )
    assert all(s.gain > 0 for s in found)
    efforts = [s.effort_months for s in found if s.reaches_target]
    assert efforts == sorted(efforts)


def test_real_tables_check_clean():
    tables, problems = check_all()
    assert problems == []
    assert "guangdong-2010" in tables
    json.dumps([t.model_dump(mode="json") for t in tables.values()])


def test_facts_model_and_vocabulary_name_the_same_facts():
    import dataclasses

    from scoring.facts import FACT_SPECS

    fields = [f.name for f in dataclasses.fields(Facts) if f.name != "reference_date"]
    assert fields == list(FACT_SPECS)
    defaults = {f.name: f.default for f in dataclasses.fields(Facts)}
    assert all(defaults[name] == spec.default() for name, spec in FACT_SPECS.items())
