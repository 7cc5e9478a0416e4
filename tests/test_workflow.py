"""Every kind through its whole flow, in-process, in both languages, and the unhappy paths."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from bot.channels.messages import InboundMessage
from bot.errors import CaseError, StaleDraft
from bot.rules.channels import ChannelName
from bot.store.audit import verify_chain
from bot.store.records import get_case
from bot.store.register import find_subject
from bot.store.tables import AuditEvent, Message, Subject, Suppression
from bot.workflow.approval import approval_plan, edit_draft
from bot.workflow.cases import extend_case, refuse_case
from bot.workflow.confirming import verify_by_phone
from bot.workflow.drafts import reject_draft
from bot.workflow.pipeline import decide_triage
from tests.workflow_kit import (
    ANNA_EMAIL,
    ANNA_TELEGRAM,
    ERIK_EMAIL,
    JOHN_EMAIL,
    JOHN_TELEGRAM,
    MARIA_EMAIL,
    MARIA_TELEGRAM,
    World,
    make_world,
)


def approve(world: World, draft_id: int, **kw):
    return world.approve(draft_id, **kw)


async def verified_by_telegram(world: World, reference: str, user: str) -> None:
    """The person on file presses 'Yes, that was me' on the challenge they got."""
    sent = await world.deliver()
    challenge = [m for m in sent if m.address == user and m.buttons]
    assert challenge, "no Telegram challenge went out"
    assert world.press(user, world.verification(reference).id, yes=True).state == (
        "verification_answer"
    )


# --- every kind -----------------------------------------------------------------------------


async def test_access_request_by_email_is_verified_on_telegram_and_answered_with_the_register(
    world,
):
    outcome = world.email(
        ANNA_EMAIL,
        "Hej, jag vill ha ett registerutdrag: vilka personuppgifter har ni om mig?",
        "Registerutdrag",
    )
    case = world.case(outcome.reference)
    assert (case.kinds, case.status, case.language) == (["access"], "awaiting_verification", "sv")
    assert world.verification(outcome.reference).method == "telegram_confirm"
    sent = await world.deliver()
    assert [m.address for m in sent] == [ANNA_TELEGRAM]  # the challenge only, no data
    assert "Lindqvist Data AB" not in sent[0].text
    assert [b.label for b in sent[0].buttons] == ["Ja, det var jag", "Nej, det var inte jag"]

    world.press(ANNA_TELEGRAM, world.verification(outcome.reference).id, yes=True)
    assert world.case(outcome.reference).status == "awaiting_approval"
    draft = world.reply_draft(outcome.reference)
    assert draft.carries_personal_data and draft.language == "sv"
    assert "Lindqvist Data AB" in draft.text and "559123-4567" in draft.text
    assert "IMY" in draft.text

    approve(world, draft.id)
    sent = await world.deliver()
    reply = [m for m in sent if m.address == ANNA_EMAIL]
    assert len(reply) == 1 and "Lindqvist Data AB" in reply[0].text
    assert reply[0].in_reply_to == "<m1@example.test>"
    assert world.case(outcome.reference).status == "done"


async def test_access_request_on_telegram_is_verified_by_a_code_mailed_to_the_address_on_file(
    world,
):
    outcome = world.chat(
        JOHN_TELEGRAM, "Hi, what personal data do you hold about me? Please send me a copy"
    )
    assert world.case(outcome.reference).status == "awaiting_verification"
    assert world.verification(outcome.reference).method == "email_code"
    sent = await world.deliver()
    assert [m.address for m in sent] == [JOHN_EMAIL]
    code = world.code_mailed_to(JOHN_EMAIL)
    assert code not in json.dumps(
        world.verification(outcome.reference).model_dump(), default=str
    )  # stored only as a keyed hash

    answer = world.chat(JOHN_TELEGRAM, code)
    assert answer.state == "verification_answer"
    assert world.case(outcome.reference).status == "awaiting_approval"
    draft = world.reply_draft(outcome.reference)
    assert draft.language == "en" and "Carter Consulting Ltd" in draft.text
    sent = await world.deliver()
    assert any(m.address == JOHN_TELEGRAM and "confirm" in m.text.lower() for m in sent)


async def test_code_can_be_answered_by_replying_to_the_mail(world):
    outcome = world.chat(JOHN_TELEGRAM, "Please delete all my personal data")
    await world.deliver()
    code = world.code_mailed_to(JOHN_EMAIL)
    challenge = world.channels[ChannelName.EMAIL].sent[-1]
    world.email(
        JOHN_EMAIL,
        f"Here it is: {code}",
        f"Re: {challenge.subject}",
        in_reply_to=challenge.message_id,
    )
    assert world.case(outcome.reference).status == "awaiting_approval"


async def test_portability_reply_carries_json_and_csv_exports(world):
    outcome = world.email(
        JOHN_EMAIL,
        "I would like to receive my personal data in a "
        "machine-readable format (JSON or CSV) so I can move it to another "
        "agency.",
        "Data portability",
    )
    await verified_by_telegram(world, outcome.reference, JOHN_TELEGRAM)
    draft = world.reply_draft(outcome.reference)
    names = [a["filename"] for a in draft.attachments]
    assert names == ["personal-data.json", "personal-data.csv"]
    exported = json.loads(draft.attachments[0]["content"])
    assert exported["company"] == "Carter Consulting Ltd"
    assert exported["email"] == [JOHN_EMAIL]
    approve(world, draft.id)
    sent = [m for m in await world.deliver() if m.address == JOHN_EMAIL]
    assert [a.filename for a in sent[0].attachments] == names


async def test_rectification_shows_before_and_after_and_applies_on_approval(world):
    outcome = world.email(
        ANNA_EMAIL,
        "Hej! Mitt telefonnummer har ändrats. Kan ni rätta det till 076-555 12 34?",
        "Rätta telefonnummer",
    )
    await verified_by_telegram(world, outcome.reference, ANNA_TELEGRAM)
    draft = world.reply_draft(outcome.reference)
    # A Swedish reply writes Swedish numbers the Swedish way.
    assert "070-123 45 67 → 076-555 12 34" in draft.text
    with world.session() as session:
        assert find_subject(session, "phone", "076-555 12 34") is None
    # The phone we verify by is changing: the old number confirms it too (a call by staff).
    assert [a.kind for a in world.alerts("call_to_verify")] == ["call_to_verify"]
    with pytest.raises(CaseError, match="change of phone waits for the old one"):
        approve(world, draft.id)
    world.call_confirms(outcome.reference)
    approve(world, draft.id)
    with world.session() as session:
        anna = find_subject(session, "phone", "076-555 12 34")
        assert anna is not None and anna.name == "Anna Lindqvist"
        assert find_subject(session, "phone", "070-123 45 67") is None


@pytest.mark.parametrize(
    ("text", "language", "old", "new"),
    [
        (
            "Rätta mitt telefonnummer till 076-555 12 34, tack.",
            "sv",
            "070-123 45 67",
            "076-555 12 34",
        ),
        (
            "Please correct my phone number to 076-555 12 34.",
            "en",
            "+46 70 123 45 67",
            "+46 76 555 12 34",
        ),
    ],
    ids=["sv", "en"],
)
async def test_the_approval_plan_writes_a_new_phone_number_as_the_letter_does(
    world, text, language, old, new
):
    from bot.workflow.approval import plan_for

    outcome = world.email(ANNA_EMAIL, text)
    await verified_by_telegram(world, outcome.reference, ANNA_TELEGRAM)
    world.call_confirms(outcome.reference)
    draft = world.reply_draft(outcome.reference)
    assert draft.language == language
    assert f"{old} → {new}" in draft.text
    for plan_language in ("en", "sv"):  # the CLI and console; a Swedish staff chat
        with world.session() as session:
            plan = approval_plan(session, world.services, draft, plan_language)
        change = next(line for line in plan.will if "Anna Lindqvist" in line)
        assert f"{old} " in change and change.endswith(f" {new}"), change
        assert "+4670123" not in change and "+4676555" not in change
    with world.session() as session:
        assert plan_for(session, world.services, draft.id).blocked == []
    # What approval writes on file stays E.164.
    assert world.case(outcome.reference).requested_changes[0]["new"] == "+46765551234"


async def test_erasure_deletes_the_person_keeps_a_suppression_record_and_says_what_was_kept(
    world,
):
    outcome = world.email(
        ANNA_EMAIL, "Jag vill att ni raderar alla mina personuppgifter.", "Radera mig"
    )
    await verified_by_telegram(world, outcome.reference, ANNA_TELEGRAM)
    draft = world.reply_draft(outcome.reference)
    assert "bokföring" in draft.text.lower()
    approve(world, draft.id)
    with world.session() as session:
        assert find_subject(session, "email", ANNA_EMAIL) is None
        assert len(session.exec(select(Suppression)).all()) == 3  # email, phone, telegram
        assert all(ANNA_EMAIL not in s.contact_hash for s in session.exec(select(Suppression)))
    await world.deliver()
    assert world.case(outcome.reference).status == "done"
    assert world.case(outcome.reference).subject_id is None


async def test_the_erasure_reply_names_the_contact_points_its_suppression_record_hashes(world):
    """What the reply says is kept is what is kept: a hash of each contact point on file
    (Anna: email, phone and Telegram id; Maria: email and Telegram id, no phone), not a
    fixed "your email address and phone number"."""
    anna = world.email(ANNA_EMAIL, "Jag vill att ni raderar alla mina personuppgifter.", "Radera")
    await verified_by_telegram(world, anna.reference, ANNA_TELEGRAM)
    text = world.reply_draft(anna.reference).text
    assert (
        "en nycklad kontrollsumma (hash) av din e-postadress, ditt telefonnummer och ditt "
        "Telegram-id, så att vi inte kontaktar dig igen" in " ".join(text.split())
    )
    maria = world.email(MARIA_EMAIL, "Please erase all my personal data.", "Erase me")
    await verified_by_telegram(world, maria.reference, MARIA_TELEGRAM)
    text = " ".join(world.reply_draft(maria.reference).text.split())
    assert "a keyed hash of your email address and your Telegram user id, so that" in text
    assert "phone number" not in text
    approve(world, world.reply_draft(maria.reference).id)
    with world.session() as session:
        assert len(session.exec(select(Suppression)).all()) == 2  # her email and Telegram id


@pytest.mark.parametrize(
    ("text", "language", "flag"),
    [
        (
            "Please restrict the processing of my personal data until my dispute with you is "
            "resolved.",
            "en",
            "restricted",
        ),
        (
            "Jag invänder mot att ni behandlar mina personuppgifter med stöd av berättigat "
            "intresse och mot profilering.",
            "sv",
            "objected",
        ),
    ],
    ids=["restriction-en", "objection-sv"],
)
async def test_restriction_and_objection_set_the_flags_the_rest_honours(
    world, text, language, flag
):
    outcome = world.email(JOHN_EMAIL if language == "en" else ANNA_EMAIL, text)
    user = JOHN_TELEGRAM if language == "en" else ANNA_TELEGRAM
    assert world.case(outcome.reference).language == language
    await verified_by_telegram(world, outcome.reference, user)
    approve(world, world.reply_draft(outcome.reference).id)
    with world.session() as session:
        person = find_subject(session, "telegram", user)
        assert getattr(person, flag) is True


@pytest.mark.parametrize(
    ("sender", "user", "text", "promise"),
    [
        (
            JOHN_EMAIL,
            JOHN_TELEGRAM,
            "Please restrict the processing of my personal data until my dispute with you is "
            "resolved.",
            "Before the restriction is lifted, we will tell you (Article 18(3) GDPR).",
        ),
        (
            ANNA_EMAIL,
            ANNA_TELEGRAM,
            "Jag vill att ni begränsar behandlingen av mina personuppgifter tills tvisten är "
            "avgjord.",
            "Innan begränsningen hävs får du besked av oss (artikel 18.3 GDPR).",
        ),
    ],
    ids=["en", "sv"],
)
async def test_the_restriction_reply_says_the_person_is_told_before_it_is_lifted(
    world, sender, user, text, promise
):
    """Art. 18(3): the reply said the data is not used "until the matter is resolved", and
    not that the person hears from us before the restriction ends."""
    outcome = world.email(sender, text)
    assert world.case(outcome.reference).kinds == ["restriction"]
    await verified_by_telegram(world, outcome.reference, user)
    assert promise in " ".join(world.reply_draft(outcome.reference).text.split())


async def test_marketing_optout_on_telegram_needs_no_verification(world):
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev och reklam till mig")
    case = world.case(outcome.reference)
    assert (case.kinds, case.status) == (["marketing_optout"], "awaiting_approval")
    assert world.verification(outcome.reference) is None
    draft = world.reply_draft(outcome.reference)
    assert not draft.carries_personal_data
    approve(world, draft.id)
    with world.session() as session:
        assert find_subject(session, "telegram", ANNA_TELEGRAM).marketing_suppressed
    sent = await world.deliver()
    assert [m.address for m in sent] == [ANNA_TELEGRAM]


async def test_marketing_optout_from_someone_not_on_file_is_still_honoured(world):
    outcome = world.email("someone@example.org", "Please unsubscribe me from your newsletter.")
    approve(world, world.reply_draft(outcome.reference).id)
    with world.session() as session:
        assert len(session.exec(select(Suppression)).all()) == 1


async def test_consent_withdrawal_in_english_sets_the_flag(world):
    outcome = world.email(
        JOHN_EMAIL, "I hereby withdraw my consent to the processing of my personal data."
    )
    assert world.case(outcome.reference).status == "awaiting_approval"
    approve(world, world.reply_draft(outcome.reference).id)
    with world.session() as session:
        assert find_subject(session, "email", JOHN_EMAIL).consent_withdrawn


async def test_complaint_alerts_staff_and_the_reply_names_imy(world):
    outcome = world.email(
        ANNA_EMAIL,
        "Jag är mycket missnöjd med hur ni har hanterat mina "
        "personuppgifter och kommer att anmäla er till IMY.",
        "Klagomål",
    )
    assert world.case(outcome.reference).kinds == ["complaint"]
    assert [a.kind for a in world.alerts()] == ["complaint"]
    draft = world.reply_draft(outcome.reference)
    assert "IMY" in draft.text and "Datainspektionen" not in draft.text


async def test_info_question_is_answered_from_the_policy_and_the_records_of_processing(world):
    outcome = world.chat(
        JOHN_TELEGRAM,
        "How long do you keep my personal data, and do you store it on servers outside Sweden?",
    )
    case = world.case(outcome.reference)
    assert case.kinds == ["info"] and case.status == "awaiting_approval"
    draft = world.reply_draft(outcome.reference)
    assert "outside the EU/EEA" in draft.text and not draft.carries_personal_data


# --- unhappy paths --------------------------------------------------------------------------


async def test_a_wrong_code_gets_the_answer_a_stranger_typing_a_code_gets(world):
    outcome = world.chat(JOHN_TELEGRAM, "Please delete all my personal data")
    await world.deliver()
    code = world.code_mailed_to(JOHN_EMAIL)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    world.chat(JOHN_TELEGRAM, wrong)
    assert world.case(outcome.reference).status == "awaiting_verification"
    assert world.verification(outcome.reference).attempts == 1
    on_file = [m.text for m in await world.deliver() if m.address == JOHN_TELEGRAM]
    # Someone not on file, whose case no code went out for, types a code: the same words.
    stranger = world.chat("999111", "Please delete all my personal data")
    assert world.case(stranger.reference).status == "unverified"
    world.chat("999111", wrong)
    strange = [m.text for m in await world.deliver() if m.address == "999111"]
    assert on_file == strange == ["The code did not match. Please check it and try again.\n"]


async def test_too_many_wrong_codes_leave_the_case_unverified_for_staff(world):
    outcome = world.chat(JOHN_TELEGRAM, "Please delete all my personal data")
    await world.deliver()
    code = world.code_mailed_to(JOHN_EMAIL)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        world.chat(JOHN_TELEGRAM, wrong)
    assert world.case(outcome.reference).status == "unverified"
    assert world.verification(outcome.reference).status == "failed"
    assert [a.kind for a in world.alerts()] == ["verification_failed"]
    world.chat(JOHN_TELEGRAM, code)  # the right code, too late
    assert world.case(outcome.reference).status == "unverified"
    assert world.drafts(outcome.reference, "reply") == []


async def test_an_expired_code_is_not_accepted(world):
    outcome = world.chat(JOHN_TELEGRAM, "Please delete all my personal data")
    await world.deliver()
    code = world.code_mailed_to(JOHN_EMAIL)
    world.clock.advance(hours=73)
    world.chat(JOHN_TELEGRAM, code)
    assert world.verification(outcome.reference).status == "expired"
    assert world.case(outcome.reference).status == "unverified"
    assert world.drafts(outcome.reference, "reply") == []


async def test_it_wasnt_me_alerts_staff_to_possible_impersonation(world):
    outcome = world.email(MARIA_EMAIL, "Jag vill få ut en kopia på alla uppgifter ni har om mig.")
    await world.deliver()
    world.press(MARIA_TELEGRAM, world.verification(outcome.reference).id, yes=False)
    case = world.case(outcome.reference)
    assert case.status == "unverified" and case.verified_at is None
    alerts = world.alerts("possible_impersonation")
    assert len(alerts) == 1 and outcome.reference in alerts[0].text
    assert world.drafts(outcome.reference, "reply") == []
    clarification = world.drafts(outcome.reference, "clarification")[0]
    assert "Berg & Co" not in clarification.text


async def test_a_button_pressed_by_someone_else_does_nothing(world):
    outcome = world.email(ANNA_EMAIL, "Radera alla mina personuppgifter, tack.")
    world.press(JOHN_TELEGRAM, world.verification(outcome.reference).id, yes=True)
    assert world.case(outcome.reference).status == "awaiting_verification"


async def test_unknown_sender_is_asked_for_more_without_learning_whether_we_hold_data(world):
    unknown = world.email(
        "stranger@example.org", "Please delete all personal data you hold about me."
    )
    assert world.case(unknown.reference).status == "unverified"
    assert world.verification(unknown.reference) is None
    first = world.drafts(unknown.reference, "acknowledgment")[0]
    assert not first.carries_personal_data
    for phrase in ("we hold no", "we have no data", "not in our register", "no record"):
        assert phrase not in first.text.lower()
    # Someone on file gets the very same words: the answer tells a stranger nothing.
    known = world.email(ANNA_EMAIL, "Please delete all personal data you hold about me.")
    assert world.case(known.reference).status == "awaiting_verification"
    known_first = world.drafts(known.reference, "acknowledgment")[0]
    assert known_first.text.replace(known.reference, "REF") == first.text.replace(
        unknown.reference, "REF"
    )


async def test_a_strangers_case_shows_its_move_to_unverified_in_the_audit_trail(world):
    unknown = world.email("stranger@example.org", "Please delete all personal data about me.")
    with world.session() as session:
        case = get_case(session, unknown.reference)
        trail = [
            (e.action, e.from_state, e.to_state, e.detail)
            for e in session.exec(
                select(AuditEvent).where(AuditEvent.request_id == case.id).order_by(AuditEvent.id)
            )
        ]
    assert case.status == "unverified"
    assert trail[0][0] == "case_opened"
    assert ("transition", "received", "unverified", "sender not found in the register") in trail
    with world.session() as session:
        assert verify_chain(session)[1] == []


async def test_no_alternate_channel_on_file_leaves_it_to_staff(world, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("name,email\nOlle Ek,olle@example.se\n")
    from bot.store.register import import_file

    with world.database.session() as session:
        import_file(session, path, now=world.clock())
    outcome = world.email("olle@example.se", "Jag vill att ni raderar mina personuppgifter.")
    assert world.case(outcome.reference).status == "unverified"
    assert [a.kind for a in world.alerts()] == ["unverified"]
    assert world.drafts(outcome.reference, "acknowledgment")


async def test_phone_only_alternate_becomes_a_call_for_staff_then_verify_by_phone(world):
    outcome = world.email(ERIK_EMAIL, "Hej, radera mina personuppgifter hos er.")
    assert world.verification(outcome.reference).method == "phone_call"
    assert [a.kind for a in world.alerts()] == ["call_to_verify"]
    assert await world.deliver() == []  # nothing is sent: staff call
    with world.database.session() as session:
        verify_by_phone(
            session,
            world.services,
            outcome.reference,
            "called +46739876543, Erik confirmed",
            actor="staff:eva",
        )
    case = world.case(outcome.reference)
    assert case.status == "awaiting_approval" and case.verified_by == "staff:eva"


async def test_approving_a_stale_version_is_refused(world):
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    first = world.reply_draft(outcome.reference)
    with world.database.session() as session:
        second = edit_draft(
            session, world.services, first.id, first.text + "\nHälsningar, Eva", actor="staff:eva"
        )
    with pytest.raises(StaleDraft, match=f"draft {second.id}"):
        approve(world, first.id)
    with pytest.raises(StaleDraft):
        approve(world, second.id, expected_version=1)
    approve(world, second.id, expected_version=2)
    sent = await world.deliver()
    assert sent[0].text.endswith("Hälsningar, Eva")


async def test_a_rejected_draft_is_edited_into_a_new_version(world):
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = world.reply_draft(outcome.reference)
    with world.database.session() as session:
        reject_draft(session, world.services, draft.id, "too formal", actor="staff:eva")
    assert world.case(outcome.reference).status == "rejected"
    with pytest.raises(CaseError):
        approve(world, draft.id)
    with world.database.session() as session, pytest.raises(CaseError, match="no MARKNADSFÖRING"):
        edit_draft(
            session, world.services, draft.id, "Hej! Klart, inga fler utskick.", actor="staff:eva"
        )  # the section is gone, yet approval would still switch marketing off: say so
    with world.database.session() as session:
        new = edit_draft(
            session,
            world.services,
            draft.id,
            "Hej!\n\nMARKNADSFÖRING\nKlart, inga fler utskick.",
            actor="staff:eva",
        )
    assert (new.version, world.case(outcome.reference).status) == (2, "awaiting_approval")


async def test_a_new_right_that_needs_confirming_asked_in_a_reply_gets_its_own_case(world):
    first = world.email(
        ANNA_EMAIL,
        "Hej, jag vill ha en kopia av mina personuppgifter.",
        "Registerutdrag",
        message_id="<first@example.se>",
    )
    reply = world.email(
        ANNA_EMAIL,
        "Och radera sedan alla mina uppgifter, tack.",
        f"Re: Registerutdrag [{first.reference}]",
        in_reply_to="<first@example.se>",
    )
    # Her first challenge named access only: erasure is confirmed on its own.
    assert reply.state == "request" and reply.reference != first.reference
    assert world.case(first.reference).kinds == ["access"]
    second = world.case(reply.reference)
    assert (second.kinds, second.status) == (["erasure"], "awaiting_verification")
    assert world.verification(reply.reference).kinds == ["erasure"]


async def test_a_right_that_needs_no_confirming_asked_in_a_reply_joins_the_case(world):
    first = world.email(
        ANNA_EMAIL,
        "Hej, jag vill ha en kopia av mina personuppgifter.",
        "Registerutdrag",
        message_id="<first@example.se>",
    )
    reply = world.email(
        ANNA_EMAIL,
        "Och sluta skicka nyhetsbrev till mig, tack.",
        f"Re: Registerutdrag [{first.reference}]",
        in_reply_to="<first@example.se>",
    )
    assert reply.state == "thread" and reply.reference == first.reference
    assert world.case(first.reference).kinds == ["access", "marketing_optout"]
    assert [a.kind for a in world.alerts()] == ["new_message"]


async def test_a_request_in_the_thread_of_a_finished_case_opens_a_new_one(world):
    first = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    approve(world, world.reply_draft(first.reference).id)
    sent = await world.deliver()
    assert world.case(first.reference).status == "done"
    with world.session() as session:
        ours = session.exec(select(Message).where(Message.direction == "out")).all()
    again = world.chat(
        ANNA_TELEGRAM,
        "Och radera alla mina personuppgifter också",
        telegram_reply_to_id=ours[-1].telegram_message_id,
    )
    assert sent and again.state == "request" and again.reference != first.reference


async def test_each_message_is_processed_once_however_often_it_is_handed_in(world):
    message = InboundMessage(
        ChannelName.EMAIL, ANNA_EMAIL, text="Radera mina uppgifter.", message_id="<same@example.se>"
    )
    first = world.receive(message)
    again = world.receive(message)
    assert again.duplicate and again.reference == first.reference
    with world.session() as session:
        assert len(session.exec(select(Message)).all()) == 1


async def test_ordinary_mail_and_auto_replies_open_no_case(world):
    ordinary = world.email(
        "kund@example.com",
        "Hej, har ni en ledig Java-konsult i mars? Vänliga hälsningar, Kund AB",
        "Uppdrag",
    )
    auto = world.email(
        "ola@example.se",
        "I am out of the office until Monday.",
        "Automatic reply",
        headers={"auto-submitted": "auto-replied"},
    )
    own = world.email("info@noxconsulting.se", "Radera mina uppgifter", "loop")
    assert (ordinary.state, auto.state, own.state) == ("not_a_request", "automated", "automated")
    assert ordinary.reference is auto.reference is own.reference is None


async def test_malformed_mail_is_kept_raw_and_shown_to_staff(world):
    outcome = world.receive(
        InboundMessage(ChannelName.EMAIL, "unknown", raw=b"\x00\x01garbage", malformed="no headers")
    )
    assert outcome.state == "malformed"
    with world.session() as session:
        assert session.get(Message, outcome.message_id).raw == b"\x00\x01garbage"
    assert [a.kind for a in world.alerts()] == ["malformed"]


async def test_staff_triage_choice_opens_the_case_and_is_kept_as_a_label(world):
    world.triage_everything()
    outcome = world.email(ANNA_EMAIL, "Radera mina uppgifter.")
    assert outcome.state == "triage"
    with world.database.session() as session:
        decided = decide_triage(
            session, world.services, outcome.message_id, ["erasure"], actor="staff:eva"
        )
    assert decided.state == "request" and world.case(decided.reference).kinds == ["erasure"]
    with world.session() as session:
        assert session.get(Message, outcome.message_id).label_kinds == ["erasure"]


async def test_extension_moves_the_deadline_and_drafts_a_notice(world):
    outcome = world.email(
        JOHN_EMAIL, "Please send me a copy of all personal data you hold about me."
    )
    with world.database.session() as session:
        notice = extend_case(
            session,
            world.services,
            outcome.reference,
            "the request covers many years of assignments",
            actor="staff:eva",
        )
    # The person is told first: the longer deadline holds once the notice is approved.
    assert not world.case(outcome.reference).extended
    assert "many years" in notice.text and "IMY" in notice.text
    with world.database.session() as session, pytest.raises(CaseError, match="already waiting"):
        extend_case(session, world.services, outcome.reference, "again", actor="staff:eva")
    approve(world, notice.id)
    assert not world.case(outcome.reference).extended  # approved, not yet sent
    await world.deliver()
    case = world.case(outcome.reference)
    assert case.extended and str(case.extended_due_date) == "2027-02-24"
    with world.database.session() as session, pytest.raises(CaseError, match="already extended"):
        extend_case(session, world.services, outcome.reference, "again", actor="staff:eva")


async def test_refusal_is_a_staff_choice_that_closes_the_case_when_approved(world):
    outcome = world.email(
        JOHN_EMAIL, "Please send me a copy of all personal data you hold about me."
    )
    with world.database.session() as session:
        notice = refuse_case(
            session,
            world.services,
            outcome.reference,
            "the same request was answered last week",
            actor="staff:eva",
        )
    assert "IMY" in notice.text
    approve(world, notice.id)
    assert world.case(outcome.reference).status == "closed"
    assert world.drafts(outcome.reference, "acknowledgment") == []


async def test_an_outbox_message_is_retried_when_the_server_is_down(world):
    outcome = world.email(ANNA_EMAIL, "Radera alla mina personuppgifter.")
    world.channels[ChannelName.TELEGRAM].fail_next = 1
    assert await world.deliver() == []
    world.clock.advance(minutes=1)
    sent = await world.deliver()
    assert [m.address for m in sent] == [ANNA_TELEGRAM]
    assert world.case(outcome.reference).status == "awaiting_verification"


def test_personal_identity_numbers_are_masked_before_anything_is_stored(world):
    world.email(ANNA_EMAIL, "Mitt personnummer är 811218-9876, radera mina uppgifter.")
    with world.session() as session:
        stored = session.exec(select(Message)).one().text
    assert "811218-9876" not in stored


def test_a_personnummer_written_with_an_en_dash_is_masked_before_it_is_stored(world):
    world.email(ANNA_EMAIL, "Mitt personnummer är 811218\u20139876, radera mina uppgifter.")
    with world.session() as session:
        stored = session.exec(select(Message)).one().text
    assert "811218" not in stored and "[personnummer borttaget]" in stored


def test_a_display_name_holding_a_personnummer_is_stored_and_greeted_without_it(world):
    outcome = world.chat(
        "5559999", "sluta skicka nyhetsbrev till mig", sender_name="Bo Ek 811218\u20139876"
    )
    with world.session() as session:
        assert session.exec(select(Message)).one().display_name == "Bo Ek"
    assert world.case(outcome.reference).requester_name == "Bo Ek"
    (draft,) = world.drafts(outcome.reference)
    assert "Hej Bo Ek," in draft.text and "811218" not in draft.text


def test_a_display_name_with_escape_sequences_is_stored_without_them(world):
    outcome = world.chat(
        "5559999", "sluta skicka nyhetsbrev till mig", sender_name="Bo\x1b[8m Ek\u202e\x07"
    )
    assert world.case(outcome.reference).requester_name == "Bo Ek"
    (draft,) = world.drafts(outcome.reference)
    assert "Hej Bo Ek," in draft.text and "\x1b" not in draft.text


def test_a_draft_with_personal_data_is_never_made_for_an_unverified_case(world):
    outcome = world.email(ANNA_EMAIL, "Jag vill ha en kopia av mina personuppgifter.")
    with world.database.session() as session:
        subject = session.exec(select(Subject)).first()
        assert subject is not None
        from bot.store.records import get_case
        from bot.workflow.drafts import new_draft

        with pytest.raises(CaseError, match="unverified"):
            new_draft(
                session,
                get_case(session, outcome.reference),
                "reply",
                "s",
                subject.name,
                carries_personal_data=True,
                now=world.clock(),
            )


async def test_the_whole_flow_runs_on_postgresql_too(tmp_path, postgres_url):
    world = make_world(tmp_path, postgres_url)
    try:
        outcome = world.email(ANNA_EMAIL, "Jag vill att ni raderar alla mina personuppgifter.")
        await verified_by_telegram(world, outcome.reference, ANNA_TELEGRAM)
        approve(world, world.reply_draft(outcome.reference).id)
        await world.deliver()
        assert world.case(outcome.reference).status == "done"
        with world.session() as session:
            assert find_subject(session, "email", ANNA_EMAIL) is None
            from bot.store.audit import verify_chain

            count, problems = verify_chain(session)
        assert count > 5 and problems == []
    finally:
        world.database.dispose()


async def test_an_unanswered_challenge_expires_and_staff_are_alerted(world):
    from bot.workflow.confirming import expire_verifications

    outcome = world.email(ANNA_EMAIL, "Radera alla mina personuppgifter.")
    with world.database.session() as session:
        assert expire_verifications(session, world.services) == []
    world.clock.advance(hours=73)
    with world.database.session() as session:
        assert expire_verifications(session, world.services) == [outcome.reference]
    assert world.case(outcome.reference).status == "unverified"
    assert world.verification(outcome.reference).status == "expired"
    assert [a.kind for a in world.alerts()] == ["verification_failed"]


EVERY_KIND = {
    ("access", "sv"): "Jag vill ha en kopia av alla personuppgifter ni har om mig.",
    ("access", "en"): "Please send me a copy of all personal data you hold about me.",
    ("rectification", "sv"): "Rätta mitt telefonnummer till 076-555 12 34, tack.",
    ("rectification", "en"): "Please correct my phone number to +46 76 555 12 34.",
    ("erasure", "sv"): "Jag vill att ni raderar alla mina personuppgifter.",
    ("erasure", "en"): "Please delete all my personal data.",
    ("restriction", "sv"): "Jag vill att ni begränsar behandlingen av mina personuppgifter.",
    ("restriction", "en"): "Please restrict the processing of my personal data.",
    ("portability", "sv"): "Skicka mina personuppgifter i maskinläsbart format, JSON går bra.",
    ("portability", "en"): "Please send me my personal data in a machine-readable format.",
    ("objection", "sv"): "Jag invänder mot att ni använder mina uppgifter för profilering.",
    ("objection", "en"): "I object to the processing of my personal data for profiling.",
    ("marketing_optout", "sv"): "Sluta skicka nyhetsbrev och reklam till mig.",
    ("marketing_optout", "en"): "Please unsubscribe me from your newsletter.",
    ("consent_withdrawal", "sv"): "Jag återkallar mitt samtycke till att ni visar min bild.",
    ("consent_withdrawal", "en"): "I withdraw my consent to the use of my photo.",
    ("complaint", "sv"): "Jag är missnöjd med hur ni hanterat mina personuppgifter och anmäler "
    "er till IMY.",
    ("complaint", "en"): "I am unhappy with how you handled my personal data and will complain "
    "to IMY.",
    ("info", "sv"): "Hur länge sparar ni uppgifter om konsulter?",
    ("info", "en"): "How long do you keep consultant profiles?",
}
REPLY_OPENING = {"sv": "Här är vårt svar", "en": "Here is our answer"}


@pytest.mark.parametrize(
    ("kind", "language"), sorted(EVERY_KIND), ids=[f"{k}-{lang}" for k, lang in sorted(EVERY_KIND)]
)
async def test_every_kind_runs_its_whole_flow_in_both_languages(world, kind, language):
    """Asked by email → (confirmed on Telegram when needed) → drafted in the person's
    language → approved → carried out → sent → done."""
    from handlers import handler_for

    outcome = world.email(ANNA_EMAIL, EVERY_KIND[(kind, language)])
    case = world.case(outcome.reference)
    assert (case.kinds, case.language) == ([kind], language)
    if handler_for(kind).needs_verification:
        assert case.status == "awaiting_verification"
        await verified_by_telegram(world, outcome.reference, ANNA_TELEGRAM)
    if kind == "rectification":  # a new phone number: the old one on file confirms it too
        world.call_confirms(outcome.reference)
    if kind == "complaint":  # its reply gives the outcome staff record (its ack waits apart)
        from bot.workflow.complaints import record_outcome

        with world.database.session() as session:
            record_outcome(session, world.services, outcome.reference, "OK.", actor="staff:eva")
    draft = world.reply_draft(outcome.reference)
    assert draft.language == language and REPLY_OPENING[language] in draft.text
    approve(world, draft.id)
    sent = [m for m in await world.deliver() if m.address == ANNA_EMAIL]
    assert len(sent) == 1 and outcome.reference in sent[0].subject
    assert world.case(outcome.reference).status == "done"


def test_rectification_reads_name_company_and_org_number_changes():
    from handlers.rectification import requested_changes

    current = {
        "name": "Sara Persson",
        "company": "Persson IT",
        "org_number": "",
        "phone": "+46701112233",
        "email": "sara@example.se",
    }
    changes = requested_changes(
        "Hej NOX Consulting AB! Jag har gift mig och mitt efternamn är nu Lindgren. Jag "
        "fakturerar via Lindgren Data AB, org.nr 559876-5432. Nytt nummer: 072-444 55 66.",
        current,
        ignore_emails=set(),
        language="sv",
        ignore_companies=frozenset({"NOX Consulting AB"}),
    )
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("name", "Sara Persson", "Sara Lindgren"),
        ("phone", "+46701112233", "+46724445566"),
        ("org_number", "", "559876-5432"),
        ("company", "Persson IT", "Lindgren Data AB"),
    ]


async def test_a_chat_follow_up_joins_the_open_case_and_staff_see_it(world):
    first = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    follow_up = world.chat(ANNA_TELEGRAM, "hej, hur går det med mitt ärende?")
    assert follow_up.state == "thread" and follow_up.reference == first.reference
    assert [a.kind for a in world.alerts()] == ["new_message"]


def test_a_message_that_breaks_the_pipeline_is_quarantined_and_the_next_one_goes_on(
    world, monkeypatch
):
    from bot.runtime.intake import handle_inbound
    from bot.store.tables import ChannelCursor
    from bot.workflow import pipeline

    real = pipeline.classify

    def broken(text, **kwargs):
        if "BOOM" in text:
            raise RuntimeError("classifier bug")
        return real(text, **kwargs)

    monkeypatch.setattr(pipeline, "classify", broken)
    bad = InboundMessage(
        ChannelName.EMAIL,
        "x@example.se",
        text="BOOM radera mig",
        message_id="<bad@x>",
        raw=b"raw bytes",
    )
    good = InboundMessage(
        ChannelName.EMAIL, ANNA_EMAIL, text="Radera alla mina uppgifter.", message_id="<good@x>"
    )
    handle_inbound(world.database, world.services, bad, "imap:INBOX", "1:1")
    handle_inbound(world.database, world.services, good, "imap:INBOX", "1:2")
    with world.session() as session:
        states = [m.state for m in session.exec(select(Message).order_by(Message.id))]
        stored = session.exec(select(Message).where(Message.message_id == "<bad@x>")).one()
        assert session.get(ChannelCursor, "imap:INBOX").value == "1:2"
    assert states == ["malformed", "request"]
    assert stored.raw == b"raw bytes" and "RuntimeError" in stored.state_reason
    assert [a.kind for a in world.alerts()] == ["malformed"]


async def test_an_unexpected_sender_error_is_retried_not_fatal(world):
    outcome = world.email(ANNA_EMAIL, "Radera alla mina personuppgifter.")

    class Broken:
        name = ChannelName.TELEGRAM

        async def send(self, message):
            raise KeyError("bug")

    from bot.workflow.sending import deliver_due

    report = await deliver_due(world.database, world.services, {ChannelName.TELEGRAM: Broken()})
    assert report.sent == [] and len(report.retrying) == 1
    assert world.case(outcome.reference).status == "awaiting_verification"


async def test_a_letter_from_someone_not_on_file_is_answered_by_hand(world):
    from bot.store.tables import Outbox

    outcome = world.receive(
        InboundMessage(
            ChannelName.POST,
            "Sven Svensson, Storgatan 1, 111 22 Stockholm",
            text="Jag vill inte längre få reklam eller nyhetsbrev från er.",
        )
    )
    draft = world.reply_draft(outcome.reference)
    assert draft.to_channel == "post"
    approve(world, draft.id)
    assert await world.deliver() == []
    assert world.case(outcome.reference).status == "done"
    with world.session() as session:
        assert session.exec(select(Outbox)).one().status == "manual"
    assert [a.kind for a in world.alerts()] == ["deliver_by_hand"]


async def test_a_call_from_a_number_on_file_is_answered_by_email_on_file(world):
    outcome = world.receive(
        InboundMessage(ChannelName.PHONE, "073-987 65 43", text="Sluta skicka nyhetsbrev till mig.")
    )
    draft = world.reply_draft(outcome.reference)
    assert (draft.to_channel, draft.to_address) == ("email", ERIK_EMAIL)


def test_a_message_the_classifier_is_unsure_about_goes_to_staff_triage(world):
    world.triage_everything()
    outcome = world.email(ANNA_EMAIL, "Angående GDPR och mina personuppgifter hos er.")
    assert outcome.state == "triage" and outcome.reference is None
    assert [a.kind for a in world.alerts()] == ["triage"]
    assert world.sent_to(ANNA_EMAIL) == []  # nothing goes out before staff decide


async def test_staff_set_the_rectification_themselves_and_exactly_that_is_applied(world):
    from bot.workflow.cases import set_requested_changes

    outcome = world.email(
        ANNA_EMAIL,
        "Hej, mitt efternamn är fel i ert register, kan ni rätta det? Jag har också nytt nummer.",
    )
    await verified_by_telegram(world, outcome.reference, ANNA_TELEGRAM)
    with world.database.session() as session, pytest.raises(CaseError, match="cannot be"):
        set_requested_changes(
            session, world.services, outcome.reference, {"shoe_size": "38"}, actor="staff:eva"
        )
    with world.database.session() as session:
        set_requested_changes(
            session,
            world.services,
            outcome.reference,
            {"name": "Anna Åström", "phone": "076-555 12 34"},
            actor="staff:eva",
        )
    draft = world.reply_draft(outcome.reference)
    assert "Anna Lindqvist → Anna Åström" in draft.text and "→ 076-555 12 34" in draft.text
    world.call_confirms(outcome.reference)  # the old number on file confirms the new one
    approve(world, draft.id)
    with world.session() as session:
        anna = find_subject(session, "email", ANNA_EMAIL)
        assert anna.name == "Anna Åström"
        assert find_subject(session, "phone", "076-555 12 34").id == anna.id


def test_history_details_read_as_staff_words_and_a_staff_notes_own_names_stay():
    from bot.workflow.words import history_words

    assert history_words("phone_call via phone") == "phone call"
    assert history_words("verification by telegram_confirm sent") == (
        "verification by Telegram confirmation sent"
    )
    assert history_words("outbox 1 (verification_challenge) to telegram") == (
        "outbox 1 (verification challenge) to telegram"
    )
    assert history_words("erasure, marketing_optout by email") == (
        "erasure, marketing opt-out by email"
    )
    assert history_words("note: see file_2026_q3.pdf") == "note: see file_2026_q3.pdf"
