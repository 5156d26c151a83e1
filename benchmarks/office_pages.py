"""The office's application list and a reviewer's queue at 100,000 applications, under gunicorn
with 2 workers; and a reviewer's bulk confirmation of 1,000 facts.

Run: uv run python benchmarks/office_pages.py [--applications 100000] [--requests 300]

Seeds a SQLite database (a round of the test fixtures, an admin, N applications imported through
the real importer), starts gunicorn (2 workers) on a free local port, logs in over HTTP, then
times GET /office/rounds/<round>/applications for page 500 (and a filtered page) and a 人社
reviewer's GET /office/queue (first page, page 500, one zone) and prints p50 and p99. Then it
confirms the 1,000 waiting 人社 facts of 500 applications with `confirm_many` (the operation
behind the queue's bulk action) in one transaction. Targets on a 2-core machine: p99 <= 100 ms;
1,000 facts confirmed in <= 5 s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "office")]

from machine import speed_line  # noqa: E402
from office_helpers import good_rows, write_csv  # noqa: E402

from app.accounts.actor import Actor  # noqa: E402
from app.accounts.operations import create_user  # noqa: E402
from app.applications.importer import import_applications  # noqa: E402
from app.db import make_engine, transaction  # noqa: E402
from app.localtime import beijing_today  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.protect import DataKeys  # noqa: E402
from app.rounds.operations import create_round  # noqa: E402

SECRET = "office benchmark data key, long enough"
PASSWORD = "benchmark password 1"


def seed(folder: Path, n: int) -> str:
    url = f"sqlite:///{folder / 'office.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    config = json.loads((ROOT / "tests/office/fixtures/zs-2026-p1.json").read_text("utf-8"))
    config["categories"][0]["total"] = n
    city = Actor.command_line()
    with transaction(engine) as session:
        create_round(session, city, config, today=beijing_today())
        create_user(session, city, "bench-admin", PASSWORD, role="admin")
        create_user(session, city, "bench-clerk", PASSWORD, role="clerk", zones=["shiqi"])
        create_user(session, city, "bench-hrss", PASSWORD, role="reviewer", department="hrss")
    path = write_csv(folder / "in.csv", good_rows(n))
    start = time.perf_counter()
    with transaction(engine) as session:
        import_applications(
            session, city, "zs-2026-p1", path, DataKeys.from_secret(SECRET), today=beijing_today()
        )
    print(f"seeded {n:,} applications in {time.perf_counter() - start:.1f} s")
    engine.dispose()
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def login(port: int, username: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/office/login")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrf_token": token})
    conn.request(
        "POST", "/office/login", body,
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )  # fmt: skip
    response = conn.getresponse()
    response.read()
    assert response.status == 302, response.status
    return response.getheader("Set-Cookie").split(";")[0]


def timed(port: int, cookie: str, path: str, count: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status == 200 and b"ZS2026-P1-" in body, (response.status, path)
    return times


def report(label: str, times: list[float]) -> None:
    times = sorted(times)
    p99 = times[max(0, int(len(times) * 0.99) - 1)]
    print(
        f"{label}: p50 {statistics.median(times):.1f} ms, p99 {p99:.1f} ms ({len(times)} requests)"
    )


def bulk_confirm(url: str, applications: int) -> None:
    from app.verification.operations import confirm_many

    engine = make_engine(url)
    reviewer = Actor("bench-hrss", "reviewer", department="hrss")
    numbers = [f"ZS2026-P1-{k:06d}" for k in range(1, applications + 1)]
    start = time.perf_counter()
    with transaction(engine) as session:
        confirmed = confirm_many(
            session, reviewer, DataKeys.from_secret(SECRET), numbers,
            evidence="与人社系统比对一致", today=beijing_today(),
        )  # fmt: skip
    seconds = time.perf_counter() - start
    verdict = "ok" if seconds <= 5 * confirmed / 1000 else "SLOWER than target"
    print(
        f"bulk confirm: {confirmed:,} facts of {applications:,} applications in {seconds:.2f} s "
        f"({confirmed / seconds:,.0f} facts/s); target <= 5 s per 1,000: {verdict}"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--applications", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    print(speed_line(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = seed(folder, args.applications)
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "JIFEN_DATA_KEY": SECRET,
            "SECRET_KEY": "office benchmark secret key, long enough",
            "RATELIMIT_ENABLED": "0",
            "JIFEN_ACCESS_LOG": "",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
             "app:create_app()"],
            cwd=ROOT, env=env, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            admin = login(port, "bench-admin")
            clerk = login(port, "bench-clerk")
            base = "/office/rounds/zs-2026-p1/applications"
            last = max(1, args.applications // 50)
            page = min(500, last)
            timed(port, admin, f"{base}?page={page}", 10)  # warm up both workers
            report(
                f"admin, page {page} of {last}",
                timed(port, admin, f"{base}?page={page}", args.requests),
            )
            filtered = f"{base}?zone=shiqi&min=30&max=80&sort=points&page=10"
            report(
                "admin, zone + points filter, page 10", timed(port, admin, filtered, args.requests)
            )
            clerk_page = min(100, last // 2)
            report(
                f"clerk (one zone), page {clerk_page}",
                timed(port, clerk, f"{base}?page={clerk_page}", args.requests),
            )
            reviewer = login(port, "bench-hrss")
            timed(port, reviewer, "/office/queue", 10)
            report(
                "人社 reviewer, queue page 1", timed(port, reviewer, "/office/queue", args.requests)
            )
            deep = min(500, last)
            report(
                f"人社 reviewer, queue page {deep}",
                timed(port, reviewer, f"/office/queue?page={deep}", args.requests),
            )
            report(
                "人社 reviewer, queue of one zone",
                timed(port, reviewer, "/office/queue?zone=dongqu", args.requests),
            )
            bulk_confirm(url, min(500, args.applications))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
    print("rerun: uv run python benchmarks/office_pages.py --applications", args.applications)


if __name__ == "__main__":
    main()
