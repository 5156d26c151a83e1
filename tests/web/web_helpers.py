"""Helpers shared by the web tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from app import create_app

TEST_KEY = "test-secret-key-" + "x" * 32
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def make_app(**overrides) -> Flask:
    config = {"SECRET_KEY": TEST_KEY, "TESTING": True, **overrides}
    return create_app(config)


def csrf_token(client: FlaskClient, table_id: str) -> str:
    page = client.get(f"/check/{table_id}")
    assert page.status_code == 200
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, "the checker form carries a CSRF token"
    return match.group(1)
