"""The app factory: `create_app()`, which gunicorn calls as `app:create_app()`.

Configuration comes from the environment (app/config.py); tests pass a mapping that overrides it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
from flask import Flask, Request, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from app import db, errors
from app.accounts import views as accounts
from app.api import views as api
from app.applications import views as applications
from app.audit import views as audit
from app.audit.actions import action_name
from app.certificates import views as certificates
from app.config import from_env
from app.exchange import views as exchange
from app.intake import counter
from app.intake import views as intake
from app.localtime import beijing_date, beijing_time
from app.objections import views as objections
from app.public import views as public
from app.publicity import views as publicity
from app.rounds import views as rounds
from app.status import views as status
from app.verification import views as verification

ROOT = Path(__file__).resolve().parent.parent

# `default-src 'self'` and nothing inline: styles come from app/static/style.css, no scripts.
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class OfficeRequest(Request):
    """Uploaded files are kept in memory, never spooled to a temporary file: an import file
    holds people's names and ID numbers (its size is bounded by JIFEN_IMPORT_MAX_BYTES)."""

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):  # fmt: skip
        return io.BytesIO()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder="static",
        instance_path=str(ROOT / "instance"),
    )
    overrides = dict(test_config or {})
    if "SECRET_KEY" in overrides:  # tests: do not touch the instance folder
        env_config = from_env(app.instance_path, {"SECRET_KEY": overrides["SECRET_KEY"]})
    else:
        env_config = from_env(app.instance_path)
    app.config.from_mapping(env_config)
    app.config.from_mapping(overrides)
    app.request_class = OfficeRequest
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    if app.config["JIFEN_TRUSTED_PROXIES"]:
        n = app.config["JIFEN_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]

    # The limiter is registered before CSRF, so failed-token floods are counted too.
    limiter = Limiter(get_remote_address, app=app)
    app.extensions["jifen_limiter"] = limiter
    limiter.limit(lambda: app.config["JIFEN_RATELIMIT_API"])(api.bp)
    limiter.limit(lambda: app.config["JIFEN_RATELIMIT_EXCHANGE"], key_func=exchange.rate_key)(
        exchange.api
    )
    limiter.limit(lambda: app.config["JIFEN_RATELIMIT_FORM"], methods=["POST"])(public.bp)
    limiter.limit(lambda: app.config["JIFEN_RATELIMIT_STATUS"], methods=["POST"])(status.bp)
    limiter.limit(lambda: app.config["JIFEN_RATELIMIT_API"])(certificates.public)
    limiter.limit(lambda: app.config["JIFEN_RATELIMIT_FORM"], methods=["POST"])(intake.bp)
    limiter.limit(
        lambda: app.config["JIFEN_RATELIMIT_LOGIN"],
        methods=["POST"],
        exempt_when=lambda: request.endpoint not in ("accounts.login", "accounts.second_factor"),
    )(accounts.bp)

    app.before_request(allow_large_uploads)  # before CSRF, which reads the form first
    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)  # a machine endpoint: stateless, no cookies, JSON only
    csrf.exempt(exchange.api)  # likewise, authenticated by a bearer token, not a cookie

    db.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(status.bp)
    app.register_blueprint(publicity.bp)
    app.register_blueprint(certificates.public)
    app.register_blueprint(intake.bp)
    app.register_blueprint(exchange.api)
    app.register_blueprint(exchange.pages)
    for office in (accounts, rounds, applications, counter, verification, objections, audit):
        app.register_blueprint(office.bp)
    app.register_blueprint(certificates.office)
    app.add_template_filter(cents_text, "cents")
    app.add_template_filter(orjson.loads, "fromjson")
    app.add_template_filter(action_name, "action_name")
    app.add_template_filter(beijing_time, "bjtime")
    app.add_template_filter(beijing_date, "bjdate")
    errors.register(app)
    app.after_request(security_headers)
    return app


def allow_large_uploads() -> None:
    """The import page takes files far above the public pages' request limit."""
    if request.endpoint == "applications.import_page" and request.method == "POST":
        request.max_content_length = current_app.config["JIFEN_IMPORT_MAX_BYTES"]
        request.max_form_memory_size = current_app.config["JIFEN_IMPORT_MAX_BYTES"]


def security_headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config.get("JIFEN_HSTS"):
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    # Whatever answers a POST carries the applicant's facts, and every office page personal
    # data: never keep them in a cache.
    if request.method != "GET" or request.path.startswith(("/check/", "/office")):
        h["Cache-Control"] = "no-store"
    return response


def cents_text(value: int | None) -> str:
    """Integer hundredths of a point as people write points: 9650 -> '96.5'."""
    if value is None:
        return ""
    whole, part = divmod(abs(value), 100)
    sign = "-" if value < 0 else ""
    return f"{sign}{whole}" + (f".{part:02d}".rstrip("0") if part else "")
