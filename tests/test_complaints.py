"""A complaint is acknowledged with what NOX will do and by when, and stays open until staff
record the outcome and approve the reply that gives it."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from bot.errors import CaseError
from bot.rules.kinds import RIGHTS_KINDS
from bot.store.records import get_case
from bot.store.register import find_subject
from bot.store.tables import Draft
from bot.workflow.approval import approval_plan
from bot.workflow.complaints import record_outcome
from bot.workflow.drafts import draft_reply
from bot.workflow.linking import link_to_subject
from bot.workflow.rendering import longdate
from tests.workflow_kit import ANNA_EMAIL, ANNA_TELEGRAM, JOHN_EMAIL, World


def complaint(world: World) -> str:
    outcome = world.email(
        ANNA_EMAIL,
        "Jag är mycket missnöjd med hur ni har hanterat mina personuppgifter: ni skickade "
        "mitt CV till en kund utan att fråga. Jag kommer att anmäla er till IMY.",
        "Klagomål",
    )
    return outcome.reference


async def test_a_complaint_is_acknowledged_with_what_we_will_do_and_by_when(world):
    reference = complaint(world)
    case = world.case(reference)
    with world.session() as session:
        [ack] = session.exec(
            select(Draft).where(Draft.request_id == case.id, Draft.purpose == "acknowledgment")
        ).all()
    assert f"Senast {longdate(case.due_date, 'sv')} får du ett skriftligt svar" in ack.text
    assert "går igenom vad som har hänt" in ack.text and "IMY" in ack.text
    assert "beklagar att du" not in ack.text.lower() and "ringa" not in ack.text
    world.approve(ack.id)
    await world.deliver()
    assert world.sent_to(ANNA_EMAIL)[-1].subject.startswith("Vi har tagit emot ditt klagomål")
    assert world.case(reference).status == "awaiting_approval"  # still open


async def test_the_complaint_reply_waits_for_the_outcome_staff_record(world):
    reference = complaint(world)
    draft = world.reply_draft(reference)
    with pytest.raises(CaseError, match="the complaint's outcome is not recorded"):
        world.approve(draft.id)
    assert world.case(reference).status == "awaiting_approval"
    with world.database.session() as session:
        redrafted = record_outcome(
            session,
            world.services,
            reference,
            "Vi skickade ditt CV utan ditt samtycke. Kunden har raderat det, och vi skickar "
            "inte längre CV:n utan att fråga först.",
            actor="staff:eva",
        )
    reply = world.reply_draft(reference)
    assert reply.id == redrafted.id != draft.id
    assert "Kunden har raderat det" in reply.text and "Ännu inget utfall" not in reply.text
    # The alert asked for the outcome: it is answered (it stayed open, asking still).
    [alert] = world.alerts("complaint")
    assert alert.resolved_by == "staff:eva"
    world.approve(reply.id)
    await world.deliver()
    assert world.case(reference).status == "done"
    assert "Kunden har raderat det" in world.sent_to(ANNA_EMAIL)[-1].text


def test_an_outcome_for_a_case_that_is_no_complaint_is_refused(world):
    outcome = world.email(ANNA_EMAIL, "Jag vill ha ett registerutdrag.", "Utdrag")
    with world.database.session() as session, pytest.raises(CaseError, match="is no complaint"):
        record_outcome(session, world.services, outcome.reference, "x", actor="staff:eva")


async def test_an_acknowledgment_still_waiting_is_withdrawn_when_the_final_answer_is_approved(
    world,
):
    reference = complaint(world)
    case = world.case(reference)
    with world.session() as session:
        [ack] = session.exec(
            select(Draft).where(Draft.request_id == case.id, Draft.purpose == "acknowledgment")
        ).all()
    with world.database.session() as session:
        reply = record_outcome(
            session, world.services, reference, "Kunden har raderat ditt CV.", actor="staff:eva"
        )
        plan = approval_plan(session, world.services, reply)
    assert f"withdraw the acknowledgment still waiting for approval (draft {ack.id})" in " ".join(
        plan.will
    )
    world.approve(reply.id)
    with world.session() as session:
        assert session.get(Draft, ack.id).status == "superseded"
    with pytest.raises(CaseError, match="only a draft awaiting approval can be approved"):
        world.approve(ack.id)
    await world.deliver()
    assert [m.subject for m in world.sent_to(ANNA_EMAIL)] == [reply.subject]


def test_the_complaint_alert_gives_the_outcome_command_as_it_runs(world):
    reference = complaint(world)
    [alert] = world.alerts("complaint")
    assert f"noxbot requests outcome {reference} --text-file FILE" in alert.text


def test_a_case_corrected_to_no_longer_be_a_complaint_no_longer_asks_for_its_outcome(world):
    """Staff read the complaint as a question about the processing and corrected the kinds:
    before, its "acknowledge it, record the outcome" alert stayed open for good."""
    from bot.workflow.corrections import correct_kinds

    reference = complaint(world)
    with world.database.session() as session:
        correct_kinds(session, world.services, reference, ["info"], actor="staff:eva")
    [alert] = world.alerts("complaint")
    assert alert.resolved_at is not None and alert.resolved_by == "staff:eva"


#: Every kind alone, and replies answering several: the one statement may move into a section.
ANSWERED = [[str(k)] for k in RIGHTS_KINDS] + [
    ["access", "complaint"],
    ["info", "access"],
    ["erasure", "info"],
    [str(k) for k in RIGHTS_KINDS],
]


@pytest.mark.parametrize("language", ["sv", "en"])
def test_every_reply_names_the_right_to_complain_to_imy_exactly_once(world, language):
    reference = world.email(ANNA_EMAIL, "Jag vill ha ett registerutdrag, artikel 15.").reference
    world.call_confirms(reference)
    authority = {  # as each language names it (the default config names it in Swedish)
        "sv": "Integritetsskyddsmyndigheten (IMY), imy.se",
        "en": "the Swedish Authority for Privacy Protection (IMY), imy.se",
    }[language]
    for kinds in ANSWERED:
        with world.database.session() as session:
            case = get_case(session, reference)
            case.kinds, case.language = kinds, language
            session.add(case)
            text = draft_reply(session, world.services, case, actor="staff:eva").text
        assert len(re.findall(r"\bIMY\b", text)) == 1, (kinds, text)
        said = "complain to" if language == "en" else "klaga hos"
        assert len(re.findall(said, text)) == 1, (kinds, text)
        if "complaint" in kinds:  # the section's fuller words are kept, not the footer's
            assert f"{said} {authority}, " in text and "82" in text, (kinds, text)


def test_a_template_override_without_the_imy_sentence_leaves_it_to_the_closing_line(
    tmp_path,
):
    """Staff shorten the access section in their own templates and leave the right to
    complain out: the reply still names it once, in its closing line."""
    from bot.workflow.rendering import BUILTIN_TEMPLATES, Drafter
    from tests.workflow_kit import ANNA_TELEGRAM, make_world

    overrides = tmp_path / "templates"
    for language in ("sv", "en"):
        (overrides / language / "kinds").mkdir(parents=True)
        builtin = (BUILTIN_TEMPLATES / language / "kinds" / "access.txt.j2").read_text()
        shortened = builtin.split("{% if states_complaint_right")[0]
        (overrides / language / "kinds" / "access.txt.j2").write_text(shortened)
    world = make_world(tmp_path)
    world.services.drafter = Drafter(world.services.settings.organisation, overrides)
    opened = world.email(ANNA_EMAIL, "Hej, jag vill ha en kopia av mina personuppgifter.", "Utdrag")
    world.press(ANNA_TELEGRAM, world.verification(opened.reference).id, yes=True)
    body = world.reply_draft(opened.reference).text
    assert body.count("IMY") == 1 and "klaga hos" in body


COMPLAINT = {
    "sv": "Jag är mycket missnöjd med hur ni har hanterat mina personuppgifter: ni skickade "
    "mitt CV till en kund utan att fråga. Jag kommer att anmäla er till IMY.",
    "en": "I am very unhappy with how you have handled my personal data: you sent my CV to "
    "a client without asking. I will complain to IMY.",
}
GREETING = {"sv": "Hej", "en": "Hello"}


@pytest.mark.parametrize("language", ["sv", "en"])
def test_a_complaint_from_a_person_on_file_is_answered_by_name_in_either_language(world, language):
    """A mail with no display name (John Carter's English complaint in the demo) was
    greeted "Hello," while one that had one was greeted by it: the person is on file."""
    reference = world.email(JOHN_EMAIL, COMPLAINT[language]).reference
    assert world.case(reference).language == language
    [ack] = world.drafts(reference, "acknowledgment")
    assert ack.text.startswith(f"{GREETING[language]} John Carter,\n")
    with world.database.session() as session:
        record_outcome(session, world.services, reference, "We looked into it.", actor="eva")
    assert world.reply_draft(reference).text.startswith(f"{GREETING[language]} John Carter,\n")
    # From his own address the register's name stands, whatever the mail calls him (a
    # nickname, a Telegram name: "User5002"); someone not on file by the name they gave.
    named = world.email(JOHN_EMAIL, COMPLAINT[language], sender_name="Johnny C").reference
    assert world.drafts(named, "acknowledgment")[0].text.startswith(
        f"{GREETING[language]} John Carter,\n"
    )
    stranger = world.email("kim@example.org", COMPLAINT[language], sender_name="Kim Ek")
    assert world.drafts(stranger.reference, "acknowledgment")[0].text.startswith(
        f"{GREETING[language]} Kim Ek,\n"
    )


def test_a_case_linked_to_a_person_from_an_address_not_theirs_does_not_greet_them_by_name(
    world,
):
    """The answer goes to where the request came from: it greets by no name from the
    register when that address is not on file for the person."""
    reference = world.email(
        "someone@example.net", "Please send me a copy of the personal data you hold about me."
    ).reference
    with world.database.session() as session:
        anna = find_subject(session, "email", ANNA_EMAIL)
        link_to_subject(session, world.services, reference, anna.id, actor="staff:eva")
    world.press(ANNA_TELEGRAM, world.verification(reference).id, yes=True)
    reply = world.reply_draft(reference)
    assert reply.to_address == "someone@example.net"
    assert reply.text.startswith("Hello,\n")


async def test_a_person_on_file_writing_on_telegram_is_greeted_by_their_name_not_their_nickname(
    world,
):
    """Anna's Telegram name is "Nisse 🚀": her verified access reply began "Hej Nisse 🚀,"."""

    opened = world.chat(
        ANNA_TELEGRAM, "Jag vill ha en kopia av mina personuppgifter.", sender_name="Nisse 🚀"
    )
    await world.deliver()  # the code goes to her mail on file; she types it in the chat
    world.chat(ANNA_TELEGRAM, world.code_mailed_to(ANNA_EMAIL), sender_name="Nisse 🚀")
    assert world.reply_draft(opened.reference).text.startswith("Hej Anna Lindqvist,\n")


def test_a_reply_that_changes_the_name_greets_by_the_new_name(world):
    """Anna married and asked to be Anna Berg: the reply saying so began "Hej Anna
    Lindqvist,"."""
    from bot.workflow.corrections import add_changes

    reference = world.email(
        ANNA_EMAIL, "Hej, jag har gift mig. Rätta mitt namn i ert register, tack.", "Namnbyte"
    ).reference
    world.press(ANNA_TELEGRAM, world.verification(reference).id, yes=True)
    with world.database.session() as session:
        add_changes(session, world.services, reference, {"name": "Anna Berg"}, actor="staff:eva")
    assert world.reply_draft(reference).text.startswith("Hej Anna Berg,\n")
