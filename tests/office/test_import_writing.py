"""How a large import writes (app/db.py `insert_tuples` and `bulk_writing`, the importer's
writing beside the checking): the same stored rows as the ORM's, an error while writing leaves
nothing, and the settings of an import end with it. On both databases."""

from __future__ import annotations

import datetime as dt
import sys

import pytest
from office_helpers import good_rows, round_config, write_csv
from sqlalchemy import text
from sqlmodel import func, select

from app.accounts.actor import Actor
from app.applications import importer, parallel
from app.applications.importer import import_applications
from app.applications.models import Applicant, Application, ClaimedFact, ScoreSnapshot
from app.db import insert_tuples, transaction
from app.rounds.operations import create_round

CITY = Actor.command_line()
TODAY = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 1, 18, 0, 0, 123456, tzinfo=dt.UTC)


def set_up_round(engine) -> None:
    with transaction(engine) as session:
        create_round(session, CITY, round_config(), today=TODAY)


def count(engine, model) -> int:
    with transaction(engine, write=False) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def run_import(engine, keys, path):
    with transaction(engine) as session:
        return import_applications(session, CITY, "zs-2026-p1", path, keys, today=TODAY)


def stored(connection, table: str, order: str) -> list[dict]:
    """The rows of a table without the ids and numbers that differ between two copies."""
    rows = [
        r._asdict() for r in connection.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))
    ]
    for row in rows:
        for key in ("id", "application_no", "applicant_id", "application_id", "id_number_hash"):
            row.pop(key, None)
    return rows


def test_rows_given_as_tuples_and_constants_store_exactly_what_the_orm_stores(engine):
    """Per-row values and the constants shared by every row (times, booleans, NULL, bytes,
    text with tabs and backslashes) land byte for byte as the ORM stores them, in every table
    an import writes: COPY on PostgreSQL, executemany on SQLite."""
    set_up_round(engine)
    applicant = {"id_number_enc": b"\x00\xff", "name_hash": "n", "name_enc": b"x\tz",
                 "phone_enc": None}  # fmt: skip
    application = {"round_id": "zs-2026-p1", "zone_id": "shiqi", "category": "school-p1",
                   "family": "f", "choices": '["S1"]', "accept_any_in_zone": True,
                   "status": "verifying", "ranking_cents": None, "total_cents": 100,
                   "eligible": False, "version": 1, "created_at": NOW,
                   "source": "import"}  # fmt: skip
    facts = [("education", '"bachelor"'), ("hukou_years", "3")]
    fact = {"department": "edu", "zone_id": "shiqi", "state": "confirmed", "reason": "",
            "evidence": "e\t\\n 核验", "verified_by": "city", "verified_at": NOW}  # fmt: skip
    snapshot = {"table_id": "t", "table_sha256": "d", "basis": "claimed", "total_cents": 1,
                "qualification_cents": 2, "ranking_cents": 3, "eligible": True,
                "result": '{"a":"积分\\n"}', "created_at": NOW}  # fmt: skip
    with transaction(engine) as session:
        session.add(Applicant(id=1, id_number_hash="h1", created_at=NOW, **applicant))
        session.flush()
        session.add(Application(id=1, application_no="A1", applicant_id=1, **application))
        session.flush()
        for name, claimed in facts:
            session.add(ClaimedFact(application_id=1, fact=name, claimed=claimed,
                                    verified=claimed, **fact))  # fmt: skip
        session.add(ScoreSnapshot(application_id=1, **snapshot))
        session.flush()
        insert_tuples(
            session, Applicant.__table__, ("id", "id_number_hash", *applicant),
            [(2, "h2", *applicant.values())], {"created_at": NOW},
        )  # fmt: skip
        per_row = ("zone_id", "category", "family", "choices", "accept_any_in_zone", "status",
                   "ranking_cents", "total_cents", "eligible")  # fmt: skip
        insert_tuples(
            session, Application.__table__, ("id", "application_no", "applicant_id", *per_row),
            [(2, "A2", 2, *(application[k] for k in per_row))],
            {k: v for k, v in application.items() if k not in per_row},
        )  # fmt: skip
        insert_tuples(
            session, ClaimedFact.__table__,
            ("application_id", "fact", "department", "zone_id", "claimed", "verified"),
            [(2, name, "edu", "shiqi", claimed, claimed) for name, claimed in facts],
            {k: v for k, v in fact.items() if k not in ("department", "zone_id")},
        )  # fmt: skip
        insert_tuples(
            session, ScoreSnapshot.__table__, ("application_id", "eligible", "result"),
            [(2, True, snapshot["result"])],
            {k: v for k, v in snapshot.items() if k not in ("eligible", "result")},
        )  # fmt: skip
    with engine.connect() as connection:
        for table, order in (("applicant", "id"), ("application", "id"),
                             ("claimed_fact", "application_id, fact"),
                             ("score_snapshot", "application_id")):  # fmt: skip
            rows = stored(connection, table, order)
            half = len(rows) // 2
            assert half and rows[:half] == rows[half:], table


def test_an_error_while_writing_stops_the_import_and_leaves_nothing(
    engine, keys, tmp_path, monkeypatch
):
    """The chunks are written beside the checking (in a thread of its own on PostgreSQL, in line
    on SQLite): an error while writing one is the import's error, the chunks after it are not
    written, the transaction keeps nothing, and Python's switch interval is given back."""
    set_up_round(engine)
    monkeypatch.setattr(parallel, "CHUNK", 7)
    real, calls = importer.Writer.write, []

    def failing(self, chunk):
        calls.append(len(chunk))
        if len(calls) == 3:
            raise RuntimeError("the disk is full")
        real(self, chunk)

    monkeypatch.setattr(importer.Writer, "write", failing)
    interval = sys.getswitchinterval()
    path = write_csv(tmp_path / "in.csv", good_rows(40))
    with pytest.raises(RuntimeError, match="the disk is full"):
        run_import(engine, keys, path)
    assert calls == [7, 7, 7] and sys.getswitchinterval() == interval
    assert count(engine, Application) == 0 and count(engine, ClaimedFact) == 0
    monkeypatch.setattr(importer.Writer, "write", real)
    assert run_import(engine, keys, path).count == 40


def test_an_import_writes_with_its_own_settings_and_gives_them_back(engine, keys, tmp_path):
    """SQLite: a big page cache while an import writes, the connection's own afterwards.
    PostgreSQL: score snapshots compressed with lz4 where the server has it, for that
    transaction only (SET LOCAL)."""
    set_up_round(engine)
    path = write_csv(tmp_path / "in.csv", good_rows(20))
    sqlite = engine.dialect.name == "sqlite"
    setting = "PRAGMA cache_size" if sqlite else "SHOW default_toast_compression"
    with transaction(engine) as session:
        connection = session.connection()
        before = connection.exec_driver_sql(setting).scalar()
        import_applications(session, CITY, "zs-2026-p1", path, keys, today=TODAY)
        if sqlite:
            assert connection.exec_driver_sql(setting).scalar() == before
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM score_snapshot").scalar() == 20
        if sqlite:
            return
        assert connection.exec_driver_sql(setting).scalar() == before
        lz4 = connection.exec_driver_sql(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        ).scalar()
        methods = (
            connection.exec_driver_sql(
                "SELECT DISTINCT pg_column_compression(result) FROM score_snapshot"
            )
            .scalars()
            .all()
        )
        assert methods == (["lz4"] if lz4 else ["pglz"])
