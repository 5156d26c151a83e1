"""Certificates benchmark: one batch of N certificates (ms per page, peak memory of the process
and its rendering helpers), then `/verify/<code>` under gunicorn with 2 workers.

    uv run python benchmarks/certificates.py                  # 1,000 certificates, SQLite
    uv run python benchmarks/certificates.py --database postgresql --certificates 500

The round is the demo school round (app/demo.py), its applications imported as verified,
allocated, published and finalized with 0 publicity days; enough applications are imported for
N admitted. The batch is timed end to end as `jifen certificates print` does it (issue in one
transaction, render, record the copies in another), once cold (it issues every certificate)
and once again (the same certificates, a reprint of the batch). Each verification writes its
audit entry. Targets on this 2-core machine: <= 20 ms per page, <= 1 GB peak; verify p99 <= 50
ms.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "office"), str(ROOT / "benchmarks")]

from machine import speed_line  # noqa: E402
from office_pages import free_port, report  # noqa: E402

from app.accounts.actor import Actor  # noqa: E402
from app.applications.importer import import_applications  # noqa: E402
from app.certificates.operations import Signer  # noqa: E402
from app.certificates.printing import print_batch  # noqa: E402
from app.certificates.signing import load_signing_key, write_new_key  # noqa: E402
from app.db import make_engine, transaction  # noqa: E402
from app.demo import MIDDLE, PRIMARY, SCHOOL_ROUND, People, school_round, school_rows  # noqa: E402
from app.demo import write_csv as write_demo_csv  # noqa: E402
from app.localtime import beijing_today  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.protect import DataKeys  # noqa: E402
from app.publicity.operations import finalize, publish  # noqa: E402
from app.rounds.allocation import allocate_round  # noqa: E402
from app.rounds.operations import create_round  # noqa: E402

SECRET = "certificates benchmark data key, long enough"
CITY = Actor("cli:benchmark", "admin")
PAGE_TARGET, MEMORY_TARGET, VERIFY_TARGET = 20.0, 1024.0, 50.0  # ms, MB, ms


def seed(url: str, folder: Path, wanted: int) -> None:
    """A final round with at least `wanted` admitted applications."""
    engine = make_engine(url)
    upgrade(engine)
    today = beijing_today()
    config = school_round(today - dt.timedelta(days=120))
    config.update(publicity_days=0, objection_days=0)
    with transaction(engine) as session:
        create_round(session, CITY, config, today=today - dt.timedelta(days=200))
    people = People(random.Random(2026), today)
    n = wanted * 120 // 100  # about 85 % of the demo's applicants are admitted
    header, rows = school_rows(people, {PRIMARY: n * 4 // 5, MIDDLE: n - n * 4 // 5})
    path = write_demo_csv(folder / "round.csv", header, rows)
    with transaction(engine) as session:
        import_applications(session, CITY, SCHOOL_ROUND, path, DataKeys.from_secret(SECRET),
                            today=today - dt.timedelta(days=121), verified=True)  # fmt: skip
    for act in (allocate_round, publish, finalize):
        with transaction(engine) as session:
            act(session, CITY, SCHOOL_ROUND, today=today)
    engine.dispose()


class Peak:
    """The largest resident memory of this process and its children together, sampled."""

    def __init__(self) -> None:
        self.mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.mb = max(self.mb, sum(_rss(pid) for pid in _tree(os.getpid())) / 1024)


def _tree(pid: int) -> list[int]:
    found = [pid]
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                for child in handle.read().split():
                    found.extend(_tree(int(child)))
    return found


def _rss(pid: int) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def time_batch(url: str, wanted: int, folder: Path) -> list[str]:
    engine = make_engine(url)
    signer = Signer(load_signing_key({"JIFEN_SIGNING_KEY": str(folder / "signing.pem")}))
    keys = DataKeys.from_secret(SECRET)
    codes: list[str] = []
    for label in ("first print (issues every certificate)", "the same batch again"):
        with Peak() as peak:
            start = time.perf_counter()
            printed = print_batch(
                engine, CITY, keys, signer, SCHOOL_ROUND, zone=None, today=beijing_today(),
                public_url="https://jifen.example.cn",
            )  # fmt: skip
            seconds = time.perf_counter() - start
        pages = len(printed.prepared.pages)
        per_page = seconds * 1000 / pages
        print(f"  {label}: {pages:,} pages in {seconds:.1f} s = {per_page:.1f} ms/page, "
              f"{len(printed.pdf) / 1e6:.1f} MB PDF, peak {peak.mb:.0f} MB")  # fmt: skip
        verdict = "ok" if per_page <= PAGE_TARGET and peak.mb <= MEMORY_TARGET else "MISSED"
        print(f"    target <= {PAGE_TARGET:.0f} ms/page, <= {MEMORY_TARGET:.0f} MB: {verdict}")
        codes = [page.verify_url.rsplit("/", 1)[1] for page in printed.prepared.pages]
    if len(codes) < wanted:
        print(f"  (only {len(codes):,} admitted: pass a larger --certificates)")
    engine.dispose()
    return codes


def time_verify(url: str, codes: list[str], requests: int, folder: Path) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "JIFEN_DATA_KEY": SECRET, "RATELIMIT_ENABLED": "0",
           "SECRET_KEY": "certificates benchmark secret key, long enough",
           "JIFEN_SIGNING_KEY": str(folder / "signing.pem"), "JIFEN_ACCESS_LOG": ""}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "app:create_app()"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                http.client.HTTPConnection("127.0.0.1", port, timeout=0.2).connect()
                break
            time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        times = []
        for k in range(requests + 10):
            start = time.perf_counter()
            conn.request("GET", f"/verify/{codes[k % len(codes)]}")
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200 and "有效".encode() in body, response.status
            if k >= 10:  # the first ten warm both workers up
                times.append((time.perf_counter() - start) * 1000)
        report("  /verify/<code>", times)
        p99 = sorted(times)[max(0, int(len(times) * 0.99) - 1)]
        verdict = "ok" if p99 <= VERIFY_TARGET else "SLOWER than target"
        print(f"    target p99 <= {VERIFY_TARGET:.0f} ms: {verdict}")
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--certificates", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    print(speed_line(), flush=True)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        write_new_key(folder / "signing.pem")
        if args.database == "postgresql":
            from pg_cluster import new_database, postgres_cluster

            url = new_database(stack.enter_context(postgres_cluster()), "certs")
        else:
            url = f"sqlite:///{folder / 'certificates.sqlite'}"
        start = time.perf_counter()
        seed(url, folder, args.certificates)
        print(f"{args.database}: seeded a final round in {time.perf_counter() - start:.1f} s")
        codes = time_batch(url, args.certificates, folder)
        time_verify(url, codes, args.requests, folder)


if __name__ == "__main__":
    main()
