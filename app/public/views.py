"""Public pages: the programmes by city, the checker form for one programme, and its result.

Nothing is stored or logged. The form POSTs, and the answer is a redirect (303) to the result
URL, which carries the answers as a signed code (app/public/answers.py): the result survives
Back, Forward and reload, and can be bookmarked or shared. Every /check/ page is sent with
`Cache-Control: no-store`.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from app.localtime import beijing_today
from app.public import answers, services
from app.public.forms import AnswerError, CheckerForm, form_class
from scoring.engine import gap_notes, score
from scoring.facts import FACT_SPECS, Facts, FactsError
from scoring.model import CONFIDENCE_LABELS, SECONDARY, Table
from scoring.programmes import chinese_date, valid_on
from scoring.tables import UnknownTable

bp = Blueprint("public", __name__)


@bp.app_template_filter("pts")
def _pts(value) -> str:
    return services.points(value)


@bp.app_template_filter("zhdate")
def _zhdate(value: dt.date) -> str:
    return chinese_date(value)


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
        "standing_of": services.standing_of,
        "gap_notes": gap_notes,
    }


def _table(table_id: str) -> Table:
    if len(table_id) > 100:
        abort(404)
    try:
        return services.find_table(table_id)
    except UnknownTable:
        abort(404)


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _checker(table: Table, form: CheckerForm, status: int = 200, alert: str = ""):
    page = render_template("checker.html", table=table, form=form, alert=alert)
    return page, status


@bp.get("/")
def home():
    return render_template("home.html", cities=services.by_city())


@bp.get("/check/<table_id>")
def checker(table_id: str):
    """The form; `?a=` fills it with answers carried over from another programme."""
    table = _table(table_id)
    form = form_class(table)(formdata=None)
    code = request.args.get("a")
    if code:
        try:
            raw, _ = answers.decode(_secret(), code)
            form.fill({k: v for k, v in raw.items() if k in FACT_SPECS})
        except (answers.BadCode, ValueError, TypeError, ArithmeticError):
            return _checker(
                table, form, 400, "链接不完整或已被改动，无法带入之前的回答，请直接填写。"
            )
    return _checker(table, form)


@bp.post("/check/<table_id>")
def result(table_id: str):
    table = _table(table_id)
    form = form_class(table)()
    if not form.validate():
        return _checker(table, form, 422)
    try:
        raw = form.facts_input()
        facts = Facts.parse(raw)
    except (AnswerError, FactsError) as exc:
        form.attach(exc)
        return _checker(table, form, 422)
    on = facts.reference_date or beijing_today()
    code = answers.encode(_secret(), raw, on)
    return redirect(url_for("public.shared", table_id=table.id, a=code), 303)


@bp.get("/check/<table_id>/result")
def shared(table_id: str):
    """The result of the answers in `?a=`, scored on the date they carry."""
    table = _table(table_id)
    form = form_class(table)(formdata=None)
    try:
        raw, on = answers.decode(_secret(), request.args.get("a", ""))
        facts = Facts.parse(raw, on=on)
        form.fill(raw)
    except (answers.BadCode, FactsError, ValueError, TypeError, ArithmeticError):
        return _checker(table, form, 400, "链接不完整或已被改动，无法显示结果，请重新填写。")
    answered = services.answered_facts(raw)
    outcome = score(table, facts, on=on)
    checked = services.check_conditions(table, facts, answered, on)
    every_kind = request.args.get("all") == "1"
    code = request.args["a"]
    return render_template(
        "result.html",
        table=table,
        standing=services.standing_of(table),
        form=form,
        result=outcome,
        verdict=services.verdict(outcome, table, checked),
        conditions=checked,
        on=on,
        on_in_period=valid_on(table, on),
        scored=[i for i in outcome.items if i.points],
        unscored=[i for i in outcome.items if not i.points],
        # the engine's own line for a failed condition is said above, in plainer words
        notes=[n for n in outcome.notes if not n.startswith("基本条件不符合")],
        sources={s.id: s for s in table.sources},
        groups={g.code: g.label for g in table.groups},
        suggestions=services.suggestions(table, facts, on=on),
        comparison=services.compare(table, facts, answered, on, every_kind=every_kind),
        every_kind=every_kind,
        documents=services.documents_needed(table, outcome, answered),
        code=code,
        carry_code=lambda other: _carry_code(raw, on, table, other),
        published=_published_cutoffs(table.id),
    )


def _published_cutoffs(table_id: str) -> dict | None:
    """Last year's published cut-offs for this programme, if the office has any. The checker
    works without the office's database: if it cannot be read, the result says nothing of
    cut-offs rather than failing."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.db import request_session
    from app.publicity.operations import latest_cutoffs

    try:
        return latest_cutoffs(request_session(), table_id)
    except SQLAlchemyError:
        current_app.logger.warning("published cut-offs unavailable: office database not readable")
        return None


def _carry_code(raw: dict, on: dt.date, current: Table, other: Table) -> str:
    """The answers that mean the same under `other` (all of them in the same city)."""
    if other.city == current.city:
        kept = raw
    else:
        kept = {k: v for k, v in raw.items() if k not in FACT_SPECS or not FACT_SPECS[k].local}
    return answers.encode(_secret(), kept, on)
