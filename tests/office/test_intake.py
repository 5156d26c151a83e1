"""Applying online from a checker result, on SQLite and PostgreSQL: the answers carry over, the
form is checked by the import's rules, one application per person per round, only while the
window is open, and the applicant can look it up afterwards."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from office_helpers import OFFICE_TOKEN, id_number, login, office_app, round_config, token
from sqlmodel import select

from app.accounts.actor import Actor
from app.applications.models import Application, ClaimedFact
from app.audit.models import AuditEntry
from app.db import transaction
from app.localtime import beijing_today
from app.public.answers import encode
from app.rounds.operations import create_round

CITY = Actor.command_line()
TODAY = beijing_today()
SECRET = "office test key " * 4  # office_app's SECRET_KEY: the checker's codes are signed with it
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PERSON = ("王小明", id_number("19880512", 21))
ANSWERS = {  # what the parent typed into the checker of zhongshan-2025-school
    "local_hukou": "n", "residence_permit_held": "y", "insured_last_month_city": "y",
    "child_grade": "primary1", "residence_permit_months": 36, "insured_months_city": 36,
    "medical_insured_months_city": 36,
}  # fmt: skip


@pytest.fixture
def site(engine, keys, tmp_path):
    config = round_config()
    config["application_window"] = [
        (TODAY - dt.timedelta(days=3)).isoformat(),
        (TODAY + dt.timedelta(days=30)).isoformat(),
    ]
    with transaction(engine) as session:
        create_round(session, CITY, config, today=TODAY - dt.timedelta(days=10))
    return office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False)


def apply(client, fields, code=None):
    code = code or encode(SECRET, ANSWERS, TODAY)
    page = client.get(f"/apply/zhongshan-2025-school?a={code}").get_data(as_text=True)
    token = TOKEN.search(page).group(1)
    data = {
        "csrf_token": token, "a": code, "round_id": "zs-2026-p1", "name": PERSON[0],
        "id_number": PERSON[1], "phone": "13800138000", "zone": "shiqi",
        "category": "school-p1", "choice": ["S002", "S001"], "accept_any": "y",
        "committed": "y", **fields,
    }  # fmt: skip
    return client.post("/apply/zhongshan-2025-school", data={k: v for k, v in data.items() if v})


def test_a_parent_applies_from_the_checker_result_and_looks_it_up(site, engine):
    client = site.test_client()
    code = encode(SECRET, ANSWERS, TODAY)
    result = client.get(f"/check/zhongshan-2025-school/result?a={code}").get_data(as_text=True)
    assert f'href="/apply/zhongshan-2025-school?a={code}"' in result
    form = client.get(f"/apply/zhongshan-2025-school?a={code}").get_data(as_text=True)
    assert "本市社保缴费月数：36 个月" in form and "持有本市居住证：是" in form
    r = apply(client, {})
    page = r.get_data(as_text=True)
    assert r.status_code == 200, page
    assert 'id="application-no">ZS2026-P1-000001<' in page
    assert "王**" in page and PERSON[1] not in page  # masked, even to the applicant
    assert "志愿：孙文西路小学、石岐中心小学（服从调剂）" in page
    assert r.headers["Cache-Control"] == "no-store"
    with transaction(engine, write=False) as session:
        made = session.exec(select(Application)).one()
        assert (made.source, made.zone_id, made.status, made.choices) == (
            "online", "shiqi", "verifying", '["S002","S001"]',
        )  # fmt: skip
        assert made.total_cents == 10800  # 36 + 36 + 36, as the checker said
        facts = set(session.exec(select(ClaimedFact.fact)).all())
        assert facts == set(ANSWERS)
        entry = session.exec(
            select(AuditEntry).where(AuditEntry.action == "application.create")
        ).one()
        assert (entry.actor, entry.object_id) == ("online", "ZS2026-P1-000001")
        assert PERSON[1] not in entry.diff and PERSON[0] not in entry.diff
    token = TOKEN.search(client.get("/status").get_data(as_text=True)).group(1)
    status = client.post(
        "/status",
        data={"csrf_token": token, "application_no": "ZS2026-P1-000001",
              "id_number": PERSON[1], "name": PERSON[0]},
    )  # fmt: skip
    assert status.status_code == 200 and "核验中" in status.get_data(as_text=True)


def test_a_second_application_names_the_first_and_bad_answers_name_their_field(site, engine):
    client = site.test_client()
    assert apply(client, {}).status_code == 200
    again = apply(client, {"zone": "dongqu", "choice": ["S101"]})
    assert again.status_code == 422
    assert "此人已有本轮申请 ZS2026-P1-000001" in again.get_data(as_text=True)
    bad = apply(client, {"id_number": "440101199001011234", "committed": "", "choice": ["S101"]})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "身份证号：身份证号校验码不正确" in page
    assert "承诺书：请阅读承诺书并勾选“本人承诺”。" in page
    assert "学校志愿：学校 S101 不属于本镇街的本类别" in page
    with transaction(engine, write=False) as session:
        assert len(session.exec(select(Application)).all()) == 1  # nothing half-written


def test_twins_apply_together_as_one_family_each_with_a_number(site, engine):
    client = site.test_client()
    twin = id_number("20190301", 31)
    page = client.get(f"/apply/zhongshan-2025-school?a={encode(SECRET, ANSWERS, TODAY)}")
    text = page.get_data(as_text=True)
    # the round's zones have at most two schools of a category: two choices are offered
    assert 'id="choice-1"' in text and 'id="choice-2"' not in text
    assert 'name="sibling_name"' in text
    bad = apply(client, {"sibling_name": ["王小红", "王小刚"],
                         "sibling_id_number": ["440101199001011234", ""]})  # fmt: skip
    problems = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "第 2 个孩子的身份证号：身份证号校验码不正确" in problems
    assert "第 3 个孩子的身份证号：必填" in problems
    same = apply(client, {"sibling_name": ["王小红"], "sibling_id_number": [PERSON[1]]})
    assert "第 2 个孩子的身份证号：与第 1 行是同一人（身份证号重复）" in same.get_data(as_text=True)
    r = apply(client, {"sibling_name": ["王小红"], "sibling_id_number": [twin]})
    done = r.get_data(as_text=True)
    assert r.status_code == 200, done
    assert "王**（" in done and "受理编号 <strong>ZS2026-P1-000002</strong>" in done
    assert twin not in done
    with transaction(engine, write=False) as session:
        made = session.exec(select(Application).order_by(Application.id)).all()
        assert [(a.application_no, a.family, a.choices, a.total_cents) for a in made] == [
            ("ZS2026-P1-000001", "ZS2026-P1-000001", '["S002","S001"]', 10800),
            ("ZS2026-P1-000002", "ZS2026-P1-000001", '["S002","S001"]', 10800),
        ]
    # a third child later, who is the second one again: the existing number is named
    again = apply(client, {"id_number": twin, "sibling_name": [], "sibling_id_number": []})
    assert "此人已有本轮申请 ZS2026-P1-000002" in again.get_data(as_text=True)


def test_a_round_limits_the_number_of_choices(engine, keys, tmp_path):
    config = round_config()
    config["application_window"] = [TODAY.isoformat(), TODAY.isoformat()]
    config["max_choices"] = 1
    with transaction(engine) as session:
        create_round(session, CITY, config, today=TODAY - dt.timedelta(days=1))
    client = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False).test_client()
    code = encode(SECRET, ANSWERS, TODAY)
    page = client.get(f"/apply/zhongshan-2025-school?a={code}").get_data(as_text=True)
    assert "最多 1 个" in page and 'id="choice-1"' not in page
    from app.intake.operations import ApplicationRefused, Submission, submit

    with pytest.raises(ApplicationRefused) as refused, transaction(engine) as session:
        submit(session, keys, "zs-2026-p1",
               Submission(*PERSON, "", "shiqi", "school-p1", ["S001", "S002"], committed=True),
               ANSWERS, today=TODAY)  # fmt: skip
    assert refused.value.problems == [("choices", "本轮最多填 1 个志愿，填了 2 个")]
    bad = round_config()
    bad["max_choices"] = 0
    from app.rounds.operations import check_round

    assert "field 'max_choices': a whole number 1–50 / 志愿数上限应为 1 到 50 的整数" in (
        check_round(bad)
    )


def test_no_application_outside_the_window(engine, keys, tmp_path):
    with transaction(engine) as session:
        create_round(session, CITY, round_config(), today=TODAY)  # its window is in 2027
    client = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False).test_client()
    page = client.get("/apply/zhongshan-2025-school").get_data(as_text=True)
    assert "现在没有正在申报的轮次。" in page
    assert "申报期 2027 年 2 月 20 日至 2027 年 4 月 17 日" in page


def test_the_window_closes_at_midnight_in_beijing_whatever_the_servers_time_zone(
    engine, keys, tmp_path, monkeypatch
):
    """A window ending on 1 December is closed at 00:30 on 2 December in Beijing, though a server
    keeping UTC still has 1 December (16:30)."""
    import app.localtime as localtime

    config = round_config()
    config["application_window"] = ["2026-11-20", "2026-12-01"]
    with transaction(engine) as session:
        create_round(session, CITY, config, today=dt.date(2026, 11, 1))
    client = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False).test_client()

    def at(utc: dt.datetime):
        monkeypatch.setattr(localtime, "_clock", lambda zone: utc.astimezone(zone))
        return client.get("/apply/zhongshan-2025-school").get_data(as_text=True)

    before = at(dt.datetime(2026, 12, 1, 15, 59, tzinfo=dt.UTC))  # 23:59 in Beijing
    assert "现在没有正在申报的轮次。" not in before and "zs-2026-p1" in before
    after = at(dt.datetime(2026, 12, 1, 16, 30, tzinfo=dt.UTC))  # 00:30 on 2 December
    assert "现在没有正在申报的轮次。" in after


def test_beijing_today_is_the_day_in_beijing(monkeypatch):
    import app.localtime as localtime

    late = dt.datetime(2026, 12, 1, 17, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(localtime, "_clock", lambda zone: late.astimezone(zone))
    assert beijing_today() == dt.date(2026, 12, 2)


def test_a_clerk_files_an_application_at_the_counter_for_their_own_zone(site, engine):
    from app.accounts.operations import create_user

    with transaction(engine) as session:
        create_user(session, CITY, "clerk_shiqi", "a long password 1", role="clerk",
                    zones=["shiqi"])  # fmt: skip
    client = site.test_client()
    login(client, "clerk_shiqi")
    path = "/office/rounds/zs-2026-p1/applications/new"
    page = client.get(path).get_data(as_text=True)
    assert '<option value="shiqi">石岐街道</option>' in page
    assert 'value="dongqu"' not in page  # not this clerk's zone
    assert 'id="insured_months_city__years"' in page  # the programme's own questions
    fields = {
        "csrf_token": token(client, path), "round_id": "zs-2026-p1", "name": PERSON[0],
        "id_number": PERSON[1],
        "zone": "shiqi", "category": "school-p1", "choice": "S001", "committed": "y",
        "local_hukou": "n", "residence_permit_held": "y", "insured_last_month_city": "y",
        "child_grade": "primary1", "insured_months_city__years": "2",
    }  # fmt: skip
    r = client.post(path, data=fields)
    assert r.status_code == 303
    assert r.headers["Location"] == "/office/applications/ZS2026-P1-000001"
    with transaction(engine, write=False) as session:
        made = session.exec(select(Application)).one()
        assert (made.source, made.total_cents) == ("counter", 2400)
        entry = session.exec(
            select(AuditEntry).where(AuditEntry.action == "application.create")
        ).one()
        assert entry.actor == "clerk_shiqi"
    other_zone = client.post(path, data={**fields, "zone": "dongqu", "id_number":
                                         id_number("19900101", 5)})  # fmt: skip
    assert other_zone.status_code == 422
    assert "申请镇街：不属于您负责的镇街" in other_zone.get_data(as_text=True)


def test_a_returned_application_is_corrected_by_its_applicant_on_the_status_page(
    site, engine, keys
):
    from app.applications.models import ApplicationMessage
    from app.rounds.models import Round
    from app.verification.operations import Decision, return_for_correction, settle

    client = site.test_client()
    assert apply(client, {}).status_code == 200
    no = "ZS2026-P1-000001"
    hrss = Actor("reviewer_hrss", "reviewer", department="hrss")
    with transaction(engine) as session:  # 人社 settles one fact, then returns the application
        settle(session, hrss, keys, no, Decision("insured_last_month_city", "confirm",
               evidence="清单"), version=1, today=TODAY)  # fmt: skip
        return_for_correction(session, hrss, no, "社保月数与清单不符，请按清单填写", version=2)

    def lookup():
        token = TOKEN.search(client.get("/status").get_data(as_text=True)).group(1)
        return client.post("/status", data={"csrf_token": token, "application_no": no,
                                            "id_number": PERSON[1], "name": PERSON[0]})  # fmt: skip

    page = lookup().get_data(as_text=True)
    assert "申请已退回，请补正：社保月数与清单不符，请按清单填写" in page
    with transaction(engine) as session:  # sent at 01:30 on 1 December, Beijing time
        message = session.exec(select(ApplicationMessage)).one()
        message.at = dt.datetime(2026, 11, 30, 17, 30, tzinfo=dt.UTC)
        session.add(message)
    dated = lookup().get_data(as_text=True).split('id="messages"')[1]
    assert '<time datetime="2026-12-01">2026 年 12 月 1 日</time>：社保月数与清单不符' in dated
    assert 'id="insured_months_city__years"' in page
    csrf = TOKEN.search(page).group(1)
    signed = re.search(r'name="t" value="([^"]+)"', page).group(1)
    fields = {"csrf_token": csrf, "t": signed, "local_hukou": "n", "residence_permit_held": "y",
              "insured_last_month_city": "n", "child_grade": "primary1",
              "residence_permit_months__years": "3", "insured_months_city__years": "4",
              "medical_insured_months_city__years": "3"}  # fmt: skip
    r = client.post("/status/correct", data=fields)
    done = r.get_data(as_text=True)
    assert r.status_code == 200, done
    assert "已提交补正，申请重新进入核验。" in done and "核验中" in done
    with transaction(engine, write=False) as session:
        made = session.exec(select(Application)).one()
        claimed = {
            f.fact: (f.state, f.claimed)
            for f in session.exec(select(ClaimedFact).where(ClaimedFact.application_id == made.id))
        }
        messages = [m.kind for m in session.exec(select(ApplicationMessage)).all()]
        corrected = session.exec(
            select(AuditEntry).where(AuditEntry.action == "application.correct")
        ).one()
    assert made.status == "verifying" and made.total_cents == 3600 + 4800 + 3600
    assert claimed["insured_months_city"] == ("claimed", "48")
    assert claimed["insured_last_month_city"] == ("confirmed", "true")  # settled: unchanged
    assert messages == ["returned", "corrected"]
    assert corrected.diff == '{"facts":["insured_months_city"]}'
    # a second correction is refused: the application is not returned any more
    again = client.post("/status/correct", data=fields)
    assert again.status_code == 422 and "这份申请没有被退回" in again.get_data(as_text=True)
    with transaction(engine) as session:  # returned again, but after the window has closed
        return_for_correction(session, hrss, no, "再次核对社保月数", version=made.version)
        round_ = session.get(Round, "zs-2026-p1")
        round_.window_end = TODAY - dt.timedelta(days=1)
        session.add(round_)
    late = client.post("/status/correct", data=fields)
    assert late.status_code == 422 and "不能再补正" in late.get_data(as_text=True)
    forged = client.post("/status/correct", data={**fields, "t": signed[:-2] + "xx"})
    assert forged.status_code == 400 and "请重新查询后再补正" in forged.get_data(as_text=True)


def test_a_veto_confirmed_by_its_department_shows_when_the_ban_ends(engine, keys, tmp_path):
    from app.demo import household_round
    from app.intake.operations import Submission, submit
    from app.verification.operations import Decision, settle

    with transaction(engine) as session:
        create_round(session, CITY, household_round(TODAY), today=TODAY - dt.timedelta(days=30))
    from scoring.facts import add_years

    violation = add_years(TODAY, -2)
    with transaction(engine) as session:
        done = submit(
            session, keys, "zs-demo-hukou",
            Submission(PERSON[0], PERSON[1], "", "shiqi", "hukou", committed=True),
            {"education": "bachelor", "family_planning_violation_date": violation.isoformat()},
            today=TODAY,
        )  # fmt: skip
    for department, fact in (("civil", "family_planning_violation_date"),
                             ("education", "education")):  # fmt: skip
        with transaction(engine) as session:
            version = session.exec(select(Application.version)).one()
            settle(session, Actor(f"r_{department}", "reviewer", department=department), keys,
                   done.first, Decision(fact, "confirm", evidence="档案"), version=version,
                   today=TODAY)  # fmt: skip
    with transaction(engine, write=False) as session:
        assert session.exec(select(Application.status)).one() == "ineligible"
    client = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False).test_client()
    token = TOKEN.search(client.get("/status").get_data(as_text=True)).group(1)
    page = client.post("/status", data={"csrf_token": token, "application_no": done.first,
                                        "id_number": PERSON[1], "name": PERSON[0]}).get_data(
        as_text=True)  # fmt: skip
    until = add_years(violation, 5)

    def zh(day):
        return f"{day.year} 年 {day.month} 月 {day.day} 日"

    said = page.split('id="ineligible-reasons">')[1].split("</ul>")[0].strip()
    assert "按核验后的情况，不符合申请条件：" in page
    assert said == (
        "<li><strong>违反计划生育政策（一票否决）</strong>：违反计划生育政策生育日期 "
        f"{zh(violation)}，5 年内不得申请，{zh(until)}起可以申请。</li>"
    )
    assert 'id="vetoes"' not in page  # said once, where the status is


def test_choices_are_corrected_with_a_reason_and_sealed_when_the_window_closes(site, engine):
    from app.applications.models import ApplicationMessage
    from app.applications.operations import NotFound, Refused, Stale
    from app.intake.operations import correct_choices
    from app.rounds.models import Round

    client = site.test_client()
    twin = id_number("20190301", 31)
    assert (
        apply(client, {"sibling_name": ["王小红"], "sibling_id_number": [twin]}).status_code == 200
    )
    clerk = Actor("clerk_shiqi", "clerk", zones=frozenset({"shiqi"}))
    other = Actor("clerk_dongqu", "clerk", zones=frozenset({"dongqu"}))
    no = "ZS2026-P1-000002"  # the second twin: the family changes together

    def fix(actor, choices, version=1, reason="申请人到窗口书面申请更正", **kw):
        with transaction(engine) as session:
            return [
                (a.application_no, a.choices, a.accept_any_in_zone, a.version)
                for a in correct_choices(session, actor, no, choices, False, reason,
                                         version=version, today=kw.get("today", TODAY))
            ]  # fmt: skip

    with pytest.raises(NotFound):
        fix(other, ["S001"])
    with pytest.raises(Refused) as refused:
        fix(clerk, ["S001", "S101"])
    assert refused.value.zh == "学校 S101 不属于本镇街的本类别"
    with pytest.raises(Refused) as refused:
        fix(clerk, ["S001"], reason="改")
    assert refused.value.zh == "请写明更正志愿的原因（4 到 500 个字），申请人会看到。"
    with pytest.raises(Stale):
        fix(clerk, ["S001"], version=7)
    assert fix(clerk, ["S001"]) == [
        ("ZS2026-P1-000001", '["S001"]', False, 2),
        ("ZS2026-P1-000002", '["S001"]', False, 2),
    ]
    with transaction(engine, write=False) as session:
        messages = session.exec(select(ApplicationMessage.text)).all()
        entries = session.exec(
            select(AuditEntry).where(AuditEntry.action == "application.choices")
        ).all()
    assert messages == ["志愿已更正为：石岐中心小学。原因：申请人到窗口书面申请更正"] * 2
    assert [e.object_id for e in entries] == ["ZS2026-P1-000001", "ZS2026-P1-000002"]
    assert '"from":["S002","S001"]' in entries[0].diff and '"sealed":false' in entries[0].diff
    after = TODAY + dt.timedelta(days=31)  # the window has closed: the choices are sealed
    with pytest.raises(Refused) as refused:
        fix(clerk, ["S002"], version=2, today=after)
    assert "志愿已于" in refused.value.zh and "申报期截止时封存" in refused.value.zh
    assert fix(CITY, ["S002"], version=2, today=after)[0][1:] == ('["S002"]', False, 3)
    with transaction(engine) as session:
        round_ = session.get(Round, "zs-2026-p1")
        round_.allocated = True
        session.add(round_)
    with pytest.raises(Refused) as refused:
        fix(CITY, ["S001"], version=3, today=after)
    assert refused.value.zh == "本轮已完成分配，志愿不能再改。"


def test_a_clerk_corrects_choices_on_the_application_page(site, engine):
    from app.accounts.operations import create_user

    client = site.test_client()
    assert apply(client, {}).status_code == 200
    with transaction(engine) as session:
        create_user(session, CITY, "clerk_shiqi", "a long password 1", role="clerk",
                    zones=["shiqi"])  # fmt: skip
    login(client, "clerk_shiqi")
    page = client.get("/office/applications/ZS2026-P1-000001").get_data(as_text=True)
    assert 'id="choices-now">孙文西路小学、石岐中心小学（服从调剂）' in page
    assert 'id="choices-form"' in page
    path = "/office/applications/ZS2026-P1-000001/choices"
    csrf = token(client, "/office/applications/ZS2026-P1-000001")
    bad = client.post(path, data={"csrf_token": csrf, "version": "1", "choice": ["S001"],
                                  "reason": ""})  # fmt: skip
    assert bad.status_code == 422
    assert "请写明更正志愿的原因" in bad.get_data(as_text=True)
    stale = client.post(path, data={"csrf_token": csrf, "version": "0", "choice": ["S001"],
                                    "reason": "申请人书面申请"})  # fmt: skip
    assert stale.status_code == 409
    assert "此申请已被他人修改，请刷新页面后再办理。" in stale.get_data(as_text=True)
    done = client.post(path, data={"csrf_token": csrf, "version": "1", "choice": ["S001", ""],
                                   "reason": "申请人书面申请"})  # fmt: skip
    assert done.status_code == 303
    page = client.get("/office/applications/ZS2026-P1-000001").get_data(as_text=True)
    assert 'id="choices-now">石岐中心小学<' in page
    assert "志愿已更正为：石岐中心小学。原因：申请人书面申请" in page
    no_csrf = client.post(
        path, data={"version": "2", "choice": ["S002"], "reason": "申请人书面申请"}
    )
    assert no_csrf.status_code == 400


def test_a_clerk_corrects_a_returned_application_at_the_window(site, engine, keys):
    from app.accounts.operations import create_user
    from app.applications.models import ApplicationMessage
    from app.verification.operations import return_for_correction

    client = site.test_client()
    assert apply(client, {}).status_code == 200
    no = "ZS2026-P1-000001"
    with transaction(engine) as session:
        for name, zone in (("clerk_shiqi", "shiqi"), ("clerk_dongqu", "dongqu")):
            create_user(session, CITY, name, "a long password 1", role="clerk", zones=[zone])
        return_for_correction(session, Actor("clerk_shiqi", "clerk", zones=frozenset({"shiqi"})),
                              no, "社保月数与清单不符，请按清单填写", version=1)  # fmt: skip
    path = f"/office/applications/{no}/correct"
    other = site.test_client()
    login(other, "clerk_dongqu")
    assert other.get(path).status_code == 404
    login(client, "clerk_shiqi")
    assert "申请人到窗口补正：代为填写补正内容" in client.get(
        f"/office/applications/{no}"
    ).get_data(as_text=True)
    form = client.get(path).get_data(as_text=True)
    assert "退回原因：社保月数与清单不符，请按清单填写" in form
    assert 'id="insured_months_city__years" name="insured_months_city__years"' in form
    assert re.search(r'id="insured_months_city__years"[^>]*value="3"', form)  # as claimed
    fields = {"csrf_token": token(client, path), "local_hukou": "n",
              "residence_permit_held": "y", "insured_last_month_city": "y",
              "child_grade": "primary1", "residence_permit_months__years": "3",
              "insured_months_city__years": "2",
              "medical_insured_months_city__years": "3"}  # fmt: skip
    r = client.post(path, data=fields)
    assert r.status_code == 303 and r.headers["Location"] == f"/office/applications/{no}"
    with transaction(engine, write=False) as session:
        made = session.exec(select(Application)).one()
        messages = session.exec(select(ApplicationMessage.text)).all()
        entry = session.exec(
            select(AuditEntry).where(AuditEntry.action == "application.correct")
        ).one()
    assert made.status == "verifying" and made.total_cents == 3600 + 2400 + 3600
    assert messages[-1] == "受理窗口已代申请人补正：本市社保缴费月数。"
    assert entry.actor == "clerk_shiqi"
    again = client.post(path, data=fields)
    assert again.status_code == 422


def test_the_whole_path_apply_online_verify_by_each_department_and_read_the_status(site, engine):
    """Online application → each department's reviewer settles its facts on the office pages →
    scored on the verified values → the status page shows each verified value and reason."""
    from app.accounts.operations import create_user

    applicant = site.test_client()
    assert apply(applicant, {}).status_code == 200
    no = "ZS2026-P1-000001"
    with transaction(engine) as session:
        for department in ("hrss", "police", "education"):
            create_user(session, CITY, f"r_{department}", "a long password 1", role="reviewer",
                        department=department)  # fmt: skip
    corrections = {"insured_months_city": ("30", "缴费清单显示 30 个月")}
    for department in ("hrss", "police", "education"):
        reviewer = site.test_client()
        login(reviewer, f"r_{department}")
        assert no in reviewer.get("/office/queue").get_data(as_text=True)
        path = f"/office/applications/{no}"
        while True:  # one waiting fact of the department after another, each page fresh
            page = reviewer.get(path).get_data(as_text=True)
            forms = re.findall(r'id="settle-([a-z_]+)"', page)
            if not forms:
                break
            fact = forms[0]
            value, reason = corrections.get(fact, ("", ""))
            r = reviewer.post(
                f"{path}/facts/{fact}",
                data={"csrf_token": OFFICE_TOKEN.search(page).group(1),
                      "version": re.search(r'name="version" value="(\d+)"', page).group(1),
                      "decision": "correct" if value else "confirm", "value": value,
                      "reason": reason, "evidence": "部门系统记录"},
            )  # fmt: skip
            assert r.status_code == 303, r.get_data(as_text=True)
    with transaction(engine, write=False) as session:
        made = session.exec(select(Application)).one()
    assert (made.status, made.total_cents) == ("scored", 3600 + 3000 + 3600)
    token_ = TOKEN.search(applicant.get("/status").get_data(as_text=True)).group(1)
    page = applicant.post(
        "/status",
        data={"csrf_token": token_, "application_no": no, "id_number": PERSON[1],
              "name": PERSON[0]},
    ).get_data(as_text=True)  # fmt: skip
    assert "已定分" in page and "积分 102 分" in page
    assert "申报：36 个月；核验为：30 个月" in page
    assert "人社说明：缴费清单显示 30 个月" in page
    assert page.count("已确认") == len(ANSWERS) - 1
