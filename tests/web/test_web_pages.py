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
from web_helpers import CSRF_RE, make_app

from app.config import ConfigError, from_env
from app.public import services
from scoring.engine import gap_notes, score
from scoring.facts import FACT_SPECS, Facts
from scoring.model import CONFIDENCE_LABELS, SECONDARY
from scoring.suggest import suggest
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


def test_home_lists_every_programme_by_region_with_dates_sources_and_marks(client):
    r = client.get("/")
    assert r.status_code == 200
    page = text(r)
    assert '<html lang="zh-CN">' in page
    assert_unique_ids(page)
    for table in load_tables().values():
        assert f'id="table-{table.id}"' in page
        assert html.escape(table.name) in page
        assert html.escape(table.region) in page
        assert table.effective_from.isoformat() in page
        for source in table.sources:
            assert f'id="src-{table.id}-{source.id}"' in page
            assert html.escape(source.title) in page
    block = {t.id: page.split(f'id="table-{t.id}"')[1].split("</li>\n    \n")[0] for t in
             load_tables().values()}  # fmt: skip
    for table in load_tables().values():
        if table.illustrative:
            assert services.ILLUSTRATIVE_LABEL in block[table.id]
        if table.has_secondary_values:
            assert services.SECONDARY_LABEL in block[table.id]


def test_home_groups_regions_in_order(client):
    page = text(client.get("/"))
    regions = re.findall(r'<section class="region">\s*<h2>([^<]+)</h2>', page)
    expected = sorted({t.region for t in load_tables().values()}, key=services.region_key)
    assert regions == expected
    assert regions[0].startswith("广东")


# ---- the checker form -----------------------------------------------------------------------


@pytest.mark.parametrize("table_id", TABLE_IDS)
def test_form_asks_exactly_the_facts_the_table_uses(client, table_id):
    table = load_tables()[table_id]
    page = text(client.get(f"/check/{table_id}"))
    assert_unique_ids(page)
    names = set(re.findall(r'<(?:input|select)[^>]* name="([a-z_]+)"', page))
    assert names == {*table.facts_used(), "csrf_token", "reference_date"}
    # every input is labelled, and the label is the fact's Chinese label
    for name in table.facts_used():
        spec = FACT_SPECS[name]
        assert f'<label for="{name}">{html.escape(spec.label)}</label>' in page
        assert f'id="{name}"' in page
        assert html.escape(spec.help) in page
        if spec.unit and spec.kind in ("int", "decimal"):
            assert f'<span class="unit">{spec.unit}</span>' in page
        for _, label in spec.choices:
            assert f">{html.escape(label)}</option>" in page


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
    assert r.headers["Cache-Control"] == "no-store"
    page = text(r)
    table = load_tables()[D4]
    expected = score(table, Facts.parse(facts))
    assert expected.total == 250
    assert re.search(r'id="total">250</span>', page)
    rows = breakdown_rows(page)
    assert rows == {i.code: decimal_str(i.points) for i in expected.items}
    assert rows["education"] == "90" and rows["own_home"] == "100"
    assert rows["insurance_city"] == "60"
    for item in expected.items:
        assert html.escape(item.rule) in page
    assert f'id="qualification">{decimal_str(expected.qualification_score)} 分' in page
    assert f'id="ranking">{decimal_str(expected.ranking_score)} 分' in page
    assert "已达到分数线" in page
    for source in table.sources:
        assert f'id="src-{source.id}"' in page
    for s in suggest(table, Facts.parse(facts)):
        assert html.escape(s.text) in page


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
    expected = score(table, Facts.parse(answers))
    assert f'id="total">{decimal_str(expected.total)}</span>' in page
    assert breakdown_rows(page) == {i.code: decimal_str(i.points) for i in expected.items}
    for item in expected.items:
        if item.confidence in SECONDARY:
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


def test_result_compares_the_same_facts_under_other_programmes(submit):
    facts = {"education": "bachelor", "insured_months_city": "36", "home_share": "1"}
    page = text(submit(D4, facts))
    section = page.split('id="compare"')[1].split("</table>")[0]
    parsed = Facts.parse(facts)
    for table in load_tables().values():
        uses = set(table.facts_used()) & set(facts)
        if not uses:
            assert f'data-table="{table.id}"' not in section
            continue
        expected = score(table, parsed)
        row = section.split(f'data-table="{table.id}"')[1].split("</tr>")[0]
        assert f'<td class="num">{decimal_str(expected.total)}</td>' in row
        assert f'class="verdict-{services.verdict(expected)}"' in row


