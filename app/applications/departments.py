"""Which department verifies which fact: data in tables/departments.toml."""

from __future__ import annotations

import functools
import tomllib

from scoring.facts import FACT_SPECS
from scoring.tables import TABLES_DIR

PATH = TABLES_DIR / "departments.toml"


@functools.cache
def owners() -> dict[str, str]:
    data = tomllib.loads(PATH.read_text(encoding="utf-8"))
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
