"""Bulk import of applications from CSV or XLSX (the import file of docs/formats.md).

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
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, func, select

from app.accounts.actor import Actor
from app.accounts.operations import Forbidden
from app.applications import departments
from app.applications.models import Applicant, Application, ClaimedFact, ScoreSnapshot
from app.applications.parallel import checked_chunks
from app.applications.rows import (
    ALIASES,
    COLUMNS,
    REQUIRED,
    Prepared,
    Problem,
    RoundRules,
    RowResult,
)
from app.applications.scoring import settled_status
from app.applications.xlsx import SheetRefused, read_xlsx
from app.audit.operations import Event, record_many, utcnow
from app.db import bulk_writing, insert_tuples, reserve_ids
from app.protect import DataKeys
from app.rounds.models import Round, RoundZone, School
from app.rounds.operations import round_config
from scoring.facts import FACT_SPECS
from scoring.model import Table
from scoring.tables import get_table

Progress = Callable[[str, int, int], None]


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


def _column_title(header: list[str], column: int) -> str:
    return header[column] if column < len(header) and header[column] else f"第 {column + 1} 列"


@dataclass(frozen=True)
class Upload:
    """A file received over the web, kept in memory (its name says CSV or XLSX): what people
    upload holds their names and ID numbers, and it is never written to disk in clear."""

    name: str
    data: bytes = field(repr=False)


def read_sheet(source: Path | Upload) -> Sheet:
    """CSV (UTF-8, BOM allowed) or XLSX (first sheet), as text cells. Blank rows are passed over
    (they keep their numbers)."""
    try:
        data = source.data if isinstance(source, Upload) else source.read_bytes()
    except OSError as exc:
        raise ImportRefused(
            [
                Problem(
                    0, "", f"无法读取文件：{exc.strerror}", f"cannot read the file: {exc.strerror}"
                )
            ]
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    errors: list[tuple[int, int, str]] = []
    suffix = Path(source.name).suffix.lower()
    if suffix == ".xlsx":
        try:
            raw_rows, errors = read_xlsx(data)
        except SheetRefused as exc:
            raise ImportRefused([Problem(0, "", exc.zh, exc.en)]) from None
        except Exception as exc:  # the readers raise many kinds for a file that is not XLSX
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
    elif suffix == ".csv":
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
    sheet = Sheet(header, rows, digest)
    if errors:
        raise ImportRefused(
            [
                Problem(
                    row,
                    _column_title(header, column),
                    f"单元格是错误值{f' {error}' if error else ''}（公式出错），请更正后再导入",
                    f"the cell holds an error value{f' {error}' if error else ''} "
                    "(a formula that failed)",
                )
                for row, column, error in errors
            ],
            sheet,
        )
    return sheet


# ---- checking ---------------------------------------------------------------------------------


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


def round_rules(
    session: Session,
    actor: Actor,
    round_: Round,
    sheet: Sheet,
    keys: DataKeys,
    *,
    today: dt.date,
    verified: bool = False,
) -> tuple[RoundRules | None, list[Problem]]:
    """What each row is checked against, or the problems of the header."""
    positions, problems = _columns(sheet.header)
    if problems:
        return None, problems
    config = round_config(session, round_)
    zones = session.exec(select(RoundZone.zone_id).where(RoundZone.round_id == round_.id)).all()
    schools = session.exec(select(School).where(School.round_id == round_.id)).all()
    return (
        RoundRules(
            positions=positions,
            titles={name: sheet.header[i] for name, i in positions.items()},
            zones=frozenset(zones),
            kinds={c["id"]: c["kind"] for c in config["categories"]},
            schools={s.school_id: (s.zone_id, s.category) for s in schools},
            sees_every_zone=actor.is_city or actor.role == "applicant",
            own_zones=frozenset(actor.zones),
            today=today,
            keys=keys,
            table_id=round_.table_id,
            owners=departments.owners(),
            verified=verified,
            max_choices=config.get("max_choices"),
        ),
        [],
    )


class FileChecks:
    """What needs the whole file: the same person twice, people who already applied in the
    round, families split over zones or categories, and family ids the round already gives to
    applications of another file (a family is imported whole, in one file: "F01" in the next
    file is another family, and joining the two would place unrelated children together)."""

    def __init__(
        self,
        session: Session,
        round_: Round,
        titles: dict[str, str],
        only: list[str] | None = None,
    ):
        """`only`: the keyed hashes of the few people of a form, so that a single application
        does not read the whole round's."""
        self.titles = titles
        self.session, self.round_id, self.only = session, round_.id, only is not None
        self.taken_families = self._taken_families()
        query = (
            select(Applicant.id_number_hash, Application.application_no)
            .join(Application, Application.applicant_id == Applicant.id)
            .where(Application.round_id == round_.id)
        )
        if only is not None:
            query = query.where(Applicant.id_number_hash.in_([h for h in only if h]))
        self.existing = dict(session.exec(query).all())
        self.seen: dict[str, int] = {}
        self.families: dict[str, list[tuple[int, str, str]]] = {}

    def add(self, result: RowResult) -> list[Problem]:
        found: list[Problem] = []
        digest, number = result.id_hash, result.number
        if digest:
            column = self.titles["id_number"]
            if digest in self.seen:
                found.append(
                    Problem(
                        number, column,
                        f"与第 {self.seen[digest]} 行是同一人（身份证号重复）",
                        f"same person as row {self.seen[digest]}",
                    )
                )  # fmt: skip
            else:
                self.seen[digest] = number
            if digest in self.existing:
                found.append(
                    Problem(
                        number, column,
                        f"此人已有本轮申请 {self.existing[digest]}",
                        f"already applied in this round: {self.existing[digest]}",
                    )
                )  # fmt: skip
        if result.family:
            self.families.setdefault(result.family, []).append(
                (number, result.zone, result.category)
            )
        return found

    def finish(self) -> list[Problem]:
        found = []
        taken = self.taken_families
        for family, members in self.families.items():
            if family in taken:
                found.extend(
                    Problem(
                        number,
                        self.titles["family"],
                        f"家庭编号 {family} 在本轮已用于其他申请（{taken[family]}），"
                        "同一家庭的子女须在同一文件中导入，另一家庭请换用其他编号",
                        f"family {family} is already used in this round ({taken[family]}): "
                        "a family is imported in one file; use another id for another family",
                    )
                    for number, _, _ in members
                )
                continue
            if len({(z, c) for _, z, c in members}) > 1:
                found.extend(
                    Problem(
                        number,
                        self.titles["family"],
                        f"家庭 {family} 的成员须在同一镇街、同一类别申请",
                        f"family {family}: members must share zone and category",
                    )
                    for number, _, _ in members
                )
        return found

    def _taken_families(self) -> dict[str, str]:
        """The family ids applications of the round already carry, with the first application
        number of each: read before the file's own rows are written. A form's family ids are
        new application numbers (`only`), which nothing else carries. No index leads there
        (one more on every application row would slow every import): the round's rows are
        read once."""
        if self.only:
            return {}
        query = (
            select(Application.family, func.min(Application.application_no))
            .where(Application.round_id == self.round_id, Application.family != "")
            .group_by(Application.family)
        )
        return dict(self.session.exec(query).all())


