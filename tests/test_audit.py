"""The audit trail is append-only in effect: any edit, removal or insertion is detected."""

from __future__ import annotations

import itertools

from sqlalchemy import text
from sqlmodel import select

from bot.clock import utcnow
from bot.store import audit
from bot.store.tables import AuditEvent


def _write_events(database, n: int = 4) -> None:
    with database.session() as session:
        for i in range(n):
            audit.record(
                session, at=utcnow(), actor="staff:eva", action="note", detail=f"event {i}"
            )


def test_an_untouched_chain_verifies(any_database):
    _write_events(any_database)
    with any_database.session() as session:
        count, problems = audit.verify_chain(session)
    assert (count, problems) == (4, [])


def test_an_edited_event_is_reported_with_its_id(any_database):
    _write_events(any_database)
    with any_database.session() as session:
        session.execute(text("UPDATE audit_event SET detail = 'nothing happened' WHERE id = 2"))
    with any_database.session() as session:
        _, problems = audit.verify_chain(session)
    assert [(p.event_id, p.problem) for p in problems] == [(2, "was changed after it was written")]


def test_a_removed_event_breaks_the_chain_at_its_successor(any_database):
    _write_events(any_database)
    with any_database.session() as session:
        session.execute(text("DELETE FROM audit_event WHERE id = 3"))
    with any_database.session() as session:
        _, problems = audit.verify_chain(session)
    assert [p.event_id for p in problems] == [4]
    assert "removed or inserted" in problems[0].problem


def test_events_written_in_separate_transactions_link_up(any_database):
    _write_events(any_database, 2)
    _write_events(any_database, 2)
    with any_database.session() as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))


def test_many_events_of_one_transaction_are_written_in_the_order_they_were_appended(
    any_database,
):
    # The head is read once per transaction and the events go out with one flush: the ids
    # must still follow the chain.
    _write_events(any_database, 30)
    with any_database.session() as session:
        count, problems = audit.verify_chain(session)
        details = [e.detail for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert (count, problems) == (30, [])
    assert details == [f"event {i}" for i in range(30)]


def test_events_of_a_savepoint_rolled_back_leave_no_gap_in_the_chain(any_database):
    with any_database.session() as session:
        audit.record(session, at=utcnow(), actor="noxbot", action="note", detail="kept 1")
        try:
            with session.begin_nested():
                audit.record(session, at=utcnow(), actor="noxbot", action="note", detail="gone")
                session.flush()
                raise RuntimeError("this message failed")
        except RuntimeError:
            pass
        audit.record(session, at=utcnow(), actor="noxbot", action="note", detail="kept 2")
        with session.begin_nested():
            audit.record(session, at=utcnow(), actor="noxbot", action="note", detail="kept 3")
        audit.record(session, at=utcnow(), actor="noxbot", action="note", detail="kept 4")
    with any_database.session() as session:
        count, problems = audit.verify_chain(session)
        details = [e.detail for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert (count, problems) == (4, [])
    assert details == ["kept 1", "kept 2", "kept 3", "kept 4"]


def test_a_session_used_for_two_transactions_reads_the_head_again(any_database):
    # Between two transactions someone else may append: the second must follow their event.
    with audit.Session(any_database.engine) as session:
        audit.record(session, at=utcnow(), actor="noxbot", action="note", detail="first")
        session.commit()
        _write_events(any_database, 1)
        audit.record(session, at=utcnow(), actor="noxbot", action="note", detail="third")
        session.commit()
    with any_database.session() as session:
        assert audit.verify_chain(session) == (3, [])


def test_an_event_stamped_in_swedish_time_verifies(any_database):
    # Stored in UTC: the hash is of the time as stored, whatever zone the caller used.
    from datetime import datetime
    from zoneinfo import ZoneInfo

    with any_database.session() as session:
        audit.record(
            session,
            at=datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Stockholm")),
            actor="staff:eva",
            action="note",
        )
    with any_database.session() as session:
        assert audit.verify_chain(session) == (1, [])
