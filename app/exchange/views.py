"""`/api/v1/office/…`: a department's system, with its token (`Authorization: Bearer …`), reads
the facts waiting for its department and settles them in batches. JSON only, no cookies, no
CSRF (exempted in the factory); errors in the API's one shape. And `/office/tokens`, where the
city issues and revokes the tokens."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for
from sqlmodel import select

from app.accounts.models import DEPARTMENTS
from app.accounts.web import current_actor, guard, keys, require
from app.api.views import ApiError, field, read_body
from app.applications.operations import NotFound, Refused
from app.audit.operations import record
from app.db import commit_request, request_session
from app.errors import api_error
from app.exchange import operations as ops
from app.localtime import beijing_today
from app.rounds.models import Zone

api = Blueprint("exchange", __name__, url_prefix="/api/v1/office")
pages = Blueprint("tokens", __name__, url_prefix="/office")
pages.before_request(guard)


@api.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return exc.response


def presented_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def rate_key() -> str:
    """Each token has its own allowance; calls without one share their address's."""
    found = ops.token_id(presented_token())
    return f"token:{found}" if found is not None else f"addr:{request.remote_addr}"


@api.before_request
def _authenticate():
    db = request_session(write=True)  # every call is audited, reads too
    try:
        g.exchange_token, g.exchange_actor = ops.authenticate(db, presented_token())
    except ops.TokenRefused as exc:
        commit_request()  # a known token's refusal is audited
        response = api_error(401, exc.zh)
        response.headers["WWW-Authenticate"] = 'Bearer realm="jifen"'
        return response
    return None


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name, "")
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ApiError(
            422, "请求参数有误",
            {name: field(f"应为 {low} 到 {high} 的整数", f"an integer {low}–{high}")},
        )  # fmt: skip
    return int(text)


@api.get("/facts")
def waiting_facts():
    limit = _int_arg("limit", 100, 1, ops.PAGE_LIMIT)
    db = request_session()
    body = ops.waiting(
        db, keys(), g.exchange_actor, round_id=request.args.get("round", "")[:64],
        zone=request.args.get("zone", "")[:32], after=request.args.get("after", "")[:40],
        limit=limit,
    )  # fmt: skip
    commit_request()
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@api.post("/decisions")
def decisions():
    body = read_body({"decisions"}, {"decisions"})
    db = request_session()
    actor = g.exchange_actor
    try:
        done = ops.settle_batch(db, actor, keys(), body["decisions"], today=beijing_today())
    except ops.BatchRefused as refused:
        db.rollback()
        record(
            db, actor, "exchange.refused", object_type="department", object_id=actor.department,
            diff={"problems": len(refused.problems)},
        )  # fmt: skip
        commit_request()
        fields = {
            ("decisions" if p.index < 0 else f"decisions[{p.index}]"): field(p.zh, p.en)
            for p in refused.problems
        }
        return api_error(422, "本批核验未写入：请按 fields 改正后整批重新提交", fields)
    commit_request()
    return jsonify(done)


# ---- the city's page of tokens ------------------------------------------------------------


@pages.route("/tokens", methods=["GET", "POST"])
def token_list():
    require("admin")
    db, actor = request_session(), current_actor()
    issued, error = None, ""
    if request.method == "POST":
        form = request.form
        days = form.get("days", "")
        try:
            issued = ops.issue(
                db, actor, form.get("name", ""), form.get("department", ""),
                form.getlist("zone"), days=int(days) if days.isdigit() else 0,
            )  # fmt: skip
        except Refused as exc:
            db.rollback()
            error = exc.zh
        else:
            commit_request()
    page = render_template(
        "office/tokens.html", tokens=ops.tokens(db, actor), issued=issued, error=error,
        departments=DEPARTMENTS, zones=db.exec(select(Zone).order_by(Zone.id)).all(),
        state=ops.token_state, now=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    return page, 422 if error else 200, {"Cache-Control": "no-store"}


@pages.post("/tokens/<int:token_id>/revoke")
def revoke(token_id: int):
    require("admin")
    db = request_session()
    try:
        ops.revoke(db, current_actor(), token_id)
    except NotFound:
        abort(404)
    except Refused:
        db.rollback()
    else:
        commit_request()
    return redirect(url_for("tokens.token_list"), 303)
