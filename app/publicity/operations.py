"""公示: publishing an allocated round's ranked lists, reading them, and closing the round.

Published lists show, per zone and category: the rank, the application number, the name with
its middle masked (张*明), the verified score, the outcome (拟录取 / 拟入户, 未录取, 不符合条件)
and, for schools, the school placed; beside them each school's cut-off. Never an ID number, a
phone or an address. What is listed is the current run's stored outcomes, so the lists are
the published result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import orjson
from sqlmodel import Session, func, select

from app.accounts.actor import Actor
from app.accounts.operations import Forbidden
from app.applications.models import Applicant, Application
from app.applications.operations import NotFound, Refused, points_of
from app.audit.operations import record, utcnow
from app.objections.models import Objection
from app.protect import DataKeys, decrypt, mask_name_for_publicity
from app.rounds.allocation import changed_since, current_run
from app.rounds.models import AllocationRun, Outcome, Round
from app.rounds.operations import round_config
from scoring.programmes import chinese_date

PAGE_SIZE = 100


def publicity_ends(round_: Round, config: dict) -> dt.date | None:
    """The last day of the 公示 window (publicity_days from the day it opened)."""
    if round_.published_on is None:
        return None
    return round_.published_on + dt.timedelta(days=config.get("publicity_days", 0))


def objections_end(round_: Round, config: dict) -> dt.date | None:
    """The last day for objections: `objection_days` after the 公示 (the round can be closed the
    day after)."""
    ends = publicity_ends(round_, config)
    return None if ends is None else ends + dt.timedelta(days=config.get("objection_days", 0))


def publish(session: Session, actor: Actor, round_id: str, *, today: dt.date) -> Round:
    """Open the 公示 of the round's current allocation."""
    round_ = _city_round(session, actor, round_id)
    if current_run(session, round_id) is None:
        raise Refused("本轮尚未分配，不能公示。")
    if round_.finalized_at is not None:
        raise Refused("本轮已完成，不能再公示。")
    if round_.published_on is not None:
        raise Refused(f"本轮已于 {chinese_date(round_.published_on)}公示。")
    round_.published_on = today
    session.add(round_)
    config = round_config(session, round_)
    record(
        session, actor, "round.publish", object_type="round", object_id=round_id,
        diff={"run": current_run(session, round_id).number, "from": today.isoformat(),
              "until": publicity_ends(round_, config).isoformat()},
    )  # fmt: skip
    return round_


def finalize(session: Session, actor: Actor, round_id: str, *, today: dt.date) -> Round:
    """Close the round once its 公示 and objection days have passed."""
    round_ = _city_round(session, actor, round_id)
    if round_.finalized_at is not None:
        raise Refused("本轮已经完成。")
    if round_.published_on is None:
        raise Refused("本轮尚未公示，不能完成。")
    config = round_config(session, round_)
    closes = objections_end(round_, config)
    if today < closes:
        raise Refused(f"公示和异议期到 {chinese_date(closes)}结束，之后才能完成。")
    waiting = session.exec(
        select(func.count())
        .select_from(Objection)
        .where(Objection.round_id == round_id, Objection.state == "open")
    ).one()
    if waiting:
        raise Refused(f"尚有 {waiting} 件异议未处理。")
    changed = changed_since(session, current_run(session, round_id))
    if changed:
        raise Refused(
            f"异议复核后有 {len(changed)} 份申请的分数或条件变动（{'、'.join(changed[:5])}"
            f"{'等' if len(changed) > 5 else ''}），须先重新分配并公示变动。"
        )
    round_.finalized_at = utcnow()
    session.add(round_)
    record(
        session, actor, "round.finalize", object_type="round", object_id=round_id,
        diff={"run": current_run(session, round_id).number},
    )  # fmt: skip
    return round_


def _city_round(session: Session, actor: Actor, round_id: str) -> Round:
    if not actor.is_city:
        raise Forbidden("only the city (admin) publishes and finalizes rounds")
    round_ = session.exec(select(Round).where(Round.id == round_id).with_for_update()).first()
    if round_ is None:
        raise NotFound(round_id)
    return round_


