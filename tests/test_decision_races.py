"""Two decisions on one draft, or two actions on one case or message, at once - a double
click, two staff members, the console and the staff chat - on SQLite and on PostgreSQL: the
first is taken, the second waits for it and is refused. Before, both went through: a reply
queued twice, a reply rejected (or replaced by a corrected version) while it was being
approved sent all the same, two cases for one message, two notices, a note overwritten."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.channels.messages import SendError
from bot.errors import CaseError, ChangedMeanwhile, NoxbotError
from bot.rules.channels import ChannelName
from bot.rules.kinds import RequestKind as K
from bot.store import audit
from bot.store.records import get_case
from bot.store.tables import ChecklistItem, Draft, Message, Outbox, Subject, Verification
from bot.workflow import cases
from bot.workflow.approval import edit_draft
from bot.workflow.cases import close_case, extend_case, redraft_on_request
from bot.workflow.checklist import tick
from bot.workflow.confirming import expire_verifications
from bot.workflow.corrections import add_changes, correct_kinds
from bot.workflow.drafts import reject_draft
from bot.workflow.linking import link_to_subject
from bot.workflow.outbox import requeue
from bot.workflow.pipeline import decide_triage
from bot.workflow.sending import claim_next
from handlers.sources_on_case import add_checklist_item
from tests.workflow_kit import ANNA_EMAIL, ANNA_TELEGRAM, JOHN_TELEGRAM, World


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
        except CaseError as exc:  # (StaleDraft, ChangedMeanwhile)
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


def _in_one(world: World, action: Callable[[Any], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with world.database.session() as session:
            return action(session)

    return run


def _access_request(world: World) -> str:
    return world.email(ANNA_EMAIL, "Hej, jag vill ha ett registerutdrag om mig.").reference


def test_a_message_triaged_twice_at_once_opens_one_case(any_world, monkeypatch):
    any_world.triage_everything()
    any_world.email(ANNA_EMAIL, "Hej, jag vill ha ett registerutdrag om mig.")
    with any_world.session() as session:
        [waiting] = session.exec(select(Message).where(Message.state == "triage"))
    decide = _in_one(
        any_world,
        lambda s: decide_triage(s, any_world.services, waiting.id, [K.ACCESS], actor="staff:eva"),
    )
    _, second = _first_pauses_while_second_decides(monkeypatch, decide, decide)
    assert isinstance(second, ChangedMeanwhile) and "decided meanwhile" in str(second)
    assert len(any_world.cases()) == 1


def test_a_case_linked_twice_at_once_gets_one_challenge(any_world, monkeypatch):
    reference = any_world.email("stranger@example.org", "Send me all data you hold on me.")
    with any_world.session() as session:
        maria = session.exec(select(Subject).where(Subject.name == "Maria Berg")).one().id
    link = _in_one(
        any_world,
        lambda s: link_to_subject(
            s, any_world.services, reference.reference, maria or 0, actor="staff:eva"
        ),
    )
    _, second = _first_pauses_while_second_decides(monkeypatch, link, link)
    assert isinstance(second, ChangedMeanwhile)
    with any_world.session() as session:
        query = select(Verification).where(Verification.status == "pending")
        assert len(list(session.exec(query))) == 1


def test_a_case_extended_twice_at_once_gets_one_notice(any_world, monkeypatch):
    reference = _access_request(any_world)
    extend = _in_one(
        any_world,
        lambda s: extend_case(s, any_world.services, reference, "many sources", actor="staff:x"),
    )
    _, second = _first_pauses_while_second_decides(monkeypatch, extend, extend)
    assert second is not None and "already waiting" in str(second)
    assert len(any_world.drafts(reference, "extension")) == 1


def test_a_checklist_item_ticked_twice_at_once_keeps_the_first_note(any_world, monkeypatch):
    reference = _access_request(any_world)
    with any_world.database.session() as session:
        add_checklist_item(
            session, get_case(session, reference), "crm", "search", any_world.clock()
        )
    with any_world.session() as session:
        item = session.exec(select(ChecklistItem)).one().id or 0

    def ticking(note: str) -> Callable[[], Any]:
        return _in_one(
            any_world,
            lambda s: tick(s, reference, item, note, actor="staff:x", now=any_world.clock()),
        )

    _, second = _first_pauses_while_second_decides(
        monkeypatch, ticking("3 hits, exported"), ticking("nothing found")
    )
    assert second is not None and "ticked off" in str(second)
    with any_world.session() as session:
        kept = session.get(ChecklistItem, item)
        assert kept is not None and kept.note == "3 hits, exported"


async def test_a_case_closed_while_its_reply_is_approved_is_one_or_the_other(
    any_world, monkeypatch
):
    reference = _access_request(any_world)
    any_world.press(ANNA_TELEGRAM, any_world.verification(reference).id, yes=True)
    draft = any_world.reply_draft(reference)
    close = _in_one(
        any_world, lambda s: close_case(s, any_world.services, reference, "dup", actor="staff:o")
    )
    _, second = _first_pauses_while_second_decides(
        monkeypatch, lambda: any_world.approve(draft.id), close
    )
    assert isinstance(second, ChangedMeanwhile)
    assert any_world.case(reference).status == "approved"
    assert [m for m in await any_world.deliver() if m.address == ANNA_EMAIL]


def test_the_first_two_cases_of_a_year_opened_at_once_both_open(any_world, monkeypatch):
    """Neither finds the year's counter row: both write it. PostgreSQL refused the second on
    the row's key, and a valid request was set aside as 'processing failed'."""
    first, _ = _first_pauses_while_second_decides(
        monkeypatch,
        lambda: any_world.email(ANNA_EMAIL, "Radera allt ni har om mig."),
        lambda: any_world.chat(JOHN_TELEGRAM, "Delete everything you have about me."),
    )
    references = sorted(case.reference for case in any_world.cases())
    year = any_world.clock().year
    assert references == [f"DSR-{year}-0001", f"DSR-{year}-0002"]
    assert first.reference in references


