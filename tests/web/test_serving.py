"""`make run`'s server (gunicorn.conf.py, app/serving.py) against slow and broken clients: slow
clients do not stall the site, a silent one is dropped, gunicorn's own error pages are Chinese,
and the access log never holds a query string (the checker's answers)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("serving")

ROOT = Path(__file__).resolve().parents[2]
SILENCE = 2  # seconds a client may stay silent (JIFEN_CLIENT_TIMEOUT of this server)
THREADS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[int, Path]]:
    port = free_port()
    log = tmp_path_factory.mktemp("serving") / "gunicorn.log"
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "JIFEN_WORKERS": "1",
        "JIFEN_THREADS": str(THREADS),
        "JIFEN_CLIENT_TIMEOUT": str(SILENCE),
        "SECRET_KEY": "serving-test-key-" + "x" * 32,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "app:create_app()"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if get(port, "/")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.2)
            else:
                pytest.fail(log.read_text())
            yield port, log
        finally:
            process.terminate()
            process.wait(10)


def get(port: int, path: str, timeout: float = 15) -> tuple[int, str, float]:
    """Status, body and seconds of one GET over a fresh connection."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode("utf-8", "replace"), time.monotonic() - start


def slow_client(port: int) -> socket.socket:
    """A client that declares a body and sends one byte of it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(
        b"POST /check/zhongshan-2025-school HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\na"
    )
    return s


def test_two_slow_clients_do_not_stall_the_site(server):
    port, _ = server
    slow = [slow_client(port) for _ in range(2)]
    try:
        time.sleep(0.3)
        status, body, seconds = get(port, "/")
        assert status == 200 and "积分测算" in body
        assert seconds < 1.0, seconds
    finally:
        for s in slow:
            s.close()


def test_a_silent_client_is_dropped_and_its_thread_freed(server):
    port, _ = server
    slow = [slow_client(port) for _ in range(THREADS)]  # every thread of the worker
    try:
        start = time.monotonic()
        status, _, _ = get(port, "/")
        waited = time.monotonic() - start
        assert status == 200
        # not forever (plain gthread waits as long as the clients do): the silent ones were
        # dropped after SILENCE seconds (the margin is for a machine busy with other tests)
        assert waited < SILENCE + 10, waited
        for s in slow:  # the server closed them (an error page or nothing, then EOF)
            s.settimeout(SILENCE + 10)
            while s.recv(65536):
                pass
    finally:
        for s in slow:
            s.close()


def test_gunicorns_own_error_pages_are_chinese(server):
    port, _ = server
    status, body, _ = get(port, "/" + "x" * 5000)
    assert status == 414
    assert "链接太长" in body and '<html lang="zh-CN">' in body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"NOT A REQUEST\r\n\r\n")
        answer = s.recv(65536).decode("utf-8", "replace")
    assert answer.startswith("HTTP/1.1 400") and "请求有误" in answer


def test_the_access_log_has_paths_but_never_query_strings(server):
    port, log = server
    get(port, "/check/zhongshan-2025-school/result?a=ANSWERS-MARKER")
    time.sleep(0.5)
    text = log.read_text()
    assert "/check/zhongshan-2025-school/result" in text
    assert "ANSWERS-MARKER" not in text


def test_the_access_log_never_holds_a_certificates_code(server):
    port, log = server
    get(port, "/verify/CODEMARKER-eNq71OK7iFGd_x")  # whatever the page answers
    time.sleep(0.5)
    text = log.read_text()
    assert '"GET /verify/… HTTP/1.1"' in text, text[-3000:]
    assert "CODEMARKER" not in text, [line for line in text.splitlines() if "CODEMARKER" in line]
