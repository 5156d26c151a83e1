"""Issuing, printing, reprinting, revoking and verifying approval certificates.

A certificate is issued once to an admitted application of a final round: a number (the
round's prefix, a sequence, an ISO 7064 MOD 37,36 check character, as GB/T 36904 does for
电子证照 identifiers) and a signed code of its claims. Printing a batch again prints the same
certificates (the same numbers and codes) and lists one more copy of each; a new number is only
ever given by a reprint, an explicit act with a reason that supersedes the old certificate.
Every issue, print, reprint, revocation, recorded use and public verification is audited.

Printing is two steps around the slow one: `prepare_batch` issues what is missing and returns
the pages (one transaction), the caller renders them without holding the database, then
`record_batch` lists the copies and keeps the PDF (another). A render that dies in between
leaves issued certificates that the next print prints with the same numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import orjson
from sqlalchemy.orm import defer
from sqlmodel import Session, select
from stdnum.iso7064 import mod_37_36

from app.accounts.actor import Actor
from app.accounts.operations import Forbidden
from app.applications.models import Applicant, Application
from app.applications.operations import NotFound, Refused, points_of
from app.audit.models import AuditHead
from app.audit.operations import record, utcnow
from app.certificates import signing
from app.certificates.models import Certificate, CertificateCopy, PrintBatch, SigningKey
from app.certificates.render import Page, unprintable
from app.localtime import beijing_today
from app.protect import (
    DataKeys,
    decrypt,
    decrypt_bytes,
    encrypt_bytes,
    mask_id,
    mask_name_for_publicity,
)
from app.rounds.allocation import current_run
from app.rounds.models import Outcome, Round
from app.rounds.operations import round_config
from app.status.operations import PUBLIC
from scoring.programmes import chinese_date

TITLES = {"school": "积分入学录取通知书", "hukou": "积分入户核准通知书"}
KINDS = {"school": "入学", "hukou": "入户"}


@dataclass(frozen=True)
class Signer:
    """The key in force: what signs new certificates."""

    private: signing.Ed25519PrivateKey
    development: bool = False  # made in instance/ because JIFEN_SIGNING_KEY is not set

    @property
    def kid(self) -> str:
        return signing.key_id(self.private.public_key())


def certificate_number(prefix: str, sequence: int) -> str:
    """ZS2026-P1 and 123 -> ZS2026-P1-C000123-N."""
    body = f"{prefix}-C{sequence:06d}"
    return f"{body}-{mod_37_36.calc_check_digit(body.replace('-', ''))}"


def well_formed_number(number: str) -> bool:
    """Whether a typed or scanned number can be one (its check character right), before any
    lookup."""
    body, _, check = number.rpartition("-")
    return len(number) <= 48 and bool(body) and mod_37_36.is_valid(body.replace("-", "") + check)


def register_key(session: Session, signer: Signer) -> SigningKey:
    """The signer's public key, listed (and published) from its first use; a new key retires
    the earlier ones from signing (they still verify what they signed)."""
    # every registration waits on the audit chain's head: two first prints with a new key (of
    # two rounds, say) cannot both insert it
    session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    found = session.get(SigningKey, signer.kid)
    if found is not None:
        return found
    if signer.development and session.exec(select(SigningKey)).first() is not None:
        raise Refused(
            "未设置 JIFEN_SIGNING_KEY：本机刚生成的开发用密钥不能替换已登记的签名密钥。"
            "请将 JIFEN_SIGNING_KEY 指向本机构的签名密钥文件。"
        )
    now = utcnow()
    for older in session.exec(select(SigningKey).where(SigningKey.retired_at.is_(None))).all():
        older.retired_at = now
        session.add(older)
    key = SigningKey(
        kid=signer.kid,
        public_key=signing.raw_public(signer.private.public_key()),
        valid_from=now,
    )
    session.add(key)
    session.flush()
    record(
        session,
        Actor("system", "system"),
        "certificate.key",
        object_type="signing_key",
        object_id=signer.kid,
        diff={"valid_from": signing.iso(now)},
    )
    return key


def published_keys(session: Session) -> dict:
    rows = session.exec(select(SigningKey).order_by(SigningKey.valid_from)).all()
    return signing.keys_document(
        [
            {
                "kid": k.kid,
                "public_key": k.public_key,
                "valid_from": signing.iso(k.valid_from),
                "retired_at": signing.iso(k.retired_at),
            }
            for k in rows
        ]
    )


def verifying_keys(session: Session) -> dict[str, signing.Published]:
    return {
        k.kid: signing.Published(
            signing.public_from_raw(k.public_key),
            k.retired_at.astimezone(dt.UTC).date() if k.retired_at else None,
        )
        for k in session.exec(select(SigningKey)).all()
    }


# ---- the round and its settings -----------------------------------------------------------------


def settings_problems(settings: object) -> list[str]:
    """What is wrong with a round's optional `certificate` object (printed on each certificate:
    the issuing office, the deadline to register or enrol, further notes)."""
    where = "field 'certificate"
    if not isinstance(settings, dict):
        return [f"{where}': must be an object / 通知书设置必须是对象"]
    problems = []
    for key in settings.keys() - {"issuer", "deadline", "notes"}:
        problems.append(f"{where}.{key}': unknown field (issuer, deadline, notes) / 未知字段")
    issuer = settings.get("issuer")
    if not isinstance(issuer, str) or not 2 <= len(issuer.strip()) <= 40:
        problems.append(
            f"{where}.issuer': the issuing office, 2–40 characters / 签发机关应为 2 到 40 个字"
        )
    try:
        dt.date.fromisoformat(str(settings.get("deadline")))
    except ValueError:
        problems.append(f"{where}.deadline': a date YYYY-MM-DD / 办理期限应为日期")
    notes = settings.get("notes", [])
    if (
        not isinstance(notes, list)
        or len(notes) > 5
        or not all(isinstance(n, str) and 1 <= len(n) <= 200 for n in notes)
    ):
        problems.append(
            f"{where}.notes': up to 5 texts of 1–200 characters / 须知最多 5 条，每条 1 到 200 字"
        )
    return problems


def _final_round(session: Session, actor: Actor, round_id: str, *, lock: bool = False):
    if actor.role not in ("admin", "clerk"):
        raise Forbidden("only the city and the zones' windows print certificates")
    query = select(Round).where(Round.id == round_id)
    round_ = session.exec(query.with_for_update() if lock else query).first()
    if round_ is None:
        raise NotFound(round_id)
    if round_.finalized_at is None:
        raise Refused("本轮尚未完成（公示和异议处理结束、本轮完成后才能打印通知书）。")
    config = round_config(session, round_)
    if "certificate" not in config:
        raise Refused(
            "本轮配置没有通知书设置（certificate：签发机关 issuer、办理期限 deadline），"
            "请先补充轮次配置再打印。"
        )
    return round_, config


# ---- issuing and printing -----------------------------------------------------------------------


@dataclass
class Prepared:
    """A batch ready to render: its pages in print order, and what could not be printed."""

    round_id: str
    zone: str  # "" for every zone the actor sees
    title: str
    author: str
    created: str
    pages: list[Page] = field(default_factory=list)
    certificates: list[int] = field(default_factory=list)  # ids, in page order
    issued: int = 0  # of them, issued by this batch
    refused: list[dict] = field(default_factory=list)  # {"application_no", "reason"}


def prepare_batch(
    session: Session,
    actor: Actor,
    keys: DataKeys,
    signer: Signer,
    round_id: str,
    *,
    zone: str | None,
    today: dt.date,
    public_url: str,
) -> Prepared:
    """Issue the certificates a batch still lacks and return its pages: every admitted
    application of the round (of one zone, or of every zone the actor sees), ordered by zone,
    category, school and application number."""
    round_, config = _final_round(session, actor, round_id, lock=True)
    zones = [z["id"] for z in config["zones"]]
    if zone is not None and (zone not in zones or not actor.sees_zone(zone)):
        raise NotFound(zone)
    wanted = [zone] if zone is not None else [z for z in zones if actor.sees_zone(z)]
    if len(wanted) == 1:  # a clerk of one zone printing "all": the batch is that zone's
        zone = wanted[0]
    register_key(session, signer)
    run = current_run(session, round_id)
    rows = session.exec(
        select(Outcome, Application, Applicant)
        .join(
            Application,
            (Application.application_no == Outcome.application_no)
            & (Application.round_id == round_id),
        )
        .join(Applicant, Applicant.id == Application.applicant_id)
        .where(
            Outcome.run_id == run.id,
            Outcome.status == "admitted",
            Outcome.zone_id.in_(wanted),
        )
    ).all()
    order = {z: n for n, z in enumerate(zones)}
    categories = {c["id"]: n for n, c in enumerate(config["categories"])}
    rows.sort(
        key=lambda r: (
            order[r[0].zone_id],
            categories[r[0].category],
            r[0].school or "",
            r[0].application_no,
        )
    )
    existing: dict[int, list[Certificate]] = {}
    for cert in session.exec(select(Certificate).where(Certificate.round_id == round_id)).all():
        existing.setdefault(cert.application_id, []).append(cert)
    sequence = max((c.sequence for cs in existing.values() for c in cs), default=0)
    settings = config["certificate"]
    prepared = Prepared(
        round_id, zone or "", f"{round_.name} 通知书", settings["issuer"], today.isoformat()
    )
    for outcome, application, applicant in rows:
        held = existing.get(application.id, [])
        current = next((c for c in held if c.state == "valid"), None)
        if current is None and held:  # revoked, and not reissued: a reprint is an explicit act
            prepared.refused.append(
                {
                    "application_no": application.application_no,
                    "reason": "通知书已撤销，如需补发请在申请页办理补打",
                }
            )
            continue
        name = decrypt(keys, "name", applicant.name_enc)
        fields = _fields(config, outcome, name)
        problem = unprintable(fields)
        if problem:
            prepared.refused.append(
                {"application_no": application.application_no, "reason": problem}
            )
            continue
        if current is None:
            sequence += 1
            current = _issue(
                session,
                actor,
                signer,
                round_,
                config,
                outcome,
                application,
                name,
                sequence,
                today=today,
            )
            prepared.issued += 1
        id_number = decrypt(keys, "id_number", applicant.id_number_enc)
        prepared.pages.append(_page(config, current, fields, mask_id(id_number), public_url))
        prepared.certificates.append(current.id)
    if prepared.issued:
        record(
            session,
            actor,
            "certificate.issue",
            object_type="round",
            object_id=round_id,
            zone=zone or "",
            diff={"issued": prepared.issued, "last_sequence": sequence, "kid": signer.kid},
        )
    return prepared


def _fields(config: dict, outcome: Outcome, name: str) -> dict[str, str]:
    zones = {z["id"]: z for z in config["zones"]}
    category = next(c for c in config["categories"] if c["id"] == outcome.category)
    schools = {s["id"]: s for s in config.get("schools", [])}
    school = schools.get(outcome.school or "", {})
    return {
        "name": name,
        "issuer": config["certificate"]["issuer"],
        "round_name": config["name"],
        "zone": zones[outcome.zone_id].get("name", outcome.zone_id),
        "category": category.get("name", category["id"]),
        "school": school.get("name", outcome.school or "") if outcome.school else "",
    }


def _issue(
    session,
    actor,
    signer,
    round_,
    config,
    outcome,
    application,
    name,
    sequence,
    *,
    today,
) -> Certificate:
    kind = "school" if _kind(config, outcome.category) == "school" else "hukou"
    fields = _fields(config, outcome, name)
    number = certificate_number(round_.number_prefix, sequence)
    claims = {
        "v": 1,
        "number": number,
        "kind": kind,
        "round": round_.id,
        "year": round_.year,
        "zone": fields["zone"],
        "name": mask_name_for_publicity(name),
        "points_cents": application.ranking_cents or 0,
        "issued": today.isoformat(),
        "rank": outcome.zone_rank,
    }
    if fields["school"]:
        claims["school"] = fields["school"]
    cert = Certificate(
        number=number,
        sequence=sequence,
        round_id=round_.id,
        application_id=application.id,
        application_no=application.application_no,
        run_id=outcome.run_id,
        kind=kind,
        zone_id=outcome.zone_id,
        category=outcome.category,
        school=outcome.school,
        points_cents=application.ranking_cents or 0,
        zone_rank=outcome.zone_rank,
        masked_name=claims["name"],
        issued_on=today,
        kid=signer.kid,
        code=signing.sign(signer.private, claims),
        issued_by=actor.username,
    )
    session.add(cert)
    session.flush()
    return cert


def _kind(config: dict, category: str) -> str:
    return next(c["kind"] for c in config["categories"] if c["id"] == category)


def verify_url(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/verify/{code}"


def _page(config: dict, cert: Certificate, fields: dict, masked_id: str, public_url: str) -> Page:
    settings = config["certificate"]
    deadline = chinese_date(dt.date.fromisoformat(settings["deadline"]))
    zone = next(z for z in config["zones"] if z["id"] == cert.zone_id)
    office = zone.get("office", {})
    points = points_of(cert.points_cents)
    if cert.kind == "school":
        body = (
            f"经审核，你参加{fields['round_name']}，核定积分 {points} 分，在{fields['zone']}"
            f"排名第 {cert.zone_rank} 名，已被{fields['school']}录取为{fields['category']}新生。"
        )
        steps = [
            f"请于 {deadline}前，由监护人持本通知书、学生身份证明和监护人居住证到"
            f"{fields['school']}办理报到手续；逾期未报到的，视为放弃录取资格。"
        ]
    else:
        body = (
            f"经审核，你参加{fields['round_name']}，核定积分 {points} 分，在{fields['zone']}"
            f"排名第 {cert.zone_rank} 名，已获得积分入户指标，准予办理入户。"
        )
        place = office.get("name") or f"{fields['zone']}公共服务中心"
        steps = [
            f"请于 {deadline}前，持本通知书和本人居民身份证到{place}办理入户手续；"
            "逾期未办理的，视为放弃入户指标。"
        ]
    if office.get("address"):
        where = "，".join(
            v for v in (office.get("name"), office["address"], office.get("hours")) if v
        )
        lead = "如有疑问，请咨询" if cert.kind == "school" else "办理地点："
        steps.append(
            f"{lead}{where}" + (f"，电话 {office['phone']}。" if office.get("phone") else "。")
        )
    steps.extend(settings.get("notes", []))
    steps.append("扫描左下角二维码可核验本通知书真伪；核验页面的信息应与本通知书一致。")
    url = verify_url(public_url, cert.code)
    return Page(
        number=cert.number,
        title=TITLES[cert.kind],
        issuer=fields["issuer"],
        round_name=fields["round_name"],
        name=fields["name"],
        masked_id=masked_id,
        zone=fields["zone"],
        category=fields["category"],
        school=fields["school"],
        points=str(points),
        rank=str(cert.zone_rank),
        application_no=cert.application_no,
        issued=chinese_date(cert.issued_on),
        body=body,
        next_steps=steps,
        verify_url=url,
    )


def record_batch(
    session: Session, actor: Actor, keys: DataKeys, prepared: Prepared, pdf: bytes
) -> PrintBatch:
    """List one more copy of each certificate printed, and keep the PDF (encrypted)."""
    digest = hashlib.sha256(pdf).hexdigest()
    batch = PrintBatch(
        round_id=prepared.round_id,
        zone_id=prepared.zone,
        created_at=utcnow(),
        created_by=actor.username,
        pages=len(prepared.pages),
        refused=orjson.dumps(prepared.refused).decode(),
        pdf_sha256=digest,
        pdf_enc=encrypt_pdf(keys, pdf),
    )
    session.add(batch)
    session.flush()
    now = utcnow()
    for cert_id in prepared.certificates:
        session.add(
            CertificateCopy(
                certificate_id=cert_id, batch_id=batch.id, printed_at=now, printed_by=actor.username
            )
        )
    record(
        session,
        actor,
        "certificate.print",
        object_type="round",
        object_id=prepared.round_id,
        zone=prepared.zone,
        diff={
            "batch": batch.id,
            "pages": batch.pages,
            "issued": prepared.issued,
            "sha256": digest,
            "refused": [r["application_no"] for r in prepared.refused],
        },
    )
    return batch


def encrypt_pdf(keys: DataKeys, pdf: bytes) -> bytes:
    return encrypt_bytes(keys, "certificate_pdf", pdf)


def batch_pdf(
    session: Session, actor: Actor, keys: DataKeys, batch_id: int, *, audit: Session
) -> tuple[PrintBatch, bytes]:
    """A batch's PDF (full names: the city and the zone's windows only, not auditors), its
    download audited in `audit` (a transaction of its own: the page otherwise only reads)."""
    batch = session.get(PrintBatch, batch_id)
    if (
        batch is None
        or batch.pdf_enc is None
        or actor.role not in ("admin", "clerk")
        or not _sees_batch(actor, batch)
    ):
        raise NotFound(str(batch_id))
    pdf = decrypt_bytes(keys, "certificate_pdf", batch.pdf_enc)
    if hashlib.sha256(pdf).hexdigest() != batch.pdf_sha256:
        raise RuntimeError(
            f"certificate batch {batch_id}: the stored PDF does not match its digest"
        )
    record(
        audit,
        actor,
        "certificate.download",
        object_type="certificate_batch",
        object_id=str(batch_id),
        zone=batch.zone_id,
    )
    return batch, pdf


def _sees_batch(actor: Actor, batch: PrintBatch) -> bool:
    if actor.role not in ("admin", "clerk", "auditor"):
        return False
    return actor.role != "clerk" or (batch.zone_id != "" and actor.sees_zone(batch.zone_id))


def batches(session: Session, actor: Actor, round_id: str) -> list[PrintBatch]:
    found = session.exec(
        select(PrintBatch)
        .options(defer(PrintBatch.pdf_enc))  # a listing, not the files
        .where(PrintBatch.round_id == round_id)
        .order_by(PrintBatch.id.desc())
    ).all()
    return [b for b in found if _sees_batch(actor, b)]


# ---- one certificate: reprint, revoke, record its use --------------------------------------------


def _certificate(session: Session, actor: Actor, number: str, *, lock: bool = True):
    query = select(Certificate).where(Certificate.number == number)
    cert = session.exec(query.with_for_update() if lock else query).first()
    if cert is None or not actor.sees_zone(cert.zone_id) or actor.role == "reviewer":
        raise NotFound(number)
    return cert


def _reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not 2 <= len(reason) <= 500:
        raise Refused("请写明原因（2 到 500 字）。")
    return reason


def reprint(
    session: Session,
    actor: Actor,
    keys: DataKeys,
    signer: Signer,
    number: str,
    reason: str,
    *,
    today: dt.date,
    public_url: str,
) -> Prepared:
    """A new certificate for a lost or damaged one (or one revoked in error, while the
    application is still admitted): a new number; the old one, if valid, is superseded."""
    if actor.role not in ("admin", "clerk"):
        raise Forbidden("only the city and the zones' windows reprint certificates")
    old = _certificate(session, actor, number)
    reason = _reason(reason)
    if old.state == "superseded":
        raise Refused(f"通知书 {number} 已被 {old.replaced_by} 替代，请补打最新的通知书。")
    if old.used_on is not None:
        raise Refused(
            f"通知书 {number} 已于 {chinese_date(old.used_on)}登记{USE_NAMES[old.kind]}，不能补打。"
        )
    if old.state == "revoked" and not actor.is_city:  # a window cannot undo the city's act
        raise Refused(f"通知书 {number} 已由市里撤销，只有市里可以补发。")
    round_, config = _final_round(session, actor, old.round_id, lock=True)
    register_key(session, signer)
    run = current_run(session, old.round_id)
    outcome = session.exec(
        select(Outcome).where(
            Outcome.run_id == run.id, Outcome.application_no == old.application_no
        )
    ).first()
    if outcome is None or outcome.status != "admitted":
        raise Refused(f"申请 {old.application_no} 在本轮的结果不是录取/入户，不能补发通知书。")
    application = session.get(Application, old.application_id)
    applicant = session.get(Applicant, application.applicant_id)
    name = decrypt(keys, "name", applicant.name_enc)
    fields = _fields(config, outcome, name)
    problem = unprintable(fields)
    if problem:
        raise Refused(f"申请 {old.application_no}：{problem}。")
    sequence = max(
        session.exec(select(Certificate.sequence).where(Certificate.round_id == old.round_id)).all()
    )
    new = _issue(
        session,
        actor,
        signer,
        round_,
        config,
        outcome,
        application,
        name,
        sequence + 1,
        today=today,
    )
    new.reason = reason
    if old.state == "valid":
        old.state, old.replaced_by = "superseded", new.number
        old.reason, old.changed_at, old.changed_by = reason, utcnow(), actor.username
    session.add_all([old, new])
    record(
        session,
        actor,
        "certificate.reprint",
        object_type="certificate",
        object_id=new.number,
        zone=new.zone_id,
        diff={
            "replaces": old.number,
            "old_state": old.state,
            "application": new.application_no,
            "reason": reason,
        },
    )
    id_number = decrypt(keys, "id_number", applicant.id_number_enc)
    prepared = Prepared(
        old.round_id,
        new.zone_id,
        f"{round_.name} 通知书",
        config["certificate"]["issuer"],
        today.isoformat(),
        issued=1,
    )
    prepared.pages.append(_page(config, new, fields, mask_id(id_number), public_url))
    prepared.certificates.append(new.id)
    return prepared


def revoke(session: Session, actor: Actor, number: str, reason: str) -> Certificate:
    """Withdraw a certificate (its outcome changed, or it was issued in error): the city only."""
    if not actor.is_city:
        raise Forbidden("only the city revokes certificates")
    cert = _certificate(session, actor, number)
    reason = _reason(reason)
    if cert.state != "valid":
        raise Refused(f"通知书 {number} 已{STATE_NAMES[cert.state]}。")
    cert.state, cert.reason, cert.changed_at, cert.changed_by = (
        "revoked",
        reason,
        utcnow(),
        actor.username,
    )
    session.add(cert)
    record(
        session,
        actor,
        "certificate.revoke",
        object_type="certificate",
        object_id=number,
        zone=cert.zone_id,
        diff={"application": cert.application_no, "reason": reason},
    )
    return cert


def record_use(session: Session, actor: Actor, number: str, *, day: dt.date) -> Certificate:
    """The holder registered (入户) or enrolled (报到) with this certificate, on `day`."""
    if actor.role not in ("admin", "clerk"):
        raise Forbidden("only the city and the zones' windows record a certificate's use")
    cert = _certificate(session, actor, number)
    if cert.state != "valid":
        raise Refused(f"通知书 {number} 已{STATE_NAMES[cert.state]}，不能登记。")
    if cert.used_on is not None:
        raise Refused(
            f"通知书 {number} 已于 {chinese_date(cert.used_on)}登记{USE_NAMES[cert.kind]}。"
        )
    if day < cert.issued_on or day > beijing_today():
        raise Refused("登记日期应在签发日期之后、不晚于今天。")
    cert.used_on, cert.used_by = day, actor.username
    session.add(cert)
    record(
        session,
        actor,
        "certificate.use",
        object_type="certificate",
        object_id=number,
        zone=cert.zone_id,
        diff={"application": cert.application_no, "on": day.isoformat()},
    )
    return cert


STATE_NAMES = {"valid": "有效", "revoked": "撤销", "superseded": "被新通知书替代"}
USE_NAMES = {"school": "报到", "hukou": "入户"}


@dataclass(frozen=True)
class Listed:
    certificate: Certificate
    copies: list[CertificateCopy]


def of_application(session: Session, application: Application) -> list[Listed]:
    """Every certificate of an application (newest first), each with every copy printed."""
    certs = session.exec(
        select(Certificate)
        .where(Certificate.application_id == application.id)
        .order_by(Certificate.sequence.desc())
    ).all()
    copies: dict[int, list[CertificateCopy]] = {}
    if certs:
        for copy in session.exec(
            select(CertificateCopy)
            .where(CertificateCopy.certificate_id.in_([c.id for c in certs]))
            .order_by(CertificateCopy.id)
        ).all():
            copies.setdefault(copy.certificate_id, []).append(copy)
    return [Listed(c, copies.get(c.id, [])) for c in certs]


# ---- verification -----------------------------------------------------------------------------

VERDICTS = {
    "valid": "有效",
    "revoked": "已撤销",
    "superseded": "已被新证书替代",
    "invalid": "无效，可能伪造",
}


@dataclass(frozen=True)
class Verdict:
    state: str  # valid, revoked, superseded, invalid
    claims: dict
    kid: str = ""
    issuer: str = ""
    round_name: str = ""
    replaced_by: str = ""
    checked: bool = True  # whether the state is the issuing office's (False: signature only)

    @property
    def label(self) -> str:
        return VERDICTS[self.state]


def check_code(code: str, keys: dict, states: dict | None = None) -> Verdict:
    """A code's verdict from the signature alone, then its state by number where `states` knows
    the number (`checked` says whether it did)."""
    try:
        signed = signing.verify(signing.code_of(code), keys)
    except signing.InvalidCode:
        return Verdict("invalid", {}, checked=True)
    state = (states or {}).get(signed.claims["number"])
    return Verdict(state or "valid", signed.claims, signed.kid, checked=state is not None)


def verdict_of(session: Session, code: str) -> tuple[Verdict, Certificate | None]:
    """The signature against the keys this office published, then the certificate as issued:
    a signed code that is not exactly what was issued under its number is not genuine."""
    code = signing.code_of(code)
    verdict = check_code(code, verifying_keys(session))
    if verdict.state == "invalid":
        return verdict, None
    cert = session.exec(
        select(Certificate).where(Certificate.number == verdict.claims["number"])
    ).first()
    if cert is None or cert.code != code:
        return Verdict("invalid", {}, checked=True), None
    config = round_config(session, session.get(Round, cert.round_id))
    return Verdict(
        cert.state, verdict.claims, verdict.kid, config["certificate"]["issuer"], config["name"],
        cert.replaced_by, checked=True,
    ), cert  # fmt: skip


def audit_verification(session: Session, verdict: Verdict, cert: Certificate | None) -> None:
    """A public verification's audit entry: the number and the verdict, nothing of who asked."""
    record(
        session,
        PUBLIC,
        "certificate.verify",
        object_type="certificate",
        object_id=cert.number if cert else "",
        zone=cert.zone_id if cert else "",
        diff={"verdict": verdict.state},
    )


def verify_code(session: Session, code: str) -> Verdict:
    """`verdict_of` and its audit entry, in one session."""
    verdict, cert = verdict_of(session, code)
    audit_verification(session, verdict, cert)
    return verdict


def states_by_number(session: Session, numbers: list[str]) -> dict[str, str]:
    return dict(
        session.exec(
            select(Certificate.number, Certificate.state).where(Certificate.number.in_(numbers))
        ).all()
    )
