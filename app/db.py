"""The database: one engine per process, one session per request or command, one commit.

`DATABASE_URL` selects the database; without it, SQLite in `instance/jifen.sqlite` (WAL, foreign
keys on). Operations (`app/*/operations.py`) take a session and never commit: the request (or
the command) that called them commits once, so that a change and its audit entry land together
or not at all. Nothing here imports Flask; `init_app` wires the same engine into the web app.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def database_url(environ: dict[str, str] | None = None, instance: Path | None = None) -> str:
    env = os.environ if environ is None else environ
    url = env.get("DATABASE_URL", "").strip()
    if not url:
        folder = instance or INSTANCE
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'jifen.sqlite'}"
    # The usual spellings of a PostgreSQL URL all mean psycopg 3.
    return re.sub(r"^postgres(?:ql)?(?:\+psycopg2?)?://", "postgresql+psycopg://", url)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record) -> None:
            # pysqlite opens transactions itself; SQLAlchemy emits BEGIN instead (below), so
            # that a writing transaction can take the write lock at once (BEGIN IMMEDIATE).
            connection.isolation_level = None
            cursor = connection.cursor()
            # 16 KiB pages (for a new file; an existing one keeps its own): a score snapshot of
            # about 1.2 KB spilled into a 4 KiB overflow page with the default 4 KiB pages,
            # tripling what an import writes (measured: 100,000 rows, snapshots 3.5 s -> 1.5 s).
            cursor.execute("PRAGMA page_size=16384")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection) -> None:
            mode = connection.get_execution_options().get("jifen_begin", "DEFERRED")
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def writer(engine: Engine) -> Engine:
    """The engine for a writing transaction: on SQLite it begins IMMEDIATE, taking the write
    lock before it reads anything, so two writers never read the same state and then collide."""
    return engine.execution_options(jifen_begin="IMMEDIATE") if is_sqlite(engine) else engine


@contextmanager
def transaction(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """A session that commits once at the end (or rolls everything back on an exception);
    with `write=False` it only reads and never commits."""
    with Session(writer(engine) if write else engine) as session:
        try:
            yield session
            if write:
                session.commit()
        except BaseException:
            session.rollback()
            raise
    # A reading transaction ends by closing (objects read stay loaded, detached).


_ENGINES: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    """One engine (and pool) per URL and process."""
    if url not in _ENGINES:
        _ENGINES[url] = make_engine(url)
    return _ENGINES[url]


def init_app(app) -> None:
    """The web app's database: the engine is made on first use (the public checker never needs
    one), one session per request, closed (and anything uncommitted rolled back) at its end."""
    from flask import g

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        session = g.pop("jifen_session", None)
        if session is not None:
            session.rollback()  # whatever was not committed by `commit_request`
            session.close()


def app_engine(app) -> Engine:
    engine = app.extensions.get("jifen_engine")
    if engine is None:
        url = app.config.get("DATABASE_URL") or database_url(instance=Path(app.instance_path))
        engine = app.extensions["jifen_engine"] = engine_for(database_url({"DATABASE_URL": url}))
    return engine


def request_session(*, write: bool = False) -> Session:
    """This request's session: writing (IMMEDIATE on SQLite) for every method but GET/HEAD, and
    for a GET that asks first with `write=True` (one that is audited, say)."""
    from flask import current_app, g, request

    session = g.get("jifen_session")
    if session is None:
        engine = app_engine(current_app)
        write = write or request.method not in ("GET", "HEAD")
        session = Session(writer(engine) if write else engine)
        g.jifen_session = session
    return session


def commit_request() -> None:
    """The one commit of a request: views call it once, after their operation succeeded."""
    from flask import g

    session = g.get("jifen_session")
    if session is not None:
        session.commit()


# ---- many rows at once (imports, audit entries) -----------------------------------------------


# The page cache of a SQLite connection during a bulk write, in KiB (the default is 2 MiB):
# the rows of a large import go into indexes in the order of points or keyed hashes, and with
# the default cache their pages are written out and read back again and again (measured:
# 100,000 rows, applicants 3.6 s -> 1.5 s, applications 4.9 s -> 2.6 s).
BULK_CACHE_KIB = 256 * 1024


@contextmanager
def bulk_writing(session: Session) -> Iterator[None]:
    """Settings for a large write in the session's transaction, for as long as it lasts. SQLite:
    a page cache big enough for the indexes being written (`BULK_CACHE_KIB`), the
    connection's own restored afterwards. PostgreSQL: values too large to keep inline (a
    score snapshot of about 2.5 KB) compressed with lz4 where the server has it instead of the
    default pglz, which was a third of the server's time for the snapshots; `SET LOCAL` ends
    with the transaction. What is stored reads back the same either way."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        lz4 = connection.exec_driver_sql(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        ).scalar()
        if lz4:
            connection.exec_driver_sql("SET LOCAL default_toast_compression = 'lz4'")
        yield
        return
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{int(BULK_CACHE_KIB)}")
    try:
        yield
    finally:  # a connection that cannot take it any more keeps the big cache: no harm
        with suppress(SQLAlchemyError):
            connection.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")


