"""The office home: the rounds, with the counts of the actor's own applications."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template
from sqlmodel import func, select

from app.accounts.web import current_actor, guard
from app.applications.models import Application
from app.applications.operations import visible
from app.db import request_session
from app.rounds.models import Round
from app.rounds.operations import status

bp = Blueprint("rounds", __name__, url_prefix="/office")
bp.before_request(guard)

STATUS_LABELS = {
    "draft": "未开始", "open": "受理中", "closed": "已截止", "allocated": "已分配",
    "published": "公示中", "finalized": "已完成",
}  # fmt: skip


@bp.get("/")
def home():
    db = request_session()
    actor = current_actor()
    counts = dict(
        db.exec(
            visible(select(Application.round_id, func.count()), actor).group_by(
                Application.round_id
            )
        ).all()
    )
    today = dt.date.today()
    rounds = [
        {"round": r, "status": STATUS_LABELS[status(r, today)], "count": counts.get(r.id, 0)}
        for r in db.exec(select(Round).order_by(Round.year.desc(), Round.id)).all()
    ]
    return render_template("office/home.html", rounds=rounds)
