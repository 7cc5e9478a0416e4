"""The mail watcher: reads the info@ mailbox (IMAP IDLE, else polling) and hands each new
mail to the pipeline within its time budget; reconnects with backoff."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import aioimaplib

from bot.channels.imap import ConnectionLost, ImapError, ImapMailbox
from bot.config import Settings
from bot.runtime.intake import handle_inbound, write_cursor
from bot.runtime.loops import MAX_BACKOFF, with_backoff
from bot.runtime.mail_reader import MailReader, Position, read_mail
from bot.store.database import TRANSIENT_DB_ERRORS, Database
from bot.store.tables import ChannelCursor
from bot.workflow.services import Services

log = logging.getLogger("noxbot")
#: Seconds between progress lines while a backlog is read.
PROGRESS_SECONDS = 5.0
#: The longest wait between attempts to reach the IMAP server after a lost connection:
#: mail that arrived during an outage is read within this (plus a pass) of its return.
RECONNECT_SECONDS = 3.0


async def ingest_mail(
    database: Database,
    services: Services,
    mailbox: ImapMailbox,
    stop: asyncio.Event | None = None,
    reader: MailReader | None = None,
    *,
    announce: bool | None = None,
    log_every: float = 0.0,
) -> int:
    """Process every message newer than the cursor, until `stop` is set; returns how many
    were read (the cursor keeps the place of the last one, so the rest waits safely).

    With a `reader`, each mail is read within its time budget (bot.reading) and a stop
    abandons a mail still being read (it is read again next time); without one, mail is
    read here, unguarded. `announce`: log the line that says what is to be read;
    `log_every`: log progress that often (seconds) while reading."""
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
    progress = Progress(log_every) if log_every else None
    while True:
        # Search again after every pass that found mail: what arrived during it is announced
        # only inside the FETCH responses (filed there by aioimaplib), and IDLE would not
        # report it again — so it is read now, not at the next IDLE timeout.
        uids = await mailbox.uids_after(after)
        if announce is not None:
            log.info(
                "mail watcher: connected to %s, mailbox %s, %d new to read",
                mailbox.server,
                mailbox.settings.mailbox,
                len(uids),
            )
            announce = None
        if not uids:
            return count
        if progress is not None:
            progress.add_total(len(uids))
        async for mail in mailbox.new_mail(after, uids):
            place = Position(mailbox.uidvalidity, mail.uid, mail.internal_date)
            reading = (
                await reader.read(mail.raw, place, stop) if reader else read_mail(mail.raw, place)
            )
            if reading is None:
                return count  # stopped while it was being read: the cursor stays before it
            handle_inbound(
                database,
                services,
                reading.inbound,
                name,
                f"{mailbox.uidvalidity}:{mail.uid}",
                reading.classification,
            )
            count += 1
            after = mail.uid
            if progress is not None:
                progress.done_one()
            # Hand control back between messages: a SIGTERM (and every other channel) is
            # served after the message in hand, not after the whole batch.
            await asyncio.sleep(0)
            if stop is not None and stop.is_set():
                return count


class Progress:
    """A log line every `every` seconds while a backlog is read: read/total and the rate."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.total = 0
        self.read = 0
        self.started = time.monotonic()
        self.logged = self.started

    def add_total(self, more: int) -> None:
        self.total += more

    def done_one(self) -> None:
        self.read += 1
        now = time.monotonic()
        if now - self.logged >= self.every:
            self.logged = now
            rate = self.read / max(now - self.started, 1e-9)
            log.info("mail watcher: read %d/%d (%.0f msg/s)", self.read, self.total, rate)


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
            announce: bool | None = True
            while not stop.is_set():
                await ingest_mail(
                    database,
                    services,
                    mailbox,
                    stop,
                    reader,
                    announce=announce,
                    log_every=PROGRESS_SECONDS,
                )
                announce = None
                if stop.is_set():
                    break
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
            describe=_describe,
            longest_wait=_longest_wait,
        )
    finally:
        reader.close()


def _describe(exc: BaseException) -> str:
    """An IMAP failure names the server and what it said (a refused login, a lost
    connection); our own messages hold no mail content. Anything else: its kind only."""
    if isinstance(exc, ImapError):
        return str(exc)
    if isinstance(exc, TimeoutError | aioimaplib.CommandTimeout):
        return "the IMAP server did not answer in time"
    return type(exc).__name__


def _longest_wait(exc: BaseException) -> float:
    """A server that went away is tried again every few seconds (a connection attempt costs
    it nothing), so mail is read soon after it is back; a refusal backs off as usual."""
    if isinstance(exc, ImapError) and not isinstance(exc, ConnectionLost):
        return MAX_BACKOFF
    return RECONNECT_SECONDS