def sheet_order(sheet: Sheet, column: str) -> int:
    return sheet.header.index(column) if column in sheet.header else -1


def table_sha256(table: Table) -> str:
    """The digest of the table version a score was computed with (overlays resolved)."""
    return hashlib.sha256(table.model_dump_json(exclude={"path"}).encode()).hexdigest()


@dataclass(frozen=True)
class Imported:
    count: int
    first: str
    last: str

    def number(self, k: int) -> str:
        """The application number of the k-th application written (numbers are consecutive)."""
        prefix, _, first = self.first.rpartition("-")
        return f"{prefix}-{int(first) + k:06d}"


def import_applications(
    session: Session,
    actor: Actor,
    round_id: str,
    source: Path | Upload,
    keys: DataKeys,
    *,
    today: dt.date,
    verified: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Imported:
    """Check the whole file and (unless a dry run) write every application in the caller's
    transaction, or raise ImportRefused with every problem. Chunks already checked are written
    while the next ones are checked; the first problem stops the writing, and the refusal
    leaves the caller's transaction to roll back: nothing of a refused file is kept.
    `progress` is told (stage, rows done, rows in all) as the work goes on."""
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
    with _collector_paused(), bulk_writing(session):
        sheet = read_sheet(source)
        total = len(sheet.rows)
        if progress is not None:
            progress("check", 0, total)
        rules, problems = round_rules(
            session, actor, round_, sheet, keys, today=today, verified=verified
        )
        if rules is None:
            raise ImportRefused(problems, sheet)
        checks = FileChecks(session, round_, rules.titles)
        writer: Writer | None = None
        writing: _WritingThread | _Inline | None = None
        done = 0
        server = session.connection().dialect.name == "postgresql"
        try:
            for chunk in checked_chunks(rules, sheet.rows, server_writes=server):
                for result in chunk:
                    problems.extend(result.problems)
                    problems.extend(checks.add(result))
                if not problems and not dry_run:
                    if writer is None:
                        writer = Writer(session, actor, round_, sheet, total, verified)
                        writing = _writing(session, writer)
                    if writing.failed:
                        break  # its error is raised below
                    writing.put(chunk)
                done += len(chunk)
                if progress is not None:
                    progress("check", done, total)
        except BaseException:  # the writing stops before the session is used to roll back
            if writing is not None:
                writing.close(quietly=True)
            raise
        if writing is not None:  # every chunk handed over written, or the writer's error
            writing.close()
        problems.extend(checks.finish())
        if problems:
            problems.sort(key=lambda p: (p.row, sheet_order(sheet, p.column)))
            raise ImportRefused(problems, sheet)
        if writer is None:
            return Imported(total, "", "")
        imported = writer.finish()
        if progress is not None:
            progress("write", imported.count, imported.count)
        return imported


def _writing(session: Session, writer: Writer) -> _WritingThread | _Inline:
    """Where the chunks are written: beside the checking on PostgreSQL, whose server works in a
    process of its own; in this thread on SQLite, whose driver lets go of Python for each row
    inserted and waits to get it back from the checking thread (measured: the write phase of
    100,000 rows, 7 s in this thread, 19 s in a thread of its own)."""
    if session.connection().dialect.name == "sqlite":
        return _Inline(writer.write)
    return _WritingThread(writer.write)


class _Inline:
    """Each chunk written when it is handed over."""

    failed = False

    def __init__(self, write: Callable[[list[RowResult]], None]):
        self.put = write

    def close(self, *, quietly: bool = False) -> None:
        pass


class _WritingThread:
    """Writes the checked chunks handed to it, in order, in a thread of its own, while this
    thread goes on checking (the next chunks, when the helper processes are behind): the driver
    lets go of Python while the server works, so checking and writing overlap. Only this thread
    uses the session meanwhile; `close` waits for every chunk handed over, then raises the
    writer's error if it had one (the chunks after an error are not written). While it runs,
    Python hands its lock from thread to thread every 0.2 ms instead of 5: the writer takes it
    back after each wait for the server (thousands per file) and would otherwise wait up to
    5 ms each time for the checking thread to let go (measured, PostgreSQL, 100,000 rows on a
    busy machine: 36 s -> 25 s)."""

    SWITCH_INTERVAL = 0.0002

    def __init__(self, write: Callable[[list[RowResult]], None]):
        self.interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self.interval, self.SWITCH_INTERVAL))
        self.queue: queue.SimpleQueue[list[RowResult] | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._run, args=(write,), name="jifen-import-writer", daemon=True
        )
        self.thread.start()

    def _run(self, write: Callable[[list[RowResult]], None]) -> None:
        while (chunk := self.queue.get()) is not None:
            if self.error is None:
                try:
                    write(chunk)
                except BaseException as exc:  # raised again in the importing thread
                    self.error = exc

    @property
    def failed(self) -> bool:
        return self.error is not None

    def put(self, chunk: list[RowResult]) -> None:
        self.queue.put(chunk)

    def close(self, *, quietly: bool = False) -> None:
        self.queue.put(None)
        self.thread.join()
        sys.setswitchinterval(self.interval)
        if self.error is not None and not quietly:
            error, self.error = self.error, None
            raise error


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


