"""The outbox: queueing a message (its Message-ID fixed at once, so a retry is the same
message), and staff sending one that gave up once more. bot.workflow.sending sends.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam
from sqlmodel import Session, col, select

from bot.channels.messages import Attachment, Button
from bot.errors import NoxbotError
from bot.rules.channels import ChannelName
from bot.store import audit
from bot.store.records import SYSTEM, resolve_send_failed
from bot.store.rows import insert_now, new_row, update_now_if
from bot.store.tables import (
    Draft,
    Message,
    Outbox,
    OutboxStatus,
    Request,
)
from bot.workflow.services import Services

#: Header key listing secrets (a verification code) in a row's text: blanked once the row is
#: sent or given up, so the database never keeps a code that could confirm a challenge.
REDACT_AFTER_SENDING = "redact_after_sending"
REDACTED = "••••••"
#: Header key: a message withdrawn while the sender was handing it over (the person on file
#: said "it wasn't me"). If that attempt fails, or the sender died during it, it is not tried
#: again: cancelled, with this note (bot.workflow.sending).
WITHDRAW_UNLESS_SENT = "withdraw_unless_sent"


def text_to_show(row: Outbox) -> str:
    """A message's text as staff may read it: a verification code it carries hidden even
    while it waits to be sent (once sent, the stored text no longer holds it). A code staff
    could read would let anyone at the console confirm a stranger's request."""
    text = row.text
    for secret in row.headers.get(REDACT_AFTER_SENDING) or []:
        text = text.replace(secret, REDACTED)
    return text


def queue_outbox(
    session: Session,
    case: Request | None,
    channel: ChannelName,
    address: str,
    subject: str,
    text: str,
    *,
    purpose: str,
    draft: Draft | None = None,
    attachments: list[Attachment] | None = None,
    buttons: list[Button] | None = None,
    auto_submitted: bool = False,
    now: datetime,
    from_address: str,
    replying_to: Message | None = None,
) -> Outbox:
    """Queue one message; its Message-ID (in the domain we send from) is fixed now, so a
    retry sends the same message. `replying_to`: the case's first inbound message, when
    the caller knows it (a case just opened by it): else it is looked up."""
    domain = from_address.rpartition("@")[2] or "localhost"
    headers: dict[str, object] = {"message_id": f"<{uuid.uuid4().hex}@{domain}>"}
    if case is not None:
        headers["reference"] = case.reference
        if channel is ChannelName.EMAIL:
            first = _first_inbound(session, case, "email", known=replying_to)
            if first is not None and first.message_id and first.address == address:
                headers["in_reply_to"] = first.message_id
                headers["references"] = [*first.references, first.message_id]
        if channel is ChannelName.TELEGRAM:
            first = _first_inbound(session, case, "telegram", address, known=replying_to)
            if first is not None and first.telegram_message_id:
                headers["reply_to_message_id"] = first.telegram_message_id
    if auto_submitted:
        headers["auto_submitted"] = "auto-generated"  # RFC 3834 §5
    if buttons:
        headers["buttons"] = [[b.label, b.data] for b in buttons]
    if case is not None and channel is ChannelName.EMAIL and case.reference not in subject:
        subject = f"{subject} [{case.reference}]".strip()
    outbox = new_row(
        Outbox,
        request_id=case.id if case else None,
        draft_id=draft.id if draft else None,
        channel=channel,
        address=address,
        subject=subject,
        text=text,
        attachments=[a.__dict__ for a in attachments or []],
        headers=headers,
        purpose=purpose,
        created_at=now,
        next_attempt_at=now,
    )
    insert_now(session, outbox)  # (bot.store.rows: its id is needed at once, below)
    if case is not None:
        audit.record(
            session,
            at=now,
            actor="noxbot",
            action="queued",
            request=case,
            detail=f"outbox {outbox.id} ({purpose}) to {channel}",
        )
    return outbox


_FIRST_INBOUND = (
    select(  # type: ignore[call-overload]
        Message.message_id, Message.address, Message.references, Message.telegram_message_id
    )
    .where(
        Message.request_id == bindparam("case_id"),
        Message.direction == "in",
        Message.channel == bindparam("channel"),
    )
    .order_by(col(Message.id))
    .limit(1)
)
_FIRST_INBOUND_FROM = _FIRST_INBOUND.where(Message.address == bindparam("address"))


def _first_inbound(
    session: Session,
    case: Request,
    channel: str,
    address: str | None = None,
    *,
    known: Message | None = None,
) -> Row[Any] | Message | None:
    """The first message of the case that came in on `channel` (from `address`, if given):
    what a reply threads to. A Core query for four columns (every acknowledgement sent at
    once asks it; the ORM's query for the whole row cost five times as much). `known`: the
    case's first inbound message as the caller has it — used when it is of `channel` (and
    from `address`), as the query would find it; else the query answers."""
    if (
        known is not None
        and known.request_id == case.id
        and known.direction == "in"
        and known.channel == channel
        and (address is None or known.address == address)
    ):
        return known
    if session.autoflush:
        session.flush()  # (as the ORM's query would)
    query, params = _FIRST_INBOUND, {"case_id": case.id, "channel": channel}
    if address is not None:
        query, params = _FIRST_INBOUND_FROM, {**params, "address": address}
    result = session.connection().execute(query, params)
    return result.first()


