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
from decimal import Decimal

import orjson
from sqlmodel import Session, select

from app.accounts.actor import Actor
from app.accounts.operations import Forbidden
from app.applications import departments
from app.applications.models import (
    Applicant,
    Application,
    ApplicationMessage,
    ClaimedFact,
    ScoreSnapshot,
)
from app.applications.operations import NotFound, changed_and_told
from app.applications.scoring import rescore
from app.audit.operations import record, utcnow
from app.intake.operations import ONLINE
from app.protect import (
    DataKeys,
    IdNumberError,
    check_id_number,
    lookup_hash,
    normal_name,
)
from app.rounds.models import Round
from app.status.models import StatusLock
from scoring.engine import CONDITION_FAILED, GATE_FAILED, NOT_SCORED, pts
from scoring.facts import FACT_SPECS, Facts, FactsError, to_json_value
from scoring.programmes import chinese_date

MAX_FAILURES = 5
LOCK_MINUTES = 15
PUBLIC = Actor("public", "public")  # a status lookup
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
class Bar:
    """One thing that bars an application, as its applicant reads it: what (a condition, a
    veto, the points line), why, and for a veto with a ban the day it ends."""

    what: str
    why: str
    until: dt.date | None = None


ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?: (?=[\u4e00-\u9fff]))?")


def plain_dates(text: str) -> str:
    """The engine's ISO dates as people write them: "2029-12-01 起" -> "2029 年 12 月 1 日起"."""
    return ISO_DATE.sub(lambda m: chinese_date(dt.date(*map(int, m.groups()[:3]))), text)


def bars(score: dict | None) -> list[Bar]:
    """Why a score is not eligible, from its `jifen score` JSON: each failed basic condition or
    gate (from the notes), each veto with the day its ban ends, and the points line when the
    points were scored and fall short of it."""
    if not score or score.get("eligible", True):
        return []
    found: list[Bar] = []
    gated = False
    for note in score.get("notes", []):
        if note.startswith(CONDITION_FAILED):
            gated = True
            found.append(Bar("基本条件", note[len(CONDITION_FAILED) :].removesuffix(NOT_SCORED)))
        elif note.startswith(GATE_FAILED + "「"):
            gated = True
            found.append(Bar("基本要求", note[len(GATE_FAILED) :].removesuffix(NOT_SCORED)))
    for veto in score.get("vetoes", []):
        until = dt.date.fromisoformat(veto["ban_until"]) if veto.get("ban_until") else None
        found.append(Bar(f"{veto['label']}（一票否决）", plain_dates(veto["message"]), until))
    got = round(Decimal(str(score.get("qualification_score", 0))) * 100)
    line = round(Decimal(str(score.get("threshold", 0))) * 100)
    if not gated and got < line:
        found.append(
            Bar("积分未达到申请分数线",
                f"积分 {pts(got)} 分，申请分数线 {pts(line)} 分，还差 {pts(line - got)} 分")
        )  # fmt: skip
    return found


@dataclass(frozen=True)
class StatusView:
    application: Application
    facts: list[FactLine]
    pending_departments: list[str]
    score: dict | None
    basis: str  # "claimed" or "verified"
    messages: list[ApplicationMessage]

    @property
    def vetoes(self) -> list[tuple[str, str, dt.date | None]]:
        """What bars the application, from its latest score: (label, why, ban until)."""
        found = (self.score or {}).get("vetoes", [])
        return [
            (
                v["label"],
                plain_dates(v["message"]),
                dt.date.fromisoformat(v["ban_until"]) if v.get("ban_until") else None,
            )
            for v in found
        ]

    @property
    def bars(self) -> list[Bar]:
        """Why the latest score is not eligible (every condition, veto and the points line)."""
        return bars(self.score)

    @property
    def claimed_answers(self) -> dict:
        """What was claimed, to fill the correction form with."""
        return {f.fact: orjson.loads(f.claimed) for f in self.facts}

    @property
    def return_reason(self) -> str:
        returned = [m for m in self.messages if m.kind == "returned"]
        return returned[-1].text if returned else ""


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
    messages = session.exec(
        select(ApplicationMessage)
        .where(ApplicationMessage.application_id == application.id)
        .order_by(ApplicationMessage.id)
    ).all()
    return StatusView(
        application,
        [FactLine(f.fact, f.department, f.state, f.claimed, f.verified, f.reason) for f in facts],
        pending,
        orjson.loads(snapshot.result) if snapshot is not None else None,
        snapshot.basis if snapshot is not None else "",
        list(messages),
    )


# ---- the applicant's correction of a returned application ---------------------------------


class CorrectionRefused(ValueError):
    """`problems`: (field, Chinese reason)."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(m for _, m in problems))
        self.problems = problems


def correct(
    session: Session,
    keys: DataKeys,
    application: Application,
    raw: dict,
    *,
    today: dt.date,
    actor: Actor = ONLINE,
) -> list[str]:
    """The applicant's corrected answers for a returned application, within the window: facts
    still waiting take the new claimed values (and new facts are added, for their
    departments); facts a department already settled stay as they are. The application goes
    back to verification. The applicant sends it from the status page, or a clerk of its zone
    at the window on their behalf (`actor`). Returns the facts that changed."""
    if actor.role not in ("applicant", "admin", "clerk"):
        raise Forbidden("the applicant, or a clerk at the window, corrects an application")
    if not actor.sees_zone(application.zone_id) and actor.role != "applicant":
        raise NotFound(application.application_no)
    round_ = session.get(Round, application.round_id)
    if application.status != "returned":
        raise CorrectionRefused([("", "这份申请没有被退回，不需要补正。")])
    if not (round_.window_start <= today <= round_.window_end):
        raise CorrectionRefused(
            [("", f"申报期已于 {chinese_date(round_.window_end)}结束，不能再补正。")]
        )
    given = {n: v for n, v in raw.items() if n in FACT_SPECS}
    try:
        parsed = Facts.parse(given, today=today)
    except FactsError as exc:
        raise CorrectionRefused([(e.field, e.zh) for e in exc.errors]) from None
    rows = {
        f.fact: f
        for f in session.exec(
            select(ClaimedFact).where(ClaimedFact.application_id == application.id)
        ).all()
    }
    owners = departments.owners()
    changed = []
    for name in given:
        value = orjson.dumps(to_json_value(FACT_SPECS[name], getattr(parsed, name))).decode()
        row = rows.get(name)
        if row is None:
            row = ClaimedFact(
                application_id=application.id, fact=name, department=owners[name],
                zone_id=application.zone_id, claimed=value, state="claimed",
            )  # fmt: skip
        elif row.state != "claimed" or row.claimed == value:
            continue
        else:
            row.claimed = value
        session.add(row)
        rows[name] = row
        changed.append(name)
    session.flush()
    rescore(session, keys, application, basis="claimed", today=today)
    application.status = "verifying"
    labels = "、".join(FACT_SPECS[n].label for n in changed) or "（没有改动）"
    who = "申请人已补正" if actor.role == "applicant" else "受理窗口已代申请人补正"
    changed_and_told(
        session, actor, application, action="application.correct", kind="corrected",
        text=f"{who}：{labels}。", diff={"facts": changed},
    )  # fmt: skip
    session.flush()
    return changed
