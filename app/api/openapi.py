"""The OpenAPI 3.1 document of /api/v1, built from the same fact vocabulary the API validates
with, so that the two cannot drift apart. Tested with schemathesis (tests/web)."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from scoring.facts import FACT_SPECS, FactSpec
from scoring.tables import load_tables

NUMBER = {"type": "number"}
STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}


def _num(value: Any) -> int | float:
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def fact_schema(spec: FactSpec) -> dict[str, Any]:
    schema: dict[str, Any]
    if spec.kind == "enum":
        schema = {"type": ["string", "null"], "enum": [*spec.levels, None]}
    elif spec.kind == "bool":
        schema = {"type": ["boolean", "null"]}
    elif spec.kind == "date":
        schema = {
            "type": ["string", "null"],
            "format": "date",
            "description": "YYYY-MM-DD，不晚于今天 / not after today",
        }
    else:
        schema = {"type": ["integer" if spec.kind == "int" else "number", "null"]}
        if spec.minimum is not None:
            schema["minimum"] = _num(spec.minimum)
        if spec.maximum is not None:
            schema["maximum"] = _num(spec.maximum)
        if spec.kind == "decimal" and spec.scale > 1:
            schema["multipleOf"] = _num(Decimal(1) / spec.scale)
    schema["title"] = spec.label
    schema.setdefault("description", spec.help + (f"（单位：{spec.unit}）" if spec.unit else ""))
    return schema


def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict:
    return {
        "type": "object",
        "properties": props,
        "required": required if required is not None else list(props),
        **extra,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": "请求体不是有效的 JSON / body is not valid JSON",
    "401": "缺少或无效的部门令牌 / missing or invalid department token",
    "404": "未知的积分表 / unknown table",
    "413": "请求体过大 / body too large",
    "415": "不是 application/json / not application/json",
    "422": "字段有误（见 fields）/ invalid fields (see fields)",
    "429": "请求过于频繁 / rate limited",
}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _json(_ref("Error"), ERRORS[code]) for code in codes}


def _office_paths() -> dict[str, Any]:
    """A department's system with its token: the facts waiting for it, and batches of
    decisions (docs/office.md, "The departments' API")."""
    security = [{"departmentToken": []}]

    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema,
                "description": description}  # fmt: skip

    return {
        "/api/v1/office/facts": {
            "get": {
                "operationId": "officeWaitingFacts",
                "summary": "本部门待核验的事项（含身份证号，每次读取记入审计）/ facts waiting",
                "security": security,
                "parameters": [
                    query("round", STRING, "只看这一轮 / only this round"),
                    query("zone", STRING, "只看这个镇街 / only this zone"),
                    query("after", STRING, "从这个受理编号之后 / after this application"),
                    query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 500},
                        "最多几份申请（默认 100）/ at most (default 100)",
                    ),
                ],
                "responses": {
                    "200": _json(_ref("WaitingFacts"), "the applications, in number order"),
                    **_errors("401", "422", "429"),
                },
            }
        },
        "/api/v1/office/decisions": {
            "post": {
                "operationId": "officeSettleFacts",
                "summary": "批量核验：全部写入或全部不写 / settle a batch, all or nothing",
                "security": security,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("DecisionBatch")}},
                },
                "responses": {
                    "200": _json(_ref("BatchResult"), "every decision written"),
                    **_errors("400", "401", "413", "415", "422", "429"),
                },
            }
        },
    }


def _office_schemas() -> dict[str, Any]:
    decision = _obj(
        {
            "application_no": STRING,
            "fact": STRING,
            "decision": {"type": "string", "enum": ["confirm", "correct", "reject"]},
            "value": {"type": ["string", "number"], "description": "更正后的值 / for correct"},
            "reason": {"type": "string", "description": "更正或不予认定的原因，申请人会看到"},
            "evidence": {"type": "string", "minLength": 1, "description": "核验依据"},
            "version": {"type": "integer", "description": "读取时的版本号 / version as read"},
        },
        required=["application_no", "fact", "decision", "evidence", "version"],
        additionalProperties=False,
    )
    waiting = _obj(
        {
            "application_no": STRING,
            "round": STRING,
            "zone": STRING,
            "category": STRING,
            "version": {"type": "integer"},
            "id_number": STRING,
            "name": STRING,
            "facts": {"type": "array", "items": _obj({"fact": STRING, "claimed": {}})},
        }
    )
    return {
        "WaitingFacts": _obj(
            {
                "department": STRING,
                "applications": {"type": "array", "items": waiting},
                "next": NULLABLE_STRING,
            }
        ),
        "Decision": decision,
        "DecisionBatch": _obj(
            {
                "decisions": {
                    "type": "array",
                    "items": _ref("Decision"),
                    "minItems": 1,
                    "maxItems": 1000,
                }
            },
            additionalProperties=False,
        ),
        "BatchResult": _obj(
            {"settled": {"type": "integer"}, "scored": {"type": "array", "items": STRING}}
        ),
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    facts = {
        "type": "object",
        "description": "申请人事实；未给出的字段按“无/零”计。Applicant facts; missing means none.",
        "properties": {
            **{name: fact_schema(spec) for name, spec in FACT_SPECS.items()},
            "reference_date": {
                "type": ["string", "null"],
                "format": "date",
                "description": "计分参照日（默认今天）/ reference date (default today)",
            },
        },
        "additionalProperties": False,
    }
    source = _obj(
        {
            "id": STRING,
            "title": STRING,
            "document": STRING,
            "url": STRING,
            "publisher": STRING,
            "date": NULLABLE_STRING,
            "confidence": {"type": "string", "enum": ["C-off", "C", "P", "D"]},
            "confidence_label": STRING,
        }
    )
    summary_props = {
        "id": STRING,
        "name": STRING,
        "region": STRING,
        "kind": {"type": "string", "enum": ["household", "school", "residence"]},
        "kind_label": STRING,
        "effective_from": {"type": "string", "format": "date"},
        "effective_to": {"type": ["string", "null"], "format": "date"},
        "year_uncertain": {"type": "boolean"},
        "illustrative": {"type": "boolean"},
        "has_secondary_values": {"type": "boolean"},
        "threshold": NUMBER,
    }
    fact = _obj(
        {
            "name": STRING,
            "kind": {"type": "string", "enum": ["date", "enum", "bool", "int", "decimal"]},
            "label": STRING,
            "help": STRING,
            "unit": STRING,
            "minimum": NULLABLE_NUMBER,
            "maximum": NULLABLE_NUMBER,
            "choices": {
                "type": "array",
                "items": _obj({"value": STRING, "label": STRING}),
            },
        }
    )
    group = _obj(
        {
            "code": STRING,
            "label": STRING,
            "parent": NULLABLE_STRING,
            "cap": NULLABLE_NUMBER,
            "pick": {"type": "string", "enum": ["sum", "max"]},
            "gate": {"type": "boolean"},
        }
    )
    indicator = _obj(
        {
            "code": STRING,
            "group": STRING,
            "label": STRING,
            "type": STRING,
            "source": STRING,
            "confidence": STRING,
            "confidence_label": STRING,
            "secondary": {"type": "boolean"},
        }
    )
    gap = _obj(
        {
            "code": STRING,
            "kind": {"type": "string", "enum": ["points", "condition"]},
            "label": STRING,
        }
    )
    detail = _obj(
        {
            **summary_props,
            "qualification_groups": {"type": "array", "items": STRING},
            "ranking_groups": {"type": "array", "items": STRING},
            "tie_break": {"type": "array", "items": STRING},
            "notes": {"type": "array", "items": STRING},
            "gaps": {"type": "array", "items": gap},
            "facts": {"type": "array", "items": _ref("Fact")},
            "groups": {"type": "array", "items": _ref("Group")},
            "indicators": {"type": "array", "items": _ref("Indicator")},
            "sources": {"type": "array", "items": _ref("Source")},
        }
    )
    score_result = _obj(
        {
            "table": STRING,
            "total": NUMBER,
            "qualification_score": NUMBER,
            "ranking_score": NUMBER,
            "threshold": NUMBER,
            "eligible": {"type": "boolean"},
            "items": {
                "type": "array",
                "items": _obj({"code": STRING, "label": STRING, "points": NUMBER, "rule": STRING}),
            },
            "vetoes": {
                "type": "array",
                "items": _obj(
                    {
                        "code": STRING,
                        "label": STRING,
                        "message": STRING,
                        "ban_until": {"type": ["string", "null"], "format": "date"},
                    }
                ),
            },
            "notes": {"type": "array", "items": STRING},
            "reference_date": {"type": "string", "format": "date"},
            "points_incomplete": {"type": "boolean"},
            "conditions_unchecked": {"type": "array", "items": STRING},
            "gaps": {"type": "array", "items": gap},
        },
        description="`jifen score` JSON (docs/scoring.md)",
    )
    suggestion = _obj(
        {
            "fact": STRING,
            "label": STRING,
            "current": {},
            "proposed": {},
            "gain": NUMBER,
            "reaches_target": {"type": "boolean"},
            "text": STRING,
            "effort_months": NULLABLE_NUMBER,
        }
    )
    suggest_result = _obj(
        {
            "table": STRING,
            "total": NUMBER,
            "threshold": NUMBER,
            "target": NULLABLE_NUMBER,
            "suggestions": {"type": "array", "items": _ref("Suggestion")},
        }
    )
    error = _obj(
        {
            "error": STRING,
            "error_en": STRING,
            "fields": {
                "type": "object",
                "additionalProperties": _obj({"zh": STRING, "en": STRING}),
            },
        }
    )
    table_ids = sorted(load_tables())
    table_field = {
        "type": "string",
        "enum": table_ids,
        "description": "积分政策 id（见 /api/v1/tables）/ programme id",
    }
    score_request = _obj({"table": table_field, "facts": _ref("Facts")}, additionalProperties=False)
    suggest_request = _obj(
        {
            "table": table_field,
            "facts": _ref("Facts"),
            "target": {
                "type": ["number", "null"],
                "minimum": 0,
                "maximum": 100000,
                "description": "目标分数（默认分数线）/ target points (default: the threshold)",
            },
            "limit": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
        },
        required=["table", "facts"],
        additionalProperties=False,
    )
    table_id = {
        "name": "table_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "积分通 Jifen API",
            "version": "1.0.0",
            "description": (
                "积分制入户/积分入学积分测算接口。结果为估算，以主管部门核定为准。"
                " Points checker for Guangdong's points-based hukou and school places; "
                "results are estimates. Stateless: nothing sent is stored."
            ),
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/v1/tables": {
                "get": {
                    "operationId": "listTables",
                    "summary": "积分政策列表 / list the programmes",
                    "responses": {
                        "200": _json(
                            _obj({"tables": {"type": "array", "items": _ref("TableSummary")}}),
                            "programmes",
                        ),
                        **_errors("429"),
                    },
                }
            },
            "/api/v1/tables/{table_id}": {
                "get": {
                    "operationId": "getTable",
                    "summary": "一个积分政策：指标、需填事实、来源 / one programme",
                    "parameters": [table_id],
                    "responses": {
                        "200": _json(_ref("TableDetail"), "the programme"),
                        **_errors("404", "429"),
                    },
                }
            },
            "/api/v1/score": {
                "post": {
                    "operationId": "score",
                    "summary": "计算积分 / score facts against a programme",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ScoreRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("ScoreResult"), "the score, itemised"),
                        **_errors("400", "404", "413", "415", "422", "429"),
                    },
                }
            },
            "/api/v1/suggest": {
                "post": {
                    "operationId": "suggest",
                    "summary": "提分建议 / what would raise the score",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("SuggestRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("SuggestResult"), "suggestions, best first"),
                        **_errors("400", "404", "413", "415", "422", "429"),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "本文档 / this document",
                    "responses": {
                        "200": _json({"type": "object"}, "OpenAPI 3.1 document"),
                        **_errors("429"),
                    },
                }
            },
            **_office_paths(),
        },
        "components": {
            "securitySchemes": {
                "departmentToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "部门令牌 jifen_<编号>_<密钥>，由市级在 /office/tokens 或 "
                    "`jifen tokens issue` 生成 / a department token",
                }
            },
            "schemas": {
                **_office_schemas(),
                "Facts": facts,
                "Fact": fact,
                "Group": group,
                "Indicator": indicator,
                "Source": source,
                "TableSummary": _obj(summary_props),
                "TableDetail": detail,
                "ScoreRequest": score_request,
                "ScoreResult": score_result,
                "SuggestRequest": suggest_request,
                "Suggestion": suggestion,
                "SuggestResult": suggest_result,
                "Error": error,
            },
        },
    }
