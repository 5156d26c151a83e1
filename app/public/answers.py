"""A checker's answers as a compact signed code for the result URL (`?a=…`).

The result page is a GET of that URL, so it survives Back, Forward and reload and can be shared
or bookmarked while the server stores nothing. The code holds only the answers to the form (no
name or ID number: the checker asks none) and the date they were scored on, so a shared link
shows what its sender saw. It is compressed JSON signed with the app's SECRET_KEY (itsdangerous,
which Flask ships): a link someone edited by hand is refused rather than half read. Access logs
are written without query strings (gunicorn.conf.py, docs/deploy.md), so the code never reaches
a log line.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "jifen.answers/1"
MAX_CODE = 4000  # characters: far above any real form, below every browser's URL limit


class BadCode(ValueError):
    """A code that is not one this site wrote."""


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def encode(secret: str, answers: dict[str, Any], on: dt.date) -> str:
    return _serializer(secret).dumps({"v": 1, "on": on.isoformat(), "a": answers})


def decode(secret: str, code: str) -> tuple[dict[str, Any], dt.date]:
    """The answers and the date of a code, or BadCode."""
    if not code or len(code) > MAX_CODE:
        raise BadCode("empty or too long")
    try:
        data = _serializer(secret).loads(code)
        answers, on = data["a"], dt.date.fromisoformat(data["on"])
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise BadCode(str(exc)) from None
    if not isinstance(answers, dict) or not all(isinstance(k, str) for k in answers):
        raise BadCode("answers must be an object")
    return answers, on
