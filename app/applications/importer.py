"""Bulk import of applications from CSV or XLSX (the import file format of docs/office.md).

The whole file is checked before anything is written: every cell through the same validation
as the scorer (`Facts.parse`), ID numbers by checksum, zones, categories and schools against the
round, families and choices, duplicates inside the file and against the round. Any bad cell and
nothing is imported; every bad cell is reported by row and column, and can be written back into
the file as a report a clerk fixes in Excel. A good file is imported in one transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlmodel import Session, select

from app.accounts.actor import Actor
from app.accounts.operations import Forbidden
from app.applications import departments
from app.applications.models import Applicant, Application, ClaimedFact, ScoreSnapshot
from app.audit.operations import Event, record_many, utcnow
from app.db import insert_rows, reserve_ids
from app.protect import (
    DataKeys,
    IdNumberError,
    birth_date_of,
    check_id_number,
    encrypt,
    lookup_hash,
    normal_name,
)
from app.rounds.models import Round, RoundZone, School
from app.rounds.operations import round_config
from scoring.engine import score
from scoring.facts import FACT_SPECS, FALSE_WORDS, TRUE_WORDS, Facts, FactsError, to_json_value
from scoring.model import Table
from scoring.tables import get_table

# The first eight columns, with the Chinese headers a clerk may use instead.
COLUMNS = {
    "name": "姓名",
    "id_number": "身份证号",
    "zone": "镇街",
    "category": "类别",
    "phone": "手机",
    "family": "家庭",
    "choices": "志愿",
    "accept_any_in_zone": "服从调剂",
}
REQUIRED = ("name", "id_number", "zone", "category")
ALIASES = {zh: en for en, zh in COLUMNS.items()}
MOBILE = re.compile(r"1[3-9][0-9]{9}")
LANDLINE = re.compile(r"0[0-9]{2,3}-?[0-9]{7,8}")
MAX_NAME = 50


Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Problem:
    row: int  # the row as the spreadsheet numbers it: the header is row 1
    column: str  # the column's header as written in the file ("" for the whole file)
    zh: str
    en: str

    def __str__(self) -> str:
        if not self.column:
            return f"{self.zh} / {self.en}"
        return (
            f"第 {self.row} 行 {self.column}：{self.zh} / row {self.row}, {self.column}: {self.en}"
        )


class ImportRefused(ValueError):
    """The file (or the round) cannot be imported; nothing was written."""

    def __init__(self, problems: list[Problem], sheet: Sheet | None = None):
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems
        self.sheet = sheet


@dataclass
class Sheet:
    """A file read as text cells: the header as written, and each row with its number."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    sha256: str


# ---- reading the file ------------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    """A spreadsheet value as the text a clerk typed: Excel dates as YYYY-MM-DD, whole numbers
    without '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value).strip()


def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        merged = _merged_cells(data, sheet.title)
        for r, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            values = list(values)
            for (row, col), value in merged.get(r, {}).items():
                if row == r:
                    while len(values) <= col:
                        values.append(None)
                    if values[col] is None:
                        values[col] = value
            yield values
    finally:
        book.close()


def _merged_cells(data: bytes, title: str) -> dict[int, dict[tuple[int, int], Any]]:
    """The value of each merged range's top-left cell, for every cell the range covers (a clerk
    who merges a zone down ten rows means it for all ten). Read-only openpyxl does not expose
    merged ranges, so only a workbook that has them is opened a second time, in full."""
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if not any(
            b"<mergeCell " in archive.read(n)
            for n in archive.namelist()
            if n.startswith("xl/worksheets/") and n.endswith(".xml")
        ):
            return {}
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data), data_only=True)[title]
    cells: dict[int, dict[tuple[int, int], Any]] = {}
    for merged in sheet.merged_cells.ranges:
        value = sheet.cell(merged.min_row, merged.min_col).value
        for row in range(merged.min_row, merged.max_row + 1):
            for col in range(merged.min_col, merged.max_col + 1):
                cells.setdefault(row, {})[(row, col - 1)] = value
    return cells


