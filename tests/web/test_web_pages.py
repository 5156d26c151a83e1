"""The public pages over the Flask test client: every route, good, bad and hostile input."""

from __future__ import annotations

import datetime as dt
import html
import logging
import re

import pytest
from flask import Flask, request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web_helpers import CSRF_RE, TEST_KEY, form_fields, make_app, met_conditions

from app.config import ConfigError, from_env
from app.localtime import beijing_today
from app.public import services
from app.public.answers import decode
from app.public.forms import form_class
from scoring.engine import gap_notes, score
from scoring.facts import FACT_SPECS, Facts
from scoring.model import CONFIDENCE_LABELS, SECONDARY
from scoring.programmes import chinese_date
from scoring.tables import decimal_str, load_tables

TABLE_IDS = sorted(load_tables())
D4 = "zhongshan-2020-school"
ENGLISH = re.compile(r"\b(Not a valid|This field|Number must|CSRF|token)\b")


def text(response) -> str:
    return response.get_data(as_text=True)


def assert_unique_ids(page: str) -> None:
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def breakdown_rows(page: str) -> dict[str, str]:
    """{item code: points shown} from the result page's breakdown table."""
    rows = re.findall(
        r'<tr data-code="([^"]+)"[^>]*>.*?<td class="num points">([^<]+)</td>', page, re.S
    )
    return {code: points.strip() for code, points in rows}


# ---- home -------------------------------------------------------------------------------


def test_home_lists_every_programme_by_city_with_its_standing_dates_and_sources(client):
    r = client.get("/")
    assert r.status_code == 200
    page = text(r)
    assert '<html lang="zh-CN">' in page
    assert_unique_ids(page)
    for table in load_tables().values():
        assert f'id="table-{table.id}"' in page
        assert html.escape(table.name) in page
        assert html.escape(table.city) in page
        assert chinese_date(table.effective_from) in page
        for source in table.sources:
            assert f'id="src-{table.id}-{source.id}"' in page
            assert html.escape(source.title) in page
    block = {t.id: page.split(f'id="table-{t.id}"')[1].split("</li>")[0] for t in
             load_tables().values()}  # fmt: skip
    for table in load_tables().values():
        standing = services.standing_of(table)
        assert f'status-{standing.status}">{standing.label}</span>' in block[table.id]
        if table.has_secondary_values:
            assert services.SECONDARY_LABEL in block[table.id]
    assert "status-illustrative" in block["qingyuan-example"]
    assert "status-current" in block["zhongshan-2025-school"]
    assert "已由《中山市流动人员子女义务教育积分入学" in block["zhongshan-2023-school"]


def test_home_leads_each_city_to_its_current_policy(client):
    page = text(client.get("/"))
    cities = re.findall(r'<section class="city" id="city-\d+">\s*<h2>([^<]+)</h2>', page)
    # Guangdong first, and there the cities with a policy in force before the others
    assert cities == [
        "东莞市",
        "中山市",
        "广州市",
        "广东省",
        "深圳市",
        "清远市",
        "上海市",
        "北京市",
    ]
    zhongshan = page.split("<h2>中山市</h2>")[1].split('<section class="city"')[0]
    current, older = zhongshan.split('<details class="older"')
    assert 'id="table-zhongshan-2025-school"' in current and "用现行政策测算" in current
    assert 'id="table-zhongshan-2020-school"' in older
    assert 'id="table-zhongshan-2023-school"' in older


# ---- the checker form -----------------------------------------------------------------------


