"""One application, filed by the applicant online (or by a clerk at the counter): checked by
exactly the rules of the import (app/applications/rows.py) and written by the same writer, so
an application is the same whichever way it came in.

Refused with every problem, each naming its field, when the round's application window is not
open, the commitment of truthfulness (承诺制) is not given, or any answer is wrong. A second
application of the same person in the round is refused with the number of the first (the
applicant's own, found by the keyed hash of the ID number they typed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from app.accounts.actor import Actor
from app.applications.importer import FileChecks, Imported, Sheet, Writer, round_rules
from app.applications.rows import Problem, check_rows
from app.protect import DataKeys
from app.rounds.models import Round
from scoring.facts import FACT_SPECS
from scoring.programmes import chinese_date

ONLINE = Actor("online", "applicant")  # the applicant, on the public site


@dataclass(frozen=True)
class Submission:
    name: str
    id_number: str
    phone: str
    zone: str
    category: str
    choices: list[str] = field(default_factory=list)
    accept_any: bool = False
    committed: bool = False  # the signed commitment of truthfulness


class ApplicationRefused(ValueError):
    """`problems` are (field, Chinese reason); the field is "" for the whole application."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems

    def by_field(self, fields: set[str]) -> dict[str, str]:
        """The reasons by form field: a fact's under "facts", the whole application's under ""."""
        out: dict[str, str] = {}
        for name, message in self.problems:
            key = name if name in fields or not name else "facts"
            out[key] = "；".join(filter(None, [out.get(key, ""), message]))
        return out


def open_rounds(session: Session, table_id: str, today: dt.date) -> list[Round]:
    """The rounds of this points table whose application window is open today."""
    return list(
        session.exec(
            select(Round).where(
                Round.table_id == table_id,
                Round.window_start <= today,
                Round.window_end >= today,
                Round.allocated == False,  # noqa: E712 (SQL)
            )
        ).all()
    )


def next_rounds(session: Session, table_id: str, today: dt.date) -> list[Round]:
    """The rounds of this table whose window has not opened yet, soonest first."""
    return list(
        session.exec(
            select(Round)
            .where(Round.table_id == table_id, Round.window_start > today)
            .order_by(Round.window_start)
        ).all()
    )


def submit(
    session: Session,
    keys: DataKeys,
    round_id: str,
    submission: Submission,
    facts: dict[str, Any],
    *,
    today: dt.date,
    actor: Actor = ONLINE,
) -> Imported:
    round_ = session.exec(select(Round).where(Round.id == round_id).with_for_update()).first()
    if round_ is None:
        raise ApplicationRefused([("", "没有这个申报轮次。")])
    if not (round_.window_start <= today <= round_.window_end) or round_.allocated:
        raise ApplicationRefused(
            [
                (
                    "",
                    f"本轮的申报期是 {chinese_date(round_.window_start)}至 "
                    f"{chinese_date(round_.window_end)}，现在不能申报。",
                )
            ]
        )
    refused: list[tuple[str, str]] = []
    if not submission.committed:
        refused.append(("committed", "请阅读承诺书并勾选“本人承诺”。"))
    given = {n: v for n, v in facts.items() if n in FACT_SPECS}
    header = ["name", "id_number", "zone", "category", "phone", "choices",
              "accept_any_in_zone", *given]  # fmt: skip
    cells = [
        submission.name, submission.id_number, submission.zone, submission.category,
        submission.phone, ";".join(submission.choices), "是" if submission.accept_any else "否",
        *(_cell(v) for v in given.values()),
    ]  # fmt: skip
    sheet = Sheet(header, [(1, cells)], "")
    rules, header_problems = round_rules(session, actor, round_, sheet, keys, today=today)
    if rules is None:  # cannot happen with these columns; said plainly if it ever does
        raise ApplicationRefused([("", p.zh) for p in header_problems])
    result = check_rows(rules, sheet.rows)[0]
    problems: list[Problem] = [
        *result.problems,
        *FileChecks(session, round_, rules.titles).add(result),
    ]
    refused.extend((p.column, p.zh) for p in problems)
    if refused:
        raise ApplicationRefused(refused)
    writer = Writer(session, actor, round_, sheet, 1, verified=False, source=actor_source(actor))
    writer.write([result])
    return writer.finish()


def actor_source(actor: Actor) -> str:
    return "online" if actor.role == "applicant" else "counter"


def _cell(value: Any) -> str:
    if value is True:
        return "是"
    if value is False:
        return "否"
    return str(value)