class Writer:
    """Writes checked rows: applicants (once across rounds), applications with their numbers,
    claimed facts, score snapshots, and an audit entry for each. `source`: "import" (a file,
    whose import is one more audit entry), "online" or "counter" (one application)."""

    def __init__(
        self,
        session,
        actor,
        round_: Round,
        sheet: Sheet,
        count: int,
        verified: bool,
        source: str = "import",
    ):
        self.session, self.actor, self.round, self.verified = session, actor, round_, verified
        self.source = source
        self.now = utcnow()
        self.first = round_.next_number
        self.written = 0
        round_.next_number += count
        session.add(round_)
        table = get_table(round_.table_id)
        self.table_id, self.digest = table.id, table_sha256(table)
        self.state = "confirmed" if verified else "claimed"
        if source != "import":
            return
        record_many(
            session,
            actor,
            [
                Event(
                    "application.import",
                    object_type="round",
                    object_id=round_.id,
                    diff={
                        "file_sha256": sheet.sha256,
                        "applications": count,
                        "first": self.number(0),
                        "last": self.number(count - 1),
                        "verified": verified,
                    },
                )
            ],
        )

    def number(self, k: int) -> str:
        return f"{self.round.number_prefix}-{self.first + k:06d}"

    def status_of(self, prepared: Prepared) -> str:
        """Verifying; or, for facts verified elsewhere, settled: scored, or ineligible when a
        condition fails (as the verification itself decides)."""
        if not self.verified:
            return "verifying"
        return settled_status(prepared.eligible)

    def write(self, chunk: list[RowResult]) -> None:
        """The rows of a checked chunk, as tuples straight to the driver (`insert_tuples`): the
        values shared by every row of the file are given once, as constants."""
        session, now, verified = self.session, self.now, self.verified
        known = _known_applicants(session, [r.id_hash for r in chunk])
        fresh = [r for r in chunk if r.id_hash not in known]
        for result, new_id in zip(
            fresh, reserve_ids(session, Applicant.__table__, len(fresh)), strict=True
        ):
            known[result.id_hash] = new_id
        insert_tuples(
            session,
            Applicant.__table__,
            ("id", "id_number_hash", "id_number_enc", "name_hash", "name_enc", "phone_enc"),
            [
                (known[r.id_hash], r.id_hash, (p := r.prepared).id_number_enc, p.name_hash,
                 p.name_enc, p.phone_enc)
                for r in fresh
            ],
            {"created_at": now},
        )  # fmt: skip
        ids = reserve_ids(session, Application.__table__, len(chunk))
        prefix, first = self.round.number_prefix, self.first + self.written
        app_rows, fact_rows, snapshots, events = [], [], [], []
        facts = fact_rows.append
        for k, (app_id, r) in enumerate(zip(ids, chunk, strict=True)):
            p = r.prepared
            status = self.status_of(p)
            zone = r.zone
            app_rows.append(
                (app_id, f"{prefix}-{first + k:06d}", known[r.id_hash], zone, r.category,
                 r.family, p.choices, p.accept_any, status, p.ranking_cents, p.total_cents,
                 p.eligible)
            )  # fmt: skip
            if verified:
                for fact, department, claimed in p.facts:
                    facts((app_id, fact, department, zone, claimed, claimed))
            else:
                for fact, department, claimed in p.facts:
                    facts((app_id, fact, department, zone, claimed))
            snapshots.append(
                (app_id, p.total_cents, p.qualification_cents, p.ranking_cents, p.eligible,
                 p.result)
            )  # fmt: skip
            if self.source != "import":  # a file's applications: its one import entry
                events.append(
                    Event(
                        "application.create",
                        object_type="application",
                        object_id=app_rows[-1][1],
                        zone=zone,
                        diff={"category": r.category, "source": self.source, "status": status},
                    )
                )
        insert_tuples(
            session,
            Application.__table__,
            ("id", "application_no", "applicant_id", "zone_id", "category", "family", "choices",
             "accept_any_in_zone", "status", "ranking_cents", "total_cents", "eligible"),
            app_rows,
            {"round_id": self.round.id, "version": 1, "created_at": now, "source": self.source},
        )  # fmt: skip
        fact_columns = ("application_id", "fact", "department", "zone_id", "claimed")
        fact_constants: dict[str, Any] = {
            "state": self.state, "reason": "",
            "evidence": "由导入文件核验（--verified）" if verified else "",
            "verified_by": self.actor.username if verified else "",
            "verified_at": now if verified else None,
        }  # fmt: skip
        if verified:
            fact_columns += ("verified",)
        else:
            fact_constants["verified"] = None
        insert_tuples(session, ClaimedFact.__table__, fact_columns, fact_rows, fact_constants)
        insert_tuples(
            session,
            ScoreSnapshot.__table__,
            ("application_id", "total_cents", "qualification_cents", "ranking_cents",
             "eligible", "result"),
            snapshots,
            {"table_id": self.table_id, "table_sha256": self.digest,
             "basis": "verified" if verified else "claimed", "created_at": now},
        )  # fmt: skip
        if events:
            record_many(session, self.actor, events)
        self.written += len(chunk)

    def finish(self) -> Imported:
        self.session.flush()
        return Imported(self.written, self.number(0), self.number(self.written - 1))


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
    """The report (`report_bytes`) written to `out` (`--report OUT.xlsx`)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(report_bytes(sheet, problems))


def report_bytes(sheet: Sheet, problems: list[Problem]) -> bytes:
    """The file back as XLSX: every bad cell filled red with its reason as a comment, and a
    last column 错误原因 with every reason of the row."""

    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill

    from app.xlsx_out import workbook_bytes

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
    return workbook_bytes(book)  # no temporary file: the rows hold names and ID numbers
