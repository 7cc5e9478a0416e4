"""The mail watcher: reads the info@ mailbox (IMAP IDLE, else polling) and hands each new
mail to the pipeline within its time budget; reconnects with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import aioimaplib

from bot.channels.imap import ConnectionLost, ImapError, ImapMailbox
from bot.config import Settings
from bot.reading.mail import header_after_blank_lines
from bot.runtime.intake import (
    Pending,
    UnstorableMessage,
    bytes_held,
    handle_batch,
    handle_inbound,
    write_cursor,
)
from bot.runtime.loops import MAX_BACKOFF, kind_of, with_backoff
from bot.runtime.mail_parsing import parse_mail, unreadable
from bot.runtime.mail_reader import (
    MailBytes,
    MailReader,
    MailReading,
    Position,
    ReaderUnavailable,
    read_mail,
)
from bot.store.database import TRANSIENT_DB_ERRORS, Database, is_refusal, is_transient
from bot.store.tables import ChannelCursor
from bot.workflow.services import Services

log = logging.getLogger("noxbot")
K, V = TypeVar("K"), TypeVar("V")
#: Seconds between progress lines while a backlog is read.
PROGRESS_SECONDS = 5.0
#: The longest wait between attempts to reach the IMAP server after a lost connection:
#: mail that arrived during an outage is read within this (plus a pass) of its return.
RECONNECT_SECONDS = 3.0
#: Mail whose reading or storing failed, and mail set aside after it failed twice, are
#: remembered (by UIDVALIDITY and UID) at most this many at a time each: only until the
#: cursor has passed them.
MOST_SET_ASIDE = 100


@dataclass(frozen=True)
class SetAside:
    """A mail not to be read but kept for staff as unreadable: why, and whether with its
    bytes (without them, when even so it could not be stored: a note that it is in the
    mailbox at its UID is what is left)."""

    why: str
    with_bytes: bool = True


class MailFault(Exception):
    """An unexpected error (a bug) met while one mail was read, or stored (not even a bare
    record of it: intake.UnstorableMessage). The watcher starts again from the cursor;
    should the same mail fail again, it is set aside for staff - stored as unreadable, with
    nothing read from it but its bytes - and the rest of the mailbox is read."""

    def __init__(self, uidvalidity: int, uid: int, error: BaseException, doing: str) -> None:
        super().__init__(f"{doing} the mail at UID {uid} failed ({kind_of(error)})")
        self.mail, self.error, self.doing = (uidvalidity, uid), error, doing


async def ingest_mail(
    database: Database,
    services: Services,
    mailbox: ImapMailbox,
    stop: asyncio.Event | None = None,
    reader: MailReader | None = None,
    *,
    announce: bool | None = None,
    log_every: float = 0.0,
    set_aside: Mapping[tuple[int, int], SetAside] | None = None,
) -> int:
    """Process every message newer than the cursor, until `stop` is set; returns how many
    were read (the cursor keeps the place of the last one, so the rest waits safely).

    With a `reader`, each mail is read within its time budget (bot.reading) and a stop
    abandons a mail still being read (it is read again next time); without one, mail is
    read here, unguarded. `announce`: log the line that says what is to be read;
    `log_every`: log progress that often (seconds) while reading; `set_aside`: mail (by
    UIDVALIDITY and UID) not to be read but kept whole for staff, with why.

    An unexpected error while a mail is read, or one that keeps it from being stored even
    as a bare record (intake.UnstorableMessage), is raised as a MailFault that names it."""
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
    # Mail that arrived during a pass, looked at to be read first: True if it was.
    looked_at: dict[int, bool] = {}
    while True:
        # Search again after every pass that found mail: what arrived during it (and was not
        # read first, _NewerFirst) is announced, if at all, inside the responses of the
        # pass's commands, and IDLE would not report it again — so it is read now, not at
        # the next IDLE timeout.
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
        committer = _Committer(database, services, name, stop, progress)
        ahead = (
            _ReadAhead(reader, committer, stop)
            if reader is not None and len(uids) >= READ_AHEAD_FROM
            else None
        )
        newer = (
            _NewerFirst(database, services, mailbox, reader, committer, after, uids[-1], looked_at)
            if reader is not None and len(uids) >= READ_AHEAD_FROM
            else None
        )
        try:
            async for mail in mailbox.new_mail(after, uids):
                uid, place = mail.uid, Position(mailbox.uidvalidity, mail.uid, mail.internal_date)
                aside = (set_aside or {}).get((mailbox.uidvalidity, uid))
                if ahead is not None and aside is None and ahead.takes(mail.raw):
                    raw_bytes = mail.raw
                    del mail
                    if not await ahead.add(uid, place, raw_bytes):
                        break  # stopped: what was gathered is read again next time
                    del raw_bytes
                    if committer.stopped or (stop is not None and stop.is_set()):
                        break
                    await asyncio.sleep(0)
                    if newer is not None and newer.due():
                        await newer.read(set_aside, stop)
                    continue
                if ahead is not None and not await ahead.flush():
                    break  # (mail is read in order: what was read ahead is written first)
                # The bytes handed over, held by nothing here: a large mail's leave memory
                # while it is read and written (bot.runtime.mail_reader.KeptOriginal).
                raw = MailBytes(mail.raw)
                del mail
                try:
                    if aside is not None:  # nothing read from it, not even the server's date
                        kept = raw.take() if aside.with_bytes else b""
                        bare = Position(mailbox.uidvalidity, uid, None)
                        reading = MailReading(unreadable(kept, bare, aside.why), None)
                    elif reader is not None:
                        reading = await reader.read(raw, place, stop)
                    else:
                        reading = read_mail(raw.take(), place)
                except OSError:  # the reader process went away: tried again, as a lost server
                    raise
                except Exception as exc:
                    raise MailFault(mailbox.uidvalidity, uid, exc, "reading") from exc
                if reading is None:  # stopped while it was being read: it waits for next time
                    break
                position = f"{mailbox.uidvalidity}:{uid}"
                await committer.add(
                    Pending(reading.inbound, position, reading.classification, reading.original),
                    uid,
                )
                # Let go of this mail's reading before the next is fetched (the generator
                # fetches on resuming): a mail of several MB and its reading, still held here,
                # were a third copy beside the next one's FETCH.
                del reading
                if committer.stopped or (stop is not None and stop.is_set()):
                    break
                # Hand control back between messages: a SIGTERM (and every other channel) is
                # served after the message in hand, not after the whole batch.
                await asyncio.sleep(0)
                if newer is not None and newer.due():
                    await newer.read(set_aside, stop)
            else:
                if ahead is not None:
                    await ahead.flush()
            await committer.finish()
        except UnstorableMessage as exc:
            validity, _, failed = exc.position.partition(":")
            raise MailFault(int(validity), int(failed), exc.error, "storing") from exc
        finally:
            if ahead is not None:
                ahead.abandon()
            await committer.abandon()
            count += committer.done
            after = committer.last_uid or after
        if committer.stopped or (stop is not None and stop.is_set()):
            return count
        if len(looked_at) > MOST_LOOKED_AT:
            looked_at.clear()  # (what it held is behind the cursor by now, or read again)
        if committer.done == 0:
            return count  # found but not fetched (expunged meanwhile): not a reason to spin


#: A pass over this many new mails or more reads its small mail in the reader's worker
#: process, GROUP_MAILS at a time (_ReadAhead); fewer are read here, at once, as a lone
#: pushed mail is (the worker would first have to start and load the classifier).
READ_AHEAD_FROM = 50
#: Mails per group read in the worker: as many as a transaction holds (DB_BATCH), so that
#: the worker reads one group while the database thread writes the one before.
GROUP_MAILS = 25


class _ReadAhead:
    """Small mail of a backlog read in the reader's worker process, GROUP_MAILS at a time,
    while the event loop fetches the next mails and the database thread writes the last
    group: reading (parsing, classifying; 60 % of a mail's cost) runs on the second core.

    The watcher reads the first few of each group itself meanwhile, as many as keep the two
    processes equally busy (`here`: one more after it had to wait for the worker's answers,
    one fewer after they were all there), so that neither waits for the other.

    Mail is still handed to the committer in UID order, each with its own reading: a group
    is taken whole before any later mail (a large one, read alone) is handed on."""

    def __init__(self, reader: MailReader, committer: _Committer, stop: asyncio.Event | None):
        self.reader, self.committer, self.stop = reader, committer, stop
        self.gathered: list[tuple[int, Position, bytes]] = []
        # The group being read: its places, and the readings of its first mails, read here.
        self.in_reader: list[tuple[int, Position]] | None = None
        self.read_here: list[MailReading] = []
        self.here = GROUP_MAILS // 4
        self.unavailable = False  # the worker could not be started: all is read here
        self.sent = False  # the group being read went to the worker (else all read here)

    def takes(self, raw: bytes) -> bool:
        """Whether this mail is read ahead (a large one, or one of many parts, is read alone,
        guarded)."""
        return self.reader.reads_here(raw)

    async def add(self, uid: int, place: Position, raw: bytes) -> bool:
        """Gather a mail; a full group is sent to the worker. False when stopped meanwhile."""
        self.gathered.append((uid, place, raw))
        if len(self.gathered) < GROUP_MAILS:
            return True
        return await self._next_group()

    async def flush(self) -> bool:
        """Everything gathered read and handed to the committer. False when stopped first."""
        while self.gathered or self.in_reader is not None:
            if not await self._next_group():
                return False
        return True

    def abandon(self) -> None:
        """After a failure or a stop: what was gathered or is being read is read again next
        time (the worker is ended if it is reading: its answer would be taken for the next)."""
        self.gathered, self.read_here = [], []
        self.in_reader = None
        self.reader.drop_group()

    async def _next_group(self) -> bool:
        """Take the readings of the group being read, send the worker most of the gathered
        one and read the rest here, then hand the readings taken to the committer: the
        worker reads while the database writes."""
        readings: list[MailReading] = []
        places: list[tuple[int, Position]] = []
        if self.in_reader is not None:
            places, self.in_reader = self.in_reader, None
            taken = await self.reader.finish_group(self.stop)
            if taken is None:
                return False
            if self.sent:  # (a group read here all alone tells nothing of the worker's pace)
                waited = self.reader.waited
                self.here = min(self.here + 1, GROUP_MAILS) if waited else max(self.here - 1, 0)
            readings, self.read_here = [*self.read_here, *taken], []
        if self.gathered:
            group, self.gathered = self.gathered, []
            here, there = group[: self.here], group[self.here :]
            self.sent = False
            if there and not self.unavailable:
                try:
                    if not self.reader.ready_for_groups():
                        self.reader.warm_up()  # this group is read here meanwhile
                    elif not await self.reader.start_group(
                        [(raw, place) for _, place, raw in there], self.stop
                    ):
                        return False
                    else:
                        self.sent = True
                except ReaderUnavailable as exc:
                    # Small mail is read here without a backlog too: the rest of this one
                    # is, rather than waiting for a worker that cannot start.
                    log.warning("mail watcher: %s; reading the backlog here", exc)
                    self.unavailable = True
            if not self.sent:
                here, there = group, []
            self.in_reader = [(uid, place) for uid, place, _ in group]
            for uid, place, raw in here:
                if self.stop is not None and self.stop.is_set():
                    return False
                try:
                    self.read_here.append(read_mail(raw, place))
                except Exception as exc:
                    raise MailFault(place.imap_uidvalidity or 0, uid, exc, "reading") from exc
                # The other channels, and a SIGTERM, are served between these mails, as
                # between mails read one by one (a crafted mail under 64 KB can take ~0.5 s).
                await asyncio.sleep(0)
        for (uid, place), reading in zip(places, readings, strict=True):
            pending = Pending(
                reading.inbound,
                f"{place.imap_uidvalidity}:{uid}",
                reading.classification,
                reading.original,
            )
            await self.committer.add(pending, uid)
        return True


#: While a long pass is read, the server is asked this often (seconds) whether mail arrived
#: meanwhile (a NOOP and a UID SEARCH, about a millisecond): Dovecot does not tell of it
#: inside the FETCH responses of a session that is not in IDLE.
NEWER_CHECK_SECONDS = 0.25
#: Mail that arrived during a long pass is read before the rest of it, this many at a time
#: (the oldest first): a few new requests are acknowledged at once, not after the backlog;
#: a burst of many waits its turn like the backlog.
NEWER_FIRST_MOST = 10
#: ... and at most this many in all during one ingest (then only in turn).
MOST_LOOKED_AT = 1_000
#: ... reading them for at most this much processor time (seconds) a round: the rest are
#: looked at in the next round (ten crafted small mails take ~0.7 s to read). The chat,
#: the sender and a SIGTERM are served between two of them, as between mails read in turn.
NEWER_READ_SECONDS = 0.2
#: Whose mail still waits is read from the headers of at most this many mails, in at most
#: this much processor time (seconds) a pass; beyond either, newer mail waits its turn.
MOST_WAITING_READ = 5_000
WAITING_READ_SECONDS = 1.0
#: ... of at most this many bytes each, 200 at a time; a longer header, or one the watcher
#: would not read itself (MailReader.reads_here), is from anyone as far as the lane knows.
WAITING_HEADER_BYTES = 16 * 1024


@dataclass(frozen=True)
class _Waiting:
    """Who wrote a mail not yet written, and what it is known by, as the pipeline reads them:
    as hashes (see _digest), so that thousands of waiting mails with headers of 16 KB hold a
    few hundred KB, not tens of MB."""

    sender: int
    message_id: int | None


def _digest(value: str) -> int:
    """A string as the lane compares it: equal strings give equal digests (within this
    process), and two different ones the same only by a chance of about 2**-64 - which
    would make a newcomer wait its turn, nothing worse."""
    return hash(value)


class _NewerFirst:
    """Mail that arrives while a long pass (a backlog, a burst) is read is read before the
    rest of the pass, so that a new request is answered within a second or so of its
    arrival, not after thousands of older mails.

    Every NEWER_CHECK_SECONDS the pass stops between two mails, asks the server for mail
    that arrived after the last UID of the pass, and for the oldest few of it:
    - fetches each and reads it here (a small one: a large mail, or one set aside, waits its
      turn), for at most NEWER_READ_SECONDS a round, the other channels served between two
      (what the round had no time for is looked at in the next);
    - leaves it to its turn when mail not yet written is from its sender (a withdrawal read
      before the request it withdraws would find nothing to withdraw) or is what it replies
      to (the reply would not find its case): whose that mail is, and its Message-ID, are
      read from its header as the pipeline reads them (once a pass; not the server's SEARCH
      FROM, which reads an odd From otherwise) - and when that cannot be done in time, every
      newcomer waits;
    - writes it in a transaction of its own that leaves the cursor where it is (the batch
      before is written first, so that the cursor is known).

    The cursor still moves in UID order only: when the pass reaches such a mail, it is read
    again and found stored (its dedupe key), and nothing happens twice - after a crash too.
    A failure here leaves the mail to its turn, where failures are handled as usual."""

    def __init__(
        self,
        database: Database,
        services: Services,
        mailbox: ImapMailbox,
        reader: MailReader,
        committer: _Committer,
        after: int,
        last_of_pass: int,
        looked_at: dict[int, bool],
    ) -> None:
        self.database, self.services, self.mailbox = database, services, mailbox
        self.reader, self.committer = reader, committer
        self.after, self.last_of_pass, self.looked_at = after, last_of_pass, looked_at
        self.checked = time.monotonic()
        # Mail not yet written, as read from its header (None: unreadable there), by UID;
        # read up to `waiting_read_to`. `cannot_tell`: that reading ran out of its bounds.
        self.waiting: dict[int, _Waiting | None] = {}
        self.waiting_read_to = after
        self.cannot_tell = False

    def due(self) -> bool:
        """Whether it is time to ask the server for newer mail."""
        return time.monotonic() - self.checked >= NEWER_CHECK_SECONDS

    async def read(
        self, set_aside: Mapping[tuple[int, int], SetAside] | None, stop: asyncio.Event | None
    ) -> None:
        try:
            await self._read(set_aside, stop)
        finally:
            self.checked = time.monotonic()  # (from the end of a round, however long it was)

    async def _read(
        self, set_aside: Mapping[tuple[int, int], SetAside] | None, stop: asyncio.Event | None
    ) -> None:
        mailbox, looked_at = self.mailbox, self.looked_at
        if len(looked_at) >= MOST_LOOKED_AT or self.cannot_tell:
            return
        found = await mailbox.arrived_after(self.last_of_pass)
        arrived = [uid for uid in found if uid not in looked_at][:NEWER_FIRST_MOST]
        if not arrived:
            return
        for uid in arrived:
            looked_at[uid] = False
        # Only small mail (its size asked first: a large one is not even fetched here).
        sizes = await mailbox.sizes(arrived)
        small = [
            uid
            for uid in arrived
            if 0 < sizes.get(uid, 0) < self.reader.guarded_from_bytes
            and (set_aside or {}).get((mailbox.uidvalidity, uid)) is None
        ]
        if not small:
            return
        await self.committer.settle()  # what was sent is written: the cursor is known
        if self.committer.stopped or (stop is not None and stop.is_set()):
            return
        written_to = self.committer.last_uid or self.after
        self.waiting_read_to = max(self.waiting_read_to, written_to)  # (the rest is written)
        if self.waiting and min(self.waiting) <= written_to:
            self.waiting = {uid: w for uid, w in self.waiting.items() if uid > written_to}
        if not await self._read_waiting(max(small) - 1, stop):
            return
        position = f"{mailbox.uidvalidity}:{written_to}"
        read_first: list[tuple[int, Pending]] = []
        spent = 0.0
        left = set(small)  # not looked at when the round's time runs out: the next round's
        async for mail in mailbox.new_mail(self.last_of_pass, small):
            if spent > NEWER_READ_SECONDS or (stop is not None and stop.is_set()):
                break
            left.discard(mail.uid)
            if not self.reader.reads_here(mail.raw):
                continue
            place = Position(mailbox.uidvalidity, mail.uid, mail.internal_date)
            began = time.process_time()
            try:
                reading = read_mail(mail.raw, place)
            except Exception as exc:  # read again in turn, where a failure is handled
                log.warning("mail watcher: reading the mail at UID %d out of turn failed (%s);"
                            " it is read in turn", mail.uid, kind_of(exc))  # fmt: skip
                continue
            finally:
                spent += time.process_time() - began
            await asyncio.sleep(0)  # the other channels, and a SIGTERM, between two mails
            inbound = reading.inbound
            if inbound.malformed:
                continue
            first = {uid for uid, _ in read_first}  # (written below, in order, before it)
            earlier = [
                waiting
                for uid, waiting in self.waiting.items()
                if written_to < uid < mail.uid and not looked_at.get(uid) and uid not in first
            ]
            if any(waiting is None for waiting in earlier):
                continue  # (a mail whose header could not be read: from anyone)
            sender = _digest(inbound.sender)
            replied_to = {_digest(i) for i in (inbound.in_reply_to, *inbound.references) if i}
            if any(
                waiting.sender == sender or waiting.message_id in replied_to
                for waiting in earlier
                if waiting is not None
            ):
                continue  # its sender's earlier mail, or what it answers, is read first
            read_first.append((mail.uid, Pending(inbound, position, reading.classification)))
        for uid in left:  # (a few slow mails must not push a request behind the backlog)
            del looked_at[uid]
        for uid, pending in read_first:
            if stop is not None and stop.is_set():
                return
            future = asyncio.get_running_loop().run_in_executor(
                None,
                handle_inbound,
                self.database,
                self.services,
                pending.inbound,
                self.committer.cursor,
                pending.position,
                pending.classification,
            )
            try:
                await asyncio.shield(future)
            except Exception as exc:  # read again in turn, where a failure is handled
                log.warning("mail watcher: writing the mail at UID %d out of turn failed (%s);"
                            " it is read in turn", uid, kind_of(exc))  # fmt: skip
                return  # (the rest, of its sender too maybe, wait for their turn as well)
            looked_at[uid] = True
            log.info("mail watcher: the mail at UID %d arrived during the backlog; read first",
                     uid)  # fmt: skip

    async def _read_waiting(self, up_to: int, stop: asyncio.Event | None) -> bool:
        """Read who wrote the mail up to UID `up_to` not read so far, and what it is known by,
        from its header (the server's "n:m" takes what exists); False when that runs out of
        its bounds (MOST_WAITING_READ, WAITING_READ_SECONDS): newer mail then waits."""
        if up_to <= self.waiting_read_to:
            return True
        if len(self.waiting) + (up_to - self.waiting_read_to) > MOST_WAITING_READ:
            self.cannot_tell = True
            return False
        spent = 0.0
        for start in range(self.waiting_read_to + 1, up_to + 1, 200):
            last = min(start + 199, up_to)
            headers = await self._headers_between(start, last)
            for uid, header in headers:
                began = time.process_time()
                self.waiting[uid] = None  # (unless read below)
                if header is not None and self.reader.reads_here(header):
                    with contextlib.suppress(Exception):  # (read in turn, where handled)
                        inbound = parse_mail(header, Position(None, None, None))
                        if not inbound.malformed:
                            self.waiting[uid] = _Waiting(
                                _digest(inbound.sender),
                                _digest(inbound.message_id) if inbound.message_id else None,
                            )
                spent += time.process_time() - began
                if spent > WAITING_READ_SECONDS:
                    self.cannot_tell = True
                    return False
                await asyncio.sleep(0)
                if stop is not None and stop.is_set():
                    return False
            del headers
        self.waiting_read_to = up_to
        return True

    async def _headers_between(self, first: int, last: int) -> list[tuple[int, bytes | None]]:
        """The header of each mail from UID `first` to `last` as the pipeline would read it
        (None: not within WAITING_HEADER_BYTES). The pipeline reads a mail that begins with
        blank lines from the headers after them, where the server's HEADER part is empty:
        such a header is taken from the mail's first bytes."""
        fetched = await self.mailbox.headers_between(first, last, WAITING_HEADER_BYTES)
        headers = {
            mail.uid: mail.raw if len(mail.raw) < WAITING_HEADER_BYTES else None for mail in fetched
        }
        blank = [uid for uid, header in headers.items() if header is not None and not
                 header.strip(b"\r\n")]  # fmt: skip
        if blank:
            for mail in await self.mailbox.beginnings(blank, WAITING_HEADER_BYTES):
                headers[mail.uid] = header_after_blank_lines(mail.raw)
        return sorted(headers.items())


#: Messages per transaction (see intake.handle_batch): enough that a commit's cost is
#: shared, few enough that the database's write lock is held for tens of milliseconds.
DB_BATCH = 25
#: ... or fewer, when their mails hold this many bytes (attachments, long text): read mail
#: waits for the database with its raw bytes (kept should it have to be quarantined; a
#: large mail's in a file: bot.runtime.mail_reader.KeptOriginal) and its text; a batch
#: that reaches this is written before the next mail is read, so the watcher holds about
#: this plus the mail that went over it (and the FETCH being read: see
#: bot.channels.imap.BATCH_BYTES).
DB_BATCH_BYTES = 2 * 1024 * 1024
#: ... and a transaction ends after this long (seconds), however many it holds: on SQLite
#: the chat and the sender wait for the write lock meanwhile.
TRANSACTION_SECONDS = 0.1


class _Committer:
    """Hands read messages to the pipeline, DB_BATCH at a time, in a worker thread.

    Why a thread: the workflow is synchronous SQLAlchemy ORM code, and so is every other
    worker's; an async driver would mean rewriting all of it (and SQLite has none that is not
    a thread underneath). In a thread the event loop stays free for the chat, the staff chat
    and the sender while a batch is written; one batch at a time is in flight, so the next
    is read (parsed, classified) while the previous one is written."""

    def __init__(
        self,
        database: Database,
        services: Services,
        cursor: str,
        stop: asyncio.Event | None,
        progress: Progress | None,
    ) -> None:
        self.database, self.services, self.cursor = database, services, cursor
        self.stop, self.progress = stop, progress
        self.waiting: list[tuple[Pending, int]] = []
        self.in_flight: tuple[asyncio.Future[int], list[int]] | None = None
        self.in_flight_batch: list[tuple[Pending, int]] = []
        self.done = 0
        self.last_uid: int | None = None
        self.stopped = False

    def _is_stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    async def add(self, pending: Pending, uid: int) -> None:
        self.waiting.append((pending, uid))
        large = sum(bytes_held(pending) for pending, _ in self.waiting) >= DB_BATCH_BYTES
        if len(self.waiting) >= DB_BATCH or self._is_stopped() or self.in_flight is None or large:
            await self._send()
        if large:
            # Written before the next mail is read: several large mails (their bytes, their
            # text, the database's copies) are not held at once - with a batch waiting and
            # one being written, hostile mail of a few MB each took the watcher to ~175 MiB.
            await self._settle()

    async def settle(self) -> None:
        """Wait until what was sent is written (what waits is not sent)."""
        await self._settle()

    async def finish(self) -> None:
        """Send what waits and wait until everything sent is written (a transaction that
        ran its time hands its rest back to `waiting`: sent again here)."""
        while True:
            await self._settle()
            if not self.waiting or self.stopped or self._is_stopped():
                return
            await self._send()

    async def abandon(self) -> None:
        """After a failure: wait for the batch in flight (it commits or rolls back whole);
        what was only read is read again next time. Whatever holds read mail's bytes
        outside it is closed here, whatever became of it (after `finish`: nothing is left)."""
        self.waiting.clear()
        if self.in_flight is not None:
            with contextlib.suppress(Exception):
                await self._settle()
        # (what the batch in flight did not do came back to `waiting`; after a failure its
        # rest is in `in_flight_batch` still)
        for pending, _ in [*self.waiting, *self.in_flight_batch]:
            pending.let_go()
        self.waiting.clear()
        self.in_flight_batch = []

    async def _send(self) -> None:
        await self._settle()
        if self.stopped or not self.waiting:
            return
        batch, self.waiting = self.waiting, []
        pendings = [p for p, _ in batch]

        def write() -> int:
            try:
                return handle_batch(
                    self.database,
                    self.services,
                    pendings,
                    self.cursor,
                    self._is_stopped,
                    TRANSACTION_SECONDS,
                )
            finally:
                # Let go of the mail before the result is handed back: the executor drops
                # its work item (this function, so the list) only after setting the result,
                # and the event loop may fetch the next large mail first - its text and this
                # one's held at once.
                pendings.clear()

        future = asyncio.get_running_loop().run_in_executor(None, write)
        self.in_flight = (future, [uid for _, uid in batch])
        self.in_flight_batch = batch

    async def _settle(self) -> None:
        if self.in_flight is None:
            return
        future, uids = self.in_flight
        try:
            # Shielded: a cancelled watcher still lets the thread's transaction finish, and
            # learns how far it got.
            done = await asyncio.shield(future)
        finally:
            if not future.done():
                with contextlib.suppress(Exception):
                    await future
            self.in_flight = None
        self.done += done
        for pending, _ in self.in_flight_batch[:done]:
            pending.let_go()  # written
        if done:
            self.last_uid = uids[done - 1]
        if done < len(uids):
            if self._is_stopped():
                self.stopped = True
                for pending, _ in self.in_flight_batch[done:]:
                    pending.let_go()  # read again next time
            else:  # the transaction ran its time: the rest go first in the next one
                self.waiting[:0] = self.in_flight_batch[done:]
        self.in_flight_batch = []
        if self.progress is not None:
            self.progress.done_some(done)


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

    def done_some(self, how_many: int) -> None:
        self.read += how_many
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
    # Mail whose reading or storing failed once, and mail set aside (see MailFault, _remember)
    failed_once: dict[tuple[int, int], None] = {}
    set_aside: dict[tuple[int, int], SetAside] = {}

    async def session_until_failure() -> None:
        mailbox = ImapMailbox(settings.imap, password)  # type: ignore[arg-type]
        try:
            await mailbox.connect()
            announce: bool | None = True
            while not stop.is_set():
                try:
                    await ingest_mail(
                        database,
                        services,
                        mailbox,
                        stop,
                        reader,
                        announce=announce,
                        log_every=PROGRESS_SECONDS,
                        set_aside=set_aside,
                    )
                except MailFault as fault:
                    _remember(fault, failed_once, set_aside)
                    raise
                announce = None
                if stop.is_set():
                    break
                # The mailbox is read through: the mail-reading worker (21-48 MiB) is ended
                # while noxbot waits, which is most of the time, once a burst that follows
                # this pass would have found it (MailReader.rest); the next large mail
                # starts a fresh one (~0.1 s).
                reader.rest()
                await mailbox.wait_for_mail(stop)
        finally:
            # (a worker left by a failure is not kept through the backoff: ~35 MiB)
            reader.close()
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
                # ... and anything else, a bug: logged by its kind and tried again, as the
                # chat poller does - the chat and the sender go on meanwhile, which ending
                # `noxbot run` would stop too (and a restart would meet the same error).
                Exception,
            ),
            describe=_describe,
            longest_wait=_longest_wait,
        )
    finally:
        reader.close()


