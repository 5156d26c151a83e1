"""Failed lookups of one application number, kept in the database so that every worker and
host sees them (a per-process counter would let each worker be tried in turn)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel


class StatusLock(SQLModel, table=True):
    __tablename__ = "status_lock"

    application_no: str = Field(primary_key=True, max_length=40)
    failures: int = 0
    locked_until: dt.datetime | None = None
