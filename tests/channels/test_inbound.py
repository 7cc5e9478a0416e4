"""The mail watcher against a real Dovecot and the chat poller against a local Bot API."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import exc as sa_exc
from sqlmodel import select

from bot.channels.imap import ImapMailbox
from bot.channels.telegram import make_bot
from bot.config import ImapSettings, TelegramSettings
from bot.runtime.chat_poller import poll_chat_once
from bot.runtime.mail_reader import MailReader
from bot.runtime.mail_watcher import ingest_mail
from bot.store.tables import ChannelCursor, Message, Request
from tests import dovecot
from tests.fake_bot_api import FakeBotApi
from tests.workflow_kit import make_world, world_refused_inserts_into

ANNA = "anna.lindqvist@example.se"
ERASE = "Jag vill att ni raderar alla mina personuppgifter."


def _mail(i: int, sender: str, subject: str, body: str, extra: str = "") -> bytes:
    return (
        f"From: {sender}\r\nTo: info@noxconsulting.se\r\nSubject: {subject}\r\n"
        f"Message-ID: <w{i}@example.se>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
        f"{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


# When the server received the mail (IMAP INTERNALDATE): the case's received_at, and so its
# due date, comes from here, not from the clock of the machine running the test.
ARRIVED = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)


async def _append(
    server, mails: list[bytes], mailbox: str, arrived: datetime = ARRIVED, *, renew: bool = False
) -> None:
    """Deliver mail into a mailbox (created, or with `renew` deleted and created again —
    which gives it a new UIDVALIDITY, as a server migration does)."""
    import aioimaplib

    client = aioimaplib.IMAP4(host="127.0.0.1", port=server.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(dovecot.USER, dovecot.PASSWORD)
    if renew:
        await client.delete(mailbox)
    if mailbox != "INBOX":
        await client.create(mailbox)
    for raw in mails:
        assert (await client.append(raw, mailbox=mailbox, date=arrived)).result == "OK"
    await client.logout()


def _mailbox(server, name: str) -> ImapMailbox:
    settings = ImapSettings(
        host="127.0.0.1", port=server.port, tls="none", username=dovecot.USER, mailbox=name
    )
    return ImapMailbox(settings, dovecot.PASSWORD)


async def _ingest(world, server, name: str) -> tuple[int, int]:
    """Read the mailbox once; returns (messages read, its UIDVALIDITY)."""
    mailbox = _mailbox(server, name)
    await mailbox.connect()
    try:
        return await ingest_mail(world.database, world.services, mailbox), mailbox.uidvalidity
    finally:
        await mailbox.close()


async def _flags(server, mailbox: str) -> list[bytes]:
    import aioimaplib

    client = aioimaplib.IMAP4(host="127.0.0.1", port=server.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(dovecot.USER, dovecot.PASSWORD)
    await client.select(mailbox)
    response = await client.uid("fetch", "1:*", "(FLAGS)")
    await client.logout()
    return [bytes(line) for line in response.lines[:-1]]


async def test_new_mail_is_read_once_and_left_unread(imap_server, tmp_path):
    mailbox_name = "Test1"
    await _append(
        imap_server,
        [
            _mail(
                1,
                "anna.lindqvist@example.se",
                "Radera mig",
                "Jag vill att ni raderar alla mina personuppgifter.",
            ),
            _mail(2, "kund@example.com", "Uppdrag", "Har ni en Java-konsult i mars?"),
            _mail(
                3,
                "ola@example.se",
                "Autosvar",
                "Jag är på semester.",
                "Auto-Submitted: auto-replied\r\n",
            ),
        ],
        mailbox_name,
    )
    world = make_world(tmp_path)
    read, validity = await _ingest(world, imap_server, mailbox_name)
    assert read == 3
    assert (await _ingest(world, imap_server, mailbox_name))[0] == 0
    with world.session() as session:
        states = [m.state for m in session.exec(select(Message).order_by(Message.id))]
        case = session.exec(select(Request)).one()
        cursor = session.get(ChannelCursor, f"imap:{mailbox_name}")
    assert states == ["request", "not_a_request", "automated"]
    assert case.kinds == ["erasure"]
    assert case.received_at == ARRIVED and case.due_date == date(2026, 12, 24)
    assert cursor.value == f"{validity}:3"
    assert all(b"\\Seen" not in line for line in await _flags(imap_server, mailbox_name))


async def test_a_large_mailbox_is_fetched_in_batches(imap_server, tmp_path):
    mailbox_name = "Big"
    await _append(
        imap_server,
        [_mail(100 + i, f"k{i}@example.com", "Hej", "Hej!") for i in range(230)],
        mailbox_name,
    )
    world = make_world(tmp_path)
    assert (await _ingest(world, imap_server, mailbox_name))[0] == 230


async def test_a_batch_of_mail_is_fetched_whole_in_bounded_memory(imap_server):
    """100 mails of ~3 KiB and some of 40-100 KiB (longer than a parse slice, lines
    crossing slice boundaries) come back byte for byte, and the fetch holds well under
    what aioimaplib alone took (~30 MiB for the 100: it recursed once per line, each level
    keeping the rest of a 256 KiB read)."""
    import tracemalloc

    filler = "Hej, vi återkommer om leveransdatum för projektet och tidplanen.\r\n"
    sent = [_mail(500 + i, f"k{i}@example.com", f"Offert {i}", filler * 50) for i in range(100)]
    sent += [_mail(700 + i, "big@example.com", "Bilaga", filler * 600 * i) for i in (1, 2)]
    await _append(imap_server, sent, "Slices")
    mailbox = _mailbox(imap_server, "Slices")
    await mailbox.connect()
    try:
        tracemalloc.start()
        fetched = [mail async for mail in mailbox.new_mail(0)]
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        await mailbox.close()
    assert [m.raw.replace(b"\r\n", b"\n") for m in fetched] == [
        raw.replace(b"\r\n", b"\n") for raw in sent
    ]
    assert peak < 5 * 1024 * 1024, peak


async def test_on_the_first_start_only_recent_mail_is_read(imap_server, tmp_path):
    old = datetime(2023, 3, 6, 9, tzinfo=UTC)
    await _append(
        imap_server, [_mail(301, ANNA, "Radera mig", ERASE)], "Backlog", old
    )  # handled by hand in 2023
    await _append(imap_server, [_mail(302, "kund@example.com", "Hej", "Hej!")], "Backlog2")
    world = make_world(tmp_path)  # its clock says 2026-11-24: backlog_days = 7 reach 11-17
    assert (await _ingest(world, imap_server, "Backlog"))[0] == 0
    assert (await _ingest(world, imap_server, "Backlog2"))[0] == 1
    with world.session() as session:
        assert session.exec(select(Request)).all() == []


async def test_a_renumbered_mailbox_is_not_read_as_new_mail(imap_server, tmp_path):
    first = [
        _mail(401, ANNA, "Radera mig", ERASE),
        _mail(402, "kund@example.com", "Hej", "Har ni en konsult?"),
    ]
    await _append(imap_server, first, "Moved")
    world = make_world(tmp_path)
    read, validity = await _ingest(world, imap_server, "Moved")
    assert read == 2
    # The server is migrated: same mail, new UIDVALIDITY, and one new message.
    await _append(
        imap_server, [*first, _mail(403, "ny@example.com", "Hej", "Hej!")], "Moved", renew=True
    )
    read_again, new_validity = await _ingest(world, imap_server, "Moved")
    assert new_validity != validity and read_again == 3
    with world.session() as session:
        assert len(session.exec(select(Request)).all()) == 1
        assert len(session.exec(select(Message)).all()) == 3


async def test_wrong_password_is_refused_clearly(imap_server):
    from bot.channels.imap import ImapError

    settings = ImapSettings(
        host="127.0.0.1", port=imap_server.port, tls="none", username=dovecot.USER
    )
    mailbox = ImapMailbox(settings, "wrong")
    with pytest.raises(ImapError, match="login as info"):
        await mailbox.connect()
    await mailbox.close()


@pytest.fixture
async def bot_api():
    api = FakeBotApi()
    await api.start()
    yield api
    await api.stop()


async def test_chat_messages_and_button_presses_are_polled_once(bot_api, tmp_path):
    world = make_world(tmp_path)
    settings = world.services.settings.model_copy(
        update={"telegram": TelegramSettings(base_url=bot_api.base_url)}
    )
    bot_api.user_says(5550002, "Please delete all my personal data")
    bot_api.user_says(5550003, "hej, när börjar uppdraget?")
    async with make_bot(settings.telegram, bot_api.token) as bot:
        assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 2
        assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 0
        with world.session() as session:
            case = session.exec(select(Request)).one()
        assert case.channel == "telegram" and case.requester_address == "5550002"
        assert case.status == "awaiting_verification"
        await world.deliver()
        code = world.code_mailed_to("john.carter@example.com")
        bot_api.user_says(5550002, code)
        assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 1
    assert world.case(case.reference).status == "awaiting_approval"
    with world.session() as session:
        assert session.get(ChannelCursor, "telegram:offset").value == "4"


async def test_an_update_the_library_cannot_read_is_kept_for_staff_and_the_chat_goes_on(
    bot_api, tmp_path, caplog
):
    """A Telegram update python-telegram-bot cannot read (here a date out of range) failed
    the whole getUpdates every poll: the chat stopped at it for good, and the library logged
    it whole at CRITICAL, text and name. Now it alone is kept for staff, as its JSON."""
    import logging

    caplog.set_level(logging.DEBUG)
    world = make_world(tmp_path)
    settings = world.services.settings.model_copy(
        update={"telegram": TelegramSettings(base_url=bot_api.base_url)}
    )
    bot_api.user_sends(5550009, {"text": "Radera allt om mig, Anna Lindqvist"})
    bot_api.updates[-1]["message"]["date"] = 10**20  # no such time
    bot_api.user_says(5550002, "Please delete all my personal data")
    bot_api.user_presses(5550007, "v:1:y")  # a press the library cannot read either
    bot_api.updates[-1]["callback_query"]["message"]["date"] = 10**20
    async with make_bot(settings.telegram, bot_api.token) as bot:
        assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 3
        assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 0
    with world.session() as session:
        kept = session.exec(select(Message).where(Message.address == "5550009")).one()
        read = session.exec(select(Message).where(Message.address == "5550002")).one()
        press = session.exec(select(Message).where(Message.address == "5550007")).one()
        assert session.get(ChannelCursor, "telegram:offset").value == "4"
    assert press.state == "malformed"  # kept, not done; its button stops spinning
    assert [c.fields["callback_query_id"] for c in bot_api.sent("answerCallbackQuery")] == ["cb3"]
    assert kept.state == "malformed"
    assert kept.state_reason == "the chat update could not be read (OverflowError)"
    assert b"Radera allt om mig, Anna Lindqvist" in (kept.raw or b"")
    assert read.state != "malformed" and read.request_id is not None
    logged = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "chat poller: an update could not be read (OverflowError); kept for staff" in logged
    assert "Anna" not in logged and "Radera" not in logged


async def test_a_chat_request_the_database_will_not_store_is_polled_again_not_skipped(
    bot_api, tmp_path, postgres_url
):
    """A request that fails for want of a table permission (every request would alike) was
    skipped: the offset moved past it and the message was gone. Now the poll fails, the
    offset stays, and once the permission is back the request is read."""
    world, given_back = world_refused_inserts_into(tmp_path, postgres_url, "request")
    settings = world.services.settings.model_copy(
        update={"telegram": TelegramSettings(base_url=bot_api.base_url)}
    )
    bot_api.user_says(5550002, "Please delete all my personal data")
    async with make_bot(settings.telegram, bot_api.token) as bot:
        with pytest.raises(sa_exc.ProgrammingError):
            await poll_chat_once(world.database, world.services, bot, settings, 0)
        with world.session() as session:
            assert session.get(ChannelCursor, "telegram:offset") is None
        given_back()
        assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 1
    with world.session() as session:
        case = session.exec(select(Request)).one()
        assert session.get(ChannelCursor, "telegram:offset").value == "2"
    assert case.requester_address == "5550002"
    world.database.dispose()


def test_an_unreadable_update_under_an_old_updates_id_is_kept_too(tmp_path):
    """Telegram numbers updates afresh, at random, after a week without any: an unreadable
    update given the id of one kept long ago is another message, not a duplicate of it.
    The same update handed in twice (polled again after a crash) is still kept once."""
    from bot.channels.telegram import UnreadableUpdate, unreadable_inbound

    world = make_world(tmp_path)
    first = UnreadableUpdate(41, b'{"update_id": 41, "message": {"text": "Radera mig"}}', "E")
    later = UnreadableUpdate(41, b'{"update_id": 41, "message": {"text": "Hej igen"}}', "E")
    for update in (first, later, first):
        world.receive(unreadable_inbound(update))
    with world.session() as session:
        kept = session.exec(select(Message.raw).order_by(Message.id)).all()
    assert kept == [first.raw, later.raw]


async def test_a_button_press_is_answered_and_verifies(bot_api, tmp_path):
    world = make_world(tmp_path)
    settings = world.services.settings.model_copy(
        update={"telegram": TelegramSettings(base_url=bot_api.base_url)}
    )
    outcome = world.email("anna.lindqvist@example.se", "Radera alla mina personuppgifter.")
    verification = world.verification(outcome.reference)
    bot_api.user_presses(5550001, f"v:{verification.id}:y")
    async with make_bot(settings.telegram, bot_api.token) as bot:
        await poll_chat_once(world.database, world.services, bot, settings, 0)
    assert world.case(outcome.reference).status == "awaiting_approval"
    assert len(bot_api.sent("answerCallbackQuery")) == 1  # the button stops spinning


async def test_a_photo_without_text_is_kept_and_joins_the_open_case(bot_api, tmp_path):
    world = make_world(tmp_path)
    settings = world.services.settings.model_copy(
        update={"telegram": TelegramSettings(base_url=bot_api.base_url)}
    )
    bot_api.user_says(5550002, "Please delete all my personal data")
    photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
    bot_api.user_sends(5550002, {"photo": photo})
    async with make_bot(settings.telegram, bot_api.token) as bot:
        assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 2
    with world.session() as session:
        messages = session.exec(select(Message).order_by(Message.id)).all()
    assert [m.state for m in messages] == ["request", "thread"]
    assert messages[1].text == "(a photo, not downloaded)"
    assert [a.kind for a in world.alerts("new_message")] == ["new_message"]


async def test_a_stop_does_not_wait_for_a_long_poll_to_end(bot_api, tmp_path):
    import asyncio
    import time

    world = make_world(tmp_path)
    settings = world.services.settings.model_copy(
        update={"telegram": TelegramSettings(base_url=bot_api.base_url)}
    )
    bot_api.hold_polls = 20
    stop = asyncio.Event()
    async with make_bot(settings.telegram, bot_api.token) as bot:
        asyncio.get_running_loop().call_later(0.3, stop.set)
        started = time.monotonic()
        assert await poll_chat_once(world.database, world.services, bot, settings, 25, stop) == 0
        assert time.monotonic() - started < 5


async def test_a_stop_during_a_long_backlog_ends_after_the_mail_in_hand(imap_server, tmp_path):
    import asyncio

    await _append(
        imap_server, [_mail(500 + i, "k@example.com", "Hej", "Hej!") for i in range(20)], "Backlog3"
    )
    world = make_world(tmp_path)
    mailbox = _mailbox(imap_server, "Backlog3")
    await mailbox.connect()
    stop = asyncio.Event()
    stop.set()
    try:
        assert await ingest_mail(world.database, world.services, mailbox, stop) == 1
        assert await ingest_mail(world.database, world.services, mailbox) == 19  # the rest waited
    finally:
        await mailbox.close()


# --- one crafted mail cannot stop the watcher ----------------------------------------------


async def _ingest_with(world, server, name: str, reader, stop=None) -> int:
    mailbox = _mailbox(server, name)
    await mailbox.connect()
    try:
        return await ingest_mail(world.database, world.services, mailbox, stop, reader)
    finally:
        await mailbox.close()


def _messages(world) -> list[Message]:
    with world.session() as session:
        return list(session.exec(select(Message).order_by(Message.id)))


#: About two seconds to read on this machine.
SLOW_BODY = "Vi har gått igenom offerten och återkommer om leveransdatum.\r\n" * 80_000


async def test_a_mail_of_one_huge_word_is_read_and_so_is_the_next(imap_server, tmp_path):
    await _append(
        imap_server,
        [
            _mail(701, ANNA, "Radera mig", ERASE),
            _mail(702, "kund@example.com", "Hej", "a" * 1_000_000),
            _mail(703, "ola@example.se", "Radera", "Radera allt ni har om mig."),
        ],
        "Huge1",
    )
    world = make_world(tmp_path)
    reader = MailReader(world.services.settings.classifier.budget_seconds)
    started = time.monotonic()
    try:
        assert await _ingest_with(world, imap_server, "Huge1", reader) == 3
    finally:
        reader.close()
    assert time.monotonic() - started < 5  # it hung for good before
    messages = _messages(world)
    assert [m.state for m in messages] == ["request", "not_a_request", "request"]
    assert len(messages[1].text) == 1_000_000
    with world.session() as session:
        assert session.get(ChannelCursor, "imap:Huge1").value.endswith(":3")


async def test_a_mail_that_takes_longer_than_the_budget_is_kept_for_staff(imap_server, tmp_path):
    slow = _mail(712, "kund@example.com", "Offert", SLOW_BODY)
    await _append(
        imap_server,
        [_mail(711, ANNA, "Radera mig", ERASE), slow, _mail(713, "ola@example.se", "Hej", ERASE)],
        "Slow1",
    )
    world = make_world(tmp_path)
    # Reading these 5 MB takes about half a second now: a budget it cannot meet stands in for
    # a mail that is slow to read (the two small mails are read in the watcher's process).
    reader = MailReader(0.05)
    try:
        assert await _ingest_with(world, imap_server, "Slow1", reader) == 3
    finally:
        reader.close()
    first, kept, last = _messages(world)
    assert (first.state, kept.state, last.state) == ("request", "malformed", "request")
    assert kept.state_reason == "reading it took longer than 0.05 s"
    assert kept.raw == slow and kept.imap_uid == 2
    [alert] = world.alerts("malformed")
    assert alert.message_id == kept.id and "took longer than 0.05 s" in alert.text
    with world.session() as session:
        assert session.get(ChannelCursor, "imap:Slow1").value.endswith(":3")


async def test_a_stop_while_a_large_mail_is_read_is_honoured_at_once(imap_server, tmp_path):
    await _append(
        imap_server,
        [_mail(721, "kund@example.com", "Offert", SLOW_BODY * 3), _mail(722, ANNA, "Hej", ERASE)],
        "Slow2",
    )
    world = make_world(tmp_path)
    reader = MailReader(30)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.5, stop.set)
    started = time.monotonic()
    try:
        # Nothing is read after the stop, and the mail in hand is left for next time.
        assert await _ingest_with(world, imap_server, "Slow2", reader, stop) == 0
        assert time.monotonic() - started < 2.5  # fetching and reading it take longer
        assert _messages(world) == []
        reader.budget_seconds = 0.05  # next time (here, not to wait for it)
        assert await _ingest_with(world, imap_server, "Slow2", reader) == 2
    finally:
        reader.close()
    assert [m.state for m in _messages(world)] == ["malformed", "request"]
