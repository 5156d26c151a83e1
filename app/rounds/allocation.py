"""Allocating a round from the database: the allocator runs on exactly the exported instance,
and its result bytes are stored as they came out, so that `jifen rounds result` gives what
`jifen allocate INSTANCE.json -o RESULT.json` gives anyone with the published instance.

A round is allocated once. Allocating it again needs a recorded reason (an objection changed a
score, say): a new run, audited, the earlier ones kept. Everything of a run is written in the
caller's one transaction, so an interrupted run leaves nothing half-stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import orjson
from sqlalchemy.orm import defer
from sqlmodel import Session, func, select

from app.accounts.actor import Actor
from app.accounts.operations import Forbidden
from app.applications.operations import NotFound, Refused
from app.audit.operations import record, utcnow
from app.db import insert_rows
from app.localtime import beijing_time
from app.rounds.export import applicants_now, export_instance
from app.rounds.models import AllocationRun, Outcome, Round
from app.rounds.operations import round_config


def allocate_bytes(instance: bytes) -> bytes:
    """The allocator on an instance's bytes, as `jifen allocate` runs it on a file of them."""
    from allocation.instance import loads, parse_instance, read_instance
    from allocation.operations import allocate

    inst = read_instance(instance) or parse_instance(loads(instance, "instance"))
    return allocate(inst).to_bytes()


def current_run(session: Session, round_id: str) -> AllocationRun | None:
    """The run in force; its instance and result bytes (megabytes) load only when read."""
    return session.exec(
        select(AllocationRun)
        .where(
            AllocationRun.round_id == round_id,
            AllocationRun.current == True,  # noqa: E712 (SQL)
        )
        .options(defer(AllocationRun.instance), defer(AllocationRun.result))
    ).first()


def allocate_round(
    session: Session, actor: Actor, round_id: str, *, today: dt.date, reason: str = ""
) -> AllocationRun:
    """Export, allocate, store. Refused while the round is not ready (its window open, an
    application unsettled), and when it was allocated already and no reason is given."""
    if not actor.is_city:
        raise Forbidden("only the city (admin) allocates a round")
    round_ = session.exec(select(Round).where(Round.id == round_id).with_for_update()).first()
    if round_ is None:
        raise NotFound(round_id)
    before = current_run(session, round_id)
    reason = reason.strip()
    if before is not None and not reason:
        raise Refused(
            f"本轮已分配（第 {before.number} 次，北京时间 {beijing_time(before.created_at)}）。"
            "重新分配须写明原因，如：异议复核后分数有变动。"
        )
    if len(reason) > 500:
        raise Refused("重新分配的原因不超过 500 字。")
    instance = export_instance(session, actor, round_id, today=today)
    result = allocate_bytes(instance)
    document = orjson.loads(result)
    if before is not None:
        before.current = False
        session.add(before)
    number = (
        session.exec(
            select(func.max(AllocationRun.number)).where(AllocationRun.round_id == round_id)
        ).one()
        or 0
    ) + 1
    run = AllocationRun(
        round_id=round_id, number=number, current=True, instance=instance,
        instance_sha256=hashlib.sha256(instance).hexdigest(), result=result,
        output_sha256=document["manifest"]["output_sha256"], reason=reason,
        created_at=utcnow(), created_by=actor.username,
    )  # fmt: skip
    session.add(run)
    session.flush()
    insert_rows(session, Outcome.__table__, _outcomes(run.id, document))
    if session.get_bind().dialect.name == "postgresql":
        # fresh statistics for the rows just stored: without them the planner may sort a
        # whole zone for the first page of its 公示 instead of reading the index
        session.connection().exec_driver_sql("ANALYZE outcome")
    round_.allocated = True
    session.add(round_)
    record(
        session, actor, "round.allocate", object_type="round", object_id=round_id,
        diff={"run": number, "instance_sha256": run.instance_sha256,
              "output_sha256": run.output_sha256, "reason": reason[:200],
              "admitted": sum(a["status"] == "admitted" for a in document["assignments"])},
    )  # fmt: skip
    return run


def _outcomes(run_id: int, document: dict) -> list[dict]:
    return [
        {
            "run_id": run_id,
            "application_no": a["applicant"],
            "zone_id": a["zone"],
            "category": a["category"],
            "status": a["status"],
            "school": a.get("school"),
            "zone_rank": a.get("zone_rank"),
            "reason": a.get("reason", ""),
            "explanation": a.get("explanation", ""),
        }
        for a in document["assignments"]
    ]


def outcome_counts(session: Session, run_id: int) -> dict[str, int]:
    """How many outcomes of a run are admitted, not admitted and ineligible."""
    return dict(
        session.exec(
            select(Outcome.status, func.count())
            .where(Outcome.run_id == run_id)
            .group_by(Outcome.status)
        ).all()
    )


def changed_since(session: Session, run: AllocationRun) -> list[str]:
    """The applications whose allocation input (score, keys, eligibility, choices) differs now
    from what the run allocated: an objection corrected them."""
    round_ = session.get(Round, run.round_id)
    now = {a["id"]: a for a in applicants_now(session, round_, round_config(session, round_))}
    then = {a["id"]: a for a in orjson.loads(run.instance)["applicants"]}
    return sorted(n for n in set(now) | set(then) if now.get(n) != then.get(n))


def stored_result(session: Session, round_id: str) -> bytes:
    """The current run's result bytes, exactly as the allocator wrote them."""
    if session.get(Round, round_id) is None:
        raise NotFound(round_id)
    run = current_run(session, round_id)
    if run is None:
        raise Refused("本轮尚未分配。")
    return run.result
