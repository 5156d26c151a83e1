"""Scoring a stored application again, on the values its facts hold now: one place for the
verified score (every fact settled) and the estimate after an applicant's correction."""

from __future__ import annotations

import datetime as dt

import orjson
from sqlmodel import Session, select

from app.applications.models import Applicant, Application, ClaimedFact, ScoreSnapshot
from app.applications.rows import applicant_birth_date
from app.audit.operations import utcnow
from app.protect import DataKeys, decrypt
from app.rounds.models import Round
from scoring.engine import ScoreResult, score
from scoring.facts import Facts
from scoring.tables import get_table


def settled_status(eligible: bool) -> str:
    """An application once its verified facts are scored: scored, or ineligible when a condition
    fails or the score is under the line (verification and a verified import alike)."""
    return "scored" if eligible else "ineligible"


def current_values(facts: list[ClaimedFact], *, verified_only: bool) -> dict:
    """Fact values as they stand: settled ones as verified (a rejected one not at all), the
    others as claimed, unless `verified_only`."""
    raw = {}
    for fact in facts:
        if fact.state in ("confirmed", "corrected"):
            stored = fact.verified
        elif fact.state == "claimed" and not verified_only:
            stored = fact.claimed
        else:
            continue
        value = orjson.loads(stored)
        if value is not None:
            raw[fact.fact] = value
    return raw


def rescore(
    session: Session,
    keys: DataKeys,
    application: Application,
    *,
    basis: str,
    today: dt.date,
) -> ScoreResult:
    """Score the application on its facts now ("verified": settled facts only; "claimed": the
    estimate), store the snapshot (with who verified what) and the application's figures.
    Raises FactsError when the values do not fit together."""
    facts = session.exec(
        select(ClaimedFact).where(ClaimedFact.application_id == application.id)
    ).all()
    raw = current_values(facts, verified_only=basis == "verified")
    table = get_table(session.get(Round, application.round_id).table_id)
    if "birth_date" not in raw:  # the one the ID number carries (verified with it, by 公安)
        applicant = session.get(Applicant, application.applicant_id)
        born = applicant_birth_date(table, decrypt(keys, "id_number", applicant.id_number_enc))
        if born is not None:
            raw["birth_date"] = born.isoformat()
    result = score(table, Facts.parse(raw, today=today), on=today)
    from app.applications.importer import table_sha256

    out = result.to_dict()
    if basis == "verified":
        out["verified_by"] = {f.fact: f.verified_by for f in facts}
    session.add(
        ScoreSnapshot(
            application_id=application.id, table_id=table.id, table_sha256=table_sha256(table),
            basis=basis, total_cents=int(result.total * 100),
            qualification_cents=int(result.qualification_score * 100),
            ranking_cents=int(result.ranking_score * 100), eligible=result.eligible,
            result=orjson.dumps(out).decode(), created_at=utcnow(),
        )
    )  # fmt: skip
    application.total_cents = int(result.total * 100)
    application.ranking_cents = int(result.ranking_score * 100)
    application.eligible = result.eligible
    session.add(application)
    return result
