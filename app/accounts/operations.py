"""Staff accounts: create, find, check passwords. Every change is audited in the same
transaction."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from app.accounts.actor import Actor
from app.accounts.models import DEPARTMENTS, ROLES, User, UserZone
from app.audit.operations import record, utcnow
from app.rounds.models import Zone

MIN_PASSWORD = 12
HASHER = PasswordHasher()


class AccountError(ValueError):
    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


class Forbidden(PermissionError):
    """The actor may not do this (the caller audits the refusal)."""


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            f"密码至少 {MIN_PASSWORD} 个字符",
            f"the password needs at least {MIN_PASSWORD} characters",
        )
    if password.strip() != password or not password.isprintable():
        raise AccountError(
            "密码不能以空白开头或结尾，也不能含控制字符",
            "no leading or trailing spaces, no control characters",
        )


def create_user(
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    *,
    role: str,
    zones: list[str] = (),
    department: str = "",
    temporary: bool = False,
) -> User:
    if not actor.is_city:
        raise Forbidden("only the city (admin) creates accounts")
    username = username.strip()
    if not username or len(username) > 64 or not username.isprintable() or " " in username:
        raise AccountError("用户名应为 1 到 64 个可见字符，不含空格", "1 to 64 visible characters")
    if role not in ROLES:
        raise AccountError(
            f"角色应为 {'、'.join(ROLES)} 之一", f"role must be one of {', '.join(ROLES)}"
        )
    if role == "reviewer" and department not in DEPARTMENTS:
        raise AccountError(
            f"部门审核账号需要 --department（{'、'.join(DEPARTMENTS)}）",
            f"a reviewer needs --department ({', '.join(DEPARTMENTS)})",
        )
    if role != "reviewer" and department:
        raise AccountError("只有部门审核账号属于部门", "only a reviewer has a department")
    if role == "clerk" and not zones:
        raise AccountError("镇街窗口账号至少需要一个 --zone", "a clerk needs at least one --zone")
    if role in ("admin", "auditor") and zones:
        raise AccountError(
            "市级与审计账号不按镇街划分", "admin and auditor accounts see every zone"
        )
    unknown = [z for z in zones if session.get(Zone, z) is None]
    if unknown:
        raise AccountError(
            f"未知的镇街：{'、'.join(unknown)}", f"unknown zones: {', '.join(unknown)}"
        )
    check_password_rules(password)
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise AccountError(f"用户名 {username} 已存在", f"user {username} exists already")
    user = User(
        username=username,
        role=role,
        department=department,
        password_hash=HASHER.hash(password),
        must_change_password=temporary,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    for zone in dict.fromkeys(zones):
        session.add(UserZone(user_id=user.id, zone_id=zone))
    record(
        session,
        actor,
        "user.create",
        object_type="user",
        object_id=username,
        diff={
            "role": role,
            "zones": sorted(set(zones)),
            "department": department,
            "temporary": temporary,
        },
    )
    return user


def password_matches(user: User, password: str) -> bool:
    try:
        return HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def actor_of(session: Session, user: User) -> Actor:
    zones = session.exec(select(UserZone.zone_id).where(UserZone.user_id == user.id)).all()
    return Actor(
        username=user.username,
        role=user.role,
        zones=frozenset(zones),
        department=user.department,
        user_id=user.id,
    )
