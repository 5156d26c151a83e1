"""The office tests run on both databases: SQLite in a temporary file, and a throwaway
PostgreSQL 15 cluster that this module starts itself (initdb as the `postgres` user, a socket in
a temporary directory, fsync off), one per test process, a fresh database per test."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.db import make_engine
from app.migrate import upgrade
from app.protect import DataKeys

FIXTURES = Path(__file__).parent / "fixtures"
KEYS = DataKeys.from_secret("test data key, long enough for the HKDF input")


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres(*command: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The socket directory of a running throwaway cluster (stopped at the end)."""
    binaries = _pg_bin()
    if binaries is None:
        pytest.fail("PostgreSQL server binaries not found (the base image has PostgreSQL 15)")
    root = Path(tempfile.mkdtemp(prefix="jifen-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(
        _as_postgres(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "jifen",
                     "-E", "UTF8", "--locale=C.UTF-8"),
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-k {sockets} -h '' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l",
                     str(root / "log"), "start"),
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield str(sockets)
    finally:
        subprocess.run(
            _as_postgres(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


_NAMES = itertools.count()


def _postgres_engine(sockets: str) -> Engine:
    name = f"t{os.getpid()}_{next(_NAMES)}"
    admin = make_engine(f"postgresql+psycopg://jifen@/postgres?host={sockets}")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_engine(f"postgresql+psycopg://jifen@/{name}?host={sockets}")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path) -> Iterator[Engine]:
    """An empty database migrated to head, on each database in turn."""
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'jifen.sqlite'}")
    else:
        made = _postgres_engine(request.getfixturevalue("postgres_server"))
    upgrade(made)
    yield made
    made.dispose()


@pytest.fixture
def keys() -> DataKeys:
    return KEYS
