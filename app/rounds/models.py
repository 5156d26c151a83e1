"""A round as configured (`jifen.round/1`, stored as given, one row per version), the zones of
the city and the schools of each round."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

STATUSES = ("draft", "open", "closed", "allocated", "published", "finalized")


class Zone(SQLModel, table=True):
    """A 镇街 of the city: staff are scoped by these ids across rounds."""

    __tablename__ = "zone"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=64)


class Round(SQLModel, table=True):
    __tablename__ = "round"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    year: int
    table_id: str = Field(max_length=64)
    window_start: dt.date
    window_end: dt.date
    version: int = 1  # the version in force (RoundVersion)
    allocated: bool = False
    published_on: dt.date | None = None  # the 公示 opened (its window: publicity_days from it)
    finalized_at: dt.datetime | None = None
    number_prefix: str = Field(max_length=32)  # 受理编号 prefix: ZS2026-P1
    next_number: int = 1
    created_at: dt.datetime


class RoundVersion(SQLModel, table=True):
    """The configuration exactly as given, each edit a new version (editable until the window
    opens)."""

    __tablename__ = "round_version"
    __table_args__ = (UniqueConstraint("round_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: str = Field(foreign_key="round.id", max_length=64, index=True)
    version: int
    config: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    created_at: dt.datetime
    created_by: str = Field(max_length=64)


class RoundZone(SQLModel, table=True):
    __tablename__ = "round_zone"
    __table_args__ = (UniqueConstraint("round_id", "zone_id"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: str = Field(foreign_key="round.id", max_length=64, index=True)
    zone_id: str = Field(foreign_key="zone.id", max_length=32)


class School(SQLModel, table=True):
    __tablename__ = "school"
    __table_args__ = (UniqueConstraint("round_id", "school_id"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: str = Field(foreign_key="round.id", max_length=64, index=True)
    school_id: str = Field(max_length=32)
    zone_id: str = Field(foreign_key="zone.id", max_length=32)
    category: str = Field(max_length=32)
    seats: int
    name: str = Field(default="", max_length=200)


class AllocationRun(SQLModel, table=True):
    """One allocation of a round: the exact instance bytes it ran on and the result bytes it
    gave (what `jifen rounds result` writes). A re-run is a new run, with its reason; the old
    ones are kept."""

    __tablename__ = "allocation_run"
    __table_args__ = (UniqueConstraint("round_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: str = Field(foreign_key="round.id", max_length=64, index=True)
    number: int  # 1, 2, … within the round
    current: bool = True
    instance: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    instance_sha256: str = Field(max_length=64)  # of the bytes, as a file of them would hash
    result: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    output_sha256: str = Field(max_length=64)  # the result's own manifest.output_sha256
    reason: str = Field(default="", max_length=500)
    created_at: dt.datetime
    created_by: str = Field(max_length=64)


class Outcome(SQLModel, table=True):
    """Each application's outcome in one run, from its result (for the lists and pages)."""

    __tablename__ = "outcome"
    __table_args__ = (
        UniqueConstraint("run_id", "application_no"),
        Index("ix_outcome_list", "run_id", "zone_id", "category", "zone_rank"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="allocation_run.id")
    application_no: str = Field(max_length=40)
    zone_id: str = Field(max_length=32)
    category: str = Field(max_length=32)
    status: str = Field(max_length=16)  # admitted, not_admitted, ineligible
    school: str | None = Field(default=None, max_length=32)
    zone_rank: int | None = None
    reason: str = Field(default="", max_length=32)
    explanation: str = Field(default="", sa_column=Column(Text, nullable=False))
