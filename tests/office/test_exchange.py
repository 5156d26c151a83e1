"""The departments' JSON API (`/api/v1/office/…`), on SQLite and PostgreSQL: a token of one
department (and maybe some zones) reads the facts waiting for it and settles them in batches,
all or nothing; tokens are stored hashed, expire, are revoked, rate-limited per token, and
every call is audited."""

from __future__ import annotations

import datetime as dt
import re

import orjson
import pytest
from office_helpers import good_rows, login, office_app, round_with_applications, token
from sqlmodel import select

from app import db as app_db
from app.accounts.actor import Actor
from app.accounts.operations import create_user
from app.applications.models import Application, ClaimedFact
from app.audit.models import AuditEntry
from app.cli import main
from app.db import transaction
from app.exchange.models import ApiToken
from app.exchange.operations import issue, revoke

CITY = Actor.command_line()
ROWS = good_rows(4)  # 000001 and 000003 in shiqi, 000002 and 000004 in dongqu
HRSS = ("insured_last_month_city", "insured_months_city")  # 人社's facts of each row


@pytest.fixture
def site(engine, keys, tmp_path):
    round_with_applications(engine, keys, tmp_path, ROWS)
    return lambda **config: office_app(engine, keys, tmp_path, **config)


def new_token(engine, department="hrss", zones=(), days=30, name="人社局社保系统") -> str:
    with transaction(engine) as session:
        return issue(session, CITY, name, department, list(zones), days=days).secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def entries(engine, action: str) -> list[AuditEntry]:
    with transaction(engine, write=False) as session:
        return session.exec(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        ).all()


def states(engine) -> dict[tuple[str, str], str]:
    with transaction(engine, write=False) as session:
        rows = session.exec(
            select(Application.application_no, ClaimedFact.fact, ClaimedFact.state).join(
                Application, Application.id == ClaimedFact.application_id
            )
        ).all()
    return {(no, fact): state for no, fact, state in rows}


def test_a_departments_system_reads_its_waiting_facts_and_settles_a_batch(site, engine):
    client = site(RATELIMIT_ENABLED=False).test_client()
    secret = new_token(engine)
    assert re.fullmatch(r"jifen_1_[A-Za-z0-9_-]{43}", secret)
    with transaction(engine, write=False) as session:
        stored = session.get(ApiToken, 1)
    assert stored.secret_sha256 != secret
    assert secret.removeprefix("jifen_1_") not in repr(stored)  # the secret itself is not kept
    r = client.get("/api/v1/office/facts?limit=3", headers=bearer(secret))
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    body = r.get_json()
    assert body["department"] == "hrss" and body["next"] == "ZS2026-P1-000003"
    first = body["applications"][0]
    assert first == {
        "application_no": "ZS2026-P1-000001", "round": "zs-2026-p1", "zone": "shiqi",
        "category": "school-p1", "version": 1, "id_number": ROWS[0][1], "name": "申请人0",
        "facts": [{"fact": "insured_months_city", "claimed": 12},
                  {"fact": "insured_last_month_city", "claimed": True}],
    }  # fmt: skip
    rest = client.get("/api/v1/office/facts?after=ZS2026-P1-000003", headers=bearer(secret))
    assert [a["application_no"] for a in rest.get_json()["applications"]] == ["ZS2026-P1-000004"]
    reads = entries(engine, "exchange.read")
    assert reads[0].actor == "token:1:人社局社保系统"
    assert orjson.loads(reads[0].diff)["applications"] == [
        "ZS2026-P1-000001", "ZS2026-P1-000002", "ZS2026-P1-000003",
    ]  # fmt: skip
    assert ROWS[0][1] not in reads[0].diff  # the numbers disclosed, never the ID numbers
    decisions = [
        {"application_no": "ZS2026-P1-000001", "fact": "insured_months_city",
         "decision": "correct", "value": 10, "reason": "清单显示 10 个月",
         "evidence": "社保缴费清单至 2026-11", "version": 1},
        {"application_no": "ZS2026-P1-000001", "fact": "insured_last_month_city",
         "decision": "confirm", "evidence": "社保缴费清单至 2026-11", "version": 1},
        {"application_no": "ZS2026-P1-000002", "fact": "insured_months_city",
         "decision": "confirm", "evidence": "社保缴费清单至 2026-11", "version": 1},
    ]  # fmt: skip
    done = client.post("/api/v1/office/decisions", json={"decisions": decisions},
                       headers=bearer(secret))  # fmt: skip
    assert done.status_code == 200, done.get_json()
    assert done.get_json() == {"settled": 3, "scored": []}  # 公安 and 教育 still to verify
    now = states(engine)
    assert now[("ZS2026-P1-000001", "insured_months_city")] == "corrected"
    assert now[("ZS2026-P1-000001", "insured_last_month_city")] == "confirmed"
    assert now[("ZS2026-P1-000002", "insured_months_city")] == "confirmed"
    assert now[("ZS2026-P1-000002", "insured_last_month_city")] == "claimed"
    settled = [(e.actor, e.action, e.object_id) for e in entries(engine, "fact.correct")]
    assert settled == [("token:1:人社局社保系统", "fact.correct", "ZS2026-P1-000001")]
    assert orjson.loads(entries(engine, "exchange.settle")[0].diff) == {
        "decisions": 3, "applications": ["ZS2026-P1-000001", "ZS2026-P1-000002"],
    }  # fmt: skip


