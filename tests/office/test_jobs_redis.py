"""The job queue on Redis (`JIFEN_QUEUE_URL`), against a real redis-server that the test
starts on a loopback port: a round's allocation queued by the office, taken from Redis by a
consumer and run."""

from __future__ import annotations

import datetime as dt
import importlib
import shutil
import socket
import subprocess
import time

import pytest
from office_helpers import good_rows, round_config, write_csv
from sqlmodel import select

from app import db as app_db
from app.accounts.actor import Actor
from app.applications.importer import import_applications
from app.db import transaction
from app.rounds.models import AllocationRun
from app.rounds.operations import create_round

CITY = Actor.command_line()


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is missing: run `make system-packages`")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def test_an_allocation_goes_through_redis_to_a_consumer(
    redis_url, engine, keys, tmp_path, monkeypatch
):
    import app.jobs

    config = round_config()
    config["application_window"] = ["2026-01-05", "2026-02-05"]
    with transaction(engine) as session:
        create_round(session, CITY, config, today=dt.date(2026, 1, 1))
    with transaction(engine) as session:
        rows = write_csv(tmp_path / "in.csv", good_rows(8))
        import_applications(session, CITY, "zs-2026-p1", rows, keys,
                            today=dt.date(2026, 1, 10), verified=True)  # fmt: skip
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("JIFEN_QUEUE_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("JIFEN_DATA_KEY", "test data key, long enough for the HKDF input")
    from app.jobfiles import read_state

    jobs = importlib.reload(app.jobs)
    try:
        from huey import RedisHuey

        assert isinstance(jobs.huey, RedisHuey)
        jobs.huey.flush()
        folder = tmp_path / "jobs"
        folder.mkdir()
        actor = {"username": CITY.username, "role": "admin", "zones": [], "department": "",
                 "user_id": 1}  # fmt: skip
        jobs.allocate_job("t1", str(folder), actor, "zs-2026-p1", "")  # queued in Redis
        assert jobs.huey.pending_count() == 1
        task = jobs.huey.dequeue()  # what a consumer does: take it from Redis and run it
        jobs.huey.execute(task)
        assert read_state(folder, "t1")["status"] == "done"
        assert jobs.huey.pending_count() == 0
    finally:
        monkeypatch.delenv("JIFEN_QUEUE_URL")
        importlib.reload(app.jobs)
        made = app_db._ENGINES.pop(url, None)
        if made is not None:
            made.dispose()
    with transaction(engine, write=False) as session:
        assert [r.number for r in session.exec(select(AllocationRun)).all()] == [1]
