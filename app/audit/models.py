"""One audit entry; the chain's head (the last sequence number and hash) lives in its own row so
that appenders queue on it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, LargeBinary, String, Text
from sqlmodel import Field, SQLModel


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"

    seq: int = Field(primary_key=True)  # 1, 2, 3 … without gaps: the chain's order
    at: dt.datetime  # UTC (the sequence number orders the log)
    actor: str = Field(max_length=64, index=True)  # a username, or "cli:<user>" / "system"
    role: str = Field(default="", max_length=16)
    zone: str = Field(default="", max_length=32, index=True)
    action: str = Field(max_length=64, index=True)  # e.g. "application.import"
    object_type: str = Field(default="", max_length=32)
    object_id: str = Field(default="", max_length=64, index=True)
    # The change as canonical JSON (sorted keys): never a clear ID number, name or phone.
    diff: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    prev_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    genesis: str = Field(default="", sa_column=Column(String(64), nullable=False))
