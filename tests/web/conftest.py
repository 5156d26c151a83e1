"""Fixtures for the web tests: an app per test (fresh rate-limit counters), a test client, and a
helper that submits the checker form with a real CSRF token taken from the page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from web_helpers import csrf_token, form_fields, make_app, met_conditions


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def submit(client: FlaskClient) -> Callable:
    """submit(table_id, {fact: value}) -> the page a person sees after POST /check/<table_id>
    with a valid token: the result (the redirect followed) or the form with its messages.
    Facts are written as facts and put into the form's fields; the basic conditions are
    answered as met unless the test answers them (`conditions=False`: left unanswered)."""

    def go(table_id: str, data: dict[str, str], conditions: bool = True):
        token = csrf_token(client, table_id)
        answers = {**(met_conditions(table_id) if conditions else {}), **data}
        fields = form_fields(table_id, answers)
        return client.post(
            f"/check/{table_id}", data={"csrf_token": token, **fields}, follow_redirects=True
        )

    return go
