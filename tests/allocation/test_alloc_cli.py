"""`jifen allocate` / `jifen instance`: bad input, explain, diff, verify, vacancy round."""

from __future__ import annotations

import copy
import json

import pytest
from alloc_testlib import applicant, instance

from app.cli import main

SCHOOLS = [
    {"id": "s1", "zone": "z1", "category": "school", "seats": 1},
    {"id": "s2", "zone": "z1", "category": "school", "seats": 1},
]
CATS = [{"id": "school", "kind": "school", "total": 2}]


def good_doc():
    return copy.deepcopy(_good_doc())


def _good_doc():
    return instance(
        [
            applicant("A", "z1", "school", 100, choices=["s1", "s2"]),
            applicant("B", "z1", "school", 90, choices=["s1", "s2"]),
            applicant("C", "z1", "school", 80.5, choices=["s1"]),
        ],
        SCHOOLS,
        CATS,
    )


def write(tmp_path, name, doc):
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False))
    return str(p)


def bad(mutate):
    doc = good_doc()
    mutate(doc)
    return doc


BAD = [
    ("unknown zone", bad(lambda d: d["applicants"][1].update(zone="nowhere")),
     ["applicants[1] (id 'B')", "field 'zone'", "unknown zone 'nowhere'", "未知镇街"]),
    ("unknown school", bad(lambda d: d["applicants"][2].update(choices=["s9"])),
     ["applicants[2] (id 'C')", "field 'choices[0]'", "unknown school 's9'"]),
    ("duplicate id", bad(lambda d: d["applicants"][2].update(id="A")),
     ["applicants[2] (id 'A')", "field 'id'", "duplicate id", "编号重复"]),
    ("negative seats", bad(lambda d: d["schools"][0].update(seats=-3)),
     ["schools id 's1'", "field 'seats'", "-3"]),
    ("format tag", bad(lambda d: d.update(format="jifen.allocation/9")),
     ["field 'format'", "jifen.allocation/1"]),
    ("three decimals", bad(lambda d: d["applicants"][0].update(points=1.234)),
     ["applicants[0] (id 'A')", "field 'points'"]),
    ("school in another zone", bad(lambda d: d["zones"].append({"id": "z2", "name": "东区"})
                                   or d["schools"][1].update(zone="z2")),
     ["applicants[0] (id 'A')", "field 'choices[1]'", "not in zone 'z1'"]),
    ("malformed json", '{"format": "jifen.allocation/1", "applicants": [',
     ["malformed JSON", "JSON 格式错误"]),
]  # fmt: skip


@pytest.mark.parametrize("name,doc,needles", BAD, ids=[b[0] for b in BAD])
def test_bad_instances_fail_naming_record_and_field(tmp_path, capsys, name, doc, needles):
    path = write(tmp_path, "in.json", doc)
    out = tmp_path / "out.json"
    assert main(["allocate", path, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    for n in needles:
        assert n in err, (n, err)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "in.json"]


def test_allocate_explain_diff_verify(tmp_path, capsys):
    path = write(tmp_path, "in.json", good_doc())
    out = tmp_path / "r.json"
    assert main(["allocate", path, "-o", str(out), "--quiet"]) == 0
    res = json.loads(out.read_text())
    got = {a["applicant"]: (a["status"], a["school"], a["choice_rank"]) for a in res["assignments"]}
    assert got == {
        "A": ("admitted", "s1", 1),
        "B": ("admitted", "s2", 2),
        "C": ("not_admitted", None, None),
    }
    capsys.readouterr()
    assert main(["allocate", str(out), "--explain", "C"]) == 0
    text = capsys.readouterr().out
    # no names in this instance: the ids stand in, set off by spaces
    assert (
        "您的积分 80.5 分，在石岐街道积分入学（school）排名第 3 位。"
        "您未获学位：s1 录取分数线 100 分，您差 19.5 分。"
    ) in text
    # verify: the hash and a byte-identical rerun
    assert main(["allocate", path, "--verify", str(out), "--quiet"]) == 0
    assert "byte-identical" in capsys.readouterr().out
    tampered = res.copy()
    tampered["quotas"] = {"school": {"z1": 3}}
    tp = write(tmp_path, "t.json", tampered)
    assert main(["allocate", path, "--verify", tp, "--quiet"]) == 1
    # what-if: one more seat at s1
    doc2 = good_doc()
    doc2["schools"][0]["seats"] = 2
    doc2["categories"][0]["total"] = 3
    p2 = write(tmp_path, "in2.json", doc2)
    capsys.readouterr()
    assert main(["allocate", p2, "--diff", str(out), "--quiet"]) == 0
    d = capsys.readouterr().out
    assert "B: admitted s2 -> admitted s1" in d
    assert "quota school/z1: 2 -> 3" in d
    assert "cut-off school/z1/s1: points 100 -> 90, admitted 1 -> 2 of 2" in d


@pytest.mark.parametrize(
    "extra", [["-o", "other.json"], [], ["--verify", "r.json"], ["--explain", "A", "-o", "o.json"]]
)
def test_a_result_where_an_instance_is_expected_is_an_error(tmp_path, capsys, monkeypatch, extra):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "in.json", good_doc())
    assert main(["allocate", path, "-o", "r.json", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["allocate", "r.json", *extra]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "jifen: r.json is an allocation result (jifen.allocation-result/1), not an instance:"
        " only --explain and --diff read a result"
        " / 这是分配结果文件，不是分配实例：只有 --explain 和 --diff 可以读取结果文件\n"
    )
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "r.json"]


