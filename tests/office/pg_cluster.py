"""A throwaway PostgreSQL cluster for the tests and the benchmarks: initdb as the `postgres` user
(initdb refuses root), a socket in a temporary directory, fsync off; stopped and removed after."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text

from app.db import make_engine


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """The socket directory of a running cluster (user `jifen`, trust authentication)."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)")
    root = Path(tempfile.mkdtemp(prefix="jifen-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(
        _as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "jifen",
                     "-E", "UTF8", "--locale=C.UTF-8"),
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-k {sockets} -h '' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l",
                     str(root / "log"), "start"),
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield str(sockets)
    finally:
        subprocess.run(
            _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def new_database(sockets: str, name: str) -> str:
    """Create an empty database in the cluster; its URL."""
    admin = make_engine(f"postgresql+psycopg://jifen@/postgres?host={sockets}")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"postgresql+psycopg://jifen@/{name}?host={sockets}"


def pg_dump(sockets: str, database: str) -> bytes:
    command = [str(binaries() / "pg_dump"), "-h", sockets, "-U", "jifen", database]
    return subprocess.run(_as_postgres(*command), check=True, capture_output=True).stdout
