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
import threading
from collections.abc import Iterable
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


def _entries(session: Session, after: int, until: int | None, batch: int = 50_000):
    """The entries after `after` up to `until` (None: the last) in order, as tuples straight
    from the driver's cursor (no result rows of SQLAlchemy's: fetching 1,000,000 entries took
    4.0 s through them, 2.3 s so), in keyset pages of constant memory."""
    cursor = session.connection().connection.driver_connection.cursor()
    bound = "" if until is None else f" AND seq <= {int(until)}"
    sql = (
        "SELECT seq, at, actor, role, zone, action, object_type, object_id, diff, prev_hash, hash"
        " FROM audit_entry WHERE seq > {}" + bound + " ORDER BY seq LIMIT {}"
    )
    last = after
    try:
        while rows := cursor.execute(sql.format(int(last), int(batch))).fetchall():
            yield from rows
            last = rows[-1][0]
    finally:
        cursor.close()


@functools.lru_cache(maxsize=4096)
def _stored_time(raw: Any) -> str:
    """A stored time, as the driver returns it, in the form the hash covers (entries of one
    import share one time, so this is computed once for many)."""
    if isinstance(raw, str):  # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff", in UTC
        raw = dt.datetime.fromisoformat(raw)
    return _utc_text(raw)


@dataclass(frozen=True)
class _Stretch:
    """What one stretch of the chain showed: entries checked, the first broken one (or None)
    and why, and the hash of its last entry."""

    entries: int
    broken_at: int | None
    reason: str
    last_hash: bytes


def _verify_stretch(session: Session, after: int, until: int | None, prev: bytes) -> _Stretch:
    """Entries after `after` up to `until`, the first of them following `prev`."""
    expected, count = after + 1, 0
    sha256, dumps = hashlib.sha256, orjson.dumps
    for seq, at, actor, role, zone, action, kind, object_id, diff, prev_hash, digest in _entries(
        session, after, until
    ):
        if seq != expected:
            return _Stretch(
                count, expected, f"entry {expected} is missing / 第 {expected} 条缺失", prev
            )
        if prev_hash != prev:  # bytes, or a memoryview from psycopg: both compare
            return _Stretch(count, seq, "previous hash differs / 前一条哈希不符", prev)
        fields = [seq, _stored_time(at), actor, role, zone, action, kind, object_id, diff]
        computed = sha256(prev + dumps(fields)).digest()
        if computed != digest:
            return _Stretch(count, seq, "entry altered / 记录被改动", prev)
        prev, expected, count = computed, expected + 1, count + 1
    if until is not None and expected <= until:
        return _Stretch(
            count, expected, f"entry {expected} is missing / 第 {expected} 条缺失", prev
        )
    return _Stretch(count, None, "", prev)


# The same check, computed by PostgreSQL itself (measured: see docs/office.md): each entry's
# hash over the previous hash and its fields as the JSON array chain_hash makes. PostgreSQL's
# to_json escapes strings exactly as orjson does (quote, backslash, \b \f \n \r \t, other
# control characters as \u00xx, everything else as UTF-8); a property test holds the two to it.
_IN_DATABASE = """
WITH e AS (
  SELECT seq, prev_hash, hash,
         lag(seq) OVER w AS seq_before,
         lag(hash) OVER w AS hash_before,
         sha256(prev_hash || convert_to(
           '[' || seq::text
           || ',' || to_json(to_char(at AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))::text
           || ',' || to_json(actor)::text || ',' || to_json(role)::text
           || ',' || to_json(zone)::text || ',' || to_json(action)::text
           || ',' || to_json(object_type)::text || ',' || to_json(object_id)::text
           || ',' || to_json(diff)::text || ']', 'UTF8')) AS computed
  FROM audit_entry WHERE seq > %(after)s AND seq <= %(until)s WINDOW w AS (ORDER BY seq)
)
SELECT seq, coalesce(seq_before, %(after)s), prev_hash = coalesce(hash_before, %(prev)s)
FROM e
WHERE seq <> coalesce(seq_before, %(after)s) + 1
   OR prev_hash <> coalesce(hash_before, %(prev)s)
   OR computed <> hash
ORDER BY seq LIMIT 1
"""


