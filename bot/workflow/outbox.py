"""The outbox: queueing a message (its Message-ID fixed at once, so a retry is the same
message), and staff sending one that gave up once more. bot.workflow.sending sends.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, col, select

from bot.channels.messages import Attachment, Button
from bot.errors import NoxbotError
from bot.rules.channels import ChannelName
from bot.store import audit
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
) -> Outbox:
    """Queue one message; its Message-ID (in the domain we send from) is fixed now, so a
    retry sends the same message."""
    domain = from_address.rpartition("@")[2] or "localhost"
    headers: dict[str, object] = {"message_id": f"<{uuid.uuid4().hex}@{domain}>"}
    if case is not None:
        headers["reference"] = case.reference
        if channel is ChannelName.EMAIL:
            first = session.exec(
                select(Message)
                .where(
                    Message.request_id == case.id,
                    Message.direction == "in",
                    Message.channel == "email",
                )
                .order_by(col(Message.id))
            ).first()
            if first is not None and first.message_id and first.address == address:
                headers["in_reply_to"] = first.message_id
                headers["references"] = [*first.references, first.message_id]
        if channel is ChannelName.TELEGRAM:
            first = session.exec(
                select(Message)
                .where(
                    Message.request_id == case.id,
                    Message.direction == "in",
                    Message.channel == "telegram",
                    Message.address == address,
                )
                .order_by(col(Message.id))
            ).first()
            if first is not None and first.telegram_message_id:
                headers["reply_to_message_id"] = first.telegram_message_id
    if auto_submitted:
        headers["auto_submitted"] = "auto-generated"  # RFC 3834 §5
    if buttons:
        headers["buttons"] = [[b.label, b.data] for b in buttons]
    if case is not None and channel is ChannelName.EMAIL and case.reference not in subject:
        subject = f"{subject} [{case.reference}]".strip()
    outbox = Outbox(
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
    session.add(outbox)
    session.flush()
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


def requeue(session: Session, services: Services, outbox_id: int, *, actor: str) -> Outbox:
    """Staff send a message that gave up (say, after fixing a mailbox address or a login)
    once more, with fresh attempts; the same Message-ID, so it is the same message."""
    row = session.get(Outbox, outbox_id)
    if row is None:
        raise NoxbotError(f"no outbox message with id {outbox_id}")
    if row.status != OutboxStatus.FAILED:
        # A cancelled one was withdrawn by an erasure: its content is gone, and must stay so.
        raise NoxbotError(f"outbox {outbox_id} is {row.status}; only a failed message is retried")
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


def withdraw_challenges(
    session: Session, request_id: int | None, address: str | None = None
) -> int:
    """Challenges of a case still queued when the case no longer waits for them (it ended,
    was verified another way, or that challenge failed): they must not go out asking for a
    code nobody will take. Only those addressed to `address`, when given. Returns how many."""
    query = select(Outbox).where(
        Outbox.request_id == request_id,
        Outbox.purpose == "verification_challenge",
        Outbox.status == OutboxStatus.QUEUED,
    )
    if address is not None:
        query = query.where(Outbox.address == address)
    withdrawn = 0
    for row in session.exec(query):
        row.status = OutboxStatus.CANCELLED
        row.last_error = "withdrawn: the challenge no longer applies"
        session.add(row)
        withdrawn += 1
    return withdrawn