def read_sheet(path: Path) -> Sheet:
    """CSV (UTF-8, BOM allowed) or XLSX (first sheet), as text cells. Blank rows are passed over
    (they keep their numbers)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportRefused(
            [
                Problem(
                    0, "", f"无法读取文件：{exc.strerror}", f"cannot read the file: {exc.strerror}"
                )
            ]
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if path.suffix.lower() == ".xlsx":
        try:
            raw_rows = [[_cell_text(v) for v in row] for row in _xlsx_rows(data)]
        except Exception as exc:  # openpyxl raises many kinds for a file that is not XLSX
            raise ImportRefused(
                [
                    Problem(
                        0,
                        "",
                        "不是有效的 XLSX 文件",
                        f"not a valid XLSX file ({type(exc).__name__})",
                    )
                ]
            ) from None
    elif path.suffix.lower() == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportRefused(
                [
                    Problem(
                        0,
                        "",
                        "CSV 文件须为 UTF-8 编码（Excel 另存为“CSV UTF-8”）",
                        "CSV must be UTF-8",
                    )
                ]
            ) from None
        raw_rows = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text, newline=""))]
    else:
        raise ImportRefused(
            [Problem(0, "", "只接受 .csv 或 .xlsx 文件", "only .csv and .xlsx files are accepted")]
        )
    if not raw_rows or not any(raw_rows[0]):
        raise ImportRefused([Problem(1, "", "文件没有表头行", "the file has no header row")])
    header = raw_rows[0]
    while header and header[-1] == "":
        header = header[:-1]
    rows = [
        (number, (cells + [""] * len(header))[: max(len(header), len(cells))])
        for number, cells in enumerate(raw_rows[1:], start=2)
        if any(c != "" for c in cells)
    ]
    return Sheet(header, rows, digest)


# ---- checking ---------------------------------------------------------------------------------


@dataclass
class Candidate:
    """One good row, ready to write."""

    row: int
    id_number: str
    id_hash: str  # the keyed hash the duplicate checks used
    name: str
    phone: str
    zone: str
    category: str
    family: str
    choices: list[str]
    accept_any: bool
    facts: Facts
    claimed: dict[str, Any]


@dataclass
class Checked:
    candidates: list[Candidate] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _columns(header: list[str]) -> tuple[dict[str, int], list[Problem]]:
    """Column positions by canonical name; unknown or repeated headers are problems."""
    positions: dict[str, int] = {}
    problems: list[Problem] = []
    for i, title in enumerate(header):
        name = ALIASES.get(title, title)
        if name not in COLUMNS and name not in FACT_SPECS:
            problems.append(Problem(1, title or f"第 {i + 1} 列", "未知的列", "unknown column"))
        elif name in positions:
            problems.append(Problem(1, title, "列重复", "repeated column"))
        else:
            positions[name] = i
    for name in REQUIRED:
        if name not in positions:
            problems.append(
                Problem(
                    1,
                    COLUMNS[name],
                    f"缺少必填列（{name} 或 {COLUMNS[name]}）",
                    "required column missing",
                )
            )
    return positions, problems


def _bool_cell(text: str) -> bool | None:
    word = text.strip().lower()
    if word in TRUE_WORDS - {""}:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def check_sheet(
    session: Session,
    actor: Actor,
    round_: Round,
    sheet: Sheet,
    keys: DataKeys,
    *,
    today: dt.date,
    progress: Progress | None = None,
) -> Checked:
    positions, problems = _columns(sheet.header)
    out = Checked(problems=problems)
    if problems:
        return out
    config = round_config(session, round_)
    kinds = {c["id"]: c["kind"] for c in config["categories"]}
    zones = set(
        session.exec(select(RoundZone.zone_id).where(RoundZone.round_id == round_.id)).all()
    )
    schools = {
        s.school_id: s for s in session.exec(select(School).where(School.round_id == round_.id))
    }
    title = {name: sheet.header[i] for name, i in positions.items()}
    fact_columns = [n for n in positions if n in FACT_SPECS]
    existing = {
        h: no
        for h, no in session.exec(
            select(Applicant.id_number_hash, Application.application_no)
            .join(Application, Application.applicant_id == Applicant.id)
            .where(Application.round_id == round_.id)
        ).all()
    }
    seen: dict[str, int] = {}
    families: dict[str, list[tuple[int, str, str]]] = {}

    for index, (number, cells) in enumerate(sheet.rows):
        if progress is not None and index % 2000 == 0 and index:
            progress("check", index, len(sheet.rows))

        def cell(name: str, cells: list[str] = cells) -> str:
            i = positions.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        def bad(name: str, zh: str, en: str, number: int = number) -> None:
            out.problems.append(Problem(number, title[name], zh, en))

        before = len(out.problems)
        name = normal_name(cell("name"))
        if not name:
            bad("name", "必填", "required")
        elif len(name) > MAX_NAME:
            bad("name", f"姓名不能超过 {MAX_NAME} 个字", f"at most {MAX_NAME} characters")
        id_number = ""
        if not cell("id_number"):
            bad("id_number", "必填", "required")
        else:
            try:
                id_number = check_id_number(cell("id_number"))
            except IdNumberError as exc:
                bad("id_number", exc.zh, exc.en)
        raw = {n: cell(n) for n in fact_columns if cell(n) != ""}
        born = birth_date_of(id_number) if id_number else None
        if born is not None and "birth_date" not in raw:
            raw["birth_date"] = born.isoformat()  # the birth date the ID number carries
        try:
            facts = Facts.parse(raw, today=today)
        except FactsError as exc:
            facts = None
            for error in exc.errors:
                if error.field in title:
                    bad(error.field, error.zh, error.en)
                else:  # a fact the file leaves out but the ID number gives (birth_date)
                    bad("id_number", f"按身份证号中的出生日期：{error.zh}", error.en)
        if facts is not None and born is not None and facts.birth_date != born:
            bad(
                "id_number",
                "身份证号中的出生日期与出生日期一栏不一致",
                "the birth date in the ID number differs from birth_date",
            )
        zone = cell("zone")
        if zone not in zones:
            bad("zone", f"不是本轮的镇街：{zone}" if zone else "必填", "not a zone of this round")
        elif not actor.sees_zone(zone):
            bad("zone", "不属于您负责的镇街", "not one of your zones")
        category = cell("category")
        if category not in kinds:
            bad(
                "category",
                f"不是本轮的类别（可选：{'、'.join(kinds)}）",
                f"not a category of this round ({', '.join(kinds)})",
            )
        phone = cell("phone").replace(" ", "")
        if phone and not (MOBILE.fullmatch(phone) or LANDLINE.fullmatch(phone)):
            bad("phone", "不是有效的手机或固定电话号码", "not a valid phone number")
        family = cell("family")
        if len(family) > 64:
            bad("family", "家庭编号不能超过 64 个字符", "at most 64 characters")
        choices = [c.strip() for c in re.split("[;；]", cell("choices")) if c.strip()]
        school_category = kinds.get(category) == "school"
        if choices and category in kinds and not school_category:
            bad("choices", "入户类别不填志愿", "a household category takes no school choices")
        for choice in choices:
            school = schools.get(choice)
            if school is None:
                bad("choices", f"未知的学校：{choice}", f"unknown school {choice}")
            elif school.zone_id != zone or school.category != category:
                bad(
                    "choices",
                    f"学校 {choice} 不属于本镇街的本类别",
                    f"{choice} is not of this zone and category",
                )
        if len(set(choices)) != len(choices):
            bad("choices", "志愿中学校重复", "a school is chosen twice")
        accept_text = cell("accept_any_in_zone")
        accept_any = _bool_cell(accept_text) if accept_text else False
        if accept_any is None:
            bad("accept_any_in_zone", "应为是或否", "must be true or false")
        elif accept_any and category in kinds and not school_category:
            bad("accept_any_in_zone", "入户类别不适用服从调剂", "only for school categories")
        if id_number:
            digest = lookup_hash(keys, "id_number", id_number)
            if digest in seen:
                bad(
                    "id_number",
                    f"与第 {seen[digest]} 行是同一人（身份证号重复）",
                    f"same person as row {seen[digest]}",
                )
            else:
                seen[digest] = number
            if digest in existing:
                bad(
                    "id_number",
                    f"此人已有本轮申请 {existing[digest]}",
                    f"already applied in this round: {existing[digest]}",
                )
        if family:
            families.setdefault(family, []).append((number, zone, category))
        if len(out.problems) == before and facts is not None:
            out.candidates.append(
                Candidate(
                    row=number,
                    id_number=id_number,
                    id_hash=digest,
                    name=name,
                    phone=phone,
                    zone=zone,
                    category=category,
                    family=family,
                    choices=choices,
                    accept_any=bool(accept_any),
                    facts=facts,
                    claimed={
                        n: to_json_value(FACT_SPECS[n], getattr(facts, n))
                        for n in raw
                        if n in title  # facts the file claims (not the birth date it implies)
                    },
                )
            )
    for family, members in families.items():
        if len({(z, c) for _, z, c in members}) > 1:
            for number, _, _ in members:
                out.problems.append(
                    Problem(
                        number,
                        title["family"],
                        f"家庭 {family} 的成员须在同一镇街、同一类别申请",
                        f"family {family}: members must share zone and category",
                    )
                )
    out.problems.sort(key=lambda p: (p.row, sheet_order(sheet, p.column)))
    return out


def sheet_order(sheet: Sheet, column: str) -> int:
    return sheet.header.index(column) if column in sheet.header else -1


# ---- writing ----------------------------------------------------------------------------------


def table_sha256(table: Table) -> str:
    """The digest of the table version a score was computed with (overlays resolved)."""
    return hashlib.sha256(table.model_dump_json(exclude={"path"}).encode()).hexdigest()


@dataclass(frozen=True)
class Imported:
    count: int
    first: str
    last: str


def import_applications(
    session: Session,
    actor: Actor,
    round_id: str,
    path: Path,
    keys: DataKeys,
    *,
    today: dt.date,
    verified: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Imported:
    """Check the whole file, then (unless a dry run) write every application in the caller's
    transaction, or raise ImportRefused with every problem and write nothing. `progress` is
    told (stage, rows done, rows in all) as the work goes on."""
    if actor.role not in ("admin", "clerk"):
        raise Forbidden("only the city or a zone's clerk imports applications")
    if verified and not actor.is_city:
        raise Forbidden("only the city imports facts verified elsewhere")
    round_ = session.exec(select(Round).where(Round.id == round_id).with_for_update()).first()
    if round_ is None:
        raise ImportRefused(
            [Problem(0, "", f"未知的轮次：{round_id}", f"unknown round {round_id}")]
        )
    if round_.allocated:
        raise ImportRefused(
            [
                Problem(
                    0, "", "本轮已完成分配，不能再导入", "the round is allocated: no more imports"
                )
            ]
        )
    with _collector_paused():
        sheet = read_sheet(path)
        if progress is not None:
            progress("check", 0, len(sheet.rows))
        checked = check_sheet(session, actor, round_, sheet, keys, today=today, progress=progress)
        if checked.problems:
            raise ImportRefused(checked.problems, sheet)
        if dry_run or not checked.candidates:
            return Imported(len(checked.candidates), "", "")
        table = get_table(round_.table_id)
        if progress is not None:
            progress("write", 0, len(checked.candidates))
        imported = _write(
            session, actor, round_, table, checked.candidates, keys, sheet, today, verified
        )
        if progress is not None:
            progress("write", imported.count, imported.count)
        return imported


@contextmanager
def _collector_paused() -> Iterator[None]:
    """An import builds a few hundred thousand small objects that live until it ends; Python's
    cycle collector would scan them again and again (a third of the time of a 20,000-row file,
    measured). Nothing here makes cycles worth collecting early."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _write(session, actor, round_, table, candidates, keys, sheet, today, verified) -> Imported:
    now = utcnow()
    digest = table_sha256(table)
    hashes = [c.id_hash for c in candidates]
    known = _known_applicants(session, hashes)
    new_rows = [
        {
            "id": None,
            "id_number_hash": h,
            "id_number_enc": encrypt(keys, "id_number", c.id_number),
            "name_hash": lookup_hash(keys, "name", c.name),
            "name_enc": encrypt(keys, "name", c.name),
            "phone_enc": encrypt(keys, "phone", c.phone) if c.phone else None,
            "created_at": now,
        }
        for c, h in zip(candidates, hashes, strict=True)
        if h not in known
    ]
    new_ids = reserve_ids(session, Applicant.__table__, len(new_rows))
    for row, new_id in zip(new_rows, new_ids, strict=True):
        row["id"] = new_id
        known[row["id_number_hash"]] = new_id
    insert_rows(session, Applicant.__table__, new_rows)
    first_number = round_.next_number
    round_.next_number += len(candidates)
    session.add(round_)
    status = "scored" if verified else "verifying"
    state = "confirmed" if verified else "claimed"
    owners = departments.owners()
    results = [score(table, c.facts, on=today) for c in candidates]
    numbers = [f"{round_.number_prefix}-{first_number + k:06d}" for k in range(len(candidates))]
    ids = reserve_ids(session, Application.__table__, len(candidates))
    app_rows = [
        {
            "id": app_id,
            "application_no": no,
            "round_id": round_.id,
            "applicant_id": known[h],
            "zone_id": c.zone,
            "category": c.category,
            "family": c.family,
            "choices": orjson.dumps(c.choices).decode(),
            "accept_any_in_zone": c.accept_any,
            "status": status,
            "ranking_cents": int(r.ranking_score * 100),
            "total_cents": int(r.total * 100),
            "eligible": r.eligible,
            "version": 1,
            "created_at": now,
            "source": "import",
        }
        for app_id, c, h, r, no in zip(ids, candidates, hashes, results, numbers, strict=True)
    ]
    insert_rows(session, Application.__table__, app_rows)
    fact_rows, snapshots = [], []
    for app_id, c, r in zip(ids, candidates, results, strict=True):
        for name, value in c.claimed.items():
            text = orjson.dumps(value).decode()
            fact_rows.append(
                {
                    "application_id": app_id, "fact": name, "department": owners[name],
                    "claimed": text, "state": state, "verified": text if verified else None,
                    "reason": "", "evidence": "由导入文件核验（--verified）" if verified else "",
                    "verified_by": actor.username if verified else "",
                    "verified_at": now if verified else None,
                }
            )  # fmt: skip
        snapshots.append(
            {
                "application_id": app_id, "table_id": table.id, "table_sha256": digest,
                "basis": "verified" if verified else "claimed",
                "total_cents": int(r.total * 100),
                "qualification_cents": int(r.qualification_score * 100),
                "ranking_cents": int(r.ranking_score * 100), "eligible": r.eligible,
                "result": orjson.dumps(r.to_dict()).decode(), "created_at": now,
            }
        )  # fmt: skip
    insert_rows(session, ClaimedFact.__table__, fact_rows)
    insert_rows(session, ScoreSnapshot.__table__, snapshots)
    events = [
        Event(
            "application.import",
            object_type="round",
            object_id=round_.id,
            diff={
                "file_sha256": sheet.sha256,
                "applications": len(candidates),
                "first": numbers[0],
                "last": numbers[-1],
                "verified": verified,
            },
        )
    ]
    events.extend(
        Event(
            "application.create",
            object_type="application",
            object_id=no,
            zone=c.zone,
            diff={"category": c.category, "source": "import", "status": status},
        )
        for c, no in zip(candidates, numbers, strict=True)
    )
    record_many(session, actor, events)
    session.flush()
    return Imported(len(candidates), numbers[0], numbers[-1])


