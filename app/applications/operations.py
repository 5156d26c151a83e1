"""Reading applications, within the actor's jurisdiction (a record outside it does not exist)."""

from __future__ import annotations

from sqlmodel import Session, select

from app.accounts.actor import Actor
from app.applications.models import Application


def list_applications(
    session: Session, actor: Actor, round_id: str, *, zone: str | None = None
) -> list[dict]:
    """`jifen applications list`: no personal data, only what the office lists publish."""
    query = select(
        Application.application_no,
        Application.zone_id,
        Application.category,
        Application.status,
        Application.ranking_cents,
    ).where(Application.round_id == round_id)
    if zone is not None:
        query = query.where(Application.zone_id == zone)
    if actor.role == "clerk" or (actor.role == "reviewer" and actor.zones):
        query = query.where(Application.zone_id.in_(sorted(actor.zones)))
    rows = session.exec(query.order_by(Application.id)).all()
    return [
        {
            "application_no": no,
            "zone": z,
            "category": category,
            "status": status,
            "ranking_score": None if cents is None else _points(cents),
        }
        for no, z, category, status, cents in rows
    ]


def _points(cents: int) -> int | float:
    return cents // 100 if cents % 100 == 0 else cents / 100
