"""The JSON API over the Flask test client: shapes, the `jifen score` format (docs/formats.md),
and hostile bodies that must never produce a 500."""

from __future__ import annotations

import json

import pytest
from web_helpers import make_app

from scoring.engine import score
from scoring.facts import FACT_SPECS, Facts
from scoring.suggest import suggest
from scoring.tables import load_tables

D4 = "zhongshan-2020-school"
D4_FACTS = {
    "education": "bachelor",
    "insured_months_city": 36,
    "home_share": 1,
    # the basic conditions of the programme, met
    "residence_permit_held": True,
    "insured_last_month_city": True,
    "child_grade": "primary1",
}


def post(client, path, body, content_type="application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type)


def assert_error(r, status):
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    assert r.mimetype == "application/json"
    assert set(r.json) == {"error", "error_en", "fields"}
    assert isinstance(r.json["fields"], dict)
    return r.json


def test_tables_lists_every_programme(client):
    r = client.get("/api/v1/tables")
    assert r.status_code == 200
    rows = r.json["tables"]
    assert {row["id"] for row in rows} == set(load_tables())
    for row in rows:
        table = load_tables()[row["id"]]
        assert row["illustrative"] == table.illustrative
        assert row["has_secondary_values"] == table.has_secondary_values
        assert row["effective_from"] == table.effective_from.isoformat()


@pytest.mark.parametrize("table_id", sorted(load_tables()))
def test_table_detail_has_indicators_facts_and_sources(client, table_id):
    table = load_tables()[table_id]
    r = client.get(f"/api/v1/tables/{table_id}")
    assert r.status_code == 200
    body = r.json
    assert [f["name"] for f in body["facts"]] == table.facts_used()
    assert [i["code"] for i in body["indicators"]] == [i.code for i in table.items]
    assert [s["id"] for s in body["sources"]] == [s.id for s in table.sources]
    for fact in body["facts"]:
        assert fact["label"] == FACT_SPECS[fact["name"]].label


def test_unknown_table_is_404_json(client):
    body = assert_error(client.get("/api/v1/tables/nope"), 404)
    assert "table" in body["fields"]
    assert_error(post(client, "/api/v1/score", {"table": "nope", "facts": {}}), 404)
    assert_error(post(client, "/api/v1/suggest", {"table": "nope", "facts": {}}), 404)
    assert_error(client.get("/api/v1/nowhere"), 404)


def test_score_is_the_jifen_score_json(client):
    r = post(client, "/api/v1/score", {"table": D4, "facts": D4_FACTS})
    assert r.status_code == 200
    expected = score(load_tables()[D4], Facts.parse(D4_FACTS)).to_dict()
    assert r.json == expected
    assert r.json["total"] == 250
    assert list(r.json) == [
        "table", "total", "qualification_score", "ranking_score", "threshold", "eligible",
        "items", "vetoes", "notes", "reference_date", "points_incomplete",
        "conditions_unchecked", "gaps",
    ]  # fmt: skip
    assert r.json["eligible"] is True and r.json["points_incomplete"] is False
    assert r.json["conditions_unchecked"] == []  # the four conditions are encoded and met
    assert "Set-Cookie" not in r.headers
    assert r.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]


def test_score_takes_json_types_as_documented(client):
    facts = {"education": "bachelor", "insured_months_city": "36", "home_share": "1"}
    body = assert_error(post(client, "/api/v1/score", {"table": D4, "facts": facts}), 422)
    assert body["fields"]["facts.insured_months_city"]["zh"] == "应为整数"
    assert body["fields"]["facts.home_share"]["zh"] == "应为数字"
    facts = {**D4_FACTS, "insured_months_city": 36.0, "birth_date": None, "title": None}
    r = post(client, "/api/v1/score", {"table": D4, "facts": facts})
    assert r.status_code == 200 and r.json["total"] == 250


def test_suggest(client):
    r = post(client, "/api/v1/suggest", {"table": D4, "facts": {"education": "bachelor"}})
    assert r.status_code == 200
    table = load_tables()[D4]
    expected = suggest(table, Facts.parse({"education": "bachelor"}))
    assert [s["text"] for s in r.json["suggestions"]] == [s.text for s in expected]
    for s in r.json["suggestions"]:
        assert isinstance(s["gain"], int | float)
        if FACT_SPECS[s["fact"]].kind in ("int", "decimal"):
            assert isinstance(s["current"], int | float), s
            assert isinstance(s["proposed"], int | float), s
    r = post(client, "/api/v1/suggest", {"table": D4, "facts": {}, "target": 400, "limit": 2})
    assert r.status_code == 200
    assert r.json["target"] == 400 and len(r.json["suggestions"]) <= 2