@pytest.mark.parametrize("table_id", TABLE_IDS)
def test_form_asks_exactly_the_facts_the_table_uses(client, table_id):
    table = load_tables()[table_id]
    page = text(client.get(f"/check/{table_id}"))
    assert_unique_ids(page)
    questions = form_class(table).questions
    assert {q.fact for q in questions} == set(table.facts_used())
    names = set(re.findall(r'<(?:input|select)[^>]* name="([a-z_]+)"', page))
    assert names == {f for q in questions for f in q.fields} | {"csrf_token", "reference_date"}
    asked = services.condition_facts(table)
    assert [q.fact for q in questions[: len(asked)]] == asked  # the basic conditions come first
    for q in questions:
        spec = FACT_SPECS[q.fact]
        assert html.escape(table.fact_help.get(q.fact, spec.help)) in page
        if q.kind == "plain":
            assert f'<label for="{q.fact}">{html.escape(spec.label)}</label>' in page
        if q.kind == "duration":  # years and months, never a bare "个月" box alone
            assert f'id="{q.fact}__years"' in page and f'id="{q.fact}__months"' in page
        if q.kind in ("home", "percent"):
            assert '<span class="unit">%</span>' in page
        for value, label in spec.choices:
            if value != "none" or spec.name != "child_grade":
                assert f">{html.escape(label)}</option>" in page
    assert "0 到 1 之间" not in page  # no fractions to type


def test_form_has_no_inline_script_or_style(client):
    for path in ["/", f"/check/{TABLE_IDS[0]}"]:
        page = text(client.get(path))
        assert "<script" not in page
        assert "style=" not in page and "<style" not in page


def test_unknown_table_is_a_chinese_404(client):
    for path in ["/check/no-such-table", "/check/" + "x" * 500, "/nowhere"]:
        r = client.get(path)
        assert r.status_code == 404
        assert "页面不存在" in text(r)
        assert r.mimetype == "text/html"
    r = client.post("/check/no-such-table", data={})
    assert r.status_code in (400, 404)  # CSRF is checked first: either way a Chinese page
    assert "<h1>" in text(r) and ENGLISH.search(text(r)) is None


# ---- the result -------------------------------------------------------------------------


def test_d4_result_page_matches_the_engine_and_the_known_figure(submit):
    facts = {"education": "bachelor", "insured_months_city": "36", "home_share": "1"}
    r = submit(D4, facts)
    assert r.status_code == 200
    assert r.history[0].status_code == 303  # POST, then the result URL (survives Back, reload)
    assert r.request.path == f"/check/{D4}/result" and "a" in r.request.args
    assert r.headers["Cache-Control"] == "no-store"
    page = text(r)
    table = load_tables()[D4]
    expected = score(table, Facts.parse({**met_conditions(D4), **facts}))
    assert expected.total == 250
    assert re.search(r'id="total">250</span>', page)
    rows = breakdown_rows(page)
    assert rows == {i.code: decimal_str(i.points) for i in expected.items if i.points}
    assert rows["education"] == "90" and rows["own_home"] == "100"
    assert rows["insurance_city"] == "60"
    for item in expected.items:
        if item.points:
            assert html.escape(item.rule) in page
    # the same qualification and ranking score: no jargon
    assert 'id="qualification"' not in page and "排名积分" not in page
    assert "已达到申请分数线（30 分），可以申请" in page
    assert "达到 30 分可以申请，是否录取取决于所在镇街的排名和学校的录取分数。" in page
    for source in table.sources:
        assert f'id="src-{source.id}"' in page


@pytest.mark.parametrize("table_id", TABLE_IDS)
def test_every_programme_scores_a_submitted_form(submit, table_id):
    table = load_tables()[table_id]
    answers: dict[str, str] = {}
    for name in table.facts_used():
        spec = FACT_SPECS[name]
        if spec.kind == "enum":
            answers[name] = spec.levels[-2]
        elif spec.kind == "int":
            answers[name] = str(min(48, int(spec.maximum or 48)))
        elif spec.kind == "decimal":
            answers[name] = "1" if spec.maximum == 1 else "20000"
        elif name == "birth_date":
            answers[name] = "1990-05-01"
    r = submit(table_id, answers)
    assert r.status_code == 200, ENGLISH.search(text(r))
    page = text(r)
    assert_unique_ids(page)
    expected = score(table, Facts.parse({**met_conditions(table_id), **answers}))
    if expected.gated or expected.vetoes:
        assert 'id="total"' not in page  # no points before the conditions
    else:
        assert f'id="total">{decimal_str(expected.total)}</span>' in page
        scored = {i.code: decimal_str(i.points) for i in expected.items if i.points}
        assert breakdown_rows(page) == scored
        for item in expected.items:
            if item.points and item.confidence in SECONDARY:
                assert CONFIDENCE_LABELS[item.confidence] in page
    for note in table.applicant_notes:
        assert html.escape(note) in page
    for note in table.notes:  # for maintainers only
        if not any(note in public for public in table.applicant_notes):
            assert html.escape(note) not in page
    for line in gap_notes(expected.gaps):  # beside the verdict
        assert html.escape(line) in page.split('id="gaps"')[1].split("</div>")[0]
    if table.illustrative:
        assert services.ILLUSTRATIVE_LABEL in page


