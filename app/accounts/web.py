"""What every office page shares: the logged-in actor, the guard before each request, refusals
that are audited (in their own transaction, so they are kept whatever the request does)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from sqlmodel import Session

from app.accounts.actor import Actor
from app.accounts.operations import SEEN_EVERY, actor_of, find_session
from app.audit.operations import record, utcnow
from app.db import app_engine, commit_request, request_session, transaction
from app.protect import load_keys

SESSION_KEY = "office"  # the cookie holds only this random token; the login lives on the server
# Pages a logged-in user may reach before finishing the login (password change, second factor).
OPEN_ENDPOINTS = {
    "accounts.login",
    "accounts.second_factor",
    "accounts.logout",
    "accounts.password",
    "accounts.totp",
}


def current_actor() -> Actor:
    return g.office_actor


def keys():
    found = current_app.extensions.get("jifen_keys")
    if found is None:
        found = current_app.extensions["jifen_keys"] = load_keys(
            {k: str(v) for k, v in current_app.config.items() if k.startswith("JIFEN_")},
            Path(current_app.instance_path),
        )
    return found


def guard() -> object | None:
    """Before every office request: who is logged in (else the login page), and whether they
    must change their password or set up a second factor first."""
    g.office_actor = None
    token = session.get(SESSION_KEY)
    if request.endpoint == "accounts.login":
        return None
    if not token:
        return redirect(url_for("accounts.login", next=request.path))
    db = request_session()
    now = utcnow()
    found = find_session(db, token, now)
    if found is None:
        session.pop(SESSION_KEY, None)
        return redirect(url_for("accounts.login", next=request.path))
    user, login = found
    if now - login.seen_at > SEEN_EVERY:
        with _writer() as writer:
            fresh = writer.get(type(login), login.token_hash)
            if fresh is not None:
                fresh.seen_at = now
                writer.add(fresh)
    g.office_user = user
    g.office_actor = actor_of(db, user)
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not login.second_factor_done:
        return redirect(url_for("accounts.second_factor"))
    if user.must_change_password:
        return redirect(url_for("accounts.password"))
    if needs_totp(user):
        return redirect(url_for("accounts.totp"))
    return None


def needs_totp(user) -> bool:
    """In production an admin account must have a second factor before it does anything."""
    return (
        user.role == "admin"
        and user.totp_secret is None
        and current_app.config.get("JIFEN_ENV") == "production"
    )


def expired_job(message: str):
    """The user's own job or report whose files were removed after their time (app/jobfiles.py):
    said so, with where to look instead (410), not refused as someone else's."""
    return render_template("office/message.html", message=message), 410


def refuse(action: str, object_type: str = "", object_id: str = "", zone: str = "") -> None:
    """A record outside the actor's jurisdiction does not exist for them: 404, audited."""
    audit_refusal(action, object_type, object_id, zone)
    abort(404)


def audit_refusal(action: str, object_type: str = "", object_id: str = "", zone: str = "") -> None:
    with _writer() as writer:
        record(
            writer,
            current_actor(),
            "access.refused",
            object_type=object_type,
            # what was asked for, cut to the columns' widths: a refusal is never a 500
            object_id=object_id[:64],
            zone=zone[:32],
            diff={"wanted": action, "path": request.path},
        )


@contextmanager
def audit_writer() -> Iterator[Session]:
    """A session for an audit entry of a page that otherwise only reads (a download, a
    verification): its own short transaction, whatever the request's session is."""
    with _writer() as writer:
        yield writer


@contextmanager
def _writer() -> Iterator[Session]:
    """Where a write that must stand on its own goes: a GET request reads only, so its own
    short transaction; a POST already writes (and holds SQLite's write lock), so the request's
    session, committed now."""
    if request.method in ("GET", "HEAD"):
        with transaction(app_engine(current_app)) as writer:
            yield writer
    else:
        yield request_session()
        commit_request()


def require(*roles: str) -> None:
    if current_actor().role not in roles:
        refuse(request.endpoint or "", "page", request.path)
