"""The audit trail: append-only events, each carrying the hash of the one before it.

Anyone who edits or deletes an event breaks the chain, and `verify_chain` says where.
Appends are serialised: on PostgreSQL a transaction-scoped advisory lock is taken before the
newest hash is read (held until commit), on SQLite the database's single writer does the
same. `prev_hash` is unique besides, so a chain can never fork whatever happens.

The newest hash is read once per transaction: while the transaction holds the lock nobody
else can append, so the hash of the event this transaction appended last is the chain's
head. It is kept in the session (`session.info`) and forgotten when a savepoint or the
transaction rolls back (the events it covered are gone) and when the transaction ends.
Each event is written by a plain INSERT in the caller's transaction (an event is never
changed, and refers to nothing by a foreign key): its id follows the chain, and it costs a
fraction of a flush of the unit of work. While a batch of inbound mail is written, events
wait and go several to one INSERT (bot.store.later), before anything reads the trail.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import event as orm_event
from sqlalchemy import text
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from bot.store.later import insert_later
from bot.store.tables import AuditEvent, Request

GENESIS = "0" * 64


def event_hash(
    *,
    prev_hash: str,
    at: datetime,
    actor: str,
    request_id: int | None,
    reference: str | None,
    action: str,
    from_state: str | None,
    to_state: str | None,
    detail: str,
) -> str:
    """SHA-256 over the previous hash and a canonical JSON of the event's fields."""
    body = json.dumps(
        [
            prev_hash,
            at.isoformat(),
            actor,
            request_id,
            reference,
            action,
            from_state,
            to_state,
            detail,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


#: The advisory lock that serialises appends to the chain on PostgreSQL ("noxaudit").
CHAIN_LOCK = 0x6E6F78617564


def hold_chain(session: Session) -> None:
    """Hold the chain until the transaction ends - before its head is read, and before the
    rows a staff action claims: every writer takes it first, then rows, so that two actions
    never hold what the other waits for (an approval holding a draft and waiting for the
    chain, while a closing held the chain and waited for that draft, deadlocked on
    PostgreSQL). On PostgreSQL an advisory lock; on SQLite the database's write lock, taken
    by a write that changes nothing (a SELECT there runs outside any transaction, so two
    staff actions at once read the same head, and the second failed on the head's key)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    else:
        session.execute(_TAKE_WRITE_LOCK)


_TAKE_WRITE_LOCK = text("UPDATE audit_event SET id = id WHERE id = -1")  # (no row: a key lookup)


def _last_hash(session: Session) -> str:
    last = session.exec(select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1))
    return last.first() or GENESIS


_EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]

#: session.info key of the chain's head as this transaction left it (see the module's doc).
_HEAD = "noxbot.audit_head"


@orm_event.listens_for(OrmSession, "after_soft_rollback")
def _forget_head_on_rollback(session: OrmSession, _previous: SessionTransaction) -> None:
    session.info.pop(_HEAD, None)


@orm_event.listens_for(OrmSession, "after_transaction_end")
def _forget_head_at_end(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction (not a savepoint) ended
        session.info.pop(_HEAD, None)


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    request: Request | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: str = "",
) -> None:
    """Append one event to the chain (in the caller's transaction), stamped `at` (the
    workflow's clock: the trail reads in the same time as the cases it records). No
    AuditEvent object is made: events are never changed, and making one cost more than
    writing it."""
    if request is not None and request.id is None:
        session.flush()  # a case not yet written gets its id (and reference) first
    if at.tzinfo is not None:  # stored in UTC: the hash must be of the time as stored
        at = at.astimezone(UTC)
    prev = session.info.get(_HEAD)
    if prev is None:  # the first append of this transaction: take the lock, read the head
        hold_chain(session)
        prev = _last_hash(session)  # (its query flushes whatever is pending first)
    fields = dict(
        at=at,
        actor=actor,
        request_id=request.id if request else None,
        reference=request.reference if request else None,
        action=action,
        from_state=from_state,
        to_state=to_state,
        detail=detail,
    )
    digest = event_hash(prev_hash=prev, **fields)
    row = {**fields, "prev_hash": prev, "hash": digest}
    insert_later(session, _EVENTS, row)
    session.info[_HEAD] = digest


@dataclass(frozen=True)
class ChainProblem:
    event_id: int | None
    problem: str


def verify_chain(session: Session) -> tuple[int, list[ChainProblem]]:
    """Walk the chain in order; returns the number of events and every break found."""
    problems: list[ChainProblem] = []
    expected_prev = GENESIS
    count = 0
    for event in session.exec(select(AuditEvent).order_by(col(AuditEvent.id))):
        count += 1
        if event.prev_hash != expected_prev:
            problems.append(
                ChainProblem(
                    event.id,
                    "does not follow the event before it (an event was removed or inserted)",
                )
            )
        recomputed = event_hash(
            prev_hash=event.prev_hash,
            at=event.at,
            actor=event.actor,
            request_id=event.request_id,
            reference=event.reference,
            action=event.action,
            from_state=event.from_state,
            to_state=event.to_state,
            detail=event.detail,
        )
        if recomputed != event.hash:
            problems.append(ChainProblem(event.id, "was changed after it was written"))
        expected_prev = event.hash
    return count, problems


def chain_head(session: Session) -> str:
    """The newest event's hash: kept outside the database, it makes truncation detectable."""
    return _last_hash(session)


def contains_hash(session: Session, event_hash_value: str) -> bool:
    found = session.exec(select(AuditEvent.id).where(AuditEvent.hash == event_hash_value))
    return found.first() is not None
