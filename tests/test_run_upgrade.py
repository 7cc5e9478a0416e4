"""`noxbot run` upgrades the schema in a short-lived child process, so that the long-running
process never holds Alembic (about 10 MiB of its memory)."""

from __future__ import annotations

import importlib
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.store.database import Database, DatabaseError, current_revision, head_revision

cli_app = importlib.import_module("bot.cli.app")  # `bot.cli.app` is also the Typer app

#: Opens the database as `noxbot run` does and says whether Alembic is loaded in it.
OPEN_AS_RUN = """
import sys
from bot.cli.app import open_database
from bot.config import DatabaseSettings, Settings
settings = Settings(database=DatabaseSettings(url=sys.stdin.read()))
database = open_database(settings, upgrade_apart=True)
print("alembic loaded" if "alembic" in sys.modules else "alembic not loaded")
database.dispose()
"""


def open_as_run(url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", OPEN_AS_RUN], input=url, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_new_database_is_upgraded_without_alembic_staying_in_noxbot_run(kind, request):
    url = request.getfixturevalue("sqlite_url" if kind == "sqlite" else "postgres_url")
    assert open_as_run(url) == "alembic not loaded"
    database = Database(url, migrate=False)
    assert current_revision(database.engine) == head_revision()
    database.dispose()
    if kind == "sqlite":  # made by the child, readable by its owner only as before
        path = Path(url.removeprefix("sqlite:///"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_database_already_up_to_date_starts_no_child(database, monkeypatch):
    def no_child(*args, **kwargs):
        raise AssertionError("a child process was started")

    monkeypatch.setattr(cli_app.subprocess, "run", no_child)
    cli_app.upgrade_in_a_child(database.url)


def test_a_database_that_cannot_be_made_says_why_as_before(tmp_path):
    url = f"sqlite:///{tmp_path / 'no such folder' / 'noxbot.db'}"
    with pytest.raises(DatabaseError) as in_process:
        Database(url)
    with pytest.raises(DatabaseError) as in_child:
        cli_app.upgrade_in_a_child(url)
    assert str(in_child.value) == str(in_process.value)
    assert "cannot upgrade the database at sqlite:///" in str(in_child.value)


def test_a_password_in_the_url_never_shows_when_the_child_fails(monkeypatch):
    url = "postgresql+psycopg://noxbot:s3cret-pw@127.0.0.1:1/nothing"
    monkeypatch.setattr(cli_app, "current_revision", lambda engine: None)  # "behind"
    with pytest.raises(DatabaseError) as failed:
        cli_app.upgrade_in_a_child(url)
    assert "s3cret-pw" not in str(failed.value)
    assert "cannot upgrade the database at" in str(failed.value)