@pytest.mark.parametrize(
    "body",
    [
        {"table": D4, "facts": {"insured_months_city": "many"}},
        {"table": D4, "facts": {"insured_months_city": 10**100}},
        {"table": D4, "facts": {"insured_months_city": -1}},
        {"table": D4, "facts": {"insured_months_city": 1.5}},
        {"table": D4, "facts": {"insured_months_city": True}},
        {"table": D4, "facts": {"insured_months_city": [1]}},
        {"table": D4, "facts": {"insured_months_city": {"$gt": 0}}},
        {"table": D4, "facts": {"home_share": 1e308}},
        {"table": D4, "facts": {"home_share": "0.123456"}},
        {"table": D4, "facts": {"education": "phd"}},
        {"table": D4, "facts": {"education": ""}},
        {"table": D4, "facts": {"birth_date": ""}},
        {"table": D4, "facts": {"birth_date": " 1990-01-01"}},
        {"table": D4, "facts": {"education": None, "nonsense": 1}},
        {"table": D4, "facts": {"birth_date": "3000-01-01"}},
        {"table": D4, "facts": {"birth_date": "01/02/1990"}},
        {"table": D4, "facts": {"reference_date": 20200101}},
        {"table": D4, "facts": []},
        {"table": D4, "facts": "education=bachelor"},
        {"table": 42, "facts": {}},
        {"table": ["a"], "facts": {}},
        {"table": D4},
        {"facts": {}},
        {"table": D4, "facts": {}, "extra": 1},
    ],
)
def test_bad_bodies_are_422_with_fields(client, body):
    for path in ("/api/v1/score", "/api/v1/suggest"):
        result = assert_error(post(client, path, body), 422)
        assert result["fields"], result
        for message in result["fields"].values():
            assert set(message) == {"zh", "en"}


@pytest.mark.parametrize(
    "body",
    [
        {"table": D4, "facts": {}, "target": "high"},
        {"table": D4, "facts": {}, "target": -1},
        {"table": D4, "facts": {}, "target": 1e300},
        {"table": D4, "facts": {}, "limit": 0},
        {"table": D4, "facts": {}, "limit": 10**9},
        {"table": D4, "facts": {}, "limit": 2.5},
        {"table": D4, "facts": {}, "limit": True},
    ],
)
def test_bad_suggest_options_are_422(client, body):
    result = assert_error(post(client, "/api/v1/suggest", body), 422)
    assert set(result["fields"]) <= {"target", "limit"}


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "{",
        "nul",
        "[" * 50_000,
        '{"a":' * 20_000,
        b"\xff\xfe\x00",
        '{"table": "' + D4 + '", "facts": {"insured_months_city": 1' + "0" * 5000 + "}}",
        '{"table": "' + D4 + '", "facts": {"insured_months_city": NaN}}',
        '{"table": "' + D4 + '", "facts": {"home_share": Infinity}}',
        '{"table": "' + D4 + '", "facts": {"home_share": 1e99999}}',
        "null",
        "[]",
        '"string"',
        "12",
    ],
)
def test_hostile_json_never_gives_a_500(client, raw):
    for path in ("/api/v1/score", "/api/v1/suggest"):
        r = post(client, path, raw)
        assert r.status_code in (400, 413, 422), (raw[:40], r.status_code)
        assert_error(r, r.status_code)


def test_wrong_content_type_is_415(client):
    body = json.dumps({"table": D4, "facts": {}})
    for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]:
        assert_error(client.post("/api/v1/score", data=body, content_type=ct), 415)


def test_oversized_body_is_413_json(client):
    body = {"table": D4, "facts": {"x" * 100_000: 1}}
    assert_error(post(client, "/api/v1/score", body), 413)


def test_wrong_method_is_405_json(client):
    r = client.get("/api/v1/score")
    assert_error(r, 405)
    assert "POST" in r.headers["Allow"]
    assert_error(client.delete("/api/v1/tables"), 405)


def test_api_needs_no_csrf_and_sets_no_cookie(client):
    client.get(f"/check/{D4}")  # even with a session cookie around
    fresh = make_app().test_client()
    r = post(fresh, "/api/v1/score", {"table": D4, "facts": {}})
    assert r.status_code == 200
    assert "Set-Cookie" not in r.headers


def test_api_is_rate_limited_with_json_429():
    client = make_app(JIFEN_RATELIMIT_API="3 per minute").test_client()
    codes = [client.get("/api/v1/tables").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/api/v1/tables")
    body = assert_error(r, 429)
    assert "频繁" in body["error"]
    assert r.headers.get("Retry-After")


def test_openapi_document_describes_every_route(app, client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    documented = {
        path.replace("{table_id}", "<table_id>") for path in doc["paths"]
    }  # fmt: skip
    routes = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert documented == routes
    facts = doc["components"]["schemas"]["Facts"]["properties"]
    assert set(facts) == {*FACT_SPECS, "reference_date"}


def test_openapi_document_is_valid_openapi_3_1(client):
    schemathesis = pytest.importorskip("schemathesis")
    doc = client.get("/api/v1/openapi.json").json
    schema = schemathesis.openapi.from_dict(doc)
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    assert not list(schema.iter_schema_warnings())
    paths = {result.ok().path for result in schema.get_all_operations()}
    assert paths == set(doc["paths"])
