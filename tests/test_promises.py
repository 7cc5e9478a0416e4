"""The two promises under attack and under careless edits: register data goes only to the
verified person, and approval carries out exactly what the approved text says."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.errors import CaseError
from bot.rules.channels import ChannelName
from bot.store.records import get_case
from bot.store.register import find_subject
from bot.store.tables import AuditEvent, Draft, Outbox, Subject, Verification
from bot.workflow.approval import approval_plan, edit_draft
from bot.workflow.cases import extend_case, set_requested_changes
from bot.workflow.confirming import verify_by_phone
from bot.workflow.drafts import get_draft
from bot.workflow.housekeeping import raise_daily_reminders
from tests.workflow_kit import (
    ANNA_EMAIL,
    ANNA_TELEGRAM,
    ERIK_EMAIL,
    JOHN_EMAIL,
    JOHN_TELEGRAM,
    World,
    make_world,
)

ATTACKER = "mallory@attacker.example"
EXAMPLE_REGISTER = Path(__file__).resolve().parent.parent / "examples" / "register.csv"


def names_on_file(world: World) -> set[str]:
    with world.session() as session:
        return {s.name for s in session.exec(select(Subject))}


async def verified(world: World, text: str, subject: str = "Begäran") -> str:
    """Anna asks by email and confirms on Telegram; returns the reference."""
    outcome = world.email(ANNA_EMAIL, text, subject)
    await world.deliver()
    world.press(ANNA_TELEGRAM, world.verification(outcome.reference).id, yes=True)
    assert world.case(outcome.reference).status == "awaiting_approval"
    return outcome.reference


# --- a forged From line is not proof -------------------------------------------------------


async def test_a_forged_erasure_in_a_verified_case_gets_its_own_confirmation_and_erases_no_one(
    world,
):
    reference = await verified(world, "Jag vill ha en kopia av mina personuppgifter.")
    forged = world.email(ANNA_EMAIL, "Radera allt ni har om mig.", f"Re: {reference}")

    assert forged.state == "request" and forged.reference != reference
    assert world.case(reference).kinds == ["access"]
    erasure = world.case(forged.reference)
    assert (erasure.kinds, erasure.status) == (["erasure"], "awaiting_verification")
    challenge = [m for m in await world.deliver() if m.address == ANNA_TELEGRAM]
    assert "radering av dina personuppgifter" in challenge[-1].text  # it says what it confirms
    world.approve(world.reply_draft(reference).id)  # her own, waiting reply
    assert "Anna Lindqvist" in names_on_file(world)


async def test_the_email_code_says_what_it_confirms(world):
    world.chat(ANNA_TELEGRAM, "Please delete all my personal data.")
    await world.deliver()
    [mail] = world.sent_to(ANNA_EMAIL)
    assert "erasure of your personal data" in mail.text


async def test_a_changed_email_and_phone_are_confirmed_on_the_old_ones_and_prove_nothing_yet(
    world,
):
    outcome = world.email(
        ERIK_EMAIL,
        f"Hej, min nya e-post är {ATTACKER} och mitt nya nummer 073-111 22 33. Rätta det.",
    )
    case = world.case(outcome.reference)
    assert {c["field"] for c in case.requested_changes} == {"email", "phone"}
    # Erik has no Telegram: staff call the number on file; his old address gets a code.
    await world.deliver()
    old_address_code = world.code_mailed_to(ERIK_EMAIL)
    world.call_confirms(outcome.reference)
    with world.session() as session:  # one call, two things confirmed: said apart
        events = session.exec(
            select(AuditEvent.detail).where(AuditEvent.action == "verification_confirmed")
        ).all()
    assert sorted(events) == [
        "by phone: called the number on file",
        "the change of phone: called the number on file",
    ]
    draft = world.reply_draft(outcome.reference)
    with pytest.raises(CaseError, match="change of email waits for the old one"):
        world.approve(draft.id)
    world.email(ERIK_EMAIL, old_address_code, f"Re: [{outcome.reference}]")
    # The new address must show it is his too: a code was mailed to it once he was known.
    with pytest.raises(CaseError, match="a new email address to answer the code"):
        world.approve(draft.id)
    await world.deliver()
    world.email(ATTACKER, world.code_mailed_to(ATTACKER), f"Re: [{outcome.reference}]")
    world.approve(draft.id)
    with world.session() as session:
        assert find_subject(session, "email", ATTACKER).name == "Erik Svensson"

    # The new address asks for Erik's data: it is on file, but proves nothing for a while.
    access = world.email(ATTACKER, "Please send me a copy of all my personal data.")
    assert world.case(access.reference).status == "unverified"
    assert world.verification(access.reference) is None
    with world.database.session() as session, pytest.raises(CaseError, match="changed recently"):
        verify_by_phone(session, world.services, access.reference, "called", actor="staff:eva")
    world.clock.advance(days=15)  # once the cooling-off has passed, the number may be used
    later = world.email(ATTACKER, "Please send me a copy of all my personal data.", "Again")
    assert world.verification(later.reference).method == "phone_call"


async def test_a_person_on_file_cannot_take_someone_elses_address_to_receive_their_mail(
    tmp_path,
):
    """John, verified on his own channels, asks to change his email to Per's address (Per
    is not on file, but his mail is in the archive). Before, both codes went to John's own
    inbox, the change was approved, and John's next access reply carried Per's mail. Now a
    code goes to the new address itself; without it the change cannot be approved."""
    import mailbox
    from email.message import EmailMessage

    from bot.config import MaildirSource

    per = "per.olsson@example.org"
    archive = mailbox.Maildir(tmp_path / "archive", create=True)
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = per, "info@noxconsulting.se", "Sjukskrivning"
    mail["Date"], mail["Message-ID"] = "Mon, 02 Nov 2026 10:00:00 +0100", "<sjuk@example.org>"
    mail.set_content("Hej, jag är sjukskriven till mars. /Per")
    archive.add(mail)
    source = MaildirSource(
        type="maildir", name="Arkiv", path=str(tmp_path / "archive"),
        erase_folder=str(tmp_path / "erased"),
    )  # fmt: skip
    world = make_world(tmp_path, sources=[source])
    asked = world.chat(JOHN_TELEGRAM, f"Hi, my email address has changed to {per}. Please fix it.")
    await world.deliver()
    assert world.sent_to(per) == []  # nothing to a named address before John is known
    for mail_to_john in world.sent_to(JOHN_EMAIL):  # who asked; the old address's "yes"
        world.chat(JOHN_TELEGRAM, re.search(r"\b\d{6}\b", mail_to_john.text).group(0))
    await world.deliver()
    assert [m for m in world.sent_to(per) if "change of your email address" in m.text]
    draft = world.reply_draft(asked.reference)
    with pytest.raises(CaseError, match="a new email address to answer the code"):
        world.approve(draft.id)
    with world.session() as session:
        assert find_subject(session, "email", per) is None
    world.clock.advance(days=20)  # nothing changes with time: the code is still unanswered
    with pytest.raises(CaseError, match="waits for the old one"):
        world.approve(world.reply_draft(asked.reference).id)


async def test_an_email_added_where_none_was_on_file_must_answer_its_code_too(world):
    """Anna has no email on file and asks, on her own Telegram, to add Per's address.
    Before, a change with no old value asked nothing of the new address: it was approved
    and her next access reply carried Per's archived mail."""
    from bot.store.tables import ContactPoint

    per = "per.olsson@example.org"
    with world.session() as session:
        for contact in session.exec(select(ContactPoint).where(ContactPoint.value == ANNA_EMAIL)):
            session.delete(contact)
        session.commit()
    asked = world.chat(ANNA_TELEGRAM, f"Hi, my email address is {per}. Please add it.")
    await world.deliver()
    world.call_confirms(asked.reference)
    await world.deliver()
    assert [m for m in world.sent_to(per) if "change of your email address" in m.text]
    with pytest.raises(CaseError, match="a new email address to answer the code"):
        world.approve(world.reply_draft(asked.reference).id)
    with world.session() as session:
        assert find_subject(session, "email", per) is None