def _remember(
    fault: MailFault,
    failed_once: dict[tuple[int, int], None],
    set_aside: dict[tuple[int, int], SetAside],
) -> None:
    """A mail that fails for the first time is tried once more, for the error may have been
    the moment's, not the mail's; one that failed before is set aside (kept whole for staff,
    nothing read from it); one that fails even set aside is noted without its bytes - which
    leaves nothing of it to fail. Each is remembered (by UIDVALIDITY and UID) until the
    cursor has passed it, at most MOST_SET_ASIDE at a time."""
    uid = fault.mail[1]
    aside = set_aside.get(fault.mail)
    if aside is not None:
        if aside.with_bytes:
            why = f"{aside.why}; not even its bytes could be kept (it is in the mailbox)"
            set_aside[fault.mail] = SetAside(why, with_bytes=False)
            log.error("mail watcher: the mail at UID %d could not be kept even set aside; "
                      "noted without its bytes", uid)  # fmt: skip
        return
    if fault.mail not in failed_once:
        _bounded_put(failed_once, fault.mail, None)
        return
    del failed_once[fault.mail]
    why = f"{fault.doing} it failed twice ({kind_of(fault.error)})"
    _bounded_put(set_aside, fault.mail, SetAside(why))
    log.error("mail watcher: the mail at UID %d failed twice; set aside for staff", uid)


