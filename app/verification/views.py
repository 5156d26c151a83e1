"""A reviewer's work: the department's queue, and a decision on one fact of one application."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from app.accounts.models import DEPARTMENTS
from app.accounts.web import current_actor, guard, keys, refuse, require
from app.applications import views as applications
from app.applications.models import Application
from app.applications.operations import NotFound, get_application
from app.db import commit_request, request_session
from app.localtime import beijing_today
from app.verification import operations as ops

bp = Blueprint("verification", __name__, url_prefix="/office")
bp.before_request(guard)


@bp.get("/queue")
def queue():
    require("reviewer")
    zone = request.args.get("zone", "").strip()[:32]
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 1
    return _queue_page(zone, page)


def _queue_page(zone: str, page: int, error: str = ""):
    found = ops.queue(request_session(), current_actor(), zone=zone, page=page)
    return render_template(
        "office/queue.html",
        queue=found,
        zone=zone,
        department=DEPARTMENTS.get(found.department, found.department),
        error=error,
        confirmed=request.args.get("confirmed", ""),
    )


def _posted_decision(fact: str) -> tuple[int, ops.Decision]:
    """The form's version (-1 when missing) and the decision it asks for."""
    form = request.form
    try:
        version = int(form.get("version", ""))
    except ValueError:
        version = -1
    decision = ops.Decision(
        fact=fact, decision=form.get("decision", ""), value=form.get("value", ""),
        reason=form.get("reason", ""), evidence=form.get("evidence", ""),
    )  # fmt: skip
    return version, decision


@bp.post("/queue/confirm")
def confirm_many():
    """The queue's bulk action: confirm every waiting fact of the ticked applications."""
    require("reviewer")
    db, actor = request_session(), current_actor()
    chosen = [n.strip() for n in request.form.getlist("application") if n.strip()][:500]
    evidence = request.form.get("evidence", "")
    zone = request.form.get("zone", "").strip()[:32]
    if not chosen:
        return _queue_page(zone, 1, error="请勾选要确认的申请。"), 422
    try:
        count = ops.confirm_many(
            db, actor, keys(), chosen, evidence=evidence, today=beijing_today()
        )
    except NotFound as exc:
        refuse("fact.confirm_many", "application", str(exc))
    except ops.Refused as exc:
        db.rollback()
        return _queue_page(zone, 1, error=exc.zh), 422
    commit_request()
    return redirect(url_for("verification.queue", zone=zone, confirmed=count), 303)


@bp.post("/applications/<application_no>/facts/<fact>/change")
def request_change(application_no: str, fact: str):
    """A reviewer's change to a fact already settled: it waits for the city's approval."""
    require("reviewer")
    db, actor = request_session(), current_actor()
    version, decision = _posted_decision(fact)
    try:
        ops.request_change(
            db, actor, application_no, decision, version=version, today=beijing_today()
        )
    except NotFound:
        refuse("fact.change.request", "application", application_no)
    except ops.Refused as exc:
        db.rollback()
        application = get_application(db, actor, application_no)
        page = applications.detail_page(application, None, settle_error=(fact, exc.zh))
        return page, 409 if isinstance(exc, ops.Stale) else 422
    commit_request()
    return redirect(url_for("applications.detail", application_no=application_no), 303)


@bp.post("/changes/<int:change_id>")
def decide_change(change_id: int):
    """The city approves or refuses a change after verification."""
    require("admin")
    db, actor = request_session(), current_actor()
    approve = request.form.get("decision") == "approve"
    try:
        change = ops.decide_change(
            db, actor, keys(), change_id, approve=approve, today=beijing_today()
        )
    except NotFound:
        refuse("fact.change.decide", "change", str(change_id))
    except ops.Refused as exc:
        db.rollback()
        return applications.error_page(exc.zh), 422
    number = db.get(Application, change.application_id).application_no
    commit_request()
    return redirect(url_for("applications.detail", application_no=number), 303)


@bp.post("/applications/<application_no>/return")
def return_application(application_no: str):
    require("clerk", "reviewer")
    db, actor = request_session(), current_actor()
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        version = -1
    try:
        ops.return_for_correction(
            db, actor, application_no, request.form.get("reason", ""), version=version
        )
    except NotFound:
        refuse("application.return", "application", application_no)
    except ops.Refused as exc:
        db.rollback()
        application = get_application(db, actor, application_no)
        status = 409 if isinstance(exc, ops.Stale) else 422
        return applications.detail_page(application, None, return_error=exc.zh), status
    commit_request()
    return redirect(url_for("applications.detail", application_no=application_no), 303)


@bp.post("/applications/<application_no>/facts/<fact>")
def settle(application_no: str, fact: str):
    require("reviewer")
    db, actor = request_session(), current_actor()
    version, decision = _posted_decision(fact)
    try:
        ops.settle(
            db, actor, keys(), application_no, decision, version=version, today=beijing_today()
        )
    except NotFound:
        refuse("fact.settle", "application", application_no)
    except ops.Refused as exc:
        db.rollback()
        try:
            application = get_application(db, actor, application_no)
        except NotFound:
            refuse("fact.settle", "application", application_no)
        status = 409 if isinstance(exc, ops.Stale) else 422
        page = applications.detail_page(application, None, settle_error=(fact, exc.zh))
        return page, status
    commit_request()
    return redirect(
        url_for("applications.detail", application_no=application_no, settled=fact), 303
    )
