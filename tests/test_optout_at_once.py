"""An opt-out (or a newsletter consent withdrawal) asked together with a right that needs
verification: marketing stops at once, the rest waits for the identity check."""

from __future__ import annotations

from sqlmodel import col, select

from bot.store.records import get_case
from bot.store.register import find_subject, is_suppressed
from bot.store.tables import AuditEvent
from tests.workflow_kit import ANNA_EMAIL, ANNA_TELEGRAM, World

BOTH = "I give no more consent for your newsletter. And delete me from your CRM."


def suppressed(world: World, kind: str, address: str) -> bool:
    with world.session() as session:
        return is_suppressed(session, world.services.hash_key, kind, address)


def history(world: World, reference: str) -> list[tuple[str, str]]:
    with world.session() as session:
        case = get_case(session, reference)
        events = session.exec(
            select(AuditEvent).where(AuditEvent.request_id == case.id).order_by(col(AuditEvent.id))
        )
        return [(e.action, e.detail) for e in events]


async def test_newsletter_stops_at_once_while_the_erasure_waits_for_the_identity_check(world):
    outcome = world.email(ANNA_EMAIL, BOTH, "Newsletter")
    case = world.case(outcome.reference)
    assert "erasure" in case.kinds and "consent_withdrawal" in case.kinds
    assert case.status == "awaiting_verification"
    assert suppressed(world, "email", ANNA_EMAIL)
    assert (
        "marketing_suppressed",
        "the sender's address, at once; the rest of the case waits for verification",
    ) in history(world, outcome.reference)
    # Nothing about the person went to anyone: only the challenge, on the channel on file.
    sent = await world.deliver()
    assert [m.address for m in sent] == [ANNA_TELEGRAM]
    assert "Lindqvist" not in sent[0].text
    with world.session() as session:
        person = find_subject(session, "email", ANNA_EMAIL)
        assert person is not None and not person.consent_withdrawn  # that waits for the reply
    # Once confirmed, the reply still covers every kind.
    world.press(ANNA_TELEGRAM, world.verification(outcome.reference).id, yes=True)
    draft = world.reply_draft(outcome.reference)
    assert set(draft.covers["kinds"]) >= {"erasure", "consent_withdrawal"}


async def test_an_opt_out_from_telegram_not_on_file_is_honoured_while_identity_is_unconfirmed(
    world,
):
    outcome = world.chat("7770001", "Stop sending me marketing. And delete all my data.")
    case = world.case(outcome.reference)
    assert "marketing_optout" in case.kinds and "erasure" in case.kinds
    assert case.status == "unverified"
    assert suppressed(world, "telegram", "7770001")
    assert not suppressed(world, "email", ANNA_EMAIL)
    assert [a for a, _ in history(world, outcome.reference)].count("marketing_suppressed") == 1


async def test_an_opt_out_added_in_the_thread_of_a_waiting_case_stops_marketing_at_once(world):
    first = world.email(
        ANNA_EMAIL,
        "Hej, jag vill ha en kopia av mina personuppgifter.",
        "Registerutdrag",
        message_id="<first@example.se>",
    )
    assert not suppressed(world, "email", ANNA_EMAIL)
    world.email(
        ANNA_EMAIL,
        "Och sluta skicka nyhetsbrev till mig, tack.",
        f"Re: Registerutdrag [{first.reference}]",
        in_reply_to="<first@example.se>",
    )
    assert world.case(first.reference).status == "awaiting_verification"
    assert suppressed(world, "email", ANNA_EMAIL)


async def test_a_lone_opt_out_still_waits_for_staff_to_approve_its_reply(world):
    outcome = world.email("someone@example.org", "Please unsubscribe me from your newsletter.")
    assert world.case(outcome.reference).status == "awaiting_approval"
    assert "marketing_suppressed" not in [a for a, _ in history(world, outcome.reference)]


async def test_an_opt_out_in_a_thread_stops_marketing_to_whoever_wrote_it(world):
    """A stranger opened an access case in Anna's name; staff linked it to her; Anna, from
    her own address, writes in its thread to stop the newsletter. Her address is the one
    that asked: it is suppressed at once, not the stranger's."""
    from bot.store.tables import Subject
    from bot.workflow.linking import link_to_subject

    opened = world.email(
        "stranger@example.net",
        "Hej, jag vill ha en kopia av mina personuppgifter.",
        "Utdrag",
        sender_name="Anna Lindqvist",
    )
    with world.database.session() as session:
        anna = session.exec(select(Subject).where(Subject.name == "Anna Lindqvist")).one().id
        link_to_subject(session, world.services, opened.reference, anna, actor="staff:eva")
    world.email(
        ANNA_EMAIL,
        "Och sluta skicka nyhetsbrev till mig, tack.",
        f"Re: Utdrag [{opened.reference}]",
    )
    with world.session() as session:
        assert "marketing_optout" in get_case(session, opened.reference).kinds
    assert suppressed(world, "email", ANNA_EMAIL)
    assert not suppressed(world, "email", "stranger@example.net")


def test_the_plan_names_a_telegram_opt_out_as_a_telegram_user_not_a_bare_number(world):
    """ "switch off marketing to 5550009" said nothing of what 5550009 is (DPO review)."""
    from bot.workflow.approval import approval_plan

    reference = world.chat("5550009", "Sluta skicka nyhetsbrev till mig.").reference
    with world.session() as session:
        plan = approval_plan(session, world.services, world.reply_draft(reference))
    assert "switch off marketing to Telegram user 5550009" in plan.will


async def test_an_opt_out_from_someone_not_on_file_promises_only_the_address_they_wrote_from(
    world,
):
    """Only the address that asked is suppressed when nobody is on file: the reply says
    so and asks for any other address or number, instead of "no marketing on any
    channel: email, text message, phone or social networks"."""
    outcome = world.email("okand@example.org", "Sluta skicka reklam till mig.", "Reklam")
    assert world.case(outcome.reference).kinds == ["marketing_optout"]
    text = world.reply_draft(outcome.reference).text
    assert "i någon kanal" not in text
    assert "Vi skickar inte längre marknadsföring till e-postadressen okand@example.org." in text
    assert "berätta vilket så stänger vi av det också" in text
    world.approve(world.reply_draft(outcome.reference).id)
    assert suppressed(world, "email", "okand@example.org")

    chat = world.chat("7770002", "Stop sending me marketing please")
    text = world.reply_draft(chat.reference).text
    assert "on any channel" not in text
    assert "We no longer send marketing to the Telegram account you wrote from." in text


async def test_an_opt_out_from_someone_on_file_still_stops_marketing_on_every_channel(world):
    outcome = world.email(ANNA_EMAIL, "Sluta skicka reklam till mig.", "Reklam")
    text = world.reply_draft(outcome.reference).text
    assert "i någon kanal: e-post, sms, telefon eller sociala nätverk" in text