def _bounded_put(remembered: dict[K, V], key: K, value: V) -> None:
    if len(remembered) >= MOST_SET_ASIDE:
        del remembered[next(iter(remembered))]  # the oldest: the cursor is long past it
    remembered[key] = value


def _describe(exc: BaseException) -> str:
    """An IMAP failure names the server and what it said (a refused login, a lost
    connection); our own messages hold no mail content. Anything else: its kind only."""
    if isinstance(exc, ImapError | MailFault):
        return str(exc)
    if isinstance(exc, TimeoutError | aioimaplib.CommandTimeout):
        return "the IMAP server did not answer in time"
    if is_refusal(exc) and not is_transient(exc):  # a full disk, a permission
        return f"the database refuses: {kind_of(exc)}"
    if isinstance(exc, (OSError, aioimaplib.Abort, *TRANSIENT_DB_ERRORS)):
        return kind_of(exc)
    return f"unexpected error ({type(exc).__name__})"


def _longest_wait(exc: BaseException) -> float:
    """A server that went away is tried again every few seconds (a connection attempt costs
    it nothing), so mail is read soon after it is back, and so is a mail that failed (once
    more, or set aside); a refusal, and a bug no mail is to blame for, back off as usual."""
    if isinstance(exc, ImapError) and not isinstance(exc, ConnectionLost):
        return MAX_BACKOFF
    known = (
        ConnectionLost,
        OSError,
        TimeoutError,
        aioimaplib.Abort,
        aioimaplib.CommandTimeout,
        MailFault,
    )
    if not isinstance(exc, (*known, *TRANSIENT_DB_ERRORS)):
        return MAX_BACKOFF  # a bug no mail is to blame for: tried again, less and less often
    return RECONNECT_SECONDS
