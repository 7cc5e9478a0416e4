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
from datetime import datetime, timedelta
from typing import TypeVar

import aioimaplib
from sqlmodel import Session
from telegram import Bot, CallbackQuery, Update
from telegram.error import TelegramError

from bot.channels.imap import ImapError, ImapMailbox
from bot.channels.messages import InboundMessage, OutboundChannel
from bot.channels.telegram import inbound_from_update
from bot.config import Settings, TelegramSettings
from bot.reading.classifier import Classification
from bot.reading.safe_text import printable
from bot.rules.channels import ChannelName
from bot.rules.deadlines import stockholm_date
from bot.runtime.lease import POLLERS, release, try_acquire
from bot.runtime.mail_reader import MailReader, Position, read_mail
from bot.runtime.senders import open_channels
from bot.runtime.staff_chat import notify_staff
from bot.store.database import TRANSIENT_DB_ERRORS, Database, is_transient
from bot.store.tables import ChannelCursor
from bot.workflow.confirming import expire_verifications
from bot.workflow.housekeeping import raise_daily_reminders, run_daily_retention
from bot.workflow.pipeline import process_inbound, quarantine
from bot.workflow.sending import deliver_due
from bot.workflow.services import Services
from bot.workflow.staff_decisions import (
    DECISION_FAILED,
    NOT_HERE,
    decide_in_chat,
    is_staff_press,
    parse_decision,
)

log = logging.getLogger("noxbot")
T = TypeVar("T")

OUTBOX_SECONDS = 5.0
SCHEDULER_SECONDS = 60.0
MAX_BACKOFF = 300.0
LEASE_TTL = timedelta(seconds=60)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def until_stopped(stop: asyncio.Event | None, waiting: Awaitable[T]) -> T | None:
    """The result of a long wait (a long poll), or None as soon as `stop` is set: a stop
    must not wait out a 30-second poll. Only for waits that are safe to abandon."""
    task = asyncio.ensure_future(waiting)
    if stop is None:
        return await task
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return None


def read_cursor(session: Session, name: str) -> str | None:
    row = session.get(ChannelCursor, name)
    return row.value if row else None


def write_cursor(session: Session, name: str, value: str, now: datetime) -> None:
    row = session.get(ChannelCursor, name) or ChannelCursor(name=name, value=value)
    row.value = value
    row.updated_at = now
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
    database: Database,
    services: Services,
    inbound: InboundMessage,
    cursor: str,
    position: str,
    classification: Classification | None = None,
) -> None:
    """Process one message and advance the cursor in one transaction (`classification`:
    see process_inbound).

    Cases when it fails:
    - the database is down or busy (`is_transient`): re-raised, the cursor stays, the
      worker waits and reads the message again — nothing is lost, nothing quarantined;
    - anything else (a bug, a statement the database refuses for this message): it is
      quarantined for staff and the cursor moves on, so one bad message never stops the
      worker;
    - storing it for quarantine fails too: a bare record (key, sender, raw bytes) is kept.
    """
    try:
        with database.session() as session:
            process_inbound(session, services, inbound, classification=classification)
            write_cursor(session, cursor, position, services.clock())
        return
    except Exception as exc:  # any other failure: keep the message, tell staff, go on
        if is_transient(exc):
            raise
        error = exc
    for bare in (False, True):
        try:
            with database.session() as session:
                quarantine(session, inbound, error, now=services.clock(), bare=bare)
                write_cursor(session, cursor, position, services.clock())
        except Exception as exc:  # the bare record is the last resort
            if bare or is_transient(exc):
                raise
            log.error("storing a failed message (%s); keeping a bare record", type(exc).__name__)
            continue
        log.error("pipeline failed on a message (%s); quarantined for staff", type(error).__name__)
        return


# --- mail --------------------------------------------------------------------------------


