"""Append to the audit log and check its chain.

Each entry's hash covers the previous entry's hash and every field of its own, so altering,
removing or reordering any entry breaks the chain from there on; the head row (last sequence
number and hash) also catches entries cut off the end. Appenders lock the head row, so entries
are numbered without gaps in commit order (on SQLite the writing transaction holds the write lock
already).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy import select as select_columns
from sqlmodel import Session, select

from app.accounts.actor import Actor
from app.audit.models import AuditEntry, AuditHead

GENESIS = hashlib.sha256(b"jifen.audit/1").digest()


def utcnow() -> dt.datetime:
    """Now, in UTC (aware: the columns store and return UTC)."""
    return dt.datetime.now(dt.UTC)


def canonical(diff: dict[str, Any] | None) -> str:
    return orjson.dumps(diff or {}, option=orjson.OPT_SORT_KEYS).decode()


def chain_hash(prev: bytes, fields: Iterable[str]) -> bytes:
    digest = hashlib.sha256(prev)
    for text in fields:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(4, "big"))
        digest.update(data)
    return digest.digest()


def _fields(seq, at, actor, role, zone, action, object_type, object_id, diff) -> tuple[str, ...]:
    return (
        str(seq),
        at.isoformat(timespec="microseconds"),
        actor,
        role,
        zone,
        action,
        object_type,
        object_id,
        diff,
    )


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
        for start in range(0, len(rows), 5000):
            session.execute(insert(AuditEntry.__table__), rows[start : start + 5000])
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


def _entries(session: Session, batch: int = 20_000) -> Iterator[tuple]:
    columns = (
        AuditEntry.seq, AuditEntry.at, AuditEntry.actor, AuditEntry.role, AuditEntry.zone,
        AuditEntry.action, AuditEntry.object_type, AuditEntry.object_id, AuditEntry.diff,
        AuditEntry.prev_hash, AuditEntry.hash,
    )  # fmt: skip
    last = 0
    while True:  # keyset pages: constant memory, no long-lived cursor
        rows = session.execute(
            select_columns(*columns)
            .where(AuditEntry.seq > last)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def verify_chain(session: Session) -> ChainReport:
    prev, expected, count = GENESIS, 1, 0
    for seq, at, *middle, diff, prev_hash, digest in _entries(session):
        if seq != expected:
            return ChainReport(
                count, expected, f"entry {expected} is missing / 第 {expected} 条缺失"
            )
        if bytes(prev_hash) != prev:
            return ChainReport(count, seq, "previous hash differs / 前一条哈希不符")
        if chain_hash(prev, _fields(seq, at, *middle, diff)) != bytes(digest):
            return ChainReport(count, seq, "entry altered / 记录被改动")
        prev, expected, count = bytes(digest), expected + 1, count + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or bytes(head.hash) != prev):
        return ChainReport(
            count, count + 1, f"entries after {count} were removed / 第 {count} 条之后的记录被删除"
        )
    return ChainReport(count, None)