def test_the_comparison_never_scores_a_local_fact_under_another_city(submit, client):
    facts = {"education": "bachelor", "insured_months_city": "36", "home_share": "1"}
    page = text(submit(D4, facts))
    section = page.split('id="compare"')[1].split("</table>")[0]
    shown = set(re.findall(r'data-table="([^"]+)"', section))
    assert shown == {"zhongshan-2020-school", "zhongshan-2023-school", "zhongshan-2025-school"}
    # every kind, when asked: Guangzhou's table sees only what carries over from Zhongshan
    link = re.search(r'href="([^"]+all=1)[^"]*"', page).group(1)
    page = text(client.get(html.unescape(link)))
    section = page.split('id="compare"')[1].split("</table>")[0]
    parsed = Facts.parse({**met_conditions(D4), **facts})
    for table in load_tables().values():
        if f'data-table="{table.id}"' not in section:
            continue
        row = section.split(f'data-table="{table.id}"')[1].split("</tr>")[0]
        moved = services.carried_over(parsed, table.city == "中山市")
        if table.city != "中山市":
            assert moved.home_share == 0 and moved.insured_months_city == 0
            if any(FACT_SPECS[n].local for n in table.facts_used()):
                assert "须按" in row and "补充" in row
        expected = score(table, moved)
        if f"{decimal_str(expected.total)}</td>" not in row:
            assert '<td class="num">—</td>' in row  # 需补充信息 / conditions: no points shown
        assert "0 · 未达到" not in row
    guangzhou = section.split('data-table="guangzhou-2023"')[1].split("</tr>")[0]
    assert "需补充信息" in guangzhou and "未达到" not in guangzhou


def test_veto_shows_the_ban_end_date():
    table = next(
        (t for t in load_tables().values() if any(i.type == "veto" for i in t.items)), None
    )
    if table is None:
        pytest.skip("no table with a veto")
    veto = next(i for i in table.items if i.type == "veto")
    spec = FACT_SPECS[veto.fact]
    value = (beijing_today() - dt.timedelta(days=400)).isoformat() if spec.kind == "date" else "y"
    app = make_app()
    client = app.test_client()
    page = text(client.get(f"/check/{table.id}"))
    token = CSRF_RE.search(page).group(1)
    r = client.post(
        f"/check/{table.id}",
        data={"csrf_token": token, veto.fact: value, **met_conditions(table.id)},
        follow_redirects=True,
    )
    page = text(r)
    expected = score(table, Facts.parse({veto.fact: value}))
    assert expected.vetoes
    assert "不符合申请条件" in page
    hit = expected.vetoes[0]
    assert html.escape(hit.message) in page
    if hit.ban_until:
        assert f'datetime="{hit.ban_until.isoformat()}"' in page
        assert f"{hit.ban_until.year} 年 {hit.ban_until.month} 月 {hit.ban_until.day} 日" in page