async def ingest_mail(
    database: Database,
    services: Services,
    mailbox: ImapMailbox,
    stop: asyncio.Event | None = None,
    reader: MailReader | None = None,
) -> int:
    """Process every message newer than the cursor, until `stop` is set; returns how many
    were read (the cursor keeps the place of the last one, so the rest waits safely).

    With a `reader`, each mail is read within its time budget (bot.reading) and a stop
    abandons a mail still being read (it is read again next time); without one, mail is
    read here, unguarded."""
    name = f"imap:{mailbox.settings.mailbox}"
    with database.session() as session:
        cursor = session.get(ChannelCursor, name)
        stored, last_seen = (cursor.value, cursor.updated_at) if cursor else (None, None)
    validity, _, last = (stored or "0:0").partition(":")
    if stored is not None and int(validity) == mailbox.uidvalidity:
        after = int(last)
    else:
        # No cursor to trust — the first start, or the server renumbered the mailbox (a new
        # UIDVALIDITY): read what arrived in the last backlog_days before the cursor was last
        # moved, not years of mail handled by hand. Message-IDs keep what is read again from
        # being processed twice.
        since = (last_seen or services.clock()) - timedelta(days=mailbox.settings.backlog_days)
        after = await mailbox.last_uid_before(since.date())
        with database.session() as session:
            write_cursor(session, name, f"{mailbox.uidvalidity}:{after}", services.clock())
    count = 0
    async for mail in mailbox.new_mail(after):
        place = Position(mailbox.uidvalidity, mail.uid, mail.internal_date)
        reading = await reader.read(mail.raw, place, stop) if reader else read_mail(mail.raw, place)
        if reading is None:
            break  # stopped while it was being read: the cursor stays before it
        handle_inbound(
            database,
            services,
            reading.inbound,
            name,
            f"{mailbox.uidvalidity}:{mail.uid}",
            reading.classification,
        )
        count += 1
        if stop is not None and stop.is_set():
            break
    return count


async def watch_mail(
    database: Database, services: Services, settings: Settings, stop: asyncio.Event
) -> None:
    assert settings.imap is not None
    password = settings.secret(settings.imap.password_env) or ""

    reader = MailReader(settings.classifier.budget_seconds)

    async def session_until_failure() -> None:
        mailbox = ImapMailbox(settings.imap, password)  # type: ignore[arg-type]
        try:
            await mailbox.connect()
            while not stop.is_set():
                await ingest_mail(database, services, mailbox, stop, reader)
                await mailbox.wait_for_mail(stop)
        finally:
            await mailbox.close()

    try:
        await with_backoff(
            "mail watcher",
            stop,
            session_until_failure,
            (
                ImapError,
                OSError,  # ReaderUnavailable too
                TimeoutError,
                aioimaplib.Abort,
                aioimaplib.CommandTimeout,
                *TRANSIENT_DB_ERRORS,
            ),
        )
    finally:
        reader.close()


# --- chat --------------------------------------------------------------------------------


async def poll_chat_once(
    database: Database,
    services: Services,
    bot: Bot,
    settings: Settings,
    timeout: int,
    stop: asyncio.Event | None = None,
) -> int:
    """One getUpdates round: each update processed with its offset in one transaction.

    An update whose handling fails for any reason but a database that is away is logged
    (its kind of error only), answered if it was a button, and skipped: its offset is
    moved on in a transaction of its own, so it is never read again and the poller goes
    on. When the database is away the offset stays, and the update is read again later.
    """
    assert settings.telegram is not None
    with database.session() as session:
        offset = int(read_cursor(session, "telegram:offset") or 0)
    updates = await until_stopped(
        stop,
        bot.get_updates(
            offset=offset or None, timeout=timeout, allowed_updates=["message", "callback_query"]
        ),
    )
    if updates is None:
        return 0  # stopped while waiting; the offset was not moved, nothing is lost
    for update in updates:
        position = str(update.update_id + 1)
        try:
            await _handle_update(database, services, bot, settings, update, position)
        except Exception as exc:
            if is_transient(exc):
                raise
            # Only the kind of error: its message may quote what a person wrote.
            log.error("chat poller: an update failed (%s); skipped", type(exc).__name__)
            _skip_update(database, services, position)
            if update.callback_query is not None:
                await _answer(update.callback_query)
    return len(updates)


def _skip_update(database: Database, services: Services, position: str) -> None:
    with database.session() as session:
        write_cursor(session, "telegram:offset", position, services.clock())


