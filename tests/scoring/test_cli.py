"""`jifen score` and `jifen tables` as a user runs them."""

import json

from app.cli import main


def test_score_prints_the_documented_json(tmp_path, capsys):
    facts = tmp_path / "facts.json"
    facts.write_text(
        json.dumps(
            {
                "education": "senior_high",
                "skill_level": "level4",
                "blood_donations": 3,
                "volunteer_hours": 100,
            }
        )
    )
    assert main(["score", "guangdong-2010", str(facts), "--on", "2024-01-01"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {
        "table",
        "total",
        "qualification_score",
        "ranking_score",
        "threshold",
        "eligible",
        "items",
        "vetoes",
        "notes",
        "reference_date",
        "points_incomplete",
        "conditions_unchecked",
        "gaps",
    }
    assert out["total"] == 60 and out["eligible"] is True
    assert out["reference_date"] == "2024-01-01"
    # The provincial table leaves out insurance and awards (for everyone) and titles (only for
    # those who have one or a skill level, as here).
    assert out["points_incomplete"] is True and out["conditions_unchecked"] == []
    assert [g["code"] for g in out["gaps"]] == ["insurance", "awards", "titles"]
    assert out["notes"][-1] == (
        "本测算未计入：参加社会保险的加分（省文件附件所载分值未读到）；获得表彰奖励的加分；"
        "专业技术职称和高级技师的加分。实际积分可能更高。"
    )
    assert {i["code"]: i["points"] for i in out["items"] if i["points"]} == {
        "education": 20,
        "skill": 30,
        "blood": 6,
        "volunteer": 4,
    }
    assert out["items"][2]["rule"] == "献血次数 3 次，每次计 2 分，得 6 分"


def test_bad_facts_exit_non_zero_with_a_line_per_field(tmp_path, capsys):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"education": "phd", "blood_donations": "many"}))
    assert main(["score", "guangdong-2010", str(facts)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("education（最高学历）：不是有效的选项")
    assert err[1] == "blood_donations（献血次数）：应为数字 / must be a number"


def test_malformed_json_and_unknown_table(tmp_path, capsys):
    facts = tmp_path / "facts.json"
    facts.write_text("{not json")
    assert main(["score", "guangdong-2010", str(facts)]) == 2
    assert "不是有效的 JSON" in capsys.readouterr().err
    assert main(["score", "nowhere-1999", str(facts)]) == 2
    assert "未知的积分表 / unknown table: nowhere-1999" in capsys.readouterr().err


def test_tables_check_list_show(capsys):
    assert main(["tables", "check"]) == 0
    assert "tables OK" in capsys.readouterr().out
    assert main(["tables", "list", "--json"]) == 0
    listed = {t["id"]: t for t in json.loads(capsys.readouterr().out)}
    assert listed["guangdong-2010"]["threshold"] == 60
    assert main(["tables", "show", "guangdong-2010", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["facts"][:2] == ["education", "skill_level"]
    assert {s["id"] for s in shown["sources"]} >= {"gdgov2010", "gmw2010"}


def test_batch_csv_skips_bad_rows_and_matches_scalar(tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text(
        "id,education,volunteer_hours,criminal_record,family_planning_violation_date\n"
        "a1,associate,99.5,,\n"
        "a2,bachelor,0,true,2022-01-01\n"
        "a3,phd,x,,\n"
    )
    out = tmp_path / "out.csv"
    assert (
        main(
            [
                "score",
                "guangdong-2010",
                "--batch",
                str(source),
                "-o",
                str(out),
                "--on",
                "2024-01-01",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "第 3 行 education：不是有效的选项" in err
    assert "第 3 行 volunteer_hours" in err
    lines = out.read_text().splitlines()
    assert lines[0].startswith("id,total,qualification_score,ranking_score,item:education")
    assert lines[1].startswith("a1,62,62,62,60,")
    assert lines[2].startswith("a2,-20,-20,-20,80,")
    assert lines[0].endswith(",eligible,ban_until,gaps")
    assert lines[2].endswith(",false,2027-01-01,insurance;awards")
    assert len(lines) == 3


def test_batch_jsonl_in_and_out(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "j1", "education": "associate", "volunteer_hours": 99.5, '
        '"criminal_record": false}\n'
        '{"id": "j2", "education": "bachelor", "blood_donations": true}\n'
        '{"id": "j3", "education": "senior_high", "charity_yuan": 2999, "blood_donations": 2}\n'
    )
    out = tmp_path / "out.jsonl"
    assert (
        main(
            [
                "score",
                "guangdong-2010",
                "--batch",
                str(source),
                "-o",
                str(out),
                "--on",
                "2024-01-01",
            ]
        )
        == 1
    )
    assert "第 2 行 blood_donations" in capsys.readouterr().err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["j1", "j3"]
    assert rows[0]["total"] == 62 and rows[0]["eligible"] is True
    assert rows[1]["total"] == 28 and rows[1]["item:charity"] == 4 and rows[1]["ban_until"] is None
    assert rows[1]["gaps"] == ["insurance", "awards"]
