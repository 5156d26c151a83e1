"""Office benchmark: bulk import and audit-chain verification, on SQLite and PostgreSQL.

    uv run python benchmarks/office.py                          # 100,000 rows, 1,000,000 entries
    uv run python benchmarks/office.py --rows 5000 --audit-entries 50000
    uv run python benchmarks/office.py --databases sqlite --formats csv
    uv run python benchmarks/office.py --pages --rows 0 --audit-entries 0   # the pages only

Import: N synthetic applications of the demo school round (app/demo.py: valid ID numbers, facts
that fit each birth date, families, school choices) written once as CSV and once as XLSX
(openpyxl), then `import_applications` timed inside `app.db.transaction` (read, check, score,
encrypt, insert, audit, commit) on a fresh database each time, with the time of each phase.
Targets (2-core machine): 100,000 rows from CSV <= 15 s on each database, from XLSX <= 40 s
(scaled in proportion for another --rows). On PostgreSQL it also prints what the server alone
takes to `COPY` the rows the import stored into a fresh database (no client can be faster on
that server), and at the start and end a reference loop's CPU time: the machine's speed at the
moment, to compare runs of different days by.

Pages (`--pages`): benchmarks/office_pages.py at --rows applications (100,000 by default) — the
application list and a reviewer's queue under gunicorn with 2 workers (p99 <= 100 ms) and a
reviewer's bulk confirmation of 1,000 facts (<= 5 s).

Audit: N entries appended with `record_many` in batches (timed too, not a target), then
`verify_chain` timed in-process, and `jifen audit verify` end to end as a child process.
Target: >= 200,000 entries/s.

SQLite is a file in a temporary directory (WAL, synchronous=NORMAL, as deployed); PostgreSQL is
a throwaway cluster started by tests/office/pg_cluster.py, as for the tests (initdb as the
postgres user, a socket in a temporary directory, fsync off), and stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "office")]

from machine import reference_loop, speed_line  # noqa: E402
from pg_cluster import new_database, postgres_cluster  # noqa: E402

from app.accounts.actor import Actor  # noqa: E402
from app.applications import importer  # noqa: E402
from app.audit.operations import Event, record_many, verify_chain  # noqa: E402
from app.db import make_engine, transaction  # noqa: E402
from app.demo import (  # noqa: E402
    MIDDLE,
    PRIMARY,
    SCHOOL_ROUND,
    People,
    school_round,
    school_rows,
    write_csv,
)
from app.localtime import beijing_today  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.protect import DataKeys  # noqa: E402
from app.rounds.operations import create_round  # noqa: E402

SECRET = "benchmark data key, long enough for the HKDF input"
KEYS = DataKeys.from_secret(SECRET)
CITY = Actor("cli:benchmark", "admin")
TODAY = beijing_today()
TARGETS = {"csv": 15.0, "xlsx": 40.0}  # seconds for 100,000 rows
AUDIT_TARGET = 200_000  # entries/s


# ---- databases --------------------------------------------------------------------------------


class Databases:
    """Fresh, migrated databases on demand: SQLite files, PostgreSQL databases."""

    def __init__(self, folder: Path, sockets: str | None):
        self.folder, self.sockets, self.made = folder, sockets, 0

    def url(self, kind: str) -> str:
        self.made += 1
        if kind == "sqlite":
            return f"sqlite:///{self.folder / f'bench{self.made}.sqlite'}"
        return new_database(self.sockets, f"bench{self.made}")

    def fresh(self, kind: str) -> tuple[Engine, str]:
        url = self.url(kind)
        engine = make_engine(url)
        upgrade(engine)
        return engine, url


# ---- import ---------------------------------------------------------------------------------


def make_files(rows: int, folder: Path) -> dict[str, Path]:
    start = time.perf_counter()
    people = People(random.Random(2026), TODAY)
    header, data = school_rows(people, {PRIMARY: rows * 4 // 5, MIDDLE: rows - rows * 4 // 5})
    made = time.perf_counter() - start
    csv_path = write_csv(folder / "import.csv", header, data)
    start = time.perf_counter()
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("申请")
    sheet.append(header)
    for row in data:
        sheet.append(row)
    xlsx_path = folder / "import.xlsx"
    book.save(xlsx_path)
    wrote = time.perf_counter() - start
    sizes = (
        f"CSV {csv_path.stat().st_size / 1e6:.1f} MB, XLSX {xlsx_path.stat().st_size / 1e6:.1f} MB"
    )
    print(f"{rows:,} rows generated in {made:.1f} s; XLSX written in {wrote:.1f} s ({sizes})")
    return {"csv": csv_path, "xlsx": xlsx_path}


@contextlib.contextmanager
def phase_timer() -> Iterator[dict[str, float]]:
    """Time spent reading the file, writing chunks (in the importer's writing thread, beside the
    checking) and waiting at the end for the writes still queued, by wrapping the importer's
    functions; the rest of the import is checking (here and in the helper processes)."""
    times: dict[str, float] = {}
    wrapped = [
        (importer, "read_sheet", "read"),
        (importer.Writer, "write", "write"),
        (importer._WritingThread, "close", "last writes"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in wrapped]

    def timed(label, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                times[label] = times.get(label, 0.0) + time.perf_counter() - start

        return wrapper

    for (owner, name, label), (_, _, function) in zip(wrapped, originals, strict=True):
        setattr(owner, name, timed(label, function))
    try:
        yield times
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)


IMPORTED_TABLES = ("applicant", "application", "claimed_fact", "score_snapshot")


def server_alone(databases: Databases, source: Engine) -> float:
    """What PostgreSQL itself takes to write the rows an import stored: they are copied out,
    then `COPY`-ed into a fresh database with the same round, in one transaction, as the import
    writes them. No client can import faster than this on the same server."""
    dumps = {}
    with source.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        for table in IMPORTED_TABLES:
            with cursor.copy(f"COPY {table} TO STDOUT") as copy:
                dumps[table] = b"".join(bytes(block) for block in copy)
    engine, _ = databases.fresh("postgresql")
    with transaction(engine) as session:
        create_round(session, CITY, school_round(TODAY), today=TODAY)
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        start = time.perf_counter()
        with driver.cursor() as cursor:
            for table in IMPORTED_TABLES:
                with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                    copy.write(dumps[table])
        driver.commit()
        seconds = time.perf_counter() - start
    engine.dispose()
    return seconds


def time_import(databases: Databases, kind: str, path: Path) -> tuple[float, dict[str, float], int]:
    engine, _ = databases.fresh(kind)
    with transaction(engine) as session:
        create_round(session, CITY, school_round(TODAY), today=TODAY)
    with phase_timer() as phases:
        start = time.perf_counter()
        with transaction(engine) as session:
            done = importer.import_applications(
                session, CITY, SCHOOL_ROUND, path, KEYS, today=TODAY
            )
            imported = time.perf_counter() - start
        seconds = time.perf_counter() - start
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM application")).scalar_one()
    assert done.count == stored, (done.count, stored)
    if kind == "postgresql":
        phases["PostgreSQL alone, the same rows"] = server_alone(databases, engine)
    engine.dispose()
    phases["check"] = imported - phases.get("read", 0.0) - phases.get("last writes", 0.0)
    phases["commit"] = seconds - imported
    order = ("read", "check", "write", "last writes", "commit", "PostgreSQL alone, the same rows")
    # write: beside the checking; PostgreSQL alone: not part of the import's time
    phases = {k: phases[k] for k in order if k in phases}
    return seconds, phases, stored


# ---- audit -----------------------------------------------------------------------------------


def append_entries(engine: Engine, entries: int, batch: int = 50_000) -> float:
    rng = random.Random(7)
    zones = ("shiqi", "dongqu", "xiqu", "huoju", "xiaolan", "guzhen", "tanzhou", "sanxiang")
    start = time.perf_counter()
    written = 0
    while written < entries:
        n = min(batch, entries - written)
        events = [
            Event(
                "application.create",
                object_type="application",
                object_id=f"ZSDEMO-SCHOOL-{written + k + 1:06d}",
                zone=rng.choice(zones),
                diff={"category": "school-p1", "source": "import", "status": "verifying"},
            )
            for k in range(n)
        ]
        with transaction(engine) as session:
            record_many(session, CITY, events)
        written += n
    return time.perf_counter() - start


def time_audit(databases: Databases, kind: str, entries: int) -> dict[str, float]:
    engine, url = databases.fresh(kind)
    appended = append_entries(engine, entries)
    start = time.perf_counter()
    with transaction(engine, write=False) as session:
        report = verify_chain(session)
    verified = time.perf_counter() - start
    assert report.ok and report.entries == entries, report
    engine.dispose()
    env = {**os.environ, "DATABASE_URL": url, "JIFEN_DATA_KEY": SECRET}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "app.cli", "audit", "verify"],
        check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    command = time.perf_counter() - start
    return {"append": appended, "verify": verified, "command": command}


# ---- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the import files")
    parser.add_argument("--audit-entries", type=int, default=1_000_000, help="audit entries")
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--formats", default="csv,xlsx", help="csv,xlsx")
    parser.add_argument("--pages", action="store_true", help="also time the office pages")
    args = parser.parse_args()
    kinds = [k for k in args.databases.split(",") if k]
    formats = [f for f in args.formats.split(",") if f]
    if set(kinds) - {"sqlite", "postgresql"} or set(formats) - {"csv", "xlsx"}:
        parser.error("--databases takes sqlite,postgresql; --formats takes csv,xlsx")
    print(f"office benchmark, {os.cpu_count()} CPUs, reference date {TODAY}")
    speed = speed_line()
    print(speed, flush=True)
    scale = args.rows / 100_000
    results: list[str] = []
    with tempfile.TemporaryDirectory(prefix="jifen-bench-") as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        sockets = stack.enter_context(postgres_cluster()) if "postgresql" in kinds else None
        databases = Databases(folder, sockets)
        if args.rows > 0 and formats:
            files = make_files(args.rows, folder)
            for kind in kinds:
                for fmt in formats:
                    seconds, phases, stored = time_import(databases, kind, files[fmt])
                    target = TARGETS[fmt] * scale
                    detail = ", ".join(f"{k} {v:.1f} s" for k, v in phases.items())
                    verdict = "ok" if seconds <= target else "SLOWER than target"
                    line = (
                        f"import {fmt.upper():4} {kind:10} {stored:,} rows: {seconds:6.1f} s "
                        f"({stored / seconds:,.0f} rows/s; {detail}); target <= {target:.1f} s: "
                        f"{verdict}"
                    )
                    print(line, flush=True)
                    results.append(line)
        if args.audit_entries > 0:
            for kind in kinds:
                t = time_audit(databases, kind, args.audit_entries)
                n = args.audit_entries
                rate, command_rate = n / t["verify"], n / t["command"]
                verdict = "ok" if command_rate >= AUDIT_TARGET else "SLOWER than target"
                line = (
                    f"audit {kind:10} {n:,} entries: appended in {t['append']:.1f} s "
                    f"({n / t['append']:,.0f}/s); verify_chain {t['verify']:.2f} s "
                    f"({rate:,.0f} entries/s); `jifen audit verify` {t['command']:.2f} s "
                    f"({command_rate:,.0f} entries/s); target >= {AUDIT_TARGET:,}/s: {verdict}"
                )
                print(line, flush=True)
                results.append(line)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MB")
    if args.pages:  # its own process: it serves a database of its own under gunicorn
        pages = Path(__file__).with_name("office_pages.py")
        applications = args.rows or 100_000
        subprocess.run(
            [sys.executable, str(pages), "--applications", str(applications)], check=True
        )
    print("\nsummary:")
    print(f"  {speed} before, {reference_loop():.2f} s after")
    for line in results:
        print("  " + line)
    print(
        "rerun: uv run python benchmarks/office.py "
        f"--rows {args.rows} --audit-entries {args.audit_entries} "
        f"--databases {','.join(kinds)} --formats {','.join(formats)}"
        + (" --pages" if args.pages else "")
    )


if __name__ == "__main__":
    main()