async def _answer(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a button press (its spinner stops; `text` is shown to the one who pressed)."""
    with contextlib.suppress(TelegramError):
        await query.answer(text[:190] if text else None)


async def _handle_update(
    database: Database,
    services: Services,
    bot: Bot,
    settings: Settings,
    update: Update,
    position: str,
) -> None:
    assert settings.telegram is not None
    query = update.callback_query
    if query is not None and parse_decision(query.data or "") is not None:
        await _decide(database, services, bot, settings.telegram, query, position)
        return
    inbound = inbound_from_update(update, settings.telegram.staff_chat_id)
    if inbound is None:
        _skip_update(database, services, position)
    else:
        handle_inbound(database, services, inbound, "telegram:offset", position)
    if query is not None:
        await _answer(query)  # only stops the button's spinner


async def _decide(
    database: Database,
    services: Services,
    bot: Bot,
    telegram: TelegramSettings,
    query: CallbackQuery,
    position: str,
) -> None:
    """A press of Approve or Reject. Outside the staff chat, or by someone not on staff, it
    gets only a neutral answer: no message in that chat, nothing that names a setting."""
    if not is_staff_press(query, telegram):
        _skip_update(database, services, position)
        await _answer(query, NOT_HERE)
        return
    try:
        with database.session() as session:
            answer = decide_in_chat(session, services, query, telegram.staff_user_ids)
            write_cursor(session, "telegram:offset", position, services.clock())
    except Exception as exc:
        if is_transient(exc):
            raise
        log.error("staff chat: a decision failed (%s); nothing done", type(exc).__name__)
        _skip_update(database, services, position)
        answer = DECISION_FAILED
    await _answer(query, answer)
    with contextlib.suppress(TelegramError):  # the other staff see what was decided
        await bot.send_message(chat_id=telegram.staff_chat_id, text=printable(answer))


async def poll_chat(
    database: Database, services: Services, bot: Bot, settings: Settings, stop: asyncio.Event
) -> None:
    assert settings.telegram is not None
    timeout = settings.telegram.poll_timeout_seconds

    async def step() -> None:
        await poll_chat_once(database, services, bot, settings, timeout, stop)

    # Any error: one update's failure is contained in poll_chat_once; whatever escapes it
    # (the offset cannot be written) is waited out like a server that is down.
    await with_backoff("chat poller", stop, step, (Exception,))


# --- outbox and scheduler ---------------------------------------------------------------


async def send_outbox(
    database: Database,
    services: Services,
    channels: dict[ChannelName, OutboundChannel],
    stop: asyncio.Event,
) -> None:
    async def step() -> None:
        await deliver_due(database, services, channels, stop=stop)
        await sleep_or_stop(stop, OUTBOX_SECONDS)

    await with_backoff("outbox sender", stop, step, TRANSIENT_DB_ERRORS)


async def notify_staff_chat(
    database: Database, services: Services, bot: Bot, chat_id: int, stop: asyncio.Event
) -> None:
    async def step() -> None:
        await notify_staff(database, services, bot, chat_id)
        await sleep_or_stop(stop, OUTBOX_SECONDS)

    await with_backoff(
        "staff chat", stop, step, (TelegramError, OSError, TimeoutError, *TRANSIENT_DB_ERRORS)
    )


async def run_scheduler(database: Database, services: Services, stop: asyncio.Event) -> None:
    async def step() -> None:
        with database.session() as session:
            expire_verifications(session, services)
            today = stockholm_date(services.clock(), services.settings.organisation.timezone)
            raise_daily_reminders(session, services, today)
            run_daily_retention(session, services, today)
        await sleep_or_stop(stop, SCHEDULER_SECONDS)

    await with_backoff("scheduler", stop, step, TRANSIENT_DB_ERRORS)


# --- supervisor ----------------------------------------------------------------------------


async def run_workers(
    settings: Settings, database: Database, services: Services, stop: asyncio.Event
) -> None:
    """All configured workers in one TaskGroup until `stop` is set."""
    async with contextlib.AsyncExitStack() as stack:
        channels = await open_channels(settings, stack)
        async with asyncio.TaskGroup() as group:
            group.create_task(send_outbox(database, services, channels.outbound, stop))
            group.create_task(lead_when_elected(database, services, settings, channels.bot, stop))


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
            elected = _try_lease(database, services, holder)
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
        # When the database is away the lease is not released; it simply runs out.
        with contextlib.suppress(*TRANSIENT_DB_ERRORS), database.session() as session:
            release(session, POLLERS, holder)


def _try_lease(database: Database, services: Services, holder: str) -> bool:
    """Take or renew the pollers' lease; a database that is away counts as not elected."""
    try:
        with database.session() as session:
            return try_acquire(session, POLLERS, holder, LEASE_TTL, services.clock())
    except TRANSIENT_DB_ERRORS as exc:
        log.warning("pollers' lease: %s; trying again", type(exc).__name__)
        return False


async def _keep_lease(
    database: Database,
    services: Services,
    holder: str,
    stop: asyncio.Event,
    stand_down: asyncio.Event,
) -> None:
    renewed = services.clock()
    while not stop.is_set():
        await sleep_or_stop(stop, LEASE_TTL.total_seconds() / 3)
        if stop.is_set():
            break
        if _try_lease(database, services, holder):
            renewed = services.clock()
        elif services.clock() - renewed >= LEASE_TTL:
            # Lost it, or could not renew it in time: another instance may hold it now.
            log.warning("lost the pollers' lease; standing down")
            break
    stand_down.set()


def run_until_signalled(settings: Settings, database: Database, services: Services) -> None:
    """`noxbot run`: the workers until SIGINT or SIGTERM, then a clean stop."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if stop.is_set():  # asked twice: the person wants out now
                log.warning("stopping at once")
                os._exit(130)
            log.info("stopping: finishing what is under way (signal again to stop at once)")
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal)
        await run_workers(settings, database, services, stop)

    asyncio.run(main())
