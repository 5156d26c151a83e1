"""Reading applications, within the actor's jurisdiction (a record outside it does not exist)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import orjson
from sqlmodel import Session, func, select

from app.accounts.actor import Actor
from app.accounts.operations import Forbidden
from app.applications.models import (
    Applicant,
    Application,
    ApplicationMessage,
    ClaimedFact,
    ScoreSnapshot,
)
from app.audit.models import AuditEntry
from app.audit.operations import record, utcnow


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
    rows = session.exec(visible(query, actor).order_by(Application.id)).all()
    return [
        {
            "application_no": no,
            "zone": z,
            "category": category,
            "status": status,
            "ranking_score": None if cents is None else points_of(cents),
        }
        for no, z, category, status, cents in rows
    ]


def points_of(cents: int) -> int | float:
    """Stored hundredths as the JSON number of points: 8050 -> 80.5, 8000 -> 80."""
    return cents // 100 if cents % 100 == 0 else cents / 100


# ---- the office list and detail -------------------------------------------------------------

PAGE_SIZE = 50
# Both keys in one direction, so that an index (round, [zone,] points, id) serves the order
# read backwards: no sort of the whole round for a page.
SORTS = {
    "points": (Application.ranking_cents.desc(), Application.id.desc()),
    "points_asc": (Application.ranking_cents.asc(), Application.id),
    "number": (Application.application_no,),
    "newest": (Application.id.desc(),),
}


class NotFound(LookupError):
    """No such record for this actor: missing, or outside their jurisdiction (the same to them)."""


def visible(query, actor: Actor):
    """Only the applications of the actor's zones (the jurisdiction, applied in the query)."""
    if actor.role == "clerk" or (actor.role == "reviewer" and actor.zones):
        return query.where(Application.zone_id.in_(sorted(actor.zones)))
    return query


@dataclass(frozen=True)
class Filters:
    zone: str = ""
    category: str = ""
    status: str = ""
    min_points: int | None = None  # in cents
    max_points: int | None = None
    number: str = ""
    name_hash: str = ""
    sort: str = "points"
    page: int = 1


