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

import orjson
from sqlmodel import Session, select

from app.accounts.actor import Actor
from app.accounts.operations import Forbidden
from app.applications.importer import FileChecks, Imported, Sheet, Writer, round_rules
from app.applications.models import Application
from app.applications.operations import Refused, Stale, changed_and_told, locked
from app.applications.rows import ChoiceRules, Problem, check_choices, check_rows
from app.protect import DataKeys
from app.rounds.models import Round, School
from app.rounds.operations import round_config
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
    # Brothers and sisters applying together (school rounds): (name, ID number) each. Each is
    # an application of its own, with the same answers and choices, and the family placed
    # together or not at all.
    siblings: list[tuple[str, str]] = field(default_factory=list)


MAX_SIBLINGS = 2
SIBLING_FIELDS = {"name": "name", "id_number": "id_number"}


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
              "accept_any_in_zone", "family", *given]  # fmt: skip
    siblings = [(n, i) for n, i in submission.siblings if n.strip() or i.strip()]
    if len(siblings) > MAX_SIBLINGS:
        refused.append(("siblings", f"一次最多同时申请 {MAX_SIBLINGS + 1} 个孩子。"))
    # A family's id: the first member's application number, known before it is written (the
    # round is locked, so the next number is this application's).
    family = f"{round_.number_prefix}-{round_.next_number:06d}" if siblings else ""
    shared = [
        submission.zone, submission.category, submission.phone, ";".join(submission.choices),
        "是" if submission.accept_any else "否", family, *(_cell(v) for v in given.values()),
    ]  # fmt: skip
    people = [(submission.name, submission.id_number), *siblings]
    sheet = Sheet(header, [(k, [name, id_number, *shared]) for k, (name, id_number) in
                           enumerate(people, start=1)], "")  # fmt: skip
    rules, header_problems = round_rules(session, actor, round_, sheet, keys, today=today)
    if rules is None:  # cannot happen with these columns; said plainly if it ever does
        raise ApplicationRefused([("", p.zh) for p in header_problems])
    if siblings and rules.kinds.get(submission.category) != "school":
        refused.append(("siblings", "只有入学类别可以兄弟姐妹一同申请。"))
    results = check_rows(rules, sheet.rows)
    checks = FileChecks(session, round_, rules.titles, only=[r.id_hash for r in results])
    for result in results:
        problems: list[Problem] = [*result.problems, *checks.add(result)]
        for p in problems:
            if result.number == 1:
                refused.append((p.column, p.zh))
            elif p.column in SIBLING_FIELDS or (p.column, p.zh) not in refused:
                # a shared answer's problem is said once, for the first child
                refused.append((f"sibling{result.number - 1}_{p.column}", p.zh))
    refused.extend((p.column, p.zh) for p in checks.finish())
    if refused:
        raise ApplicationRefused(list(dict.fromkeys(refused)))
    writer = Writer(
        session, actor, round_, sheet, len(results), verified=False, source=actor_source(actor)
    )
    writer.write(results)
    return writer.finish()


def correct_choices(
    session: Session,
    actor: Actor,
    application_no: str,
    choices: list[str],
    accept_any: bool,
    reason: str,
    *,
    version: int,
    today: dt.date,
) -> list[Application]:
    """A recorded correction of an application's school choices, for the applicant, with the
    reason (a clerk of its zone, or the city). Choices are sealed when the application window
    closes (Tianhe's rule): after it only the city corrects them, and never once the round is
    allocated. A family's members share their choices, so all of them change together.
    Returns the applications changed."""
    if actor.role not in ("admin", "clerk"):
        raise Forbidden("a zone's clerk or the city corrects choices")
    application = locked(session, actor, application_no)
    if application.version != version:
        raise Stale()
    round_ = session.get(Round, application.round_id)
    if round_.allocated:
        raise Refused("本轮已完成分配，志愿不能再改。")
    sealed = today > round_.window_end
    if sealed and not actor.is_city:
        raise Refused(
            f"志愿已于 {chinese_date(round_.window_end)}申报期截止时封存。"
            "封存后的更正须由市级管理员办理，并记录原因。"
        )
    reason = reason.strip()
    if len(reason) < 4 or len(reason) > 500:
        raise Refused("请写明更正志愿的原因（4 到 500 个字），申请人会看到。")
    config = round_config(session, round_)
    schools = session.exec(select(School).where(School.round_id == round_.id)).all()
    rules = ChoiceRules(
        kinds={c["id"]: c["kind"] for c in config["categories"]},
        schools={s.school_id: (s.zone_id, s.category) for s in schools},
        max_choices=config.get("max_choices"),
    )
    if rules.kinds.get(application.category) != "school":
        raise Refused("入户类别没有学校志愿。")
    problems = check_choices(rules, application.zone_id, application.category, choices)
    if problems:
        raise Refused("；".join(dict.fromkeys(zh for _, zh, _ in problems)))
    text = orjson.dumps(choices).decode()
    if text == application.choices and accept_any == application.accept_any_in_zone:
        raise Refused("志愿没有改动。")
    family = [application]
    if application.family:
        family = list(
            session.exec(
                select(Application)
                .where(
                    Application.round_id == application.round_id,
                    Application.family == application.family,
                )
                .order_by(Application.id)
                .with_for_update()
            ).all()
        )
    names = {s.school_id: s.name or s.school_id for s in schools}
    words = "、".join(names[c] for c in choices) or "（不填志愿）"
    message = f"志愿已更正为：{words}{'（服从调剂）' if accept_any else ''}。原因：{reason}"
    for member in family:
        before = (orjson.loads(member.choices), member.accept_any_in_zone)
        member.choices, member.accept_any_in_zone = text, accept_any
        changed_and_told(
            session, actor, member, action="application.choices", kind="choices", text=message,
            diff={"from": before[0], "from_accept_any": before[1], "to": choices,
                  "accept_any": accept_any, "sealed": sealed, "reason": reason[:200]},
        )  # fmt: skip
    session.flush()
    return family


def actor_source(actor: Actor) -> str:
    return "online" if actor.role == "applicant" else "counter"


def _cell(value: Any) -> str:
    if value is True:
        return "是"
    if value is False:
        return "否"
    return str(value)