async def test_a_forged_request_naming_an_address_sends_nothing_there(world):
    """Six forged requests from Erik's address, each naming a victim's address as his new
    one: before, each made NOX mail the victim a code saying their address was to be put
    on file."""
    for n in range(6):
        world.email(ERIK_EMAIL, f"Hej, min nya e-post är victim@third.example ({n}).", f"Ä {n}")
        await world.deliver()
    assert world.sent_to("victim@third.example") == []


async def test_a_no_from_the_new_address_stops_the_change_not_the_case(world):
    """Before, the owner of a mistyped new address answering NEJ sent the whole case back
    to unverified, with an alert that the person on file had said no."""
    outcome = world.email(ERIK_EMAIL, f"Hej, min nya e-post är {ATTACKER}, rätta det.")
    await world.deliver()
    world.call_confirms(outcome.reference)
    await world.deliver()
    [challenge] = [m for m in world.sent_to(ATTACKER) if "Bekräfta" in m.subject]
    world.email(ATTACKER, "NEJ", f"Re: {challenge.subject}", in_reply_to=challenge.message_id)
    assert world.case(outcome.reference).status == "awaiting_approval"
    assert not world.alerts("possible_impersonation")
    assert any("answered that it is not the requester's" in a.text for a in world.alerts())
    with pytest.raises(CaseError, match="a new email address to answer the code"):
        world.approve(world.reply_draft(outcome.reference).id)


