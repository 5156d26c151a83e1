"""Register a round (`jifen.round/1`) and list rounds.

A round's zones, categories and schools are checked exactly as the allocation instance checks
them (the same code, so the same messages), since the round is that instance's header."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import orjson
from sqlmodel import Session, func, select

from allocation.instance import InstanceError, parse_instance
from app.accounts.actor import Actor
from app.accounts.operations import Forbidden
from app.applications.models import Application
from app.audit.operations import record, utcnow
from app.rounds.models import Round, RoundVersion, RoundZone, School, Zone
from scoring.facts import FACT_SPECS
from scoring.tables import TableError, UnknownTable, get_table

FORMAT = "jifen.round/1"
ROUND_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
HEADER = ("year", "seed", "tie_break", "tie_policy", "apportion", "categories", "zones", "schools")


class RoundError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def number_prefix(round_id: str) -> str:
    """zs-2026-p1 -> ZS2026-P1: the first hyphen dropped, upper case."""
    return round_id.upper().replace("-", "", 1)


def _date(value: Any) -> dt.date | None:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def check_round(config: Any) -> list[str]:
    """Every problem of a round configuration (empty when it is valid)."""
    if not isinstance(config, dict):
        return ["top level: must be a JSON object / 顶层必须是对象"]
    problems: list[str] = []
    if config.get("format") != FORMAT:
        problems.append(f"field 'format': expected '{FORMAT}' / 格式标记错误")
    if not isinstance(config.get("id"), str) or not ROUND_ID.fullmatch(config["id"]):
        problems.append(
            "field 'id': lower-case letters, digits and hyphens, at most 64 / "
            "轮次编号只能含小写字母、数字和连字符"
        )
    if not isinstance(config.get("name"), str) or not config["name"].strip():
        problems.append("field 'name': required / 必须填写轮次名称")
    if not isinstance(config.get("year"), int) or isinstance(config.get("year"), bool):
        problems.append("field 'year': must be an integer / 年份必须是整数")
    table = None
    try:
        table = get_table(str(config.get("table", "")))
    except (UnknownTable, TableError):
        problems.append(f"field 'table': unknown table {config.get('table')!r} / 未知的积分表")
    window = config.get("application_window")
    dates = [_date(v) for v in window] if isinstance(window, list) and len(window) == 2 else None
    if dates is None or None in dates:
        problems.append(
            "field 'application_window': two dates [start, end] YYYY-MM-DD / 申请时间应为两个日期"
        )
    elif dates[0] > dates[1]:
        problems.append("field 'application_window': ends before it starts / 结束日期早于开始日期")
    for key in ("publicity_days", "objection_days"):
        value = config.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 365:
            problems.append(
                f"field '{key}': a whole number of days 0–365 / 天数应为 0 到 365 的整数"
            )
    limit = config.get("max_choices")
    if "max_choices" in config and (
        not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 50
    ):
        problems.append("field 'max_choices': a whole number 1–50 / 志愿数上限应为 1 到 50 的整数")
    for key in config.get("tie_break", []) if isinstance(config.get("tie_break"), list) else []:
        spec = FACT_SPECS.get(key) if isinstance(key, str) else None
        if spec is None or spec.kind not in ("int", "decimal"):
            problems.append(
                f"field 'tie_break': {key!r} is not a numeric fact / 不是数值型事实字段"
            )
    if table is not None and isinstance(config.get("categories"), list):
        kinds = {c.get("kind") for c in config["categories"] if isinstance(c, dict)}
        wanted = "school" if table.kind == "school" else "household"
        if kinds - {wanted}:
            problems.append(
                f"field 'categories': table {table.id} is a {table.kind} programme, so every "
                f"category is of kind '{wanted}' / 类别与积分表类型不符"
            )
    problems.extend(_office_problems(config.get("zones")))
    if "certificate" in config:
        from app.certificates.operations import settings_problems

        problems.extend(settings_problems(config["certificate"]))
    problems.extend(_id_lengths(config))
    header = {"format": "jifen.allocation/1", "applicants": []}
    header.update({k: config[k] for k in HEADER if k in config})
    try:
        parse_instance(header)
    except InstanceError as exc:
        problems.extend(exc.problems)
    return problems


OFFICE_FIELDS = {"name": "窗口名称", "address": "地址", "hours": "办公时间", "phone": "咨询电话"}


def _office_problems(zones: Any) -> list[str]:
    """A zone's optional `office`: where its applicants ask (shown on their status page)."""
    problems: list[str] = []
    for zone in zones if isinstance(zones, list) else []:
        if not isinstance(zone, dict) or "office" not in zone:
            continue
        where = f"zones id '{zone.get('id')}', field 'office"
        office = zone["office"]
        if not isinstance(office, dict):
            problems.append(f"{where}': must be an object / 受理窗口信息必须是对象")
            continue
        for key, value in office.items():
            if key not in OFFICE_FIELDS:
                problems.append(
                    f"{where}.{key}': unknown field (name, address, hours, phone) / 未知字段"
                )
            elif not isinstance(value, str) or not value.strip() or len(value) > 200:
                problems.append(
                    f"{where}.{key}': a text of 1–200 characters / "
                    f"{OFFICE_FIELDS[key]}应为 1 到 200 个字的文字"
                )
    return problems


ID_LENGTH = 32  # zone, category and school ids, as the database stores them


def _id_lengths(config: dict) -> list[str]:
    problems = []
    for key, what in (("zones", "镇街"), ("categories", "类别"), ("schools", "学校")):
        records = config.get(key)
        for entry in records if isinstance(records, list) else []:
            ident = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(ident, str) and len(ident) > ID_LENGTH:
                problems.append(
                    f"{key} id '{ident[:40]}…', field 'id': at most {ID_LENGTH} characters / "
                    f"{what}编号不能超过 {ID_LENGTH} 个字符"
                )
    return problems


