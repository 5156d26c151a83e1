"""Certificates on the web: the public verification page and keys (`/verify/…`, no login), and
the office's printing page, batch downloads and the acts on one certificate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from app.accounts.operations import Forbidden
from app.accounts.web import (
    audit_writer,
    current_actor,
    expired_job,
    guard,
    keys,
    refuse,
    require,
)
from app.applications.operations import NotFound, Refused, points_of
from app.audit.operations import record
from app.certificates import operations as ops
from app.db import commit_request, request_session
from app.localtime import beijing_today
from app.rounds.models import Round
from app.rounds.operations import round_config

public = Blueprint("verify", __name__, url_prefix="/verify")
office = Blueprint("certificates", __name__, url_prefix="/office")
office.before_request(guard)


def signer() -> ops.Signer:
    found = current_app.extensions.get("jifen_signer")
    if found is None:
        from app.certificates.signing import load_signing_key

        settings = {k: str(v) for k, v in current_app.config.items() if k.startswith("JIFEN_")}
        found = current_app.extensions["jifen_signer"] = ops.Signer(
            load_signing_key(settings, Path(current_app.instance_path)),
            development=not settings.get("JIFEN_SIGNING_KEY"),
        )
    return found


# ---- public ------------------------------------------------------------------------------------


@public.get("/keys")
def published_keys():
    document = ops.published_keys(request_session())
    return Response(
        orjson.dumps(document, option=orjson.OPT_INDENT_2),
        mimetype="application/json",
        headers={"Cache-Control": "public, max-age=300"},
    )


@public.get("/<code>")
def verify(code: str):
    verdict, cert = ops.verdict_of(request_session(), code)
    try:  # the audit entry in its own short transaction: a reader never waits on a writer
        with audit_writer() as writer:
            ops.audit_verification(writer, verdict, cert)
    except OperationalError:  # the database busy beyond its timeout: the verdict still stands
        current_app.logger.warning("certificate.verify: audit entry not written (busy)")
    claims = verdict.claims
    page = render_template(
        "verify.html",
        verdict=verdict,
        claims=claims,
        kind=ops.KINDS.get(claims.get("kind"), ""),
        points=points_of(claims["points_cents"]) if "points_cents" in claims else None,
    )
    # the address holds the code: never sent on to another site, never cached
    return (
        page,
        200,
        {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"},
    )


# ---- the office ----------------------------------------------------------------------------------


def _jobs() -> Path:
    folder = Path(current_app.instance_path) / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _round(round_id: str) -> Round:
    require("admin", "clerk", "auditor")
    found = request_session().get(Round, round_id)
    if found is None:
        abort(404)
    return found


def _page(round_, error: str = "", status_code: int = 200):
    db = request_session()
    actor = current_actor()
    config = round_config(db, round_)
    zones = [z for z in config["zones"] if actor.sees_zone(z["id"])]
    batches = ops.batches(db, actor, round_.id)
    refused = {b.id: orjson.loads(b.refused) for b in batches}
    return render_template(
        "office/certificates.html",
        round=round_,
        config=config,
        zones=zones,
        batches=batches,
        refused=refused,
        error=error,
        zone_names={z["id"]: z.get("name", z["id"]) for z in zones},
        can_print=actor.role in ("admin", "clerk"),
    ), status_code


@office.get("/rounds/<round_id>/certificates")
def round_certificates(round_id: str):
    return _page(_round(round_id))


@office.post("/rounds/<round_id>/certificates")
def print_round(round_id: str):
    """A batch is printed by the job queue; the page that follows shows where it is."""
    from app.jobfiles import new_token, write_state
    from app.jobs import certificates_job

    require("admin", "clerk")
    round_ = _round(round_id)
    actor = current_actor()
    zone = request.form.get("zone", "").strip() or None
    if zone is None and actor.role == "clerk" and len(actor.zones) != 1:
        return _page(round_, "请选择要打印的镇街。", 422)
    zones = {z["id"] for z in round_config(request_session(), round_)["zones"]}
    if zone is not None and (zone not in zones or not actor.sees_zone(zone)):
        refuse("certificate.print", "zone", zone, zone)
    if round_.finalized_at is None:
        return _page(round_, "本轮尚未完成（公示和异议处理结束、本轮完成后才能打印通知书）。", 422)
    token = new_token(_jobs(), actor.user_id)
    write_state(_jobs(), token, {"status": "queued", "round": round_id, "owner": actor.user_id})
    record(
        request_session(),
        actor,
        "certificate.print.queued",
        object_type="round",
        object_id=round_id,
        zone=zone or "",
    )
    commit_request()
    certificates_job(
        token,
        str(_jobs()),
        {
            "username": actor.username,
            "role": actor.role,
            "zones": sorted(actor.zones),
            "department": actor.department,
            "user_id": actor.user_id,
        },
        round_id,
        zone,
        current_app.config["JIFEN_PUBLIC_URL"],
    )
    return redirect(url_for("certificates.print_progress", round_id=round_id, token=token), 303)


@office.get("/rounds/<round_id>/certificates/jobs/<token>")
def print_progress(round_id: str, token: str):
    from app.jobfiles import EXPIRED, read_own_state

    round_ = _round(round_id)
    state = read_own_state(_jobs(), token, current_actor().user_id)
    if state is None:
        refuse("certificate.print.progress", "job", "")
    if state == EXPIRED:
        return expired_job("这次打印的进度记录已过期删除；打印好的批次请在本轮的通知书页面下载。")
    return render_template("office/certificates_job.html", round=round_, state=state)


@office.get("/certificates/batches/<int(max=2147483647):batch_id>.pdf")
def download(batch_id: int):
    try:
        with audit_writer() as writer:
            batch, pdf = ops.batch_pdf(request_session(), current_actor(), keys(), batch_id,
                                       audit=writer)  # fmt: skip
    except NotFound:
        refuse("certificate.download", "certificate_batch", str(batch_id))
    name = f"certificates-{batch.round_id}-{batch_id}.pdf"  # ASCII: round ids are
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _back(number: str, application_no: str):
    return redirect(
        url_for("applications.detail", application_no=application_no) + "#certificates", 303
    )


@office.post("/certificates/<number>/<act>")
def certificate_act(number: str, act: str):
    """补打 (reprint), 撤销 (revoke), 登记报到/入户 (record its use): from the application page."""
    from app.certificates.models import Certificate
    from app.certificates.printing import reprint_one

    require("admin", "clerk")
    db = request_session()
    actor = current_actor()
    if act not in ("revoke", "use", "reprint") or not ops.well_formed_number(number):
        abort(404)  # a mistyped number (its check character) is no certificate
    cert = db.exec(select(Certificate).where(Certificate.number == number)).first()
    if cert is None or not actor.sees_zone(cert.zone_id):
        refuse(f"certificate.{act}", "certificate", number)
    application_no = cert.application_no
    reason = request.form.get("reason", "")
    try:
        if act == "revoke":
            ops.revoke(db, actor, number, reason)
        elif act == "use":
            try:
                day = dt.date.fromisoformat(request.form.get("on", ""))
            except ValueError:
                raise Refused("请填写登记日期（年-月-日）。") from None
            ops.record_use(db, actor, number, day=day)
        elif act == "reprint":
            db.rollback()  # the reprint runs its own transactions (issue, then record the copy)
            from app.db import app_engine

            printed = reprint_one(
                app_engine(current_app),
                actor,
                keys(),
                signer(),
                number,
                reason,
                today=beijing_today(),
                public_url=current_app.config["JIFEN_PUBLIC_URL"],
            )
            return redirect(url_for("certificates.download", batch_id=printed.batch_id), 303)
        else:
            abort(404)
    except Forbidden:
        db.rollback()
        refuse(f"certificate.{act}", "certificate", number)
    except Refused as exc:
        db.rollback()
        return _error(application_no, exc.zh)
    commit_request()
    return _back(number, application_no)


def _error(application_no: str, message: str):
    from app.applications.operations import get_application
    from app.applications.views import detail_page

    application = get_application(request_session(), current_actor(), application_no)
    return detail_page(application, shown=None, certificate_error=message), 422
