"""An objection (异议) to a round's published result, and how it was settled."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

OBJECTION_STATES = ("open", "maintained", "corrected")


class Objection(SQLModel, table=True):
    __tablename__ = "objection"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    round_id: str = Field(foreign_key="round.id", max_length=64, index=True)
    zone_id: str = Field(max_length=32)  # the application's, for the zone's queue
    fact: str = Field(default="", max_length=48)  # the item objected to; "" for the result
    text: str = Field(sa_column=Column(Text, nullable=False))  # what the applicant says is wrong
    state: str = Field(default="open", max_length=16)
    filed_at: dt.datetime
    resolved_at: dt.datetime | None = None
    resolved_by: str = Field(default="", max_length=64)
    resolution: str = Field(default="", sa_column=Column(Text, nullable=False))
