"""Rows that wait and go several to one INSERT while a batch is written (bot.store.later):
whatever reads sees them, a savepoint's rollback takes only its own, a transaction's
rollback takes them all, the audit chain stays in order, and a row the database refuses
costs only its own message."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import exc as sa_exc
from sqlmodel import select

from bot.channels.messages import InboundMessage
from bot.rules.channels import ChannelName
from bot.runtime.intake import Pending, handle_batch
from bot.store import audit
from bot.store.later import insert_later, writing_later
from bot.store.rows import new_row, row_values, table_of
from bot.store.tables import AuditEvent, ChannelCursor, Message

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MESSAGES = table_of(Message)


def _row(key: str) -> dict:
    """An ordinary inbound mail's row, every column but the key."""
    return row_values(
        new_row(
            Message,
            dedupe_key=key,
            channel="email",
            address="a@example.com",
            text="hej",
            received_at=NOW,
            state="not_a_request",
        )
    )


def _keys(world) -> list[str]:
    with world.session() as session:
        return list(session.exec(select(Message.dedupe_key).order_by(Message.id)))


def test_rows_waiting_are_seen_by_the_next_query_and_written_in_order(any_world):
    with any_world.database.session() as session, writing_later(session):
        assert insert_later(session, MESSAGES, _row("k1")) is None  # waits
        insert_later(session, MESSAGES, _row("k2"))
        found = session.exec(select(Message.dedupe_key).order_by(Message.id)).all()
        assert found == ["k1", "k2"]
        insert_later(session, MESSAGES, _row("k3"))  # written at the commit
    assert _keys(any_world) == ["k1", "k2", "k3"]


def test_outside_a_batch_a_row_is_written_at_once_and_its_key_returned(any_world):
    with any_world.database.session() as session:
        key = insert_later(session, MESSAGES, _row("k1"))
        assert key == session.exec(select(Message.id)).one()


def test_a_savepoint_rolled_back_keeps_the_rows_that_waited_before_it(any_world):
    with any_world.database.session() as session, writing_later(session):
        insert_later(session, MESSAGES, _row("before"))
        savepoint = session.begin_nested()
        session.connection()  # (the SAVEPOINT is sent with the first statement in it)
        session.exec(select(Message.id)).all()
        insert_later(session, MESSAGES, _row("inside"))  # at once, in it
        savepoint.rollback()
        insert_later(session, MESSAGES, _row("after"))
    assert _keys(any_world) == ["before", "after"]


def test_a_transaction_rolled_back_takes_the_waiting_rows_and_the_next_does_not_write_them(
    any_world,
):
    with any_world.database.session() as session:
        with pytest.raises(RuntimeError), writing_later(session):
            insert_later(session, MESSAGES, _row("lost"))
            raise RuntimeError("the batch failed")
        session.rollback()
        insert_later(session, MESSAGES, _row("kept"))
    assert _keys(any_world) == ["kept"]


