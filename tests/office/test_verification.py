"""Verification by the owning departments, on SQLite and PostgreSQL: the queues, confirm /
correct / reject, scoring on verified facts only once every fact is settled, jurisdiction,
stale forms and the refusals a reviewer meets."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from office_helpers import good_rows, round_config, write_csv
from sqlmodel import select

from app.accounts.actor import Actor
from app.applications.importer import import_applications
from app.applications.models import Application, ClaimedFact, ScoreSnapshot
from app.applications.operations import NotFound, audit_history
from app.audit.models import AuditEntry
from app.db import transaction
from app.rounds.operations import create_round
from app.verification.operations import Decision, Refused, Stale, queue, settle

CITY = Actor.command_line()
TODAY = dt.date(2026, 12, 1)
HRSS = Actor("reviewer_hrss", "reviewer", department="hrss")
POLICE = Actor("reviewer_police", "reviewer", department="police")
EDUCATION = Actor("reviewer_edu", "reviewer", department="education")
TAX = Actor("reviewer_tax", "reviewer", department="tax")
POLICE_DONGQU = Actor("police_dongqu", "reviewer", frozenset({"dongqu"}), department="police")


@pytest.fixture
def round_with_four(engine, keys, tmp_path):
    """Four imported applications (shiqi: 000001, 000003; dongqu: 000002, 000004), each with six
    claimed facts: 教育 two, 人社 two, 公安 two."""
    with transaction(engine) as session:
        create_round(session, CITY, round_config(), today=TODAY)
    with transaction(engine) as session:
        import_applications(
            session, CITY, "zs-2026-p1", write_csv(tmp_path / "in.csv", good_rows(4)), keys,
            today=TODAY,
        )  # fmt: skip
    return engine


def decide(engine, keys, actor, number, decision, **kwargs):
    with transaction(engine) as session:
        version = kwargs.pop("version", None)
        if version is None:
            version = session.exec(
                select(Application.version).where(Application.application_no == number)
            ).one()
        return settle(
            session, actor, keys, number, Decision(decision=decision, **kwargs),
            version=version, today=TODAY,
        ).status  # fmt: skip


def application(engine, number) -> Application:
    with transaction(engine, write=False) as session:
        return session.exec(select(Application).where(Application.application_no == number)).one()


def test_a_department_queue_lists_its_waiting_applications_oldest_first(round_with_four):
    with transaction(round_with_four, write=False) as session:
        waiting = queue(session, HRSS)
        assert waiting.by_zone == {"shiqi": (2, 4), "dongqu": (2, 4)}
        assert [r.application_no for r in waiting.rows] == [
            "ZS2026-P1-000001", "ZS2026-P1-000002", "ZS2026-P1-000003", "ZS2026-P1-000004",
        ]  # fmt: skip
        assert {r.pending for r in waiting.rows} == {2}
        dongqu = queue(session, POLICE_DONGQU)  # a reviewer of one zone sees that zone only
        assert dongqu.by_zone == {"dongqu": (2, 4)}
        assert [r.application_no for r in queue(session, HRSS, zone="shiqi").rows] == [
            "ZS2026-P1-000001", "ZS2026-P1-000003",
        ]  # fmt: skip
        assert queue(session, TAX).applications == 0  # nothing of 税务 was claimed


def test_every_department_settles_its_facts_then_the_verified_facts_are_scored(
    round_with_four, keys
):
    engine, no = round_with_four, "ZS2026-P1-000001"
    assert application(engine, no).total_cents == 1200  # as claimed: 12 months of pension
    kw = {"evidence": "社保缴费清单至 2026-11"}
    assert decide(engine, keys, HRSS, no, "confirm", fact="insured_last_month_city", **kw) == (
        "verifying"
    )
    decide(
        engine, keys, HRSS, no, "correct", fact="insured_months_city", value="40",
        reason="缴费清单显示 40 个月", **kw,
    )  # fmt: skip
    decide(engine, keys, POLICE, no, "confirm", fact="residence_permit_held", evidence="居住证")
    decide(
        engine, keys, POLICE, no, "reject", fact="residence_permit_months",
        reason="居住证签注记录不连续", evidence="居住证签注记录",
    )  # fmt: skip
    decide(engine, keys, EDUCATION, no, "confirm", fact="education", evidence="学信网学历证明")
    with transaction(engine, write=False) as session:  # one fact left: not scored yet
        app_id = application(engine, no).id
        basis = session.exec(
            select(ScoreSnapshot.basis).where(ScoreSnapshot.application_id == app_id)
        ).all()
        assert basis == ["claimed"]
    assert decide(
        engine, keys, EDUCATION, no, "confirm", fact="child_grade", evidence="户口簿"
    ) == ("scored")
    done = application(engine, no)
    # 40 verified months of pension 40 points; the rejected residence months count nothing
    assert (done.status, done.total_cents, done.ranking_cents, done.eligible) == (
        "scored", 4000, 4000, True,
    )  # fmt: skip
    with transaction(engine, write=False) as session:
        snapshot = session.exec(
            select(ScoreSnapshot).where(
                ScoreSnapshot.application_id == done.id, ScoreSnapshot.basis == "verified"
            )
        ).one()
        result = orjson.loads(snapshot.result)
        assert {i["code"]: i["points"] for i in result["items"] if i["points"]} == {
            "pension_city": 40
        }
        assert result["verified_by"] == {
            "child_grade": "reviewer_edu", "education": "reviewer_edu",
            "insured_last_month_city": "reviewer_hrss", "insured_months_city": "reviewer_hrss",
            "residence_permit_held": "reviewer_police",
            "residence_permit_months": "reviewer_police",
        }  # fmt: skip
        facts = {
            f.fact: (f.state, f.verified, f.reason)
            for f in session.exec(select(ClaimedFact).where(ClaimedFact.application_id == done.id))
        }
        assert facts["insured_months_city"] == ("corrected", "40", "缴费清单显示 40 个月")
        assert facts["residence_permit_months"] == ("rejected", None, "居住证签注记录不连续")
        actions = [(e.action, e.actor) for e in audit_history(session, no, "zs-2026-p1")]
    assert actions == [
        ("application.import", CITY.username),  # the file it came in
        ("fact.confirm", "reviewer_hrss"), ("fact.correct", "reviewer_hrss"),
        ("fact.confirm", "reviewer_police"), ("fact.reject", "reviewer_police"),
        ("fact.confirm", "reviewer_edu"), ("fact.confirm", "reviewer_edu"),
        ("application.score", "reviewer_edu"),
    ]  # fmt: skip


def test_a_failed_condition_once_verified_makes_the_application_ineligible(round_with_four, keys):
    engine, no = round_with_four, "ZS2026-P1-000003"
    kw = {"evidence": "材料"}
    decide(engine, keys, HRSS, no, "confirm", fact="insured_last_month_city", **kw)
    decide(engine, keys, HRSS, no, "confirm", fact="insured_months_city", **kw)
    decide(
        engine, keys, POLICE, no, "reject", fact="residence_permit_held", reason="无居住证", **kw
    )
    decide(engine, keys, POLICE, no, "confirm", fact="residence_permit_months", **kw)
    decide(engine, keys, EDUCATION, no, "confirm", fact="education", **kw)
    assert decide(engine, keys, EDUCATION, no, "confirm", fact="child_grade", **kw) == "ineligible"
    done = application(engine, no)
    assert (done.eligible, done.total_cents) == (False, 0)


def test_facts_outside_the_reviewers_department_or_zones_do_not_exist_for_them(
    round_with_four, keys
):
    engine = round_with_four
    with pytest.raises(NotFound):  # 税务 cannot touch a 公安 fact
        decide(engine, keys, TAX, "ZS2026-P1-000001", "confirm", fact="residence_permit_held",
               evidence="x")  # fmt: skip
    with pytest.raises(NotFound):  # a dongqu reviewer, a shiqi application
        decide(engine, keys, POLICE_DONGQU, "ZS2026-P1-000001", "confirm",
               fact="residence_permit_held", evidence="x")  # fmt: skip
    with pytest.raises(NotFound):
        decide(
            engine, keys, POLICE, "ZS2026-P1-999999", "confirm", fact="x", evidence="x", version=1
        )


def test_a_stale_form_settled_twice_or_missing_its_reasons_is_refused(round_with_four, keys):
    engine, no = round_with_four, "ZS2026-P1-000002"
    opened = application(engine, no).version
    decide(engine, keys, HRSS, no, "confirm", fact="insured_months_city", evidence="清单")
    with pytest.raises(Stale) as stale:  # a colleague's form, opened before that decision
        decide(engine, keys, POLICE, no, "confirm", fact="residence_permit_held", evidence="x",
               version=opened)  # fmt: skip
    assert stale.value.zh == "此申请已被他人修改，请刷新页面后再办理。"
    refusals = [  # (what the reviewer reads, decision, fact, value, reason, evidence)
        ("此项已核定。核定后的修改须另行申请复核。", "confirm", "insured_months_city", "", "",
         "清单"),
        ("请填写核验依据：看到了什么材料（如：社保缴费清单至 2026-03）。", "confirm",
         "insured_last_month_city", "", "", "  "),
        ("更正或不予认定须填写原因，申请人会看到。", "reject", "insured_last_month_city", "", "",
         "清单"),
        ("核验值与申报值相同，请选择“确认”。", "correct", "residence_permit_months", "1", "值相同",
         "x"),
        ("核验值有误：应为数字", "correct", "residence_permit_months", "abc", "值错了", "x"),
        ("请选择确认、更正或不予认定。", "approve", "insured_last_month_city", "", "", "x"),
    ]  # fmt: skip
    for message, decision, fact, value, reason, evidence in refusals:
        actor = HRSS if fact.startswith("insured") else POLICE
        with pytest.raises(Refused) as refused:
            decide(engine, keys, actor, no, decision, fact=fact, value=value, reason=reason,
                   evidence=evidence)  # fmt: skip
        assert refused.value.zh == message
    assert application(engine, no).status == "verifying"


def test_a_batch_confirmed_at_once_is_each_facts_own_decision(round_with_four, keys):
    from app.verification.operations import confirm_many

    engine = round_with_four
    numbers = ["ZS2026-P1-000002", "ZS2026-P1-000004"]
    with transaction(engine) as session:
        assert confirm_many(session, POLICE_DONGQU, keys, numbers, evidence="比对一致",
                            today=TODAY) == 4  # fmt: skip
    with transaction(engine, write=False) as session:
        assert queue(session, POLICE).by_zone == {"shiqi": (2, 4)}
        entries = session.exec(
            select(AuditEntry.object_id).where(AuditEntry.action == "fact.confirm")
        ).all()
    assert sorted(entries) == sorted(numbers * 2)
    with pytest.raises(NotFound), transaction(engine) as session:  # a shiqi one: all refused
        confirm_many(session, POLICE_DONGQU, keys, ["ZS2026-P1-000001"], evidence="x",
                     today=TODAY)  # fmt: skip
    with pytest.raises(Refused), transaction(engine) as session:
        confirm_many(session, POLICE, keys, ["ZS2026-P1-000001"], evidence=" ", today=TODAY)
    with transaction(engine, write=False) as session:
        assert queue(session, POLICE).by_zone == {"shiqi": (2, 4)}


def test_a_change_after_verification_waits_for_the_citys_approval(round_with_four, keys):
    from app.accounts.operations import Forbidden
    from app.verification.operations import decide_change, request_change

    engine, no = round_with_four, "ZS2026-P1-000001"
    for actor, fact in ((HRSS, "insured_last_month_city"), (HRSS, "insured_months_city"),
                        (POLICE, "residence_permit_held"), (POLICE, "residence_permit_months"),
                        (EDUCATION, "education"), (EDUCATION, "child_grade")):  # fmt: skip
        status = decide(engine, keys, actor, no, "confirm", fact=fact, evidence="材料")
    assert status == "ineligible"  # 12 points, below the line of 30
    with transaction(engine) as session:
        change = request_change(
            session, HRSS, no,
            Decision("insured_months_city", "correct", value="40", reason="补录漏记月份",
                     evidence="补充缴费清单"),
            version=application(engine, no).version, today=TODAY,
        )  # fmt: skip
        change_id = change.id
    assert application(engine, no).total_cents == 1200  # nothing changes before approval
    with pytest.raises(Refused) as twice, transaction(engine) as session:
        request_change(session, HRSS, no, Decision("insured_months_city", "reject",
                       reason="再改", evidence="x"), version=application(engine, no).version,
                       today=TODAY)  # fmt: skip
    assert twice.value.zh == "此项已有一项修改等待复核。"
    with pytest.raises(Forbidden), transaction(engine) as session:  # not a reviewer's to approve
        decide_change(session, POLICE, keys, change_id, approve=True, today=TODAY)
    with transaction(engine) as session:
        decide_change(session, CITY, keys, change_id, approve=True, today=TODAY)
    done = application(engine, no)
    assert (done.status, done.total_cents) == ("scored", 4000)
    with transaction(engine) as session:
        refused = request_change(
            session, POLICE, no,
            Decision("residence_permit_held", "reject", reason="证件过期", evidence="系统"),
            version=done.version, today=TODAY,
        )  # fmt: skip
        refused_id = refused.id
    with transaction(engine) as session:
        decide_change(session, CITY, keys, refused_id, approve=False, today=TODAY)
    assert application(engine, no).status == "scored"  # a refused change changes nothing
    with transaction(engine, write=False) as session:
        trail = session.exec(
            select(AuditEntry.action, AuditEntry.actor)
            .where(AuditEntry.action.startswith("fact.change"))
            .order_by(AuditEntry.seq)
        ).all()
    assert trail == [
        ("fact.change.request", "reviewer_hrss"), ("fact.change.approve", CITY.username),
        ("fact.change.request", "reviewer_police"), ("fact.change.refuse", CITY.username),
    ]  # fmt: skip
