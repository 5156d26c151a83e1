"""Helpers shared by the web tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from app import create_app

TEST_KEY = "test-secret-key-" + "x" * 32
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def make_app(**overrides) -> Flask:
    config = {"SECRET_KEY": TEST_KEY, "TESTING": True, **overrides}
    return create_app(config)


def csrf_token(client: FlaskClient, table_id: str) -> str:
    page = client.get(f"/check/{table_id}")
    assert page.status_code == 200
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, "the checker form carries a CSRF token"
    return match.group(1)


def met_conditions(table_id: str) -> dict[str, str]:
    """Answers that meet every yes/no or choice condition of a table (a migrant parent of a
    first-grader who holds a residence permit and is insured here)."""
    from app.public.services import conditions
    from scoring.tables import get_table

    answers: dict[str, str] = {}
    for item in conditions(get_table(table_id)):
        if item.equals is not None and item.fact not in answers:
            answers[item.fact] = "y" if item.equals else "n"
        elif item.levels:
            answers[item.fact] = item.levels[0]
    return answers


def form_fields(table_id: str, answers: dict[str, str]) -> dict[str, str]:
    """Fact answers as the checker form's fields: months into the 个月 box, a home share into
    "alone"/"jointly" and a percentage, shares as percentages."""
    from decimal import Decimal, InvalidOperation

    from app.public.forms import form_class
    from scoring.tables import get_table

    questions = {q.fact: q for q in form_class(get_table(table_id)).questions}
    out: dict[str, str] = {}
    for name, value in answers.items():
        question = questions.get(name)
        kind = question.kind if question else "plain"
        if kind == "duration":
            out[f"{name}__months"] = value
        elif kind in ("home", "percent"):
            try:
                share = Decimal(value)
                percent = format((share * 100).normalize(), "f")
            except InvalidOperation:
                share, percent = Decimal(0), value
            if kind == "home" and share >= 1:
                out[f"{name}__owned"] = "sole"
            else:
                if kind == "home":
                    out[f"{name}__owned"] = "joint"
                out[f"{name}__percent"] = percent
        else:
            out[name] = value
    return out