def search(session: Session, actor: Actor, round_id: str, f: Filters) -> tuple[list, int]:
    """One page of a round's applications and the number matching, with indexed queries only."""
    query = visible(select(Application).where(Application.round_id == round_id), actor)
    if f.zone:
        query = query.where(Application.zone_id == f.zone)
    if f.category:
        query = query.where(Application.category == f.category)
    if f.status:
        query = query.where(Application.status == f.status)
    if f.min_points is not None:
        query = query.where(Application.ranking_cents >= f.min_points)
    if f.max_points is not None:
        query = query.where(Application.ranking_cents <= f.max_points)
    if f.number:
        query = query.where(Application.application_no == f.number.strip().upper())
    if f.name_hash:
        query = query.join(Applicant, Applicant.id == Application.applicant_id).where(
            Applicant.name_hash == f.name_hash
        )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    order = SORTS.get(f.sort, SORTS["points"])
    page = max(1, f.page)
    rows = session.exec(
        query.order_by(*order).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    return rows, total


def exists(session: Session, application_no: str) -> bool:
    query = select(Application.id).where(Application.application_no == application_no.upper())
    return session.exec(query).first() is not None


class Refused(ValueError):
    """A change that cannot be made as asked: `zh` says why, for the person asking."""

    def __init__(self, zh: str):
        super().__init__(zh)
        self.zh = zh


class Stale(Refused):
    """The application changed since the person asking opened it (the optimistic lock)."""

    def __init__(self) -> None:
        super().__init__("此申请已被他人修改，请刷新页面后再办理。")


def locked(session: Session, actor: Actor, application_no: str) -> Application:
    """The application, locked for this transaction, if it exists for the actor."""
    application = session.exec(
        select(Application).where(Application.application_no == application_no).with_for_update()
    ).first()
    if application is None or not actor.sees_zone(application.zone_id):
        raise NotFound(application_no)
    return application


def changed_and_told(
    session: Session,
    actor: Actor,
    application: Application,
    *,
    action: str,
    kind: str,
    text: str,
    diff: dict,
) -> None:
    """A change the applicant is told of: the version rises (a page opened before is stale),
    the message log gets `text`, the audit log `action`."""
    application.version += 1
    session.add(application)
    session.add(
        ApplicationMessage(
            application_id=application.id, at=utcnow(), kind=kind, text=text, by=actor.username
        )
    )
    record(
        session, actor, action, object_type="application",
        object_id=application.application_no, zone=application.zone_id, diff=diff,
    )  # fmt: skip


# ---- the assignment lock: who is working on an application --------------------------------

HOLD_MINUTES = 120  # a hold nobody released lapses after this long


def holder(application: Application, now: dt.datetime) -> str:
    """The user working on the application now, or ""."""
    if not application.held_by or application.held_at is None:
        return ""
    if now - _aware(application.held_at) > dt.timedelta(minutes=HOLD_MINUTES):
        return ""
    return application.held_by


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def hold(session: Session, actor: Actor, application_no: str) -> Application:
    """Mark the application as being worked on by the actor (taking it over from a colleague
    is allowed, and audited with whom it was taken from). It blocks nobody: two people saving
    one record are kept apart by its version."""
    if actor.role not in ("admin", "clerk", "reviewer"):
        raise Forbidden("only staff who act on applications hold them")
    application = locked(session, actor, application_no)
    now = utcnow()
    before = holder(application, now)
    application.held_by, application.held_at = actor.username, now
    session.add(application)
    record(
        session, actor, "application.hold", object_type="application",
        object_id=application.application_no, zone=application.zone_id,
        diff={"from": before} if before and before != actor.username else {},
    )  # fmt: skip
    return application


def release(session: Session, actor: Actor, application_no: str) -> Application:
    """Let go of a hold: its holder, or the city."""
    application = locked(session, actor, application_no)
    current = holder(application, utcnow())
    if current and current != actor.username and not actor.is_city:
        raise Refused(f"此申请由 {current} 处理，只有本人或市级管理员可以释放。")
    application.held_by, application.held_at = "", None
    session.add(application)
    record(
        session, actor, "application.release", object_type="application",
        object_id=application.application_no, zone=application.zone_id,
        diff={"held_by": current} if current else {},
    )  # fmt: skip
    return application


def get_application(session: Session, actor: Actor, application_no: str) -> Application:
    found = session.exec(
        select(Application).where(Application.application_no == application_no)
    ).first()
    if found is None or not actor.sees_zone(found.zone_id):
        raise NotFound(application_no)
    return found


def audit_history(session: Session, application_no: str, round_id: str) -> list[AuditEntry]:
    """Every audit entry about one application, in order: its own, and the import of the file
    it came in (one entry per file, naming the file's SHA-256 and the numbers it gave)."""
    own = session.exec(select(AuditEntry).where(AuditEntry.object_id == application_no)).all()
    imports = session.exec(
        select(AuditEntry).where(
            AuditEntry.action == "application.import", AuditEntry.object_id == round_id
        )
    ).all()
    covering = [
        entry
        for entry in imports
        if (span := orjson.loads(entry.diff)).get("first", "~") <= application_no
        and application_no <= span.get("last", "")
    ]
    return sorted([*own, *covering], key=lambda entry: entry.seq)


def detail(session: Session, actor: Actor, application: Application) -> dict:
    """What the detail page shows: facts (a reviewer only those of their department), the latest
    score, and the record's history from the audit log."""
    facts_query = select(ClaimedFact).where(ClaimedFact.application_id == application.id)
    if actor.role == "reviewer":
        facts_query = facts_query.where(ClaimedFact.department == actor.department)
    facts = session.exec(facts_query.order_by(ClaimedFact.id)).all()
    snapshot = session.exec(
        select(ScoreSnapshot)
        .where(ScoreSnapshot.application_id == application.id)
        .order_by(ScoreSnapshot.id.desc())
    ).first()
    history = audit_history(session, application.application_no, application.round_id)
    return {
        "facts": facts,
        "snapshot": snapshot,
        "score": orjson.loads(snapshot.result) if snapshot is not None else None,
        "history": history,
        "messages": session.exec(
            select(ApplicationMessage)
            .where(ApplicationMessage.application_id == application.id)
            .order_by(ApplicationMessage.id)
        ).all(),
        "applicant": session.get(Applicant, application.applicant_id),
    }


def pending_changes(session: Session, application: Application) -> list:
    """Changes to this application's verified facts waiting for the city's approval."""
    from app.verification.models import FactChange

    return session.exec(
        select(FactChange)
        .where(FactChange.application_id == application.id, FactChange.state == "pending")
        .order_by(FactChange.id)
    ).all()
