"""A round from the database as its anonymised allocation instance (`jifen.allocation/1`): the
round's header as configured, and one applicant per application, named by its application
number, with its verified ranking score, its tie-break keys from the verified facts, whether it
is eligible, and for school categories its choices, 服从调剂 and family. No name, ID number or
phone: the instance is what the city publishes for anyone to re-run.

Only a round whose application window has ended and whose every application is settled
(scored or ineligible) is exported: before that the scores are not the verified ones.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
from sqlmodel import Session, func, select

from app.accounts.actor import Actor
from app.accounts.operations import Forbidden
from app.applications.models import Application, ClaimedFact
from app.applications.operations import NotFound, Refused, points_of
from app.audit.operations import record
from app.rounds.models import Round
from app.rounds.operations import round_config
from scoring.programmes import chinese_date

SETTLED = ("scored", "ineligible")
HEADER = ("year", "seed", "tie_break", "tie_policy", "apportion", "categories")
ZONE_FIELDS = ("id", "name", "weight", "bounds")  # a zone's `office` is not the allocation's


def unsettled_by_zone(session: Session, round_id: str) -> dict[str, int]:
    """Applications not yet scored or found ineligible, by zone."""
    return dict(
        session.exec(
            select(Application.zone_id, func.count())
            .where(Application.round_id == round_id, Application.status.not_in(SETTLED))
            .group_by(Application.zone_id)
            .order_by(Application.zone_id)
        ).all()
    )


def ready_to_allocate(session: Session, round_: Round, today: dt.date) -> None:
    """Refused, with every reason in plain words, unless the window has ended and every
    application is settled ("石岐街道尚有 12 份申请未核定")."""
    reasons = []
    if today <= round_.window_end:
        reasons.append(f"申报期到 {chinese_date(round_.window_end)}才结束。")
    config = round_config(session, round_)
    waiting = unsettled_by_zone(session, round_.id)
    for zone in config["zones"]:  # in the round's order of zones
        if waiting.get(zone["id"]):
            reasons.append(
                f"{zone.get('name', zone['id'])}尚有 {waiting[zone['id']]} 份申请未核定。"
            )
    if reasons:
        raise Refused("".join(reasons))


def export_instance(session: Session, actor: Actor, round_id: str, *, today: dt.date) -> bytes:
    """The instance's bytes (compact JSON, one trailing newline), audited as an export."""
    if not actor.is_city:
        raise Forbidden("only the city (admin) exports a round")
    round_ = session.get(Round, round_id)
    if round_ is None:
        raise NotFound(round_id)
    ready_to_allocate(session, round_, today)
    config = round_config(session, round_)
    doc: dict[str, Any] = {"format": "jifen.allocation/1"}
    doc.update({key: config[key] for key in HEADER if key in config})
    doc["zones"] = [{k: z[k] for k in ZONE_FIELDS if k in z} for z in config["zones"]]
    doc["schools"] = config.get("schools", [])
    doc["applicants"] = applicants_now(session, round_, config)
    data = orjson.dumps(doc) + b"\n"
    record(
        session, actor, "round.export", object_type="round", object_id=round_id,
        diff={"applicants": len(doc["applicants"]), "bytes": len(data)},
    )  # fmt: skip
    return data


def applicants_now(session: Session, round_: Round, config: dict) -> list[dict]:
    """The instance's applicants as the database holds them now."""
    kinds = {c["id"]: c["kind"] for c in config["categories"]}
    round_id, tie_break = round_.id, config.get("tie_break", [])
    keys = _verified_keys(session, round_id, tie_break)
    rows = session.exec(
        select(
            Application.id, Application.application_no, Application.zone_id,
            Application.category, Application.ranking_cents, Application.status,
            Application.choices, Application.accept_any_in_zone, Application.family,
        )
        .where(Application.round_id == round_id)
        .order_by(Application.application_no)
    ).all()  # fmt: skip
    out = []
    for app_id, number, zone, category, cents, status, choices, accept_any, family in rows:
        eligible = status == "scored"
        applicant: dict[str, Any] = {
            "id": number, "zone": zone, "category": category,
            "points": points_of(cents or 0), "eligible": eligible,
        }  # fmt: skip
        if eligible:
            applicant["keys"] = {k: keys.get((app_id, k), 0) for k in tie_break}
        if kinds.get(category) == "school":
            applicant["choices"] = orjson.loads(choices)
            applicant["accept_any_in_zone"] = accept_any
            applicant["family"] = family or None
        out.append(applicant)
    return out


def _verified_keys(session: Session, round_id: str, tie_break: list[str]) -> dict:
    """(application id, fact) -> the verified value of each tie-break fact; a fact rejected or
    never claimed counts as 0."""
    if not tie_break:
        return {}
    rows = session.exec(
        select(ClaimedFact.application_id, ClaimedFact.fact, ClaimedFact.verified)
        .join(Application, Application.id == ClaimedFact.application_id)
        .where(
            Application.round_id == round_id,
            ClaimedFact.fact.in_(tie_break),
            ClaimedFact.state.in_(("confirmed", "corrected")),
        )
    ).all()
    return {(a, f): _number(orjson.loads(v)) for a, f, v in rows if v is not None}


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0
    exact = Decimal(str(value))
    return int(exact) if exact == exact.to_integral_value() else float(exact)
