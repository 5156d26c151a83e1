"""Which department verifies which fact, and what documents prove it: data in
tables/departments.toml."""

from __future__ import annotations

import functools
import tomllib

from scoring.facts import FACT_SPECS
from scoring.tables import TABLES_DIR

PATH = TABLES_DIR / "departments.toml"


@functools.cache
def _data() -> dict:
    return tomllib.loads(PATH.read_text(encoding="utf-8"))


@functools.cache
def owners() -> dict[str, str]:
    data = _data()
    owners = dict(data["owners"])
    missing = [f for f in FACT_SPECS if f not in owners]
    unknown = [d for d in owners.values() if d not in data["departments"]]
    if missing or unknown or set(owners) - set(FACT_SPECS):
        raise ValueError(
            f"{PATH.name}: facts without owner {missing}, unknown departments {unknown}"
        )
    return owners


def owner(fact: str) -> str:
    return owners()[fact]


@functools.cache
def documents() -> dict[str, tuple[str, ...]]:
    """The documents that prove each fact, for every fact."""
    listed = {fact: tuple(docs) for fact, docs in _data()["documents"].items()}
    missing = [f for f in FACT_SPECS if not listed.get(f)]
    if missing or set(listed) - set(FACT_SPECS):
        raise ValueError(f"{PATH.name}: facts without documents {missing}")
    return listed


def checklist(facts: list[str]) -> list[str]:
    """The documents for these facts, each once, in the order the facts come."""
    seen: dict[str, None] = {}
    for fact in facts:
        for document in documents()[fact]:
            seen.setdefault(document, None)
    return list(seen)