def _stretch_in_database(connection, after: int, until: int, prev: bytes) -> _Stretch:
    """Entries after `after` up to `until`, checked by PostgreSQL; the first of them follows
    `prev` (the stored hash of entry `after`)."""
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor:
        found = cursor.execute(
            _IN_DATABASE, {"after": after, "until": until, "prev": prev}
        ).fetchone()
        if found is None:
            last = cursor.execute(
                "SELECT count(*), max(seq) FROM audit_entry WHERE seq > %s AND seq <= %s",
                (after, until),
            ).fetchone()
            if last[0] == 0:
                return _Stretch(0, None, "", prev)
            if last[1] != after + last[0]:  # a gap at the end of the stretch
                return _Stretch(last[0], after + last[0] + 1, _missing(after + last[0] + 1), prev)
            stored = cursor.execute(
                "SELECT hash FROM audit_entry WHERE seq = %s", (last[1],)
            ).fetchone()[0]
            return _Stretch(int(last[0]), None, "", bytes(stored))
    seq, before, linked = found
    if seq != before + 1:
        return _Stretch(before - after, before + 1, _missing(before + 1), prev)
    if not linked:
        return _Stretch(seq - 1 - after, seq, "previous hash differs / 前一条哈希不符", prev)
    return _Stretch(seq - 1 - after, seq, "entry altered / 记录被改动", prev)


def _missing(seq: int) -> str:
    return f"entry {seq} is missing / 第 {seq} 条缺失"


def _verify_in_database(session: Session, total: int) -> _Stretch:
    """The chain checked by PostgreSQL in two halves at once, on two connections (the server
    does the work, so each half takes a core)."""
    middle = total // 2
    connection = session.connection()
    stored = connection.exec_driver_sql(
        f"SELECT hash FROM audit_entry WHERE seq = {int(middle)}"
    ).scalar()
    if total < 2 or stored is None:
        return _stretch_in_database(connection, 0, total, GENESIS)
    engine = session.get_bind()
    second: dict[str, _Stretch | BaseException] = {}

    def check_second() -> None:
        try:
            with engine.connect() as other:
                second["report"] = _stretch_in_database(other, middle, total, bytes(stored))
        except BaseException as exc:  # handed over below
            second["report"] = exc

    helper = threading.Thread(target=check_second, name="audit-second-half")
    helper.start()
    first = _stretch_in_database(connection, 0, middle, GENESIS)
    helper.join()
    if first.broken_at is not None:
        return first
    rest = second["report"]
    if isinstance(rest, BaseException):
        raise rest
    return _Stretch(first.entries + rest.entries, rest.broken_at, rest.reason, rest.last_hash)


def _verify_in_helper(url: str, after: int, until: int, prev: bytes) -> _Stretch:
    """A stretch verified in a helper process, on its own connection."""
    from app.db import make_engine, transaction

    engine = make_engine(url)
    try:
        with transaction(engine, write=False) as session:
            return _verify_stretch(session, after, until, prev)
    finally:
        engine.dispose()


# From this many entries on, a helper process checks the second half of the chain while this
# one checks the first (each entry stores the previous hash, so a half needs only the hash it
# follows). Measured on PostgreSQL, 1,000,000 entries: see docs/office.md.
HELPER_FROM = 200_000


def verify_chain(session: Session, *, helper: bool = False) -> ChainReport:
    """The whole chain, in order: the first entry missing, unlinked or altered, or entries
    removed from the end. `helper`: split a long chain with a second process."""
    total = session.connection().exec_driver_sql("SELECT max(seq) FROM audit_entry").scalar()
    total = int(total or 0)
    if session.connection().dialect.name == "postgresql":
        report = _verify_in_database(session, total)
    elif helper and total >= HELPER_FROM:
        report = _verify_halves(session, total)
    else:
        report = _verify_stretch(session, 0, None, GENESIS)
    if report.broken_at is not None:
        return ChainReport(report.entries, report.broken_at, report.reason)
    count, prev = report.entries, report.last_hash
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or bytes(head.hash) != prev):
        return ChainReport(
            count, count + 1, f"entries after {count} were removed / 第 {count} 条之后的记录被删除"
        )
    return ChainReport(count, None)


def _verify_halves(session: Session, total: int) -> _Stretch:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    middle = total // 2
    stored = (
        session.connection()
        .exec_driver_sql(f"SELECT hash FROM audit_entry WHERE seq = {int(middle)}")
        .scalar()
    )
    url = session.get_bind().url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding connections
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        second = None
        if stored is not None:
            second = pool.submit(_verify_in_helper, url, middle, total, bytes(stored))
        first = _verify_stretch(session, 0, middle, GENESIS)
        if first.broken_at is not None or second is None:
            if second is not None:
                second.cancel()
            return first
        rest = second.result()
    return _Stretch(first.entries + rest.entries, rest.broken_at, rest.reason, rest.last_hash)
