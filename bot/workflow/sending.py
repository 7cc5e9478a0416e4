"""Sending: the sender that sends what was approved (and automatic verification messages),
retries with backoff when a server is down, and records what went out so replies thread.

A row is claimed (queued → sending) in its own transaction before the network call, so two
senders never send the same row; PostgreSQL claims with FOR UPDATE SKIP LOCKED. A row left
in `sending` by a crash is retried after STALE_SENDING: at least once, with the same
Message-ID, which is as close to exactly once as SMTP and the Bot API allow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, or_, select, update

from bot.channels.messages import Attachment, Button, OutboundChannel, OutboundMessage, SendError
from bot.rules.channels import ChannelName
from bot.store import audit
from bot.store.database import TRANSIENT_DB_ERRORS, Database
from bot.store.tables import (
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
from bot.workflow.confirming import challenge_undeliverable
from bot.workflow.lifecycle import apply_extension, transition
from bot.workflow.outbox import REDACT_AFTER_SENDING, REDACTED, WITHDRAW_UNLESS_SENT
from bot.workflow.services import Services
from bot.workflow.words import name_words

MAX_ATTEMPTS = 8
STALE_SENDING = timedelta(minutes=10)
#: A channel that reported itself broken (login refused) is tried again after this long.
CHANNEL_BROKEN_WAIT = timedelta(minutes=5)
#: How often recording a completed send is tried when the database is briefly away.
RECORD_SENT_ATTEMPTS = 8
#: Header key for what an adapter already delivered of a row (see OutboundMessage.progress).
PROGRESS = "progress"


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
        progress=dict(headers.get(PROGRESS, {})),
    )


def claim_next(
    session: Session, services: Services, channels: Collection[ChannelName]
) -> Outbox | None:
    """Claim the oldest due row for one of `channels` (queued → sending), or None.

    One row at a time: a claim is fresh when its send starts, so no row waits in a claimed
    batch long enough to look abandoned (STALE_SENDING) to another sender. PostgreSQL
    claims with FOR UPDATE SKIP LOCKED, so concurrent senders pass each other by.
    """
    if not channels:
        return None
    now = services.clock()
    query = (
        select(Outbox)
        .where(
            col(Outbox.channel).in_([str(c) for c in channels]),
            or_(
                (col(Outbox.status) == OutboxStatus.QUEUED) & (col(Outbox.next_attempt_at) <= now),
                (col(Outbox.status) == OutboxStatus.SENDING)
                & (col(Outbox.next_attempt_at) <= now - STALE_SENDING),
            ),
        )
        .order_by(col(Outbox.id))
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    for _ in range(5):
        row = session.exec(query).first()
        if row is None:
            return None
        # The claim only holds if the row is still as it was read: on SQLite (no row locks)
        # another sender may have claimed it between the read and this write.
        claimed = session.execute(
            update(Outbox)
            .where(
                col(Outbox.id) == row.id,
                col(Outbox.status) == row.status,
                col(Outbox.next_attempt_at) == row.next_attempt_at,
            )
            .values(status=OutboxStatus.SENDING, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        session.refresh(row)
        if claimed.rowcount == 1:
            return row
    return None


def _redact(row: Outbox) -> None:
    secrets = row.headers.get(REDACT_AFTER_SENDING)
    if not secrets:
        return
    for secret in secrets:
        row.text = row.text.replace(secret, REDACTED)
    row.headers = {k: v for k, v in row.headers.items() if k != REDACT_AFTER_SENDING}


_WITHDRAWN_VALUES = "(an earlier version of the erasure reply; its register values were removed)"


def _keep_only_the_record(session: Session, row: Outbox) -> None:
    """The reply to an erasure that disclosed register data (an extract, an export) keeps,
    once sent, only what accountability needs: what was sent, when, to whom and which
    fields — not the values the erasure removed from the register (GDPR Art. 5(2), 17)."""
    draft = session.get(Draft, row.draft_id) if row.draft_id else None
    covers = (draft.covers or {}) if draft else {}
    if draft is None or not draft.carries_personal_data or "erasure" not in covers.get("kinds", []):
        return
    files = [a["filename"] for a in row.attachments]
    # Which register fields it showed (an extract); else which of its sections held the
    # data (an erasure's account of what was found and removed).
    sections = ", ".join(name_words(section) for section in covers.get("sections", []))
    held = (
        f"fields: {', '.join(covers['fields'])}"
        if covers.get("fields")
        else f"in its sections: {sections or 'not recorded'}"
    )
    record = (
        f"[{row.purpose} sent {row.sent_at:%Y-%m-%d %H:%M} UTC by {row.channel} to "
        f"{row.address}. It held the register data of the person it erased — {held}"
        + (f"; attachments: {', '.join(files)}" if files else "")
        + ". The values were removed once it was sent; this record shows what went, when "
        "and to whom.]"
    )
    emptied = [{**a, "content": ""} for a in row.attachments]
    row.text, row.attachments = record, emptied
    # Every version of every reply drafted for the case (an earlier one a redraft replaced
    # held the same values), and what else of the case went out with register data. An
    # Art. 19 notice to a recipient is kept: it is sent after the reply (staff approve it
    # then), and what the recipient was told is this case's correspondence to keep.
    for version in session.exec(
        select(Draft).where(
            Draft.request_id == row.request_id,
            col(Draft.carries_personal_data).is_(True),
            Draft.purpose != "art19_notice",
        )
    ):
        version.text = record if version.series == draft.series else _WITHDRAWN_VALUES
        version.attachments = [{**a, "content": ""} for a in version.attachments]
        session.add(version)


def _mark_sent(session: Session, services: Services, row: Outbox, sent_ref: str) -> None:
    _redact(row)
    row.status = OutboxStatus.SENT
    row.sent_at = services.clock()
    row.sent_ref = sent_ref
    row.attempts += 1
    _keep_only_the_record(session, row)
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
            at=services.clock(),
            actor="noxbot",
            action="sent",
            request=case,
            detail=f"outbox {row.id} ({row.purpose}) by {row.channel}",
        )
        if row.purpose == "extension" and row.draft_id is not None:
            notice = session.get(Draft, row.draft_id)
            if notice is not None:
                apply_extension(session, case, notice, now=services.clock(), actor="noxbot")
        if row.purpose == "reply" and case.status == RequestStatus.APPROVED:
            transition(
                session,
                case,
                RequestStatus.DONE,
                actor="noxbot",
                reason="approved reply sent and its actions carried out",
                now=services.clock(),
            )


def _mark_failed(session: Session, services: Services, row: Outbox, error: SendError) -> bool:
    """Returns True when the row gave up for good."""
    if _withdrawn_meanwhile(row):
        return True
    row.last_error = str(error)
    if error.progress:
        row.headers = {**row.headers, PROGRESS: error.progress}
    if error.channel_broken:
        # Not this message's fault: it keeps its attempts, and every message waiting for the
        # channel waits a while longer (no login attempt every few seconds, which would get
        # the account locked); staff hear of it once per channel, not once per message.
        hold = services.clock() + CHANNEL_BROKEN_WAIT
        row.status = OutboxStatus.QUEUED
        row.next_attempt_at = hold
        session.add(row)
        session.execute(
            update(Outbox)
            .where(
                col(Outbox.channel) == row.channel,
                col(Outbox.status) == OutboxStatus.QUEUED,
                col(Outbox.next_attempt_at) < hold,
            )
            .values(next_attempt_at=hold)
        )
        _alert_once(
            session,
            "channel_broken",
            f"{row.channel}:",
            f"{row.channel}: {error}; nothing can be sent by {row.channel} until this is fixed "
            "(see noxbot check)",
            now=services.clock(),
        )
        return False
    row.attempts += 1
    give_up = error.permanent or row.attempts >= MAX_ATTEMPTS
    if give_up:
        _redact(row)
        row.status = OutboxStatus.FAILED
        if row.purpose == "verification_challenge":
            # One alert per problem: the failed verification's (a challenge is not retried).
            challenge_undeliverable(session, services, row)
        else:
            session.add(
                StaffAlert(
                    request_id=row.request_id,
                    kind="send_failed",
                    text=f"outbox {row.id} ({row.purpose}) to {row.channel} could "
                    f"not be sent after {row.attempts} attempts: {error}; "
                    f"noxbot outbox retry {row.id} queues it again",
                    created_at=services.clock(),
                )
            )
    else:
        row.status = OutboxStatus.QUEUED
        row.next_attempt_at = services.clock() + backoff(row.attempts)
    session.add(row)
    return give_up


def _alert_once(session: Session, kind: str, about: str, text: str, *, now: datetime) -> None:
    """An alert unless one of this kind about the same thing (its text's start) is open:
    a server's reply in the text may change from one attempt to the next."""
    open_alert = session.exec(
        select(StaffAlert).where(
            StaffAlert.kind == kind,
            col(StaffAlert.text).startswith(about),
            col(StaffAlert.resolved_at).is_(None),
        )
    ).first()
    if open_alert is None:
        session.add(StaffAlert(kind=kind, text=text, created_at=now))


def _withdrawn_meanwhile(row: Outbox) -> bool:
    """A row withdrawn while it was being handed over (outbox.withdraw_unless_sent): the
    attempt that failed, or never reported back, is its last; it is cancelled."""
    note = row.headers.get(WITHDRAW_UNLESS_SENT)
    if not note:
        return False
    _redact(row)
    row.status = OutboxStatus.CANCELLED
    row.last_error = str(note)
    return True


async def deliver_due(
    database: Database,
    services: Services,
    channels: Mapping[ChannelName, OutboundChannel],
    *,
    limit: int = 50,
    stop: asyncio.Event | None = None,
) -> DeliveryReport:
    """Send up to `limit` due rows for the channels here, one claim and one send at a time;
    each result is recorded in its own transaction. Stops early when `stop` is set, and
    stops using a channel for this round once it reports itself broken."""
    report = DeliveryReport()
    usable = set(channels)
    while len(report.sent) + len(report.retrying) + len(report.failed) < limit and usable:
        if stop is not None and stop.is_set():
            break
        with database.session() as session:
            row = claim_next(session, services, usable)
            if row is None:
                break
            if _withdrawn_meanwhile(row):  # (its sender died while handing it over)
                session.add(row)
                report.failed.append(row.id or 0)
                continue
            row_id, outbound = row.id or 0, to_outbound(row)
        try:
            try:
                sent_ref = await channels[outbound.channel].send(outbound)
            except SendError:
                raise
            except Exception as exc:  # an adapter bug must not stop the sender: retry later
                raise SendError(f"unexpected {type(exc).__name__} while sending") from exc
        except SendError as exc:
            with database.session() as session:
                failed = session.get(Outbox, row_id)
                assert failed is not None
                if _mark_failed(session, services, failed, exc):
                    report.failed.append(row_id)
                else:
                    report.retrying.append(row_id)
            if exc.channel_broken:
                usable.discard(outbound.channel)
            continue
        await _record_sent(database, services, row_id, sent_ref)
        report.sent.append(row_id)
    return report


async def _record_sent(database: Database, services: Services, row_id: int, ref: str) -> None:
    """Mark a row sent. It went out already, so a database that fails now is tried again
    for a while (the row would otherwise be sent again once its claim goes stale)."""
    delay = 0.2
    for attempt in range(RECORD_SENT_ATTEMPTS):
        try:
            with database.session() as session:
                row = session.get(Outbox, row_id)
                assert row is not None
                if row.status == OutboxStatus.SENDING:
                    _mark_sent(session, services, row, ref)
            return
        except TRANSIENT_DB_ERRORS:
            if attempt == RECORD_SENT_ATTEMPTS - 1:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
