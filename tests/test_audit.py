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
