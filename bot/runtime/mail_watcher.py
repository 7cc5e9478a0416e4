"""The mail watcher: reads the info@ mailbox (IMAP IDLE, else polling) and hands each new
mail to the pipeline within its time budget; reconnects with backoff."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aioimaplib

from bot.channels.imap import ImapError, ImapMailbox
from bot.config import Settings
from bot.runtime.intake import handle_inbound, write_cursor
from bot.runtime.loops import with_backoff
from bot.runtime.mail_reader import MailReader, Position, read_mail
from bot.store.database import TRANSIENT_DB_ERRORS, Database
from bot.store.tables import ChannelCursor
from bot.workflow.services import Services


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