def requeue(session: Session, services: Services, outbox_id: int, *, actor: str) -> Outbox:
    """Staff send a message that gave up (say, after fixing a mailbox address or a login)
    once more, with fresh attempts; the same Message-ID, so it is the same message."""
    row = session.get(Outbox, outbox_id)
    if row is None:
        raise NoxbotError(f"no outbox message with id {outbox_id}")
    if row.status != OutboxStatus.FAILED:
        # A cancelled one was withdrawn (an erasure: its content is gone, and must stay so;
        # the person on file saying they did not ask): it must not go out.
        why = (
            f" ({row.last_error})"
            if row.status == OutboxStatus.CANCELLED and row.last_error
            else ""
        )
        raise NoxbotError(
            f"outbox {outbox_id} is {row.status}{why}; only a failed message is retried"
        )
    if row.purpose == "verification_challenge":
        case = session.get(Request, row.request_id) if row.request_id else None
        reference = case.reference if case is not None else "REF"
        raise NoxbotError(
            f"outbox {outbox_id} is a verification challenge; when it failed its verification "
            f"ended and the case went to staff (noxbot requests verify {reference} --by phone "
            f"--note '…', or noxbot requests close {reference} --reason '…')"
        )
    row.status = OutboxStatus.QUEUED
    row.attempts = 0
    row.next_attempt_at = services.clock()
    session.add(row)
    # Its "could not be sent" alert is answered by this; should it fail again, that is a
    # new alert, not a second one open about the same message.
    resolve_send_failed(
        session, row, actor=actor, now=services.clock(), why=f"outbox {row.id} queued again"
    )
    case = session.get(Request, row.request_id) if row.request_id else None
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="requeued",
        request=case,
        detail=f"outbox {row.id}",
    )
    return row


def withdraw_unless_sent(session: Session, request_id: int | None, purpose: str, note: str) -> int:
    """The case's messages of `purpose` the sender is handing over right now: they cannot be
    stopped, but they are not tried again should this attempt fail (WITHDRAW_UNLESS_SENT).
    Returns how many."""
    marked = 0
    for row in list(
        session.exec(
            select(Outbox).where(
                Outbox.request_id == request_id,
                Outbox.purpose == purpose,
                Outbox.status == OutboxStatus.SENDING,
            )
        )
    ):
        headers = {**row.headers, WITHDRAW_UNLESS_SENT: note}
        if update_now_if(session, row, {"status": OutboxStatus.SENDING}, headers=headers):
            marked += 1
    return marked


def withdraw_challenges(
    session: Session, request_id: int | None, address: str | None = None
) -> int:
    """Challenges of a case still queued when the case no longer waits for them (it ended,
    was verified another way, or that challenge failed): they must not go out asking for a
    code nobody will take. Only those addressed to `address`, when given. Returns how many."""
    note = "withdrawn: the challenge no longer applies"
    return withdraw_queued(session, request_id, "verification_challenge", note, address)


def withdraw_queued(
    session: Session,
    request_id: int | None,
    purpose: str,
    note: str,
    address: str | None = None,
    *,
    failed_too: bool = False,
    actor: str = SYSTEM,
    now: datetime | None = None,
) -> int:
    """The case's messages of `purpose` still queued (to `address`, when given) cancelled
    with `note`; one the sender has taken meanwhile is left to go (a conditional write:
    the sender's "sending" is never overwritten). `failed_too`: also those that gave up,
    which staff could otherwise send again (`requeue`) after the reason to withdraw them;
    their "could not be sent" alerts are resolved by `actor` at `now` (nothing is left to
    retry). Returns how many were withdrawn."""
    statuses = [OutboxStatus.QUEUED, *([OutboxStatus.FAILED] if failed_too else [])]
    query = select(Outbox).where(
        Outbox.request_id == request_id,
        Outbox.purpose == purpose,
        col(Outbox.status).in_(statuses),
    )
    if address is not None:
        query = query.where(Outbox.address == address)
    withdrawn = 0
    for row in list(session.exec(query)):
        was = {"status": row.status}
        if update_now_if(session, row, was, status=OutboxStatus.CANCELLED, last_error=note):
            withdrawn += 1
            if was["status"] == OutboxStatus.FAILED and now is not None:
                why = f"{purpose.replace('_', ' ')} {note}"  # ("reply withdrawn: …")
                resolve_send_failed(session, row, actor=actor, now=now, why=why)
    return withdrawn
