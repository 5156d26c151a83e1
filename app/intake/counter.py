"""At the 镇街 window: a clerk files an application on behalf of the applicant, for their own
zones, with the same form fields, the same checks and the same writer as online."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, redirect, render_template, request, url_for

from app.accounts.web import current_actor, guard, keys, require
from app.db import commit_request, request_session
from app.intake import operations as ops
from app.intake.views import LABELS, ApplyForm, prepare_choices
from app.public.forms import AnswerError, form_class
from app.rounds.models import Round
from app.rounds.operations import round_config
from scoring.tables import get_table

bp = Blueprint("counter", __name__, url_prefix="/office")
bp.before_request(guard)


def _round(round_id: str) -> Round:
    found = request_session().get(Round, round_id)
    if found is None:
        abort(404)
    return found


def _page(round_, form, facts_form, problems=None, status=200):
    page = render_template(
        "office/new_application.html", round=round_, form=form, facts_form=facts_form,
        problems=problems or {}, labels=LABELS, submission=form.submission(),
        has_schools=bool(form.schools), max_siblings=ops.MAX_SIBLINGS,
    )  # fmt: skip
    return page, status


@bp.route("/rounds/<round_id>/applications/new", methods=["GET", "POST"])
def new_application(round_id: str):
    require("admin", "clerk")
    round_ = _round(round_id)
    db, actor = request_session(), current_actor()
    config = round_config(db, round_)
    table = get_table(round_.table_id)
    posted = request.method == "POST"
    form = ApplyForm() if posted else ApplyForm(formdata=None, round_id=round_.id)
    facts_form = form_class(table)() if posted else form_class(table)(formdata=None)
    prepare_choices(form, config, zones=actor.zones if actor.role == "clerk" else None)
    if not posted:
        return _page(round_, form, facts_form)
    problems: dict[str, str] = {}
    facts: dict = {}
    if not (form.validate() and facts_form.validate()):
        problems = {n: "；".join(e) for n, e in {**form.errors, **facts_form.errors}.items()}
    else:
        try:
            facts = facts_form.facts_input()
        except AnswerError as exc:
            facts_form.attach(exc)
            problems["facts"] = exc.message
    if problems:
        return _page(round_, form, facts_form, problems, 422)
    facts.pop("reference_date", None)
    submission = form.submission()
    try:
        done = ops.submit(db, keys(), round_.id, submission, facts, today=dt.date.today(),
                          actor=actor)  # fmt: skip
    except ops.ApplicationRefused as exc:
        db.rollback()
        return _page(round_, form, facts_form, exc.by_field(set(LABELS)), 422)
    commit_request()
    return redirect(url_for("applications.detail", application_no=done.first), 303)
