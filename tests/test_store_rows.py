"""Rows written by one Core INSERT (bot.store.rows): the same row as the model's
constructor and a flush would write, kept in the session so later changes are written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from bot.store.rows import insert_now, new_row, update_now
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
