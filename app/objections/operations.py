"""Objections (异议) during the 公示: the applicant says what is wrong (which item, why); the
clerk of the zone sees it in a queue; the owning department re-checks the fact. An objection
ends either with the result maintained (and the reason the applicant reads) or corrected —
which only a change to a verified fact approved by the city (the maker-checker of the
verification) can do. While it is open, the applicant's line in the 公示 reads 复核中.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, func, select

from app.accounts.actor import Actor
from app.accounts.operations import Forbidden
from app.applications.models import Application, ClaimedFact
from app.applications.operations import NotFound, Refused, changed_and_told
from app.audit.operations import utcnow
from app.objections.models import Objection
from app.publicity.operations import publicity_ends
from app.rounds.models import Round
from app.rounds.operations import round_config
from app.verification.models import FactChange
from scoring.facts import FACT_SPECS
from scoring.programmes import chinese_date

OUTCOMES = {"maintained": "维持原结果", "corrected": "已更正"}


def objection_window(session: Session, round_: Round) -> tuple[dt.date, dt.date] | None:
    """The days objections are taken: the 公示's (None before it opens)."""
    ends = publicity_ends(round_, round_config(session, round_))
    return (round_.published_on, ends) if ends is not None else None


def open_objection(session: Session, application: Application) -> Objection | None:
    return session.exec(
        select(Objection).where(
            Objection.application_id == application.id, Objection.state == "open"
        )
    ).first()


def file(
    session: Session,
    actor: Actor,
    application: Application,
    fact: str,
    text: str,
    *,
    today: dt.date,
) -> Objection:
    """The applicant's objection (from the status page), within the 公示."""
    round_ = session.get(Round, application.round_id)
    window = objection_window(session, round_)
    if window is None or round_.finalized_at is not None:
        raise Refused("本轮结果尚未公示，或已经完成，现在不能提出异议。")
    if not window[0] <= today <= window[1]:
        raise Refused(f"异议须在公示期内（{chinese_date(window[1])}前）提出。")
    if open_objection(session, application) is not None:
        raise Refused("您已有一件异议正在处理，处理完毕后会通知您。")
    text = text.strip()
    if not 4 <= len(text) <= 500:
        raise Refused("请写明哪里有误、为什么（4 到 500 个字）。")
    if fact:
        claimed = session.exec(
            select(ClaimedFact.fact).where(
                ClaimedFact.application_id == application.id, ClaimedFact.fact == fact
            )
        ).first()
        if claimed is None:
            raise Refused("请选择您申报过的事项，或选择“分配结果”。")
    objection = Objection(
        application_id=application.id, round_id=application.round_id,
        zone_id=application.zone_id, fact=fact, text=text, filed_at=utcnow(),
    )  # fmt: skip
    session.add(objection)
    session.flush()
    about = FACT_SPECS[fact].label if fact else "分配结果"
    changed_and_told(
        session, actor, application, action="objection.file", kind="objection",
        text=f"已收到您对“{about}”的异议，受理部门将复核并答复。",
        diff={"objection": objection.id, "fact": fact},
    )  # fmt: skip
    return objection


def queue(session: Session, actor: Actor, round_id: str = "") -> list[tuple[Objection, str]]:
    """Open objections in the actor's zones, oldest first, with their application numbers."""
    if actor.role not in ("admin", "clerk", "auditor"):
        raise Forbidden("a zone's clerk or the city handles objections")
    query = (
        select(Objection, Application.application_no)
        .join(Application, Application.id == Objection.application_id)
        .where(Objection.state == "open")
        .order_by(Objection.id)
    )
    if round_id:
        query = query.where(Objection.round_id == round_id)
    if actor.role == "clerk":
        query = query.where(Objection.zone_id.in_(sorted(actor.zones)))
    return list(session.exec(query).all())


def resolve(
    session: Session, actor: Actor, objection_id: int, outcome: str, text: str
) -> Objection:
    """Settle an objection. "corrected" needs the correction itself first: a change to a
    verified fact of this application approved by the city after the objection came in."""
    if actor.role not in ("admin", "clerk"):
        raise Forbidden("a zone's clerk or the city settles objections")
    objection = session.get(Objection, objection_id)
    if objection is None or not actor.sees_zone(objection.zone_id):
        raise NotFound(str(objection_id))
    if objection.state != "open":
        raise Refused("这件异议已经处理过了。")
    if outcome not in OUTCOMES:
        raise Refused("请选择维持原结果或已更正。")
    text = text.strip()
    if not 4 <= len(text) <= 500:
        raise Refused("请写明复核结论和理由（4 到 500 个字），申请人会看到。")
    if outcome == "corrected":
        approved = session.exec(
            select(func.count())
            .select_from(FactChange)
            .where(
                FactChange.application_id == objection.application_id,
                FactChange.state == "approved",
                FactChange.decided_at >= objection.filed_at,
            )
        ).one()
        if not approved:
            raise Refused("更正须先由核验部门申请修改该事项，并经市级复核通过。")
    objection.state, objection.resolution = outcome, text
    objection.resolved_at, objection.resolved_by = utcnow(), actor.username
    session.add(objection)
    application = session.get(Application, objection.application_id)
    changed_and_told(
        session, actor, application, action=f"objection.{outcome}", kind="objection",
        text=f"您的异议已处理：{OUTCOMES[outcome]}。{text}",
        diff={"objection": objection.id},
    )  # fmt: skip
    return objection
