"""Department tokens and what a department's system does with one.

A 政务数据共享 exchange feeds the departments' own records into the verification: a department's
system reads the facts of its department waiting in its zones and settles them in batches,
each decision the same as a reviewer's on the page (`verification.operations.settle`), audited
under the token's name.

A token is `jifen_<id>_<secret>`: the id finds it, the secret (256 random bits) proves it. Only
the SHA-256 of the secret is stored; with that much entropy a slow password hash would add
nothing but latency to every call. The city (an `admin`) issues tokens for one department and
optionally some zones, with an expiry, and revokes them; both are audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from sqlmodel import Session, select

from app.accounts.actor import Actor
from app.accounts.models import DEPARTMENTS
from app.accounts.operations import Forbidden
from app.applications.models import Applicant, Application, ClaimedFact
from app.applications.operations import NotFound, Refused, locked
from app.audit.operations import record, utcnow
from app.exchange.models import ApiToken
from app.protect import DataKeys, decrypt
from app.rounds.models import Zone
from app.verification.operations import DECISIONS, Decision, settle

TOKEN = re.compile(r"jifen_([0-9]{1,9})_([A-Za-z0-9_-]{43})")
MAX_DAYS = 366  # a token lives at most a year: the exchange renews it
PAGE_LIMIT = 500
MAX_DECISIONS = 1000
NOT_YOURS_ZH = "没有这份申请或这项事实（不属于本部门，或不在本令牌的镇街）"
NOT_YOURS_EN = "no such application or fact for this token"


class TokenRefused(Exception):
    """Not a live token: `zh`/`en` say why (the same answer whether or not the id exists)."""

    def __init__(self, zh: str = "令牌无效、已过期或已被吊销。", en: str = "invalid token"):
        super().__init__(en)
        self.zh, self.en = zh, en


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo:
        return moment
    return moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Issued:
    token: ApiToken
    secret: str  # the whole token, shown once and never stored


def issue(
    session: Session,
    actor: Actor,
    name: str,
    department: str,
    zones: list[str],
    *,
    days: int,
) -> Issued:
    """A new token for one department's system (and only those zones, when given)."""
    if not actor.is_city:
        raise Forbidden("only the city (admin) issues department tokens")
    name = name.strip()
    if not name or len(name) > 64:
        raise Refused("请填写使用令牌的系统名称（1 到 64 个字），如：人社局社保系统。")
    if department not in DEPARTMENTS:
        raise Refused(f"未知的部门：{department}（可选：{'、'.join(DEPARTMENTS)}）")
    unknown = [z for z in zones if session.get(Zone, z) is None]
    if unknown:
        raise Refused(f"未知的镇街：{'、'.join(unknown)}")
    if not 1 <= days <= MAX_DAYS:
        raise Refused(f"有效期应为 1 到 {MAX_DAYS} 天。")
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        name=name, department=department, zones=orjson.dumps(sorted(set(zones))).decode(),
        secret_sha256=_digest(secret), created_at=now, created_by=actor.username,
        expires_at=now + dt.timedelta(days=days),
    )  # fmt: skip
    session.add(token)
    session.flush()
    record(
        session, actor, "token.issue", object_type="api_token", object_id=str(token.id),
        diff={"name": name, "department": department, "zones": sorted(set(zones)), "days": days},
    )  # fmt: skip
    return Issued(token, f"jifen_{token.id}_{secret}")


def revoke(session: Session, actor: Actor, token_id: int) -> ApiToken:
    if not actor.is_city:
        raise Forbidden("only the city (admin) revokes department tokens")
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(str(token_id))
    if token.revoked_at is not None:
        raise Refused("这个令牌已经吊销了。")
    token.revoked_at, token.revoked_by = utcnow(), actor.username
    session.add(token)
    record(
        session, actor, "token.revoke", object_type="api_token", object_id=str(token.id),
        diff={"name": token.name, "department": token.department},
    )  # fmt: skip
    return token


def tokens(session: Session, actor: Actor) -> list[ApiToken]:
    if not actor.is_city:
        raise Forbidden("only the city (admin) sees department tokens")
    return list(session.exec(select(ApiToken).order_by(ApiToken.id.desc())).all())


