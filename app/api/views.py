"""The JSON API (`/api/v1`): programmes, scoring and suggestions.

A machine endpoint: no CSRF (exempted in the factory), no session, no cookies. Every answer is
JSON; errors are `{"error": zh, "error_en": en, "fields": {name: {"zh", "en"}}}` with 400 (not
JSON), 404 (unknown table), 405, 413 (body too large), 415 (not application/json), 422 (bad
fields) or 429 (rate limited). See docs/api.md and /api/v1/openapi.json.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask import Blueprint, jsonify, request

from app.api.openapi import openapi_document
from app.errors import api_error
from app.public import services
from scoring.engine import json_number, score
from scoring.facts import FACT_SPECS, FactError, Facts, FactsError, JsonNumber, load_json
from scoring.tables import UnknownTable

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_TARGET = Decimal(100000)
MAX_LIMIT = 20


class ApiError(Exception):
    """An API request that cannot be served: carries the JSON error response."""

    def __init__(self, status: int, error: str | None = None, fields: dict | None = None):
        super().__init__(status)
        self.response = api_error(status, error, fields)


@bp.errorhandler(ApiError)
def _bad_request(exc: ApiError):
    return exc.response


def field(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def read_body(allowed: set[str], required: set[str]) -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise ApiError(415)
    raw = request.get_data(cache=False)  # 413 past MAX_CONTENT_LENGTH
    try:
        body = load_json(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "请求体不是有效的 JSON") from None
    if not isinstance(body, dict):
        raise ApiError(
            422, "请求体应为 JSON 对象", {"": field("应为 JSON 对象", "must be an object")}
        )
    fields: dict[str, dict[str, str]] = {}
    for key in body:
        if key not in allowed:
            fields[str(key)[:100]] = field("未知字段", "unknown field")
    for key in sorted(required - body.keys()):
        fields[key] = field("必填", "required")
    if fields:
        raise ApiError(422, "请求字段有误", fields)
    return body


def table_and_facts(body: dict[str, Any]):
    table_id = body["table"]
    if not isinstance(table_id, str):
        raise ApiError(422, "请求字段有误", {"table": field("应为字符串", "must be a string")})
    if not isinstance(body["facts"], dict):
        raise ApiError(422, "请求字段有误", {"facts": field("应为 JSON 对象", "must be an object")})
    try:
        table = services.find_table(table_id)
    except UnknownTable:
        raise ApiError(
            404, "未知的积分表", {"table": field("未知的积分表", "unknown table")}
        ) from None
    errors = json_type_errors(body["facts"])
    try:
        facts = Facts.parse(body["facts"])
    except FactsError as exc:
        errors.extend(e for e in exc.errors if e.field not in {x.field for x in errors})
    if errors:
        fields = {f"facts.{e.field}"[:120]: field(e.zh, e.en) for e in errors}
        raise ApiError(422, "事实数据有误", fields)
    return table, facts


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TYPE_WORDS = {
    "bool": ("应为 true 或 false", "must be a JSON boolean"),
    "int": ("应为整数", "must be a JSON integer"),
    "decimal": ("应为数字", "must be a JSON number"),
    "enum": ("应为字符串选项", "must be a string"),
    "date": ("应为 YYYY-MM-DD 格式的日期", "must be a date string YYYY-MM-DD"),
}


def json_type_errors(raw: dict[str, Any]) -> list[FactError]:
    """The API takes JSON types as its OpenAPI document says (numbers as numbers, dates as
    YYYY-MM-DD, null for "not given"); the form and the CLI also take text, the API does not."""
    errors: list[FactError] = []
    for name, value in raw.items():
        kind = "date" if name == "reference_date" else getattr(FACT_SPECS.get(name), "kind", None)
        if kind is None or value is None:
            continue
        if kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
            ok = ok or (isinstance(value, JsonNumber) and _whole(value))
        elif kind == "decimal":
            ok = isinstance(value, int | JsonNumber) and not isinstance(value, bool)
        elif kind == "enum":
            ok = isinstance(value, str) and value != ""  # "" is "none" in forms, not in JSON
        else:
            ok = isinstance(value, str) and _DATE.fullmatch(value) is not None
        if not ok:
            errors.append(FactError(name, *_TYPE_WORDS[kind]))
    return errors


def _whole(number: JsonNumber) -> bool:
    value = Decimal(number)
    return value.is_finite() and value == value.to_integral_value()


def json_response(data: Any):
    return jsonify(data)


@bp.get("/tables")
def tables():
    return json_response({"tables": [services.table_summary(t) for t in services.all_tables()]})


@bp.get("/tables/<table_id>")
def table(table_id: str):
    try:
        found = services.find_table(table_id)
    except UnknownTable:
        return api_error(404, "未知的积分表", {"table": field("未知的积分表", "unknown table")})
    return json_response(services.table_detail(found))


@bp.post("/score")
def score_facts():
    body = read_body({"table", "facts"}, {"table", "facts"})
    found, facts = table_and_facts(body)
    return json_response(score(found, facts, on=facts.reference_date).to_dict())


@bp.post("/suggest")
def suggest():
    body = read_body({"table", "facts", "target", "limit"}, {"table", "facts"})
    found, facts = table_and_facts(body)
    fields: dict[str, dict[str, str]] = {}
    target = body.get("target")
    if target is not None:
        if isinstance(target, bool) or not isinstance(target, int | JsonNumber):
            fields["target"] = field("应为数字", "must be a number")
        else:
            try:
                target = Decimal(target)
            except ArithmeticError:
                target = None
            if target is None or not target.is_finite() or not 0 <= target <= MAX_TARGET:
                fields["target"] = field(
                    f"应为 0 到 {MAX_TARGET} 之间的数", f"must be between 0 and {MAX_TARGET}"
                )
    limit = body.get("limit", 5)
    if isinstance(limit, JsonNumber) and _whole(limit) and abs(Decimal(limit)) < 1000:
        limit = int(Decimal(limit))  # JSON Schema: 20.0 is an integer
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        fields["limit"] = field(
            f"应为 1 到 {MAX_LIMIT} 之间的整数", f"must be an integer from 1 to {MAX_LIMIT}"
        )
    if fields:
        raise ApiError(422, "请求字段有误", fields)
    on = facts.reference_date
    result = score(found, facts, on=on)
    items = services.suggestions(found, facts, target=target, on=on, limit=limit)
    return json_response(
        {
            "table": found.id,
            "total": json_number(result.total),
            "threshold": json_number(result.threshold),
            "target": None if target is None else json_number(target),
            "suggestions": [services.suggestion_dict(s) for s in items],
        }
    )


@bp.get("/openapi.json")
def openapi():
    return json_response(openapi_document())
