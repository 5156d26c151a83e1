"""Each department verifies the facts it owns (tables/departments.toml): its reviewers work a
queue of the applications with facts of theirs still to verify, in their zones, oldest first,
and for each fact confirm it, correct it (a verified value with a reason the applicant reads)
or reject it (with a reason). Every decision says what was seen (the evidence note).

An application is scored on its verified facts once every fact it claims is settled, and only
then: a fact no department verified never counts. The score snapshot records the table version
and who verified what. Decisions are audited; a stale form (the application changed since it
was opened) is refused rather than written over a colleague's work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import orjson
from sqlmodel import Session, func, select

from app.accounts.actor import Actor
from app.accounts.operations import Forbidden
from app.applications.models import (
    Application,
    ClaimedFact,
)
from app.applications.operations import (
    NotFound,
    Refused,
    Stale,
    changed_and_told,
    holder,
    locked,
)
from app.applications.scoring import rescore, settled_status
from app.audit.operations import record, utcnow
from app.protect import DataKeys
from app.verification.models import FactChange
from scoring.facts import FACT_SPECS, Facts, FactsError, to_json_value

DECISIONS = {"confirm": "confirmed", "correct": "corrected", "reject": "rejected"}
SETTLED = ("confirmed", "corrected", "rejected")
PAGE_SIZE = 50


def _reviewer(actor: Actor) -> None:
    if actor.role != "reviewer" or not actor.department:
        raise Forbidden("only a department's reviewer verifies facts")


# ---- the queue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    application_no: str
    zone_id: str
    category: str
    created_at: dt.datetime
    pending: int  # facts of this department still to verify
    held_by: str  # who is working on it now ("" for nobody)


@dataclass(frozen=True)
class Queue:
    department: str
    by_zone: dict[str, tuple[int, int]]  # zone -> (applications, facts) waiting
    rows: list[QueueRow]
    page: int
    applications: int  # waiting, in all the actor's zones (or the zone asked)

    @property
    def pages(self) -> int:
        return max(1, -(-self.applications // PAGE_SIZE))


def queue(
    session: Session, actor: Actor, *, round_id: str = "", zone: str = "", page: int = 1
) -> Queue:
    """The applications with facts of the actor's department waiting, oldest first. Both
    queries read the facts' own indexes (department, state[, zone], application): counting
    never reads an application, and a page groups facts in application order and stops."""
    _reviewer(actor)
    facts = ClaimedFact.__table__.c
    waiting = [facts.department == actor.department, facts.state == "claimed"]
    if actor.role == "reviewer" and actor.zones:
        waiting.append(facts.zone_id.in_(sorted(actor.zones)))
    if round_id:
        waiting.append(
            facts.application_id.in_(select(Application.id).where(Application.round_id == round_id))
        )
    counts = session.execute(
        select(facts.zone_id, func.count(func.distinct(facts.application_id)), func.count())
        .where(*waiting)
        .group_by(facts.zone_id)
    ).all()
    by_zone = {z: (int(apps), int(n)) for z, apps, n in counts}
    if zone:
        waiting.append(facts.zone_id == zone)
    page = max(1, page)
    grouped = (
        select(facts.application_id, func.count().label("pending"))
        .where(*waiting)
        .group_by(facts.application_id)
        .order_by(facts.application_id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .subquery()
    )
    rows = session.execute(
        select(
            Application.application_no,
            Application.zone_id,
            Application.category,
            Application.created_at,
            grouped.c.pending,
            Application.held_by,
            Application.held_at,
        )
        .join(grouped, grouped.c.application_id == Application.id)
        .order_by(Application.id)
    ).all()
    applications = by_zone.get(zone, (0, 0))[0] if zone else sum(a for a, _ in by_zone.values())
    now = utcnow()
    return Queue(
        actor.department,
        by_zone,
        [
            QueueRow(
                row.application_no,
                row.zone_id,
                row.category,
                row.created_at,
                int(row.pending),
                holder(row, now),
            )
            for row in rows
        ],
        page,
        applications,
    )


# ---- one decision ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    fact: str
    decision: str  # confirm, correct, reject
    value: str = ""  # the verified value, for "correct", as typed (as the import file writes it)
    reason: str = ""  # for the applicant: why it was corrected or rejected
    evidence: str = ""  # what was seen: 社保缴费清单至 2026-03


def settle(
    session: Session,
    actor: Actor,
    keys: DataKeys,
    application_no: str,
    decision: Decision,
    *,
    version: int,
    today: dt.date,
) -> Application:
    """Take one decision on one fact of the actor's department. Raises NotFound for an
    application outside the actor's zones or a fact of another department (they do not
    exist for this actor), Stale when `version` is not the application's, Refused with the
    reason otherwise."""
    application, fact = _own_fact(session, actor, application_no, decision.fact, version)
    if fact.state != "claimed":
        raise Refused("此项已核定。核定后的修改须另行申请复核。")
    if application.status not in ("verifying", "submitted"):
        raise Refused("此申请当前不在核验中。")
    if decision.decision not in DECISIONS:
        raise Refused("请选择确认、更正或不予认定。")
    evidence, reason = decision.evidence.strip(), decision.reason.strip()
    if not evidence:
        raise Refused("请填写核验依据：看到了什么材料（如：社保缴费清单至 2026-03）。")
    if decision.decision != "confirm" and len(reason) < 2:
        raise Refused("更正或不予认定须填写原因，申请人会看到。")
    if len(evidence) > 500 or len(reason) > 500:
        raise Refused("核验依据和原因各不超过 500 字。")
    verified = fact.claimed
    if decision.decision == "correct":
        verified = _verified_value(decision.fact, decision.value, today)
        if verified == fact.claimed:
            raise Refused("核验值与申报值相同，请选择“确认”。")
    elif decision.decision == "reject":
        verified = None
    now = utcnow()
    fact.state = DECISIONS[decision.decision]
    fact.verified = verified
    fact.reason = reason
    fact.evidence = evidence
    fact.verified_by = actor.username
    fact.verified_at = now
    application.version += 1
    session.add(fact)
    session.add(application)
    record(
        session,
        actor,
        f"fact.{decision.decision}",
        object_type="application",
        object_id=application.application_no,
        zone=application.zone_id,
        diff={"fact": decision.fact, "department": actor.department, "state": fact.state},
    )
    session.flush()
    pending = session.exec(
        select(func.count())
        .select_from(ClaimedFact)
        .where(ClaimedFact.application_id == application.id, ClaimedFact.state == "claimed")
    ).one()
    if pending == 0:
        _score_verified(session, actor, keys, application, today)
    return application


# ---- changes after verification: maker-checker ---------------------------------------------


def request_change(
    session: Session,
    actor: Actor,
    application_no: str,
    decision: Decision,
    *,
    version: int,
    today: dt.date,
) -> FactChange:
    """A reviewer asks to change a fact their department already settled. Nothing changes
    until a second person (the city, an `admin`) approves it (`decide_change`)."""
    application, fact = _own_fact(session, actor, application_no, decision.fact, version)
    if fact.state == "claimed":
        raise Refused("此项尚未核定，请直接核验。")
    waiting = session.exec(
        select(FactChange).where(
            FactChange.application_id == application.id,
            FactChange.fact == decision.fact,
            FactChange.state == "pending",
        )
    ).first()
    if waiting is not None:
        raise Refused("此项已有一项修改等待复核。")
    if decision.decision not in DECISIONS:
        raise Refused("请选择确认、更正或不予认定。")
    reason, evidence = decision.reason.strip(), decision.evidence.strip()
    if len(reason) < 2 or not evidence:
        raise Refused("修改已核定的事项须写明原因和核验依据。")
    verified = fact.claimed
    if decision.decision == "correct":
        verified = _verified_value(decision.fact, decision.value, today)
    elif decision.decision == "reject":
        verified = None
    change = FactChange(
        application_id=application.id, fact=decision.fact, decision=decision.decision,
        verified=verified, reason=reason[:500], evidence=evidence[:500],
        requested_by=actor.username, requested_at=utcnow(),
    )  # fmt: skip
    session.add(change)
    record(
        session, actor, "fact.change.request", object_type="application",
        object_id=application.application_no, zone=application.zone_id,
        diff={"fact": decision.fact, "decision": decision.decision},
    )  # fmt: skip
    session.flush()
    return change


def decide_change(
    session: Session, actor: Actor, keys: DataKeys, change_id: int, *, approve: bool,
    today: dt.date,
) -> FactChange:  # fmt: skip
    """The second person's decision on a requested change: applied (and the application
    scored again) when approved, left as it was when refused. Both are audited."""
    if not actor.is_city:
        raise Forbidden("only the city (admin) approves changes after verification")
    change = session.get(FactChange, change_id)
    if change is None:
        raise NotFound(str(change_id))
    application = session.get(Application, change.application_id)
    if change.state != "pending":
        raise Refused("这项修改已经处理过了。")
    if change.requested_by == actor.username:
        raise Refused("不能复核自己提出的修改。")
    change.state = "approved" if approve else "refused"
    change.decided_by, change.decided_at = actor.username, utcnow()
    session.add(change)
    if approve:
        fact = session.exec(
            select(ClaimedFact).where(
                ClaimedFact.application_id == application.id, ClaimedFact.fact == change.fact
            )
        ).one()
        fact.state = DECISIONS[change.decision]
        fact.verified = change.verified
        fact.reason, fact.evidence = change.reason, change.evidence
        fact.verified_by, fact.verified_at = change.requested_by, change.decided_at
        session.add(fact)
        application.version += 1
        session.add(application)
    record(
        session, actor, "fact.change.approve" if approve else "fact.change.refuse",
        object_type="application", object_id=application.application_no,
        zone=application.zone_id,
        diff={"fact": change.fact, "requested_by": change.requested_by},
    )  # fmt: skip
    session.flush()
    if approve and application.status in ("scored", "ineligible"):
        _score_verified(session, actor, keys, application, today)
    return change


def confirm_many(
    session: Session,
    actor: Actor,
    keys: DataKeys,
    application_nos: list[str],
    *,
    evidence: str,
    today: dt.date,
) -> int:
    """Confirm every waiting fact of the actor's department on these applications, with one
    evidence note (a department that checked a batch against its own records). The same
    decision as `settle` for each fact, audited one by one; applications outside the actor's
    zones are refused as not found. Returns the number of facts confirmed."""
    _reviewer(actor)
    if not evidence.strip():
        raise Refused("请填写核验依据：看到了什么材料（如：社保缴费清单至 2026-03）。")
    confirmed = 0
    for number in dict.fromkeys(application_nos):
        application = locked(session, actor, number)
        waiting = session.exec(
            select(ClaimedFact.fact).where(
                ClaimedFact.application_id == application.id,
                ClaimedFact.department == actor.department,
                ClaimedFact.state == "claimed",
            )
        ).all()
        for fact in waiting:
            settle(
                session, actor, keys, number, Decision(fact, "confirm", evidence=evidence),
                version=application.version, today=today,
            )  # fmt: skip
            confirmed += 1
    return confirmed


def return_for_correction(
    session: Session, actor: Actor, application_no: str, reason: str, *, version: int
) -> Application:
    """Send an application back to the applicant with what to correct (退回补正); the
    applicant corrects it on the status page while the window is open."""
    if actor.role not in ("clerk", "reviewer"):
        raise Forbidden("a zone's clerk or a department's reviewer returns applications")
    application = locked(session, actor, application_no)
    if application.version != version:
        raise Stale()
    if application.status != "verifying":
        raise Refused("只有核验中的申请可以退回补正。")
    reason = reason.strip()
    if len(reason) < 4:
        raise Refused("请写明退回原因和需要补正的内容（至少 4 个字），申请人会看到。")
    if len(reason) > 500:
        raise Refused("退回原因不超过 500 字。")
    application.status = "returned"
    changed_and_told(
        session,
        actor,
        application,
        action="application.return",
        kind="returned",
        text=reason,
        diff={"reason": reason[:200]},
    )
    session.flush()
    return application


def _own_fact(
    session: Session, actor: Actor, application_no: str, name: str, version: int
) -> tuple[Application, ClaimedFact]:
    """The application (locked) and its fact `name`, if both exist for this reviewer: NotFound
    outside their zones or department, Stale when `version` is not the application's."""
    _reviewer(actor)
    application = locked(session, actor, application_no)
    fact = session.exec(
        select(ClaimedFact).where(
            ClaimedFact.application_id == application.id,
            ClaimedFact.fact == name,
            ClaimedFact.department == actor.department,
        )
    ).first()
    if fact is None:
        raise NotFound(f"{application_no}/{name}")
    if application.version != version:
        raise Stale()
    return application, fact


def _verified_value(name: str, typed: str, today: dt.date) -> str:
    """A corrected value, checked by the same rules as every fact, as stored JSON."""
    if not typed.strip():
        raise Refused("更正须填写核验值。")
    try:
        parsed = Facts.parse({name: typed.strip()}, today=today)
    except FactsError as exc:
        raise Refused(f"核验值有误：{exc.errors[0].zh}") from None
    return orjson.dumps(to_json_value(FACT_SPECS[name], getattr(parsed, name))).decode()


def _score_verified(
    session: Session, actor: Actor, keys: DataKeys, application: Application, today: dt.date
) -> None:
    """Score the application on its verified facts (rejected ones do not count) and record
    who verified what."""
    try:
        result = rescore(session, keys, application, basis="verified", today=today)
    except FactsError as exc:
        raise Refused(f"核验值之间不一致：{exc.errors[0].zh}") from None
    application.status = settled_status(result.eligible)
    session.add(application)
    record(
        session,
        actor,
        "application.score",
        object_type="application",
        object_id=application.application_no,
        zone=application.zone_id,
        diff={
            "basis": "verified",
            "status": application.status,
            "total_cents": application.total_cents,
            "ranking_cents": application.ranking_cents,
        },
    )
    session.flush()