def changes_from_previous(session: Session, run: AllocationRun, config: dict) -> dict | None:
    """What this run changed from the one before it (`jifen allocate --diff`'s comparison):
    who moved, how quotas and cut-offs changed, each outcome also in words. None for a first
    run."""
    from allocation.diff import diff_results

    previous = session.exec(
        select(AllocationRun).where(
            AllocationRun.round_id == run.round_id, AllocationRun.number == run.number - 1
        )
    ).first()
    if previous is None:
        return None
    changes = diff_results(orjson.loads(previous.result), orjson.loads(run.result))
    schools = {x["id"]: x.get("name", x["id"]) for x in config.get("schools", [])}
    zones = {z["id"]: z.get("name", z["id"]) for z in config["zones"]}
    words = outcome_words(config)
    changes["admitted_word"] = words["admitted"]
    for moved in changes["moved"]:
        for side in ("before", "after"):
            outcome = moved[side]
            school = schools.get(outcome["school"] or "", "")
            moved[f"{side}_text"] = words.get(outcome["status"], outcome["status"]) + (
                f"（{school}）" if school else ""
            )
    for cutoff in changes["cutoffs"]:
        cutoff["where"] = (
            zones.get(cutoff["zone"], cutoff["zone"])
            + " "
            + (schools.get(cutoff["school"], cutoff["school"]) if cutoff["school"] else "本镇街")
        )
    return changes


# ---- reading what is published ---------------------------------------------------------------


def published_run(session: Session, round_id: str) -> tuple[Round, AllocationRun]:
    """The round and the run its lists show; NotFound until it is published."""
    round_ = session.get(Round, round_id)
    run = current_run(session, round_id) if round_ is not None else None
    if round_ is None or round_.published_on is None or run is None:
        raise NotFound(round_id)
    return round_, run


@dataclass(frozen=True)
class ListedRow:
    rank: int | None
    application_no: str
    name: str  # masked
    points: int | float
    status: str
    school: str  # the school's name, "" for none


