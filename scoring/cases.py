"""Test cases as data: each table's `<id>.cases.toml` says which facts give which figures."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from scoring.engine import ScoreResult, score
from scoring.facts import Facts, FactsError
from scoring.model import Table
from scoring.tables import CASES_SUFFIX, TABLES_DIR, decimal_str


@dataclass(frozen=True)
class Case:
    table_id: str
    name: str
    source: str
    on: dt.date
    facts: dict[str, Any]
    total: Decimal
    eligible: bool
    items: dict[str, Decimal]
    qualification_score: Decimal | None = None
    ranking_score: Decimal | None = None
    vetoes: dict[str, dt.date | bool] = field(default_factory=dict)

    def check(self, table: Table) -> list[str]:
        """What differs between the case and the engine (empty when it passes)."""
        try:
            facts = Facts.parse(self.facts, today=self.on)
        except FactsError as exc:
            return [f"facts do not validate: {exc}"]
        result: ScoreResult = score(table, facts, on=self.on)
        problems = []
        if result.total != self.total:
            problems.append(
                f"total {decimal_str(result.total)} != expected {decimal_str(self.total)}"
            )
        if result.eligible != self.eligible:
            problems.append(f"eligible {result.eligible} != expected {self.eligible}")
        got = {i.code: i.points for i in result.items if i.points}
        if got != self.items:
            problems.append(f"items {_items(got)} != expected {_items(self.items)}")
        for key in ("qualification_score", "ranking_score"):
            want = getattr(self, key)
            if want is not None and getattr(result, key) != want:
                problems.append(
                    f"{key} {decimal_str(getattr(result, key))} != expected {decimal_str(want)}"
                )
        vetoes = {v.code: v.ban_until or True for v in result.vetoes}
        if vetoes != self.vetoes:
            problems.append(f"vetoes {vetoes} != expected {self.vetoes}")
        return problems


def _items(points: dict[str, Decimal]) -> str:
    return "{" + ", ".join(f"{code} = {decimal_str(p)}" for code, p in points.items()) + "}"


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


class CaseFileError(ValueError):
    """A case file that cannot be read: the file and the reason."""


def load_cases(directory: Path | None = None) -> list[Case]:
    cases = []
    for path in sorted((directory or TABLES_DIR).glob(f"*{CASES_SUFFIX}")):
        try:
            cases.extend(_read_cases(path))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CaseFileError(f"{path.name}: not valid TOML: {exc}") from None
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise CaseFileError(f"{path.name}: a case lacks or misspells a field: {exc}") from None
    return cases


def _read_cases(path: Path) -> list[Case]:
    cases = []
    table_id = path.name.removesuffix(CASES_SUFFIX)
    for raw in tomllib.loads(path.read_text(encoding="utf-8"))["cases"]:
        cases.append(
            Case(
                table_id=table_id,
                name=raw["name"],
                source=raw["source"],
                on=raw["on"],
                facts=raw["facts"],
                total=_decimal(raw["total"]),
                eligible=raw["eligible"],
                items={k: _decimal(v) for k, v in raw["items"].items()},
                qualification_score=(
                    _decimal(raw["qualification_score"]) if "qualification_score" in raw else None
                ),
                ranking_score=(_decimal(raw["ranking_score"]) if "ranking_score" in raw else None),
                vetoes=raw.get("vetoes", {}),
            )
        )
    return cases