def _known_applicants(session: Session, hashes: list[str]) -> dict[str, int]:
    """Applicants of earlier rounds among these (by keyed hash), in pages of the IN list."""
    known: dict[str, int] = {}
    for start in range(0, len(hashes), 5000):
        page = hashes[start : start + 5000]
        query = select(Applicant.id_number_hash, Applicant.id)
        known.update(session.exec(query.where(Applicant.id_number_hash.in_(page))).all())
    return known


# ---- the report a clerk fixes in Excel ------------------------------------------------------


def write_report(sheet: Sheet, problems: list[Problem], out: Path) -> None:
    """The file back as XLSX: every bad cell filled red with its reason as a comment, and a
    last column 错误原因 with every reason of the row."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill

    red = PatternFill("solid", fgColor="FFC7CE")
    by_row: dict[int, list[Problem]] = {}
    for problem in problems:
        by_row.setdefault(problem.row, []).append(problem)
    book = Workbook()
    ws = book.active
    ws.title = "导入检查"
    ws.append([*sheet.header, "错误原因"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for problem in by_row.get(1, []):
        if problem.column in sheet.header:
            ws.cell(1, sheet.header.index(problem.column) + 1).fill = red
    for number, cells in sheet.rows:
        found = by_row.get(number, [])
        ws.append([*cells[: len(sheet.header)], "；".join(f"{p.column}：{p.zh}" for p in found)])
        line = ws.max_row
        for problem in found:
            if problem.column in sheet.header:
                target = ws.cell(line, sheet.header.index(problem.column) + 1)
                target.fill = red
                target.comment = Comment(problem.zh, "jifen")
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
