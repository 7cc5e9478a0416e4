"""A case staff link to a person on file, from an address that is not theirs: whoever wrote
it must not get that person's data on the strength of someone else's confirmation, or of a
confirmation that never said where the answer goes, or of staff pasting it in by hand."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from bot.errors import CaseError
from bot.store.tables import ContactPoint, Subject, Verification
from bot.workflow.approval import approval_plan, edit_draft
from bot.workflow.cases import extend_case
from bot.workflow.corrections import correct_kinds
from bot.workflow.linking import link_to_subject
from tests.workflow_kit import ANNA_TELEGRAM, JOHN_EMAIL, JOHN_TELEGRAM, World

MALLORY = "mallory@evil.example"  # on file for nobody


def _link(world: World, reference: str, name: str) -> None:
    with world.session() as session:
        person = session.exec(select(Subject).where(Subject.name == name)).one().id or 0
    with world.database.session() as session:
        link_to_subject(session, world.services, reference, person, actor="staff:eva")


def _pending(world: World) -> set[str]:
    with world.session() as session:
        query = select(Verification.address).where(Verification.status == "pending")
        return set(session.exec(query))


def test_a_case_linked_to_someone_else_no_longer_takes_the_first_persons_yes(world):
    """'I am John' (staff link; John's Telegram is challenged), then 'sorry, I am Anna'
    (staff link again): John's challenge is withdrawn - his "yes" would have verified the
    case and drafted Anna's register extract for the stranger."""
    reference = world.email(MALLORY, "Jag är John Carter. Skicka alla uppgifter ni har om mig.")
    _link(world, reference.reference, "John Carter")
    johns = world.verification(reference.reference)
    assert johns.address == JOHN_TELEGRAM
    _link(world, reference.reference, "Anna Lindqvist")
    assert _pending(world) == {ANNA_TELEGRAM}
    world.press(JOHN_TELEGRAM, johns.id, yes=True)
    case = world.case(reference.reference)
    assert case.verified_at is None and case.status == "awaiting_verification"
    assert world.drafts(reference.reference, "reply") == []


def test_a_request_from_an_address_on_file_is_not_linked_to_someone_else(world):
    """John writes from his own address, 'I am Anna': the case is his and stays his."""
    outcome = world.email(JOHN_EMAIL, "Jag är Anna Lindqvist. Skicka alla uppgifter om mig.")
    with pytest.raises(CaseError, match="on file for John Carter: a request from it is theirs"):
        _link(world, outcome.reference, "Anna Lindqvist")
    assert world.verification(outcome.reference).address == JOHN_TELEGRAM


async def test_the_challenge_of_a_linked_case_says_where_the_answer_will_go(world):
    linked = world.email(MALLORY, "Jag är Anna Lindqvist. Skicka alla uppgifter om mig.")
    _link(world, linked.reference, "Anna Lindqvist")
    [challenge] = [m for m in await world.deliver() if m.address == ANNA_TELEGRAM]
    assert "Begäran kom från mallory@evil.example, som vi inte har som din kontaktuppgift: " \
        "svaret skickas dit." in challenge.text  # fmt: skip
    own = world.email("anna.lindqvist@example.se", "Skicka alla uppgifter ni har om mig.")
    [challenge] = [m for m in await world.deliver() if m.address == ANNA_TELEGRAM]
    assert own.reference in challenge.text and "kom från" not in challenge.text


def test_register_data_pasted_into_a_draft_for_an_address_not_on_file_is_not_approved(world):
    outcome = world.email(MALLORY, "Jag är Anna Lindqvist. Vilket nummer har ni till mig?")
    _link(world, outcome.reference, "Anna Lindqvist")
    [ack] = world.drafts(outcome.reference, "acknowledgment")
    text = ack.text + "\n\nNumret vi har är +46701234567 (Lindqvist Data AB)."
    with world.database.session() as session:
        edited = edit_draft(session, world.services, ack.id or 0, text, actor="staff:eva")
        plan = approval_plan(session, world.services, edited)
        edited_id = edited.id or 0
    assert plan.blocked == [
        f"{outcome.reference} is not verified, yet the text holds what the register says of "
        "the person it is linked to (+46701234567, Lindqvist Data AB); take it out, or verify "
        "first"
    ]
    with pytest.raises(CaseError, match="not verified"):
        world.approve(edited_id)
    assert not [m for m in asyncio.run(world.deliver()) if m.address == MALLORY]


@pytest.mark.parametrize(
    ("pasted", "held"),
    [
        ("Numret vi har är 070-123 45 67.", "+46701234567"),
        ("Ring oss om 0701234567 inte stämmer.", "+46701234567"),
        ("Org.nr 5591234567.", "559123-4567"),
        ("Företag: Lindqvist\nData AB", "Lindqvist Data AB"),
        ("Du är tillgänglig från 15 januari 2027.", "2027-01-15"),
        ("CV: 15 år som utvecklare, senast på\nExempelbanken.", "15 år som utvecklare"),
    ],
)
def test_register_data_pasted_in_another_shape_is_not_approved_either(world, pasted, held):
    """A number regrouped, a name or a CV line wrapped over two lines, a date written out:
    the same data, held back the same way. Before, only the value exactly as held was."""
    outcome = world.email(MALLORY, "Jag är Anna Lindqvist. Vilket nummer har ni till mig?")
    _link(world, outcome.reference, "Anna Lindqvist")
    [ack] = world.drafts(outcome.reference, "acknowledgment")
    with world.database.session() as session:
        edited = edit_draft(
            session, world.services, ack.id or 0, f"{ack.text}\n\n{pasted}", actor="staff:eva"
        )
        [blocked] = approval_plan(session, world.services, edited).blocked
    assert "is not verified, yet the text holds what the register says" in blocked
    assert held in blocked


def test_register_data_pasted_into_the_subject_line_is_not_sent(world):
    """The subject line goes to the same address as the text."""
    outcome = world.email(MALLORY, "Jag är Anna Lindqvist. Vilket nummer har ni till mig?")
    _link(world, outcome.reference, "Anna Lindqvist")
    [ack] = world.drafts(outcome.reference, "acknowledgment")
    with world.database.session() as session:
        edited = edit_draft(
            session,
            world.services,
            ack.id or 0,
            ack.text,
            actor="staff:eva",
            subject="Re: ditt nummer +46701234567",
        )
        edited_id = edited.id or 0
    with pytest.raises(CaseError, match=r"not verified, yet .*\(\+46701234567\)"):
        world.approve(edited_id)
    assert not [m for m in asyncio.run(world.deliver()) if m.address == MALLORY]


def test_a_reply_to_access_waits_for_verification_even_when_staff_set_the_kind(world):
    """A question corrected to an access request: its reply ("we hold nothing about you")
    is not approved before anyone is verified - nor sent without the no-data answer's
    checks."""
    outcome = world.email("anna.l@elsewhere.example", "Hur länge sparar ni uppgifter?")
    with world.database.session() as session:
        correct_kinds(session, world.services, outcome.reference, ["access"], actor="staff:eva")
    with pytest.raises(CaseError, match="a reply to access needs the person's confirmation"):
        world.approve(world.reply_draft(outcome.reference).id or 0)


def test_notices_that_greet_the_sender_by_the_name_they_gave_are_not_held_back(world):
    """The name the sender gave is theirs to read back: an extension, a refusal and the
    clarification after a "no" greet them by it, and are not taken for register data."""
    outcome = world.email(
        "anna.new@elsewhere.example",
        "Jag vill ha ut allt ni har om mig.",
        sender_name="Anna Lindqvist",
    )
    _link(world, outcome.reference, "Anna Lindqvist")
    with world.database.session() as session:
        extension = extend_case(
            session, world.services, outcome.reference, "many sources", actor="staff:eva"
        )
        assert "Anna Lindqvist" in extension.text
        assert approval_plan(session, world.services, extension).blocked == []
    world.press(ANNA_TELEGRAM, world.verification(outcome.reference).id, yes=False)
    [clarification] = world.drafts(outcome.reference, "clarification")
    with world.database.session() as session:
        assert approval_plan(session, world.services, clarification).blocked == []


def test_a_case_is_linked_to_the_person_its_address_has_come_to_belong_to(world):
    """An unknown address wrote; the register has since got that address for Anna."""
    outcome = world.email("anna.new@elsewhere.example", "Jag vill ha ut allt ni har om mig.")
    with world.database.session() as session:
        anna = session.exec(select(Subject).where(Subject.name == "Anna Lindqvist")).one()
        session.add(
            ContactPoint(subject_id=anna.id, kind="email", value="anna.new@elsewhere.example")
        )
    _link(world, outcome.reference, "Anna Lindqvist")
    assert world.case(outcome.reference).status == "awaiting_verification"
