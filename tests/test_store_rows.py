"""Rows written by one Core INSERT (bot.store.rows): the same row as the model's
constructor and a flush would write, kept in the session so later changes are written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from bot.store.rows import insert_now, new_row, numbered_placeholders, update_now
from bot.store.tables import Message, StaffAlert
from tests.workflow_kit import make_world

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_row_made_without_the_constructor_has_the_constructors_defaults():
    fields = dict(dedupe_key="k", channel="email", address="a@example.com", received_at=NOW)
    made, built = new_row(Message, **fields), Message(**fields)
    assert made.model_dump() == built.model_dump()
    assert made.references == [] and made.references is not new_row(Message, **fields).references


def test_a_row_missing_a_required_field_or_naming_an_unknown_one_is_refused():
    with pytest.raises(TypeError, match="dedupe_key is required"):
        new_row(Message, channel="email", address="a@example.com", received_at=NOW)
    with pytest.raises(TypeError, match="no field colour"):
        new_row(StaffAlert, kind="x", text="t", created_at=NOW, colour="red")


def test_a_row_written_at_once_is_stored_and_what_changes_it_later_is_written_too(tmp_path):
    world = make_world(tmp_path)
    with world.session() as session:
        alert = insert_now(session, new_row(StaffAlert, kind="x", text="t", created_at=NOW))
        assert alert.id is not None
        alert.resolved_by = "staff"  # a stored row: the next flush writes the change
        session.commit()
    with world.session() as session:
        (stored,) = session.exec(select(StaffAlert).where(StaffAlert.kind == "x")).all()
        assert (stored.id, stored.text, stored.resolved_by) == (alert.id, "t", "staff")


def test_a_row_written_in_a_savepoint_that_rolls_back_leaves_the_session(tmp_path):
    world = make_world(tmp_path)
    with world.session() as session:
        savepoint = session.begin_nested()
        alert = insert_now(session, new_row(StaffAlert, kind="x", text="t", created_at=NOW))
        savepoint.rollback()
        assert alert not in session
        again = insert_now(session, new_row(StaffAlert, kind="y", text="u", created_at=NOW))
        session.commit()
        assert again.id == alert.id  # (SQLite gives the id again: no clash in the session)
    assert [a.kind for a in world.alerts()] == ["y"]


def test_a_change_written_at_once_is_stored_and_other_pending_changes_still_go(tmp_path):
    world = make_world(tmp_path)
    with world.session() as session:
        alert = insert_now(session, new_row(StaffAlert, kind="x", text="t", created_at=NOW))
        alert.text = "changed before"  # pending: goes with the next flush
        alert.resolved_by = "someone"  # pending, then replaced by the value written at once
        update_now(session, alert, resolved_by="staff", resolved_at=NOW)
        assert alert.resolved_by == "staff"
        assert alert in session.dirty  # (its text still waits for the flush)
        session.commit()
    with world.session() as session:
        (stored,) = session.exec(select(StaffAlert)).all()
        assert (stored.text, stored.resolved_by) == ("changed before", "staff")
        assert stored.resolved_at is not None


def test_a_change_written_at_once_in_a_savepoint_that_rolls_back_is_read_again(tmp_path):
    # A batch of messages shares a transaction: a message that fails after changing a
    # stored row must not leave the session believing the change (the next message reads it).
    world = make_world(tmp_path)
    with world.session() as session:
        alert = insert_now(session, new_row(StaffAlert, kind="x", text="t", created_at=NOW))
        session.flush()
        savepoint = session.begin_nested()
        update_now(session, alert, resolved_by="staff")
        assert alert.resolved_by == "staff"
        savepoint.rollback()
        assert alert.resolved_by is None  # read again: the database's value
        session.commit()
    assert [a.resolved_by for a in world.alerts()] == [None]


def test_a_row_not_stored_yet_is_changed_and_written_by_the_flush(tmp_path):
    world = make_world(tmp_path)
    with world.session() as session:
        alert = StaffAlert(kind="x", text="t", created_at=NOW)
        update_now(session, alert, resolved_by="staff")
        assert alert in session.new
        session.commit()
    assert [a.resolved_by for a in world.alerts()] == ["staff"]


def _message(key: str, **more) -> Message:
    fields = dict(
        dedupe_key=key,
        direction="in",
        channel="email",
        address="anna.lindqvist@example.se",
        display_name="Anna Lindqvist",
        subject="Mina uppgifter – radera",
        text="Hej!\nRadera allt om mig, även 'citat' och %(namn)s ?",
        raw=b"\x00\xff raw",
        references=["<a@example.se>", "<b@example.se>"],
        classification={"kinds": ["erasure"], "confidence": 0.9},
        label_kinds=None,
        received_at=datetime(2026, 3, 2, 10, 30, 15, 123456, tzinfo=UTC),
    )
    return new_row(Message, **{**fields, **more})


def test_a_row_written_through_the_driver_reads_back_as_the_orm_writes_one(any_database):
    # insert_now sends its INSERT to the driver itself: every kind of value (JSON, bytes,
    # a time with its zone, None, quotes and percent signs) must come back as a row the
    # ORM wrote does.
    with any_database.session() as session:
        fast = insert_now(session, _message("fast"))
        slow = _message("slow")
        session.add(slow)
        session.commit()
        ids = (fast.id, slow.id)
    with any_database.session() as session:
        fast_row, slow_row = (session.get(Message, i) for i in ids)
        assert fast_row is not None and slow_row is not None
        skip = {"id", "dedupe_key"}
        assert fast_row.model_dump(exclude=skip) == slow_row.model_dump(exclude=skip)
        assert fast_row.received_at == datetime(2026, 3, 2, 10, 30, 15, 123456, tzinfo=UTC)
        assert fast_row.references == ["<a@example.se>", "<b@example.se>"]


def test_an_insert_the_database_refuses_is_sqlalchemys_error_without_its_parameters(any_database):
    # (PostgreSQL's own DETAIL line repeats the clashing key itself: the logs name only an
    # error's kind, see bot.runtime.intake)
    from sqlalchemy.exc import IntegrityError

    with any_database.session() as session:
        insert_now(session, _message("same"))
        with pytest.raises(IntegrityError) as refused:
            insert_now(session, _message("same", display_name="Secret Person"))
        assert "Secret Person" not in str(refused.value)
        assert "anna.lindqvist" not in str(refused.value)
        session.rollback()
        insert_now(session, _message("other"))  # the session goes on after the rollback
        session.commit()
    with any_database.session() as session:
        assert [m.dedupe_key for m in session.exec(select(Message))] == ["other"]


def test_a_connection_lost_under_an_insert_is_an_error_that_passes(postgres_url):
    # The server ends the connection (a restart, a failover): the INSERT's error must say
    # so, as SQLAlchemy's would, so that the watcher waits and reads the batch again
    # instead of quarantining the message.
    from sqlalchemy import text

    from bot.store.database import Database, is_transient

    database = Database(postgres_url)
    try:
        with database.session() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with database.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                other.commit()
            with pytest.raises(Exception) as lost:
                insert_now(session, _message("lost"))
            assert is_transient(lost.value)
            session.rollback()
        with database.session() as session:  # a new connection works
            insert_now(session, _message("after"))
            session.commit()
    finally:
        database.dispose()


def test_a_value_its_column_refuses_is_sqlalchemys_error_without_its_parameters(any_database):
    from datetime import datetime as naive_clock

    from sqlalchemy.exc import StatementError

    with any_database.session() as session:
        row = _message("naive", display_name="Secret Person")
        row.received_at = naive_clock(2026, 3, 2, 10, 30)  # no zone: UTCDateTime refuses it
        with pytest.raises(StatementError) as refused:
            insert_now(session, row)
        assert "Secret Person" not in str(refused.value)
        assert "naive" in str(refused.value)


def test_an_insert_missing_a_column_is_refused_by_name(any_database):
    from bot.store.rows import insert_returning_id

    with (
        any_database.session() as session,
        pytest.raises(TypeError, match="staff_alert needs message_id, request_id"),
    ):
        insert_returning_id(
            session,
            StaffAlert.__table__,  # type: ignore[attr-defined]
            {"kind": "x", "text": "t", "created_at": NOW},
        )


def test_each_engine_converts_with_its_own_json_settings(tmp_path):
    # The compiled INSERTs are kept per engine: one engine's JSON serialiser is not another's.
    import json

    from sqlalchemy import create_engine, text
    from sqlmodel import Session as PlainSession
    from sqlmodel import SQLModel

    stored = []
    for name, options in (
        ("plain", {}),
        ("own", {"json_serializer": lambda v: json.dumps(v, ensure_ascii=False)}),
    ):
        engine = create_engine(f"sqlite:///{tmp_path / name}.db", **options)
        SQLModel.metadata.create_all(engine)
        with PlainSession(engine) as session:
            insert_now(session, _message("k", references=["<å@example.se>"]))
            session.commit()
            stored.append(session.execute(text('SELECT "references" FROM message')).scalar_one())
        engine.dispose()
    assert stored == ['["<\\u00e5@example.se>"]', '["<å@example.se>"]']


def test_psycopgs_statements_are_numbered_once_with_percent_signs_kept():
    sql, order = numbered_placeholders(
        "INSERT INTO t (a, b) VALUES (%(a_0)s, %(b_0)s), (%(a_1)s, '100%%') RETURNING %(a_0)s"
    )
    assert sql == "INSERT INTO t (a, b) VALUES ($1, $2), ($3, '100%') RETURNING $4"
    assert order == ("a_0", "b_0", "a_1", "a_0")
