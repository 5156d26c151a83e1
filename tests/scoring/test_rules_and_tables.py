"""Combined rungs, part units, counting from a date, gaps in every score, and the checks and tools
an officer maintaining a table uses (`jifen tables check | show | test`)."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from scoring import Facts, get_table, score
from scoring.tables import check_all

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def run(table_id, on, **facts):
    return score(get_table(table_id), Facts.parse(facts, today=on), on=on)


# The basic conditions of the Zhongshan school programmes, all met.
ZS_CONDITIONS = {
    "residence_permit_held": True,
    "insured_last_month_city": True,
    "child_grade": "primary1",
}


def line(result, code):
    return next(i for i in result.items if i.code == code)


# ---- the rules ----------------------------------------------------------------------------


def test_master_with_intermediate_title_is_the_100_point_rung_of_shenzhen():
    on = dt.date(2011, 9, 1)
    basics = dict(
        birth_date=dt.date(1981, 3, 1).isoformat(),
        health_certified=True,
        residence_permit_months=12,
        employment_registered=True,
    )
    both = run("shenzhen-2011", on, **basics, education="master", title="intermediate")
    assert line(both, "talent").points == 100 and both.total == 120 and both.eligible
    assert line(both, "talent").rule == (
        "最高学历：硕士研究生，不计分；国家职业资格等级：无，不计分；专业技术职称：中级职称，不计分；"
        "最高学历达到「硕士研究生」且专业技术职称达到「中级职称」，同时具备计 100 分；"
        "只计最高一项，得 100 分"
    )
    # Each level is "at least": a doctor with a senior title holds the combined rung as well.
    above = run("shenzhen-2011", on, **basics, education="doctor", title="senior")
    assert line(above, "talent").points == 100
    master_alone = run("shenzhen-2011", on, **basics, education="master")
    assert line(master_alone, "talent").points == 0 and not master_alone.eligible


@pytest.mark.parametrize(
    ("born", "points", "words"),
    [
        ("1984-03-01", 30, "年龄 40 周岁，18–40 岁计 30 分"),
        (
            "1984-02-29",
            28,
            "年龄 40 周岁又不满 1 岁，不满 1 岁的部分按 1 岁计，计为 41 岁，41 岁计 28 分",
        ),
        ("1983-03-01", 28, "年龄 41 周岁，41 岁计 28 分"),
        (
            "1982-12-01",
            26,
            "年龄 41 周岁又不满 1 岁，不满 1 岁的部分按 1 岁计，计为 42 岁，42 岁计 26 分",
        ),
        (
            "1969-09-01",
            0,
            "年龄 54 周岁又不满 1 岁，不满 1 岁的部分按 1 岁计，计为 55 岁，"
            "不在计分年龄段内，不计分",
        ),
    ],
)
def test_guangzhou_deducts_2_points_for_every_year_or_part_year_over_40(born, points, words):
    result = run("guangzhou-2023", dt.date(2024, 3, 1), birth_date=born)
    assert line(result, "age").points == points
    assert line(result, "age").rule == words


def test_residence_permit_months_count_from_2010_in_zhongshan_2025():
    result = run(
        "zhongshan-2025-school", dt.date(2025, 6, 1), residence_permit_months=250, **ZS_CONDITIONS
    )
    permit = line(result, "residence_permit")
    assert permit.points == 185
    assert permit.rule == (
        "连续持有居住证月数 250 个月，自 2010-01-01 起计至 2025-06-01 最多 185 个月，"
        "按 185 个月计，每满 1 个月计 1 分，共 185 个月，得 185 分（上限 200 分）"
    )


def test_started_rounding_counts_a_part_unit_whole(tmp_path):
    text = (FIXTURES / "rules-base.toml").read_text()
    assert 'code = "fund"' in text
    text = text.replace('code = "fund"', 'code = "fund"\nrounding = "started"', 1)
    (tmp_path / "rules-base.toml").write_text(text)
    tables, problems = check_all(tmp_path)
    assert problems == []
    fund = next(i for i in tables["rules-base"].items if i.code == "fund")
    assert fund.rounding == "started"


# ---- gaps ---------------------------------------------------------------------------------


def test_every_score_lists_the_gaps_that_matter_for_its_facts():
    on = dt.date(2024, 1, 1)
    plain = run("guangdong-2010", on, education="bachelor")
    assert [g.code for g in plain.gaps] == ["insurance", "awards"]
    with_title = run("guangdong-2010", on, education="bachelor", title="junior")
    assert [g.code for g in with_title.gaps] == ["insurance", "awards", "titles"]
    assert with_title.points_incomplete and with_title.conditions_unchecked == []

    on = dt.date(2021, 6, 1)
    school = run("zhongshan-2020-school", on, insured_months_city=36, **ZS_CONDITIONS)
    assert school.eligible is True
    assert school.to_dict()["conditions_unchecked"] == []  # all four are encoded now
    older = run("zhongshan-2023-school", on, insured_months_city=36)
    out = older.to_dict()
    assert out["conditions_unchecked"] == [
        "申请条件（非中山户籍、持有居住证、参保月数、起始年级等）"
    ]
    assert out["notes"][-1] == (
        "本测算未核对以下申请条件：申请条件（非中山户籍、持有居住证、参保月数、起始年级等）。"
        "是否符合，以受理部门审核为准。"
    )


def test_a_basic_condition_not_met_scores_nothing():
    on = dt.date(2021, 6, 1)
    facts = {**ZS_CONDITIONS, "insured_months_city": 36}
    assert run("zhongshan-2020-school", on, **facts).total == 60
    hukou = run("zhongshan-2020-school", on, **facts, local_hukou=True)
    assert (hukou.total, hukou.eligible, hukou.gated) == (0, False, True)
    grade = run("zhongshan-2020-school", on, **{**facts, "child_grade": "other"})
    assert (grade.total, grade.eligible) == (0, False)


def test_a_deduction_left_out_says_the_score_may_be_lower():
    result = run("beijing-2020", dt.date(2024, 1, 1), insured_months_city=100)
    assert "law_record" in [g.code for g in result.gaps]
    said = next(n for n in result.notes if n.startswith("本测算未计入"))
    assert said.endswith("。实际积分可能与本测算不同。")


def test_a_reference_date_outside_the_programme_is_warned_about():
    result = run(
        "zhongshan-2025-school", dt.date(2027, 3, 1), residence_permit_months=20, **ZS_CONDITIONS
    )
    assert result.notes[0] == (
        "参照日 2027-03-01 不在本政策有效期（2025-01-01 至 2026-12-31）内，结果仅供参考。"
    )


# ---- what `jifen tables check` refuses --------------------------------------------------------


def _problems(tmp_path, *replacements):
    text = (FIXTURES / "rules-base.toml").read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    (tmp_path / "rules-base.toml").write_text(text)
    return [str(p) for p in check_all(tmp_path)[1]]


def test_a_unit_finer_than_the_fact_is_refused_instead_of_dividing_by_zero(tmp_path):
    problems = _problems(tmp_path, ("unit = 1\npoints = 0.3", "unit = 0.5\npoints = 0.3"))
    assert problems == [
        "rules-base.toml: items(code=fund).unit: 0.5 is not a whole number of "
        "housing_fund_months's unit (1 个月); it would be truncated when scoring"
    ]


def test_tier_bounds_must_be_whole_units(tmp_path):
    problems = _problems(tmp_path, ("end = 50,", "end = 50.005,"))
    assert problems == [
        "rules-base.toml: items(code=volunteer).tiers[0].end: 50.005 is not a whole number of "
        "volunteer_hours's unit (0.01 小时); it would be truncated when scoring"
    ]


def test_every_value_needs_a_source_and_every_source_a_value(tmp_path):
    problems = _problems(
        tmp_path,
        ('citations.threshold = { source = "test" }\n', ""),
        ('cap = 10\nsource = "test"', "cap = 10"),
        (
            '[[sources]]\nid = "test"',
            '[[sources]]\nid = "unused"\ntitle = "x"\nconfidence = "P"\n\n[[sources]]\nid = "test"',
        ),
    )
    assert problems == [
        "rules-base.toml: citations.threshold: the threshold has no source",
        "rules-base.toml: groups(code=extra).cap: the cap has no source",
        "rules-base.toml: sources(id=unused): no value cites this source",
    ]


def test_a_combined_rung_names_known_levels(tmp_path):
    table = (ROOT / "tables" / "shenzhen-2011.toml").read_text()
    table = table.replace('title = "intermediate" }', 'title = "middle" }')
    (tmp_path / "shenzhen-2011.toml").write_text(table)
    problems = [str(p) for p in check_all(tmp_path)[1]]
    assert problems == [
        "shenzhen-2011.toml: items(code=talent).combos[0].levels.title: unknown level 'middle'"
    ]


# ---- `jifen tables show` and `jifen tables test` ---------------------------------------------


def test_show_prints_every_point_value(capsys):
    assert main(["tables", "show", "zhongshan-2020-school"]) == 0
    out = capsys.readouterr().out
    assert "      最高学历：大专/高职 50 分；本科 90 分；硕士研究生 150 分\n" in out
    assert "      每满 6 个月计 10 分\n" in out
    assert "纳税（近 5 年）（上限 300 分；来源：shbk2022，二手资料（待核实））" in out
    assert "分数线：30 分（来源：shbk2022，二手资料（待核实））" in out
    assert (
        "      基本条件：孩子申请入读的年级须为小学一年级或初中一年级；不符合则不得申请，"
        "其余指标不予计分\n" in out
    )
    assert (
        "      基本条件：本市社保缴费月数须至少 3 个月；不符合则不得申请，其余指标不予计分\n" in out
    )


def _tables_copy(tmp_path):
    for path in (ROOT / "tables").glob("guangdong-2010*"):
        (tmp_path / path.name).write_text(path.read_text())
    return {**os.environ, "JIFEN_TABLES_DIR": str(tmp_path)}


def test_tables_test_runs_the_case_files_outside_pytest(tmp_path):
    env = _tables_copy(tmp_path)
    ok = subprocess.run(
        [sys.executable, "-m", "app.cli", "tables", "test", "guangdong-2010"],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1] == "8 passed, 0 failed / 通过 8 例，失败 0 例"

    cases = tmp_path / "guangdong-2010.cases.toml"
    cases.write_text(cases.read_text().replace("total = 60", "total = 61", 1))
    bad = subprocess.run(
        [sys.executable, "-m", "app.cli", "tables", "test"],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert bad.returncode == 1
    assert "    total 60 != expected 61" in bad.stdout.splitlines()
    assert bad.stdout.splitlines()[-1] == "7 passed, 1 failed / 通过 7 例，失败 1 例"


def test_facts_that_do_not_validate_in_a_case_are_a_failed_case_not_a_crash(tmp_path):
    cases = (ROOT / "tables" / "guangdong-2010.cases.toml").read_text()
    assert "education = " in cases
    env = _tables_copy(tmp_path)
    (tmp_path / "guangdong-2010.cases.toml").write_text(
        cases.replace("education = ", "educaton = ", 1)
    )
    run_ = subprocess.run(
        [sys.executable, "-m", "app.cli", "tables", "test"],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert run_.returncode == 1
    assert "    facts do not validate: educaton: 未知的事实字段 (unknown fact)" in run_.stdout
