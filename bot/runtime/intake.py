"""One inbound message and its channel cursor in one transaction: processed once, never
lost; a message that breaks the pipeline is quarantined for staff and the cursor moves on."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import QueuePool
from sqlmodel import Session, col, select

from bot.channels.messages import InboundMessage
from bot.reading.classifier import Classification
from bot.store.database import Database, is_database_wide, is_refusal, is_transient
from bot.store.later import writing_later
from bot.store.tables import ChannelCursor, Message
from bot.workflow.pipeline import process_inbound, quarantine
from bot.workflow.services import Services

log = logging.getLogger("noxbot")


def read_cursor(session: Session, name: str) -> str | None:
    row = session.get(ChannelCursor, name)
    return row.value if row else None


def write_cursor(session: Session, name: str, value: str, now: datetime) -> ChannelCursor:
    """Set the cursor `name` (made if new); returns its row, which a caller moving it again
    in the same transaction keeps: the session holds a clean row only weakly, and looking
    it up again would read it again."""
    row = session.get(ChannelCursor, name) or ChannelCursor(name=name, value=value)
    row.value = value
    row.updated_at = now
    session.add(row)
    return row


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
    - the database is down or busy (`is_transient`), or refuses every message alike (a
      full disk, a permission taken away: `is_refusal`): re-raised, the cursor
      stays, the worker waits and reads the message again — nothing is lost, nothing
      quarantined;
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
        if is_transient(exc) or is_refusal(exc):
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


class KeptBytes(Protocol):
    """A message's bytes kept outside it (bot.runtime.mail_reader.KeptOriginal: a large
    mail's wait in a file while it is read and written)."""

    size: int

    def read(self) -> bytes: ...

    def close(self) -> None: ...


class UnstorableMessage(Exception):
    """Not even a bare record of the message at `position` could be stored (a bug, met by
    this message): the batch is rolled back whole. The mail watcher tries once more, then
    sets the mail aside, stored as unreadable with nothing read from it but its bytes."""

    def __init__(self, position: str, error: BaseException) -> None:
        super().__init__(f"storing a message failed ({type(error).__name__})")
        self.position, self.error = position, error


@dataclass(frozen=True)
class Pending:
    """One message read and waiting for the pipeline, with where the cursor goes after it.

    `original`: the message's bytes, where `inbound.raw` holds none - wanted only if it has
    to be quarantined; whoever made the Pending closes it once the message is written."""

    inbound: InboundMessage
    position: str
    classification: Classification | None = None
    original: KeptBytes | None = None

    def let_go(self) -> None:
        """Close what holds the message's bytes outside it (it is written, or will be read
        again)."""
        if self.original is not None:
            self.original.close()


def handle_batch(
    database: Database,
    services: Services,
    batch: list[Pending],
    cursor: str,
    stopped: Callable[[], bool] = lambda: False,
    max_seconds: float | None = None,
) -> int:
    """Several messages in ONE transaction, the cursor moved to the last one done in that
    same transaction; returns how many were done (all of them,
    unless `stopped()` turned true — then it ends after the message in hand — or the
    transaction has lasted `max_seconds`: the others wait for the next one, so that no
    other writer waits long for the database).

    A commit per message cost more than most messages (an fsync on SQLite, a round trip on
    PostgreSQL); this keeps every guarantee of handle_inbound:
    - processed once, never lost: the effects and the cursor commit together or not at all;
    - a message that fails for a reason of its own is quarantined and the rest go on: the
      batch is first written without a savepoint per message (see _write_batch); when one
      fails, that transaction is rolled back whole and the batch written again with each
      message in a savepoint of its own, the failing one then rolled back to it and
      quarantined (in a savepoint of its own, a bare record as the last resort);
    - a database that is down or busy (`is_transient`), or one that refuses a message for
      no fault of its own (`is_refusal`: a full disk, a permission taken away from a
      table): nothing of the batch is kept, the error is re-raised and the whole batch
      read again later - never quarantined, which would set aside every request alike.

    The transaction begins with a write (the cursor), so that on SQLite it holds the write
    lock from the start and the savepoints nest inside it (pysqlite opens a transaction
    only before a write; a SAVEPOINT outside one would commit on RELEASE).

    Which of the batch's messages are stored already is asked once for the whole batch,
    inside the transaction; a key that comes twice in the batch is looked up again the
    second time (the first may have stored it)."""
    if not batch:
        return 0
    began = time.monotonic()
    try:
        return _write_batch(database, services, batch, cursor, stopped, max_seconds, False)
    except Exception as exc:
        if is_transient(exc) or is_refusal(exc):
            raise
        failure = type(exc).__name__
    # A message failed for a reason of its own, and nothing of the batch was kept: again,
    # each message in a savepoint of its own, so that it alone is quarantined — in the
    # time the first writing left (at least one message is written, whatever is left).
    log.warning("a batch of %d messages failed (%s); writing it again message by message",
                len(batch), failure)  # fmt: skip
    left = None if max_seconds is None else max(max_seconds - (time.monotonic() - began), 0.0)
    return _write_batch(database, services, batch, cursor, stopped, left, True)