async def test_the_old_address_saying_no_to_a_change_stops_it(world):
    outcome = world.email(ERIK_EMAIL, f"Hej, min nya e-post är {ATTACKER}, rätta det.")
    await world.deliver()
    world.call_confirms(outcome.reference)
    with world.session() as session:
        challenge = session.exec(
            select(Verification).where(
                Verification.confirms_contact == "email", Verification.address == ERIK_EMAIL
            )
        ).one()
    reply = next(m for m in world.sent_to(ERIK_EMAIL) if m.message_id == challenge.challenge_ref)
    world.email(ERIK_EMAIL, "NEJ", f"Re: {reply.subject}", in_reply_to=reply.message_id)
    assert world.case(outcome.reference).status == "unverified"
    assert world.alerts("possible_impersonation")
    assert world.drafts(outcome.reference, "reply") == []


# --- approval carries out what the approved version says ----------------------------------


async def test_cutting_the_erasure_section_needs_a_stated_scope_and_then_erases_no_one(world):
    reference = await verified(
        world, "Skicka mig en kopia av mina personuppgifter och radera dem sedan."
    )
    draft = world.reply_draft(reference)
    assert draft.covers["kinds"] == ["access", "erasure"]
    without = draft.text[: draft.text.index("RADERING")] + "Vänliga hälsningar\nNOX"
    with world.database.session() as session, pytest.raises(CaseError, match="no RADERING"):
        edit_draft(session, world.services, draft.id, without, actor="staff:eva")
    with world.database.session() as session:
        new = edit_draft(
            session, world.services, draft.id, without, actor="staff:eva", kinds=["access"]
        )
        plan = approval_plan(session, world.services, new)
    assert any("not carry out erasure" in step for step in plan.will)
    assert not any(step.startswith("erase") for step in plan.will)
    world.approve(new.id)
    assert "Anna Lindqvist" in names_on_file(world)
    [reply] = [m for m in await world.deliver() if m.address == ANNA_EMAIL]
    assert "Lindqvist Data AB" in reply.text  # the extract the approved text promised


async def test_a_section_left_in_the_text_must_be_carried_out(world):
    reference = await verified(
        world, "Skicka mig en kopia av mina personuppgifter och radera dem sedan."
    )
    draft = world.reply_draft(reference)
    with world.database.session() as session, pytest.raises(CaseError, match="still has the"):
        edit_draft(
            session, world.services, draft.id, draft.text + "\n/Eva", actor="staff:eva",
            kinds=["access"],
        )  # fmt: skip