def test_a_batch_with_one_bad_decision_writes_nothing_and_names_each_problem(site, engine):
    client = site(RATELIMIT_ENABLED=False).test_client()
    hrss_shiqi = new_token(engine, zones=["shiqi"])
    good = {"application_no": "ZS2026-P1-000001", "fact": "insured_months_city",
            "decision": "confirm", "evidence": "清单", "version": 1}  # fmt: skip
    batch = [
        good,
        {**good, "application_no": "ZS2026-P1-000002"},  # dongqu: not this token's zone
        {**good, "fact": "residence_permit_held"},  # 公安's fact
        {**good, "fact": "insured_last_month_city", "version": 0},  # read at another version
        {**good, "decision": "approve", "colour": "red"},
        {**good, "fact": "insured_last_month_city", "decision": "reject", "reason": ""},
    ]
    r = client.post("/api/v1/office/decisions", json={"decisions": batch},
                    headers=bearer(hrss_shiqi))  # fmt: skip
    assert r.status_code == 422
    body = r.get_json()
    assert body["error"] == "本批核验未写入：请按 fields 改正后整批重新提交"
    not_yours = "没有这份申请或这项事实（不属于本部门，或不在本令牌的镇街）"
    assert {k: v["zh"] for k, v in body["fields"].items()} == {
        "decisions[1]": not_yours,
        "decisions[2]": not_yours,
        "decisions[3]": "此申请已被他人修改，请重新读取后再核验。",
        "decisions[4]": "未知字段：colour",
        "decisions[5]": "更正或不予认定须填写原因，申请人会看到。",
    }
    assert set(states(engine).values()) == {"claimed"}  # nothing of the batch was written
    assert entries(engine, "fact.confirm") == []
    assert orjson.loads(entries(engine, "exchange.refused")[0].diff) == {"problems": 5}
    empty = client.post("/api/v1/office/decisions", json={"decisions": []},
                        headers=bearer(hrss_shiqi))  # fmt: skip
    assert empty.get_json()["fields"] == {
        "decisions": {"zh": "decisions 应为 1 到 1000 项的数组",
                      "en": "decisions must be an array of 1 to 1000"}
    }  # fmt: skip
    listed = client.get("/api/v1/office/facts", headers=bearer(hrss_shiqi)).get_json()
    assert [a["zone"] for a in listed["applications"]] == ["shiqi", "shiqi"]


