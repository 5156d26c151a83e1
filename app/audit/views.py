"""The audit log browser (admin and auditor): filter by actor, action, object, zone."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlmodel import func, select

from app.accounts.web import guard, require
from app.audit.models import AuditEntry
from app.db import request_session

bp = Blueprint("audit", __name__, url_prefix="/office")
bp.before_request(guard)
PAGE = 100


@bp.get("/audit")
def browse():
    require("admin", "auditor")
    db = request_session()
    query = select(AuditEntry)
    for field in ("actor", "action", "object_id", "zone"):
        value = request.args.get(field, "").strip()
        if value:
            query = query.where(getattr(AuditEntry, field) == value)
    total = db.exec(select(func.count()).select_from(query.subquery())).one()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows = db.exec(query.order_by(AuditEntry.seq.desc()).offset((page - 1) * PAGE).limit(PAGE))
    return render_template(
        "office/audit.html", rows=rows.all(), total=total, page=page,
        pages=max(1, -(-total // PAGE)), args=request.args,
    )  # fmt: skip