async def test_the_register_gets_the_phone_number_the_approved_text_gives(world):
    reference = await verified(world, "Rätta mitt telefonnummer till 076-555 12 34.")
    world.call_confirms(reference)
    draft = world.reply_draft(reference)
    corrected = draft.text.replace("076-555 12 34", "076-555 99 99")
    with world.database.session() as session, pytest.raises(CaseError, match="--set phone"):
        edit_draft(session, world.services, draft.id, corrected, actor="staff:eva")
    with world.database.session() as session:
        new = edit_draft(
            session,
            world.services,
            draft.id,
            corrected,
            actor="staff:eva",
            changes={"phone": "076-555 99 99"},
        )
    world.call_confirms(reference)  # the old number confirms this number, not the first one
    world.approve(new.id)
    with world.session() as session:
        anna = find_subject(session, "email", ANNA_EMAIL)
        assert find_subject(session, "phone", "076-555 99 99").id == anna.id
        assert find_subject(session, "phone", "076-555 12 34") is None


async def test_staff_read_what_approval_will_do_before_they_approve(world):
    reference = await verified(world, "Jag vill att ni raderar alla mina personuppgifter.")
    draft = world.reply_draft(reference)
    with world.session() as session:
        plan = approval_plan(session, world.services, get_draft(session, draft.id))
    assert plan.blocked == []
    assert plan.will[0].startswith("erase Anna Lindqvist from the register")
    assert plan.will[-1] == f"send this reply by email to {ANNA_EMAIL}"


# --- an erasure leaves nothing approvable behind ------------------------------------------


async def test_an_approved_erasure_withdraws_the_persons_other_waiting_drafts_and_challenges(
    world,
):
    export = await verified(world, "Please send me my personal data as JSON.", "Export")
    asking = world.chat(ANNA_TELEGRAM, "Vad har ni för uppgifter om mig?")  # a code is queued
    erasure = await verified(world, "Radera alla mina personuppgifter.", "Radera")
    export_draft = world.reply_draft(export)
    with world.session() as session:
        plan = approval_plan(session, world.services, world.reply_draft(erasure))
    assert any(f"draft {export_draft.id}" in step for step in plan.will)  # said beforehand

    world.approve(world.reply_draft(erasure).id)
    with pytest.raises(CaseError):
        world.approve(export_draft.id)
    assert world.verification(asking.reference).status == "cancelled"
    [alert] = world.alerts("erasure_withdrew")
    assert export in alert.text and asking.reference in alert.text
    sent = await world.deliver()
    assert not [m for m in sent if m.attachments]  # the export never went
    assert not [m for m in world.sent_to(ANNA_EMAIL) if "Your code" in m.text]


async def test_an_erasure_withdraws_an_export_that_gave_up_and_its_retry_alert(world):
    """The person's export could not be delivered (the sender gave up), then their erasure
    is approved: the export can no longer be sent again, and the "could not be sent" alert
    that told staff to retry it is resolved with it."""
    export = await verified(world, "Please send me my personal data as JSON.", "Export")
    reply = world.approve(world.reply_draft(export).id)
    await world.refused_until_given_up()
    erasure = await verified(world, "Radera alla mina personuppgifter.", "Radera")
    world.approve(world.reply_draft(erasure).id)
    with world.session() as session:
        assert session.get(Outbox, reply.id).status == "cancelled"
    [failed] = [a for a in world.alerts("send_failed") if f"outbox {reply.id} " in a.text]
    assert failed.resolved_at is not None
    assert not [m for m in await world.deliver() if m.attachments]


async def test_the_reply_to_an_erasure_keeps_only_what_was_sent_when_and_to_whom(world):
    reference = await verified(world, "Skicka en kopia av mina uppgifter och radera dem sedan.")
    world.approve(world.reply_draft(reference).id)
    [reply] = [m for m in await world.deliver() if m.address == ANNA_EMAIL]
    assert "Lindqvist Data AB" in reply.text  # she got her extract
    with world.session() as session:
        case = get_case(session, reference)
        kept = [
            *(o.text for o in session.exec(select(Outbox).where(Outbox.request_id == case.id))),
            *(d.text for d in session.exec(select(Draft).where(Draft.request_id == case.id))),
        ]
    assert not [t for t in kept if "Lindqvist Data AB" in t or "559123-4567" in t]
    record = next(t for t in kept if t.startswith("[reply sent"))
    assert ANNA_EMAIL in record and "company" in record and "org_number" in record


# --- an extension holds once the person is told -----------------------------------------