def insert_rows(session: Session, table, rows: list[dict]) -> None:
    """Insert many rows of the same keys in the session's transaction, straight through the
    driver (see `insert_tuples`). The stored forms are the ORM's (tested)."""
    if not rows:
        return
    columns = list(rows[0])
    get = operator.itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    insert_tuples(session, table, columns, map(get, rows))


def insert_tuples(
    session: Session,
    table,
    columns: Sequence[str],
    rows: Iterable[tuple],
    constants: dict[str, Any] | None = None,
) -> None:
    """Insert many rows in the session's transaction, straight through the driver: each row a
    tuple of `columns`' values, followed by `constants` (columns of one value for every row,
    converted once). COPY on PostgreSQL (measured: 400,000 rows 8.7 s with INSERT -> 1.7 s),
    one executemany elsewhere. The stored forms are the ORM's (tested). Building tuples instead
    of a dict per row spares most of the Python time of a large import."""
    if isinstance(rows, list | tuple) and not rows:
        return
    constants = constants or {}
    names = [*columns, *constants]
    connection = session.connection()
    dialect = connection.dialect
    driver = connection.connection.driver_connection
    if dialect.name == "postgresql":
        fixed = tuple(constants.values())
        sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            write = copy.write_row
            if fixed:
                for row in rows:
                    write(row + fixed)
            else:
                for row in rows:
                    write(row)
        return

    # Only the time columns are converted here (once per distinct value: an import's rows share
    # one timestamp), straight to the text sqlite3 itself would store. The other values reach
    # the driver as they are: sqlite3 stores a bool as the integer and bytes as the blob that
    # SQLAlchemy's own conversions give, and skipping those per-value calls is most of the
    # Python time of a large insert.
    def conversion(column: str):
        kind = table.c[column].type
        if not _is_time(kind):
            return None
        return _once_per_value(_driver_time(kind.dialect_impl(dialect).bind_processor(dialect)))

    fixed = tuple(
        value if (convert := conversion(name)) is None else convert(value)
        for name, value in constants.items()
    )
    times = [(i, convert) for i, c in enumerate(columns) if (convert := conversion(c))]

    def converted(row: tuple) -> tuple:
        out = list(row)
        for i, convert in times:
            out[i] = convert(out[i])
        return (*out, *fixed)

    if times:
        values: Iterable[tuple] = map(converted, rows)
    elif fixed:
        values = map(operator.add, rows, itertools.repeat(fixed))
    else:
        values = rows
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    cursor = driver.cursor()
    try:
        cursor.executemany(sql, values)
    finally:
        cursor.close()


def _is_time(kind) -> bool:
    return isinstance(getattr(kind, "impl", kind), DateTime)


def _driver_time(processor):
    """A time column's conversion ending in the text sqlite3 stores for a datetime."""

    def convert(value):
        value = processor(value) if processor is not None else value
        return value.isoformat(" ") if isinstance(value, dt.datetime) else value

    return convert


def _once_per_value(processor):
    """A conversion remembered per value: the rows of one import share one timestamp, and
    turning it into text once instead of per row saves a second per 500,000 values."""
    seen: dict = {}

    def convert(value):
        try:
            return seen[value]
        except KeyError:
            seen[value] = done = processor(value)
            return done
        except TypeError:  # unhashable
            return processor(value)

    return convert


def reserve_ids(session: Session, table, count: int) -> range | list[int]:
    """`count` new ids for rows the caller inserts with their ids: from the table's sequence on
    PostgreSQL; on SQLite the ids after the largest one, which is safe because a writing
    transaction there holds the database's write lock from its start (`writer`), so nobody else
    inserts until it ends. Inserting with known ids spares INSERT … RETURNING, the slow part of a
    large SQLite import (measured: applicants and applications of 100,000 rows 7.2 s -> 4.0 s)."""
    connection = session.connection()
    if count == 0:
        return range(0)
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id'))"
            f" FROM generate_series(1, {int(count)})"
        ).all()
        return [r[0] for r in rows]
    top = connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table.name}").scalar_one()
    return range(top + 1, top + 1 + count)
