"""The staff chat: drafts with Approve/Reject buttons and alerts, decided by staff only."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import select

from bot.channels.telegram import make_bot
from bot.config import TelegramSettings
from bot.runtime.chat_poller import poll_chat_once
from bot.runtime.staff_chat import notify_staff
from bot.store.tables import ChannelCursor, Request
from bot.workflow.approval import approval_plan, edit_draft
from tests.fake_bot_api import FakeBotApi
from tests.workflow_kit import ANNA_TELEGRAM, JOHN_TELEGRAM

STAFF_CHAT, EVA, MALLORY = -1001, 7001, 7002


@pytest.fixture
async def bot_api():
    api = FakeBotApi()
    await api.start()
    yield api
    await api.stop()


def _settings(world, api, language="en"):
    """The staff chat's settings, also the services' (as in `noxbot run`)."""
    world.services.settings = world.services.settings.model_copy(
        update={
            "telegram": TelegramSettings(
                base_url=api.base_url,
                staff_chat_id=STAFF_CHAT,
                staff_user_ids=[EVA],
                staff_language=language,
            )
        }
    )
    return world.services.settings


async def test_drafts_and_alerts_reach_the_staff_chat_once(world, bot_api, caplog):
    world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    world.email("maria.berg@example.se", "Jag är missnöjd och anmäler er till IMY.")
    settings = _settings(world, bot_api)
    async with make_bot(settings.telegram, bot_api.token) as bot:
        # the complaint alert and three cards: the opt-out's reply, the complaint's
        # acknowledgment and its reply (which waits for the outcome); the audit head goes to
        # the log
        with caplog.at_level(logging.INFO, logger="noxbot"):
            assert await notify_staff(world.database, world.services, bot, STAFF_CHAT) == 4
        assert await notify_staff(world.database, world.services, bot, STAFF_CHAT) == 0
    posts = bot_api.sent()
    assert all(int(p.fields["chat_id"]) == STAFF_CHAT for p in posts)
    assert "audit head 2026-11-24: " in caplog.text  # the log keeps it; the chat is spared
    assert not any("udit head" in p.fields["text"] for p in posts)
    assert posts[0].fields["text"].startswith("⚠ A complaint arrived\nDSR-2026-0002: a complaint")
    cards = [p for p in posts if "reply_markup" in p.fields]
    assert len(cards) == 3
    labels = [b["text"] for b in cards[0].fields["reply_markup"]["inline_keyboard"][0]]
    assert labels == ["Approve v1", "Reject"]


async def test_only_staff_may_approve_and_a_stale_button_is_refused(world, bot_api):
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = world.reply_draft(outcome.reference)
    settings = _settings(world, bot_api)
    async with make_bot(settings.telegram, bot_api.token) as bot:
        bot_api.user_presses(MALLORY, f"d:{draft.id}:1:a", STAFF_CHAT)
        await poll_chat_once(world.database, world.services, bot, settings, 0)
        assert world.case(outcome.reference).status == "awaiting_approval"

        with world.database.session() as session:
            new = edit_draft(
                session, world.services, draft.id, draft.text + "\n/Eva", actor="staff:eva"
            )
        bot_api.user_presses(EVA, f"d:{draft.id}:1:a", STAFF_CHAT)
        await poll_chat_once(world.database, world.services, bot, settings, 0)
        assert world.case(outcome.reference).status == "awaiting_approval"

        bot_api.user_presses(EVA, f"d:{new.id}:2:a", STAFF_CHAT)
        await poll_chat_once(world.database, world.services, bot, settings, 0)
    assert world.case(outcome.reference).status == "approved"
    answers = [c.fields["text"] for c in bot_api.sent("answerCallbackQuery")]
    assert answers[0] == "This button does nothing here."  # a member of the chat, not staff
    assert answers[1].startswith("Not done") and "replaced it" in answers[1]
    assert answers[2] == f"Draft {new.id} v2 approved; it will be sent."


async def test_what_the_staff_chat_is_shown_has_no_control_or_bidi_characters(world, bot_api):
    from bot.channels.messages import InboundMessage
    from bot.rules.channels import ChannelName

    world.receive(
        InboundMessage(
            ChannelName.POST,
            "Storgatan 1\u202e\x1b[8m",
            text="Sluta skicka reklam till mig.",
            received_at=world.clock(),
        )
    )
    settings = _settings(world, bot_api)
    async with make_bot(settings.telegram, bot_api.token) as bot:
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
    (card,) = [p.fields["text"] for p in bot_api.sent() if "reply_markup" in p.fields]
    assert "\u202e" not in card and "\x1b" not in card
    assert "To post: Storgatan 1\\u202e\\x1b[8m\n" in card


async def test_a_decision_pressed_outside_the_staff_chat_gets_a_neutral_answer_and_no_message(
    world, bot_api
):
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = world.reply_draft(outcome.reference)
    settings = _settings(world, bot_api)
    bot_api.user_presses(MALLORY, f"d:{draft.id}:1:a")  # a forged button, her own chat
    bot_api.user_presses(EVA, f"d:{draft.id}:1:a")  # staff, but not in the staff chat
    async with make_bot(settings.telegram, bot_api.token) as bot:
        assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 2
        assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 0
    assert world.case(outcome.reference).status == "awaiting_approval"
    assert bot_api.sent() == []  # nothing posted in anyone's chat
    answers = [c.fields["text"] for c in bot_api.sent("answerCallbackQuery")]
    assert answers == ["This button does nothing here."] * 2
    assert not any(word in a for a in answers for word in ("staff", "telegram", "_ids"))


async def test_a_decision_that_fails_is_answered_skipped_and_the_next_update_processed(
    world, bot_api, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("UNIQUE constraint failed for anna.lindqvist@example.se")

    monkeypatch.setattr("bot.workflow.staff_decisions.approve_draft", broken)
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = world.reply_draft(outcome.reference)
    settings = _settings(world, bot_api)
    bot_api.user_presses(EVA, f"d:{draft.id}:1:a", STAFF_CHAT)
    bot_api.user_says(int(JOHN_TELEGRAM), "Please stop sending me newsletters")
    async with make_bot(settings.telegram, bot_api.token) as bot:
        with caplog.at_level(logging.ERROR, logger="noxbot"):
            assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 2
        assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 0
    assert world.case(outcome.reference).status == "awaiting_approval"
    answers = [c.fields["text"] for c in bot_api.sent("answerCallbackQuery")]
    assert answers == ["Could not be done; see the log."]
    assert bot_api.sent() == []  # the answer is the toast; the card is left as it was
    with world.session() as session:
        john = session.exec(select(Request).where(Request.requester_address == JOHN_TELEGRAM))
        assert john.one().kinds == ["marketing_optout"]
        assert session.get(ChannelCursor, "telegram:offset").value == "3"
    assert "RuntimeError" in caplog.text and "anna" not in caplog.text


async def test_a_message_whose_handling_fails_is_skipped_and_the_poller_goes_on(
    world, bot_api, monkeypatch, caplog
):
    import bot.runtime.intake

    real = bot.runtime.intake.process_inbound

    def process(session, services, inbound, **kwargs):
        if inbound.text == "boom":
            raise RuntimeError("boom")
        return real(session, services, inbound, **kwargs)

    def no_quarantine(*args, **kwargs):
        raise RuntimeError("quarantine refused too")

    monkeypatch.setattr("bot.runtime.intake.process_inbound", process)
    monkeypatch.setattr("bot.runtime.intake.quarantine", no_quarantine)
    settings = _settings(world, bot_api)
    bot_api.user_says(MALLORY, "boom")
    bot_api.user_says(int(JOHN_TELEGRAM), "Please stop sending me newsletters")
    async with make_bot(settings.telegram, bot_api.token) as bot:
        with caplog.at_level(logging.ERROR, logger="noxbot"):
            assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 2
        assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 0
    with world.session() as session:
        john = session.exec(select(Request).where(Request.requester_address == JOHN_TELEGRAM))
        assert john.one().kinds == ["marketing_optout"]
        assert session.get(ChannelCursor, "telegram:offset").value == "3"
    assert "an update failed (RuntimeError); skipped" in caplog.text


async def test_a_rejection_in_the_staff_chat_keeps_no_identity_number_from_a_display_name(
    world, bot_api
):
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = world.reply_draft(outcome.reference)
    settings = _settings(world, bot_api)
    bot_api.user_presses(EVA, f"d:{draft.id}:1:r", STAFF_CHAT, first_name="Eva 811218-9876")
    async with make_bot(settings.telegram, bot_api.token) as bot:
        await poll_chat_once(world.database, world.services, bot, settings, 0)
    (rejected,) = world.drafts(outcome.reference, status="rejected")
    assert rejected.decision_reason == "rejected in the staff chat by Eva"


def _edits(api):
    return [c for c in api.calls if c.method == "editMessageText"]


async def test_a_card_decided_in_the_cli_is_edited_to_say_so_and_loses_its_buttons(world, bot_api):
    from bot.workflow.approval import approve_draft

    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = world.reply_draft(outcome.reference)
    settings = _settings(world, bot_api)
    async with make_bot(settings.telegram, bot_api.token) as bot:
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
        (card,) = [c for c in bot_api.sent() if "reply_markup" in c.fields]
        with world.database.session() as session:  # `noxbot drafts approve` at a terminal
            approve_draft(session, world.services, draft.id, actor="staff:eva")
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)  # edited once
    (edit,) = _edits(bot_api)
    assert int(edit.fields["chat_id"]) == STAFF_CHAT
    assert int(edit.fields["message_id"]) == card.message_id  # the card's own message
    assert "reply_markup" not in edit.fields  # its buttons are gone
    assert "✅ Approved by eva, " in edit.fields["text"]
    assert f"Draft {draft.id}" in edit.fields["text"]
    assert "Approving will" not in edit.fields["text"]


async def test_a_press_in_the_staff_chat_is_answered_and_the_card_edited_not_a_new_message(
    world, bot_api
):
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = world.reply_draft(outcome.reference)
    settings = _settings(world, bot_api)
    async with make_bot(settings.telegram, bot_api.token) as bot:
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
        posted = len(bot_api.sent())
        bot_api.user_presses(
            EVA, f"d:{draft.id}:1:r", STAFF_CHAT, first_name="Eva", username="eva_nox"
        )
        await poll_chat_once(world.database, world.services, bot, settings, 0)
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
    (answer,) = bot_api.sent("answerCallbackQuery")
    assert answer.fields["text"].startswith(f"Draft {draft.id} rejected")
    assert len(bot_api.sent()) == posted  # no message per press
    (edit,) = _edits(bot_api)
    # named as Telegram gives her, not by her user id (which the audit trail keeps)
    assert "✖ Rejected by Eva @eva_nox, " in edit.fields["text"]
    assert f"telegram-staff:{EVA}" not in edit.fields["text"]
    assert world.drafts(outcome.reference, "reply", status=None)[0].decided_by == (
        f"telegram-staff:{EVA} (Eva @eva_nox)"
    )
    assert "reply_markup" not in edit.fields


async def test_a_superseded_card_is_edited_and_its_stale_buttons_go(world, bot_api):
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = world.reply_draft(outcome.reference)
    settings = _settings(world, bot_api)
    async with make_bot(settings.telegram, bot_api.token) as bot:
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
        with world.database.session() as session:
            new = edit_draft(
                session, world.services, draft.id, draft.text + "\n/Eva", actor="staff:eva"
            )
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
    (edit,) = _edits(bot_api)
    assert "Superseded" in edit.fields["text"] and "reply_markup" not in edit.fields
    newest = [c for c in bot_api.sent() if "reply_markup" in c.fields][-1]
    labels = [b["text"] for b in newest.fields["reply_markup"]["inline_keyboard"][0]]
    assert labels == ["Approve v2", "Reject"] and f"Draft {new.id}" in newest.fields["text"]


async def test_staff_answer_a_card_with_new_text_and_approve_the_new_version_with_its_button(
    world, bot_api
):
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = world.reply_draft(outcome.reference)
    settings = _settings(world, bot_api)
    async with make_bot(settings.telegram, bot_api.token) as bot:
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
        card = next(c for c in bot_api.sent() if "reply_markup" in c.fields).message_id
        better = draft.text + "\nVänliga hälsningar, Eva"
        bot_api.user_says(MALLORY, "not staff: ignored", reply_to=card, chat_id=STAFF_CHAT)
        bot_api.user_says(EVA, better, reply_to=card, chat_id=STAFF_CHAT)
        await poll_chat_once(world.database, world.services, bot, settings, 0)
        (new,) = world.drafts(outcome.reference, "reply")
        author = f"telegram-staff:{EVA} (User{EVA})"  # the id, and the name Telegram gives
        assert (new.version, new.text, new.author) == (2, better, author)
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
        newest = [c for c in bot_api.sent() if "reply_markup" in c.fields][-1]
        button = newest.fields["reply_markup"]["inline_keyboard"][0][0]
        assert button["text"] == "Approve v2" and "Eva" in newest.fields["text"]
        (edit,) = _edits(bot_api)
        assert "Superseded" in edit.fields["text"]  # the old card, buttons gone
        bot_api.user_presses(EVA, button["callback_data"], STAFF_CHAT)
        await poll_chat_once(world.database, world.services, bot, settings, 0)
    assert world.case(outcome.reference).status == "approved"


async def test_a_card_says_in_swedish_who_asked_what_they_wrote_and_what_approval_does(
    world, bot_api
):
    known = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig\ntack\n/Anna\nPS")
    world.chat("9990001", "Please stop sending me your newsletter")
    settings = _settings(world, bot_api, language="sv")  # the default
    async with make_bot(settings.telegram, bot_api.token) as bot:
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
    anna, stranger = [c for c in bot_api.sent() if "reply_markup" in c.fields]
    text = anna.fields["text"]
    assert text.startswith(f"Utkast {world.reply_draft(known.reference).id} · {known.reference}")
    assert "Person: Anna Lindqvist\n" in text
    assert "Kanal: telegram · Gäller: " in text and "Svar senast: " in text
    assert "Skrev: “sluta skicka nyhetsbrev till mig / tack / /Anna …”" in text
    # what approval carries out, in Swedish too (the CLI and the JSON keep the English)
    assert (
        "Godkänns det kommer noxbot att: stänga av marknadsföring till alla kontaktuppgifter "
        "för Anna Lindqvist; skicka detta svar via telegram till 5550001" in text
    )
    with world.database.session() as session:
        plan = approval_plan(session, world.services, world.reply_draft(known.reference))
    assert plan.will == [
        "switch off marketing to every contact point of Anna Lindqvist",
        "send this reply by telegram to 5550001",
    ]
    assert "Person: finns inte i registret\n" in stranger.fields["text"]
    labels = [b["text"] for b in anna.fields["reply_markup"]["inline_keyboard"][0]]
    assert labels == ["Godkänn v1", "Avslå"]
    for post in bot_api.sent():  # no setting's name in what staff read
        assert not any(key in post.fields["text"] for key in ("staff_", "_env", "[telegram]"))


async def test_alerts_answers_to_presses_and_decided_cards_are_swedish_by_default(
    world, bot_api, monkeypatch
):
    opt_out = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    world.email("maria.berg@example.se", "Jag är missnöjd och anmäler er till IMY.")
    draft = world.reply_draft(opt_out.reference)
    settings = _settings(world, bot_api, language="sv")
    async with make_bot(settings.telegram, bot_api.token) as bot:
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
        alert = bot_api.sent()[0].fields["text"]
        cards = [p.fields["text"] for p in bot_api.sent() if "reply_markup" in p.fields]
        bot_api.user_presses(MALLORY, f"d:{draft.id}:1:a")  # outside the staff chat
        bot_api.user_presses(MALLORY, f"d:{draft.id}:1:a", STAFF_CHAT)  # in it, not staff
        bot_api.user_presses(EVA, "v:1:y", STAFF_CHAT)  # a requester's button
        await poll_chat_once(world.database, world.services, bot, settings, 0)
        with monkeypatch.context() as patch:
            patch.setattr("bot.workflow.staff_decisions.reject_draft", _broken)
            bot_api.user_presses(EVA, f"d:{draft.id}:1:r", STAFF_CHAT)
            await poll_chat_once(world.database, world.services, bot, settings, 0)
        bot_api.user_presses(EVA, f"d:{draft.id}:1:a", STAFF_CHAT, first_name="Eva")
        await poll_chat_once(world.database, world.services, bot, settings, 0)
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
    assert alert.startswith("⚠ Ett klagomål har kommit in · DSR-2026-0002\nDetaljer: ")
    # the complaint's reply waits for its outcome: what stands in the way, in Swedish too
    assert any(
        "Kan inte godkännas än: klagomålets utfall är inte registrerat; utred det" in card
        for card in cards
    )
    answers = [c.fields["text"] for c in bot_api.sent("answerCallbackQuery")]
    assert answers == [
        "Den här knappen gör ingenting här.",
        "Den här knappen gör ingenting här.",
        "Den här knappen gör ingenting här.",
        "Det gick inte; se loggen.",
        f"Utkast {draft.id} v1 godkänt; det skickas.",
    ]
    (edit,) = _edits(bot_api)
    assert "\n\n✅ Godkänt av Eva, 2026-11-24 " in edit.fields["text"]
    assert "Godkänns det kommer" not in edit.fields["text"]
    for text in [alert, *answers, edit.fields["text"]]:
        english = ("Approv", "Reject", "Draft", "staff_", "[telegram]")
        assert not any(word in text for word in english)


def _broken(*args, **kwargs):
    raise RuntimeError("a fault")


async def test_a_refused_press_says_why_in_the_staff_chats_language(world, bot_api):
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = world.reply_draft(outcome.reference)
    settings = _settings(world, bot_api, language="sv")
    with world.database.session() as session:
        new = edit_draft(
            session, world.services, draft.id, draft.text + "\n/Eva", actor="staff:eva"
        )
    async with make_bot(settings.telegram, bot_api.token) as bot:
        bot_api.user_presses(EVA, f"d:{draft.id}:1:a", STAFF_CHAT)  # the replaced version
        bot_api.user_presses(EVA, f"d:{draft.id}:1:r", STAFF_CHAT)
        bot_api.user_presses(EVA, "d:999:1:a", STAFF_CHAT)  # no such draft
        await poll_chat_once(world.database, world.services, bot, settings, 0)
    answers = [c.fields["text"] for c in bot_api.sent("answerCallbackQuery")]
    replaced = (
        f"Inte gjort: utkast {draft.id} är version 1, men version 2 (utkast {new.id}) ersatte "
        f"det; granska och godkänn utkast {new.id}"
    )
    assert answers == [replaced, replaced, "Inte gjort: utkast 999 finns inte"]
    assert world.case(outcome.reference).status == "awaiting_approval"


async def test_an_edit_from_the_chat_that_cannot_be_taken_is_answered_in_swedish(world, bot_api):
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = world.reply_draft(outcome.reference)
    settings = _settings(world, bot_api, language="sv")
    async with make_bot(settings.telegram, bot_api.token) as bot:
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
        card = next(c for c in bot_api.sent() if "reply_markup" in c.fields).message_id
        bot_api.user_says(EVA, draft.text, reply_to=card, chat_id=STAFF_CHAT)  # unchanged
        bot_api.user_says(EVA, draft.text + "\n/Eva", reply_to=card, chat_id=STAFF_CHAT)
        bot_api.user_says(EVA, draft.text + "\n/E", reply_to=card, chat_id=STAFF_CHAT)  # old
        await poll_chat_once(world.database, world.services, bot, settings, 0)
    said = [
        c.fields["text"]
        for c in bot_api.sent()
        if "reply_parameters" in c.fields or c.fields["text"].startswith("Inte gjort")
    ]
    assert said == [
        "Inte gjort: texten är oförändrad; ingen ny version",
        f"Inte gjort: utkast {draft.id} har ersatts av version 2; svara på det nyaste kortet",
    ]
    (new,) = world.drafts(outcome.reference, "reply")
    assert new.version == 2 and new.text.endswith("/Eva")


async def test_a_refusal_too_long_for_the_press_is_posted_whole_under_the_card(world, bot_api):
    """Telegram shows at most 200 characters for a press: the command staff were told to run
    was cut off mid-word ("noxbot requests tic"). Now the answer ends at a word, and the
    whole text is a reply to the card."""
    from handlers.sources_on_case import add_checklist_item

    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = world.reply_draft(outcome.reference)
    with world.database.session() as session:
        task = "search Fortnox for her invoices and her contracts of the last seven years"
        add_checklist_item(session, world.case(outcome.reference), "Fortnox", task, world.clock())
    settings = _settings(world, bot_api)
    async with make_bot(settings.telegram, bot_api.token) as bot:
        bot_api.user_presses(EVA, f"d:{draft.id}:1:a", STAFF_CHAT, message_id=55)
        await poll_chat_once(world.database, world.services, bot, settings, 0)
    [answer] = [c.fields["text"] for c in bot_api.sent("answerCallbackQuery")]
    [whole] = [c.fields for c in bot_api.sent() if c.fields.get("reply_parameters")]
    assert len(answer) <= 190 and answer.endswith("…")
    assert whole["text"].startswith(answer[:-1]) and "noxbot requests tick" in whole["text"]
    assert int(whole["chat_id"]) == STAFF_CHAT and whole["reply_parameters"]["message_id"] == 55


async def test_an_erasure_leaves_no_card_in_the_staff_chat_with_the_persons_data(world, bot_api):
    """The chat's cards are copies on Telegram's servers: once the erasure is carried out,
    every card of the person's cases is edited down to the case, the draft and the
    decision. Before, the approved erasure reply's card kept the whole text (her name, her
    address, her CV's file name)."""
    outcome = world.email("anna.lindqvist@example.se", "Radera alla mina uppgifter hos er.")
    world.press(ANNA_TELEGRAM, world.verification(outcome.reference).id, yes=True)
    settings = _settings(world, bot_api)
    async with make_bot(settings.telegram, bot_api.token) as bot:
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
        posted = [c.fields["text"] for c in bot_api.sent() if "reply_markup" in c.fields]
        assert any("Anna Lindqvist" in text for text in posted)
        world.approve(world.reply_draft(outcome.reference).id)
        await notify_staff(world.database, world.services, bot, STAFF_CHAT)
    edits = [c.fields["text"] for c in bot_api.sent("editMessageText")]
    assert edits and all("The person's data was erased" in text for text in edits)
    assert not any("Lindqvist" in text or "anna." in text for text in edits)
    assert any("✅ Approved by" in text for text in edits)
