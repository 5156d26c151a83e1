"""Benchmark the web app under gunicorn as `make run` serves it (gunicorn.conf.py: 2 gthread
workers): POST /api/v1/score and the checker's result page (GET of the result URL a form
submission redirects to: the score, the suggestions, the comparison).

Starts gunicorn on a free local port, then drives it at a fixed concurrency with ApacheBench
(`ab`, Debian package apache2-utils: a C client that leaves the CPU to the server) or, where ab
is missing, with a small asyncio client (Python: it takes a good part of the CPU itself, so its
figures are lower). One connection per request. Prints requests/s, p50/p90/p99 latency and
the error count per endpoint.

    apt-get install apache2-utils                  # once, for ab
    uv run python benchmarks/web.py                # 10 s per endpoint, concurrency 4
    uv run python benchmarks/web.py --seconds 20 --concurrency 8 --client python

Target on a 2-core machine: >= 500 requests/s on the API with p99 <= 50 ms and no errors.
Rate limits are raised for the run (JIFEN_RATELIMIT_API/FORM), everything else is as deployed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
TABLE = "zhongshan-2020-school"
FACTS = {
    "education": "bachelor", "insured_months_city": 36, "home_share": 1,
    "residence_permit_held": True, "insured_last_month_city": True, "child_grade": "primary1",
}  # fmt: skip
# The same answers as the checker form's fields (years and months, a home owned alone).
FORM_FIELDS = {
    "education": "bachelor", "insured_months_city__months": "36", "home_share__owned": "sole",
    "local_hukou": "n", "residence_permit_held": "y", "insured_last_month_city": "y",
    "child_grade": "primary1",
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "JIFEN_WORKERS": str(workers),
        "JIFEN_ACCESS_LOG": "",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JIFEN_RATELIMIT_API": "10000000 per minute",
        "JIFEN_RATELIMIT_FORM": "10000000 per minute",
    }
    cmd = [
        sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
        "--log-level", "warning", "app:create_app()",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/tables", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def raw_request(method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def one(port: int, payload: bytes) -> tuple[float, int]:
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data[9:12]) if data.startswith(b"HTTP/1.") else 0
    return time.perf_counter() - start, status


async def drive(port: int, payload: bytes, seconds: float, concurrency: int, warmup: float):
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + warmup + seconds
    measure_from = time.perf_counter() + warmup

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            try:
                took, status = await one(port, payload)
            except OSError:
                took, status = 0.0, 0
            if began >= measure_from:
                latencies.append(took)
                if status != 200:
                    errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def result_path(port: int) -> str:
    """The result page of one real form submission (session cookie and CSRF token of a GET of
    the form; the POST answers with a redirect to the result URL, which urllib follows)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/check/{TABLE}") as r:
        page = r.read().decode()
        cookie = r.headers["Set-Cookie"].split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    body = urlencode({"csrf_token": token, **FORM_FIELDS}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/check/{TABLE}", data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )  # fmt: skip
    with urllib.request.urlopen(request) as r:
        url = urlsplit(r.geturl())
    return f"{url.path}?{url.query}"


def run_ab(port: int, path: str, body: bytes, headers: dict[str, str], args) -> tuple[dict, int]:
    """ApacheBench for `args.seconds` (after a warm-up run): (percentiles in ms, errors)."""
    with tempfile.TemporaryDirectory() as tmp:
        post, csv = Path(tmp) / "body", Path(tmp) / "pct.csv"
        cmd = ["ab", "-q", "-c", str(args.concurrency)]
        if body is not None:
            post.write_bytes(body)
            cmd += ["-p", str(post), "-T", headers["Content-Type"]]
        if "Cookie" in headers:
            cmd += ["-H", f"Cookie: {headers['Cookie']}"]
        url = f"http://127.0.0.1:{port}{path}"
        subprocess.run([*cmd, "-t", str(args.warmup), "-n", "10000000", url], check=True,
                       capture_output=True)  # fmt: skip
        out = subprocess.run(
            [*cmd, "-t", str(args.seconds), "-n", "10000000", "-e", str(csv), url],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        pct = {}
        for line in csv.read_text().splitlines()[1:]:
            p, ms = line.split(",")
            pct[int(float(p))] = float(ms)
    field = lambda name: re.search(rf"^{name}:\s+([\d.]+)", out, re.M)  # noqa: E731
    complete = int(field("Complete requests").group(1))
    failed = int(field("Failed requests").group(1))
    non2xx = field("Non-2xx responses")
    taken = float(field("Time taken for tests").group(1))
    errors = failed + (int(non2xx.group(1)) if non2xx else 0)
    return {"requests": complete, "seconds": taken, "pct": pct}, errors


def ab_report(name: str, run: dict, errors: int) -> dict:
    pct = run["pct"]
    row = {
        "endpoint": name,
        "client": "ab",
        "requests": run["requests"],
        "rps": round(run["requests"] / run["seconds"], 1),
        "p50_ms": pct[50],
        "p90_ms": pct[90],
        "p99_ms": pct[99],
        "errors": errors,
    }
    print(
        f"{name:40} {row['rps']:8.1f} req/s   p50 {row['p50_ms']:6.2f} ms   "
        f"p90 {row['p90_ms']:6.2f} ms   p99 {row['p99_ms']:6.2f} ms   errors {errors}"
    )
    return row


def report(name: str, latencies: list[float], errors: int, seconds: float) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100) if len(ms) > 1 else [0.0] * 99
    row = {
        "endpoint": name,
        "client": "python",
        "requests": len(ms),
        "rps": round(len(ms) / seconds, 1),
        "p50_ms": round(q[49], 2),
        "p90_ms": round(q[89], 2),
        "p99_ms": round(q[98], 2),
        "errors": errors,
    }
    print(
        f"{name:40} {row['rps']:8.1f} req/s   p50 {row['p50_ms']:6.2f} ms   "
        f"p90 {row['p90_ms']:6.2f} ms   p99 {row['p99_ms']:6.2f} ms   errors {errors}"
    )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", choices=["auto", "ab", "python"], default="auto")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    client = args.client
    if client == "auto":
        client = "ab" if shutil.which("ab") else "python"
        if client == "python":
            print("ab not found (apt-get install apache2-utils): using the slower Python client")

    port = free_port()
    proc = start_gunicorn(port, args.workers)
    rows = []
    try:
        api_body = json.dumps({"table": TABLE, "facts": FACTS}).encode()
        result = result_path(port)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            f"gunicorn --workers {args.workers}, client {client}, concurrency "
            f"{args.concurrency}, {args.seconds:g} s per endpoint, {os.cpu_count()} CPUs, "
            f"load average before the run {load}"
        )
        for name, path, body, headers in [
            ("POST /api/v1/score", "/api/v1/score", api_body, {"Content-Type": "application/json"}),
            (f"GET /check/{TABLE}/result (result page)", result, None, {}),
        ]:
            if client == "ab":
                run, errors = run_ab(port, path, body, headers, args)
                rows.append(ab_report(name, run, errors))
            else:
                method = "GET" if body is None else "POST"
                payload = raw_request(method, path, body or b"", headers)
                latencies, errors = asyncio.run(
                    drive(port, payload, args.seconds, args.concurrency, args.warmup)
                )
                rows.append(report(name, latencies, errors, args.seconds))
    finally:
        proc.terminate()
        proc.wait(10)
    api = rows[0]
    met = api["rps"] >= 500 and api["p99_ms"] <= 50 and api["errors"] == 0
    print(f"API target (>= 500 req/s, p99 <= 50 ms, no errors): {'met' if met else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    print("rerun: uv run python benchmarks/web.py " + shlex.join(sys.argv[1:]))
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