def test_vacancy_round_keeps_admissions_and_fills_freed_seats(tmp_path, capsys):
    path = write(tmp_path, "in.json", good_doc())
    r1 = tmp_path / "r1.json"
    assert main(["allocate", path, "-o", str(r1), "--quiet"]) == 0
    v = tmp_path / "vac.json"
    assert main(["instance", "vacancy", path, "--previous", str(r1), "--withdraw", "A",
                 "-o", str(v)]) == 0  # fmt: skip
    vac = json.loads(v.read_text())["vacancy"]
    assert vac["admitted"] == {"B": "s2"} and vac["withdrawn"] == ["A"]
    r2 = tmp_path / "r2.json"
    assert main(["allocate", str(v), "-o", str(r2), "--quiet"]) == 0
    res = json.loads(r2.read_text())
    got = {a["applicant"]: (a["status"], a["school"], a["reason"]) for a in res["assignments"]}
    # B keeps s2 although s1 is now free: admissions of the first round are not reopened
    assert got == {
        "A": ("not_admitted", None, "withdrawn"),
        "B": ("admitted", "s2", "admitted_kept"),
        "C": ("admitted", "s1", "admitted_choice"),
    }
    assert res["checks"]["ok"] and res["manifest"]["params"]["vacancy"]["withdrawn"] == ["A"]
    assert main(["instance", "vacancy", path, "--previous", str(r1), "--withdraw", "Q",
                 "-o", str(tmp_path / "x.json")]) == 2  # fmt: skip
    assert "Q" in capsys.readouterr().err


def test_generate_is_reproducible_and_allocates(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    args = ["instance", "generate", "--applicants", "3000", "--zones", "4", "--schools", "40"]
    assert main([*args, "--seed", "9", "-o", str(a)]) == 0
    assert main([*args, "--seed", "9", "-o", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    doc = json.loads(a.read_text())
    assert len(doc["applicants"]) == 3000 and len(doc["schools"]) == 40
    fam = [x for x in doc["applicants"] if x.get("family")]
    assert 0.03 * 3000 <= len(fam) <= 0.07 * 3000
    assert {c["kind"] for c in doc["categories"]} == {"household", "school"}
    r = tmp_path / "r.json"
    assert main(["allocate", str(a), "-o", str(r), "--quiet"]) == 0
    res = json.loads(r.read_text())
    assert res["checks"]["ok"] and res["checks"]["capacity_ok"]


def test_fast_serialisation_equals_canonical_json():
    from allocation.generate import generate
    from allocation.instance import parse_instance
    from allocation.result import run_columns, serialise, verify_bytes

    doc = generate(2500, zones=3, schools=30, seed=4, tie_policy="admit_all")
    doc["applicants"][0]["id"] = 'A"quoted\\和'  # escaping must match json.dumps
    result, cols = run_columns(parse_instance(doc))
    fast = serialise(result, cols)
    result2, cols2 = run_columns(parse_instance(doc))
    result2["assignments"] = cols2.records()
    assert serialise(result2) == fast
    assert verify_bytes(fast)[0]


def test_orjson_escapes_strings_like_json_dumps():
    """The fast writer relies on orjson escaping exactly as json.dumps(ensure_ascii=False)."""
    import orjson

    cps = [i for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF]
    for i in range(0, len(cps), 4096):
        s = "".join(map(chr, cps[i : i + 4096]))
        assert orjson.dumps(s) == json.dumps(s, ensure_ascii=False).encode()
    for i in range(0x80):
        assert orjson.dumps(chr(i)) == json.dumps(chr(i), ensure_ascii=False).encode()


def test_fast_serialisation_awkward_strings_and_blocks():
    from allocation.generate import generate
    from allocation.instance import canonical_bytes, parse_instance
    from allocation.result import iter_serialised, run_columns, serialise

    doc = generate(700, zones=2, schools=8, seed=9)
    awkward = ['","', "\\", 'a\\"', '"', '\\","\\', "\x00\x1f\x7f\u2028", '",{"x":"', "末"]
    for a, new_id in zip(doc["applicants"], awkward, strict=False):
        a["id"] = new_id
    result, cols = run_columns(parse_instance(doc))
    expected = canonical_bytes(cols.records())
    for block in (1, 2, 7, 10_000):
        assert b"".join(cols.json_chunks(block)) == expected
    assert b"".join(iter_serialised(result, cols)) == serialise(result, cols)
    result2, cols2 = run_columns(parse_instance(doc))
    result2["assignments"] = cols2.records()
    assert serialise(result2) == serialise(result, cols)


def test_a_failed_certificate_writes_the_result_and_exits_3(tmp_path, capsys, monkeypatch):
    """Exit 3: the result is written (it is evidence) but says the run is not certified."""
    import allocation.result as result_mod

    real = result_mod.certify

    def broken(inst, out):
        checks = real(inst, out)
        return {**checks, "capacity_ok": False, "ok": False}

    monkeypatch.setattr(result_mod, "certify", broken)
    src = write(tmp_path, "i.json", good_doc())
    out = tmp_path / "r.json"
    assert main(["allocate", src, "-o", str(out)]) == 3
    err = capsys.readouterr().err
    assert "capacity_ok=False" in err and "certification FAILED / 校验未通过" in err
    res = json.loads(out.read_text())
    assert res["checks"]["ok"] is False and res["checks"]["capacity_ok"] is False
    assert len(res["assignments"]) == 3
    assert main(["allocate", src, "--explain", "A"]) == 0  # explaining still works


def test_an_unwritable_output_is_a_clear_error_and_leaves_nothing(tmp_path, capsys):
    src = write(tmp_path, "i.json", good_doc())
    out_dir = tmp_path / "no-such-dir"
    for argv in (
        ["allocate", src, "-o", str(out_dir / "r.json")],
        ["instance", "generate", "--applicants", "5", "-o", str(out_dir / "g.json")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "cannot write" in err and "无法写出文件" in err and "Traceback" not in err
    assert not out_dir.exists()