def test_veto_shows_the_ban_end_date():
    table = next(
        (t for t in load_tables().values() if any(i.type == "veto" for i in t.items)), None
    )
    if table is None:
        pytest.skip("no table with a veto")
    veto = next(i for i in table.items if i.type == "veto")
    spec = FACT_SPECS[veto.fact]
    value = (dt.date.today() - dt.timedelta(days=400)).isoformat() if spec.kind == "date" else "y"
    app = make_app()
    client = app.test_client()
    page = text(client.get(f"/check/{table.id}"))
    token = CSRF_RE.search(page).group(1)
    r = client.post(f"/check/{table.id}", data={"csrf_token": token, veto.fact: value})
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
        ("home_share", "2", "应在 0 到 1 之间"),
        ("home_share", "0.123456", "最多保留 4 位小数"),
        ("home_share", "NaN", "应在 0 到 1 之间"),
        ("home_share", "sNaN", "应在 0 到 1 之间"),
        ("home_share", "-Infinity", "应在 0 到 1 之间"),
        ("home_share", "1e999999", "应在 0 到 1 之间"),
        ("education", "phd-from-mars", "不是有效的选择"),
        ("reference_date", "2020-13-45", "不是有效的日期"),
        ("reference_date", "<script>alert(1)</script>", "不是有效的日期"),
    ],
)
def test_bad_answers_get_chinese_messages(submit, field, value, message):
    r = submit(D4, {"education": "bachelor", field: value})
    assert r.status_code == 422
    page = text(r)
    assert message in page, re.findall(r'class="error"[^>]*>([^<]*)<', page)
    assert "需要修改" in page
    assert ENGLISH.search(page) is None
    assert "<script>alert" not in page  # re-rendered input is escaped


def test_future_dates_are_refused_by_the_shared_rules(submit):
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
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
        r = client.post(f"/check/{D4}", data={"csrf_token": token, "insured_months_city": marker})
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
    assert codes == [200, 200, 429]
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
    config = from_env(
        str(tmp_path),
        {"JIFEN_ENV": "production", "SECRET_KEY": "k" * 40, "JIFEN_DATA_KEY": "d" * 40},
    )
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


def test_compare_rows_resubmit_the_same_answers_to_another_programme(app):
    client = app.test_client()
    token = CSRF_RE.search(text(client.get(f"/check/{D4}"))).group(1)
    answers = {"education": "bachelor", "insured_months_city": "36", "home_share": "1"}
    page = text(client.post(f"/check/{D4}", data={"csrf_token": token, **answers}))
    form = page.split('<form id="compare-form"')[1].split("</form>")[0]
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', form))
    assert {k: v for k, v in hidden.items() if k != "csrf_token" and v != "none"} == answers
    targets = re.findall(r'form="compare-form" formaction="/check/([a-z0-9-]+)"', page)
    assert targets and D4 not in targets
    other = targets[0]
    r = client.post(f"/check/{other}", data=hidden)
    assert r.status_code == 200
    table = load_tables()[other]
    used = {k: v for k, v in answers.items() if k in table.facts_used()}
    expected = score(table, Facts.parse(used))
    assert f'id="total">{decimal_str(expected.total)}</span>' in text(r)
    assert page.count('id="csrf_token"') == 1


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
    r = _fuzz_app.test_client().post(f"/check/{table_id}", data=answers)
    assert r.status_code in (200, 422), (answers, r.status_code)
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
    from app import create_app

    app = create_app({"TESTING": True})
    client = app.test_client()
    r = client.get(f"/check/{D4}", base_url="https://localhost")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Domain" not in cookie and "Path=/" in cookie
    assert "max-age=31536000" in r.headers["Strict-Transport-Security"]


def test_resent_answers_keep_checkboxes_as_they_were(app):
    table = next(
        t
        for t in load_tables().values()
        if sum(FACT_SPECS[n].kind == "bool" for n in t.facts_used()) >= 2
    )
    flags = [n for n in table.facts_used() if FACT_SPECS[n].kind == "bool"]
    client = app.test_client()
    token = CSRF_RE.search(text(client.get(f"/check/{table.id}"))).group(1)
    page = text(client.post(f"/check/{table.id}", data={"csrf_token": token, flags[0]: "y"}))
    form = page.split('<form id="compare-form"')[1].split("</form>")[0]
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', form))
    assert hidden[flags[0]] == "y"
    assert all(flag not in hidden for flag in flags[1:])
    edit = page.split('<details class="edit')[1]
    assert re.search(rf'id="{flags[0]}" name="{flags[0]}" value="y" checked', edit)
    assert not re.search(rf'id="{flags[1]}" name="{flags[1]}" value="y" checked', edit)
