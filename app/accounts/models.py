"""Staff users, the zones a user serves, and the server-side sessions that logout ends."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

ROLES = ("admin", "clerk", "reviewer", "auditor")
ROLE_LABELS = {
    "admin": "市级管理员",
    "clerk": "镇街窗口",
    "reviewer": "部门审核",
    "auditor": "审计",
}
DEPARTMENTS = {
    "hrss": "人社",
    "police": "公安",
    "tax": "税务",
    "housing": "住建",
    "education": "教育",
    "civil": "民政",
}


class User(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    role: str = Field(max_length=16)
    department: str = Field(default="", max_length=16)
    password_hash: str = Field(max_length=255)
    active: bool = True
    must_change_password: bool = False
    totp_secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    failed_logins: int = 0
    locked_until: dt.datetime | None = None
    # Raised on logout and password change: every session of an older version stops working.
    session_version: int = 1
    created_at: dt.datetime
    last_login_at: dt.datetime | None = None


class UserZone(SQLModel, table=True):
    __tablename__ = "staff_user_zone"
    __table_args__ = (UniqueConstraint("user_id", "zone_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    zone_id: str = Field(foreign_key="zone.id", max_length=32)


class StaffSession(SQLModel, table=True):
    """A login, kept on the server: the cookie holds only a random token whose hash is the key,
    so logout (or a password change) ends it for every copy of the cookie."""

    __tablename__ = "staff_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    user_version: int  # the user's session_version when it was made
    created_at: dt.datetime
    seen_at: dt.datetime
    second_factor_done: bool = False
