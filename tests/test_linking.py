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
    assert "än dessa" in text


def test_no_data_answer_is_refused_when_an_address_the_message_names_is_on_file(world):
    """Someone writing from a new address who names the address on file is that person's
    case (or someone posing as them): the answer must not say nothing is held, nor say to
    the unverified sender that the address is on file; staff are told to link the case."""
    case = world.email(
        "anna.ny@example.org",
        "Hej, jag har bytt adress. Förut skrev jag från anna.lindqvist@example.se. "
        "Vad har ni för uppgifter om mig?",
        "Registerutdrag",
    )
    with pytest.raises(CaseError) as refused:
        _no_data_draft(world, case.reference)
    message = str(refused.value)
    assert "names an email address or phone number on file" in message
    assert f"noxbot requests link {case.reference} --subject" in message
    assert "anna.lindqvist@example.se" not in message  # (errors reach logs)
    assert world.drafts(case.reference, purpose="no_data") == []
    # A number on file, written any way, is found too.
    case = world.email(
        "okand@example.org", "Mitt nummer hos er är 0701234567. Vad har ni om mig?", "Utdrag"
    )
    with pytest.raises(CaseError, match="on file"):
        _no_data_draft(world, case.reference)


def test_no_data_answer_is_refused_for_a_number_on_file_the_phone_plan_does_not_list(world):
    """John's +44 7700 900123 is of a range the phone plan keeps for fiction: the register
    takes it, but only "valid" numbers were read from the message, so a stranger naming it
    could be sent "no data held" about John's number (DPO review)."""
    case = world.email(
        "someone.new@example.net",
        "Hi, what data do you hold about me? My number is +44 7700 900123.",
        "My data",
    )
    with pytest.raises(CaseError, match="on file"):
        _no_data_draft(world, case.reference)
    assert world.drafts(case.reference, purpose="no_data") == []