def test_tokens_that_are_missing_wrong_expired_or_revoked_are_refused_alike(site, engine):
    client = site(RATELIMIT_ENABLED=False).test_client()
    secret = new_token(engine)
    refused_body = {
        "error": "令牌无效、已过期或已被吊销。",
        "error_en": "a valid department token is required (Authorization: Bearer …)",
        "fields": {},
    }
    for headers in ({}, {"Authorization": "Basic abc"}, bearer("jifen_1_short"),
                    bearer(secret[:-3] + "xyz"), bearer("jifen_99_" + "a" * 43)):  # fmt: skip
        r = client.get("/api/v1/office/facts", headers=headers)
        assert (r.status_code, r.get_json()) == (401, refused_body), headers
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="jifen"'
    # only a known token's refusal names someone to audit: the wrong secret of token 1
    assert [orjson.loads(e.diff) for e in entries(engine, "token.refused")] == [
        {"why": "wrong secret"}
    ]
    with transaction(engine) as session:
        revoke(session, CITY, 1)
    assert client.get("/api/v1/office/facts", headers=bearer(secret)).status_code == 401
    expired = new_token(engine, days=1)
    with transaction(engine) as session:
        row = session.get(ApiToken, 2)
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        session.add(row)
    assert client.get("/api/v1/office/facts", headers=bearer(expired)).status_code == 401
    whys = [orjson.loads(e.diff)["why"] for e in entries(engine, "token.refused")]
    assert whys == ["wrong secret", "revoked", "expired"]
    assert client.get("/api/v1/office/facts?limit=0", headers=bearer(new_token(engine))).get_json()[
        "fields"
    ] == {"limit": {"zh": "应为 1 到 500 的整数", "en": "an integer 1–500"}}


def test_each_token_has_its_own_rate_limit(site, engine):
    client = site(JIFEN_RATELIMIT_EXCHANGE="3 per minute").test_client()
    first, second = new_token(engine), new_token(engine, department="police", name="公安户政系统")
    codes = [client.get("/api/v1/office/facts", headers=bearer(first)).status_code
             for _ in range(4)]  # fmt: skip
    assert codes == [200, 200, 200, 429]
    assert client.get("/api/v1/office/facts", headers=bearer(second)).status_code == 200


def test_the_city_issues_and_revokes_tokens_on_the_office_page(site, engine):
    with transaction(engine) as session:
        create_user(session, CITY, "admin1", "a long password 1", role="admin")
        create_user(session, CITY, "clerk1", "a long password 1", role="clerk", zones=["shiqi"])
    app = site(RATELIMIT_ENABLED=False)
    admin, clerk = app.test_client(), app.test_client()
    login(admin, "admin1")
    login(clerk, "clerk1")
    assert clerk.get("/office/tokens").status_code == 404
    form = {"csrf_token": token(admin, "/office/tokens"), "name": "人社局社保系统",
            "department": "hrss", "zone": ["shiqi"], "days": "400"}  # fmt: skip
    too_long = admin.post("/office/tokens", data=form)
    assert too_long.status_code == 422 and "有效期应为 1 到 366 天。" in too_long.get_data(
        as_text=True
    )
    r = admin.post("/office/tokens", data={**form, "days": "90"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="token-secret">(jifen_[^<]+)<', page).group(1)
    assert secret not in admin.get("/office/tokens").get_data(as_text=True)  # shown once
    api = app.test_client()
    assert api.get("/api/v1/office/facts", headers=bearer(secret)).status_code == 200
    revoked = admin.post(
        "/office/tokens/1/revoke", data={"csrf_token": token(admin, "/office/tokens")}
    )
    assert revoked.status_code == 303
    assert "已吊销（admin1）" in admin.get("/office/tokens").get_data(as_text=True)
    assert api.get("/api/v1/office/facts", headers=bearer(secret)).status_code == 401
    assert [e.actor for e in entries(engine, "token.issue")] == ["admin1"]
    assert [e.actor for e in entries(engine, "token.revoke")] == ["admin1"]


def test_tokens_from_the_command_line(site, engine, monkeypatch, capsys):
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    try:
        assert main(["tokens", "issue", "税务局系统", "--department", "tax", "--days", "7"]) == 0
        out = capsys.readouterr()
        secret = out.out.strip()
        assert re.fullmatch(r"jifen_1_[A-Za-z0-9_-]{43}", secret)
        assert "只显示这一次" in out.err
        assert main(["tokens", "issue", "x", "--department", "nope"]) == 2
        assert "未知的部门：nope" in capsys.readouterr().err
        assert main(["tokens", "list", "--json"]) == 0
        listed = orjson.loads(capsys.readouterr().out)
        assert [(t["id"], t["department"], t["state"]) for t in listed] == [(1, "tax", "live")]
        assert secret not in str(listed)
        assert main(["tokens", "revoke", "1"]) == 0
        assert main(["tokens", "revoke", "1"]) == 2
        assert "这个令牌已经吊销了。" in capsys.readouterr().err
        assert main(["tokens", "revoke", "9"]) == 2
    finally:
        made = app_db._ENGINES.pop(url, None)
        if made is not None:
            made.dispose()
