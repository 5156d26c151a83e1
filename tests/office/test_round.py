"""The annual round from the database, on SQLite and PostgreSQL: the anonymised allocation
instance of a settled round, and the reasons a round cannot be allocated yet."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from office_helpers import good_rows, round_config, write_csv
from sqlmodel import select

from allocation.instance import parse_instance
from app import db as app_db
from app.accounts.actor import Actor
from app.applications.importer import import_applications
from app.applications.models import Application
from app.applications.operations import Refused
from app.audit.models import AuditEntry
from app.cli import main
from app.db import transaction
from app.localtime import beijing_today
from app.rounds.export import export_instance
from app.rounds.operations import create_round
from app.verification.operations import Decision, settle

CITY = Actor.command_line()
AFTER = dt.date(2027, 4, 18)  # the day after the test round's window
ROWS = good_rows(6)  # 000001, 3, 5 in shiqi; 000002, 4, 6 in dongqu
for _row in ROWS:  # 32 + 2k points: above the programme's 30-point line, so eligible
    _row[9] = str(int(_row[9]) + 20)


def set_up(engine, keys, tmp_path, *, verified: bool) -> None:
    with transaction(engine) as session:
        create_round(session, CITY, round_config(), today=dt.date(2026, 12, 1))
    with transaction(engine) as session:
        import_applications(
            session, CITY, "zs-2026-p1", write_csv(tmp_path / "in.csv", ROWS), keys,
            today=dt.date(2026, 12, 1), verified=verified,
        )  # fmt: skip


def test_a_settled_round_exports_its_anonymised_instance(engine, keys, tmp_path):
    set_up(engine, keys, tmp_path, verified=True)
    with transaction(engine) as session:  # one application turns out ineligible
        application = session.exec(
            select(Application).where(Application.application_no == "ZS2026-P1-000004")
        ).one()
        application.status, application.eligible = "ineligible", False
        session.add(application)
    with transaction(engine) as session:
        data = export_instance(session, CITY, "zs-2026-p1", today=AFTER)
    doc = json.loads(data)
    assert data.endswith(b"}\n")
    assert doc["format"] == "jifen.allocation/1" and doc["seed"] == "zs-2026-p1 published seed"
    assert doc["zones"] == [{"id": "shiqi", "name": "石岐街道", "weight": 3.0},
                            {"id": "dongqu", "name": "东区街道", "weight": 2.0}]  # fmt: skip
    first, fourth = doc["applicants"][0], doc["applicants"][3]
    assert first == {
        "id": "ZS2026-P1-000001", "zone": "shiqi", "category": "school-p1", "points": 32,
        "eligible": True, "keys": {"insured_months_city": 32}, "choices": ["S001", "S002"],
        "accept_any_in_zone": True, "family": None,
    }  # fmt: skip
    assert fourth == {
        "id": "ZS2026-P1-000004", "zone": "dongqu", "category": "school-p1", "points": 38,
        "eligible": False, "choices": ["S101"], "accept_any_in_zone": True, "family": None,
    }  # fmt: skip
    assert parse_instance(doc).n == 6  # the allocator's own reading accepts it
    for name, id_number, *_ in ROWS:  # nothing personal
        assert name.encode() not in data and id_number.encode() not in data
    with transaction(engine, write=False) as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "round.export")).one()
    assert entry.actor == CITY.username and '"applicants":6' in entry.diff


def test_a_round_is_not_exported_before_its_window_ends_and_every_application_is_settled(
    engine, keys, tmp_path
):
    set_up(engine, keys, tmp_path, verified=False)
    hrss = Actor("r_hrss", "reviewer", department="hrss")
    with transaction(engine) as session:
        settle(session, hrss, keys, "ZS2026-P1-000001",
               Decision("insured_months_city", "confirm", evidence="清单"), version=1,
               today=dt.date(2026, 12, 1))  # fmt: skip
    with pytest.raises(Refused) as refused, transaction(engine) as session:
        export_instance(session, CITY, "zs-2026-p1", today=dt.date(2027, 4, 17))
    assert refused.value.zh == (
        "申报期到 2027 年 4 月 17 日才结束。"
        "石岐街道尚有 3 份申请未核定。东区街道尚有 3 份申请未核定。"
    )
    with pytest.raises(Refused) as refused, transaction(engine) as session:
        export_instance(session, CITY, "zs-2026-p1", today=AFTER)
    assert refused.value.zh == "石岐街道尚有 3 份申请未核定。东区街道尚有 3 份申请未核定。"


def closed_round_with(engine, keys, tmp_path, rows) -> None:
    """The test round with its window long over, and these rows imported as verified."""
    config = round_config()
    config["application_window"] = ["2026-01-05", "2026-02-05"]
    with transaction(engine) as session:
        create_round(session, CITY, config, today=dt.date(2026, 1, 1))
    with transaction(engine) as session:
        import_applications(session, CITY, "zs-2026-p1", write_csv(tmp_path / "in.csv", rows),
                            keys, today=dt.date(2026, 1, 10), verified=True)  # fmt: skip


@pytest.fixture
def closed_round(engine, keys, tmp_path, monkeypatch):
    """A round whose window is long over, its applications verified, and the command line
    pointed at its database."""
    closed_round_with(engine, keys, tmp_path, ROWS)
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    yield engine
    made = app_db._ENGINES.pop(url, None)
    if made is not None:
        made.dispose()


def test_rounds_export_from_the_command_line(closed_round, tmp_path, capsys):
    out = tmp_path / "instance.json"
    assert main(["rounds", "export", "zs-2026-p1", "-o", str(out)]) == 0
    assert len(json.loads(out.read_bytes())["applicants"]) == 6
    assert main(["allocate", str(out), "-o", str(tmp_path / "result.json"), "--quiet"]) == 0
    assert main(["rounds", "export", "zs-2099", "-o", str(tmp_path / "x.json")]) == 2
    assert "没有轮次 zs-2099" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_a_round_is_allocated_on_its_export_and_gives_jifen_allocates_bytes(
    closed_round, tmp_path, capsys
):
    engine = closed_round
    assert main(["rounds", "result", "zs-2026-p1", "-o", str(tmp_path / "r.json")]) == 2
    assert "本轮尚未分配。" in capsys.readouterr().err
    assert main(["rounds", "allocate", "zs-2026-p1"]) == 0
    assert main(["rounds", "export", "zs-2026-p1", "-o", str(tmp_path / "i.json")]) == 0
    assert main(["rounds", "result", "zs-2026-p1", "-o", str(tmp_path / "r.json")]) == 0
    assert main(["allocate", str(tmp_path / "i.json"), "-o", str(tmp_path / "again.json"),
                 "--quiet"]) == 0  # fmt: skip
    assert (tmp_path / "r.json").read_bytes() == (tmp_path / "again.json").read_bytes()
    capsys.readouterr()
    assert main(["rounds", "allocate", "zs-2026-p1"]) == 2  # once, unless a reason is given
    assert "重新分配须写明原因" in capsys.readouterr().err
    assert main(["rounds", "allocate", "zs-2026-p1", "--reason", "异议复核后分数变动"]) == 0
    from app.rounds.models import AllocationRun, Outcome

    with transaction(engine, write=False) as session:
        runs = session.exec(select(AllocationRun).order_by(AllocationRun.number)).all()
        outcomes = session.exec(select(Outcome).where(Outcome.run_id == runs[1].id)).all()
        entries = session.exec(
            select(AuditEntry.diff).where(AuditEntry.action == "round.allocate")
        ).all()
    assert [(r.number, r.current, r.reason) for r in runs] == [
        (1, False, ""), (2, True, "异议复核后分数变动"),
    ]  # fmt: skip
    assert runs[0].result == runs[1].result  # nothing changed in between: the same bytes
    assert len(outcomes) == 6 and {o.status for o in outcomes} == {"admitted"}
    assert '"run":2' in entries[1] and "异议复核后分数变动" in entries[1]


def test_the_publicity_lists_show_ranks_masked_names_and_cutoffs_and_nothing_personal(
    closed_round, keys, tmp_path, capsys
):
    from office_helpers import office_app

    engine = closed_round
    client = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False).test_client()
    assert main(["rounds", "publish", "zs-2026-p1"]) == 2
    assert "本轮尚未分配，不能公示。" in capsys.readouterr().err
    assert client.get("/publicity/zs-2026-p1").status_code == 404  # nothing before it is out
    assert main(["rounds", "allocate", "zs-2026-p1"]) == 0
    assert client.get("/publicity/zs-2026-p1").status_code == 404
    assert main(["rounds", "publish", "zs-2026-p1"]) == 0
    assert main(["rounds", "publish", "zs-2026-p1"]) == 2
    index = client.get("/publicity/zs-2026-p1").get_data(as_text=True)
    assert "中山市2026年积分入学（小学一年级）：分配结果公示" in index
    assert 'href="/publicity/zs-2026-p1/shiqi"' in index and "3 / 3" in index
    page = client.get("/publicity/zs-2026-p1/shiqi").get_data(as_text=True)
    ranked = page.split('id="ranked"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><td>(ZS2026-P1-\d+)</td><td>([^<]+)</td>"
                      r"<td class=\"num\">([\d.]+)</td><td>([^<]+)<span class=\"school-below\">"
                      r"([^<]+)</span></td><td class=\"school-col\">\6</td></tr>",
                      ranked)  # fmt: skip
    # 申请人k claims 32 + k months of insurance and k of residence permit, so 32 + 2k points;
    # all three placed at their first choice
    assert rows == [
        ("1", "ZS2026-P1-000005", "申**4", "40", "拟录取", "石岐中心小学"),
        ("2", "ZS2026-P1-000003", "申**2", "36", "拟录取", "石岐中心小学"),
        ("3", "ZS2026-P1-000001", "申**0", "32", "拟录取", "石岐中心小学"),
    ]
    cutoffs = page.split('id="cutoffs"')[1].split("</table>")[0]
    assert '<th scope="row">石岐中心小学</th><td class="num">45</td><td class="num">3</td>' in (
        cutoffs
    )
    xlsx = client.get("/publicity/zs-2026-p1/files/shiqi.xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(xlsx.data)).active
    assert [list(r) for r in sheet.iter_rows(values_only=True)][:2] == [
        ["排名", "受理编号", "姓名", "积分", "结果", "学校"],
        [1, "ZS2026-P1-000005", "申**4", 40, "拟录取", "石岐中心小学"],
    ]
    assert client.get("/publicity/zs-2026-p1/files/nanlang.xlsx").status_code == 404
    instance = client.get("/publicity/zs-2026-p1/files/instance.json")
    result = client.get("/publicity/zs-2026-p1/files/result.json")
    assert main(["rounds", "result", "zs-2026-p1", "-o", str(tmp_path / "r.json")]) == 0
    assert result.data == (tmp_path / "r.json").read_bytes()
    cells = " ".join(str(c) for r in sheet.iter_rows(values_only=True) for c in r)
    published = [index, page, instance.get_data(as_text=True), result.get_data(as_text=True),
                 cells]  # fmt: skip
    published += [client.get("/publicity/zs-2026-p1/dongqu").get_data(as_text=True)]
    for name, id_number, *_ in ROWS:  # no ID number, full name or phone anywhere
        assert not any(id_number in p or name in p for p in published)
    assert client.get("/publicity/zs-2026-p1/nanlang").status_code == 404
    assert client.get("/publicity/zs-2026-p1/shiqi?category=hukou").status_code == 404
    # finalize: the 公示 (7 days) and objection days (2) must have passed
    assert main(["rounds", "finalize", "zs-2026-p1"]) == 2
    assert "公示和异议期到" in capsys.readouterr().err
    from app.rounds.models import Round

    with transaction(engine) as session:  # nine days later: 7 of 公示 and 2 for objections
        round_ = session.get(Round, "zs-2026-p1")
        round_.published_on -= dt.timedelta(days=9)
        session.add(round_)
    assert main(["rounds", "finalize", "zs-2026-p1"]) == 0
    assert main(["rounds", "finalize", "zs-2026-p1"]) == 2
    with transaction(engine, write=False) as session:
        steps = session.exec(
            select(AuditEntry.action).where(AuditEntry.action.in_(
                ("round.allocate", "round.publish", "round.finalize"))).order_by(AuditEntry.seq)
        ).all()  # fmt: skip
    assert steps == ["round.allocate", "round.publish", "round.finalize"]


def test_publicity_names_keep_only_the_first_and_last_character():
    from app.protect import mask_name_for_publicity

    assert [mask_name_for_publicity(n) for n in ("张三明", "欧阳修文", "王五", "李")] == [
        "张*明",
        "欧**文",
        "王*",
        "*",
    ]  # fmt: skip  (a one-character name would otherwise be shown whole)


def test_the_changes_since_the_last_run_say_the_outcome_in_the_words_of_the_rounds_kind():
    from app.publicity.operations import outcome_words

    def words(*kinds):
        config = {"categories": [{"id": f"c{i}", "kind": k} for i, k in enumerate(kinds)]}
        got = outcome_words(config)
        return got["admitted"], got["not_admitted"]

    assert words("school", "school") == ("录取", "未录取")
    assert words("household") == ("获入户指标", "未获入户指标")  # a household is not 录取
    from app.demo import household_round

    demo = outcome_words(household_round(dt.date(2026, 1, 1)))  # as rounds name their kind
    assert (demo["admitted"], demo["not_admitted"]) == ("获入户指标", "未获入户指标")
    assert words("school", "household") == ("录取或获入户指标", "未录取或未获入户指标")


def test_the_city_runs_the_round_from_the_office(closed_round, keys, tmp_path, monkeypatch):
    from office_helpers import login, office_app, token

    from app.accounts.operations import create_user
    from app.jobs import huey

    monkeypatch.setattr(huey, "immediate", True)  # the job runs at once, in this process
    engine = closed_round
    with transaction(engine) as session:
        create_user(session, CITY, "admin1", "a long password 1", role="admin")
        create_user(session, CITY, "auditor1", "a long password 1", role="auditor")
        create_user(session, CITY, "clerk1", "a long password 1", role="clerk", zones=["shiqi"])
    app = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False)
    admin, auditor, clerk = app.test_client(), app.test_client(), app.test_client()
    for client, name in ((admin, "admin1"), (auditor, "auditor1"), (clerk, "clerk1")):
        login(client, name)
    path = "/office/rounds/zs-2026-p1"
    assert clerk.get(path).status_code == 404
    page = admin.get(path).get_data(as_text=True)
    assert "全部申请已核定" in page and 'id="allocate-form"' in page
    assert 'id="allocate-form"' not in auditor.get(path).get_data(as_text=True)
    assert (
        auditor.post(f"{path}/allocate", data={"csrf_token": token(auditor, path)}).status_code
        == 404
    )
    r = admin.post(f"{path}/allocate", data={"csrf_token": token(admin, path)})
    assert r.status_code == 303 and "/office/rounds/zs-2026-p1/jobs/" in r.headers["Location"]
    done = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert "已完成第 1 次分配" in done
    assert auditor.get(r.headers["Location"]).status_code == 404  # the job page is its owner's
    again = admin.post(f"{path}/allocate", data={"csrf_token": token(admin, path)})
    assert again.status_code == 422 and "重新分配须写明原因" in again.get_data(as_text=True)
    published = admin.post(f"{path}/publish", data={"csrf_token": token(admin, path)})
    assert published.status_code == 303
    page = admin.get(path).get_data(as_text=True)
    assert "公示中" in page and 'href="/publicity/zs-2026-p1"' in page
    early = admin.post(f"{path}/finalize", data={"csrf_token": token(admin, path)})
    assert early.status_code == 422 and "公示和异议期到" in early.get_data(as_text=True)
    assert admin.post(f"{path}/other", data={"csrf_token": token(admin, path)}).status_code == 404


def test_a_consumer_killed_mid_allocation_stores_nothing_and_the_retry_gives_the_same_bytes(
    closed_round, monkeypatch
):
    from app.rounds import allocation
    from app.rounds.models import AllocationRun, Outcome

    engine = closed_round
    real = allocation.insert_rows

    def killed(session, table, rows):  # dies after the run row, while storing the outcomes
        raise SystemExit("consumer killed")

    monkeypatch.setattr(allocation, "insert_rows", killed)
    with pytest.raises(SystemExit), transaction(engine) as session:
        allocation.allocate_round(session, CITY, "zs-2026-p1", today=beijing_today())
    with transaction(engine, write=False) as session:
        assert session.exec(select(AllocationRun)).all() == []
        assert session.exec(select(Outcome)).all() == []
    monkeypatch.setattr(allocation, "insert_rows", real)
    with transaction(engine) as session:
        first = allocation.allocate_round(session, CITY, "zs-2026-p1", today=beijing_today())
        first_bytes = first.result
    with transaction(engine) as session:
        second = allocation.allocate_round(session, CITY, "zs-2026-p1", today=beijing_today(),
                                           reason="复算核对")  # fmt: skip
        assert second.result == first_bytes and second.number == 2


def test_an_objection_that_changes_a_score_reallocates_with_a_diff(
    closed_round, keys, tmp_path, monkeypatch
):
    """公示 → the applicant objects → 复核中 in the list → the department's change, approved by
    the city, corrects the score → the clerk answers → finalizing asks for a re-allocation,
    whose changes are published → final."""
    from office_helpers import login, office_app, token

    from app.accounts.operations import create_user
    from app.objections.operations import resolve
    from app.publicity.operations import finalize, publish
    from app.rounds.allocation import allocate_round
    from app.rounds.models import Round
    from app.verification.models import FactChange
    from app.verification.operations import decide_change, request_change

    engine = closed_round
    today = beijing_today()
    with transaction(engine) as session:
        create_user(session, CITY, "clerk1", "a long password 1", role="clerk", zones=["shiqi"])
        allocate_round(session, CITY, "zs-2026-p1", today=today)
        publish(session, CITY, "zs-2026-p1", today=today)
    app = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False)
    applicant = app.test_client()
    name, number_id = ROWS[0][0], ROWS[0][1]
    no = "ZS2026-P1-000001"

    def status_page():
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                         applicant.get("/status").get_data(as_text=True)).group(1)  # fmt: skip
        return applicant.post("/status", data={"csrf_token": csrf, "application_no": no,
                                               "id_number": number_id, "name": name})  # fmt: skip

    page = status_page().get_data(as_text=True)
    assert "公示结果：拟录取 · 石岐中心小学" in page and 'id="objection"' in page
    signed = re.search(r'name="t" value="([^"]+)"', page).group(1)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.split('id="objection"')[1])
    objected = applicant.post("/status/objection", data={
        "csrf_token": csrf.group(1), "t": signed, "fact": "insured_months_city",
        "text": "社保缴费月数少算了 24 个月，有缴费清单"})  # fmt: skip
    assert objected.status_code == 200
    after = objected.get_data(as_text=True)
    assert "已收到您的异议" in after and "复核中" in after and 'id="objection"' not in after
    listed = app.test_client().get("/publicity/zs-2026-p1/shiqi").get_data(as_text=True)
    assert f'<td>{no}</td><td>申**0</td><td class="num">32</td><td>复核中<span' in listed
    clerk = app.test_client()
    login(clerk, "clerk1")
    assert no in clerk.get("/office/objections").get_data(as_text=True)
    objection_id = int(re.search(r'id="resolve-(\d+)"',
                                 clerk.get(f"/office/applications/{no}").get_data(as_text=True)
                                 ).group(1))  # fmt: skip
    with pytest.raises(Refused) as refused, transaction(engine) as session:
        resolve(session, Actor("clerk1", "clerk", zones=frozenset({"shiqi"})), objection_id,
                "corrected", "已按清单更正")  # fmt: skip
    assert refused.value.zh == "更正须先由核验部门申请修改该事项，并经市级复核通过。"
    hrss = Actor("r_hrss", "reviewer", department="hrss")
    with transaction(engine) as session:  # 人社 re-checks; the city approves
        version = session.exec(select(Application.version).where(
            Application.application_no == no)).one()  # fmt: skip
        change = request_change(session, hrss, no, Decision(
            "insured_months_city", "correct", value="36", reason="按缴费清单更正为 36 个月",
            evidence="社保缴费清单"), version=version, today=today)  # fmt: skip
        change_id = change.id
    with transaction(engine) as session:
        decide_change(session, CITY, keys, change_id, approve=True, today=today)
    r = clerk.post(f"/office/objections/{objection_id}", data={
        "csrf_token": token(clerk, f"/office/applications/{no}"), "outcome": "corrected",
        "resolution": "经人社复核，社保月数更正为 36 个月，积分相应调整"})  # fmt: skip
    assert r.status_code == 303
    answered = status_page().get_data(as_text=True)
    assert "已更正：经人社复核，社保月数更正为 36 个月" in answered
    with transaction(engine) as session:  # the 公示 and objection days are over
        round_ = session.get(Round, "zs-2026-p1")
        round_.published_on -= dt.timedelta(days=9)
        session.add(round_)
    with pytest.raises(Refused) as refused, transaction(engine) as session:
        finalize(session, CITY, "zs-2026-p1", today=today)
    assert refused.value.zh == (
        f"异议复核后有 1 份申请的分数或条件变动（{no}），须先重新分配并公示变动。"
    )
    with transaction(engine) as session:
        allocate_round(session, CITY, "zs-2026-p1", today=today, reason="异议复核后分数变动")
    index = app.test_client().get("/publicity/zs-2026-p1").get_data(as_text=True)
    assert "与上一次分配相比" in index  # the changes are published beside the final list
    with transaction(engine) as session:
        finalize(session, CITY, "zs-2026-p1", today=today)
    with transaction(engine, write=False) as session:
        assert session.exec(select(FactChange.state)).one() == "approved"
        points = session.exec(select(Application.ranking_cents).where(
            Application.application_no == no)).one()  # fmt: skip
    assert points == 3600 + 0  # 36 months now, no residence permit months (申请人0)


def test_the_checker_shows_the_published_cutoffs_of_its_programme(closed_round, keys, tmp_path):
    from office_helpers import office_app

    from app.public.answers import encode
    from app.publicity.operations import publish
    from app.rounds.allocation import allocate_round

    engine = closed_round
    app = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False)
    answers = {"local_hukou": "n", "residence_permit_held": "y", "insured_last_month_city": "y",
               "child_grade": "primary1", "insured_months_city": 18}  # fmt: skip
    code = encode("office test key " * 4, answers, beijing_today())
    url = f"/check/zhongshan-2025-school/result?a={code}"
    before = app.test_client().get(url).get_data(as_text=True)
    assert 'id="published"' not in before  # nothing published yet: nothing said
    with transaction(engine) as session:
        allocate_round(session, CITY, "zs-2026-p1", today=beijing_today())
        publish(session, CITY, "zs-2026-p1", today=beijing_today())
    page = app.test_client().get(url).get_data(as_text=True)
    section = page.split('id="published"')[1].split("</section>")[0]
    assert "达到 30 分只是申请资格；是否录取看所在镇街的排名。" in section
    assert "您测算的积分是 <strong>18</strong> 分" in section
    assert ('<th scope="row">石岐街道</th><td>本镇街合计</td><td class="num">32</td>'
            '<td class="num">3 / 70</td>') in section  # fmt: skip
    assert 'href="/publicity/zs-2026-p1"' in section
    assert "石岐街道：石岐街道公共服务中心积分窗口，石岐街道公共服务中心一楼 3 号窗口" in section


def test_the_checker_works_without_the_office_database(tmp_path):
    from app import create_app

    empty = tmp_path / "never-migrated.sqlite"
    app = create_app(
        {"SECRET_KEY": "x" * 40, "TESTING": True, "DATABASE_URL": f"sqlite:///{empty}"}
    )
    from app.public.answers import encode

    code = encode("x" * 40, {"insured_months_city": 18}, beijing_today())
    r = app.test_client().get(f"/check/zhongshan-2025-school/result?a={code}")
    assert r.status_code == 200 and 'id="published"' not in r.get_data(as_text=True)


def test_the_fulfilment_report_counts_quota_against_admissions(closed_round, keys, tmp_path):
    from io import BytesIO

    from office_helpers import login, office_app
    from openpyxl import load_workbook

    from app.accounts.operations import create_user
    from app.rounds.allocation import allocate_round

    engine = closed_round
    with transaction(engine) as session:
        create_user(session, CITY, "auditor1", "a long password 1", role="auditor")
    client = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False).test_client()
    login(client, "auditor1")
    assert client.get("/office/rounds/zs-2026-p1/report").status_code == 404  # not allocated
    with transaction(engine) as session:
        allocate_round(session, CITY, "zs-2026-p1", today=beijing_today())
    page = client.get("/office/rounds/zs-2026-p1/report").get_data(as_text=True)
    rows = re.findall(r"<tr(?: class=\"total-row\")?><th scope=\"row\">([^<]+)</th><td>([^<]+)</td>"
                      r"((?:<td class=\"num\">[^<]*</td>){9})</tr>", page)  # fmt: skip
    cells = [(zone, re.findall(r">([^<]*)<", numbers)[::2]) for zone, _, numbers in rows]
    # the test round: 120 places, Hamilton on demand (3 and 3 eligible) gives 60 and 60; a
    # school zone's quota is capped by its seats, dongqu's 50, and the other 10 go to shiqi
    assert cells == [
        ("石岐街道", ["70", "3", "3", "3", "4%", "32", "0", "0", "0%"]),
        ("东区街道", ["50", "3", "3", "3", "6%", "34", "0", "0", "0%"]),
        ("全市", ["120", "6", "6", "6", "5%", "—", "0", "0", "0%"]),
    ]
    assert page.count("<svg") == 2 and "最低 32 分" in page
    xlsx = client.get("/office/rounds/zs-2026-p1/report?format=xlsx")
    sheet = load_workbook(BytesIO(xlsx.data)).active
    assert list(next(sheet.iter_rows(min_row=4, max_row=4, values_only=True))) == [
        "全市", "小学一年级", 120, 6, 6, 6, "5%", None, 0, 0, "0%",
    ]  # fmt: skip


@pytest.mark.xdist_group("big-round")
def test_a_round_of_twenty_thousand_is_allocated_published_and_leaks_nothing(
    engine, keys, tmp_path, monkeypatch
):
    """20,000 verified applications: the stored result is `jifen allocate`'s on the export,
    and no published page or file holds an ID number, a phone or a full name."""
    from io import BytesIO

    from office_helpers import office_app
    from openpyxl import load_workbook

    from app.publicity.operations import publish
    from app.rounds.allocation import allocate_round, stored_result

    rows = good_rows(20_000)
    for k, row in enumerate(rows):
        row[4] = f"139{k:08d}"  # a phone for everyone
    closed_round_with(engine, keys, tmp_path, rows)
    with transaction(engine) as session:
        allocate_round(session, CITY, "zs-2026-p1", today=beijing_today())
        publish(session, CITY, "zs-2026-p1", today=beijing_today())
    with transaction(engine, write=False) as session:
        result = stored_result(session, "zs-2026-p1")
    with transaction(engine) as session:
        instance = export_instance(session, CITY, "zs-2026-p1", today=beijing_today())
    (tmp_path / "i.json").write_bytes(instance)
    assert main(["allocate", str(tmp_path / "i.json"), "-o", str(tmp_path / "r.json"),
                 "--quiet"]) == 0  # fmt: skip
    assert (tmp_path / "r.json").read_bytes() == result
    client = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False).test_client()
    published = [client.get("/publicity/zs-2026-p1").get_data(as_text=True)]
    names_shown = []
    for zone in ("shiqi", "dongqu"):
        page, pages = 1, 1
        while page <= pages:
            text = client.get(f"/publicity/zs-2026-p1/{zone}?page={page}").get_data(as_text=True)
            pages = int(re.search(r"第 \d+ / (\d+) 页", text).group(1))
            published.append(text)
            page += 1
        sheet = load_workbook(BytesIO(client.get(
            f"/publicity/zs-2026-p1/files/{zone}.xlsx").data)).active  # fmt: skip
        cells = list(sheet.iter_rows(min_row=2, values_only=True))
        assert len(cells) == 10_000
        names_shown += [r[2] for r in cells]
        published.append(" ".join(str(c) for r in cells for c in r))
    published += [instance.decode(), result.decode()]
    everything = "\n".join(published)
    assert pages == 100  # 10,000 a zone, 100 a page
    assert re.findall(r"\d{17}[\dX]", everything) == []  # no ID number
    assert re.findall(r"1[3-9]\d{9}", everything) == []  # no phone
    assert re.findall(r"申请人\d+", everything) == []  # no full name
    assert all(name.startswith("申") and "*" in name for name in names_shown)


def test_a_verified_import_settles_each_row_as_the_verification_would(engine, keys, tmp_path):
    """A row whose verified facts fail a condition is ineligible, not scored, and is exported
    as such."""
    rows = [list(r) for r in ROWS[:2]]
    rows[1][12] = "否"  # 申请人1 has not been insured here last month: a condition fails
    closed_round_with(engine, keys, tmp_path, rows)
    with transaction(engine) as session:
        statuses = session.exec(select(Application.status).order_by(Application.id)).all()
        doc = json.loads(export_instance(session, CITY, "zs-2026-p1", today=AFTER))
    assert statuses == ["scored", "ineligible"]
    assert [a["eligible"] for a in doc["applicants"]] == [True, False]


def test_round_ids_longer_than_the_database_keeps_are_refused_by_name():
    from app.rounds.operations import check_round

    config = round_config()
    config["zones"][0]["id"] = "z" * 33
    config["schools"][0]["zone"] = "z" * 33
    assert (
        f"zones id '{'z' * 33}…', field 'id': at most 32 characters / 镇街编号不能超过 32 个字符"
        in check_round(config)
    )
