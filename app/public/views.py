"""Public pages: the programmes, the checker form for one programme, and its result.

Stateless: the answers live only in the request that carries them. Nothing is stored or logged;
the result page is rendered straight from the POST (no redirect, no session data) and is sent
with `Cache-Control: no-store`.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from app.public import services
from app.public.forms import form_class
from scoring.engine import gap_notes, score
from scoring.facts import FACT_SPECS, Facts, FactsError
from scoring.model import CONFIDENCE_LABELS, SECONDARY
from scoring.tables import UnknownTable

bp = Blueprint("public", __name__)


@bp.app_template_filter("pts")
def _pts(value) -> str:
    return services.points(value)


@bp.app_context_processor
def _globals() -> dict:
    return {
        "KIND_LABELS": services.KIND_LABELS,
        "CONFIDENCE_LABELS": CONFIDENCE_LABELS,
        "SECONDARY": SECONDARY,
        "FACT_SPECS": FACT_SPECS,
        "ILLUSTRATIVE_LABEL": services.ILLUSTRATIVE_LABEL,
        "SECONDARY_LABEL": services.SECONDARY_LABEL,
        "effective_words": services.effective_words,
        "verdict": services.verdict,
        "gap_notes": gap_notes,
    }


def _table(table_id: str):
    if len(table_id) > 100:
        abort(404)
    try:
        return services.find_table(table_id)
    except UnknownTable:
        abort(404)


@bp.get("/")
def home():
    return render_template("home.html", regions=services.by_region())


@bp.get("/check/<table_id>")
def checker(table_id: str):
    table = _table(table_id)
    form = form_class(table)()
    return render_template("checker.html", table=table, form=form)


@bp.post("/check/<table_id>")
def result(table_id: str):
    table = _table(table_id)
    form = form_class(table)()
    if not form.validate():
        return render_template("checker.html", table=table, form=form), 422
    try:
        facts = Facts.parse(form.facts_input())
    except FactsError as exc:
        form.attach(exc)
        return render_template("checker.html", table=table, form=form), 422
    on = facts.reference_date
    outcome = score(table, facts, on=on)
    given = services.given_facts(facts)
    return render_template(
        "result.html",
        table=table,
        form=form,
        result=outcome,
        sources={s.id: s for s in table.sources},
        groups={g.code: g.label for g in table.groups},
        suggestions=services.suggestions(table, facts, on=on),
        comparison=services.compare(facts, given, on=on),
        answers=form.facts_input(),
        current_id=table.id,
    )