def token_state(token: ApiToken, now: dt.datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and now >= _aware(token.expires_at):
        return "expired"
    return "live"


def token_id(presented: str) -> int | None:
    """The id a presented token claims, if it has a token's shape at all."""
    found = TOKEN.fullmatch(presented)
    return int(found.group(1)) if found else None


def authenticate(session: Session, presented: str) -> tuple[ApiToken, Actor]:
    """The token and the actor it stands for: a reviewer of its department, in its zones.
    A revoked, expired or unknown token, or a wrong secret, are refused alike; a known token
    refused is audited (under its name), a shapeless one is not (there is no one to name)."""
    found = TOKEN.fullmatch(presented)
    if found is None:
        raise TokenRefused()
    token = session.get(ApiToken, int(found.group(1)))
    if token is None:
        raise TokenRefused()
    actor = _actor(token)
    matches = hmac.compare_digest(token.secret_sha256, _digest(found.group(2)))
    state = token_state(token, utcnow()) if matches else "wrong secret"
    if state != "live":
        record(
            session, actor, "token.refused", object_type="api_token", object_id=str(token.id),
            diff={"why": state},
        )  # fmt: skip
        raise TokenRefused()
    token.last_used_at = utcnow()
    session.add(token)
    return token, actor


def _actor(token: ApiToken) -> Actor:
    return Actor(
        username=f"token:{token.id}:{token.name}"[:64],
        role="reviewer",
        zones=frozenset(orjson.loads(token.zones)),
        department=token.department,
    )


# ---- what a department's system reads and settles ------------------------------------------


def waiting(
    session: Session,
    keys: DataKeys,
    actor: Actor,
    *,
    round_id: str = "",
    zone: str = "",
    after: str = "",
    limit: int = 100,
) -> dict[str, Any]:
    """The facts of the actor's department waiting for verification, in application order,
    from the application after `after`, at most `limit` applications. Each carries what the
    department's system needs to find its own records — the applicant's ID number and name —
    and the application's version, to send back with the decisions. The read is audited with
    the application numbers it disclosed."""
    facts = ClaimedFact.__table__.c
    where = [facts.department == actor.department, facts.state == "claimed"]
    if actor.zones:
        where.append(facts.zone_id.in_(sorted(actor.zones)))
    if zone:
        where.append(facts.zone_id == zone)
    query = (
        select(Application, Applicant)
        .join(Applicant, Applicant.id == Application.applicant_id)
        .where(Application.id.in_(select(facts.application_id).where(*where)))
        .order_by(Application.application_no)
        .limit(limit + 1)
    )
    if round_id:
        query = query.where(Application.round_id == round_id)
    if after:
        query = query.where(Application.application_no > after)
    rows = session.exec(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [application.id for application, _ in rows]
    claimed: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for fact in session.exec(
            select(ClaimedFact)
            .where(
                ClaimedFact.application_id.in_(ids),
                ClaimedFact.department == actor.department,
                ClaimedFact.state == "claimed",
            )
            .order_by(ClaimedFact.id)
        ).all():
            claimed[fact.application_id].append(
                {"fact": fact.fact, "claimed": orjson.loads(fact.claimed)}
            )
    applications = [
        {
            "application_no": application.application_no,
            "round": application.round_id,
            "zone": application.zone_id,
            "category": application.category,
            "version": application.version,
            "id_number": decrypt(keys, "id_number", applicant.id_number_enc),
            "name": decrypt(keys, "name", applicant.name_enc),
            "facts": claimed[application.id],
        }
        for application, applicant in rows
    ]
    record(
        session, actor, "exchange.read", object_type="department", object_id=actor.department,
        diff={"applications": [a["application_no"] for a in applications], "round": round_id,
              "zone": zone},
    )  # fmt: skip
    return {
        "department": actor.department,
        "applications": applications,
        "next": applications[-1]["application_no"] if more else None,
    }


@dataclass(frozen=True)
class BatchProblem:
    index: int
    zh: str
    en: str


class BatchRefused(Exception):
    """Nothing of the batch was written: every problem, by the decision's index."""

    def __init__(self, problems: list[BatchProblem]):
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


FIELDS = {"application_no", "fact", "decision", "value", "reason", "evidence", "version"}


def settle_batch(
    session: Session,
    actor: Actor,
    keys: DataKeys,
    decisions: Any,
    *,
    today: dt.date,
) -> dict[str, Any]:
    """Settle every decision of the batch, or none (BatchRefused with each problem). Each
    names the version of its application as read; several decisions on one application
    share that version."""
    if not isinstance(decisions, list) or not 1 <= len(decisions) <= MAX_DECISIONS:
        raise BatchRefused(
            [BatchProblem(-1, f"decisions 应为 1 到 {MAX_DECISIONS} 项的数组",
                          f"decisions must be an array of 1 to {MAX_DECISIONS}")]
        )  # fmt: skip
    problems: list[BatchProblem] = []
    read_as: dict[str, int] = {}  # application -> the version the decisions were read at
    settled = 0
    scored: list[str] = []
    for index, item in enumerate(decisions):
        shape = _shape_problem(item)
        if shape:
            problems.append(BatchProblem(index, *shape))
            continue
        number = item["application_no"]
        try:
            application = locked(session, actor, number)
            base = read_as.setdefault(number, application.version)
            if item["version"] != base:
                raise Refused("此申请已被他人修改，请重新读取后再核验。")
            decision = Decision(
                item["fact"], item["decision"], value=str(item.get("value", "")),
                reason=item.get("reason", ""), evidence=item["evidence"],
            )  # fmt: skip
            done = settle(
                session, actor, keys, number, decision, version=application.version, today=today
            )
        except NotFound:
            problems.append(BatchProblem(index, NOT_YOURS_ZH, NOT_YOURS_EN))
            continue
        except Refused as exc:
            problems.append(BatchProblem(index, exc.zh, "refused"))
            continue
        settled += 1
        if done.status in ("scored", "ineligible"):
            scored.append(number)
    if problems:
        raise BatchRefused(problems)
    record(
        session, actor, "exchange.settle", object_type="department", object_id=actor.department,
        diff={"decisions": settled, "applications": sorted(read_as)},
    )  # fmt: skip
    return {"settled": settled, "scored": scored}


def _shape_problem(item: Any) -> tuple[str, str] | None:
    if not isinstance(item, dict):
        return "应为 JSON 对象", "must be an object"
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        return f"未知字段：{', '.join(unknown)}", f"unknown fields: {', '.join(unknown)}"
    for key in ("application_no", "fact", "decision", "evidence"):
        if not isinstance(item.get(key), str) or not item[key]:
            return f"{key} 必填，应为字符串", f"{key}: a non-empty string is required"
    version = item.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        return "version 必填，应为读取时的版本号（整数）", "version: the integer read is required"
    if item["decision"] not in DECISIONS:
        return "decision 应为 confirm、correct 或 reject", "decision: confirm, correct or reject"
    for key in ("reason", "value"):
        if key in item and not isinstance(item[key], str | int | float):
            return f"{key} 应为字符串或数字", f"{key}: a string or a number"
    return None
