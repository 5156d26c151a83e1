"""schemathesis against /api/v1/openapi.json, in-process over WSGI: no server errors, and every
response conforms to the document (status codes, content types, bodies); schema-valid requests
are accepted and schema-violating ones refused."""

from __future__ import annotations

import datetime as dt

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from web_helpers import make_app

from app.localtime import beijing_today
from scoring.facts import (
    FACT_SPECS,
    MONTH_FACTS,
    OLDEST_AGE,
    WORKING_AGE,
    add_years,
    months_between,
)

# Rate limiting is proven elsewhere; here it would only hide the endpoints behind 429s.
app = make_app(RATELIMIT_ENABLED=False)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def not_in_the_future(case) -> None:
    """Dates after today are refused by rule (documented, but JSON Schema cannot say it): keep
    the generated valid requests valid by moving such dates back to today."""
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return
    facts = case.body.get("facts") if isinstance(case.body, dict) else None
    if not isinstance(facts, dict):
        return
    today = beijing_today().isoformat()
    for name, value in facts.items():
        spec = FACT_SPECS.get(name)
        if spec and spec.kind == "date" and isinstance(value, str) and value > today:
            facts[name] = today
    keep_together(facts)


def keep_together(facts: dict) -> None:
    """Facts must also fit together on the reference date (documented; JSON Schema cannot say
    it either): a birth date before it and within a century, and no more months than the years
    since age 16 hold."""
    born = facts.get("birth_date")
    if not isinstance(born, str):
        return
    on = beijing_today()
    try:
        day = dt.date.fromisoformat(born)
        if isinstance(facts.get("reference_date"), str):
            on = dt.date.fromisoformat(facts["reference_date"])
    except ValueError:
        return
    if day > on or add_years(day, OLDEST_AGE) < on:
        day = add_years(on, -30) if on.year > 30 else dt.date(1, 1, 1)
        facts["birth_date"] = day.isoformat()
    limit = max(0, months_between(add_years(day, WORKING_AGE), on))
    for name in MONTH_FACTS:
        value = facts.get(name)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                continue
        if isinstance(value, int | float) and not isinstance(value, bool) and value > limit:
            facts[name] = limit


# One pytest item per (operation, generation mode), each with its own node id: pytest-xdist
# distributes items by node id, and `schema.parametrize()` gives all operations the same one,
# so under `-n 2` only one operation would run.
OPERATIONS = [result.ok() for result in schema.get_all_operations()]
# Schema-violating requests exist only where there is a body to break (the GET operations take
# a free-form path string or nothing).
CASES = [
    pytest.param(op, mode, id=f"{op.label} {mode.value}")
    for op in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or op.method.upper() == "POST"
]


@pytest.mark.parametrize(("operation", "mode"), CASES)
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_api_conforms_to_its_openapi_document(operation, mode, data):
    case = data.draw(operation.as_strategy(generation_mode=mode))
    not_in_the_future(case)
    case.call_and_validate()


def test_every_operation_is_exercised():
    labels = {op.label for op in OPERATIONS}
    assert {"GET /api/v1/tables", "POST /api/v1/score", "POST /api/v1/suggest",
            "GET /api/v1/office/facts", "POST /api/v1/office/decisions"} <= labels  # fmt: skip
