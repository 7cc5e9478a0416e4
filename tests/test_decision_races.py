"""Two decisions on one draft at once - a double click, two staff members, the console and the
staff chat - on SQLite and on PostgreSQL: the first is taken, the second waits for it and is
refused. Before, both went through: a reply queued twice, or a reply rejected (or replaced
by a corrected version) while it was being approved sent all the same."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select

from bot.errors import StaleDraft
from bot.store import audit
from bot.store.tables import Draft, Outbox
from bot.workflow.approval import edit_draft
from bot.workflow.drafts import reject_draft
from tests.workflow_kit import ANNA_TELEGRAM, World


def _first_pauses_while_second_decides(
    monkeypatch: pytest.MonkeyPatch, first: Callable[[], Any], second: Callable[[], Any]
) -> tuple[Any, BaseException | None]:
    """`first` is held for half a second once it has written its decision's audit event (its
    checks passed, its transaction not yet committed); `second` is taken meanwhile. Returns
    what `first` returned and what `second` raised (None: it went through)."""
    inside, record = threading.Event(), audit.record
    first_thread = threading.get_ident()

    def record_then_wait(*args: Any, **kwargs: Any) -> Any:
        event = record(*args, **kwargs)
        if threading.get_ident() == first_thread and not inside.is_set():
            inside.set()
            time.sleep(0.5)
        return event

    monkeypatch.setattr(audit, "record", record_then_wait)
    raised: list[BaseException | None] = []

    def take_second() -> None:
        inside.wait(10)
        try:
            second()
        except StaleDraft as exc:
            raised.append(exc)
        else:
            raised.append(None)

    other = threading.Thread(target=take_second)
    other.start()
    try:
        result = first()
    finally:
        other.join(60)
    return result, raised[0]


def _queued(world: World, draft_id: int) -> list[Outbox]:
    with world.session() as session:
        return list(session.exec(select(Outbox).where(Outbox.draft_id == draft_id)))


def _status(world: World, draft_id: int) -> str:
    with world.session() as session:
        draft = session.get(Draft, draft_id)
        assert draft is not None
        return draft.status


def _reply(world: World) -> Draft:
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    return world.reply_draft(outcome.reference)


def test_a_reply_approved_twice_at_once_is_queued_once(any_world, monkeypatch):
    draft = _reply(any_world)
    _, second = _first_pauses_while_second_decides(
        monkeypatch, lambda: any_world.approve(draft.id), lambda: any_world.approve(draft.id)
    )
    assert second is not None and "decided meanwhile: it is approved now" in str(second)
    assert len(_queued(any_world, draft.id)) == 1


def _rejecter(world: World, draft: Draft) -> Callable[[], None]:
    def reject() -> None:
        with world.database.session() as session:
            reject_draft(session, world.services, draft.id, "wrong", actor="staff:ola")

    return reject


def test_a_reply_rejected_while_it_is_approved_is_not_sent(any_world, monkeypatch):
    draft = _reply(any_world)
    _, second = _first_pauses_while_second_decides(
        monkeypatch, _rejecter(any_world, draft), lambda: any_world.approve(draft.id)
    )
    assert second is not None and "it is rejected now" in str(second)
    assert _status(any_world, draft.id) == "rejected" and _queued(any_world, draft.id) == []


def test_a_rejection_that_comes_while_the_reply_is_approved_is_refused(any_world, monkeypatch):
    draft = _reply(any_world)
    _, second = _first_pauses_while_second_decides(
        monkeypatch, lambda: any_world.approve(draft.id), _rejecter(any_world, draft)
    )
    assert second is not None and "it is approved now" in str(second)
    assert _status(any_world, draft.id) == "approved" and len(_queued(any_world, draft.id)) == 1


def test_a_version_corrected_while_it_is_approved_is_not_sent(any_world, monkeypatch):
    draft = _reply(any_world)

    def correct() -> None:
        with any_world.database.session() as session:
            edit_draft(
                session, any_world.services, draft.id, draft.text + "\nHälsningar, Eva",
                actor="staff:ola",
            )  # fmt: skip

    _, second = _first_pauses_while_second_decides(
        monkeypatch, correct, lambda: any_world.approve(draft.id)
    )
    assert second is not None and "it is superseded now" in str(second)
    assert _status(any_world, draft.id) == "superseded" and _queued(any_world, draft.id) == []
