"""The office tests run on both databases: SQLite in a temporary file, and a throwaway
PostgreSQL 15 cluster that this module starts itself (initdb as the `postgres` user, a socket in
a temporary directory, fsync off), one per test process, a fresh database per test."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from office_helpers import KEYS_SECRET
from pg_cluster import new_database, postgres_cluster
from sqlalchemy import Engine

from app.db import make_engine
from app.migrate import upgrade
from app.protect import DataKeys

FIXTURES = Path(__file__).parent / "fixtures"
KEYS = DataKeys.from_secret(KEYS_SECRET)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The socket directory of a running throwaway cluster (stopped at the end)."""
    try:
        with postgres_cluster() as sockets:
            yield sockets
    except RuntimeError as exc:
        pytest.fail(f"{exc} (the base image has PostgreSQL 15)")


_NAMES = itertools.count()


def _postgres_engine(sockets: str) -> Engine:
    return make_engine(new_database(sockets, f"t{os.getpid()}_{next(_NAMES)}"))


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
def postgres_engine(postgres_server) -> Iterator[Engine]:
    """An empty PostgreSQL database migrated to head (for what only PostgreSQL does)."""
    made = _postgres_engine(postgres_server)
    upgrade(made)
    yield made
    made.dispose()


@pytest.fixture
def keys() -> DataKeys:
    return KEYS
