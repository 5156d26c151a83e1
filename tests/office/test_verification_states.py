"""The application's verification as a state machine (hypothesis): whatever reviewers,
departments' systems, clerks and applicants do, in any order, with fresh or stale forms, no
application is scored while a fact waits, a stale form or batch never changes anything, and
every accepted change raises the version by exactly one per change (no update is lost)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from office_helpers import KEYS_SECRET, good_rows, round_config, write_csv
from sqlmodel import select

from app.accounts.actor import Actor
from app.applications.importer import import_applications
from app.applications.models import Application, ClaimedFact, ScoreSnapshot
from app.db import make_engine, transaction
from app.exchange.operations import BatchRefused, settle_batch
from app.intake.operations import correct_choices
from app.migrate import upgrade
from app.protect import DataKeys
from app.rounds.operations import create_round
from app.status.operations import CorrectionRefused, correct
from app.verification.operations import Decision, Refused, return_for_correction, settle

pytestmark = pytest.mark.xdist_group("states")

TODAY = dt.date(2026, 12, 1)
KEYS = DataKeys.from_secret(KEYS_SECRET)
REVIEWERS = {
    "hrss": Actor("r_hrss", "reviewer", department="hrss"),
    "police": Actor("r_police", "reviewer", department="police"),
    "education": Actor("r_edu", "reviewer", department="education"),
    "tax": Actor("r_tax", "reviewer", department="tax"),
}
FACTS = ["education", "insured_months_city", "residence_permit_months",
         "residence_permit_held", "insured_last_month_city", "child_grade"]  # fmt: skip
NUMBERS = ["ZS2026-P1-000001", "ZS2026-P1-000002"]


class Verification(RuleBasedStateMachine):
    @initialize()
    def set_up(self):
        self.folder = tempfile.TemporaryDirectory()
        self.engine = make_engine(f"sqlite:///{Path(self.folder.name) / 'states.sqlite'}")
        upgrade(self.engine)
        city = Actor.command_line()
        config = round_config()  # its window open on TODAY, so that corrections can be sent
        config["application_window"] = [
            (TODAY - dt.timedelta(days=3)).isoformat(),
            (TODAY + dt.timedelta(days=30)).isoformat(),
        ]
        with transaction(self.engine) as session:
            create_round(session, city, config, today=TODAY - dt.timedelta(days=10))
        with transaction(self.engine) as session:
            path = write_csv(Path(self.folder.name) / "in.csv", good_rows(2))
            import_applications(session, city, "zs-2026-p1", path, KEYS, today=TODAY)
        self.versions_seen: dict[str, list[int]] = {n: [1] for n in NUMBERS}

    def teardown(self):
        if hasattr(self, "engine"):
            self.engine.dispose()
            self.folder.cleanup()

    def _state(self, number):
        with transaction(self.engine, write=False) as session:
            app = session.exec(
                select(Application).where(Application.application_no == number)
            ).one()
            facts = session.exec(
                select(ClaimedFact.fact, ClaimedFact.state, ClaimedFact.department).where(
                    ClaimedFact.application_id == app.id
                )
            ).all()
            return app.version, app.status, {f: (s, d) for f, s, d in facts}

    @rule(
        number=st.sampled_from(NUMBERS),
        # mostly a fact still waiting; sometimes any, settled ones included
        pick=st.tuples(
            st.sampled_from(["waiting", "waiting", "waiting", "any"]), st.integers(0, 5)
        ),
        # mostly the fact's own department and a fresh form, so that applications get settled
        department=st.sampled_from(["own", "own", "own", *sorted(REVIEWERS)]),
        decision=st.sampled_from(["confirm", "confirm", "correct", "reject", "approve"]),
        stale=st.sampled_from([False, False, False, True]),
        value=st.sampled_from(["", "7", "abc", "40"]),
        reason=st.sampled_from(["", "核对不符"]),
    )
    def decide(self, number, pick, department, decision, stale, value, reason):
        before_version, _, before_facts = self._state(number)
        waiting = sorted(f for f, (state, _) in before_facts.items() if state == "claimed")
        kind, index = pick
        fact = waiting[index % len(waiting)] if kind == "waiting" and waiting else FACTS[index]
        if department == "own":
            department = before_facts[fact][1]
        version = before_version - 1 if stale else before_version
        accepted = False
        try:
            with transaction(self.engine) as session:
                settle(
                    session, REVIEWERS[department], KEYS, number,
                    Decision(fact, decision, value=value, reason=reason, evidence="材料"),
                    version=version, today=TODAY,
                )  # fmt: skip
            accepted = True
        except (Refused, LookupError):
            pass
        after_version, _, after_facts = self._state(number)
        if accepted:
            assert not stale
            assert before_facts[fact] == ("claimed", department)  # only a waiting fact of theirs
            assert after_version == before_version + 1
            assert after_facts[fact][0] != "claimed"
        else:
            assert (after_version, after_facts) == (before_version, before_facts)
        self.versions_seen[number].append(after_version)

    def _attempt(self, number, change) -> tuple[bool, tuple, tuple]:
        """Run one change in its own transaction: (accepted, state before, state after)."""
        before = self._state(number)
        try:
            with transaction(self.engine) as session:
                change(session)
            accepted = True
        except (Refused, LookupError, BatchRefused, CorrectionRefused):
            accepted = False
        after = self._state(number)
        if not accepted:
            assert after == before  # nothing of a refused change is written
        self.versions_seen[number].append(after[0])
        return accepted, before, after

    @rule(
        number=st.sampled_from(NUMBERS),
        department=st.sampled_from(sorted(REVIEWERS)),
        count=st.integers(1, 3),
        stale=st.sampled_from([False, False, True]),
    )
    def department_batch(self, number, department, count, stale):
        """A department's system settles its waiting facts of one application in one batch."""
        version, _, facts = self._state(number)
        mine = sorted(
            f for f, (state, d) in facts.items() if state == "claimed" and d == department
        )
        batch = [
            {"application_no": number, "fact": f, "decision": "confirm", "evidence": "系统比对",
             "version": version - 1 if stale else version}
            for f in (mine or ["education"])[:count]
        ]  # fmt: skip
        system = Actor(f"token:1:{department}", "reviewer", department=department)
        accepted, before, after = self._attempt(
            number, lambda s: settle_batch(s, system, KEYS, batch, today=TODAY)
        )
        if accepted:
            assert not stale and mine
            assert after[0] == before[0] + len(batch)  # one version per decision, none lost
            assert all(after[2][d["fact"]][0] == "confirmed" for d in batch)

    @rule(number=st.sampled_from(NUMBERS), stale=st.sampled_from([False, False, True]),
          months=st.sampled_from(["12", "30"]))  # fmt: skip
    def returned_and_corrected(self, number, stale, months):
        """A clerk returns the application; its applicant corrects it on the status page."""
        clerk = Actor("clerk", "clerk", zones=frozenset({"shiqi", "dongqu"}))
        version = self._state(number)[0]
        accepted, before, after = self._attempt(
            number,
            lambda s: return_for_correction(s, clerk, number, "请按清单填写社保月数",
                                            version=version - 1 if stale else version),
        )  # fmt: skip
        if accepted:
            assert not stale and after[:2] == (before[0] + 1, "returned")

        def send(session):
            application = session.exec(
                select(Application).where(Application.application_no == number)
            ).one()
            correct(session, KEYS, application, {"insured_months_city": months}, today=TODAY)

        accepted, before, after = self._attempt(number, send)
        if accepted:
            assert before[1] == "returned"
            assert after[:2] == (before[0] + 1, "verifying")

    @rule(number=st.sampled_from(NUMBERS), stale=st.sampled_from([False, False, True]),
          first=st.sampled_from(["S001", "S002", "S101"]))  # fmt: skip
    def choices_corrected(self, number, stale, first):
        version = self._state(number)[0]
        accepted, before, after = self._attempt(
            number,
            lambda s: correct_choices(s, Actor.command_line(), number, [first], False,
                                      "申请人书面申请更正",
                                      version=version - 1 if stale else version, today=TODAY),
        )  # fmt: skip
        if accepted:
            assert not stale and after[0] == before[0] + 1

    @invariant()
    def scored_only_when_every_fact_is_settled(self):
        if not hasattr(self, "engine"):
            return
        for number in NUMBERS:
            _, status, facts = self._state(number)
            waiting = [f for f, (state, _) in facts.items() if state == "claimed"]
            with transaction(self.engine, write=False) as session:
                app_id = session.exec(
                    select(Application.id).where(Application.application_no == number)
                ).one()
                verified = session.exec(
                    select(ScoreSnapshot).where(
                        ScoreSnapshot.application_id == app_id, ScoreSnapshot.basis == "verified"
                    )
                ).all()
            if waiting:
                assert status in ("verifying", "returned") and verified == []
            else:
                assert status in ("scored", "ineligible") and len(verified) == 1

    @invariant()
    def versions_never_go_back(self):
        if not hasattr(self, "versions_seen"):
            return
        for seen in self.versions_seen.values():
            assert seen == sorted(seen)


Verification.TestCase.settings = settings(
    max_examples=20, stateful_step_count=40, deadline=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
test_verification_state_machine = Verification.TestCase