def test_audit_events_that_waited_and_one_written_in_a_savepoint_keep_the_chain(any_world):
    with any_world.database.session() as session, writing_later(session):
        audit.record(session, at=NOW, actor="system", action="one")
        audit.record(session, at=NOW, actor="system", action="two")
        with session.begin_nested():
            audit.record(session, at=NOW, actor="system", action="three")
        savepoint = session.begin_nested()
        audit.record(session, at=NOW, actor="system", action="gone")
        savepoint.rollback()
        audit.record(session, at=NOW, actor="system", action="four")
    with any_world.session() as session:
        count, problems = audit.verify_chain(session)
        actions = list(session.exec(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert (count, problems) == (4, [])
    assert actions == ["one", "two", "three", "four"]


def _mail(n: int, text: str, **fields) -> Pending:
    inbound = InboundMessage(
        ChannelName.EMAIL,
        "kund@example.com",
        text=text,
        message_id=f"<l{n}@example.com>",
        raw=b"raw",
        **fields,
    )
    return Pending(inbound, f"1:{n}")


def test_an_ordinary_mail_the_database_refuses_is_quarantined_and_the_rest_are_stored(any_world):
    # Its row would have waited: the database refuses it only when the waiting rows are
    # written, with another message's statement. The batch is written again message by
    # message, and only that mail is quarantined.
    batch = [
        _mail(1, "Har ni en Java-konsult i mars?"),
        _mail(2, "Tidrapporten för vecka 9 är inskickad.", imap_uid=2**70),  # no column holds it
        _mail(3, "Fakturan för februari kommer i morgon."),
        _mail(4, "Jag vill att ni raderar alla mina personuppgifter."),
    ]
    assert handle_batch(any_world.database, any_world.services, batch, "imap:INBOX") == 4
    with any_world.session() as session:
        states = {m.message_id: m.state for m in session.exec(select(Message))}
        cursor = session.get(ChannelCursor, "imap:INBOX")
        count, problems = audit.verify_chain(session)
    assert states == {
        "<l1@example.com>": "not_a_request",
        None: "malformed",  # (a bare record: the mail's own fields are what was refused)
        "<l3@example.com>": "not_a_request",
        "<l4@example.com>": "request",
    }
    assert cursor is not None and cursor.value == "1:4"
    assert count > 0 and problems == []


def test_messages_of_a_batch_are_numbered_in_the_order_they_were_read(any_world):
    # Ordinary mail waits to be written; a request's message is written at once: it must
    # still come after the ordinary mail read before it (lists go by id).
    batch = [
        _mail(1, "Har ni en Java-konsult i mars?"),
        _mail(2, "Tidrapporten för vecka 9 är inskickad."),
        _mail(3, "Jag vill att ni raderar alla mina personuppgifter."),
        _mail(4, "Fakturan för februari kommer i morgon."),
    ]
    assert handle_batch(any_world.database, any_world.services, batch, "imap:INBOX") == 4
    with any_world.session() as session:
        in_order = list(session.exec(select(Message.message_id).order_by(Message.id)))
    assert in_order == [f"<l{n}@example.com>" for n in (1, 2, 3, 4)]


def test_a_core_query_on_the_sessions_connection_sees_the_rows_that_wait(any_world):
    with any_world.database.session() as session, writing_later(session):
        insert_later(session, MESSAGES, _row("k1"))
        found = session.connection().execute(select(MESSAGES.c.dedupe_key)).all()
        assert [row[0] for row in found] == ["k1"]


def test_a_core_savepoint_rolled_back_keeps_the_rows_that_waited_before_it(any_world):
    with any_world.database.session() as session, writing_later(session):
        insert_later(session, MESSAGES, _row("before"))
        savepoint = session.connection().begin_nested()
        session.exec(select(Message.id)).all()
        insert_later(session, MESSAGES, _row("inside"))  # at once, in it
        savepoint.rollback()
    assert _keys(any_world) == ["before"]


def test_after_a_refused_row_the_transaction_cannot_commit_even_if_its_error_was_caught(
    any_world,
):
    # SQLite would let the transaction go on: the rows given after the refused one (and
    # the audit event whose hash the chain now continues from) would be missing.
    with (
        pytest.raises(sa_exc.SQLAlchemyError),
        any_world.database.session() as session,
        writing_later(session),
    ):
        audit.record(session, at=NOW, actor="system", action="zero")
        insert_later(session, MESSAGES, {**_row("bad"), "imap_uid": 2**70})
        insert_later(session, MESSAGES, _row("good"))
        audit.record(session, at=NOW, actor="system", action="one")
        with contextlib.suppress(sa_exc.SQLAlchemyError):
            session.exec(select(AuditEvent.id)).all()  # the write fails here
        audit.record(session, at=NOW, actor="system", action="two")
    assert _keys(any_world) == []
    with any_world.session() as session:
        assert audit.verify_chain(session) == (0, [])