async def test_an_extension_notice_still_waiting_near_the_months_end_raises_a_deadline_alert(
    world,
):
    outcome = world.email(JOHN_EMAIL, "Please send me a copy of all personal data you hold.")
    with world.database.session() as session:
        notice = extend_case(session, world.services, outcome.reference, "many systems",
                             actor="staff:eva")  # fmt: skip
    due = world.case(outcome.reference).due_date
    world.clock.now = world.clock.now.replace(
        year=due.year, month=due.month, day=due.day
    ) - timedelta(days=2)
    with world.database.session() as session:
        raise_daily_reminders(session, world.services, world.clock().date())
    [alert] = world.alerts("deadline")
    assert f"extension notice (draft {notice.id}) is not approved" in alert.text
    world.clock.advance(days=5)  # the first month is over: too late to extend
    with pytest.raises(CaseError, match="first month ended"):
        world.approve(notice.id)
    assert not world.case(outcome.reference).extended


# --- a rectification to someone else's address --------------------------------------------


async def test_a_change_to_another_persons_address_is_refused_in_one_line(world):
    reference = await verified(world, "Rätta min e-postadress, den är fel.")
    with world.database.session() as session, pytest.raises(CaseError, match="another person"):
        set_requested_changes(
            session, world.services, reference, {"email": JOHN_EMAIL}, actor="staff:eva"
        )


async def test_restating_the_changes_over_an_edit_says_that_is_why_it_was_drafted_again(world):
    """Before, the alert said "the request now covers rectification", which it always had."""
    reference = await verified(world, "Rätta mitt företagsnamn, det är fel.")
    draft = world.reply_draft(reference)
    with world.database.session() as session:
        edit_draft(session, world.services, draft.id, draft.text + "\n/Eva", actor="staff:eva")
        set_requested_changes(
            session, world.services, reference, {"company": "Nova Data AB"}, actor="staff:eva"
        )
    [alert] = world.alerts("redrafted")
    assert alert.text.startswith(f"{reference}: the changes to make were stated anew, so the")
    assert "was not carried over" in alert.text


async def test_a_change_read_from_the_message_to_another_persons_number_is_left_out(world):
    outcome = world.email(ANNA_EMAIL, "Mitt nya nummer är +44 7700 900123, rätta det.")
    assert world.case(outcome.reference).requested_changes == []
    [alert] = world.alerts("change_refused")
    assert "another person" in alert.text and "+44" not in alert.text


async def test_a_challenge_waiting_at_a_number_a_reimport_retired_ends_and_goes_to_staff(
    world, tmp_path
):
    from bot.store.register import import_file
    from bot.workflow.confirming import expire_verifications

    outcome = world.email(ERIK_EMAIL, "Jag vill ha en kopia av mina personuppgifter.")
    assert world.verification(outcome.reference).method == "phone_call"
    new_register = tmp_path / "register.csv"
    new_register.write_text(
        "name,email,phone\nErik Svensson,erik.svensson@example.se,073-000 11 22\n"
    )
    with world.database.session() as session:
        import_file(session, new_register, now=world.clock())
        expire_verifications(session, world.services)
    assert world.case(outcome.reference).status == "unverified"
    assert world.verification(outcome.reference).status == "expired"


# --- what an attacker and a careless edit tried (independent review) ----------------------


async def test_an_address_pasted_with_a_name_is_refused_not_put_on_file(world):
    reference = await verified(world, "Min e-postadress i ert register är fel, rätta den.")
    with world.database.session() as session, pytest.raises(CaseError, match="not an email"):
        set_requested_changes(
            session,
            world.services,
            reference,
            {"email": f"John Carter <{JOHN_EMAIL}>"},
            actor="staff:eva",
        )


async def test_a_text_that_keeps_the_old_name_cannot_rename(world):
    reference = await verified(world, "Hej, mitt nya namn är Anna Lind. Rätta det.")
    draft = world.reply_draft(reference)
    text = draft.text.replace(
        "Vi har rättat följande uppgifter:\n- Namn: Anna Lindqvist → Anna Lind",
        "Vi har inte ändrat ditt namn: det står kvar som Anna Lindqvist.",
    )
    with world.database.session() as session, pytest.raises(CaseError, match="change of name"):
        edit_draft(session, world.services, draft.id, text, actor="staff:eva")


