"""The application's verification as a state machine (hypothesis): whatever reviewers do, in any
order, with fresh or stale forms, no application is scored while a fact waits, a stale form
never changes anything, and every accepted decision raises the version by exactly one."""

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
from app.migrate import upgrade
from app.protect import DataKeys
from app.rounds.operations import create_round
from app.verification.operations import Decision, Refused, settle

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
        with transaction(self.engine) as session:
            create_round(session, city, round_config(), today=TODAY)
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
                assert status == "verifying" and verified == []
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
