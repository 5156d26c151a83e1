"""An applicant is a person, once across rounds (found by the keyed hash of the ID number); an
application is that person in one round. Personal data is stored only encrypted (app/protect.py).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

APPLICATION_STATUSES = ("submitted", "verifying", "returned", "scored", "ineligible")
FACT_STATES = ("claimed", "confirmed", "corrected", "rejected")


class Applicant(SQLModel, table=True):
    __tablename__ = "applicant"

    id: int | None = Field(default=None, primary_key=True)
    id_number_hash: str = Field(max_length=64, unique=True)
    id_number_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    name_hash: str = Field(max_length=64, index=True)
    name_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    phone_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: dt.datetime


class Application(SQLModel, table=True):
    __tablename__ = "application"
    __table_args__ = (
        UniqueConstraint("round_id", "applicant_id"),
        Index("ix_application_list", "round_id", "zone_id", "category", "ranking_cents", "id"),
        Index("ix_application_rank", "round_id", "ranking_cents", "id"),
        Index("ix_application_zone_rank", "round_id", "zone_id", "ranking_cents", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_no: str = Field(max_length=40, unique=True)  # 受理编号: not personal data
    round_id: str = Field(foreign_key="round.id", max_length=64)
    applicant_id: int = Field(foreign_key="applicant.id")
    zone_id: str = Field(foreign_key="zone.id", max_length=32)
    category: str = Field(max_length=32)
    family: str = Field(default="", max_length=64)
    choices: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list
    accept_any_in_zone: bool = False
    status: str = Field(max_length=16)
    # The latest score, for lists and sorting (the full breakdown is in ScoreSnapshot).
    ranking_cents: int | None = None
    total_cents: int | None = None
    eligible: bool | None = None
    version: int = 1  # optimistic lock: every change raises it
    created_at: dt.datetime
    source: str = Field(default="", max_length=16)  # import, counter, online
    # Who is working on it (the assignment lock's display; it does not block anyone, the
    # version does): a username and since when, lapsing after HOLD_MINUTES.
    held_by: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    held_at: dt.datetime | None = None


class ClaimedFact(SQLModel, table=True):
    """One fact of one application: what was claimed, and what the owning department verified."""

    __tablename__ = "claimed_fact"
    __table_args__ = (
        UniqueConstraint("application_id", "fact"),
        Index("ix_fact_queue", "department", "state", "application_id"),
        # a department's queue counted by zone without reading the applications
        Index("ix_fact_zone_queue", "department", "state", "zone_id", "application_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id")
    fact: str = Field(max_length=48)
    department: str = Field(max_length=16)
    zone_id: str = Field(default="", max_length=32)  # the application's, for the queues
    claimed: str = Field(sa_column=Column(Text, nullable=False))  # the value as JSON
    state: str = Field(max_length=16)
    verified: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reason: str = Field(default="", max_length=500)
    evidence: str = Field(default="", max_length=500)
    verified_by: str = Field(default="", max_length=64)
    verified_at: dt.datetime | None = None


class ScoreSnapshot(SQLModel, table=True):
    """A score as computed: the table and the digest of the version it was scored with."""

    __tablename__ = "score_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    table_id: str = Field(max_length=64)
    table_sha256: str = Field(max_length=64)
    basis: str = Field(max_length=16)  # "claimed" or "verified": which facts were scored
    total_cents: int
    qualification_cents: int
    ranking_cents: int
    eligible: bool
    result: str = Field(sa_column=Column(Text, nullable=False))  # the `jifen score` JSON
    created_at: dt.datetime


class ApplicationMessage(SQLModel, table=True):
    """What the office told the applicant, and when: the log an SMS gateway would send from."""

    __tablename__ = "application_message"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    at: dt.datetime
    kind: str = Field(max_length=16)  # returned, corrected
    text: str = Field(sa_column=Column(Text, nullable=False))
    by: str = Field(default="", max_length=64)