async def test_a_change_left_in_the_text_must_be_applied_or_taken_out(world):
    reference = await verified(
        world, "Mitt efternamn är nu Berg och mitt nya nummer är 076-555 12 34. Rätta det."
    )
    draft = world.reply_draft(reference)
    text = draft.text.replace("076-555 12 34", "076-555 99 99")
    with world.database.session() as session, pytest.raises(CaseError, match="Anna Berg"):
        edit_draft(
            session, world.services, draft.id, text, actor="staff:eva",
            changes={"phone": "076-555 99 99"},
        )  # fmt: skip


async def test_a_reworded_heading_still_counts_as_the_section(world):
    reference = await verified(
        world, "Skicka mig en kopia av mina personuppgifter och radera dem sedan."
    )
    draft = world.reply_draft(reference)
    text = draft.text.replace("\nRADERING\n", "\nRadering:\n")
    with world.database.session() as session, pytest.raises(CaseError, match="still has"):
        edit_draft(session, world.services, draft.id, text, actor="staff:eva", kinds=["access"])


async def test_a_reply_that_never_mentions_erasure_cannot_erase(world):
    reference = await verified(
        world, "Skicka mig en kopia av mina personuppgifter och radera dem sedan."
    )
    draft = world.reply_draft(reference)
    without = draft.text[: draft.text.index("RADERING")] + "Vänliga hälsningar\nNOX"
    with world.database.session() as session, pytest.raises(CaseError, match="no RADERING"):
        edit_draft(
            session, world.services, draft.id, without, actor="staff:eva",
            kinds=["access", "erasure"],
        )  # fmt: skip


async def test_an_export_left_out_of_the_reply_goes_out_of_it(world):
    reference = await verified(
        world, "Skicka mig mina personuppgifter som en JSON-fil och radera dem sedan.", ""
    )
    draft = world.reply_draft(reference)
    assert draft.covers["kinds"] == ["erasure", "portability"] and draft.attachments
    start, end = draft.text.index("DATAPORTABILITET"), draft.text.index("Om du anser")
    with world.database.session() as session:
        new = edit_draft(
            session, world.services, draft.id, draft.text[:start] + draft.text[end:],
            actor="staff:eva", kinds=["erasure"],
        )  # fmt: skip
    assert new.attachments == []


async def test_the_old_address_confirms_one_new_address_and_not_another(world):
    reference = await verified(world, "Hej, min nya e-post är anna@nova.example. Rätta det.")
    assert [m for m in world.sent_to(ANNA_EMAIL) if "anna@nova.example" in m.text]
    world.email(ANNA_EMAIL, world.code_mailed_to(ANNA_EMAIL), f"Re: [{reference}]")
    with world.database.session() as session:
        set_requested_changes(
            session, world.services, reference, {"email": ATTACKER}, actor="staff:eva"
        )
    with pytest.raises(CaseError, match="change of email waits"):
        world.approve(world.reply_draft(reference).id)
    await world.deliver()
    assert [m for m in world.sent_to(ANNA_EMAIL) if ATTACKER in m.text]  # asked again


async def test_new_cases_bring_no_fresh_code_guesses_at_one_address(world):
    from bot.store.register import _Row, import_rows

    work, home = "olof.ek@work.example", "olof@home.example"
    with world.database.session() as session:  # on file with two addresses, no Telegram
        import_rows(session, [_Row(2, {"name": "Olof Ek", "email": f"{work};{home}"})],
                    now=world.clock())  # fmt: skip
    opened = world.email(work, "Please send me a copy of all my personal data.", "Round 1")
    for guess in range(5):
        world.email(home, f"{100000 + guess:06d}", f"Re: [{opened.reference}]")
    again = world.email(work, "Please send me a copy of all my personal data.", "Round 2")
    assert world.verification(again.reference) is None  # no fresh code to guess at
    assert world.case(again.reference).status == "unverified"
    assert any("answered wrongly" in a.text for a in world.alerts("unverified"))


