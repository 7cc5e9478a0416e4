"""`noxbot run`: the workers under one supervisor — the mail watcher, the chat poller, the
staff chat, the outbox sender and the scheduler — stopped cleanly by SIGINT/SIGTERM. One
instance holds the pollers' lease; every instance sends from the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.channels.messages import OutboundChannel
from bot.config import Settings
from bot.reading.classifier import load_model
from bot.rules.channels import ChannelName
from bot.rules.deadlines import stockholm_date
from bot.runtime.lease import POLLERS, new_holder, release, try_acquire
from bot.runtime.loops import sleep_or_stop, wait_for_wake, with_backoff
from bot.runtime.mail_watcher import watch_mail
from bot.runtime.senders import open_channels
from bot.runtime.wakeups import listen_for_wakeups
from bot.store.database import TRANSIENT_DB_ERRORS, Database
from bot.workflow.confirming import expire_verifications
from bot.workflow.housekeeping import raise_daily_reminders, run_daily_retention
from bot.workflow.sending import DeliveryReport, deliver_due
from bot.workflow.services import Services

if TYPE_CHECKING:  # python-telegram-bot (~15 MiB with httpx) only where Telegram is set up
    from telegram import Bot

log = logging.getLogger("noxbot")

OUTBOX_SECONDS = 5.0
SCHEDULER_SECONDS = 60.0
LEASE_TTL = timedelta(seconds=60)


async def send_outbox(
    database: Database,
    services: Services,
    channels: dict[ChannelName, OutboundChannel],
    stop: asyncio.Event,
) -> None:
    """Send what is due as soon as a commit queues it (bot.store.wakeup); every
    OUTBOX_SECONDS anyway, for retries that fall due and signals that got lost."""
    wake = database.wakeup.subscribe()
    name = f"outbox sender ({', '.join(sorted(channels))})"

    async def step() -> None:
        wake.clear()
        say_what_was_sent(name, await deliver_due(database, services, channels, stop=stop))
        await wait_for_wake(stop, wake, OUTBOX_SECONDS)

    await with_backoff(name, stop, step, TRANSIENT_DB_ERRORS)


def say_what_was_sent(name: str, report: DeliveryReport) -> None:
    """A line per round that sent or failed something: by count only (a server's refusal
    can quote the address; `noxbot outbox list` shows it to staff)."""
    if report.sent:
        log.info("%s: sent %d message(s)", name, len(report.sent))
    if report.retrying:
        log.warning(
            "%s: %d message(s) could not be sent now (outbox %s), tried again later; "
            "noxbot outbox list says why",
            name,
            len(report.retrying),
            ", ".join(map(str, report.retrying)),
        )
    if report.failed:
        log.warning(
            "%s: %d message(s) given up (outbox %s); staff are alerted",
            name,
            len(report.failed),
            ", ".join(map(str, report.failed)),
        )


async def notify_staff_chat(
    database: Database, services: Services, bot: Bot, chat_id: int, stop: asyncio.Event
) -> None:
    from telegram.error import TelegramError

    from bot.runtime.staff_chat import notify_staff

    wake = database.wakeup.subscribe()

    async def step() -> None:
        wake.clear()
        await notify_staff(database, services, bot, chat_id)
        await wait_for_wake(stop, wake, OUTBOX_SECONDS)

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


async def run_workers(
    settings: Settings, database: Database, services: Services, stop: asyncio.Event
) -> None:
    """All configured workers in one TaskGroup until `stop` is set."""
    async with contextlib.AsyncExitStack() as stack:
        channels = await open_channels(settings, stack)
        async with asyncio.TaskGroup() as group:
            # One sender per channel: a slow mail server never holds up a chat answer.
            for name, channel in channels.outbound.items():
                group.create_task(send_outbox(database, services, {name: channel}, stop))
            if database.engine.dialect.name == "postgresql":
                group.create_task(listen_for_wakeups(database, stop))
            group.create_task(lead_when_elected(database, services, settings, channels.bot, stop))
            if settings.web is not None:  # the staff console, in every instance
                from bot.web.server import serve_console  # ~15 MiB: only when configured

                group.create_task(serve_console(database, services, settings.web, stop))


async def lead_when_elected(
    database: Database, services: Services, settings: Settings, bot: Bot | None, stop: asyncio.Event
) -> None:
    """The pollers and the scheduler run in one instance only: the holder of the lease.

    Every instance sends from the outbox; this one waits for the lease, runs the pollers
    while it renews it, and stands down (and waits again) if it ever loses it.
    """
    holder = new_holder()
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
                    from bot.runtime.chat_poller import poll_chat

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


#: glibc's mallopt parameters (malloc.h): the number of malloc arenas, and the size from
#: which an allocation gets pages of its own (mmap) instead of a place in the heap.
_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3


def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's mallopt, or None elsewhere."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).mallopt  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc
        return None


def limit_malloc_arenas(arenas: int = 1) -> bool:
    """Ask glibc for at most `arenas` malloc arenas; True when it agreed.

    By default glibc gives threads that allocate at the same time arenas of their own (up
    to eight per core), and each keeps the memory it once used: the database worker thread
    next to the event loop cost `noxbot run` ~25 MiB of peak RSS in bench/ingest.py for no
    measurable speed. Done before any thread starts; elsewhere than glibc it does nothing."""
    mallopt = _mallopt()
    if mallopt is None or os.environ.get("MALLOC_ARENA_MAX"):  # the person's own setting wins
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))


def fix_mmap_threshold(size: int = 128 * 1024) -> bool:
    """Ask glibc to give every allocation of `size` bytes or more pages of its own, always;
    True when it agreed.

    glibc starts at 128 KiB but raises the threshold to the size of each such block freed
    (up to 32 MiB), after which a mail of several MB and its copies (the IMAP literal, the
    bytes, the copy sent to the reader process) come from the heap, whose top the next
    allocations pin: twenty mails with a 5 MB attachment took `noxbot run` to 124-131 MiB,
    and 116-117 MiB with the threshold fixed (ordinary mail unchanged). Elsewhere than
    glibc, or with MALLOC_MMAP_THRESHOLD_ set by the person, it does nothing."""
    mallopt = _mallopt()
    if mallopt is None or os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, size))


def run_until_signalled(settings: Settings, database: Database, services: Services) -> None:
    """`noxbot run`: the workers until SIGINT or SIGTERM, then a clean stop."""
    limit_malloc_arenas()
    fix_mmap_threshold()
    # The classifier's model is loaded before any channel is read (~0.1 s), not by the
    # first message, which would then wait for it; not at all where none is read.
    if settings.imap is not None or settings.telegram is not None:
        load_model()

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
        log.info("stopped")  # the last line: every worker has ended

    asyncio.run(main())
