"""`jifen demo` on SQLite and PostgreSQL: a Zhongshan-like city seeded through the real operations,
once (a second run adds nothing), with temporary passwords shown once and an intact audit chain."""

from __future__ import annotations

import datetime as dt
import re

from sqlmodel import func, select

from app import db as app_db
from app.accounts.models import DEPARTMENTS, User, UserZone
from app.accounts.operations import password_matches
from app.applications.models import Applicant, Application, ClaimedFact
from app.audit.models import AuditEntry
from app.audit.operations import verify_chain
from app.cli import main
from app.db import transaction
from app.demo import (
    HOUSEHOLD_ROUND,
    SCHOOL_ROUND,
    ZONES,
    generate,
    household_round,
    school_round,
    schools,
    seed_demo,
)
from app.protect import check_id_number
from app.rounds.models import Round, Zone
from app.rounds.operations import check_round, list_rounds
from scoring.facts import add_years, months_between

TODAY = dt.date(2026, 3, 2)
ROLES = {"admin": 1, "clerk": 4, "reviewer": len(DEPARTMENTS), "auditor": 1}


def counts(engine) -> dict[str, int]:
    with transaction(engine, write=False) as session:
        return {
            model.__name__: session.exec(select(func.count()).select_from(model)).one()
            for model in (Zone, Round, User, UserZone, Applicant, Application, ClaimedFact,
                          AuditEntry)
        }  # fmt: skip


def test_the_demo_is_seeded_once_through_the_operations(engine, keys):
    done = seed_demo(engine, keys, today=TODAY, applications=300)
    assert done.rounds == [SCHOOL_ROUND, HOUSEHOLD_ROUND]
    assert done.imported == {SCHOOL_ROUND: 240, HOUSEHOLD_ROUND: 60}
    assert len(done.logins) == sum(ROLES.values())
    passwords = [login.password for login in done.logins]
    assert len(set(passwords)) == len(passwords) and min(map(len, passwords)) >= 12
    before = counts(engine)
    assert before["Zone"] == len(ZONES) >= 6
    assert (before["Round"], before["Application"], before["Applicant"]) == (2, 300, 300)
    with transaction(engine, write=False) as session:
        zones = dict(session.exec(select(Zone.id, Zone.name)).all())
        assert {"shiqi": "石岐街道", "xiaolan": "小榄镇", "huoju": "火炬开发区"}.items() <= (
            zones.items()
        )
        roles = dict(session.exec(select(User.role, func.count()).group_by(User.role)).all())
        assert roles == ROLES
        departments = session.exec(select(User.department).where(User.role == "reviewer")).all()
        assert sorted(departments) == sorted(DEPARTMENTS)
        users = session.exec(select(User)).all()
        assert all(u.must_change_password for u in users)
        by_name = {u.username: u for u in users}
        login = done.logins[1]
        assert password_matches(by_name[login.username], login.password)
        rounds = {r["id"]: r for r in list_rounds(session, TODAY)}
        assert {r["status"] for r in rounds.values()} == {"open"}
        assert rounds[SCHOOL_ROUND]["table"] == "zhongshan-2025-school"
        assert rounds[HOUSEHOLD_ROUND]["table"] == "guangdong-2010"
        per_category = dict(
            session.exec(
                select(Application.category, func.count()).group_by(Application.category)
            ).all()
        )
        assert per_category == {"school-p1": 195, "school-m1": 45, "hukou": 60}
        report = verify_chain(session)
    assert report.ok and report.entries == before["AuditEntry"]

    again = seed_demo(engine, keys, today=TODAY + dt.timedelta(days=3), applications=300)
    assert again.nothing
    assert counts(engine) == before


def test_the_rounds_pass_check_round_and_their_windows_are_open_today():
    for config in (school_round(TODAY), household_round(TODAY)):
        assert check_round(config) == []
        start, end = map(dt.date.fromisoformat, config["application_window"])
        assert start <= TODAY <= end
    config = school_round(TODAY)
    totals = {c["id"]: c["total"] for c in config["categories"]}
    assert totals == {c: sum(s["seats"] for s in schools(c)) for c in totals}


def test_the_synthetic_rows_are_reproducible_and_consistent():
    files = generate(400, TODAY, seed=7)
    assert files == generate(400, TODAY, seed=7)
    assert files != generate(400, TODAY, seed=8)
    zone_of = {s["id"]: s["zone"] for c in ("school-p1", "school-m1") for s in schools(c)}
    families: dict[str, list[list]] = {}
    seen = set()
    for header, rows in files.values():
        months = [i for i, h in enumerate(header) if h.endswith("_months")]
        for row in rows:
            number = check_id_number(row[1])  # checksum, birth date, region code of the year
            assert number not in seen
            seen.add(number)
            born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            limit = months_between(add_years(born, 16), TODAY)
            assert all(row[i] == "" or 0 < row[i] <= limit for i in months)
            assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", row[0])
            assert all(zone_of[s] == row[2] for s in filter(None, row[6].split(";")))
            if row[5]:
                families.setdefault(row[5], []).append(row)
    assert families and all(len(m) == 2 for m in families.values())
    assert all(len({(r[2], r[3], r[6]) for r in m}) == 1 for m in families.values())


def test_the_command_prints_the_passwords_once(engine, monkeypatch, capsys):
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("JIFEN_DATA_KEY", "test data key, long enough for the HKDF input")
    monkeypatch.setenv("JIFEN_ENV", "production")
    try:
        assert main(["demo", "--applications", "20"]) == 0
        assert "no demo data in production" in capsys.readouterr().err
        assert counts(engine)["User"] == 0
        monkeypatch.delenv("JIFEN_ENV")
        assert main(["demo", "--applications", "20"]) == 0
        first = capsys.readouterr().out
        assert "首次登录时必须修改" in first and "must be changed at first login" in first
        logins = re.findall(r"^  (demo-\S+) +(\w+) +(\S{19})  \S", first, re.M)
        assert len(logins) == sum(ROLES.values())
        with transaction(engine, write=False) as session:
            user = session.exec(select(User).where(User.username == logins[0][0])).one()
            assert password_matches(user, logins[0][2])
        assert main(["demo", "--applications", "20"]) == 0
        second = capsys.readouterr().out
        assert "the demo is already there" in second
        assert not any(password in second for *_, password in logins)
    finally:
        made = app_db._ENGINES.pop(url, None)
        if made is not None:
            made.dispose()
