"""Shared fixtures: a fresh, migrated database per test, on SQLite or a real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.store.database import Database
from tests import dovecot, pg
from tests.workflow_kit import World, make_world

# Tests must never reach anything but loopback; httpx honours proxy variables.
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ["no_proxy"] = "127.0.0.1,localhost"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'noxbot.db'}"


@pytest.fixture
def database(sqlite_url: str) -> Iterator[Database]:
    """A migrated SQLite database (the embedded default)."""
    db = Database(sqlite_url)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[pg.PostgresCluster]:
    if not pg.available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL server binaries not found in {pg.PG_BIN}")
        pytest.skip(f"PostgreSQL server binaries not found in {pg.PG_BIN}")
    cluster = pg.start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: pg.PostgresCluster) -> Iterator[str]:
    """A fresh, empty database in the throwaway cluster."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_cluster.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield postgres_cluster.url(name)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """The same test on SQLite and on PostgreSQL."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    db = Database(url)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A workflow world on a fresh SQLite database, then on a fresh PostgreSQL one."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    world = make_world(tmp_path, url)
    yield world
    world.database.dispose()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The in-process world of the workflow tests: SQLite, the sample register, a test clock."""
    w = make_world(tmp_path)
    yield w
    w.database.dispose()


@pytest.fixture(scope="module")
def imap_server():
    """A real Dovecot on 127.0.0.1 for the tests of one module (tests/dovecot.py)."""
    if not dovecot.available():
        pytest.skip("dovecot-imapd is not installed (.ci/run installs it)")
    server = dovecot.start()
    yield server
    server.stop()
