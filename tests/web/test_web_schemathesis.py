"""schemathesis against /api/v1/openapi.json, in-process over WSGI: no server errors, and every
response conforms to the document (status codes, content types, bodies)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from web_helpers import make_app

# Rate limiting is proven elsewhere; here it would only hide the endpoints behind 429s.
app = make_app(RATELIMIT_ENABLED=False)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi_document(case):
    case.call_and_validate()