async def test_a_no_pressed_after_a_yes_still_stops_the_case(world):
    forged = world.email(ANNA_EMAIL, "Radera allt ni har om mig.", "Radera")
    await world.deliver()
    challenge = world.verification(forged.reference)
    world.press(ANNA_TELEGRAM, challenge.id, yes=True)  # a mis-tap
    world.press(ANNA_TELEGRAM, challenge.id, yes=False)
    assert world.case(forged.reference).status == "unverified"
    assert world.alerts("possible_impersonation")
    assert world.drafts(forged.reference, "reply") == []
    assert "Anna Lindqvist" in names_on_file(world)


async def test_a_failed_reply_with_the_extract_cannot_go_out_after_an_erasure(world):
    from bot.workflow.outbox import requeue

    access = await verified(world, "Please send me a copy of my personal data.", "Copy")
    world.approve(world.reply_draft(access).id)
    from bot.channels.messages import SendError

    memory = world.channels[ChannelName.EMAIL]

    class Refusing:  # the mail server refuses for good: the reply fails
        name = ChannelName.EMAIL

        def __init__(self) -> None:
            self.sent: list = []

        async def send(self, message):
            raise SendError("552 too large", permanent=True)

    world.channels[ChannelName.EMAIL] = Refusing()
    await world.deliver()
    world.channels[ChannelName.EMAIL] = memory
    erasure = await verified(world, "Radera alla mina personuppgifter.", "Radera")
    world.approve(world.reply_draft(erasure).id)
    with world.session() as session:
        failed = session.exec(
            select(Outbox).where(
                Outbox.request_id == get_case(session, access).id, Outbox.purpose == "reply"
            )
        ).one()
    assert failed.status == "cancelled" and "Lindqvist Data AB" not in failed.text
    with world.database.session() as session, pytest.raises(Exception, match="only a failed"):
        requeue(session, world.services, failed.id, actor="staff:eva")


async def test_no_version_of_the_erasure_reply_keeps_the_values(world):
    reference = await verified(world, "Skicka en kopia av mina uppgifter och radera dem sedan.")
    world.email(ANNA_EMAIL, "Och sluta skicka reklam till mig.", f"Re: [{reference}]")
    world.approve(world.reply_draft(reference).id)
    await world.deliver()
    with world.session() as session:
        case = get_case(session, reference)
        kept = [d.text for d in session.exec(select(Draft).where(Draft.request_id == case.id))]
    assert not [t for t in kept if "Lindqvist Data AB" in t or "559123-4567" in t]


async def test_an_edited_extension_notice_must_still_give_the_new_date(world):
    outcome = world.email(JOHN_EMAIL, "Please send me a copy of all personal data you hold.")
    with world.database.session() as session:
        notice = extend_case(session, world.services, outcome.reference, "many systems",
                             actor="staff:eva")  # fmt: skip
    text = notice.text.replace("24 February 2027", "24 December 2026")
    with world.database.session() as session, pytest.raises(CaseError, match="extended due"):
        edit_draft(session, world.services, notice.id, text, actor="staff:eva")


async def test_an_extension_holds_once_its_notice_has_gone_out(world):
    outcome = world.email(JOHN_EMAIL, "Please send me a copy of all personal data you hold.")
    with world.database.session() as session:
        notice = extend_case(session, world.services, outcome.reference, "many systems",
                             actor="staff:eva")  # fmt: skip
    world.approve(notice.id)
    world.channels[ChannelName.EMAIL].fail_next = 100  # the mail server is down
    await world.deliver()
    assert not world.case(outcome.reference).extended
    world.channels[ChannelName.EMAIL].fail_next = 0
    world.clock.advance(hours=1)
    await world.deliver()
    assert world.case(outcome.reference).extended


async def test_a_forged_opt_out_does_not_bring_back_a_kind_staff_left_out(world):
    reference = await verified(
        world, "Skicka mig en kopia av mina personuppgifter och radera dem sedan."
    )
    draft = world.reply_draft(reference)
    without = draft.text[: draft.text.index("RADERING")] + "Vänliga hälsningar\nNOX"
    with world.database.session() as session:
        edit_draft(session, world.services, draft.id, without, actor="staff:eva",
                   kinds=["access"])  # fmt: skip
    world.email(ANNA_EMAIL, "Sluta skicka reklam till mig.", f"Re: [{reference}]")
    assert "erasure" not in world.reply_draft(reference).covers["kinds"]
    [alert] = world.alerts("redrafted")
    assert "erasure stays left out" in alert.text


