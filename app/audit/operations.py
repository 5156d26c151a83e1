"""Append to the audit log and check its chain.

Each entry's hash covers the previous entry's hash and every field of its own, so altering,
removing or reordering any entry breaks the chain from there on; the head row (last sequence
number and hash) also catches entries cut off the end. Appenders lock the head row, so entries
are numbered without gaps in commit order (on SQLite the writing transaction holds the write lock
already).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlmodel import Session, select

from app.accounts.actor import Actor
from app.audit.models import AuditEntry, AuditHead
from app.db import insert_rows

GENESIS = hashlib.sha256(b"jifen.audit/1").digest()


def utcnow() -> dt.datetime:
    """Now, in UTC (aware: the columns store and return UTC)."""
    return dt.datetime.now(dt.UTC)


def canonical(diff: dict[str, Any] | None) -> str:
    return orjson.dumps(diff or {}, option=orjson.OPT_SORT_KEYS).decode()


def chain_hash(prev: bytes, fields: Iterable[Any]) -> bytes:
    """SHA-256 of the previous hash and the entry's fields as one JSON array (unambiguous:
    each field is a JSON string or number, whatever characters it holds)."""
    return hashlib.sha256(prev + orjson.dumps(list(fields))).digest()


def _fields(seq, at, actor, role, zone, action, object_type, object_id, diff) -> tuple:
    return (seq, _utc_text(at), actor, role, zone, action, object_type, object_id, diff)


def _utc_text(at: dt.datetime) -> str:
    if at.tzinfo is None:  # SQLite gives back what it stored: UTC without an offset
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Event:
    action: str
    object_type: str = ""
    object_id: str = ""
    zone: str = ""
    diff: dict[str, Any] | None = None


def _head(session: Session) -> AuditHead:
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS, genesis=GENESIS.hex())
        session.add(head)
        session.flush()
    return head


def record_many(session: Session, actor: Actor, events: Iterable[Event]) -> int:
    """Append entries in the caller's transaction (committed, or rolled back, with the change
    they describe). Returns the number appended."""
    head = _head(session)
    seq, prev = head.seq, head.hash
    at = utcnow()
    rows = []
    for event in events:
        seq += 1
        diff = canonical(event.diff)
        fields = _fields(
            seq, at, actor.username, actor.role, event.zone, event.action,
            event.object_type, event.object_id, diff,
        )  # fmt: skip
        digest = chain_hash(prev, fields)
        rows.append(
            {
                "seq": seq, "at": at, "actor": actor.username, "role": actor.role,
                "zone": event.zone, "action": event.action, "object_type": event.object_type,
                "object_id": event.object_id, "diff": diff, "prev_hash": prev, "hash": digest,
            }
        )  # fmt: skip
        prev = digest
    if rows:
        insert_rows(session, AuditEntry.__table__, rows)
        head.seq, head.hash = seq, prev
        session.add(head)
        session.flush()
    return len(rows)


def record(session: Session, actor: Actor, action: str, **fields: Any) -> None:
    record_many(session, actor, [Event(action, **fields)])


@dataclass(frozen=True)
class ChainReport:
    entries: int
    broken_at: int | None  # the first entry whose hash does not follow, or None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _entries(session: Session, batch: int = 50_000) -> Iterator[tuple]:
    """Every entry in order, as the driver gives its rows (no per-row type conversion: this is
    what makes `jifen audit verify` fast), in keyset pages of constant memory."""
    connection = session.connection()
    sql = (
        "SELECT seq, at, actor, role, zone, action, object_type, object_id, diff, prev_hash, hash"
        " FROM audit_entry WHERE seq > {} ORDER BY seq LIMIT {}"
    )
    last = 0
    while True:
        rows = connection.exec_driver_sql(sql.format(int(last), int(batch))).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


@functools.lru_cache(maxsize=4096)
def _stored_time(raw: Any) -> str:
    """A stored time, as the driver returns it, in the form the hash covers (entries of one
    import share one time, so this is computed once for many)."""
    if isinstance(raw, str):  # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff", in UTC
        raw = dt.datetime.fromisoformat(raw)
    return _utc_text(raw)


def verify_chain(session: Session) -> ChainReport:
    prev, expected, count = GENESIS, 1, 0
    sha256, dumps = hashlib.sha256, orjson.dumps
    for seq, at, actor, role, zone, action, kind, object_id, diff, prev_hash, digest in _entries(
        session
    ):
        if seq != expected:
            return ChainReport(
                count, expected, f"entry {expected} is missing / 第 {expected} 条缺失"
            )
        if prev_hash != prev:  # bytes from SQLite, a memoryview from psycopg: both compare
            return ChainReport(count, seq, "previous hash differs / 前一条哈希不符")
        fields = [seq, _stored_time(at), actor, role, zone, action, kind, object_id, diff]
        computed = sha256(prev + dumps(fields)).digest()
        if computed != digest:
            return ChainReport(count, seq, "entry altered / 记录被改动")
        prev, expected, count = computed, expected + 1, count + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or bytes(head.hash) != prev):
        return ChainReport(
            count, count + 1, f"entries after {count} were removed / 第 {count} 条之后的记录被删除"
        )
    return ChainReport(count, None)