def _write_batch(
    database: Database,
    services: Services,
    batch: list[Pending],
    cursor: str,
    stopped: Callable[[], bool],
    max_seconds: float | None,
    guarded: bool,
) -> int:
    """handle_batch's transaction; `guarded`: each message in a savepoint of its own (a
    failure is quarantined), else none (a failure ends the transaction, rolled back).

    Why not always guarded: a savepoint and its release cost more than storing an ordinary
    mail does, and a message fails so rarely that writing a batch a second time then is
    far cheaper than a savepoint around every message. For the same reason, unguarded,
    ordinary mail and audit events wait and go several to one INSERT (bot.store.later):
    a row the database refuses then fails the transaction, whose message it was."""
    done = 0
    began = time.monotonic()
    with database.session() as session, _batched(session, guarded):
        if sum(map(bytes_held, batch)) >= CLOSE_AFTER_BYTES:
            _closed_after(session)
        row = write_cursor(session, cursor, batch[0].position, services.clock())
        session.flush()
        new = _new_keys(session, [p.inbound.dedupe_key() for p in batch])
        for pending in batch:
            key = pending.inbound.dedupe_key()
            if guarded:
                _in_savepoint(session, services, pending, known_new=key in new)
            else:
                process_inbound(
                    session,
                    services,
                    pending.inbound,
                    classification=pending.classification,
                    known_new=key in new,
                )
            new.discard(key)
            done += 1
            if stopped() or (max_seconds is not None and time.monotonic() - began > max_seconds):
                break
        row.value, row.updated_at = batch[done - 1].position, services.clock()
    return done


#: A transaction that writes mail of this many bytes closes its database connection when it
#: ends, instead of returning it to the pool: the driver keeps a buffer the size of the
#: largest statement it sent (libpq, and sqlite3 likewise), ~5 MB more for as long as the
#: connection lives after one mail of 5 MB of text - per pooled connection.
CLOSE_AFTER_BYTES = 1024 * 1024


def bytes_held(pending: Pending) -> int:
    """About what a read mail holds until it is written, and what writing it sends: its
    bytes (in memory, or waiting in a file: a batch's files are bounded as its memory is),
    its text and its subject."""
    inbound = pending.inbound
    kept = pending.original.size if pending.original is not None else 0
    return len(inbound.raw or b"") + kept + len(inbound.text or "") + len(inbound.subject or "")


def _closed_after(session: Session) -> None:
    """The session's connection closed when the session ends, not pooled (a new one is
    made when next needed, a few milliseconds); not for a pool of one connection (an
    in-memory SQLite database lives in it)."""
    connection = session.connection()
    if isinstance(connection.engine.pool, QueuePool):
        connection.detach()


def _batched(session: Session, guarded: bool) -> AbstractContextManager[None]:
    return contextlib.nullcontext() if guarded else writing_later(session)


def _new_keys(session: Session, keys: list[str]) -> set[str]:
    """The keys no stored message has (one indexed query for the batch)."""
    stored = session.exec(select(Message.dedupe_key).where(col(Message.dedupe_key).in_(keys)))
    return set(keys) - set(stored)


def _in_savepoint(
    session: Session, services: Services, pending: Pending, *, known_new: bool = False
) -> None:
    try:
        with session.begin_nested():
            process_inbound(
                session,
                services,
                pending.inbound,
                classification=pending.classification,
                known_new=known_new,
            )
        return
    except Exception as exc:  # any other failure: keep the message, tell staff, go on
        if _transaction_lost(session):
            raise _first_database_error(exc) from None
        if is_transient(exc) or is_refusal(exc):
            raise
        error = exc
    whole = _with_original(pending)
    for bare in (False, True):
        try:
            with session.begin_nested():
                quarantine(session, whole, error, now=services.clock(), bare=bare)
        except Exception as exc:  # the bare record is the last resort
            if _transaction_lost(session):
                raise _first_database_error(exc) from None
            if is_transient(exc) or is_database_wide(exc):
                raise
            if bare:
                raise UnstorableMessage(pending.position, exc) from exc
            log.error("storing a failed message (%s); keeping a bare record", type(exc).__name__)
            continue
        log.error("pipeline failed on a message (%s); quarantined for staff", type(error).__name__)
        return


def _transaction_lost(session: Session) -> bool:
    """Whether the database ended the batch's transaction itself: SQLite rolls back the whole
    transaction, savepoints and all, on some errors (a full disk, an I/O error) - whatever
    was written next would be committed on its own, outside the batch and without its
    cursor. The batch is then read again from the cursor, as after a database that went
    away. (PostgreSQL keeps the transaction: a failed savepoint is rolled back to.)"""
    driver = session.connection().connection.dbapi_connection
    return isinstance(driver, sqlite3.Connection) and not driver.in_transaction


def _first_database_error(error: BaseException) -> BaseException:
    """The first database error in the chain that led to `error`: what the database said
    before the rollback it did itself made releasing the savepoint fail too ("no such
    savepoint"), so that the workers say - and judge - what happened first."""
    first, seen = error, error.__context__
    for _ in range(4):
        if seen is None:
            break
        if isinstance(seen, sa_exc.DBAPIError):
            first = seen
        seen = seen.__context__
    return first


def _with_original(pending: Pending) -> InboundMessage:
    """The message with its bytes, to be kept for staff (read back where they wait in a
    file); without them, if they cannot be read back - its text is kept all the same."""
    inbound = pending.inbound
    if inbound.raw is not None or pending.original is None:
        return inbound
    try:
        return replace(inbound, raw=pending.original.read())
    except OSError as exc:
        log.error("a failed message's bytes could not be read back (%s)", type(exc).__name__)
        return inbound