# ---- validation, in Chinese ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("insured_months_city", "abc", "不是有效的整数"),
        ("insured_months_city", "9" * 60, "应在 0 到 1200 之间"),
        ("insured_months_city", "-5", "应在 0 到 1200 之间"),
        ("insured_months_city", "1.5", "不是有效的整数"),
        ("home_share__percent", "200", "份额应在 0 到 100 之间"),
        ("home_share__percent", "0.001234", "最多保留 4 位小数"),
        ("home_share__percent", "NaN", "份额应在 0 到 100 之间"),
        ("home_share__percent", "sNaN", "份额应在 0 到 100 之间"),
        ("home_share__percent", "-Infinity", "份额应在 0 到 100 之间"),
        ("home_share__percent", "1e999999", "份额应在 0 到 100 之间"),
        ("home_share__percent", "", "与他人共有时，请填写您（含配偶）所占的份额"),
        ("education", "phd-from-mars", "不是有效的选择"),
        ("reference_date", "2020-13-45", "不是有效的日期"),
        ("reference_date", "<script>alert(1)</script>", "不是有效的日期"),
    ],
)
def test_bad_answers_get_chinese_messages(submit, field, value, message):
    joint = {"home_share__owned": "joint"} if field.startswith("home_share") else {}
    r = submit(D4, {"education": "bachelor", **joint, field: value})
    assert r.status_code == 422
    page = text(r)
    assert message in page, re.findall(r'class="error"[^>]*>([^<]*)<', page)
    assert "需要修改" in page
    assert ENGLISH.search(page) is None
    assert "<script>alert" not in page  # re-rendered input is escaped


def test_future_dates_are_refused_by_the_shared_rules(submit):
    tomorrow = (beijing_today() + dt.timedelta(days=2)).isoformat()
    table = next((t for t in load_tables().values() if "birth_date" in t.facts_used()), None)
    if table is None:
        pytest.skip("no table asks for a birth date")
    r = submit(table.id, {"birth_date": tomorrow})
    assert r.status_code == 422
    assert "日期不能晚于今天" in text(r)


def test_hostile_extra_fields_are_ignored_and_nothing_is_reflected(submit):
    r = submit(
        D4, {"education": "bachelor", "evil": "<img src=x onerror=alert(1)>", "__class__": "x"}
    )
    assert r.status_code == 200
    assert "onerror" not in text(r)


def test_missing_or_wrong_csrf_token_is_a_chinese_400(client):
    r = client.post(f"/check/{D4}", data={"education": "bachelor"})
    assert r.status_code == 400
    assert "页面已过期" in text(r) and ENGLISH.search(text(r)) is None
    client.get(f"/check/{D4}")
    r = client.post(f"/check/{D4}", data={"education": "bachelor", "csrf_token": "forged"})
    assert r.status_code == 400 and "页面已过期" in text(r)


def test_token_from_another_session_is_refused(app: Flask):
    a, b = app.test_client(), app.test_client()
    token = CSRF_RE.search(text(a.get(f"/check/{D4}"))).group(1)
    b.get(f"/check/{D4}")
    r = b.post(f"/check/{D4}", data={"csrf_token": token})
    assert r.status_code == 400


def test_oversized_form_is_a_chinese_413(submit):
    r = submit(D4, {"education": "bachelor", "padding": "x" * 100_000})
    assert r.status_code == 413
    assert "提交的内容过大" in text(r)


def test_get_only_pages_refuse_other_methods_in_chinese(client):
    r = client.delete(f"/check/{D4}")
    assert r.status_code == 405 and "不支持" in text(r)


# ---- headers, statelessness, logging ---------------------------------------------------------


def test_security_headers_on_pages(client, submit):
    for r in [client.get("/"), client.get(f"/check/{D4}"), submit(D4, {}), client.get("/x")]:
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
    assert submit(D4, {}).headers["Cache-Control"] == "no-store"


def test_nothing_typed_is_stored_in_the_session_or_logged(app, caplog):
    client = app.test_client()
    token = CSRF_RE.search(text(client.get(f"/check/{D4}"))).group(1)
    marker = "1187"  # an unusual number of months
    with caplog.at_level(logging.DEBUG):
        r = client.post(
            f"/check/{D4}",
            data={"csrf_token": token, "insured_months_city__months": marker},
            follow_redirects=True,
        )
    assert r.status_code == 200
    assert marker not in caplog.text
    with app.test_request_context():
        from flask import session

        cookie = client.get_cookie("session")
        data = app.session_interface.get_signing_serializer(app).loads(cookie.value)
        assert set(data) == {"csrf_token"}
        assert session is not None


