"""Points tables, facts, scoring, explanations, suggestions and batch scoring (no web imports)."""

from scoring.engine import ItemScore, ScoreResult, VetoHit, score
from scoring.facts import FACT_SPECS, FactError, Facts, FactsError, FactSpec
from scoring.suggest import Suggestion, suggest
from scoring.tables import TableError, UnknownTable, check_all, get_table, load_tables

__all__ = [
    "FACT_SPECS",
    "FactError",
    "FactSpec",
    "Facts",
    "FactsError",
    "ItemScore",
    "ScoreResult",
    "Suggestion",
    "TableError",
    "UnknownTable",
    "VetoHit",
    "check_all",
    "get_table",
    "load_tables",
    "score",
    "suggest",
]
