"""Storage: migrations create the schema the models describe, and run on every start."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import bot.store.tables  # noqa: F401
from bot.runtime.loops import kind_of
from bot.store.database import (
    Database,
    current_revision,
    head_revision,
    is_refusal,
    is_transient,
)


def test_opening_a_new_database_creates_the_schema_at_the_newest_revision(any_database):
    database = any_database
    assert current_revision(database.engine) == head_revision()
    tables = set(inspect(database.engine).get_table_names())
    assert {
        "subject",
        "contact_point",
        "request",
        "message",
        "verification",
        "draft",
        "outbox",
        "audit_event",
        "channel_cursor",
    } <= tables


def test_the_migrations_match_the_models(any_database):
    with any_database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []


def test_opening_twice_is_harmless(sqlite_url):
    Database(sqlite_url).dispose()
    database = Database(sqlite_url)
    assert current_revision(database.engine) == head_revision()
    database.dispose()


def test_lookups_have_indexes(any_database):
    inspector = inspect(any_database.engine)
    indexed = {
        (table, tuple(index["column_names"]))
        for table in ("contact_point", "message", "request", "verification", "outbox")
        for index in inspector.get_indexes(table)
    }
    assert ("message", ("dedupe_key",)) in indexed
    assert ("message", ("imap_uidvalidity", "imap_uid")) in indexed
    assert ("request", ("reference",)) in indexed
    assert ("outbox", ("status",)) in indexed
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("contact_point")}
    assert ("kind", "value") in uniques


def test_an_older_database_is_upgraded_and_keeps_its_data(sqlite_url):
    from alembic import command
    from sqlalchemy import text

    from bot.store.database import _alembic_config, make_engine, upgrade

    engine = make_engine(sqlite_url)
    command.upgrade(_alembic_config(engine), "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO subject (name, extra, restricted, objected, marketing_suppressed, "
                "consent_withdrawn, created_at, updated_at) VALUES ('Anna', '{}', 0, 0, 0, 0, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
    assert current_revision(engine) == "0001"
    assert upgrade(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM subject")).scalar_one() == "Anna"
        columns = {c["name"] for c in inspect(connection).get_columns("draft")}
    assert "staff_notified_at" in columns
    engine.dispose()


def test_a_downgrade_and_upgrade_keep_every_row_and_link(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from bot.store.database import _alembic_config
    from tests.workflow_kit import make_world

    world = make_world(tmp_path)
    world.email("y@example.com", "", "", malformed="broken")  # a message with an alert on it
    engine = world.database.engine

    def links() -> tuple[int, int]:
        with engine.connect() as connection:
            return (
                connection.execute(text("SELECT count(*) FROM message")).scalar_one(),
                connection.execute(
                    text("SELECT count(*) FROM staff_alert WHERE message_id IS NOT NULL")
                ).scalar_one(),
            )

    before = links()
    assert before == (1, 1)
    command.downgrade(_alembic_config(engine), "0002")
    assert links() == before
    command.upgrade(_alembic_config(engine), "head")
    assert links() == before
    world.database.dispose()


async def test_a_reply_waiting_for_approval_before_the_upgrade_can_still_be_approved(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from bot.store.database import _alembic_config, upgrade
    from tests.workflow_kit import ANNA_EMAIL, ANNA_TELEGRAM, make_world

    world = make_world(tmp_path)
    outcome = world.email(ANNA_EMAIL, "Jag vill ha en kopia av mina personuppgifter.")
    await world.deliver()
    world.press(ANNA_TELEGRAM, world.verification(outcome.reference).id, yes=True)
    draft = world.reply_draft(outcome.reference)
    engine = world.database.engine
    command.downgrade(_alembic_config(engine), "0002")  # as an older noxbot left it
    upgrade(engine)
    with engine.connect() as connection:
        covers = connection.execute(
            text("SELECT covers FROM draft WHERE id = :id"), {"id": draft.id}
        ).scalar_one()
    assert covers is not None
    world.approve(draft.id)
    assert world.case(outcome.reference).status == "approved"
    world.database.dispose()


def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path):
    import stat

    from bot.store.database import Database

    path = tmp_path / "noxbot.db"
    Database(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_newest_revision_read_from_the_files_is_alembics():
    from alembic.script import ScriptDirectory

    from bot.store.database import _alembic_config, make_engine

    config = _alembic_config(make_engine("sqlite://"))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_a_worker_on_an_up_to_date_database_does_not_load_alembic(sqlite_url):
    """Alembic costs a worker ~9 MiB; it is needed only to change the schema."""
    import subprocess
    import sys

    Database(sqlite_url).dispose()  # created and upgraded here
    check = (
        "import sys; from bot.store.database import Database; "
        f"d = Database({sqlite_url!r}); d.dispose(); "
        "print('alembic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_savepoints_sent_as_plain_text_still_keep_and_undo_what_they_hold(any_database):
    # bot.store.database._plain_savepoints: SAVEPOINT and RELEASE are not compiled each
    # time; a nested savepoint rolled back undoes only its own work, on both databases,
    # and a name that needs quoting is still quoted.
    from datetime import UTC, datetime

    from sqlalchemy import event, text

    from bot.store.tables import ChannelCursor

    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    sent: list[str] = []
    plain: list[str] = []  # sent without a compiled statement behind them

    @event.listens_for(any_database.engine, "before_cursor_execute")
    def keep(_conn, _cursor, statement, _params, context, _many):  # type: ignore[no-untyped-def]
        sent.append(statement)
        if context.compiled is None:
            plain.append(statement)

    with any_database.session() as session:
        with session.begin_nested():
            session.add(ChannelCursor(name="kept", value="1", updated_at=at))
        try:
            with session.begin_nested():
                session.add(ChannelCursor(name="undone", value="2", updated_at=at))
                session.flush()
                raise RuntimeError("undo")
        except RuntimeError:
            pass
        connection = session.connection()
        connection.dialect.do_savepoint(connection, "odd name")
        connection.dialect.do_release_savepoint(connection, "odd name")
    event.remove(any_database.engine, "before_cursor_execute", keep)
    with any_database.session() as session:
        names = session.execute(text("SELECT name FROM channel_cursor")).scalars().all()
    assert names == ["kept"]
    assert "SAVEPOINT sa_savepoint_1" in sent and "RELEASE SAVEPOINT sa_savepoint_1" in sent
    assert 'SAVEPOINT "odd name"' in sent and 'RELEASE SAVEPOINT "odd name"' in sent
    assert {"SAVEPOINT sa_savepoint_1", "RELEASE SAVEPOINT sa_savepoint_1"} <= set(plain)


def test_a_database_that_refuses_every_write_is_told_from_a_statement_of_a_bug(any_database):
    """A read-only database (a standby, SQLite's query_only) refuses whatever the values:
    workers wait that out. A statement naming what does not exist is a bug, which may be
    one message's alone: that message is set aside, the rest go on (bot.runtime.intake)."""
    read_only = (
        "SET TRANSACTION READ ONLY"
        if any_database.engine.dialect.name == "postgresql"
        else "PRAGMA query_only = ON"
    )
    with any_database.engine.connect() as connection:
        connection.execute(text(read_only))
        with pytest.raises(sa_exc.DBAPIError) as refused:
            connection.execute(text("INSERT INTO channel_cursor (name, value) VALUES ('a', 'b')"))
        connection.rollback()
        with pytest.raises(sa_exc.DBAPIError) as bug:
            connection.execute(text("SELECT no_such_column FROM channel_cursor"))
        connection.rollback()
        if read_only.startswith("PRAGMA"):  # (a setting of the pooled connection)
            connection.execute(text("PRAGMA query_only = OFF"))
    assert is_refusal(refused.value) and not is_transient(refused.value)
    assert not is_refusal(bug.value)
    assert kind_of(refused.value) in (
        "InternalError (ReadOnlySqlTransaction, SQLSTATE 25006)",
        "OperationalError (OperationalError, SQLITE_READONLY)",
    )


def test_an_error_after_work_outside_the_database_says_it_was_not_recorded(database):
    """Files moved or a source's rows changed cannot be rolled back with the transaction:
    whatever ends it then (the database refusing it, a case changed meanwhile) is told as
    DoneOutsideNotRecorded, which nobody runs again. Once a commit recorded the work (an
    erasure that stops part-way commits its findings first), an error is itself again."""
    import pytest

    from bot.errors import CaseError, ChangedMeanwhile, DoneOutsideNotRecorded
    from bot.store.database import mark_changed_outside

    with pytest.raises(DoneOutsideNotRecorded) as told, database.session() as session:
        mark_changed_outside(session)
        raise ChangedMeanwhile("DSR-2026-0001 changed meanwhile")
    assert isinstance(told.value.__cause__, ChangedMeanwhile)
    with pytest.raises(CaseError) as told_again, database.session() as session:
        mark_changed_outside(session)
        session.commit()  # what was done is recorded
        raise CaseError("erasure stopped part-way")
    assert not isinstance(told_again.value, DoneOutsideNotRecorded)
    with pytest.raises(CaseError) as plain, database.session():
        raise CaseError("refused before anything was done")
    assert not isinstance(plain.value, DoneOutsideNotRecorded)


async def test_a_database_that_cannot_be_reached_is_said_so_and_its_return_too(caplog):
    """Before, an outage was logged as "OperationalError (OperationalError)", and nothing
    said when the database was back."""
    import asyncio
    import logging

    from sqlalchemy import create_engine

    from bot.runtime.loops import with_backoff
    from bot.store.database import TRANSIENT_DB_ERRORS
    from tests.pg import free_port

    unreachable = create_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x")
    stop, calls = asyncio.Event(), []

    async def step() -> None:
        calls.append(1)
        if len(calls) == 1:
            with unreachable.connect():
                pass
        elif len(calls) == 3:
            stop.set()

    with caplog.at_level(logging.INFO, logger="noxbot"):
        await asyncio.wait_for(with_backoff("mail watcher", stop, step, TRANSIENT_DB_ERRORS), 30)
    unreachable.dispose()
    said = [record.getMessage() for record in caplog.records]
    assert said[0].startswith(
        "mail watcher: the database cannot be reached (OperationalError, OperationalError)"
    )
    assert said[1:] == ["mail watcher: working again"]
