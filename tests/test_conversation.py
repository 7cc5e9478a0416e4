"""The conversation as a requester sees it in Telegram: an acknowledgement at once (the same
words whether or not they are on file), and /start or /help saying what the bot is for."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from bot.channels.telegram import TelegramChannel, make_bot
from bot.config import TelegramSettings, VerificationSettings
from bot.rules.channels import ChannelName
from bot.runtime.chat_poller import poll_chat_once
from bot.store.tables import AuditEvent
from bot.workflow.sending import deliver_due
from tests.fake_bot_api import FakeBotApi
from tests.workflow_kit import ANNA_EMAIL, ANNA_TELEGRAM, JOHN_EMAIL, JOHN_TELEGRAM, make_world

STRANGER = 9990001


@pytest.fixture
async def bot_api():
    api = FakeBotApi()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
def talk(tmp_path):
    return make_world(tmp_path, verification=VerificationSettings(acknowledge_at_once=True))


async def _round(world, api):
    """One getUpdates round, then whatever is due goes out through the Bot API."""
    settings = world.services.settings.model_copy(
        update={"telegram": TelegramSettings(base_url=api.base_url)}
    )
    async with make_bot(settings.telegram, api.token) as bot:
        await poll_chat_once(world.database, world.services, bot, settings, 0)
        await deliver_due(
            world.database, world.services, {ChannelName.TELEGRAM: TelegramChannel(bot)}
        )


def _texts_to(api, chat_id):
    return [c.fields["text"] for c in api.sent() if int(c.fields["chat_id"]) == chat_id]


async def test_a_request_is_acknowledged_at_once_with_the_same_words_for_everyone(talk, bot_api):
    bot_api.user_says(int(JOHN_TELEGRAM), "Please delete all my personal data")
    bot_api.user_says(STRANGER, "Please delete all my personal data")
    await _round(talk, bot_api)
    known, unknown = _texts_to(bot_api, int(JOHN_TELEGRAM)), _texts_to(bot_api, STRANGER)
    assert len(known) == len(unknown) == 1  # no approval waited for
    references = [c.reference for c in talk.cases()]
    assert known[0].replace(references[0], "REF") == unknown[0].replace(references[1], "REF")
    assert references[0] in known[0] and "User" not in known[0]  # not even the chat name
    for phrase in ("on file", "we hold no", "your address", "sent a code", "john"):
        assert phrase not in known[0].lower()
    assert "contact channel" in known[0]
    # Nothing waits for staff: the acknowledgement is not a draft to approve.
    assert talk.drafts(references[0], "acknowledgment", status=None)[0].status == "approved"


async def test_start_and_help_say_what_the_bot_is_for_and_open_no_case(talk, bot_api):
    bot_api.user_says(STRANGER, "/start")
    bot_api.user_says(STRANGER, "/help@nox_test_bot")
    await _round(talk, bot_api)
    answers = _texts_to(bot_api, STRANGER)
    assert len(answers) == 2 and answers[0] == answers[1]
    assert "personuppgifter" in answers[0] and "personal data" in answers[0]
    assert talk.cases() == []


async def test_with_acknowledgements_waiting_for_staff_nothing_goes_out_at_once(tmp_path, bot_api):
    world = make_world(tmp_path)  # acknowledge_at_once = false
    bot_api.user_says(STRANGER, "Please delete all my personal data")
    await _round(world, bot_api)
    assert _texts_to(bot_api, STRANGER) == []
    reference = world.cases()[0].reference
    assert world.drafts(reference, "acknowledgment")[0].status == "awaiting_approval"


async def test_a_confirmation_press_is_answered_on_the_spot_and_its_buttons_go(talk, bot_api):
    outcome = talk.email(ANNA_EMAIL, "Hej, radera alla mina personuppgifter.")
    verification = talk.verification(outcome.reference)
    assert verification.method == "telegram_confirm"
    bot_api.user_presses(int(JOHN_TELEGRAM), f"v:{verification.id}:y", message_id=77, text="?")
    bot_api.user_presses(
        int(ANNA_TELEGRAM), f"v:{verification.id}:y", message_id=78, text="Var det du?"
    )
    await _round(talk, bot_api)
    answers = [c.fields["text"] for c in bot_api.sent("answerCallbackQuery")]
    assert answers == ["This button does nothing here.", "Tack! Det är bekräftat."]
    (edit,) = [c for c in bot_api.calls if c.method == "editMessageText"]  # Anna's only
    assert int(edit.fields["message_id"]) == 78 and int(edit.fields["chat_id"]) == 5550001
    assert edit.fields["text"] == "Var det du?\n\nTack! Det är bekräftat."
    assert "reply_markup" not in edit.fields
    assert talk.case(outcome.reference).status == "awaiting_approval"


async def test_a_long_reply_on_telegram_is_a_short_message_and_the_full_text_as_a_file(
    talk, bot_api
):
    from bot.workflow.approval import approve_draft, edit_draft

    outcome = talk.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    draft = talk.reply_draft(outcome.reference)
    long_text = draft.text + "".join(f"\n\nStycke {i}: " + "text " * 60 for i in range(20))
    with talk.database.session() as session:
        new = edit_draft(session, talk.services, draft.id, long_text, actor="staff:eva")
        approve_draft(session, talk.services, new.id, actor="staff:eva")
    await _round(talk, bot_api)
    (short,) = _texts_to(bot_api, int(ANNA_TELEGRAM))
    assert len(short) < 1200 and short.startswith(draft.text.split("\n\n")[0])
    assert f"Hela svaret finns i den bifogade filen {outcome.reference}.txt." in short
    (document,) = bot_api.sent("sendDocument")
    assert document.files[f"{outcome.reference}.txt"].decode() == long_text


async def test_a_mailed_request_is_acknowledged_by_mail_as_an_automatic_answer(talk):
    stranger = talk.email("stranger@example.org", "Please delete all personal data about me.")
    known = talk.email("john.carter@example.com", "Please delete all personal data about me.")
    sent = await talk.deliver()
    acks = {m.address: m for m in sent if "received your request" in m.text}
    assert set(acks) == {"stranger@example.org", "john.carter@example.com"}
    for ack in acks.values():  # RFC 3834: an autoresponder does not answer it
        assert ("Auto-Submitted", "auto-generated") in ack.extra_headers
    assert acks["stranger@example.org"].text.replace(stranger.reference, "REF") == acks[
        "john.carter@example.com"
    ].text.replace(known.reference, "REF")


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_codes_after_too_many_wrong_ones_get_the_answers_a_strangers_codes_get(talk, bot_api):
    bot_api.user_says(int(JOHN_TELEGRAM), "Please delete all my personal data")
    bot_api.user_says(STRANGER, "Please delete all my personal data")
    await _round(talk, bot_api)
    await talk.deliver()  # John's code goes to his address on file
    wrong = _wrong(talk.code_mailed_to(JOHN_EMAIL))
    for _ in range(7):  # the limit is 5: two more after John's check has failed
        bot_api.user_says(int(JOHN_TELEGRAM), wrong)
        bot_api.user_says(STRANGER, wrong)
        await _round(talk, bot_api)
    john, stranger = (c.reference for c in talk.cases())
    assert talk.verification(john).status == "failed"
    known = [t.replace(john, "REF") for t in _texts_to(bot_api, int(JOHN_TELEGRAM))]
    unknown = [t.replace(stranger, "REF") for t in _texts_to(bot_api, STRANGER)]
    # The acknowledgement, four "did not match", one "too many times"; the last two codes
    # are recorded, not answered (a forged flood of codes is answered five times at most).
    assert known == unknown and len(known) == 6
    assert known[1:5] == ["The code did not match. Please check it and try again.\n"] * 4
    assert "too many times" in known[5]


async def test_codes_mailed_by_someone_on_file_get_the_answers_a_strangers_codes_get(talk):
    # Anna is asked on Telegram, so any code she mails answers no challenge; a stranger's
    # mailed codes neither: both are counted alike, and "too many" comes at the same point.
    known = talk.email(ANNA_EMAIL, "Please delete all personal data about me.")
    unknown = talk.email("stranger@example.org", "Please delete all personal data about me.")
    await talk.deliver()
    answers: dict[str, list[tuple[str, str]]] = {ANNA_EMAIL: [], "stranger@example.org": []}
    for _ in range(7):
        for address, outcome in ((ANNA_EMAIL, known), ("stranger@example.org", unknown)):
            talk.email(address, "123456", f"Re: [{outcome.reference}]")
            answers[address] += [
                (m.subject.replace(outcome.reference, "R"), m.text.replace(outcome.reference, "R"))
                for m in await talk.deliver()
                if m.address == address
            ]
    assert answers[ANNA_EMAIL] == answers["stranger@example.org"]
    assert len(answers[ANNA_EMAIL]) == 5  # the sixth and seventh codes get no answer
    assert "did not match" in answers[ANNA_EMAIL][3][1]
    assert "too many times" in answers[ANNA_EMAIL][4][1]


async def test_a_flood_of_requests_in_someones_name_sends_them_one_acknowledgement_a_day(talk):
    subjects = ["Radera mig", "Registerutdrag", "Sluta skicka reklam", "Radera allt", "Kopia"]
    texts = [
        "Radera alla mina uppgifter.",
        "Jag vill ha ett registerutdrag.",
        "Sluta skicka nyhetsbrev till mig.",
        "Ta bort mitt CV och min profil.",
        "Skicka en kopia av mina personuppgifter.",
    ]
    cases = [
        talk.email("victim@example.org", text, subject)
        for text, subject in zip(texts, subjects, strict=True)
    ]
    assert len({c.reference for c in cases}) == 5  # five cases, all opened
    sent = await talk.deliver()
    assert [
        m.address for m in sent if "received your request" in m.text or "tagit emot" in m.text
    ] == ["victim@example.org"]
    talk.clock.advance(days=1, minutes=1)  # a day later, the next one is answered at once again
    talk.email("victim@example.org", "Radera mina uppgifter nu.", "Igen")
    again = await talk.deliver()
    assert [m.address for m in again] == ["victim@example.org"]


def test_the_short_chat_message_of_a_long_reply_does_not_end_on_a_heading():
    """Before, the opening lines of John's access reply ended on "Our consultant register"
    with nothing under it, then "The full answer is in the attached file"."""
    from types import SimpleNamespace

    from bot.workflow.approval import _as_document

    text = (
        "Hello John,\n\nHere is our answer to your request (reference DSR-2026-0002). "
        + " ".join(["We have gone through every system where your data may be."] * 11)
        + "\n\nOur consultant register\n\nName: John Carter\nCompany: Carter PM Ltd\n"
        + "Competences: "
        + ", ".join(["project management"] * 12)
        + "\n\n"
        + "More. " * 200
    )
    case = SimpleNamespace(reference="DSR-2026-0002")
    draft = SimpleNamespace(text=text, language="en")
    short, [full] = _as_document(case, draft, [])  # type: ignore[arg-type]
    opening = short.split("\n\nThe full answer is in the attached file")[0]
    assert opening.endswith("may be.") and "Our consultant register" not in short
    assert full.data().decode() == text


async def test_an_acknowledgment_held_by_the_one_a_day_limit_says_so_where_the_case_waits(
    talk, tmp_path, monkeypatch
):
    """Before, the second request's acknowledgment waited in `drafts list` while `requests
    show` and the console said only "the requester: answer the verification challenge":
    nothing said it was held back by the one-a-day limit, nor that it goes only if staff
    approve it (DPO review)."""
    from bot.workflow.views import case_waits_on
    from tests.cli_kit import run_json
    from tests.web_kit import console_client

    talk.email("victim@example.org", "Radera alla mina uppgifter.", "Radera mig")
    second = talk.email("victim@example.org", "Jag vill ha ett registerutdrag.", "Utdrag")
    [held] = talk.drafts(second.reference, "acknowledgment")
    assert held.status == "awaiting_approval"
    limit = f"the acknowledgment (draft {held.id}) is held by the one-a-day limit"
    with talk.session() as session:
        said = case_waits_on(session, talk.services, talk.case(second.reference))
    assert limit in said and f"noxbot drafts approve {held.id}" in said
    assert "it is withdrawn unsent when the case moves on" in said
    config = tmp_path / "cli.toml"
    config.write_text(f'[database]\nurl = "{talk.database.engine.url}"\n')
    monkeypatch.setenv("NOXBOT_CONFIG", str(config))
    assert limit in run_json("requests", "show", second.reference)["waiting_on"]
    [listed] = [d for d in run_json("drafts", "list") if d["id"] == held.id]
    assert listed["status_words"] == (
        "to approve (held by the one-a-day limit: goes only if approved)"
    )
    async with console_client(talk) as (http, _):
        page = (await http.get(f"/cases/{second.reference}")).text
        assert limit in page and "approve it to send it now (on the case page)" in page
        assert limit in (await http.get("/")).text
    talk.approve(held.id)  # sent: nothing is held any more
    with talk.session() as session:
        assert "one-a-day" not in case_waits_on(session, talk.services, talk.case(second.reference))


async def test_a_flood_of_requests_in_someones_name_asks_them_was_it_you_three_times_not_twelve(
    tmp_path,
):
    """Before, twelve forged mails 'from' Anna put twelve "Was it you?" questions with Yes
    buttons on her Telegram at once (a tired "yes" to any of them, and a forged erasure goes
    to staff as confirmed). Now at most three wait for her; the other cases wait for staff,
    who can still send one, and once she has answered a new request is asked about again."""
    from bot.workflow.linking import send_new_challenge

    world = make_world(tmp_path)
    texts = ["Radera alla mina uppgifter.", "Jag vill ha ett registerutdrag."]
    cases = [world.email(ANNA_EMAIL, f"{texts[i % 2]} ({i})", f"Begäran {i}") for i in range(12)]
    sent = await world.deliver()
    questions = [m for m in sent if m.address == ANNA_TELEGRAM and m.buttons]
    assert len(questions) == 3
    held = [world.case(c.reference) for c in cases[3:]]
    assert {c.status for c in held} == {"unverified"}
    alert = next(a for a in world.alerts("unverified") if a.request_id == held[0].id)
    assert "wait for an answer already" in alert.text
    assert f"noxbot requests challenge {held[0].reference}" in alert.text
    # Its history says why no question went, not that she has no contact point on file.
    with world.session() as session:
        [why] = session.exec(
            select(AuditEvent.detail).where(
                AuditEvent.request_id == held[0].id, AuditEvent.to_state == "unverified"
            )
        )
    assert why == (
        "3 challenges to the contact point on file wait for an answer already; no further one sent"
    )
    # Staff decide: a challenge they send goes, limit or not.
    with world.database.session() as session:
        send_new_challenge(session, world.services, held[0].reference, actor="staff:eva")
    assert [m.address for m in await world.deliver()] == [ANNA_TELEGRAM]
    # Anna says no to the questions she got: the next request is asked about again.
    for case in cases[:3]:
        world.press(ANNA_TELEGRAM, world.verification(case.reference).id, yes=False)
    await world.deliver()
    later = world.email(ANNA_EMAIL, "Radera alla mina uppgifter.", "Igen")
    assert world.case(later.reference).status == "awaiting_verification"
    assert [m.address for m in await world.deliver() if m.buttons] == [ANNA_TELEGRAM]


async def test_forged_codes_in_someones_name_get_one_too_many_times_then_no_more_mail(talk):
    """Before, every forged "123456" from a victim's address (a case opened in their name)
    made noxbot mail them "The code was entered wrongly too many times", unapproved and
    without end: forty codes, forty mails. Now the fifth wrong code gets that answer once,
    and the rest are recorded for staff only."""
    opened = talk.email("victim@example.org", "Please delete all personal data about me.")
    await talk.deliver()  # the acknowledgement
    for _ in range(40):
        talk.email("victim@example.org", "123456", f"Re: [{opened.reference}]")
    answers = [m.text for m in await talk.deliver() if m.address == "victim@example.org"]
    assert len(answers) == 5
    assert "too many times" in answers[-1]
    with talk.session() as session:
        counted = session.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "verification_wrong_code")
        ).one()
    assert counted == 40  # every code is still on the case's record
