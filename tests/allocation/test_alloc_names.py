"""What an applicant reads names zones, categories and schools by the instance's `name` fields,
and shows an id only where there is no name, set off from the Chinese by spaces."""

from __future__ import annotations

import copy

from alloc_testlib import allocate_doc, applicant, by_id, instance

from allocation.explain import category_label, join

P1 = [{"id": "school-p1", "kind": "school", "total": 2, "name": "小学一年级"}]
SCHOOLS = [
    {"id": "S0675", "zone": "z1", "category": "school-p1", "seats": 1, "name": "石岐中心小学"},
    {"id": "S002", "zone": "z1", "category": "school-p1", "seats": 1},  # no name
]


def explanations(doc) -> dict[str, str]:
    res, _ = allocate_doc(doc)
    return {a: r["explanation"] for a, r in by_id(res).items()}


def school_round(**kw):
    apps = [
        applicant("A", "z1", "school-p1", 100, choices=["S0675"]),
        applicant("B", "z1", "school-p1", 90.5, choices=["S0675"], any_=True),
        applicant("C", "z1", "school-p1", 80, choices=["S0675", "S002"]),
        applicant("D", "z1", "school-p1", 95, choices=["S0675"], el=False),
    ]
    return instance(apps, copy.deepcopy(SCHOOLS), categories=copy.deepcopy(P1), **kw)


def test_a_school_round_reads_with_the_names_of_its_zone_category_and_schools():
    said = explanations(school_round())
    assert said == {
        "A": "您的积分 100 分，在石岐街道积分入学（小学一年级）排名第 1 位。"
        "您已被第 1 志愿石岐中心小学录取。",
        "B": "您的积分 90.5 分，在石岐街道积分入学（小学一年级）排名第 2 位。"
        "您服从区内调剂，已被 S002 录取。前面的志愿未录取的原因："
        "石岐中心小学录取分数线 100 分，您差 9.5 分。",
        "C": "您的积分 80 分，在石岐街道积分入学（小学一年级）排名第 3 位。"
        "您未获学位：石岐中心小学录取分数线 100 分，您差 20 分；"
        "S002 录取分数线 90.5 分，您差 10.5 分。",
        "D": "您不符合本次石岐街道积分入学（小学一年级）的申请条件，未参加排名。"
        "不符合的具体条件可在申请进度查询中查看；如有疑问，请到所在镇街窗口咨询。",
    }
    for text in said.values():
        assert "school-p1" not in text and "S0675" not in text and "z1" not in text


def test_without_names_the_ids_stand_in_with_spaces_around_them():
    doc = school_round()
    doc["categories"][0].pop("name")
    doc["zones"] = [{"id": "z1"}]
    doc["schools"] = [{k: v for k, v in s.items() if k != "name"} for s in SCHOOLS]
    said = explanations(doc)
    assert said["A"] == (
        "您的积分 100 分，在 z1 积分入学（school-p1）排名第 1 位。您已被第 1 志愿 S0675 录取。"
    )
    assert said["B"].endswith("前面的志愿未录取的原因：S0675 录取分数线 100 分，您差 9.5 分。")
    assert said["D"].startswith("您不符合本次 z1 积分入学（school-p1）的申请条件，未参加排名。")


def test_a_blank_or_non_string_name_counts_as_none():
    doc = school_round()
    doc["categories"][0]["name"] = "  "
    doc["schools"][0]["name"] = 7
    said = explanations(doc)
    assert said["A"] == (
        "您的积分 100 分，在石岐街道积分入学（school-p1）排名第 1 位。您已被第 1 志愿 S0675 录取。"
    )


def test_a_category_name_that_says_its_kind_is_used_alone():
    hukou = [{"id": "hukou", "kind": "household", "total": 1, "name": "积分入户"}]
    apps = [applicant("H1", "z1", "hukou", 88, {"k": 72}),
            applicant("H2", "z1", "hukou", 88, {"k": 70})]  # fmt: skip
    doc = instance(apps, categories=hukou, tie_break=["insured_months_city"])
    for a in doc["applicants"]:
        a["keys"] = {"insured_months_city": a.pop("keys")["k"]}
    said = explanations(doc)
    assert said == {
        "H1": "您的积分 88 分，在石岐街道积分入户排名第 1 位。本镇街指标 1 个，您已获得入户指标。",
        "H2": "您的积分 88 分，在石岐街道积分入户排名第 2 位。本镇街指标 1 个，录取分数线 88 分，"
        "您同分，但本市社保缴费月数为 70 个月，少于最后录取者的 72 个月，未获入户指标。",
    }
    assert category_label({"id": "hukou", "kind": "household"}) == "积分入户（hukou）"
    assert category_label({"id": "p1", "kind": "school", "name": "初中一年级"}) == (
        "积分入学（初中一年级）"
    )


def test_a_tie_broken_by_any_numeric_fact_names_it_in_words():
    """A round may break ties by any numeric fact: the facts vocabulary gives its words; a key
    that is no fact is named by itself."""
    hukou = [{"id": "hukou", "kind": "household", "total": 1, "name": "积分入户"}]
    for key, words in (("medical_insured_months_province", "省内其他城市医保月数为 70 个月"),
                       ("months_abroad", " months_abroad 为 70，少于最后录取者的 72")):  # fmt: skip
        apps = [applicant("H1", "z1", "hukou", 88, {key: 72}),
                applicant("H2", "z1", "hukou", 88, {key: 70})]  # fmt: skip
        said = explanations(instance(apps, categories=hukou, tie_break=[key]))
        assert f"您同分，但{words}" in said["H2"], said["H2"]


def test_a_vacancy_round_names_the_school_kept_and_the_round_withdrawn_from():
    doc = school_round(vacancy={"previous_output_sha256": "0" * 64,
                                "admitted": {"A": "S0675"}, "withdrawn": ["B"]})  # fmt: skip
    said = explanations(doc)
    assert said["A"] == (
        "您的积分 100 分，在石岐街道积分入学（小学一年级）排名第 1 位。"
        "您在上一轮已被石岐中心小学录取，本轮保留。"
    )
    assert said["B"] == "您已放弃本次石岐街道积分入学（小学一年级）的申请，不再参加分配。"
    assert said["C"] == (
        "您的积分 80 分，在石岐街道积分入学（小学一年级）排名第 2 位。"
        "您已被第 2 志愿 S002 录取。"
        "前面的志愿未录取的原因：石岐中心小学录取分数线 100 分，您差 20 分。"
    )


def test_join_spaces_only_where_latin_meets_chinese():
    assert join("志愿", "S002", "录取") == "志愿 S002 录取"
    assert join("：", "S002", "，") == "：S002，"
    assert join("第2小学", "录取") == "第2小学录取"  # a name is never changed inside
    assert join("石岐街道", "积分入学（p1）") == "石岐街道积分入学（p1）"
