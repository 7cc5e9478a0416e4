"""Cases as records: references, lookups, the people they concern, and alerts to staff.

Shared by the modules that open, verify and answer cases; holds no workflow of its own.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bot.errors import CaseError, NoxbotError
from bot.store import audit
from bot.store.register import find_subject, normalise
from bot.store.tables import (
    AuditEvent,
    ContactKind,
    Outbox,
    ReferenceCounter,
    Request,
    RequestStatus,
    StaffAlert,
    Subject,
)

S = RequestStatus


SYSTEM = "noxbot"


REFERENCE_PATTERN = re.compile(r"\bDSR-(\d{4})-(\d{4,})\b")


_COUNTER = ReferenceCounter.__table__  # type: ignore[attr-defined]
_COUNT_UP = (
    _COUNTER.update()
    .where(_COUNTER.c.year == bindparam("counted_year"))
    .values(last=_COUNTER.c.last + 1)
    .returning(_COUNTER.c.last)
)


def next_reference(session: Session, year: int) -> str:
    """DSR-YYYY-NNNN, numbered per year; the counter row serialises concurrent openers (the
    UPDATE that counts up locks it until the transaction ends, and says the new count in
    the same statement); the year's first case writes the row."""
    connection = session.connection()
    last = connection.execute(_COUNT_UP, {"counted_year": year}).scalar()
    if last is None:  # the year's first, unless another opener writes the row at once too
        last = connection.execute(_first_of_year(connection.dialect.name), {"year": year}).scalar()
    return f"DSR-{year}-{last:04d}"


@cache
def _first_of_year(dialect: str) -> Any:
    """The year's counter row written with 1, or counted up when another transaction wrote
    it meanwhile (two openers of the year's first cases at once: PostgreSQL made the second
    fail on the row's key, and its message was set aside)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_COUNTER).values(year=bindparam("year"), last=1)
    return statement.on_conflict_do_update(
        index_elements=[_COUNTER.c.year], set_={"last": _COUNTER.c.last + 1}
    ).returning(_COUNTER.c.last)


def get_case(session: Session, reference: str) -> Request:
    case = session.exec(select(Request).where(Request.reference == reference.upper())).first()
    if case is None:
        raise CaseError(f"no case with reference {reference}")
    return case


def find_reference(text: str) -> str | None:
    match = REFERENCE_PATTERN.search(text or "")
    return match.group(0) if match else None


def subject_of(session: Session, case: Request) -> Subject | None:
    return session.get(Subject, case.subject_id) if case.subject_id else None


def alert_staff(
    session: Session,
    case: Request | None,
    kind: str,
    text: str,
    *,
    now: datetime,
    message_id: int | None = None,
) -> None:
    """One alert per problem: while an alert of this kind about this case is open, the same
    problem again (another guess, another message in the thread) adds none."""
    if case is not None:
        open_alert = session.exec(
            select(StaffAlert).where(
                StaffAlert.request_id == case.id,
                StaffAlert.kind == kind,
                col(StaffAlert.resolved_at).is_(None),
            )
        ).first()
        if open_alert is not None:
            return
    session.add(
        StaffAlert(
            request_id=case.id if case else None,
            message_id=message_id,
            kind=kind,
            text=text,
            created_at=now,
        )
    )


def resolve_by(
    session: Session,
    alert: StaffAlert,
    why: str,
    *,
    actor: str,
    now: datetime,
    case: Request | None = None,
) -> None:
    """An alert resolved by what `actor` just did (`why`, in a few words: "reply
    withdrawn"), not by staff resolving it: the case's history says which alert went and
    why, as it does for one staff resolve. `why` names no person: the history shows it."""
    alert.resolved_at, alert.resolved_by = now, actor
    session.add(alert)
    if case is None and alert.request_id is not None:
        case = session.get(Request, alert.request_id)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="alert_resolved",
        request=case,
        detail=f"alert {alert.id} ({alert.kind}) {RESOLVED_BY}{why}",
    )


#: What marks a history entry's alert as resolved by another action (resolve_by); one that
#: staff resolved reads "alert 7 (kind): what they wrote".
RESOLVED_BY = "resolved: "

_RESOLUTION = re.compile(r"alert (\d+) \([^)]*\)(?::| resolved:) ?(.*)", re.DOTALL)


def resolution_notes(session: Session, alert_ids: set[int]) -> dict[int, str]:
    """How these alerts were resolved, from the history, by id: what staff wrote when they
    resolved one (nothing, when they wrote nothing), or the action that resolved it."""
    notes: dict[int, str] = {}
    if not alert_ids:
        return notes
    query = select(AuditEvent.detail).where(AuditEvent.action == "alert_resolved")
    for detail in session.exec(query):
        found = _RESOLUTION.match(detail or "")
        if found and int(found[1]) in alert_ids and found[2]:
            notes[int(found[1])] = found[2]
    return notes


def resolve_send_failed(
    session: Session, row: Outbox, *, actor: str, now: datetime, why: str
) -> None:
    """The open "could not be sent" alert about this message, resolved: it was queued again
    or withdrawn (`why`), so there is nothing left for staff to do about it. Its case's
    history says so (the alert itself names no case: the outbox row does)."""
    case = session.get(Request, row.request_id) if row.request_id is not None else None
    for alert in list(
        session.exec(
            select(StaffAlert).where(
                StaffAlert.kind == "send_failed",
                col(StaffAlert.text).startswith(f"outbox {row.id} ("),
                col(StaffAlert.resolved_at).is_(None),
            )
        )
    ):
        resolve_by(session, alert, why, actor=actor, now=now, case=case)


def contact_kind_of(channel: str) -> ContactKind | None:
    return {
        "email": ContactKind.EMAIL,
        "telegram": ContactKind.TELEGRAM,
        "phone": ContactKind.PHONE,
    }.get(channel)


def find_requester(session: Session, channel: str, address: str) -> Subject | None:
    """The person on file the request came from; post intake may give an email or phone."""
    kind = contact_kind_of(channel)
    if kind is not None:
        return find_subject(session, kind, address)
    for kind in (ContactKind.EMAIL, ContactKind.PHONE):
        if subject := find_subject(session, kind, address):
            return subject
    return None


def greeting_name(session: Session, case: Request) -> str | None:
    """Who a letter greets: the register's name of the person on file when the request came
    from one of their own contact points, where the answer goes (it reaches only them, as
    any register value sent there does; a Telegram name is often a nickname, "User5002"),
    else the name the sender gave (a mail's display name, a Telegram name). A letter to an
    address not on file for the person never names them by the register."""
    if case.subject_id is not None:
        owner = find_requester(session, case.channel, case.requester_address)
        if owner is not None and owner.id == case.subject_id and owner.name:
            # A reply that changes the name greets by the new one (it is made on approval).
            renamed = [c.get("new") for c in case.requested_changes if c.get("field") == "name"]
            return str(renamed[-1]) if renamed and renamed[-1] else owner.name
    return case.requester_name or None


def normalised_or_raw(channel: str, address: str) -> str:
    kind = contact_kind_of(channel)
    if kind is None:
        return address
    try:
        return normalise(kind, address)
    except NoxbotError:
        return address
