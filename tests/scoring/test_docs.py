"""The documentation names every fact and rule type the code knows."""

from pathlib import Path
from typing import get_args

from scoring.facts import FACT_SPECS
from scoring.model import Item

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_fact_is_documented():
    text = (DOCS / "scoring.md").read_text(encoding="utf-8")
    assert [name for name in FACT_SPECS if f"| `{name}` |" not in text] == []


def test_every_rule_type_is_documented():
    text = (DOCS / "tables.md").read_text(encoding="utf-8")
    kinds = [cls.model_fields["type"].annotation for cls in get_args(get_args(Item)[0])]
    names = [get_args(kind)[0] for kind in kinds]
    assert len(names) == 9
    assert [n for n in names if f"| `{n}` |" not in text] == []
