"""The applicant's status page, on SQLite and PostgreSQL: found by number, ID number and name
only together; one answer for every failure; a number locked after repeated failures; the
per-client limit; what the page shows once departments have verified."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from office_helpers import good_rows, office_app, round_with_applications
from sqlmodel import select

from app.accounts.actor import Actor
from app.audit.models import AuditEntry
from app.db import transaction
from app.localtime import beijing_today
from app.status import operations as status_ops
from app.status.models import StatusLock
from app.verification.operations import Decision, settle

CITY = Actor.command_line()
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ROWS = good_rows(2)  # 申请人0 (ZS2026-P1-000001, shiqi), 申请人1 (000002, dongqu)


@pytest.fixture
def site(engine, keys, tmp_path):
    round_with_applications(engine, keys, tmp_path, ROWS)

    def make(**config):
        return office_app(engine, keys, tmp_path, **config)

    return make


def ask(client, number, id_number, name):
    page = client.get("/status").get_data(as_text=True)
    token = TOKEN.search(page).group(1)
    return client.post(
        "/status",
        data={"csrf_token": token, "application_no": number, "id_number": id_number,
              "name": name},
    )  # fmt: skip


def test_the_three_answers_together_open_the_applications_status(site):
    client = site(RATELIMIT_ENABLED=False).test_client()
    r = ask(client, "zs2026-p1-000001", ROWS[0][1], " 申请人0 ")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "核验中" in page and "尚待核验的部门：教育、人社、公安" in page
    assert "申报：12 个月" in page
    assert r.headers["Cache-Control"] == "no-store"
    assert ROWS[0][1] not in page  # the ID number is never shown back
    # the zone's office, from the round's data
    assert "有疑问，请到石岐街道公共服务中心积分窗口咨询，带上受理编号。" in page
    assert "<dt>地址</dt><dd>石岐街道公共服务中心一楼 3 号窗口</dd>" in page
    assert "<dt>办公时间</dt><dd>周一至周五 8:30–12:00、14:30–17:30</dd>" in page
    assert 'href="tel:0760-88880000"' in page


def test_every_failure_gives_the_same_answer_and_a_number_locks(site, engine):
    client = site(RATELIMIT_ENABLED=False).test_client()
    tries = [
        ("ZS2026-P1-000001", ROWS[1][1], "申请人0"),  # another person's ID number
        ("ZS2026-P1-000001", ROWS[0][1], "申请人1"),  # another name
        ("ZS2026-P1-999999", ROWS[0][1], "申请人0"),  # no such number
        ("ZS2026-P1-000001", "440101199001011234", "申请人0"),  # not a valid ID number
        ("<script>", ROWS[0][1], "申请人0"),
    ]
    answers = set()
    for attempt in tries:
        r = ask(client, *attempt)
        body = TOKEN.sub("", r.get_data(as_text=True))
        answers.add((r.status_code, body))
    assert len(answers) == 1 and answers.pop()[0] == 404
    # three failures on 000001 so far: two more lock it, and then even the owner is refused
    for _ in range(2):
        assert ask(client, "ZS2026-P1-000001", "440101199001011234", "x").status_code == 404
    assert ask(client, "ZS2026-P1-000001", ROWS[0][1], "申请人0").status_code == 404
    with transaction(engine) as session:  # the lock expires
        lock = session.get(StatusLock, "ZS2026-P1-000001")
        lock.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        session.add(lock)
    assert ask(client, "ZS2026-P1-000001", ROWS[0][1], "申请人0").status_code == 200
    with transaction(engine, write=False) as session:
        failures = session.exec(
            select(AuditEntry).where(AuditEntry.action == "status.failure")
        ).all()
    assert len(failures) == 7 and all(ROWS[0][1] not in e.diff for e in failures)


def test_fifty_wrong_tries_end_in_429_and_the_owner_still_gets_in_later(site):
    app = site(JIFEN_RATELIMIT_STATUS="10 per minute")
    attacker = app.test_client()
    codes = [ask(attacker, f"ZS2026-P1-{k:06d}", ROWS[0][1], "x").status_code for k in range(50)]
    assert codes[:10] == [404] * 10 and set(codes[10:]) == {429}
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert ask(owner, "ZS2026-P1-000002", ROWS[1][1], "申请人1").status_code == 200


def test_the_status_shows_each_verified_value_and_the_departments_reason(site, engine, keys):
    hrss = Actor("reviewer_hrss", "reviewer", department="hrss")
    with transaction(engine) as session:
        settle(
            session, hrss, keys, "ZS2026-P1-000001",
            Decision("insured_months_city", "correct", value="40", reason="缴费清单显示 40 个月",
                     evidence="社保缴费清单"),
            version=1, today=beijing_today(),
        )  # fmt: skip
    client = site(RATELIMIT_ENABLED=False).test_client()
    page = ask(client, "ZS2026-P1-000001", ROWS[0][1], "申请人0").get_data(as_text=True)
    row = page.split('data-fact="insured_months_city"')[1].split("</tr>")[0]
    assert "申报：12 个月；核验为：40 个月" in row and "人社说明：缴费清单显示 40 个月" in row
    assert "已更正" in row
    # in the order of the facts' first waiting one: 人社's other fact still waits, after 公安's
    assert "尚待核验的部门：教育、公安、人社" in page


def test_a_lookup_is_post_only(site):
    client = site(RATELIMIT_ENABLED=False).test_client()
    assert client.get("/status?application_no=ZS2026-P1-000001").status_code == 200
    assert "ZS2026-P1-000001" not in client.get("/status").get_data(as_text=True)
    assert status_ops.MAX_FAILURES == 5


def test_an_ineligible_application_is_told_which_condition_failed_and_by_how_much(
    engine, keys, tmp_path
):
    """A verified import settles one application as ineligible for a failed condition and one
    for points under the line: each status page says which, in words, and once the round is
    published, beside the published line and the allocator's explanation."""
    from office_helpers import round_config, write_csv

    from app.applications.importer import import_applications
    from app.publicity.operations import publish
    from app.rounds.allocation import allocate_round
    from app.rounds.operations import create_round

    rows = good_rows(3)  # 12 + 2k points: 申请人2 has 16, under the line of 30
    rows[0][9] = "32"  # 申请人0: 32 points
    rows[1][12] = "否"  # 申请人1 was not insured here last month: a basic condition fails
    config = round_config()
    config["application_window"] = ["2026-01-05", "2026-02-05"]
    city = Actor.command_line()
    with transaction(engine) as session:
        create_round(session, city, config, today=dt.date(2026, 1, 1))
    with transaction(engine) as session:
        import_applications(session, city, "zs-2026-p1", write_csv(tmp_path / "in.csv", rows),
                            keys, today=dt.date(2026, 1, 10), verified=True)  # fmt: skip
    client = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False).test_client()

    def page(k: int) -> str:
        number = f"ZS2026-P1-{k + 1:06d}"
        return ask(client, number, rows[k][1], rows[k][0]).get_data(as_text=True)

    def reasons(text: str) -> str:
        return text.split('id="ineligible-reasons">')[1].split("</ul>")[0]

    condition = page(1)
    assert "按核验后的情况，不符合申请条件：" in condition
    assert (
        "<li><strong>基本条件</strong>：在中山参加社会保险：申请前一个月在本市参保为「否」，"
        "须为「是」。</li>"
    ) in reasons(condition)
    assert "积分未达到申请分数线" not in condition  # nothing was scored: no line to speak of
    short = page(2)
    assert reasons(short).strip() == (
        "<li><strong>积分未达到申请分数线</strong>：积分 16 分，申请分数线 30 分，还差 14 分。</li>"
    )
    assert 'id="ineligible-reasons"' not in page(0)
    with transaction(engine) as session:
        allocate_round(session, city, "zs-2026-p1", today=beijing_today())
        publish(session, city, "zs-2026-p1", today=beijing_today())
    published = page(1)
    outcome = published.split('id="outcome"')[1].split("</section>")[0]
    assert "公示结果：不符合条件" in outcome
    assert (
        "您不符合本次东区街道积分入学（小学一年级）的申请条件，未参加排名。"
        "不符合的具体条件可在申请进度查询中查看；如有疑问，请到所在镇街窗口咨询。"
    ) in outcome
    assert "须为「是」" in reasons(published)  # and the condition stays said above it
    admitted = page(0).split('id="outcome"')[1].split("</section>")[0]
    assert "公示结果：拟录取 · 石岐中心小学" in admitted
    assert (
        "您的积分 32 分，在石岐街道积分入学（小学一年级）排名第 1 位。"
        "您已被第 1 志愿石岐中心小学录取。"
    ) in admitted
    for text in (published, page(0), page(2)):
        assert "school-p1" not in text and "S001" not in text


