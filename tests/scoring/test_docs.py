"""The documentation says what the code does: every fact, level, rule type, reason code and
module of the app is documented, and the examples of docs/formats.md are what the code gives."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import get_args

import pytest

from allocation.instance import canonical_bytes
from allocation.reasons import Reason
from app.applications import departments
from app.applications.importer import _columns, read_sheet
from app.applications.rows import RoundRules, check_rows
from app.cli import main
from app.protect import DataKeys
from app.rounds.operations import check_round
from scoring.facts import FACT_SPECS, FactSpec
from scoring.model import Item

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FORMATS = (DOCS / "formats.md").read_text(encoding="utf-8")


def example(name: str) -> str:
    """The fenced block that follows `<!-- example: NAME -->` in docs/formats.md."""
    found = re.search(rf"<!-- example: {name} -->\n```[a-z]*\n(.*?)\n```", FORMATS, re.S)
    assert found, f"no example {name!r} in docs/formats.md"
    return found.group(1)


def table_after(text: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after `heading` (header and rule left out)."""
    lines = text.split(heading + "\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def documented_values(spec: FactSpec) -> str:
    """What the vocabulary table says a fact takes, derived from its spec."""
    if spec.kind == "int":
        return f"{spec.minimum} – {spec.maximum}"
    if spec.kind == "decimal":
        places = len(str(spec.scale)) - 1
        return f"{spec.minimum} – {spec.maximum}, at most {places} decimals"
    if spec.kind == "enum":
        return ", ".join(f"`{value}`" for value in spec.levels)
    if spec.kind == "bool":
        return "`true`, `false`"
    return "YYYY-MM-DD, not after today"


def test_the_vocabulary_table_is_the_code_s_row_for_row():
    rows = table_after(FORMATS, "### The vocabulary")
    assert [row[0] for row in rows] == [f"`{name}`" for name in FACT_SPECS]
    for (_, kind, values, unit, label, local, meaning), spec in zip(
        rows, FACT_SPECS.values(), strict=True
    ):
        assert (kind, values, unit, label) == (
            spec.kind,
            documented_values(spec),
            spec.unit,
            spec.label,
        ), spec.name
        assert local == ("✓" if spec.local else ""), spec.name
        assert meaning, spec.name


def test_every_level_is_documented_with_its_chinese():
    rows = table_after(FORMATS, "### Levels")
    assert [tuple(row) for row in rows] == [
        (f"`{spec.name}`", f"`{value}`", label)
        for spec in FACT_SPECS.values()
        for value, label in spec.choices
    ]


def test_every_rule_type_is_documented():
    text = (DOCS / "tables.md").read_text(encoding="utf-8")
    kinds = [cls.model_fields["type"].annotation for cls in get_args(get_args(Item)[0])]
    names = [get_args(kind)[0] for kind in kinds]
    assert len(names) == 9
    assert [n for n in names if f"| `{n}` |" not in text] == []


def test_every_reason_code_is_documented():
    lines = FORMATS.split("| `reason` | `status` | when |\n", 1)[1].splitlines()[1:]
    rows = [line.split("|")[1].strip() for line in lines[: lines.index("")]]
    assert sorted(row.strip("`") for row in rows) == sorted(r.value for r in Reason)


def test_the_score_example_is_what_jifen_score_prints(tmp_path, capsys):
    facts = tmp_path / "facts.json"
    facts.write_text(example("score-facts"), encoding="utf-8")
    assert main(["score", "zhongshan-2020-school", str(facts)]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(example("score-output"))


def test_the_allocation_example_is_what_jifen_allocate_writes(tmp_path):
    instance, result = tmp_path / "instance.json", tmp_path / "result.json"
    instance.write_text(example("allocation-instance"), encoding="utf-8")
    assert main(["allocate", str(instance), "-o", str(result), "--quiet"]) == 0
    written, shown = json.loads(result.read_bytes()), json.loads(example("allocation-result"))
    # the versions (and so the output hash) are those of the machine that ran the example
    for doc in (written, shown):
        del doc["manifest"]["versions"], doc["manifest"]["output_sha256"]
    assert written == shown


def test_the_allocation_example_s_output_hash_is_its_own():
    shown = json.loads(example("allocation-result"))
    claimed = shown["manifest"]["output_sha256"]
    shown["manifest"]["output_sha256"] = ""
    assert hashlib.sha256(canonical_bytes(shown)).hexdigest() == claimed


def test_the_allocation_errors_are_what_jifen_allocate_says(tmp_path, capsys):
    doc = json.loads(example("allocation-instance"))
    doc["schools"][1]["seats"] = -1
    doc["applicants"][0]["zone"] = "nowhere"
    doc["applicants"][1]["points"] = 118.123
    instance, result = tmp_path / "bad.json", tmp_path / "result.json"
    instance.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert main(["allocate", str(instance), "-o", str(result)]) == 2
    said = capsys.readouterr().err.splitlines()
    assert said == example("allocation-errors").splitlines()
    assert not result.exists()


def test_the_round_example_is_valid_and_its_errors_are_check_round_s():
    config = json.loads(example("round"))
    assert check_round(config) == []
    config["id"] = "ZS 2026"
    config["application_window"] = config["application_window"][::-1]
    config["max_choices"] = 0
    config["tie_break"] = ["education"]
    config["table"] = "guangdong-2010"
    config["zones"][0]["office"]["email"] = "shiqi@example.org"
    config["schools"][0]["zone"] = "nanqu"
    header, *lines = example("round-errors").splitlines()
    assert header == "轮次配置有误 / invalid round configuration:"
    assert check_round(config) == [line.removeprefix("  - ") for line in lines]


def _check_import(tmp_path: Path, text: str) -> list[str]:
    """The problems of an import file for the example round, as the importer words them."""
    config = json.loads(example("round"))
    path = tmp_path / "import.csv"
    path.write_text(text + "\n", encoding="utf-8")
    sheet = read_sheet(path)
    positions, problems = _columns(sheet.header)
    assert problems == []
    rules = RoundRules(
        positions=positions,
        titles={name: sheet.header[i] for name, i in positions.items()},
        zones=frozenset(z["id"] for z in config["zones"]),
        kinds={c["id"]: c["kind"] for c in config["categories"]},
        schools={s["id"]: (s["zone"], s["category"]) for s in config["schools"]},
        sees_every_zone=True,
        own_zones=frozenset(),
        today=dt.date(2026, 3, 1),
        keys=DataKeys.from_secret("the documentation's example data key"),
        table_id=config["table"],
        owners=departments.owners(),
        verified=False,
        max_choices=config.get("max_choices"),
    )
    return [str(p) for result in check_rows(rules, sheet.rows) for p in result.problems]


def test_the_import_example_is_a_good_file(tmp_path):
    assert _check_import(tmp_path, example("import-csv")) == []


def test_the_import_errors_are_the_importer_s(tmp_path):
    problems = _check_import(tmp_path, example("import-bad-csv"))
    assert sorted(problems) == sorted(example("import-errors").splitlines())


@pytest.mark.parametrize("doc", [*sorted(p.name for p in DOCS.glob("*.md")), "../README.md"])
def test_every_file_a_doc_names_is_in_the_repository(doc):
    text = (DOCS / doc).read_text(encoding="utf-8")
    named = set(re.findall(r"\]\(([^)#\s]+)", text))  # link targets
    named |= set(re.findall(r"`((?:[\w.-]+/)+[\w.-]+\.(?:py|md|toml|css|html|cfg|txt))`", text))
    base = (DOCS / doc).parent
    missing = sorted(
        n for n in named if "://" not in n and not ((base / n).exists() or (ROOT / n).exists())
    )
    assert missing == []


def test_every_module_of_the_app_is_in_the_web_layout_table():
    rows = table_after((DOCS / "web.md").read_text(encoding="utf-8"), "## Layout")
    listed = set(re.findall(r"`(app/[\w/]+\.py)`", " ".join(row[0] for row in rows)))
    modules = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "app").rglob("*.py")
        if "migrations" not in p.relative_to(ROOT).parts
    }
    assert sorted(modules - listed) == []
    assert sorted(listed - modules) == []
