"""Finding an application for the person who filed it, and what they are shown.

The applicant gives the application number, their ID number and their name; all three must
match (by keyed hash, in constant time). Every failure gives the same answer, whether the
number does not exist, the ID number or the name is wrong, or the number is locked: nobody can
tell which, so nobody can enumerate applications. After `MAX_FAILURES` failed tries a number is
locked for `LOCK_MINUTES`, even for its owner; the per-client rate limit is the view's.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass

import orjson
from sqlmodel import Session, select

from app.accounts.actor import Actor
from app.applications.models import Applicant, Application, ClaimedFact, ScoreSnapshot
from app.audit.operations import record, utcnow
from app.protect import DataKeys, IdNumberError, check_id_number, lookup_hash, normal_name
from app.status.models import StatusLock

MAX_FAILURES = 5
LOCK_MINUTES = 15
PUBLIC = Actor("public", "public")
NUMBER = re.compile(r"[A-Z0-9][A-Z0-9-]{2,39}")


class NotMatched(LookupError):
    """No application for these three answers (or the number is locked): one answer for all."""


def find(
    session: Session, keys: DataKeys, application_no: str, id_number: str, name: str
) -> Application:
    number = application_no.strip().upper()
    now = utcnow()
    # the same work whatever is wrong: the answers are hashed before anything is looked up
    try:
        given_id = lookup_hash(keys, "id_number", check_id_number(id_number))
    except IdNumberError:
        given_id = ""
    given_name = lookup_hash(keys, "name", normal_name(name))
    if not NUMBER.fullmatch(number):
        raise NotMatched()
    lock = session.get(StatusLock, number)
    if lock is not None and lock.locked_until is not None and _aware(lock.locked_until) > now:
        _failed(session, number, lock, now)
        raise NotMatched()
    application = session.exec(
        select(Application).where(Application.application_no == number)
    ).first()
    matched = False
    if application is not None:
        applicant = session.get(Applicant, application.applicant_id)
        matched = hmac.compare_digest(given_id, applicant.id_number_hash) & hmac.compare_digest(
            given_name, applicant.name_hash
        )
    if not matched:
        _failed(session, number, lock, now)
        raise NotMatched()
    if lock is not None:
        session.delete(lock)
    record(
        session, PUBLIC, "status.view", object_type="application", object_id=number,
        zone=application.zone_id,
    )  # fmt: skip
    return application


def _failed(session: Session, number: str, lock: StatusLock | None, now: dt.datetime) -> None:
    lock = lock or StatusLock(application_no=number)
    lock.failures += 1
    if lock.failures >= MAX_FAILURES:
        lock.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
        lock.failures = 0
    session.add(lock)
    record(session, PUBLIC, "status.failure", object_type="application", object_id=number)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# ---- what the applicant sees -------------------------------------------------------------


@dataclass(frozen=True)
class FactLine:
    fact: str
    department: str
    state: str
    claimed: str  # JSON
    verified: str | None
    reason: str


@dataclass(frozen=True)
class StatusView:
    application: Application
    facts: list[FactLine]
    pending_departments: list[str]
    score: dict | None
    basis: str  # "claimed" or "verified"


def status_view(session: Session, application: Application) -> StatusView:
    facts = session.exec(
        select(ClaimedFact)
        .where(ClaimedFact.application_id == application.id)
        .order_by(ClaimedFact.id)
    ).all()
    snapshot = session.exec(
        select(ScoreSnapshot)
        .where(ScoreSnapshot.application_id == application.id)
        .order_by(ScoreSnapshot.id.desc())
    ).first()
    pending = list(dict.fromkeys(f.department for f in facts if f.state == "claimed"))
    return StatusView(
        application,
        [FactLine(f.fact, f.department, f.state, f.claimed, f.verified, f.reason) for f in facts],
        pending,
        orjson.loads(snapshot.result) if snapshot is not None else None,
        snapshot.basis if snapshot is not None else "",
    )