@dataclass(frozen=True)
class ZoneList:
    rows: list[ListedRow]
    total: int
    page: int
    cutoffs: list[dict]  # this zone and category's, from the result

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def zone_counts(session: Session, run: AllocationRun) -> dict[tuple[str, str], dict[str, int]]:
    """(zone, category) -> outcome status -> how many."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for zone, category, status, n in session.exec(
        select(Outcome.zone_id, Outcome.category, Outcome.status, func.count())
        .where(Outcome.run_id == run.id)
        .group_by(Outcome.zone_id, Outcome.category, Outcome.status)
    ).all():
        out.setdefault((zone, category), {})[status] = n
    return out


def zone_list(
    session: Session,
    keys: DataKeys,
    run: AllocationRun,
    config: dict,
    zone: str,
    category: str,
    *,
    page: int | None = 1,
) -> ZoneList:
    """One page of a zone's ranked list in one category (every row for `page=None`): the
    ranked first, in rank order, then the ineligible (by number). Names are decrypted only to
    be shown masked."""
    where = (Outcome.run_id == run.id, Outcome.zone_id == zone, Outcome.category == category)

    def count(*more) -> int:
        return session.exec(select(func.count()).select_from(Outcome).where(*where, *more)).one()

    total = count()
    everything = page is None
    page = 1 if everything else max(1, min(page, max(1, -(-total // PAGE_SIZE))))
    # The page's outcomes are picked along the index (run, zone, category, rank) — the ranked
    # in rank order, then the unranked (ineligible) by number — and only those 100 are joined
    # to their applications: no page sorts the zone or joins the rows it skips.
    ranked = select(Outcome.id).where(*where, Outcome.zone_rank.is_not(None))
    ranked = ranked.order_by(Outcome.zone_rank)
    unranked = select(Outcome.id).where(*where, Outcome.zone_rank.is_(None))
    unranked = unranked.order_by(Outcome.application_no)
    if everything:
        ids = [*session.exec(ranked).all(), *session.exec(unranked).all()]
    else:
        start, ranks = (page - 1) * PAGE_SIZE, count(Outcome.zone_rank.is_not(None))
        ids = []
        if start < ranks:
            ids = list(session.exec(ranked.offset(start).limit(PAGE_SIZE)).all())
        if len(ids) < PAGE_SIZE:
            rest = unranked.offset(max(0, start - ranks)).limit(PAGE_SIZE - len(ids))
            ids += session.exec(rest).all()
    joined = {
        outcome.id: (outcome, cents, name)
        for chunk in range(0, len(ids), 5000)
        for outcome, cents, name in session.exec(
            select(Outcome, Application.ranking_cents, Applicant.name_enc)
            .join(
                Application,
                (Application.application_no == Outcome.application_no)
                & (Application.round_id == run.round_id),
            )
            .join(Applicant, Applicant.id == Application.applicant_id)
            .where(Outcome.id.in_(ids[chunk : chunk + 5000]))
        ).all()
    }
    rows = [joined[i] for i in ids]
    schools = {s["id"]: s.get("name", s["id"]) for s in config.get("schools", [])}
    kind = next(c["kind"] for c in config["categories"] if c["id"] == category)
    objected = _objected(session, run.round_id)
    listed = [
        ListedRow(
            outcome.zone_rank,
            outcome.application_no,
            mask_name_for_publicity(decrypt(keys, "name", name)),
            points_of(cents or 0),
            "复核中" if outcome.application_no in objected else status_label(outcome.status, kind),
            schools.get(outcome.school or "", ""),
        )
        for outcome, cents, name in rows
    ]
    cutoffs = [
        {**c, "school_name": schools.get(c["school"], "") if c["school"] else ""}
        for c in run_cutoffs(run)
        if c["zone"] == zone and c["category"] == category
    ]
    return ZoneList(listed, total, page, cutoffs)


_CUTOFFS: dict[tuple[int, str], list[dict]] = {}


def run_cutoffs(run: AllocationRun) -> list[dict]:
    """A run's cut-offs, read from its result once per process (a run never changes, and its
    result is megabytes: a page must not parse it)."""
    key = (run.id, run.output_sha256)
    if key not in _CUTOFFS:
        if len(_CUTOFFS) > 32:
            _CUTOFFS.clear()
        _CUTOFFS[key] = orjson.loads(run.result).get("cutoffs", [])
    return _CUTOFFS[key]


def _objected(session: Session, round_id: str) -> set[str]:
    """Application numbers with an objection open: their line reads 复核中. (Two small reads:
    joined in one, PostgreSQL would scan the round's applications for an empty list.)"""
    ids = session.exec(
        select(Objection.application_id).where(
            Objection.round_id == round_id, Objection.state == "open"
        )
    ).all()
    if not ids:
        return set()
    return set(
        session.exec(select(Application.application_no).where(Application.id.in_(ids))).all()
    )


def outcome_words(config: dict) -> dict[str, str]:
    """An allocation outcome in words, for a round of school places or of 入户 (a round of
    both kinds is refused when it is created; its words would name both)."""
    kinds = frozenset(c["kind"] for c in config["categories"])
    admitted, not_admitted = {
        frozenset({"school"}): ("录取", "未录取"),
        frozenset({"household"}): ("获入户指标", "未获入户指标"),
    }.get(kinds, ("录取或获入户指标", "未录取或未获入户指标"))
    return {"admitted": admitted, "not_admitted": not_admitted, "ineligible": "不符合条件",
            "absent": "未列入"}  # fmt: skip


def status_label(status: str, kind: str) -> str:
    school = kind == "school"
    if status == "admitted":
        return "拟录取" if school else "拟入户"
    if status == "not_admitted":
        return "未录取" if school else "未获入户指标"
    return {"ineligible": "不符合条件"}.get(status, status)


def zone_workbook(session: Session, keys: DataKeys, run: AllocationRun, config: dict, zone: str):
    """The zone's lists as an XLSX workbook, one sheet a category (what the page shows)."""
    from io import BytesIO

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for category in config["categories"]:
        listing = zone_list(session, keys, run, config, zone, category["id"], page=None)
        sheet = book.create_sheet(str(category.get("name", category["id"]))[:31])
        school = category["kind"] == "school"
        header = ["排名", "受理编号", "姓名", "积分", "结果", *(["学校"] if school else [])]
        sheet.append(header)
        for row in listing.rows:
            sheet.append([row.rank, row.application_no, row.name, row.points, row.status,
                          *([row.school] if school else [])])  # fmt: skip
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def latest_cutoffs(session: Session, table_id: str) -> dict | None:
    """For the checker: the latest published round of this points table — its name, year,
    link, each zone's lowest admitted score (and each school's), and the zones' offices."""
    round_ = session.exec(
        select(Round)
        .where(Round.table_id == table_id, Round.published_on.is_not(None))
        .order_by(Round.published_on.desc(), Round.id)
    ).first()
    run = current_run(session, round_.id) if round_ is not None else None
    if run is None:
        return None
    config = round_config(session, round_)
    names = {z["id"]: z.get("name", z["id"]) for z in config["zones"]}
    schools = {x["id"]: x.get("name", x["id"]) for x in config.get("schools", [])}
    categories = {c["id"]: c.get("name", c["id"]) for c in config["categories"]}
    rows = [
        {
            "zone": names.get(c["zone"], c["zone"]),
            "category": categories.get(c["category"]),
            "school": schools.get(c["school"], c["school"]) if c["school"] else "",
            "points": c["points"],
            "admitted": c["admitted"],
            "seats": c["seats"],
        }
        for c in run_cutoffs(run)
    ]
    offices = [(z.get("name", z["id"]), z["office"]) for z in config["zones"] if z.get("office")]
    return {"round": round_, "rows": rows, "offices": offices,
            "several_categories": len(categories) > 1}  # fmt: skip
