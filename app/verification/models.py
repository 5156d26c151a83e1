"""A change to a fact already verified, waiting for a second person (maker-checker)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class FactChange(SQLModel, table=True):
    __tablename__ = "fact_change"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    fact: str = Field(max_length=48)
    decision: str = Field(max_length=16)  # confirm, correct, reject
    verified: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON
    reason: str = Field(default="", max_length=500)
    evidence: str = Field(default="", max_length=500)
    requested_by: str = Field(max_length=64)
    requested_at: dt.datetime
    state: str = Field(default="pending", max_length=16, index=True)  # pending, approved, refused
    decided_by: str = Field(default="", max_length=64)
    decided_at: dt.datetime | None = None
