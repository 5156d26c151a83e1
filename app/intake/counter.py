"""At the 镇街 window: a clerk files an application on behalf of the applicant, for their own
zones, with the same form fields, the same checks and the same writer as online."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlmodel import select

from app.accounts.web import current_actor, guard, keys, refuse, require
from app.applications.models import Application
from app.db import commit_request, request_session
from app.intake import operations as ops
from app.intake.views import LABELS, ApplyForm, prepare_choices
from app.localtime import beijing_today
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
        done = ops.submit(db, keys(), round_.id, submission, facts, today=beijing_today(),
                          actor=actor)  # fmt: skip
    except ops.ApplicationRefused as exc:
        db.rollback()
        return _page(round_, form, facts_form, exc.by_field(set(LABELS)), 422)
    commit_request()
    return redirect(url_for("applications.detail", application_no=done.first), 303)


@bp.post("/applications/<application_no>/choices")
def correct_choices(application_no: str):
    """A recorded correction of the school choices (sealed at the window's close)."""
    from app.applications import operations as application_ops
    from app.applications.views import detail_page

    require("admin", "clerk")
    db, actor = request_session(), current_actor()
    form = request.form
    try:
        ops.correct_choices(
            db, actor, application_no, [c for c in form.getlist("choice") if c],
            form.get("accept_any") == "y", form.get("reason", ""),
            version=form.get("version", 0, type=int), today=beijing_today(),
        )  # fmt: skip
    except application_ops.NotFound:
        refuse("application.choices", "application", application_no)
    except application_ops.Refused as exc:
        db.rollback()
        application = db.exec(
            select(Application).where(Application.application_no == application_no)
        ).one()
        status = 409 if isinstance(exc, application_ops.Stale) else 422
        return detail_page(application, shown=None, choices_error=exc.zh), status
    commit_request()
    return redirect(url_for("applications.detail", application_no=application_no), 303)


@bp.route("/applications/<application_no>/correct", methods=["GET", "POST"])
def correct_application(application_no: str):
    """A returned application corrected at the window, on the applicant's behalf: the status
    page's form and rules (`status.operations.correct`), with the clerk as the actor."""
    from app.applications import operations as application_ops
    from app.status import operations as status_ops
    from app.status.views import send_correction

    require("admin", "clerk")
    db, actor = request_session(), current_actor()
    try:
        application = application_ops.get_application(db, actor, application_no)
    except application_ops.NotFound:
        refuse("application.correct", "application", application_no)
    round_ = db.get(Round, application.round_id)
    form_type = form_class(get_table(round_.table_id))
    problems: list[tuple[str, str]] = []
    view = status_ops.status_view(db, application)
    if request.method == "GET":
        facts_form = form_type(formdata=None)
        facts_form.fill(view.claimed_answers)
    else:
        facts_form = form_type()
        problems = send_correction(application, facts_form, actor)
        if not problems:
            commit_request()
            return redirect(url_for("applications.detail", application_no=application_no), 303)
    page = render_template(
        "office/correct_application.html", application=application, round=round_,
        facts_form=facts_form, problems=problems,
        reason=view.return_reason,
    )  # fmt: skip
    return page, 422 if problems else 200