def test_unexpected_errors_give_a_chinese_500_without_the_message_in_the_log(caplog):
    app = make_app(WTF_CSRF_ENABLED=False)

    @app.post("/boom")
    @app.post("/api/v1/boom")
    def boom():
        raise RuntimeError(request.get_data(as_text=True))  # the message quotes the input

    client = app.test_client()
    with caplog.at_level(logging.ERROR):
        r = client.post("/boom", data="secret-applicant-value-42")
        assert r.status_code == 500
        assert "服务器出错了" in text(r)
        assert "secret-applicant" not in text(r)
        r = client.post("/api/v1/boom", data="secret-applicant-value-42")
        assert r.status_code == 500 and r.json["error"] and r.json["fields"] == {}
    assert "secret-applicant-value-42" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_form_submissions_are_rate_limited_with_a_chinese_429():
    app = make_app(JIFEN_RATELIMIT_FORM="2 per minute")
    client = app.test_client()
    token = CSRF_RE.search(text(client.get(f"/check/{D4}"))).group(1)
    codes = [client.post(f"/check/{D4}", data={"csrf_token": token}).status_code for _ in range(3)]
    assert codes == [303, 303, 429]  # a result (its redirect), another, then refused
    r = client.post(f"/check/{D4}", data={"csrf_token": token})
    assert "请求过于频繁" in text(r)
    assert r.headers.get("Retry-After")
    assert client.get("/").status_code == 200  # reading pages is not limited


def test_static_stylesheet_is_served_and_printable(client):
    r = client.get("/static/style.css")
    assert r.status_code == 200
    css = text(r)
    assert "@media print" in css and "box-sizing: border-box" in css


# ---- configuration ---------------------------------------------------------------------------