async def test_a_no_after_the_reply_was_approved_withdraws_it_unsent(any_world):
    """Someone on file confirmed, the reply was approved, then they say "No, it wasn't me"
    before it went: it does not go."""
    reference = _access_request(any_world)
    challenge = any_world.verification(reference)
    any_world.press(ANNA_TELEGRAM, challenge.id, yes=True)
    any_world.approve(any_world.reply_draft(reference).id)
    any_world.press(ANNA_TELEGRAM, challenge.id, yes=False)
    assert not [m for m in await any_world.deliver() if m.address == ANNA_EMAIL]
    [alert] = any_world.alerts("possible_impersonation")
    assert "Its reply was withdrawn before it went (1 message(s))" in alert.text


async def test_a_no_after_the_reply_gave_up_sending_keeps_it_from_being_sent_again(any_world):
    """The approved reply could not be delivered (the requester's mail server refused it
    until the sender gave up), then the person on file says "No, it wasn't me": staff who
    follow the "could not be sent" alert cannot send it again. Before, only a queued reply
    was withdrawn, and `outbox retry` sent the register extract to whoever had asked."""
    reference = _access_request(any_world)
    challenge = any_world.verification(reference)
    any_world.press(ANNA_TELEGRAM, challenge.id, yes=True)
    reply = any_world.approve(any_world.reply_draft(reference).id)
    await any_world.refused_until_given_up()
    with any_world.session() as session:
        assert session.get(Outbox, reply.id).status == "failed"
    any_world.press(ANNA_TELEGRAM, challenge.id, yes=False)
    with any_world.database.session() as session, pytest.raises(NoxbotError) as refused:
        requeue(session, any_world.services, reply.id, actor="staff:eva")
    assert "the person on file said they did not make the request" in str(refused.value)
    assert not [m for m in await any_world.deliver() if m.address == ANNA_EMAIL]
    [alert] = any_world.alerts("possible_impersonation")
    assert "withdrawn before it went (1 message(s))" in alert.text
    [failed] = any_world.alerts("send_failed")  # nothing is left to retry
    assert failed.resolved_at is not None


def _approved_access_reply(world: World) -> tuple[str, Draft]:
    reference = _access_request(world)
    world.press(ANNA_TELEGRAM, world.verification(reference).id, yes=True)
    return reference, world.reply_draft(reference)


def _drafts_of(world: World, reference: str) -> list[tuple[int | None, str, str]]:
    with world.session() as session:
        case = get_case(session, reference)
        query = select(Draft).where(Draft.request_id == case.id).order_by(Draft.id)
        return [(d.id, d.purpose, d.status) for d in session.exec(query)]


