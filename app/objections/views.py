"""The office's side of objections: the queue of a zone's open objections, and settling one
(from the application's page)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from app.accounts.web import current_actor, guard, refuse, require
from app.applications.operations import NotFound, Refused
from app.db import commit_request, request_session
from app.objections import operations as ops
from app.objections.models import Objection
from scoring.facts import FACT_SPECS

bp = Blueprint("objections", __name__, url_prefix="/office")
bp.before_request(guard)


@bp.get("/objections")
def queue():
    require("admin", "clerk", "auditor")
    rows = ops.queue(request_session(), current_actor(), request.args.get("round", ""))
    return render_template("office/objections.html", rows=rows, FACT_SPECS=FACT_SPECS)


@bp.post("/objections/<int:objection_id>")
def resolve(objection_id: int):
    require("admin", "clerk")
    db = request_session()
    objection = db.get(Objection, objection_id)
    try:
        ops.resolve(db, current_actor(), objection_id, request.form.get("outcome", ""),
                    request.form.get("resolution", ""))  # fmt: skip
    except NotFound:
        refuse("objection.resolve", "objection", str(objection_id))
    except Refused as exc:
        db.rollback()
        return render_template("office/message.html", message=exc.zh), 422
    commit_request()
    from app.applications.models import Application

    number = db.get(Application, objection.application_id).application_no
    return redirect(url_for("applications.detail", application_no=number), 303)
