"""The office pages as staff use them, on SQLite and PostgreSQL: login, sessions that logout
really ends, lockout, second factor, forced password change, who may open which page, zone
jurisdiction (404 and an audit entry for every refusal), masked ID numbers, the import page."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
from office_helpers import (
    HEADER,
    KEYS_SECRET,
    OFFICE_TOKEN,
    PASSWORD,
    good_rows,
    login,
    office_app,
    round_config,
    token,
    write_csv,
)
from sqlmodel import select

from app.accounts.actor import Actor
from app.accounts.models import User
from app.accounts.operations import create_user, enrol_totp
from app.applications.importer import import_applications
from app.applications.models import Application
from app.audit.models import AuditEntry
from app.db import transaction
from app.localtime import beijing_today
from app.rounds.operations import create_round

CITY = Actor.command_line()
ACCOUNTS = {
    "admin1": dict(role="admin"),
    "clerk_shiqi": dict(role="clerk", zones=["shiqi"]),
    "clerk_dongqu": dict(role="clerk", zones=["dongqu"]),
    "reviewer_hrss": dict(role="reviewer", department="hrss"),
    "auditor1": dict(role="auditor"),
}


@pytest.fixture
def office(engine, keys, tmp_path):
    with transaction(engine) as session:
        create_round(session, CITY, round_config(), today=beijing_today())
        for name, kwargs in ACCOUNTS.items():
            create_user(session, CITY, name, PASSWORD, **kwargs)
    with transaction(engine) as session:
        import_applications(
            session, CITY, "zs-2026-p1", write_csv(tmp_path / "in.csv", good_rows(4)), keys,
            today=beijing_today(),
        )  # fmt: skip
    return office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False)


def numbers(engine) -> dict[str, list[str]]:
    with transaction(engine, write=False) as session:
        rows = session.exec(select(Application.application_no, Application.zone_id)).all()
    out: dict[str, list[str]] = {}
    for no, zone in rows:
        out.setdefault(zone, []).append(no)
    return out


def actions(engine, action: str) -> list[AuditEntry]:
    with transaction(engine, write=False) as session:
        return session.exec(select(AuditEntry).where(AuditEntry.action == action)).all()


def test_login_opens_the_office_and_every_page_is_private_and_uncached(office, engine):
    client = office.test_client()
    assert client.get("/office/").headers["Location"].startswith("/office/login")
    r = login(client, "admin1")
    assert r.status_code == 302 and r.headers["Location"] == "/office/"
    page = client.get("/office/")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "中山市2026年积分入学（小学一年级）" in page.get_data(as_text=True)
    assert [e.actor for e in actions(engine, "login.success")] == ["admin1"]


def test_a_post_without_its_csrf_token_is_refused(office):
    client = office.test_client()
    r = client.post("/office/login", data={"username": "admin1", "password": PASSWORD})
    assert r.status_code == 400


def test_wrong_passwords_lock_the_account_in_the_database(office, engine):
    client = office.test_client()
    r = login(client, "admin1", "wrong password 1")
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    for _ in range(4):
        login(client, "admin1", "wrong password 1")
    r = login(client, "admin1")  # the right password, but locked now
    assert r.status_code == 401
    assert "登录失败次数过多，账号已暂时锁定，请 15 分钟后再试" in r.get_data(as_text=True)
    with transaction(engine, write=False) as session:
        user = session.exec(select(User).where(User.username == "admin1")).one()
        assert user.locked_until is not None
    whys = [e.diff for e in actions(engine, "login.failure")]
    assert whys[-2:] == ['{"why":"password; locked"}', '{"why":"locked"}']
    assert login(client, "nobody").status_code == 401  # an unknown name: the same answer


def test_a_copied_cookie_stops_working_after_logout(office):
    client = office.test_client()
    login(client, "clerk_shiqi")
    cookie = client.get_cookie("session").value
    thief = office.test_client()
    thief.set_cookie("session", cookie)
    assert thief.get("/office/").status_code == 200
    client.post("/office/logout", data={"csrf_token": token(client, "/office/")})
    replay = thief.get("/office/")
    assert replay.status_code == 302 and replay.headers["Location"].startswith("/office/login")


def test_a_password_change_ends_every_other_session(office):
    first, second = office.test_client(), office.test_client()
    login(first, "clerk_shiqi")
    login(second, "clerk_shiqi")
    r = first.post(
        "/office/account/password",
        data={"old": PASSWORD, "new": "another long one", "again": "another long one",
              "csrf_token": token(first, "/office/account/password")},
    )  # fmt: skip
    assert r.status_code == 302 and r.headers["Location"] == "/office/login?changed=1"
    told = first.get(r.headers["Location"]).get_data(as_text=True)
    assert "密码已修改，所有登录均已退出，请用新密码重新登录。" in told
    assert second.get("/office/").status_code == 302
    assert login(office.test_client(), "clerk_shiqi", "another long one").status_code == 302


def test_a_temporary_password_must_be_changed_first(office, engine):
    with transaction(engine) as session:
        create_user(session, CITY, "newclerk", PASSWORD, role="clerk", zones=["shiqi"],
                    temporary=True)  # fmt: skip
    client = office.test_client()
    login(client, "newclerk")
    r = client.get("/office/rounds/zs-2026-p1/applications")
    assert r.status_code == 302 and r.headers["Location"] == "/office/account/password"


def test_an_account_with_a_second_factor_needs_its_code(office, engine, keys):
    secret = pyotp.random_base32()
    with transaction(engine) as session:
        user = session.exec(select(User).where(User.username == "admin1")).one()
        enrol_totp(session, keys, user, secret, pyotp.TOTP(secret).now())
    client = office.test_client()
    assert login(client, "admin1").headers["Location"] == "/office/"
    assert client.get("/office/").headers["Location"] == "/office/login/code"
    code = pyotp.TOTP(secret).now()
    wrong = client.post(
        "/office/login/code",
        data={"code": "000000" if code != "000000" else "111111",
              "csrf_token": token(client, "/office/login/code")},
    )  # fmt: skip
    assert "动态验证码不正确" in wrong.get_data(as_text=True)
    right = client.post(
        "/office/login/code",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": token(client, "/office/login/code")},
    )
    assert right.status_code == 302 and client.get("/office/").status_code == 200


def test_production_admins_must_set_up_a_second_factor(office):
    office.config["JIFEN_ENV"] = "production"
    client = office.test_client()
    login(client, "admin1")
    assert client.get("/office/").headers["Location"] == "/office/account/totp"
    login(other := office.test_client(), "clerk_shiqi")
    assert other.get("/office/").status_code == 200  # only admins


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/office/", {"admin1", "clerk_shiqi", "clerk_dongqu", "reviewer_hrss", "auditor1"}),
        ("/office/rounds/zs-2026-p1/applications",
         {"admin1", "clerk_shiqi", "clerk_dongqu", "reviewer_hrss", "auditor1"}),
        ("SHIQI", {"admin1", "clerk_shiqi", "reviewer_hrss", "auditor1"}),
        ("/office/import", {"admin1", "clerk_shiqi", "clerk_dongqu"}),
        ("/office/rounds/zs-2026-p1/applications/new", {"admin1", "clerk_shiqi", "clerk_dongqu"}),
        ("/office/queue", {"reviewer_hrss"}),
        ("/office/users", {"admin1"}),
        ("/office/tokens", {"admin1"}),
        ("/office/audit", {"admin1", "auditor1"}),
    ],
)  # fmt: skip
def test_who_may_open_which_page(office, engine, path, allowed):
    if path == "SHIQI":
        path = f"/office/applications/{numbers(engine)['shiqi'][0]}"
    for username in ACCOUNTS:
        client = office.test_client()
        login(client, username)
        status = client.get(path).status_code
        assert status == (200 if username in allowed else 404), (username, path, status)
    refused = {e.actor for e in actions(engine, "access.refused")}
    assert refused == set(ACCOUNTS) - allowed


def test_a_clerk_never_sees_another_zones_applications(office, engine):
    client = office.test_client()
    login(client, "clerk_shiqi")
    theirs = numbers(engine)["dongqu"]
    for no in theirs:  # by URL
        assert client.get(f"/office/applications/{no}").status_code == 404
    # by list filter
    assert client.get("/office/rounds/zs-2026-p1/applications?zone=dongqu").status_code == 404
    # by search
    page = client.get(f"/office/rounds/zs-2026-p1/applications?q={theirs[0]}")
    assert page.status_code == 200 and "共 0 件" in page.get_data(as_text=True)
    listed = client.get("/office/rounds/zs-2026-p1/applications").get_data(as_text=True)
    assert all(no not in listed for no in theirs)
    assert all(no in listed for no in numbers(engine)["shiqi"])
    refusals = [(e.object_id, e.diff) for e in actions(engine, "access.refused")]
    assert [o for o, _ in refusals] == [*theirs, "dongqu", theirs[0]]


def test_id_numbers_show_masked_and_unmasking_needs_a_reason_and_is_audited(office, engine):
    rows = good_rows(4)
    no = numbers(engine)["shiqi"][0]
    client = office.test_client()
    login(client, "clerk_shiqi")
    page = client.get(f"/office/applications/{no}").get_data(as_text=True)
    clear = rows[0][1]
    assert clear not in page and f"{clear[:6]}*********{clear[-3:]}" in page
    assert rows[0][0] not in page  # the name is masked too
    form = {"csrf_token": token(client, f"/office/applications/{no}")}
    assert client.post(f"/office/applications/{no}/unmask", data=form).status_code == 422
    shown = client.post(
        f"/office/applications/{no}/unmask", data={**form, "reason": "窗口核对原件"}
    )
    assert clear in shown.get_data(as_text=True)
    assert [(e.object_id, e.diff) for e in actions(engine, "applicant.unmask")] == [
        (no, '{"reason":"窗口核对原件"}')
    ]
    auditor = office.test_client()
    login(auditor, "auditor1")
    assert auditor.post(f"/office/applications/{no}/unmask",
                        data={"csrf_token": token(auditor, "/office/"), "reason": "看看"}
                        ).status_code == 404  # fmt: skip


def test_the_import_page_reports_a_bad_file_and_imports_a_good_one(office, engine, tmp_path):
    client = office.test_client()
    login(client, "clerk_shiqi")
    rows = good_rows(6, start=100)
    bad = write_csv(tmp_path / "bad.csv", rows)
    form = {"csrf_token": token(client, "/office/import"), "round": "zs-2026-p1"}
    with bad.open("rb") as handle:
        r = client.post("/office/import", data={**form, "file": (handle, "申请.csv")})
    assert r.status_code == 422
    text = r.get_data(as_text=True)
    assert "发现 3 处错误，未导入任何记录" in text
    assert "第 3 行 镇街：不属于您负责的镇街 / row 3, 镇街: not one of your zones" in text
    link = re.search(r'href="(/office/import/report/[^"]+)"', text).group(1)
    report = client.get(link)
    assert report.status_code == 200 and report.data[:2] == b"PK"  # an XLSX file
    other = office.test_client()
    login(other, "clerk_dongqu")
    assert other.get(link).status_code == 404  # only for the person who uploaded it
    good = write_csv(tmp_path / "good.csv", [r for r in rows if r[2] == "shiqi"])
    with good.open("rb") as handle:
        r = client.post("/office/import", data={**form, "file": (handle, "申请.csv")})
    assert r.status_code == 200 and "已导入 3 条申请" in r.get_data(as_text=True)
    assert len(numbers(engine)["shiqi"]) == 5


def test_the_city_reassigns_a_clerks_zones_and_the_new_jurisdiction_applies_at_once(office, engine):
    clerk = office.test_client()
    login(clerk, "clerk_shiqi")
    dongqu = numbers(engine)["dongqu"][0]
    assert clerk.get(f"/office/applications/{dongqu}").status_code == 404
    admin = office.test_client()
    login(admin, "admin1")
    with transaction(engine, write=False) as session:
        user_id = session.exec(select(User.id).where(User.username == "clerk_shiqi")).one()
    form = {"csrf_token": token(admin, "/office/users"), "zone": ["dongqu"]}
    assert admin.post(f"/office/users/{user_id}/assign", data=form).status_code == 302
    assert clerk.get("/office/").status_code == 302  # logged out: its jurisdiction changed
    login(clerk, "clerk_shiqi")
    assert clerk.get(f"/office/applications/{dongqu}").status_code == 200
    shiqi = numbers(engine)["shiqi"][0]
    assert clerk.get(f"/office/applications/{shiqi}").status_code == 404
    empty = {"csrf_token": form["csrf_token"]}
    r = admin.post(f"/office/users/{user_id}/assign", data=empty)
    assert r.status_code == 422 and "镇街窗口账号至少需要一个镇街" in r.get_data(as_text=True)
    assert [e.object_id for e in actions(engine, "user.assign")] == ["clerk_shiqi"]


def test_a_large_file_is_imported_in_the_background_with_a_progress_page(
    office, engine, tmp_path, monkeypatch
):
    from app.jobs import huey

    monkeypatch.setattr(huey, "immediate", True)  # the job runs at once, in this process
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("JIFEN_DATA_KEY", KEYS_SECRET)
    office.config["JIFEN_IMPORT_INLINE_BYTES"] = 100  # every file counts as large here
    client = office.test_client()
    login(client, "clerk_shiqi")
    rows = [r for r in good_rows(40, start=300) if r[2] == "shiqi"]
    form = {"csrf_token": token(client, "/office/import"), "round": "zs-2026-p1"}
    bad = [list(r) for r in rows]
    bad[3][9] = "-1"
    with write_csv(tmp_path / "bad.csv", bad).open("rb") as handle:
        r = client.post("/office/import", data={**form, "file": (handle, "大文件.csv")})
    assert r.status_code == 302 and r.headers["Location"].startswith("/office/import/jobs/")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "发现 1 处错误，未导入任何记录" in page
    assert "第 5 行 insured_months_city：不能小于 0" in page
    link = re.search(r'href="(/office/import/report/[^"]+)"', page).group(1)
    assert client.get(link).data[:2] == b"PK"
    other = office.test_client()
    login(other, "clerk_dongqu")
    assert other.get(r.headers["Location"]).status_code == 404  # someone else's job
    with write_csv(tmp_path / "good.csv", rows).open("rb") as handle:
        r = client.post("/office/import", data={**form, "file": (handle, "大文件.csv")})
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert f"已导入 {len(rows)} 条申请" in page
    assert len(numbers(engine)["shiqi"]) == 2 + len(rows)
    assert not list((tmp_path / "instance" / "reports").glob("*.upload*"))  # uploads removed


def test_the_import_page_takes_files_far_above_the_public_request_limit(office, engine, tmp_path):
    client = office.test_client()
    login(client, "clerk_shiqi")
    rows = [r for r in good_rows(2400, start=1000) if r[2] == "shiqi"]
    path = write_csv(tmp_path / "big.csv", rows)
    assert path.stat().st_size > office.config["MAX_CONTENT_LENGTH"]  # 64 KiB for public pages
    form = {"csrf_token": token(client, "/office/import"), "round": "zs-2026-p1"}
    with path.open("rb") as handle:
        r = client.post("/office/import", data={**form, "file": (handle, "大文件.csv")})
    assert r.status_code == 200 and f"已导入 {len(rows)} 条申请" in r.get_data(as_text=True)


# ---- verification by the departments ---------------------------------------------------------


def test_a_reviewer_works_the_queue_and_settles_facts_on_the_detail_page(office, engine):
    client = office.test_client()
    login(client, "reviewer_hrss")
    page = client.get("/office/queue").get_data(as_text=True)
    assert "核验队列 · 人社" in page
    queued = re.findall(r'<th scope="row"><a href="/office/applications/([^"]+)">', page)
    assert queued == ["ZS2026-P1-000001", "ZS2026-P1-000002", "ZS2026-P1-000003",
                      "ZS2026-P1-000004"]  # fmt: skip
    path = "/office/applications/ZS2026-P1-000001"
    detail = client.get(path).get_data(as_text=True)
    assert 'id="settle-insured_months_city"' in detail
    assert 'id="settle-residence_permit_held"' not in detail  # 公安's fact: no form for 人社
    assert 'id="items"' not in detail  # nor the score, whose words quote the other facts
    csrf = OFFICE_TOKEN.search(detail).group(1)
    version = re.search(r'name="version" value="(\d+)"', detail).group(1)
    r = client.post(
        f"{path}/facts/insured_months_city",
        data={"csrf_token": csrf, "version": version, "decision": "correct", "value": "40",
              "reason": "清单显示 40 个月", "evidence": "社保缴费清单至 2026-11"},
    )  # fmt: skip
    assert r.status_code == 303 and r.headers["Location"].startswith(path)
    shown = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "已记录对“本市社保缴费月数”的核验。" in shown
    row = shown.split('data-fact="insured_months_city"')[1].split("</tr>")[0]
    assert "已更正" in row and "40 个月" in row and "原因：清单显示 40 个月" in row
    # a second form, opened before that decision: refused, nothing written over it
    stale = client.post(
        f"{path}/facts/insured_last_month_city",
        data={"csrf_token": csrf, "version": version, "decision": "confirm", "evidence": "清单"},
    )
    assert stale.status_code == 409
    assert "此申请已被他人修改，请刷新页面后再办理。" in stale.get_data(as_text=True)
    fresh = re.search(r'name="version" value="(\d+)"', shown).group(1)
    missing = client.post(
        f"{path}/facts/insured_last_month_city",
        data={"csrf_token": csrf, "version": fresh, "decision": "confirm", "evidence": ""},
    )
    assert missing.status_code == 422
    assert "请填写核验依据" in missing.get_data(as_text=True)
    # another department's fact does not exist for this reviewer: 404, audited
    other = client.post(
        f"{path}/facts/residence_permit_held",
        data={"csrf_token": csrf, "version": fresh, "decision": "confirm", "evidence": "x"},
    )
    assert other.status_code == 404
    refused = actions(engine, "access.refused")
    assert refused[-1].actor == "reviewer_hrss" and "fact.settle" in refused[-1].diff
    assert [e.object_id for e in actions(engine, "fact.correct")] == ["ZS2026-P1-000001"]


def test_an_application_being_worked_on_shows_who_holds_it(office, engine):
    from app.applications.operations import HOLD_MINUTES, holder

    path = "/office/applications/ZS2026-P1-000001"
    clerk, reviewer, admin = (office.test_client() for _ in range(3))
    login(clerk, "clerk_shiqi")
    login(reviewer, "reviewer_hrss")
    login(admin, "admin1")
    opened = reviewer.get(path).get_data(as_text=True)  # the reviewer opens it first
    version = re.search(r'name="version" value="(\d+)"', opened).group(1)
    assert "我来处理" in opened
    r = clerk.post(f"{path}/hold", data={"csrf_token": token(clerk, path)})
    assert r.status_code == 303
    assert "您正在处理此申请" in clerk.get(path).get_data(as_text=True)
    page = reviewer.get(path).get_data(as_text=True)
    assert "此申请正由 clerk_shiqi 处理。" in page and "改由我处理" in page
    queue = reviewer.get("/office/queue").get_data(as_text=True)
    row = queue.split("ZS2026-P1-000001</a>")[1].split("</tr>")[0]
    assert '<span class="held">clerk_shiqi</span>' in row
    # the clerk returns it meanwhile: the reviewer's copy, opened before, is stale
    clerk_page = clerk.get(path).get_data(as_text=True)
    returned = clerk.post(
        f"{path}/return",
        data={"csrf_token": token(clerk, path), "reason": "居住证复印件不清晰，请重新上传",
              "version": re.search(r'name="version" value="(\d+)"', clerk_page).group(1)},
    )  # fmt: skip
    assert returned.status_code == 303
    stale = reviewer.post(
        f"{path}/facts/insured_months_city",
        data={"csrf_token": token(reviewer, path), "version": version, "decision": "confirm",
              "evidence": "清单"},
    )  # fmt: skip
    assert stale.status_code == 409 and "已被他人修改，请刷新" in stale.get_data(as_text=True)
    # taking it over is recorded with whom it was taken from; only the holder or the city
    # releases it
    reviewer.post(f"{path}/hold", data={"csrf_token": token(reviewer, path)})
    refused = clerk.post(f"{path}/release", data={"csrf_token": token(clerk, path)})
    assert refused.status_code == 422
    assert "此申请由 reviewer_hrss 处理，只有本人或市级管理员可以释放。" in refused.get_data(
        as_text=True
    )
    assert admin.post(f"{path}/release", data={"csrf_token": token(admin, path)}).status_code == 303
    assert "我来处理" in reviewer.get(path).get_data(as_text=True)
    holds = [(e.actor, e.diff) for e in actions(engine, "application.hold")]
    assert holds == [("clerk_shiqi", "{}"), ("reviewer_hrss", '{"from":"clerk_shiqi"}')]
    assert [(e.actor, e.diff) for e in actions(engine, "application.release")] == [
        ("admin1", '{"held_by":"reviewer_hrss"}')
    ]
    auditor = office.test_client()
    login(auditor, "auditor1")
    held = auditor.post(f"{path}/hold", data={"csrf_token": token(auditor, path)})
    assert held.status_code == 404  # not a page of an auditor's, and the refusal is audited
    assert "applications.hold" in actions(engine, "access.refused")[-1].diff
    # a hold nobody released lapses
    with transaction(engine, write=False) as session:
        application = session.exec(
            select(Application).where(Application.application_no == "ZS2026-P1-000001")
        ).one()
    application.held_by, application.held_at = "clerk_shiqi", dt.datetime.now(dt.UTC)
    later = application.held_at + dt.timedelta(minutes=HOLD_MINUTES + 1)
    assert holder(application, application.held_at) == "clerk_shiqi"
    assert holder(application, later) == ""


def test_a_reviewer_confirms_a_batch_from_the_queue(office, engine):
    client = office.test_client()
    login(client, "reviewer_hrss")
    page = client.get("/office/queue").get_data(as_text=True)
    csrf = OFFICE_TOKEN.search(page).group(1)
    r = client.post(
        "/office/queue/confirm",
        data={"csrf_token": csrf, "application": ["ZS2026-P1-000001", "ZS2026-P1-000003"],
              "evidence": "与人社系统比对一致"},
    )  # fmt: skip
    assert r.status_code == 303
    after = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "已确认 4 项。" in after
    assert "待核验的申请（2 份）" in after
    empty = client.post("/office/queue/confirm", data={"csrf_token": csrf, "evidence": "x"})
    assert empty.status_code == 422 and "请勾选要确认的申请。" in empty.get_data(as_text=True)
    assert len(actions(engine, "fact.confirm")) == 4


def test_a_clerk_returns_an_application_for_correction_from_its_page(office, engine):
    client = office.test_client()
    login(client, "clerk_shiqi")
    number = numbers(engine)["shiqi"][0]
    path = f"/office/applications/{number}"
    page = client.get(path).get_data(as_text=True)
    assert 'id="return-form"' in page
    csrf = OFFICE_TOKEN.search(page).group(1)
    version = re.search(r'id="return-form">\s*<input[^>]*>\s*<input type="hidden" name="version" '
                        r'value="(\d+)"', page).group(1)  # fmt: skip
    short = client.post(f"{path}/return", data={"csrf_token": csrf, "version": version,
                                                "reason": "不对"})  # fmt: skip
    assert short.status_code == 422 and "请写明退回原因" in short.get_data(as_text=True)
    reason = "居住证复印件不清晰，请重新上传"
    r = client.post(
        f"{path}/return", data={"csrf_token": csrf, "version": version, "reason": reason}
    )
    assert r.status_code == 303
    after = client.get(path).get_data(as_text=True)
    assert "退回补正" in after and reason in after
    assert 'id="return-form"' not in after  # not twice
    assert [e.object_id for e in actions(engine, "application.return")] == [number]
    other = numbers(engine)["dongqu"][0]  # another zone's: does not exist for this clerk
    assert (
        client.post(
            f"/office/applications/{other}/return",
            data={"csrf_token": csrf, "version": "1", "reason": "居住证复印件不清晰"},
        ).status_code
        == 404
    )


def test_a_change_after_verification_is_requested_by_a_reviewer_and_approved_by_the_city(
    office, engine
):
    number = numbers(engine)["shiqi"][0]
    path = f"/office/applications/{number}"
    reviewer = office.test_client()
    login(reviewer, "reviewer_hrss")
    page = reviewer.get(path).get_data(as_text=True)
    csrf = OFFICE_TOKEN.search(page).group(1)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    reviewer.post(
        f"{path}/facts/insured_months_city",
        data={"csrf_token": csrf, "version": version, "decision": "confirm", "evidence": "清单"},
    )
    page = reviewer.get(path).get_data(as_text=True)
    assert 'id="change-insured_months_city"' in page
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = reviewer.post(f"{path}/facts/insured_months_city/change", data={
        "csrf_token": csrf, "version": version, "decision": "correct", "value": "30",
        "reason": "补录漏记月份", "evidence": "补充清单"})  # fmt: skip
    assert r.status_code == 303
    assert "等待复核的修改" in reviewer.get(path).get_data(as_text=True)
    city = office.test_client()
    login(city, "admin1")
    page = city.get(path).get_data(as_text=True)
    change_id = re.search(r'action="/office/changes/(\d+)"', page).group(1)
    done = city.post(
        f"/office/changes/{change_id}",
        data={"csrf_token": OFFICE_TOKEN.search(page).group(1), "decision": "approve"},
    )
    assert done.status_code == 303
    after = city.get(path).get_data(as_text=True)
    row = after.split('data-fact="insured_months_city"')[1].split("</tr>")[0]
    assert "已更正" in row and "30 个月" in row and "等待复核的修改" not in after
    assert [e.actor for e in actions(engine, "fact.change.approve")] == ["admin1"]


def test_an_imported_applications_history_starts_with_the_import_of_its_file(office, engine):
    no = numbers(engine)["shiqi"][0]
    client = office.test_client()
    login(client, "auditor1")
    history = client.get(f"/office/applications/{no}").get_data(as_text=True)
    rows = history.split('id="history"')[1].split("</table>")[0]
    assert "<td>批量导入申请</td>" in rows and CITY.username in rows  # words, not the code
    [entry] = actions(engine, "application.import")
    beijing = entry.at.replace(tzinfo=None) + dt.timedelta(hours=8)  # stored in UTC
    assert "时间（北京时间）" in history and f"<td>{beijing:%Y-%m-%d %H:%M:%S}</td>" in rows
    found = client.get(f"/office/audit?object_id={no}").get_data(as_text=True)
    # the audit browser finds it by the number too, in words and by its code
    assert "<td>批量导入申请<br><code>application.import</code></td>" in found
    chosen = client.get("/office/audit?action=application.import").get_data(as_text=True)
    assert '<option value="application.import" selected>批量导入申请</option>' in chosen
    table = chosen.split('id="audit"')[1]
    assert table.count("<tr><td") == table.count("<code>application.import</code>") >= 1
    other = client.get("/office/audit?object_id=ZS2026-P1-999999").get_data(as_text=True)
    assert "<code>application.import</code>" not in other.split('id="audit"')[1]


def test_an_xlsx_file_that_reaches_too_far_is_refused_on_the_page_and_the_worker_lives_on(
    office, engine, tmp_path
):
    """The web worker imports a small file itself: a sheet with one cell at XFD1048576 (which
    the reader would lay out as half a terabyte) is refused with its message, and the same
    worker then imports a good XLSX file."""
    from openpyxl import Workbook

    client = office.test_client()
    login(client, "clerk_shiqi")
    form = {"csrf_token": token(client, "/office/import"), "round": "zs-2026-p1"}
    rows = [r for r in good_rows(6, start=500) if r[2] == "shiqi"]

    def workbook(name, far=False):
        book = Workbook()
        sheet = book.active
        sheet.append(HEADER)
        for row in rows:
            sheet.append(row)
        if far:
            sheet["XFD1048576"] = "x"
        book.save(tmp_path / name)
        return tmp_path / name

    with workbook("far.xlsx", far=True).open("rb") as handle:
        r = client.post("/office/import", data={**form, "file": (handle, "申请.xlsx")})
    assert r.status_code == 422
    assert (
        "表格使用的范围过大（行号须小于 300,000，列不超过 CB 列），请删除表格中多余的行和列后再导入"
        in r.get_data(as_text=True)
    )
    with workbook("good.xlsx").open("rb") as handle:
        r = client.post("/office/import", data={**form, "file": (handle, "申请.xlsx")})
    assert r.status_code == 200 and f"已导入 {len(rows)} 条申请" in r.get_data(as_text=True)


def test_uploads_and_reports_on_disk_are_sealed_and_removed_after_two_days(
    office, engine, tmp_path, monkeypatch
):
    """An upload waiting for the consumer and the report of a refused file hold people's names
    and ID numbers: on disk they are encrypted with the data key; every job file is removed
    48 hours after it was last written."""
    import os
    import time

    from openpyxl import load_workbook

    import app.jobs as jobs
    from app.jobfiles import FILES_KEPT_SECONDS

    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("JIFEN_DATA_KEY", KEYS_SECRET)
    office.config["JIFEN_IMPORT_INLINE_BYTES"] = 100  # every file counts as large here
    queued, consumer = [], jobs.import_job
    monkeypatch.setattr(jobs, "import_job", lambda *args: queued.append(args))
    client = office.test_client()
    login(client, "clerk_shiqi")
    rows = [r for r in good_rows(40, start=700) if r[2] == "shiqi"]
    rows[2][9] = "-1"
    reports = tmp_path / "instance" / "reports"

    def nothing_clear():
        on_disk = b"".join(p.read_bytes() for p in reports.iterdir())
        for row in rows:
            assert row[1].encode() not in on_disk and row[0].encode() not in on_disk

    form = {"csrf_token": token(client, "/office/import"), "round": "zs-2026-p1"}
    with write_csv(tmp_path / "bad.csv", rows).open("rb") as handle:
        r = client.post("/office/import", data={**form, "file": (handle, "申请.csv")})
    assert r.status_code == 302 and len(queued) == 1
    [upload] = reports.glob("*.upload.csv.sealed")
    nothing_clear()  # the upload waits for the consumer, sealed
    consumer.call_local(*queued[0])  # the consumer takes it
    assert not upload.exists()
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "第 4 行 insured_months_city：不能小于 0" in page
    nothing_clear()  # the report of the refused rows, sealed too
    link = re.search(r'href="(/office/import/report/[^"]+)"', page).group(1)
    report = client.get(link)
    assert report.status_code == 200
    (tmp_path / "report.xlsx").write_bytes(report.data)
    sheet = load_workbook(tmp_path / "report.xlsx").active
    assert sheet.cell(4, 2).value == rows[2][1]  # the clerk gets the rows back in clear
    assert sheet.cell(4, sheet.max_column).value == "insured_months_city：不能小于 0"

    # two days later the job's files are gone at the next import; a fresh one's stay
    old = time.time() - FILES_KEPT_SECONDS - 60
    for path in reports.iterdir():
        os.utime(path, (old, old))
    with write_csv(tmp_path / "bad2.csv", rows).open("rb") as handle:
        r = client.post("/office/import", data={**form, "file": (handle, "申请.csv")})
    assert r.status_code == 302 and len(queued) == 2
    gone = client.get(link)  # the old report is gone, and its owner is told so
    assert gone.status_code == 410
    assert "这份检查报告已过期删除（报告保留 48 小时），请重新导入该文件，生成新的报告。" in (
        gone.get_data(as_text=True)
    )
    other = office.test_client()
    login(other, "clerk_dongqu")
    assert other.get(link).status_code == 404  # someone else's report does not exist for them
    new = queued[1][0]  # the new job's token: its state and its upload are all that is left
    assert sorted(p.name for p in reports.iterdir()) == [f"{new}.json", f"{new}.upload.csv.sealed"]


def test_a_queued_job_keeps_its_upload_a_week_and_its_owner_is_told_when_it_is_gone(
    office, engine, tmp_path, monkeypatch
):
    """Finished jobs' files go after 48 hours; a job still queued (a consumer down over a long
    weekend) keeps its sealed upload for up to seven days. A job of one's own whose files are
    gone is said to be expired (410); another's, or a token that is no token, is a 404."""
    import os
    import time

    import werkzeug.formparser as formparser

    import app.jobs as jobs
    from app.jobfiles import FILES_KEPT_SECONDS, UNFINISHED_KEPT_SECONDS, read_sealed, sweep
    from app.protect import DataKeys

    def no_disk(*args, **kwargs):
        raise AssertionError("an upload was spooled to a temporary file")

    monkeypatch.setattr(formparser, "SpooledTemporaryFile", no_disk)  # uploads stay in memory
    office.config["JIFEN_IMPORT_INLINE_BYTES"] = 100
    queued = []
    monkeypatch.setattr(jobs, "import_job", lambda *args: queued.append(args))
    client = office.test_client()
    login(client, "clerk_shiqi")
    rows = [r for r in good_rows(12_000, start=2000) if r[2] == "shiqi"]  # about 590 KB
    path = write_csv(tmp_path / "big.csv", rows)
    assert path.stat().st_size > 500 * 1024  # past what Werkzeug would keep in memory
    form = {"csrf_token": token(client, "/office/import"), "round": "zs-2026-p1"}
    with path.open("rb") as handle:
        r = client.post("/office/import", data={**form, "file": (handle, "申请.csv")})
    assert r.status_code == 302
    progress = r.headers["Location"]
    reports = tmp_path / "instance" / "reports"
    job = queued[0][0]
    upload = reports / f"{job}.upload.csv.sealed"
    keys = DataKeys.from_secret(KEYS_SECRET)
    assert read_sealed(keys, upload) == path.read_bytes()
    moved = reports / "1-aaaaaaaaaaaaaaaaaaaaaa.upload.csv.sealed"  # under another job's name
    moved.write_bytes(upload.read_bytes())
    assert read_sealed(keys, moved) is None
    moved.unlink()

    def age(seconds):
        then = time.time() - seconds
        for p in reports.iterdir():
            os.utime(p, (then, then))

    age(FILES_KEPT_SECONDS + 3600)  # three days in the queue: kept
    assert sweep(reports) == 0 and upload.exists()
    assert client.get(progress).status_code == 200
    age(UNFINISHED_KEPT_SECONDS + 3600)  # eight days: gone
    assert sweep(reports) == 2 and not upload.exists()
    gone = client.get(progress)
    assert gone.status_code == 410
    said = gone.get_data(as_text=True)
    assert "这次导入的进度记录已过期删除；导入的申请请在申请列表中查看。" in said
    other = office.test_client()
    login(other, "clerk_dongqu")
    assert other.get(progress).status_code == 404
    for bad in ("5-%00", "..%2F..%2Fdb", f"{job}x", f"{job}%00"):  # never a 500
        assert client.get(f"/office/import/report/{bad}").status_code == 404
        assert client.get(f"/office/import/jobs/{bad}").status_code == 404