def test_the_reasons_of_an_ineligible_score_are_read_from_its_notes_and_vetoes():
    from app.status.operations import Bar, bars

    gate = {"eligible": False, "qualification_score": 0, "threshold": 30, "vetoes": [],
            "notes": ["基本要求「居住证」未得分（连续持有居住证月数 0 个月），其余指标不予计分",
                      "本测算未计入：……。实际积分可能更高。"]}  # fmt: skip
    assert bars(gate) == [Bar("基本要求", "「居住证」未得分（连续持有居住证月数 0 个月）")]
    veto = {"eligible": False, "qualification_score": 28.5, "threshold": 30, "notes": [],
            "vetoes": [{"code": "fp", "label": "违反计划生育政策", "ban_until": "2029-12-01",
                        "message": "违反计划生育政策生育日期 2024-12-01，5 年内不得申请，"
                                   "2029-12-01 起可以申请"}]}  # fmt: skip
    assert bars(veto) == [
        Bar("违反计划生育政策（一票否决）",
            "违反计划生育政策生育日期 2024 年 12 月 1 日，5 年内不得申请，"
            "2029 年 12 月 1 日起可以申请",
            dt.date(2029, 12, 1)),
        Bar("积分未达到申请分数线", "积分 28.5 分，申请分数线 30 分，还差 1.5 分"),
    ]  # fmt: skip
    assert bars({**veto, "eligible": True}) == [] and bars(None) == []