async def test_a_no_from_the_old_address_after_approval_alerts_staff(world):
    reference = await verified(
        world,
        "Rätta mina uppgifter: vårt bolag är nu Nova Data AB och min nya e-post är "
        "anna@nova.example.",
    )
    draft = world.reply_draft(reference)
    text = "\n".join(line for line in draft.text.splitlines() if "E-post" not in line)
    with world.database.session() as session:
        new = edit_draft(session, world.services, draft.id, text, actor="staff:eva",
                         changes={"company": "Nova Data AB"})  # fmt: skip
    world.approve(new.id)  # the email change was left out: its challenges end
    with world.session() as session:
        challenges = session.exec(
            select(Verification).where(Verification.confirms_contact == "email")
        ).all()
    assert {c.address for c in challenges} == {ANNA_EMAIL, "anna@nova.example"}
    assert {c.status for c in challenges} == {"cancelled"}


def test_a_company_that_changed_its_name_is_not_read_as_the_persons_name():
    from handlers.rectification import requested_changes

    changes = requested_changes(
        "Mitt bolag heter nu Nova Data AB.",
        {"name": "Anna Lindqvist", "company": "Lindqvist Data AB"},
        ignore_emails=set(),
        language="sv",
    )
    assert [c.field for c in changes] == ["company"]


async def test_reimporting_an_erased_person_is_refused(world, tmp_path):
    from bot.store.register import import_file

    reference = await verified(world, "Radera alla mina personuppgifter.", "Radera")
    world.approve(world.reply_draft(reference).id)
    with world.database.session() as session:
        report = import_file(
            session, EXAMPLE_REGISTER, now=world.clock(), hash_key=world.services.hash_key
        )
    assert "Anna Lindqvist" not in names_on_file(world)
    # Which of the row's contact points matched, so another person sharing one (a family
    # phone) is told apart (DPO review: "this person asked to be erased" for Per Ek).
    assert any(
        p.message.startswith("its email and phone and telegram belonged to someone who asked")
        for p in report.problems
    ), [p.message for p in report.problems]


async def test_a_challenge_still_queued_when_the_case_is_verified_or_closed_never_goes_out(world):
    from bot.channels.messages import InboundMessage
    from bot.workflow.cases import close_case
    from bot.workflow.pipeline import process_inbound

    def by_phone(text: str):
        with world.database.session() as session:
            return process_inbound(
                session,
                world.services,
                InboundMessage(
                    ChannelName.PHONE, "+44 7700 900123", text=text, received_at=world.clock()
                ),
            )

    called = by_phone("John ringde och vill ha en kopia av sina personuppgifter.")
    world.call_confirms(called.reference)  # staff called him back: verified by phone
    closed = by_phone("John ringde igen och bad oss radera alla hans personuppgifter.")
    with world.database.session() as session:
        close_case(session, world.services, closed.reference, "withdrawn", actor="staff:eva")
    sent = await world.deliver()
    assert not [m for m in sent if m.address == JOHN_EMAIL and "Var det du?" in m.text]


async def test_a_reply_showing_data_a_reimport_changed_waits_for_a_redraft(world, tmp_path):
    from bot.store.register import import_file
    from bot.workflow.drafts import redraft_reply

    reference = await verified(world, "Jag vill ha en kopia av mina personuppgifter.")
    draft = world.reply_draft(reference)
    changed = tmp_path / "register.csv"
    changed.write_text(
        "name,email,phone,telegram_user_id,company\n"
        "Anna Lindqvist,anna.lindqvist@example.se,070-999 99 99,5550001,Lindqvist Data AB\n"
    )
    with world.database.session() as session:
        import_file(session, changed, now=world.clock())
    with pytest.raises(CaseError, match="changed since it was drafted"):
        world.approve(draft.id)
    with world.database.session() as session:
        redraft_reply(session, world.services, get_case(session, reference))
    new = world.reply_draft(reference)
    assert "070-999 99 99" in new.text and "070-123 45 67" not in new.text
    world.approve(new.id)
