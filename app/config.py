"""Configuration from the environment.

Everything the app needs comes from environment variables, so that `make run`, gunicorn under
systemd and the tests all configure it the same way. See docs/web.md for the list.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from app.ratelimit import default_storage_uri

# Keys that must never protect a production deployment.
INSECURE_KEYS = {"", "dev", "development", "secret", "changeme", "change-me", "test", "jifen"}
MIN_KEY_LENGTH = 32


class ConfigError(RuntimeError):
    """The environment does not describe a safe configuration."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def dev_secret_key(instance_path: str) -> str:
    """A random key kept in the instance folder, so every gunicorn worker and every restart of a
    development server signs CSRF tokens with the same key."""
    path = Path(instance_path) / "secret_key"
    try:
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= MIN_KEY_LENGTH:
            return key
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key)
    os.replace(tmp, path)  # atomic: two workers starting together end up with one key
    return path.read_text(encoding="ascii").strip()


def default_public_url(env: dict[str, str]) -> str:
    """Where `make run` serves in development (a production deployment must name its own)."""
    host = env.get("HOST", "").strip() or "127.0.0.1"
    return f"http://{host}:{env.get('PORT', '').strip() or '5000'}"


def from_env(instance_path: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The Flask config mapping described by the environment."""
    env = dict(os.environ if env is None else env)
    production = env.get("JIFEN_ENV", "development").strip().lower() == "production"
    secret = env.get("SECRET_KEY", "")
    if production:
        if secret.strip().lower() in INSECURE_KEYS or len(secret) < MIN_KEY_LENGTH:
            raise ConfigError(
                f"JIFEN_ENV=production needs SECRET_KEY: a random string of at least "
                f"{MIN_KEY_LENGTH} characters (python -c 'import secrets; "
                f"print(secrets.token_urlsafe(48))')"
            )
        if len(env.get("JIFEN_DATA_KEY", "").strip()) < 32:
            raise ConfigError(
                "JIFEN_ENV=production needs JIFEN_DATA_KEY: a random secret of at least 32 "
                "characters, kept outside the database (it encrypts ID numbers)"
            )
        public_url = env.get("JIFEN_PUBLIC_URL", "").strip()
        if not public_url.startswith("https://"):
            raise ConfigError(
                "JIFEN_ENV=production needs JIFEN_PUBLIC_URL: the https:// address printed in "
                "certificates' QR codes (their verification page)"
            )
        from app.certificates.signing import SigningKeyError, load_signing_key

        try:
            load_signing_key(env)
        except SigningKeyError as exc:
            raise ConfigError(
                f"JIFEN_ENV=production needs JIFEN_SIGNING_KEY, the file of the Ed25519 key that "
                f"signs certificates (jifen certificates new-key FILE): {exc}"
            ) from None
    elif not secret:
        secret = dev_secret_key(instance_path)
    cookie_secure = _bool(env.get("JIFEN_COOKIE_SECURE"), production)
    api_limit = env.get("JIFEN_RATELIMIT_API", "").strip() or "600 per minute"
    form_limit = env.get("JIFEN_RATELIMIT_FORM", "").strip() or "60 per minute"
    return {
        "JIFEN_ENV": "production" if production else "development",
        "SECRET_KEY": secret,
        # Request bodies: a full set of facts is well under 4 KB.
        "MAX_CONTENT_LENGTH": _int(env, "JIFEN_MAX_CONTENT_LENGTH", 64 * 1024),
        "MAX_FORM_PARTS": 200,
        # Flask-WTF: WTForms' own zh catalogue, not Flask-Babel (see docs/web.md).
        "WTF_I18N_ENABLED": False,
        # People on phones fill forms slowly: a token lives 4 hours.
        "WTF_CSRF_TIME_LIMIT": _int(env, "JIFEN_CSRF_TIME_LIMIT", 4 * 3600),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": cookie_secure,
        # ASVS 3.3.1: a __Host- cookie is HTTPS-only, host-only and path /
        "SESSION_COOKIE_NAME": "__Host-session" if cookie_secure else "session",
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "").strip()
        or default_storage_uri(),
        "RATELIMIT_HEADERS_ENABLED": True,
        "JIFEN_RATELIMIT_API": api_limit,
        "JIFEN_RATELIMIT_FORM": form_limit,
        "JIFEN_TRUSTED_PROXIES": _int(env, "JIFEN_TRUSTED_PROXIES", 0),
        "JIFEN_HSTS": _bool(env.get("JIFEN_HSTS"), production),
        "JSON_SORT_KEYS": False,
        # The office (docs/office.md): the database, logins, uploads.
        "DATABASE_URL": env.get("DATABASE_URL", "").strip(),
        # The key that encrypts ID numbers, names and phones (app/protect.py); never stored in
        # the database. Production refuses to start without it; development makes one.
        "JIFEN_DATA_KEY": env.get("JIFEN_DATA_KEY", "").strip(),
        "JIFEN_RATELIMIT_LOGIN": env.get("JIFEN_RATELIMIT_LOGIN", "").strip() or "10 per minute",
        "JIFEN_RATELIMIT_STATUS": env.get("JIFEN_RATELIMIT_STATUS", "").strip() or "10 per minute",
        # a department's system, per token: a batch a second, sustained
        "JIFEN_RATELIMIT_EXCHANGE": env.get("JIFEN_RATELIMIT_EXCHANGE", "").strip()
        or "120 per minute",
        # Certificates (docs/certificates.md): the signing key's file (development: one made in
        # instance/) and the address their QR codes open.
        "JIFEN_SIGNING_KEY": env.get("JIFEN_SIGNING_KEY", "").strip(),
        "JIFEN_PUBLIC_URL": (
            env.get("JIFEN_PUBLIC_URL", "").strip() or default_public_url(env)
        ).rstrip("/"),
        "JIFEN_IMPORT_MAX_BYTES": _int(env, "JIFEN_IMPORT_MAX_BYTES", 64 * 1024 * 1024),
        # A larger file is imported by the job queue, with a progress page (about 3,000 rows).
        "JIFEN_IMPORT_INLINE_BYTES": _int(env, "JIFEN_IMPORT_INLINE_BYTES", 256 * 1024),
        # A staff login ends after 12 hours at the most (the server also ends it after 30
        # idle minutes, and at logout).
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
    }