def test_a_reply_drafted_again_while_it_is_approved_is_refused(any_world, monkeypatch):
    """Staff press "draft again" as a colleague approves the reply: the approved reply
    stays approved and goes once. Before, it was marked superseded under its queued mail,
    and a second reply draft waited for an approval that could never be given."""
    reference, draft = _approved_access_reply(any_world)

    def redraft() -> None:
        with any_world.database.session() as session:
            redraft_on_request(
                session, any_world.services, reference, actor="staff:ola", where="console"
            )

    _, second = _first_pauses_while_second_decides(
        monkeypatch, lambda: any_world.approve(draft.id), redraft
    )
    assert isinstance(second, ChangedMeanwhile)
    replies = [(id_, status) for id_, purpose, status in _drafts_of(any_world, reference)]
    assert (draft.id, "approved") in replies and "awaiting_approval" not in dict(replies).values()
    assert len(_queued(any_world, draft.id)) == 1


def test_kinds_corrected_while_the_reply_is_approved_are_refused(any_world, monkeypatch):
    reference, draft = _approved_access_reply(any_world)

    def correct() -> None:
        with any_world.database.session() as session:
            kinds = ["access", "marketing_optout"]
            correct_kinds(session, any_world.services, reference, kinds, actor="staff:ola")

    _, second = _first_pauses_while_second_decides(
        monkeypatch, lambda: any_world.approve(draft.id), correct
    )
    assert isinstance(second, ChangedMeanwhile)
    assert any_world.case(reference).kinds == ["access"]
    assert any_world.case(reference).status == "approved"


def test_a_follow_up_asking_more_while_the_reply_is_approved_gets_its_own_case(world, monkeypatch):
    """Anna also asks to stop marketing as her access reply is approved: the worker reads
    her message again (as after any race it lost), and the opt-out is a case of its own,
    answered. Before, it joined the approved case, whose reply said nothing of it."""
    reference, draft = _approved_access_reply(world)
    subject = world.case(reference).reference

    def follow_up() -> None:
        world.email(
            ANNA_EMAIL,
            "Och sluta skicka nyhetsbrev och marknadsföring till mig.",
            subject=f"Re: [{subject}]",
            message_id="<follow-up@example.test>",
        )

    _, second = _first_pauses_while_second_decides(
        monkeypatch, lambda: world.approve(draft.id), follow_up
    )
    assert isinstance(second, ChangedMeanwhile)  # a worker reads it again:
    follow_up()
    assert world.case(reference).kinds == ["access"]
    [other] = [case for case in world.cases() if case.reference != reference]
    assert other.kinds == ["marketing_optout"]


def test_two_staff_listing_as_a_challenge_expires_both_see_the_list(any_world, monkeypatch):
    """`requests list` (and show, due, `drafts list`) first moves challenges past their time
    to staff. Two staff listing at that instant: the second list is shown too, and the
    challenge expires once (one alert, one clarification draft). Before, the second command
    failed with "changed meanwhile"."""
    reference = _access_request(any_world)
    any_world.clock.advance(hours=any_world.services.settings.verification.code_ttl_hours + 1)
    listing = _in_one(any_world, lambda s: expire_verifications(s, any_world.services))
    moved, second = _first_pauses_while_second_decides(monkeypatch, listing, listing)
    assert second is None
    assert moved == [reference]
    assert any_world.case(reference).status == "unverified"
    assert len(any_world.alerts("verification_failed")) == 1
    with any_world.session() as session:
        expired = select(Verification).where(Verification.status == "expired")
        assert len(list(session.exec(expired))) == 1


def test_a_listing_that_expires_challenges_commits_nothing_before_it_ends(tmp_path):
    """SQLite: the listing expires each challenge in a savepoint. Taken first in the
    transaction, that savepoint was the transaction itself, and its release committed it:
    others saw the first challenge expired while the listing still ran, the write lock was
    let go, and the audit trail's head the listing had read went stale (the next expiry
    failed on the head's key when anyone wrote in between)."""
    from tests.workflow_kit import JOHN_EMAIL, make_world

    world = make_world(tmp_path)
    world.email(ANNA_EMAIL, "Hej, jag vill ha ett registerutdrag om mig.")
    world.email(JOHN_EMAIL, "Hi, please send me a copy of all my personal data.")
    world.clock.advance(hours=world.services.settings.verification.code_ttl_hours + 1)
    expired = select(Verification).where(Verification.status == "expired")
    seen_meanwhile = []
    try:
        with world.database.session() as session:
            assert len(expire_verifications(session, world.services)) == 2
            with world.session() as other:
                seen_meanwhile = list(other.exec(expired))
            raise RuntimeError("the command fails after listing")
    except RuntimeError:
        pass
    assert seen_meanwhile == []
    with world.session() as session:
        assert list(session.exec(expired)) == []  # rolled back with the rest
    world.database.dispose()


