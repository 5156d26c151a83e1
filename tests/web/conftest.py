"""Fixtures for the web tests: an app per test (fresh rate-limit counters), a test client, and a
helper that submits the checker form with a real CSRF token taken from the page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from web_helpers import csrf_token, make_app


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def submit(client: FlaskClient) -> Callable:
    """submit(table_id, {field: value}) -> response of POST /check/<table_id> with a valid token."""

    def go(table_id: str, data: dict[str, str]):
        token = csrf_token(client, table_id)
        return client.post(f"/check/{table_id}", data={"csrf_token": token, **data})

    return go
