"""`noxbot run`: the workers under one supervisor — the mail watcher, the chat poller, the
outbox sender and the scheduler — stopped cleanly by SIGINT/SIGTERM.

Each worker keeps going when its server is down: it waits with backoff and reconnects.
Each inbound message is processed and its cursor advanced in one transaction, so a crash
loses nothing and processes nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import aioimaplib
from sqlmodel import Session
from telegram import Bot
from telegram.error import TelegramError

from bot.channels.base import ChannelName, InboundMessage, OutboundChannel
from bot.channels.imap import ImapError, ImapMailbox
from bot.channels.mail import inbound_from_email
from bot.channels.smtp import SmtpChannel
from bot.channels.telegram import TelegramChannel, inbound_from_update, make_bot
from bot.config import Settings
from bot.db import Database
from bot.deadlines import stockholm_date
from bot.errors import NoxbotError
from bot.housekeeping import raise_daily_reminders, run_daily_retention
from bot.lease import POLLERS, release, try_acquire
from bot.models import ChannelCursor
from bot.outbox import deliver_due
from bot.pipeline import process_inbound, quarantine
from bot.services import Services
from bot.staff_chat import decide_in_chat, notify_staff, parse_decision
from bot.timeutil import utcnow
from bot.verifying import expire_verifications

log = logging.getLogger("noxbot")

OUTBOX_SECONDS = 5.0
SCHEDULER_SECONDS = 60.0
MAX_BACKOFF = 300.0
LEASE_TTL = timedelta(seconds=60)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def read_cursor(session: Session, name: str) -> str | None:
    row = session.get(ChannelCursor, name)
    return row.value if row else None


def write_cursor(session: Session, name: str, value: str) -> None:
    row = session.get(ChannelCursor, name) or ChannelCursor(name=name, value=value)
    row.value = value
    row.updated_at = utcnow()
    session.add(row)


async def with_backoff(
    name: str,
    stop: asyncio.Event,
    step: Callable[[], Awaitable[None]],
    transient: tuple[type[BaseException], ...],
) -> None:
    """Run `step` until stopped; a transient failure waits 1, 2, 4 … s (at most 5 min)."""
    delay = 1.0
    while not stop.is_set():
        try:
            await step()
            delay = 1.0
        except transient as exc:
            # Only the kind of error: server messages can echo addresses (personal data).
            log.warning("%s: %s; retrying in %.0f s", name, type(exc).__name__, delay)
            await sleep_or_stop(stop, delay)
            delay = min(delay * 2, MAX_BACKOFF)


def handle_inbound(
    database: Database, services: Services, inbound: InboundMessage, cursor: str, position: str
) -> None:
    """Process one message and advance the cursor in one transaction. A message that makes
    the pipeline fail is quarantined for staff instead, so one bad message never stops the
    worker or gets lost."""
    try:
        with database.session() as session:
            process_inbound(session, services, inbound)
            write_cursor(session, cursor, position)
    except Exception as exc:  # any failure: keep the message, tell staff, go on
        log.error("pipeline failed on a message (%s); quarantined for staff", type(exc).__name__)
        with database.session() as session:
            quarantine(session, inbound, exc)
            write_cursor(session, cursor, position)


# --- mail --------------------------------------------------------------------------------


async def ingest_mail(database: Database, services: Services, mailbox: ImapMailbox) -> int:
    """Process every message newer than the cursor; returns how many were read."""
    name = f"imap:{mailbox.settings.mailbox}"
    with database.session() as session:
        stored = read_cursor(session, name)
    validity, _, last = (stored or "0:0").partition(":")
    # A new UIDVALIDITY means the UIDs start over: read again from the start (Message-IDs
    # keep it from processing anything twice).
    after = int(last) if int(validity) == mailbox.uidvalidity else 0
    count = 0
    async for mail in mailbox.new_mail(after):
        inbound = inbound_from_email(
            mail.raw,
            imap_uidvalidity=mailbox.uidvalidity,
            imap_uid=mail.uid,
            received_at=mail.internal_date,
        )
        handle_inbound(database, services, inbound, name, f"{mailbox.uidvalidity}:{mail.uid}")
        count += 1
    return count


async def watch_mail(
    database: Database, services: Services, settings: Settings, stop: asyncio.Event
) -> None:
    assert settings.imap is not None
    password = settings.secret(settings.imap.password_env) or ""

    async def session_until_failure() -> None:
        mailbox = ImapMailbox(settings.imap, password)  # type: ignore[arg-type]
        try:
            await mailbox.connect()
            while not stop.is_set():
                await ingest_mail(database, services, mailbox)
                await mailbox.wait_for_mail(stop)
        finally:
            await mailbox.close()

    await with_backoff(
        "mail watcher",
        stop,
        session_until_failure,
        (ImapError, OSError, TimeoutError, aioimaplib.Abort, aioimaplib.CommandTimeout),
    )


# --- chat --------------------------------------------------------------------------------


async def poll_chat_once(
    database: Database, services: Services, bot: Bot, settings: Settings, timeout: int
) -> int:
    """One getUpdates round: each update processed with its offset in one transaction."""
    assert settings.telegram is not None
    with database.session() as session:
        offset = int(read_cursor(session, "telegram:offset") or 0)
    updates = await bot.get_updates(
        offset=offset or None, timeout=timeout, allowed_updates=["message", "callback_query"]
    )
    for update in updates:
        query = update.callback_query
        if query is not None and parse_decision(query.data or "") is not None:
            # A staff member's Approve/Reject in the staff chat, not a requester's answer.
            with database.session() as session:
                answer = decide_in_chat(session, services, query, settings.telegram.staff_user_ids)
                write_cursor(session, "telegram:offset", str(update.update_id + 1))
            with contextlib.suppress(TelegramError):
                await query.answer(answer[:190])
                if query.message is not None:
                    await bot.send_message(chat_id=query.message.chat.id, text=answer)
            continue
        inbound = inbound_from_update(update, settings.telegram.staff_chat_id)
        if inbound is None:
            with database.session() as session:
                write_cursor(session, "telegram:offset", str(update.update_id + 1))
        else:
            handle_inbound(
                database, services, inbound, "telegram:offset", str(update.update_id + 1)
            )
        if update.callback_query is not None:
            with contextlib.suppress(TelegramError):  # only stops the button's spinner
                await update.callback_query.answer()
    return len(updates)


async def poll_chat(
    database: Database, services: Services, bot: Bot, settings: Settings, stop: asyncio.Event
) -> None:
    assert settings.telegram is not None
    timeout = settings.telegram.poll_timeout_seconds

    async def step() -> None:
        await poll_chat_once(database, services, bot, settings, timeout)

    await with_backoff("chat poller", stop, step, (TelegramError, OSError, TimeoutError))


# --- outbox and scheduler ---------------------------------------------------------------


async def send_outbox(
    database: Database,
    services: Services,
    channels: dict[ChannelName, OutboundChannel],
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        await deliver_due(database, services, channels)
        await sleep_or_stop(stop, OUTBOX_SECONDS)


async def notify_staff_chat(
    database: Database, services: Services, bot: Bot, chat_id: int, stop: asyncio.Event
) -> None:
    async def step() -> None:
        await notify_staff(database, services, bot, chat_id)
        await sleep_or_stop(stop, OUTBOX_SECONDS)

    await with_backoff("staff chat", stop, step, (TelegramError, OSError, TimeoutError))


async def run_scheduler(database: Database, services: Services, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with database.session() as session:
            expire_verifications(session, services)
            today = stockholm_date(services.clock(), services.settings.organisation.timezone)
            raise_daily_reminders(session, services, today)
            run_daily_retention(session, services, today)
        await sleep_or_stop(stop, SCHEDULER_SECONDS)


# --- supervisor ----------------------------------------------------------------------------


async def run_workers(
    settings: Settings, database: Database, services: Services, stop: asyncio.Event
) -> None:
    """All configured workers in one TaskGroup until `stop` is set."""
    channels: dict[ChannelName, OutboundChannel] = {}
    async with contextlib.AsyncExitStack() as stack:
        bot: Bot | None = None
        if settings.telegram is not None:
            token = settings.secret(settings.telegram.token_env)
            if token is None:
                raise NoxbotError(
                    f"[telegram] token_env = {settings.telegram.token_env!r}: "
                    "the environment variable is not set"
                )
            bot = await stack.enter_async_context(make_bot(settings.telegram, token))
            channels[ChannelName.TELEGRAM] = TelegramChannel(bot)
        if settings.smtp is not None:
            channels[ChannelName.EMAIL] = SmtpChannel(
                settings.smtp,
                settings.secret(settings.smtp.password_env),
                settings.organisation.name,
            )
        async with asyncio.TaskGroup() as group:
            group.create_task(send_outbox(database, services, channels, stop))
            group.create_task(lead_when_elected(database, services, settings, bot, stop))


async def lead_when_elected(
    database: Database, services: Services, settings: Settings, bot: Bot | None, stop: asyncio.Event
) -> None:
    """The pollers and the scheduler run in one instance only: the holder of the lease.

    Every instance sends from the outbox; this one waits for the lease, runs the pollers
    while it renews it, and stands down (and waits again) if it ever loses it.
    """
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    try:
        while not stop.is_set():
            with database.session() as session:
                elected = try_acquire(session, POLLERS, holder, LEASE_TTL, services.clock())
            if not elected:
                await sleep_or_stop(stop, LEASE_TTL.total_seconds() / 3)
                continue
            log.info("holding the pollers' lease")
            stand_down = asyncio.Event()
            async with asyncio.TaskGroup() as group:
                group.create_task(_keep_lease(database, services, holder, stop, stand_down))
                group.create_task(run_scheduler(database, services, stand_down))
                if settings.imap is not None:
                    group.create_task(watch_mail(database, services, settings, stand_down))
                if bot is not None:
                    group.create_task(poll_chat(database, services, bot, settings, stand_down))
                if bot is not None and settings.telegram and settings.telegram.staff_chat_id:
                    group.create_task(
                        notify_staff_chat(
                            database, services, bot, settings.telegram.staff_chat_id, stand_down
                        )
                    )
    finally:
        with database.session() as session:
            release(session, POLLERS, holder)


async def _keep_lease(
    database: Database,
    services: Services,
    holder: str,
    stop: asyncio.Event,
    stand_down: asyncio.Event,
) -> None:
    while not stop.is_set():
        await sleep_or_stop(stop, LEASE_TTL.total_seconds() / 3)
        if stop.is_set():
            break
        with database.session() as session:
            if not try_acquire(session, POLLERS, holder, LEASE_TTL, services.clock()):
                log.warning("lost the pollers' lease; standing down")
                break
    stand_down.set()


def run_until_signalled(settings: Settings, database: Database, services: Services) -> None:
    """`noxbot run`: the workers until SIGINT or SIGTERM, then a clean stop."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_workers(settings, database, services, stop)

    asyncio.run(main())