def _rectification(world: World) -> str:
    outcome = world.email(ANNA_EMAIL, "Hej! Mina uppgifter är fel, kan ni rätta dem?", "Rätta")
    world.press(ANNA_TELEGRAM, world.verification(outcome.reference).id, yes=True)
    return outcome.reference


def test_two_staff_adding_changes_at_once_keep_both(any_world, monkeypatch):
    """Before, the second merged with the changes as it had read them, and the first
    colleague's change was lost without a word."""
    reference = _rectification(any_world)

    def add(field: str, value: str, actor: str) -> Callable[[], Any]:
        services = any_world.services
        return _in_one(
            any_world, lambda s: add_changes(s, services, reference, {field: value}, actor=actor)
        )

    _, second = _first_pauses_while_second_decides(
        monkeypatch,
        add("company", "Nya Bolaget AB", "staff:eva"),
        add("org_number", "556677-8899", "staff:ola"),
    )
    assert second is None
    fields = sorted(c["field"] for c in any_world.case(reference).requested_changes)
    assert fields == ["company", "org_number"]


def test_closing_as_the_sender_takes_the_approved_reply_is_refused(any_world, monkeypatch):
    """Staff close an approved case (answered by phone) at the instant the sender takes its
    reply: the closing is refused, not recorded as "closed without a reply" while the reply
    goes. (On PostgreSQL the sender's claim came between the closing's read and its write.)"""
    reference, draft = _approved_access_reply(any_world)
    reply = any_world.approve(draft.id)
    withdraw = cases.withdraw_queued

    def sender_takes_it_first(*args: Any, **kwargs: Any) -> int:
        def take() -> None:
            with Session(any_world.database.engine) as session:
                claim_next(session, any_world.services, [ChannelName.EMAIL])
                session.commit()

        if any_world.database.engine.dialect.name == "postgresql":  # (SQLite: one writer)
            taker = threading.Thread(target=take)
            taker.start()
            taker.join(10)
        return withdraw(*args, **kwargs)

    monkeypatch.setattr(cases, "withdraw_queued", sender_takes_it_first)
    closing = _in_one(
        any_world,
        lambda s: close_case(s, any_world.services, reference, "answered by phone", actor="x"),
    )
    if any_world.database.engine.dialect.name == "postgresql":
        with pytest.raises(CaseError, match="being handed over to be sent right now"):
            closing()
        assert any_world.case(reference).status == "approved"
    else:
        closing()
        with any_world.session() as session:
            assert session.get(Outbox, reply.id).status == "cancelled"


async def test_a_no_while_the_reply_is_handed_over_keeps_it_from_a_second_attempt(world):
    """The person on file says "No, it wasn't me" while the reply is being handed to the
    mail server, and that attempt fails: it is not tried again. Before, it was queued again
    and went to whoever had asked."""
    reference, draft = _approved_access_reply(world)
    challenge = world.verification(reference)
    world.approve(draft.id)
    mail = world.channels[ChannelName.EMAIL]
    send = mail.send

    async def says_no_meanwhile_then_fails(message: Any) -> str:
        if message.address == ANNA_EMAIL and reference in message.subject:
            mail.send = send  # type: ignore[method-assign]
            world.press(ANNA_TELEGRAM, challenge.id, yes=False)
            raise SendError("timed out")
        return await send(message)

    mail.send = says_no_meanwhile_then_fails  # type: ignore[method-assign]
    await world.deliver()
    world.clock.advance(hours=2)
    assert not [m for m in await world.deliver() if m.address == ANNA_EMAIL]
    [alert] = world.alerts("possible_impersonation")
    assert "1 reply message(s) were being handed over" in alert.text
    with world.session() as session:
        [row] = session.exec(
            select(Outbox).where(Outbox.purpose == "reply", Outbox.address == ANNA_EMAIL)
        )
    assert row.status == "cancelled"
