"""Requesters not on file: linking a case to a person on file, answering "no data held"."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.errors import CaseError
from bot.store.records import get_case
from bot.store.tables import Subject
from bot.workflow.linking import draft_no_data, link_to_subject
from tests.web_kit import prepare


def test_no_data_held_is_refused_for_an_address_on_file_and_for_a_linked_case(tmp_path: Path):
    database, services, (erik, stranger, _) = prepare(tmp_path / "demo")
    with database.session() as session, pytest.raises(CaseError, match="verified already"):
        draft_no_data(session, services, erik, actor="staff:t")
    with database.session() as session:
        maria = session.exec(select(Subject).where(Subject.name == "Maria Berg")).one().id or 0
        link_to_subject(session, services, stranger, maria, actor="staff:t")
    with database.session() as session, pytest.raises(CaseError, match="on file"):
        draft_no_data(session, services, stranger, actor="staff:t")
    with database.session() as session, pytest.raises(CaseError, match="already"):
        link_to_subject(session, services, stranger, maria, actor="staff:t")
    with database.session() as session:
        assert get_case(session, stranger).status == "awaiting_verification"
    database.dispose()


def _no_data_draft(world, reference: str):
    with world.database.session() as session:
        return draft_no_data(session, world.services, reference, actor="staff:eva")


def test_no_data_answer_names_the_old_address_and_number_the_message_gave(world):
    """The answer asked "if you have used another address, tell us which" of someone who had
    named their old address and number; the old ones were not even searched."""
    case = world.email(
        "anna.ny@example.org",
        "Hej! Jag finns nog inte hos er under den här adressen, sök på anna.gammal@example.se "
        "eller mitt gamla nummer 070-999 88 77. Jag vill ha ett registerutdrag.",
        "Registerutdrag",
    )
    text = _no_data_draft(world, case.reference).text
    assert "anna.ny@example.org" in text
    assert "anna.gammal@example.se" in text and "070-999 88 77" in text
    # Not asked for what the message gave: only for any other than these.
    assert "under en annan e-postadress" not in text
    assert "skriv till oss från den e-postadressen" in text


def _heed(world, draft) -> list[str]:
    from bot.workflow.approval import approval_plan

    with world.database.session() as session:
        return approval_plan(session, world.services, draft).heed


def test_a_named_address_on_file_changes_nothing_the_sender_gets_and_staff_are_told(world):
    """Someone writing from a new address who names an address on file may be that person,
    or someone probing the register: whether the answer comes, and what it says, must not
    depend on it (attacker review: refusing it told the prober "on file" by its absence).
    Staff read it before approving, by the person's id, and link the case if it is theirs."""
    asked = "Hej, jag har bytt adress. Förut skrev jag från {}. Vad har ni för uppgifter om mig?"
    on_file = world.email(
        "anna.ny@example.org", asked.format("anna.lindqvist@example.se"), "Utdrag"
    )
    unknown = world.email("per.ny@example.org", asked.format("per.gammal@example.se"), "Utdrag")
    held, not_held = (
        _no_data_draft(world, on_file.reference),
        _no_data_draft(world, unknown.reference),
    )
    assert held.text.replace(on_file.reference, "REF").replace("anna.ny@example.org", "X").replace(
        "anna.lindqvist@example.se", "Y"
    ) == not_held.text.replace(unknown.reference, "REF").replace("per.ny@example.org", "X").replace(
        "per.gammal@example.se", "Y"
    )
    assert "har vi inga personuppgifter kopplade till den adressen" in held.text
    [note] = _heed(world, held)
    assert "names an email address or phone number on file (person" in note
    assert f"noxbot requests link {on_file.reference} --subject" in note
    assert "anna.lindqvist@example.se" not in note  # (the plan reaches the staff chat)
    assert _heed(world, not_held) == []
    # A number on file, written any way, is found too.
    case = world.email(
        "okand@example.org", "Mitt nummer hos er är 0701234567. Vad har ni om mig?", "Utdrag"
    )
    [note] = _heed(world, _no_data_draft(world, case.reference))
    assert "on file (person" in note


def test_staff_are_told_of_a_named_number_on_file_the_phone_plan_does_not_list(world):
    """John's +44 7700 900123 is of a range the phone plan keeps for fiction: the register
    takes it, but only "valid" numbers were read from the message, so nothing told staff
    that a stranger's message named John's number (DPO review)."""
    case = world.email(
        "someone.new@example.net",
        "Hi, what data do you hold about me? My number is +44 7700 900123.",
        "My data",
    )
    [note] = _heed(world, _no_data_draft(world, case.reference))
    assert "on file (person" in note


def test_the_no_data_answer_owns_up_to_the_correspondence_and_earlier_cases_from_the_address(
    world,
):
    """Before, it said "we hold no personal data linked to this address" while holding the
    request itself, and the person's earlier cases from the same address: personal data
    linked to it that the answer must not deny (Art. 15)."""
    first = world.email(
        "ny.person@example.org", "Jag vill klaga på hur ni hanterat mina uppgifter."
    )
    world.clock.advance(days=3)
    later = world.email(
        "ny.person@example.org", "Hej, jag vill veta vilka personuppgifter ni har om mig."
    )
    text = _no_data_draft(world, later.reference).text
    assert "Utöver den här korrespondensen om din begäran" in text
    assert f"tidigare ärenden från samma adress ({first.reference})" in text
    assert "artikel 5.2" in text
    other = world.email("annan@example.org", "Please tell me what personal data you hold on me.")
    english = _no_data_draft(world, other.reference).text
    assert "Apart from this correspondence about your request, we hold no personal data" in english
    assert first.reference not in english and "earlier cases" not in english