def create_round(session: Session, actor: Actor, config: dict, *, today: dt.date) -> Round:
    """Register a round, or a new version of it while its application window has not opened."""
    if not actor.is_city:
        raise Forbidden("only the city (admin) configures rounds")
    problems = check_round(config)
    if problems:
        raise RoundError(problems)
    text = orjson.dumps(config).decode()
    digest = hashlib.sha256(orjson.dumps(config, option=orjson.OPT_SORT_KEYS)).hexdigest()
    start, end = (dt.date.fromisoformat(d) for d in config["application_window"])
    existing = session.get(Round, config["id"])
    if existing is not None and _only_certificate_changed(session, existing, config):
        return _new_certificate_settings(session, actor, existing, config, text, digest)
    if existing is not None:
        if today >= existing.window_start:
            raise RoundError(
                [f"round {existing.id}: the application window has opened, the configuration "
                 f"is fixed / 申请已于 {existing.window_start} 开始，轮次配置不能再修改"]
            )  # fmt: skip
        count = session.exec(
            select(func.count()).select_from(Application).where(Application.round_id == existing.id)
        ).one()
        if count:
            raise RoundError(
                [
                    f"round {existing.id}: {count} applications exist already / "
                    "已有申请，不能修改配置"
                ]
            )
        for table in (School, RoundZone):
            for row in session.exec(select(table).where(table.round_id == existing.id)).all():
                session.delete(row)
        session.flush()
        round_ = existing
        round_.version += 1
        round_.name, round_.year, round_.table_id = config["name"], config["year"], config["table"]
        round_.window_start, round_.window_end = start, end
    else:
        round_ = Round(
            id=config["id"],
            name=config["name"],
            year=config["year"],
            table_id=config["table"],
            window_start=start,
            window_end=end,
            number_prefix=number_prefix(config["id"]),
            created_at=utcnow(),
        )
    session.add(round_)
    for zone in config["zones"]:
        found = session.get(Zone, zone["id"])
        if found is None:
            session.add(Zone(id=zone["id"], name=zone.get("name") or zone["id"]))
        elif zone.get("name") and found.name != zone["name"]:
            found.name = zone["name"]
            session.add(found)
    session.flush()
    for zone in config["zones"]:
        session.add(RoundZone(round_id=round_.id, zone_id=zone["id"]))
    for school in config["schools"]:
        session.add(
            School(
                round_id=round_.id,
                school_id=school["id"],
                zone_id=school["zone"],
                category=school["category"],
                seats=school["seats"],
                name=school.get("name", ""),
            )
        )
    return _add_version(session, actor, round_, text, digest)


def _only_certificate_changed(session: Session, round_: Round, config: dict) -> bool:
    """Whether the new configuration differs from the one in force only in its `certificate`
    settings (what certificates print), which may change until the first one is issued."""
    old = round_config(session, round_)
    return old.get("certificate") != config.get("certificate") and {
        k: v for k, v in old.items() if k != "certificate"
    } == {k: v for k, v in config.items() if k != "certificate"}


def _new_certificate_settings(session, actor, round_, config, text, digest) -> Round:
    from app.certificates.models import Certificate

    # locked as a print locks it: no certificate is issued on the old settings meanwhile
    session.exec(select(Round).where(Round.id == round_.id).with_for_update()).one()
    issued = session.exec(
        select(func.count()).select_from(Certificate).where(Certificate.round_id == round_.id)
    ).one()
    if issued:
        raise RoundError(
            [
                f"round {round_.id}: {issued} certificates are issued, their settings are fixed / "
                f"已签发 {issued} 份通知书，通知书设置不能再修改"
            ]
        )
    round_.version += 1
    session.add(round_)
    return _add_version(session, actor, round_, text, digest, changed=["certificate"])


def _add_version(session, actor, round_, text: str, digest: str, **more) -> Round:
    """The configuration as given, stored as the round's version in force, and audited."""
    session.add(
        RoundVersion(
            round_id=round_.id,
            version=round_.version,
            config=text,
            sha256=digest,
            created_at=utcnow(),
            created_by=actor.username,
        )
    )
    session.flush()
    record(
        session,
        actor,
        "round.create" if round_.version == 1 else "round.edit",
        object_type="round",
        object_id=round_.id,
        diff={"version": round_.version, "sha256": digest, **more},
    )
    return round_


def round_config(session: Session, round_: Round) -> dict:
    version = session.exec(
        select(RoundVersion).where(
            RoundVersion.round_id == round_.id, RoundVersion.version == round_.version
        )
    ).one()
    return orjson.loads(version.config)


def status(round_: Round, today: dt.date) -> str:
    if round_.finalized_at is not None:
        return "finalized"
    if round_.published_on is not None:
        return "published"
    if round_.allocated:
        return "allocated"
    if today < round_.window_start:
        return "draft"
    if today <= round_.window_end:
        return "open"
    return "closed"


def list_rounds(session: Session, today: dt.date) -> list[dict]:
    counts = dict(
        session.exec(
            select(Application.round_id, func.count()).group_by(Application.round_id)
        ).all()
    )
    return [
        {
            "id": r.id,
            "name": r.name,
            "year": r.year,
            "table": r.table_id,
            "application_window": [r.window_start.isoformat(), r.window_end.isoformat()],
            "status": status(r, today),
            "version": r.version,
            "applications": counts.get(r.id, 0),
        }
        for r in session.exec(select(Round).order_by(Round.id)).all()
    ]
