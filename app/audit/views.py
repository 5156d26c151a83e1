"""The audit log browser (admin and auditor): filter by actor, action, object, zone."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import or_
from sqlmodel import func, select

from app.accounts.web import guard, require
from app.applications.models import Application
from app.applications.operations import audit_history
from app.audit.actions import ACTION_NAMES
from app.audit.models import AuditEntry
from app.db import request_session

bp = Blueprint("audit", __name__, url_prefix="/office")
bp.before_request(guard)
PAGE = 100


def _about(db, object_id: str):
    """Entries about this object; for an application number, also the import of its file."""
    about = AuditEntry.object_id == object_id
    round_id = db.exec(
        select(Application.round_id).where(Application.application_no == object_id)
    ).first()
    if round_id is None:
        return about
    imports = [e.seq for e in audit_history(db, object_id, round_id) if e.object_id != object_id]
    return or_(about, AuditEntry.seq.in_(imports)) if imports else about


@bp.get("/audit")
def browse():
    require("admin", "auditor")
    db = request_session()
    filters = [
        getattr(AuditEntry, field) == value
        for field in ("actor", "action", "zone")
        if (value := request.args.get(field, "").strip())
    ]
    number = request.args.get("object_id", "").strip()
    if number:
        filters.append(_about(db, number))
    query = select(AuditEntry).where(*filters)
    total = db.exec(select(func.count()).select_from(query.subquery())).one()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows = db.exec(query.order_by(AuditEntry.seq.desc()).offset((page - 1) * PAGE).limit(PAGE))
    return render_template(
        "office/audit.html", rows=rows.all(), total=total, page=page,
        pages=max(1, -(-total // PAGE)), args=request.args, actions=ACTION_NAMES,
    )  # fmt: skip
