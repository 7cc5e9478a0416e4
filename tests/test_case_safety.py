"""A case belongs to the person who asked: what strangers, forged mail, late answers and
later changes cannot do to it, and what noxbot does not keep."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.channels.mail import inbound_from_email
from bot.errors import CaseError, NoxbotError, StaleDraft
from bot.store.records import alert_staff, get_case
from bot.store.tables import (
    AuditEvent,
    ContactPoint,
    Draft,
    Message,
    Outbox,
    Request,
    StaffAlert,
    Subject,
    VerificationStatus,
)
from bot.workflow.approval import edit_draft
from bot.workflow.cases import (
    add_note,
    close_case,
    extend_case,
    refuse_case,
    reopen_case,
    resolve_alert,
)
from bot.workflow.complaints import record_outcome
from bot.workflow.confirming import verify_by_phone
from bot.workflow.drafts import reject_draft
from bot.workflow.housekeeping import purge_closed, purge_unrelated_messages, run_daily_retention
from bot.workflow.outbox import requeue
from bot.workflow.pipeline import decide_triage
from handlers.rectification import requested_changes
from tests.web_kit import console_client
from tests.workflow_kit import ANNA_EMAIL, ANNA_TELEGRAM, ERIK_EMAIL, JOHN_EMAIL, World

MALLORY = "mallory@evil.example"


async def verified_access_case(world: World, **kw) -> str:
    outcome = world.email(ANNA_EMAIL, "Hej, jag vill ha en kopia av mina personuppgifter.", **kw)
    await world.deliver()
    world.press(ANNA_TELEGRAM, world.verification(outcome.reference).id, yes=True)
    assert world.case(outcome.reference).status == "awaiting_approval"
    return outcome.reference


def names_on_file(world: World) -> list[str]:
    with world.session() as session:
        return [s.name for s in session.exec(select(Subject))]


# --- strangers in someone else's case -------------------------------------------------------


async def test_a_stranger_quoting_a_reference_cannot_add_erasure_to_someone_elses_case(world):
    reference = await verified_access_case(world)
    stranger = world.email(MALLORY, "Please delete all my personal data.", f"Re: [{reference}]")

    assert stranger.reference != reference
    assert world.case(reference).kinds == ["access"]
    assert [a.kind for a in world.alerts("other_sender")] == ["other_sender"]
    world.approve(world.reply_draft(reference).id)
    assert "Anna Lindqvist" in names_on_file(world)


async def test_a_colleague_replying_all_in_the_thread_gets_a_case_of_their_own(world):
    first = world.email(
        ANNA_EMAIL,
        "Hej, jag vill ha en kopia av mina personuppgifter.",
        "Utdrag",
        message_id="<anna-1@example.se>",
    )
    bob = world.email(
        "bob@example.se",
        "Radera gärna mina uppgifter också.",
        "Re: Utdrag",
        in_reply_to="<anna-1@example.se>",
        references=("<anna-1@example.se>",),
    )
    assert bob.reference not in (None, first.reference)
    assert world.case(first.reference).kinds == ["access"]
    assert world.case(bob.reference).requester_address == "bob@example.se"


async def test_a_stranger_on_telegram_cannot_change_a_persons_contact_details(world):
    reference = await verified_access_case(world)
    world.chat("7770001", f"{reference}: please correct my email address to {MALLORY}")
    world.approve(world.reply_draft(reference).id)
    with world.session() as session:
        emails = [c.value for c in session.exec(select(ContactPoint)) if c.kind == "email"]
    assert MALLORY not in emails and ANNA_EMAIL in emails


async def test_a_register_extract_never_reaches_a_stranger_who_guessed_a_reference(world):
    erik = world.email(ERIK_EMAIL, "Hej, jag vill ha en kopia av mina personuppgifter.")
    with world.database.session() as session:
        verify_by_phone(session, world.services, erik.reference, "called Erik", actor="staff:eva")
    world.email(
        MALLORY,
        f"Please correct my details: my email is now {MALLORY} and my phone 070-666 66 66.",
        f"Re: [{erik.reference}]",
    )
    world.approve(world.reply_draft(erik.reference).id)
    await world.deliver()
    access = world.email(MALLORY, "I want a copy of all my personal data.")

    assert world.case(access.reference).status == "unverified"  # not on file
    assert not [m for m in world.sent_to(MALLORY) if "969700-1234" in m.text]


def test_another_sender_reusing_a_message_id_is_not_taken_for_a_duplicate(world):
    first = world.email(ANNA_EMAIL, "Radera alla mina personuppgifter.", message_id="<same@x>")
    second = world.email(
        "john.carter@example.com", "Please send me a copy of my data.", message_id="<same@x>"
    )
    assert not second.duplicate
    assert second.reference not in (None, first.reference)


# --- approval carries out what the approved text says ---------------------------------------


async def test_a_right_added_while_the_reply_is_rejected_makes_a_new_draft(world):
    reference = await verified_access_case(world, subject="Utdrag")
    old = world.reply_draft(reference)
    with world.database.session() as session:
        reject_draft(session, world.services, old.id, "wording", actor="staff:eva")
    world.email(ANNA_EMAIL, "Och sluta skicka reklam till mig.", f"Re: Utdrag [{reference}]")

    assert world.case(reference).status == "awaiting_approval"
    new = world.reply_draft(reference)
    assert new.id != old.id and new.covers["kinds"] == ["access", "marketing_optout"]
    with world.database.session() as session, pytest.raises(Exception, match="superseded"):
        edit_draft(session, world.services, old.id, old.text + "\nMvh Eva", actor="staff:eva")


async def test_a_draft_written_before_the_case_changed_cannot_be_approved(world):
    reference = await verified_access_case(world)
    draft = world.reply_draft(reference)
    with world.database.session() as session:  # the case moved on without a redraft
        case = get_case(session, reference)
        case.kinds = ["access", "erasure"]
        session.add(case)
    with pytest.raises(StaleDraft, match="written for access"):
        world.approve(draft.id)
    assert "Anna Lindqvist" in names_on_file(world)


async def test_staff_are_told_when_a_redraft_replaces_their_edit(world):
    reference = await verified_access_case(world, subject="Utdrag")
    draft = world.reply_draft(reference)
    with world.database.session() as session:
        edit_draft(session, world.services, draft.id, draft.text + "\n/Eva", actor="staff:eva")
    world.email(ANNA_EMAIL, "Och sluta skicka nyhetsbrev till mig.", f"Re: Utdrag [{reference}]")

    [alert] = world.alerts("redrafted")
    assert reference in alert.text and "not carried over" in alert.text
    assert world.reply_draft(reference).covers["kinds"] == ["access", "marketing_optout"]


# --- verification answers --------------------------------------------------------------------


async def test_a_forged_no_outside_the_challenge_thread_does_not_end_a_verification(world):
    genuine = world.chat(ANNA_TELEGRAM, "Jag vill ha en kopia av mina personuppgifter.")
    await world.deliver()
    forged = world.email(ANNA_EMAIL, "NO", f"Re: [{genuine.reference}]")

    assert world.case(genuine.reference).status == "awaiting_verification"
    assert forged.state == "thread" and not world.alerts("possible_impersonation")


async def test_wrong_codes_count_by_every_route_and_staff_hear_of_it_once(world):
    genuine = world.chat(ANNA_TELEGRAM, "Jag vill ha en kopia av mina personuppgifter.")
    await world.deliver()
    code = world.code_mailed_to(ANNA_EMAIL)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    world.chat(ANNA_TELEGRAM, wrong)  # in her chat
    world.email(ANNA_EMAIL, wrong, f"Re: [{genuine.reference}]")  # a forged From + reference
    assert world.verification(genuine.reference).attempts == 2
    for _ in range(10):  # guessing on: the limit (5) ends it, whoever was guessing
        world.email(ANNA_EMAIL, wrong, f"Re: [{genuine.reference}]")
    verification = world.verification(genuine.reference)
    assert (verification.status, verification.attempts) == ("failed", 5)
    assert world.case(genuine.reference).status == "unverified"
    # The right code now confirms nothing, and the guesses after the limit raise no alerts.
    world.chat(ANNA_TELEGRAM, code)
    assert world.case(genuine.reference).status == "unverified"
    assert [a.kind for a in world.alerts()] == ["verification_failed"]


async def test_the_right_code_with_the_reference_in_the_subject_is_accepted(world):
    outcome = world.chat(ANNA_TELEGRAM, "Jag vill ha en kopia av mina personuppgifter.")
    await world.deliver()
    code = world.code_mailed_to(ANNA_EMAIL)
    answer = world.email(ANNA_EMAIL, code, f"Kod [{outcome.reference}]")
    assert answer.state == "verification_answer"
    assert world.case(outcome.reference).status == "awaiting_approval"


async def test_a_refused_case_answers_no_late_code(world):
    outcome = world.chat(ANNA_TELEGRAM, "Jag vill ha en kopia av mina personuppgifter.")
    await world.deliver()
    code = world.code_mailed_to(ANNA_EMAIL)
    with world.database.session() as session:
        refusal = refuse_case(
            session, world.services, outcome.reference, "manifestly unfounded", actor="staff:eva"
        )
    world.approve(refusal.id)

    assert world.verification(outcome.reference).status == VerificationStatus.CANCELLED
    late = world.chat(ANNA_TELEGRAM, code)
    assert late.state != "malformed"
    assert world.case(outcome.reference).status == "closed"


# --- rectification ---------------------------------------------------------------------------

CURRENT = {"name": "Anna Lindqvist", "company": "", "org_number": "", "phone": "", "email": ""}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Hej, ändra mitt efternamn till Ek, tack.", "Anna Ek"),
        ("Ändra mitt förnamn till Annie.", "Annie Lindqvist"),
        ("Please change my surname to Ek.", "Anna Ek"),
        ("Please change my name to Anna Ek.", "Anna Ek"),
    ],
)
def test_a_surname_or_first_name_change_keeps_the_rest_of_the_name(text, name):
    changes = requested_changes(text, CURRENT, ignore_emails=set(), language="sv")
    assert [c.new for c in changes if c.field == "name"] == [name]


# --- what is not kept ------------------------------------------------------------------------


async def test_a_mailed_code_is_not_kept_readable_once_it_is_sent(world):
    world.chat(ANNA_TELEGRAM, "Jag vill ha en kopia av mina personuppgifter.")
    await world.deliver()
    code = world.code_mailed_to(ANNA_EMAIL)
    with world.session() as session:
        outbox = [o.text for o in session.exec(select(Outbox))]
        messages = [m.text for m in session.exec(select(Message))]
    assert not [t for t in outbox + messages if code in t]
    assert any("••••••" in t for t in outbox)


RAW_WITH_IDENTITY_NUMBER = (
    f"From: Anna <{ANNA_EMAIL}>\r\nTo: info@noxconsulting.se\r\n"
    "Subject: Radera\r\nMessage-ID: <pnr@example.se>\r\n"
    "Date: Tue, 24 Nov 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Mitt personnummer är 811218-9876, radera mina uppgifter.\r\n"
).encode()


def test_raw_mail_is_kept_only_when_it_could_not_be_read(world):
    assert world.receive(inbound_from_email(RAW_WITH_IDENTITY_NUMBER)).reference
    world.receive(inbound_from_email(b"\x00\x01 not mail at all"))
    with world.session() as session:
        rows = {m.state: m for m in session.exec(select(Message))}
    assert rows["request"].raw is None and "811218-9876" not in rows["request"].text
    assert rows["malformed"].raw  # staff need the bytes to see what arrived


async def rectified_then_erased(world: World) -> tuple[str, str]:
    first = world.email(ANNA_EMAIL, "Rätta mitt telefonnummer till 076-555 12 34.")
    await world.deliver()
    world.press(ANNA_TELEGRAM, world.verification(first.reference).id, yes=True)
    world.call_confirms(first.reference)  # her old number confirms the new one
    world.approve(world.reply_draft(first.reference).id)
    await world.deliver()
    second = world.email(ANNA_EMAIL, "Radera alla mina personuppgifter.")
    await world.deliver()
    world.press(ANNA_TELEGRAM, world.verification(second.reference).id, yes=True)
    world.approve(world.reply_draft(second.reference).id)
    await world.deliver()
    return first.reference, second.reference


async def test_the_audit_trail_holds_no_register_values(world):
    await rectified_then_erased(world)
    with world.session() as session:
        details = [e.detail for e in session.exec(select(AuditEvent))]
    assert any(d == "rectified phone" for d in details)
    assert not [d for d in details if "+46701234567" in d or "+46765551234" in d]


async def test_retention_leaves_no_changes_or_alerts_of_a_purged_case(world):
    denied = world.email(ANNA_EMAIL, "Jag vill ha en kopia av mina personuppgifter.")
    await world.deliver()
    world.press(ANNA_TELEGRAM, world.verification(denied.reference).id, yes=False)
    with world.database.session() as session:
        close_case(session, world.services, denied.reference, "not her", actor="staff:eva")
    references = (*(await rectified_then_erased(world)), denied.reference)
    world.clock.advance(days=365 * 3 + 10)
    with world.database.session() as session:
        assert set(purge_closed(session, world.services, world.clock().date())) == set(references)
    with world.session() as session:
        assert not [c for c in session.exec(select(Request)) if c.requested_changes]
        assert not [a.text for a in session.exec(select(StaffAlert)) if ANNA_EMAIL in a.text]


async def test_erasure_clears_earlier_copies_of_the_persons_data(world):
    world.email(ANNA_EMAIL, "Hej! Mitt CV: 15 år som utvecklare på Exempelbanken. /Anna", "CV")
    export = world.email(ANNA_EMAIL, "Please send me my personal data as JSON.")
    await world.deliver()
    world.press(ANNA_TELEGRAM, world.verification(export.reference).id, yes=True)
    world.approve(world.reply_draft(export.reference).id)
    await world.deliver()
    assert world.case(export.reference).status == "done"
    _, erasure = await rectified_then_erased(world)

    with world.session() as session:
        erasure_id = get_case(session, erasure).id
        copies = [
            *(d.text for d in session.exec(select(Draft).where(Draft.request_id != erasure_id))),
            *(o.text for o in session.exec(select(Outbox).where(Outbox.request_id != erasure_id))),
            *(
                str(o.attachments)
                for o in session.exec(select(Outbox).where(Outbox.request_id != erasure_id))
            ),
            *(
                m.text
                for m in session.exec(select(Message).where(Message.request_id != erasure_id))
            ),
            *(
                m.text
                for m in session.exec(select(Message).where(col(Message.request_id).is_(None)))
            ),
        ]
        kept = [
            m.text for m in session.exec(select(Message).where(Message.request_id == erasure_id))
        ]
    assert not [t for t in copies if "Exempelbanken" in t or "Lindqvist Data AB" in t]
    assert "Radera alla mina personuppgifter." in kept  # this case's own record stays
    with world.session() as session:
        others = [c for c in session.exec(select(Request)) if c.reference != erasure]
        drafts = session.exec(select(Draft).where(Draft.request_id != erasure_id)).all()
        names = {m.display_name for m in session.exec(select(Message))} - {None}
    assert not [c.requested_changes or c.evidence for c in others if c.requested_changes]
    assert not [d.covers["changes"] for d in drafts if d.covers and d.covers["changes"]]
    assert "+46765551234" not in str([(c.requested_changes, c.evidence) for c in others])
    assert not names


async def test_mail_that_opened_no_case_is_cleared_after_the_retention_period(world):
    world.email("kund@example.com", "Har ni en Java-konsult i mars?", "Uppdrag")
    world.triage_everything()
    unsure = world.email("x@example.com", "Angående GDPR och mina personuppgifter hos er.")
    labelled = world.email("y@example.com", "Angående GDPR och mina uppgifter hos er.")
    assert unsure.state == labelled.state == "triage"
    with world.database.session() as session:
        decide_triage(session, world.services, labelled.message_id, None, actor="staff:eva")

    today = world.clock().date()
    with world.database.session() as session:
        assert purge_unrelated_messages(session, world.services, today + timedelta(days=29)) == 0
        assert purge_unrelated_messages(session, world.services, today + timedelta(days=31)) == 1
    with world.session() as session:
        texts = {m.address: m.text for m in session.exec(select(Message))}
    assert texts["kund@example.com"] == ""  # the row stays: never read twice
    assert texts["x@example.com"] and texts["y@example.com"]  # waiting for / labelled by staff


def test_retention_runs_once_a_day(world):
    def texts() -> list[str]:
        with world.session() as session:
            return [m.text for m in session.exec(select(Message).order_by(col(Message.id)))]

    later = world.clock().date() + timedelta(days=40)
    world.email("kund@example.com", "Har ni en Java-konsult i mars?", "Uppdrag")
    with world.database.session() as session:
        run_daily_retention(session, world.services, later)
    world.email("kund@example.com", "Tack för mötet igår, vi hörs på fredag!", "Möte")
    with world.database.session() as session:
        run_daily_retention(session, world.services, later)  # done for that day already
    assert texts() == ["", "Tack för mötet igår, vi hörs på fredag!"]
    with world.database.session() as session:
        run_daily_retention(session, world.services, later + timedelta(days=1))
    assert texts() == ["", ""]


async def test_an_approved_reply_is_not_followed_by_a_refusal_or_an_extension(world):
    """Once the reply is approved, what it promised is carried out and it is on its way:
    the person must not also get "we refuse" or "we need more time". Before, each was
    drafted (and a refusal sent) after the answer."""
    reference = await verified_access_case(world)
    world.approve(world.reply_draft(reference).id)
    with world.database.session() as session, pytest.raises(CaseError, match="no longer be"):
        refuse_case(session, world.services, reference, "manifestly unfounded", actor="staff:eva")
    with world.database.session() as session, pytest.raises(CaseError, match="no longer be"):
        extend_case(session, world.services, reference, "many sources", actor="staff:eva")
    assert world.case(reference).status == "approved"
    sent = [m for m in await world.deliver() if m.address == ANNA_EMAIL]
    assert len(sent) == 1 and "refuse" not in sent[0].text.casefold()  # the reply, once
    assert world.case(reference).status == "done"
    assert not world.drafts(reference, "refusal") and not world.drafts(reference, "extension")


async def test_a_second_extension_is_refused_while_the_first_notice_waits_to_be_sent(world):
    """The first notice approved and queued, not sent yet (the mail server down, say): a
    second `requests extend` was accepted, and the person got two "we need more time"
    letters with different reasons. Once the first has gone out, the case is extended."""
    reference = await verified_access_case(world)
    with world.database.session() as session:
        first = extend_case(session, world.services, reference, "many sources", actor="eva")
    queued = world.approve(first.id)
    with world.database.session() as session, pytest.raises(CaseError) as refused:
        extend_case(session, world.services, reference, "the archive", actor="staff:eva")
    assert f"already approved and waiting to be sent (outbox {queued.id})" in str(refused.value)
    sent = [m for m in await world.deliver() if m.address == ANNA_EMAIL]
    assert len(sent) == 1
    assert world.case(reference).extended
    with world.database.session() as session, pytest.raises(CaseError, match="already extended"):
        extend_case(session, world.services, reference, "the archive", actor="staff:eva")
    assert len(world.drafts(reference, "extension", status=None)) == 1


async def test_a_case_closed_after_its_reply_was_approved_does_not_send_it_later(world):
    """Staff answered by phone and close the case: the reply waiting to go is withdrawn.
    Before, the case said closed and the reply went out all the same."""
    reference = await verified_access_case(world)
    reply = world.approve(world.reply_draft(reference).id)
    with world.database.session() as session:
        close_case(session, world.services, reference, "answered by phone", actor="staff:eva")
    assert world.case(reference).status == "closed"
    assert not [m for m in await world.deliver() if m.address == ANNA_EMAIL]
    with world.database.session() as session, pytest.raises(NoxbotError, match="closed"):
        requeue(session, world.services, reply.id, actor="staff:eva")


async def test_a_case_whose_approved_reply_gave_up_can_be_closed_and_it_stays_unsent(world):
    """The reply could not be delivered and staff give up on it: the case may be closed,
    the reply is not sent later by `outbox retry`, and its "could not be sent" alert no
    longer asks staff to retry it (before, it stayed open, naming `outbox retry`)."""
    reference = await verified_access_case(world)
    reply = world.approve(world.reply_draft(reference).id)
    await world.refused_until_given_up()
    [failed] = world.alerts("send_failed")
    assert failed.resolved_at is None and f"outbox retry {reply.id}" in failed.text
    with world.database.session() as session:
        close_case(session, world.services, reference, "the address no longer works", actor="x")
    assert world.case(reference).status == "closed"
    with world.database.session() as session, pytest.raises(NoxbotError, match="closed"):
        requeue(session, world.services, reply.id, actor="staff:eva")
    [failed] = world.alerts("send_failed")
    assert failed.resolved_at is not None and failed.resolved_by == "x"


async def test_a_personal_identity_number_staff_write_is_kept_nowhere(world):
    """Notes, reasons and a complaint's outcome, however staff enter them (console, command
    line, staff chat): what they type may hold what the person said. Before, the console's
    notes, close and extend reasons and every complaint outcome kept it as typed, in the
    audit trail and in the letters."""
    pnr = "850512-1239"
    reference = await verified_access_case(world)
    with world.database.session() as session:
        add_note(session, world.services, reference, f"Ringde, pnr {pnr}", actor="staff:eva")
        extension = extend_case(
            session, world.services, reference, f"arkivet, pnr {pnr}", actor="staff:eva"
        )
        reject_draft(session, world.services, extension.id, f"fel {pnr}", actor="staff:eva")
        close_case(session, world.services, reference, f"dubblett {pnr}", actor="staff:eva")
        reopen_case(session, world.services, reference, f"inte dubblett {pnr}", actor="staff:eva")
    complaint = world.email(ANNA_EMAIL, "Jag vill klaga på hur ni hanterat mina uppgifter.")
    with world.database.session() as session:
        record_outcome(
            session, world.services, complaint.reference, f"Vi rättade {pnr}.", actor="eva"
        )
    [alert] = world.alerts("complaint")
    with world.database.session() as session:  # (the outcome resolved it: open one more)
        alert_staff(session, world.case(reference), "new_message", "x", now=world.clock())
    [alert] = [a for a in world.alerts() if a.resolved_at is None]
    with world.database.session() as session:
        resolve_alert(session, world.services, alert.id, f"Ringde {pnr}", actor="staff:eva")
    dump = "\n".join(world.database.engine.raw_connection().driver_connection.iterdump())
    assert not re.search(r"850512\W?1239", dump)
    assert "[personnummer borttaget]" in dump


async def test_approving_a_reply_again_says_it_is_approved_and_nothing_else(world):
    """Before, the refusal also said the register data had changed since the reply was
    drafted (the approval itself had changed it) and sent staff to `requests redraft`,
    which then refused: the case was approved."""
    reference = await verified_access_case(world)
    draft = world.reply_draft(reference)
    world.approve(draft.id)
    with world.database.session() as session:
        anna = session.exec(select(Subject).where(Subject.name == "Anna Lindqvist")).one()
        anna.company = "Lindqvist Konsult AB"  # (as a rectification's approval changes it)
    with pytest.raises(CaseError) as refused:
        world.approve(draft.id)
    assert str(refused.value) == (
        f"draft {draft.id} cannot be approved: it is approved; only a draft awaiting approval "
        "can be approved"
    )


async def test_a_notice_drafted_before_the_reply_was_approved_is_not_sent_after_it(world):
    """An extension notice, or a refusal, still waiting when the reply is approved: it is
    set aside. Before, approving it afterwards sent "we need more time" (and moved the due
    date of an answered case), or "we refuse" after the register extract."""
    reference = await verified_access_case(world)
    with world.database.session() as session:
        extension = extend_case(session, world.services, reference, "arkivet", actor="eva")
    world.approve(world.reply_draft(reference).id)
    with pytest.raises(CaseError, match="it is superseded"):
        world.approve(extension.id)
    sent = [m for m in await world.deliver() if m.address == ANNA_EMAIL]
    assert len(sent) == 1 and not world.case(reference).extended

    second = await verified_access_case(world, message_id="<second@example.test>")
    with world.database.session() as session:
        refusal = refuse_case(session, world.services, second, "ogrundad", actor="eva")
    world.email(ANNA_EMAIL, "Och sluta skicka nyhetsbrev till mig.", subject=f"Re: [{second}]")
    world.approve(world.reply_draft(second).id)  # drafted again for the added kind
    with pytest.raises(CaseError, match="it is superseded"):
        world.approve(refusal.id)
    assert world.case(second).status == "approved"


async def test_a_message_the_requester_sends_after_the_draft_is_named_before_approval(world):
    """Anna writes again in her case's thread after the reply was drafted. Before, the
    approval plan, the console's approve box and `drafts show` said nothing of it: staff
    approved without reading what might change the answer."""
    from bot.workflow.approval import approval_plan

    reference = await verified_access_case(world)
    draft = world.reply_draft(reference)
    with world.session() as session:
        assert approval_plan(session, world.services, draft).heed == []
    world.clock.advance(hours=2)
    follow_up = world.email(
        ANNA_EMAIL, "Tack. Skicka gärna svaret till mig så snart ni kan.", f"Re: [{reference}]"
    )
    assert follow_up.reference == reference and follow_up.state == "thread"
    assert world.reply_draft(reference).id == draft.id  # it changed no draft
    with world.session() as session:
        plan = approval_plan(session, world.services, draft)
    [note] = plan.heed
    assert note == (
        "the requester wrote again (email, 2026-11-24 12:00 CET) after this version was "
        "drafted: read it on the case before approving"
    )
    assert not plan.blocked
    async with console_client(world) as (http, _):
        page = (await http.get(f"/cases/{reference}")).text
    assert "Before approving:" in page and "the requester wrote again" in page
    # A correction without the reference opens a case of its own: named as well.
    world.clock.advance(hours=1)
    newer = world.email(ANNA_EMAIL, "Rätta mitt telefonnummer till 070-123 45 76.", "Nummer")
    assert newer.reference != reference
    with world.session() as session:
        plan = approval_plan(session, world.services, draft)
    assert plan.heed[1] == (
        f"the same person opened {newer.reference} (2026-11-24 13:00 CET) after this "
        "version was drafted: read it before approving, it may correct this one"
    )


def test_a_new_number_without_a_country_code_is_read_as_of_the_country_on_file(world):
    """John is on file with a UK number (+44 7700 900123). His new one written as the
    British write it, "07700 900456", was stored as +46 7700900456: his data made wrong,
    and staff sent to call a number that does not exist (DPO review)."""
    from bot.store.records import get_case
    from bot.workflow.corrections import add_changes

    uk = {**CURRENT, "phone": "+447700900123"}
    [change] = requested_changes(
        "My new mobile number is 07700 900456.", uk, ignore_emails=set(), language="en"
    )
    assert (change.field, change.new) == ("phone", "+447700900456")
    [swedish] = requested_changes(
        "Mitt nya nummer är 070-999 88 77.", CURRENT, ignore_emails=set(), language="sv"
    )
    assert swedish.new == "+46709998877"
    reference = world.email(JOHN_EMAIL, "Please correct my phone number in your records.").reference
    with world.database.session() as session:
        add_changes(session, world.services, reference, {"phone": "07700 900456"}, actor="eva")
    with world.session() as session:
        [stated] = get_case(session, reference).requested_changes
    assert (stated["old"], stated["new"]) == ("+447700900123", "+447700900456")