def test_production_refuses_a_missing_or_weak_secret_key(tmp_path):
    for key in ["", "dev", "changeme", "short"]:
        with pytest.raises(ConfigError):
            from_env(str(tmp_path), {"JIFEN_ENV": "production", "SECRET_KEY": key})
    with pytest.raises(ConfigError, match="JIFEN_DATA_KEY"):  # it encrypts ID numbers
        from_env(str(tmp_path), {"JIFEN_ENV": "production", "SECRET_KEY": "k" * 40})
    env = {"JIFEN_ENV": "production", "SECRET_KEY": "k" * 40, "JIFEN_DATA_KEY": "d" * 40}
    with pytest.raises(ConfigError, match="JIFEN_PUBLIC_URL"):  # printed in every QR code
        from_env(str(tmp_path), {**env, "JIFEN_PUBLIC_URL": "http://jifen.zs.gov.cn"})
    env["JIFEN_PUBLIC_URL"] = "https://jifen.zs.gov.cn/"
    with pytest.raises(ConfigError, match="JIFEN_SIGNING_KEY"):  # never a generated one
        from_env(str(tmp_path), env)
    (tmp_path / "not-a-key.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match=r"not-a-key\.pem"):
        from_env(str(tmp_path), {**env, "JIFEN_SIGNING_KEY": str(tmp_path / "not-a-key.pem")})
    from app.certificates.signing import write_new_key

    write_new_key(tmp_path / "signing.pem")
    config = from_env(str(tmp_path), {**env, "JIFEN_SIGNING_KEY": str(tmp_path / "signing.pem")})
    assert config["JIFEN_PUBLIC_URL"] == "https://jifen.zs.gov.cn"
    assert not (tmp_path / "signing-key.pem").exists()  # production never makes a key
    assert config["SESSION_COOKIE_SECURE"] and config["JIFEN_HSTS"]
    assert config["SESSION_COOKIE_NAME"] == "__Host-session"


def test_development_key_is_random_and_shared_by_workers(tmp_path):
    first = from_env(str(tmp_path), {})["SECRET_KEY"]
    second = from_env(str(tmp_path), {})["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert from_env(str(tmp_path / "other"), {})["SECRET_KEY"] != first


def test_environment_configures_limits_and_storage(tmp_path):
    env = {
        "SECRET_KEY": "k" * 40,
        "RATELIMIT_STORAGE_URI": "memory://",
        "JIFEN_RATELIMIT_API": "5 per second",
        "JIFEN_MAX_CONTENT_LENGTH": "1024",
    }
    config = from_env(str(tmp_path), env)
    assert config["JIFEN_RATELIMIT_API"] == "5 per second"
    assert config["MAX_CONTENT_LENGTH"] == 1024
    with pytest.raises(ConfigError):
        from_env(str(tmp_path), {**env, "JIFEN_MAX_CONTENT_LENGTH": "lots"})


def test_compare_rows_link_to_the_same_answers_under_another_programme(submit, client):
    answers = {"education": "bachelor", "insured_months_city": "36", "home_share": "1"}
    page = text(submit(D4, answers))
    links = dict(
        (t, html.unescape(h))
        for h, t in re.findall(r'href="(/check/([a-z0-9-]+)/result\?a=[^"]+)">看明细', page)
    )
    assert set(links) == {"zhongshan-2023-school", "zhongshan-2025-school"}  # same city
    other = "zhongshan-2023-school"
    r = client.get(links[other])
    assert r.status_code == 200
    table = load_tables()[other]
    given = {**met_conditions(D4), **answers}
    used = {k: v for k, v in given.items() if k in table.facts_used()}
    expected = score(table, Facts.parse(used))
    assert f'id="total">{decimal_str(expected.total)}</span>' in text(r)
    # another city: its form, filled with what carries over, to answer the rest there
    every = text(client.get(html.unescape(re.search(r'href="([^"]+all=1)', page).group(1))))
    form_link = re.search(r'href="(/check/guangzhou-2023\?a=[^"]+)">补充情况后测算', every)
    form = text(client.get(html.unescape(form_link.group(1))))
    assert 'id="insured_months_city__months"' in form
    assert 'id="insured_months_city__months" name="insured_months_city__months" value=""' in form


_fuzz_app = make_app(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
_answer = st.one_of(
    st.text(max_size=30),
    st.integers(-(10**30), 10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)).map(str),
    st.sampled_from(["", "none", "y", "true", "是", "1e9999", "-0", "0x10", "１２"]),
)


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(table_id=st.sampled_from(TABLE_IDS), data=st.data())
def test_any_form_answers_give_a_result_or_chinese_messages_never_a_500(table_id, data):
    table = load_tables()[table_id]
    names = [*table.facts_used(), "reference_date"]
    answers = data.draw(st.dictionaries(st.sampled_from(names), _answer, max_size=len(names)))
    fields = form_fields(table_id, {k: v for k, v in answers.items() if k != "reference_date"})
    fields.update({k: v for k, v in answers.items() if k == "reference_date"})
    client = _fuzz_app.test_client()
    r = client.post(f"/check/{table_id}", data=fields)
    assert r.status_code in (303, 422), (answers, r.status_code)
    if r.status_code == 303:
        r = client.get(r.headers["Location"])
        assert r.status_code == 200
    if r.status_code == 422:
        assert "需要修改" in text(r) and ENGLISH.search(text(r)) is None


def test_too_many_form_fields_and_broken_bodies_are_refused_in_chinese(client):
    token = CSRF_RE.search(text(client.get(f"/check/{D4}"))).group(1)
    parts = [("csrf_token", token), *((f"f{i}", "1") for i in range(300))]
    body = "".join(
        f'--x\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in parts
    )
    r = client.post(
        f"/check/{D4}", data=body + "--x--\r\n", content_type="multipart/form-data; boundary=x"
    )
    assert r.status_code == 413 and "提交的内容过大" in text(r)  # MAX_FORM_PARTS
    r = client.post(
        f"/check/{D4}",
        data=b"--x\r\nContent-Disposition: form-data; name=\xff\r\n\r\n",
        content_type="multipart/form-data; boundary=x",
    )
    assert r.status_code in (400, 413) and "<h1>" in text(r)
    assert ENGLISH.search(text(r)) is None


def test_production_session_cookie_is_secure_host_only(tmp_path, monkeypatch):
    monkeypatch.setenv("JIFEN_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "p" * 48)
    monkeypatch.setenv("JIFEN_DATA_KEY", "d" * 48)
    monkeypatch.setenv("JIFEN_PUBLIC_URL", "https://jifen.zs.gov.cn")
    from app import create_app
    from app.certificates.signing import write_new_key

    write_new_key(tmp_path / "signing.pem")
    monkeypatch.setenv("JIFEN_SIGNING_KEY", str(tmp_path / "signing.pem"))
    app = create_app({"TESTING": True})
    client = app.test_client()
    r = client.get(f"/check/{D4}", base_url="https://localhost")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Domain" not in cookie and "Path=/" in cookie
    assert "max-age=31536000" in r.headers["Strict-Transport-Security"]


def test_a_shared_result_keeps_checkboxes_and_answers_as_they_were(app):
    table = next(
        t
        for t in load_tables().values()
        if sum(
            FACT_SPECS[n].kind == "bool" and n not in services.condition_facts(t)
            for n in t.facts_used()
        )
        >= 2
    )
    flags = [
        n
        for n in table.facts_used()
        if FACT_SPECS[n].kind == "bool" and n not in services.condition_facts(table)
    ]
    client = app.test_client()
    token = CSRF_RE.search(text(client.get(f"/check/{table.id}"))).group(1)
    r = client.post(
        f"/check/{table.id}",
        data={"csrf_token": token, flags[0]: "y", **met_conditions(table.id)},
    )
    assert r.status_code == 303
    location = r.headers["Location"]
    # the same link, opened by someone else (no cookie): the same page, the form as it was
    other = app.test_client()
    page = text(other.get(location))
    token = re.compile(r'name="csrf_token"[^>]*>')
    assert token.sub("", page) == token.sub("", text(other.get(location)))  # reload
    edit = page.split('<details class="edit')[1]
    assert re.search(rf'id="{flags[0]}" name="{flags[0]}" value="y" checked', edit)
    assert not re.search(rf'id="{flags[1]}" name="{flags[1]}" value="y" checked', edit)


def test_a_shared_link_that_was_edited_is_refused_in_chinese(submit, client):
    r = submit(D4, {"education": "bachelor"})
    code = r.request.args["a"]
    for bad in (code[:-3] + "abc", "", "x" * 5000, code.replace(".", "", 1)):
        page = client.get(f"/check/{D4}/result", query_string={"a": bad})
        assert page.status_code == 400
        assert "链接不完整或已被改动" in text(page)
        assert ENGLISH.search(text(page)) is None


def test_the_result_link_holds_no_personal_identifier_and_stays_short(submit):
    r = submit(D4, {"education": "bachelor", "insured_months_city": "36", "home_share": "1"})
    code = r.request.args["a"]
    assert len(r.request.url) < 400  # fits a WeChat message
    answers, on = decode(TEST_KEY, code)
    assert on == beijing_today()
    assert set(answers) <= set(FACT_SPECS) | {"reference_date"}


def test_a_reference_date_outside_the_policy_is_warned_about_in_chinese_dates(submit):
    page = text(submit("zhongshan-2025-school", {"reference_date": "2027-03-01"}))
    warning = page.split('id="period-warning"')[1].split("</p>")[0]
    assert "计分日期 2027 年 3 月 1 日 不在本政策的有效期" in warning
    assert "2025 年 1 月 1 日至 2026 年 12 月 31 日" in warning
    assert 'id="period-warning"' not in text(submit("zhongshan-2025-school", {}))


def test_amounts_say_over_which_years_they_count(client):
    page = text(client.get("/check/zhongshan-2020-school"))
    assert "近 5 年在中山缴纳的个人所得税合计。" in page  # the table's own window
    page = text(client.get("/check/dongguan"))
    assert "按哪几年的金额计算，本政策的来源未写明，以当年的申请通知为准。" in page


def test_a_failed_condition_is_said_before_any_points_in_plain_words(submit):
    page = text(submit("zhongshan-2025-school", {"residence_permit_held": "n"}))
    assert 'id="verdict">您可能不符合申请条件<' in page
    assert 'id="total"' not in page and 'id="breakdown"' not in page
    assert "持有中山居住证：您回答「否」，须为「是」。" in page
    unanswered = text(submit("zhongshan-2025-school", {}, conditions=False))
    assert 'id="verdict">需补充信息：请先回答申请条件<' in unanswered
    assert 'class="edit no-print" open' in unanswered  # the form, opened to answer them
