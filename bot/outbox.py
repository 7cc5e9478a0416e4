"""The outbox: queueing a message (its Message-ID fixed at once), and the sender that sends
what was approved (and automatic verification messages), retries with backoff when a
server is down, and records what went out so replies thread.

A row is claimed (queued → sending) in its own transaction before the network call, so two
senders never send the same row; PostgreSQL claims with FOR UPDATE SKIP LOCKED. A row left
in `sending` by a crash is retried after STALE_SENDING: at least once, with the same
Message-ID, which is as close to exactly once as SMTP and the Bot API allow.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, or_, select

from bot import audit
from bot.channels.base import (
    Attachment,
    Button,
    ChannelName,
    OutboundChannel,
    OutboundMessage,
    SendError,
)
from bot.db import Database
from bot.lifecycle import transition
from bot.models import (
    Direction,
    Draft,
    Message,
    MessageState,
    Outbox,
    OutboxStatus,
    Request,
    RequestStatus,
    StaffAlert,
)
from bot.services import Services

MAX_ATTEMPTS = 8
STALE_SENDING = timedelta(minutes=10)
#: Header key listing secrets (a verification code) in a row's text: blanked once the row is
#: sent or given up, so the database never keeps a code that could confirm a challenge.
REDACT_AFTER_SENDING = "redact_after_sending"
REDACTED = "••••••"


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at one hour."""
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def to_outbound(row: Outbox) -> OutboundMessage:
    headers = row.headers
    return OutboundMessage(
        channel=ChannelName(row.channel),
        address=row.address,
        subject=row.subject,
        text=row.text,
        attachments=tuple(Attachment(**a) for a in row.attachments),
        message_id=headers.get("message_id"),
        in_reply_to=headers.get("in_reply_to"),
        references=tuple(headers.get("references", ())),
        reply_to_message_id=headers.get("reply_to_message_id"),
        buttons=tuple(Button(label, data) for label, data in headers.get("buttons", ())),
        extra_headers=tuple(
            (name, value)
            for name, value in (
                ("Auto-Submitted", headers.get("auto_submitted")),
                ("X-Noxbot-Reference", headers.get("reference")),
            )
            if value
        ),
    )


def claim_due(session: Session, services: Services, limit: int) -> list[Outbox]:
    now = services.clock()
    query = (
        select(Outbox)
        .where(
            or_(
                (col(Outbox.status) == OutboxStatus.QUEUED) & (col(Outbox.next_attempt_at) <= now),
                (col(Outbox.status) == OutboxStatus.SENDING)
                & (col(Outbox.next_attempt_at) <= now - STALE_SENDING),
            )
        )
        .order_by(col(Outbox.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.exec(query))
    for row in rows:
        row.status = OutboxStatus.SENDING
        row.next_attempt_at = now
        session.add(row)
    return rows


def _redact(row: Outbox) -> None:
    secrets = row.headers.get(REDACT_AFTER_SENDING)
    if not secrets:
        return
    for secret in secrets:
        row.text = row.text.replace(secret, REDACTED)
    row.headers = {k: v for k, v in row.headers.items() if k != REDACT_AFTER_SENDING}


def _mark_sent(session: Session, services: Services, row: Outbox, sent_ref: str) -> None:
    _redact(row)
    row.status = OutboxStatus.SENT
    row.sent_at = services.clock()
    row.sent_ref = sent_ref
    row.attempts += 1
    session.add(row)
    is_telegram = row.channel == ChannelName.TELEGRAM
    session.add(
        Message(
            dedupe_key=f"out:{row.id}",
            direction=Direction.OUTBOUND,
            channel=row.channel,
            request_id=row.request_id,
            address=row.address,
            subject=row.subject,
            text=row.text,
            message_id=row.headers.get("message_id") if not is_telegram else None,
            in_reply_to=row.headers.get("in_reply_to"),
            references=list(row.headers.get("references", [])),
            telegram_chat_id=int(row.address) if is_telegram and row.address.isdigit() else None,
            telegram_message_id=int(sent_ref) if is_telegram and sent_ref.isdigit() else None,
            received_at=row.sent_at,
            state=MessageState.RECEIVED,
            state_reason=f"sent ({row.purpose})",
        )
    )
    case = session.get(Request, row.request_id) if row.request_id else None
    if case is not None:
        audit.record(
            session,
            actor="noxbot",
            action="sent",
            request=case,
            detail=f"outbox {row.id} ({row.purpose}) by {row.channel}",
        )
        if row.purpose == "reply" and case.status == RequestStatus.APPROVED:
            transition(
                session,
                case,
                RequestStatus.DONE,
                actor="noxbot",
                reason="approved reply sent and its actions carried out",
            )


def _mark_failed(session: Session, services: Services, row: Outbox, error: SendError) -> bool:
    """Returns True when the row gave up for good."""
    row.attempts += 1
    row.last_error = str(error)
    give_up = error.permanent or row.attempts >= MAX_ATTEMPTS
    if give_up:
        _redact(row)
        row.status = OutboxStatus.FAILED
        session.add(
            StaffAlert(
                request_id=row.request_id,
                kind="send_failed",
                text=f"outbox {row.id} ({row.purpose}) to {row.channel} could "
                f"not be sent after {row.attempts} attempts: {error}",
            )
        )
    else:
        row.status = OutboxStatus.QUEUED
        row.next_attempt_at = services.clock() + backoff(row.attempts)
    session.add(row)
    return give_up


async def deliver_due(
    database: Database,
    services: Services,
    channels: Mapping[ChannelName, OutboundChannel],
    *,
    limit: int = 50,
) -> DeliveryReport:
    """Send every due outbox row whose channel is here; one transaction per row's result."""
    report = DeliveryReport()
    with database.session() as session:
        rows = [r for r in claim_due(session, services, limit)]
        for row in rows:
            if ChannelName(row.channel) not in channels:
                row.status = OutboxStatus.QUEUED  # leave it for a worker that has the channel
                session.add(row)
        claimed = [(r.id, to_outbound(r)) for r in rows if ChannelName(r.channel) in channels]
    for row_id, outbound in claimed:
        channel = channels[outbound.channel]
        try:
            try:
                sent_ref = await channel.send(outbound)
            except SendError:
                raise
            except Exception as exc:  # an adapter bug must not stop the sender: retry later
                raise SendError(f"unexpected {type(exc).__name__} while sending") from exc
        except SendError as exc:
            with database.session() as session:
                row = session.get(Outbox, row_id)
                assert row is not None
                if _mark_failed(session, services, row, exc):
                    report.failed.append(row_id or 0)
                else:
                    report.retrying.append(row_id or 0)
            continue
        with database.session() as session:
            row = session.get(Outbox, row_id)
            assert row is not None
            _mark_sent(session, services, row, sent_ref)
        report.sent.append(row_id or 0)
    return report


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
    now: datetime | None = None,
) -> Outbox:
    """Queue one message; its Message-ID is fixed now so a retry sends the same message."""
    domain = "noxconsulting.se"
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
        **({"created_at": now, "next_attempt_at": now} if now is not None else {}),
    )
    session.add(outbox)
    session.flush()
    if case is not None:
        audit.record(
            session,
            actor="noxbot",
            action="queued",
            request=case,
            detail=f"outbox {outbox.id} ({purpose}) to {channel}",
        )
    return outbox
