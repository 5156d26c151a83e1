"""Staff accounts: create, find, check passwords. Every change is audited in the same
transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from app.accounts.actor import Actor
from app.accounts.models import DEPARTMENTS, ROLES, StaffSession, User, UserZone
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


# ---- logging in ------------------------------------------------------------------------------

LOCK_AFTER = 5  # failed passwords in a row
LOCK_FOR = dt.timedelta(minutes=15)
IDLE = dt.timedelta(minutes=30)
ABSOLUTE = dt.timedelta(hours=12)
SEEN_EVERY = dt.timedelta(minutes=2)  # how stale `seen_at` may get before it is written again


class LoginRefused(Exception):
    def __init__(self, zh: str, en: str):
        super().__init__(zh)
        self.zh, self.en = zh, en


GENERIC = ("用户名或密码错误", "wrong username or password")


def authenticate(session: Session, username: str, password: str, now: dt.datetime) -> User:
    """The user whose password this is, or LoginRefused. Counts failures in the database (so the
    lockout holds across workers and hosts) and audits every attempt."""
    user = session.exec(select(User).where(User.username == username.strip()[:64])).first()
    anonymous = Actor(username=username.strip()[:64] or "?", role="")
    if user is None:
        HASHER.hash(password)  # the same work as for a real account: no timing difference
        record(session, anonymous, "login.failure", object_type="user", diff={"why": "unknown"})
        raise LoginRefused(*GENERIC)
    who = Actor(username=user.username, role=user.role)
    if user.locked_until is not None and user.locked_until > now:
        record(session, who, "login.failure", object_type="user", object_id=user.username,
               diff={"why": "locked"})  # fmt: skip
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise LoginRefused(
            f"登录失败次数过多，账号已暂时锁定，请 {minutes} 分钟后再试",
            f"too many failed logins: locked for {minutes} more minutes",
        )
    if not user.active or not password_matches(user, password):
        user.failed_logins += 1
        why = "inactive" if not user.active else "password"
        if user.failed_logins >= LOCK_AFTER:
            user.locked_until, user.failed_logins = now + LOCK_FOR, 0
            why += "; locked"
        session.add(user)
        record(session, who, "login.failure", object_type="user", object_id=user.username,
               diff={"why": why})  # fmt: skip
        raise LoginRefused(*GENERIC)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    session.add(user)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: User, now: dt.datetime, *, second_factor: bool) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            user_version=user.session_version,
            created_at=now,
            seen_at=now,
            second_factor_done=second_factor,
        )
    )
    record(
        session,
        actor_of(session, user),
        "login.success" if second_factor else "login.password",
        object_type="user",
        object_id=user.username,
    )
    return token


def find_session(
    session: Session, token: str, now: dt.datetime
) -> tuple[User, StaffSession] | None:
    """The live login of this token: not ended, not idle too long, not too old, and of the
    user's current session version (logout and password changes raise it)."""
    found = session.get(StaffSession, _token_hash(token))
    if found is None:
        return None
    user = session.get(User, found.user_id)
    if (
        user is None
        or not user.active
        or found.user_version != user.session_version
        or now - found.seen_at > IDLE
        or now - found.created_at > ABSOLUTE
    ):
        return None
    return user, found


def end_sessions(session: Session, user: User, why: str) -> None:
    """Every login of this account ends (logout, password change, deactivation)."""
    user.session_version += 1
    session.add(user)
    for row in session.exec(select(StaffSession).where(StaffSession.user_id == user.id)).all():
        session.delete(row)
    record(session, actor_of(session, user), "session.end", object_type="user",
           object_id=user.username, diff={"why": why})  # fmt: skip


def change_password(session: Session, user: User, old: str, new: str) -> None:
    if not password_matches(user, old):
        raise AccountError("原密码不正确", "the current password is wrong")
    check_password_rules(new)
    if new == old:
        raise AccountError("新密码不能与原密码相同", "the new password must differ")
    user.password_hash = HASHER.hash(new)
    user.must_change_password = False
    session.add(user)
    record(session, actor_of(session, user), "user.password", object_type="user",
           object_id=user.username)  # fmt: skip
    end_sessions(session, user, "password changed")


def totp_matches(keys, user: User, code: str) -> bool:
    import pyotp

    from app.protect import decrypt

    if user.totp_secret is None:
        return False
    secret = decrypt(keys, "totp", user.totp_secret)
    return pyotp.TOTP(secret).verify(code.strip(), valid_window=1)


def enrol_totp(session: Session, keys, user: User, secret: str, code: str) -> None:
    import pyotp

    from app.protect import encrypt

    if not pyotp.TOTP(secret).verify(code.strip(), valid_window=1):
        raise AccountError("动态验证码不正确", "the code does not match")
    user.totp_secret = encrypt(keys, "totp", secret)
    session.add(user)
    record(session, actor_of(session, user), "user.totp", object_type="user",
           object_id=user.username)  # fmt: skip


def assign(
    session: Session, actor: Actor, user: User, *, zones: list[str], department: str
) -> None:
    """Change which zones (or department) an account serves; its sessions end, so the new
    jurisdiction applies at once."""
    if not actor.is_city:
        raise Forbidden("only the city (admin) assigns zones")
    if user.role == "clerk" and not zones:
        raise AccountError("镇街窗口账号至少需要一个镇街", "a clerk needs at least one zone")
    if user.role in ("admin", "auditor") and zones:
        raise AccountError(
            "市级与审计账号不按镇街划分", "admin and auditor accounts see every zone"
        )
    if user.role == "reviewer" and department not in DEPARTMENTS:
        raise AccountError("部门审核账号需要部门", "a reviewer needs a department")
    if user.role != "reviewer" and department:
        raise AccountError("只有部门审核账号属于部门", "only a reviewer has a department")
    unknown = [z for z in zones if session.get(Zone, z) is None]
    if unknown:
        raise AccountError(
            f"未知的镇街：{'、'.join(unknown)}", f"unknown zones: {', '.join(unknown)}"
        )
    before = sorted(session.exec(select(UserZone.zone_id).where(UserZone.user_id == user.id)).all())
    for row in session.exec(select(UserZone).where(UserZone.user_id == user.id)).all():
        session.delete(row)
    session.flush()
    for zone in dict.fromkeys(zones):
        session.add(UserZone(user_id=user.id, zone_id=zone))
    old_department, user.department = user.department, department
    session.add(user)
    record(
        session,
        actor,
        "user.assign",
        object_type="user",
        object_id=user.username,
        diff={
            "zones": [before, sorted(set(zones))],
            "department": [old_department, department],
        },
    )
    end_sessions(session, user, "jurisdiction changed")


def deactivate(session: Session, actor: Actor, user: User) -> None:
    if not actor.is_city:
        raise Forbidden("only the city (admin) deactivates accounts")
    user.active = False
    session.add(user)
    record(session, actor, "user.deactivate", object_type="user", object_id=user.username)
    end_sessions(session, user, "deactivated")


def reset_password(session: Session, actor: Actor, user: User) -> str:
    """A temporary password (returned once, to show the city) that must be changed at login."""
    if not actor.is_city:
        raise Forbidden("only the city (admin) resets passwords")
    temporary = secrets.token_urlsafe(12)
    user.password_hash = HASHER.hash(temporary)
    user.must_change_password = True
    user.failed_logins, user.locked_until = 0, None
    session.add(user)
    record(session, actor, "user.reset", object_type="user", object_id=user.username)
    end_sessions(session, user, "password reset")
    return temporary
