"""`/office/login` and the account pages: password, second factor, logout; staff management."""

from __future__ import annotations

import secrets

from flask import (
    Blueprint,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlmodel import select

from app.accounts import operations as ops
from app.accounts.models import DEPARTMENTS, ROLE_LABELS, ROLES, User, UserZone
from app.accounts.web import SESSION_KEY, current_actor, guard, keys, require
from app.audit.operations import record, utcnow
from app.db import commit_request, request_session
from app.rounds.models import Zone

bp = Blueprint("accounts", __name__, url_prefix="/office")
bp.before_request(guard)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/office/") and not target.startswith("//"):
        return target
    return url_for("rounds.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        db = request_session()
        now = utcnow()
        try:
            user = ops.authenticate(
                db, request.form.get("username", ""), request.form.get("password", ""), now
            )
        except ops.LoginRefused as refused:
            commit_request()  # the failure count and its audit entry stay
            error = refused.zh
        else:
            session.clear()  # a new session on every login
            token = ops.open_session(db, user, now, second_factor=user.totp_secret is None)
            commit_request()
            session[SESSION_KEY] = token
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
    return render_template("office/login.html", error=error), 200 if error is None else 401


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():
    """The TOTP step of an account that has one."""
    error = None
    if request.method == "POST":
        db = request_session()
        user = g.office_user
        login = db.get(ops.StaffSession, ops._token_hash(session[SESSION_KEY]))
        if ops.totp_matches(keys(), user, request.form.get("code", "")):
            login.second_factor_done = True
            db.add(login)
            record(db, current_actor(), "login.success", object_type="user",
                   object_id=user.username, diff={"second_factor": True})  # fmt: skip
            commit_request()
            return redirect(url_for("rounds.home"))
        record(db, current_actor(), "login.failure", object_type="user",
               object_id=user.username, diff={"why": "code"})  # fmt: skip
        commit_request()
        error = "动态验证码不正确"
    return render_template("office/code.html", error=error)


@bp.post("/logout")
def logout():
    db = request_session()
    ops.end_sessions(db, g.office_user, "logout")
    commit_request()
    session.clear()
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    error = None
    if request.method == "POST":
        db = request_session()
        new = request.form.get("new", "")
        if new != request.form.get("again", ""):
            error = "两次输入的新密码不一致"
        else:
            try:
                ops.change_password(db, g.office_user, request.form.get("old", ""), new)
            except ops.AccountError as exc:
                error = exc.zh
            else:
                commit_request()
                session.clear()  # every session ended: log in again with the new password
                return redirect(url_for("accounts.login", changed=1))
    return render_template(
        "office/password.html", error=error, forced=g.office_user.must_change_password
    )


@bp.route("/account/totp", methods=["GET", "POST"])
def totp():
    import pyotp
    import segno

    error = None
    secret = request.form.get("secret") or pyotp.random_base32()
    if request.method == "POST":
        try:
            ops.enrol_totp(
                request_session(), keys(), g.office_user, secret, request.form.get("code", "")
            )
        except ops.AccountError as exc:
            error = exc.zh
        else:
            commit_request()
            return redirect(url_for("rounds.home"))
    uri = pyotp.TOTP(secret).provisioning_uri(name=g.office_user.username, issuer_name="Jifen")
    qr = segno.make(uri).svg_data_uri(scale=4)
    return render_template("office/totp.html", secret=secret, qr=qr, error=error)


# ---- staff management (admin) ------------------------------------------------------------


@bp.get("/users")
def users():
    require("admin")
    return _users_page()


@bp.post("/users")
def create_user():
    require("admin")
    db = request_session()
    temporary = secrets.token_urlsafe(12)
    try:
        ops.create_user(
            db,
            current_actor(),
            request.form.get("username", ""),
            temporary,
            role=request.form.get("role", ""),
            zones=request.form.getlist("zone"),
            department=request.form.get("department", ""),
            temporary=True,
        )
    except ops.AccountError as exc:
        return _users_page(error=exc.zh), 422
    commit_request()
    return _users_page(shown=(request.form.get("username", "").strip(), temporary))


def _staff(user_id: int) -> User:
    user = request_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/users/<int:user_id>/deactivate")
def deactivate(user_id: int):
    require("admin")
    ops.deactivate(request_session(), current_actor(), _staff(user_id))
    commit_request()
    return redirect(url_for("accounts.users"))


@bp.post("/users/<int:user_id>/assign")
def assign(user_id: int):
    require("admin")
    try:
        ops.assign(
            request_session(),
            current_actor(),
            _staff(user_id),
            zones=request.form.getlist("zone"),
            department=request.form.get("department", ""),
        )
    except ops.AccountError as exc:
        return _users_page(error=exc.zh), 422
    commit_request()
    return redirect(url_for("accounts.users"))


@bp.post("/users/<int:user_id>/reset")
def reset(user_id: int):
    require("admin")
    user = _staff(user_id)
    temporary = ops.reset_password(request_session(), current_actor(), user)
    commit_request()
    return _users_page(shown=(user.username, temporary))


def _users_page(*, error: str | None = None, shown: tuple[str, str] | None = None):
    db = request_session()
    rows = db.exec(select(User).order_by(User.username)).all()
    zones = {}
    for user_id, zone in db.exec(select(UserZone.user_id, UserZone.zone_id)).all():
        zones.setdefault(user_id, []).append(zone)
    return render_template(
        "office/users.html", users=rows, zones=zones,
        all_zones=db.exec(select(Zone).order_by(Zone.id)).all(), roles=ROLES,
        role_labels=ROLE_LABELS, departments=DEPARTMENTS, shown_password=shown, error=error,
    )  # fmt: skip


@bp.app_context_processor
def _office_globals() -> dict:
    return {"office_actor": g.get("office_actor"), "ROLE_LABELS": ROLE_LABELS}
