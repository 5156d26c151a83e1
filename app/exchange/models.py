"""A department's API token: only its hash is stored; the token itself is shown once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)  # the system that holds it: 人社局社保系统
    department: str = Field(max_length=16)
    zones: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON; [] = all
    secret_sha256: str = Field(max_length=64)
    created_at: dt.datetime
    created_by: str = Field(max_length=64)
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    revoked_by: str = Field(default="", max_length=64)
    last_used_at: dt.datetime | None = None
