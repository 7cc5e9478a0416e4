"""RFC 822 bytes → an InboundMessage (pure): shared by the IMAP reader and manual intake."""

from __future__ import annotations

from datetime import datetime

from bot.channels.messages import InboundMessage
from bot.reading.mail import MalformedEmail, parse_email
from bot.rules.channels import ChannelName


def inbound_from_email(
    raw: bytes,
    *,
    imap_uidvalidity: int | None = None,
    imap_uid: int | None = None,
    received_at: datetime | None = None,
) -> InboundMessage:
    """The message a person sent, or a `malformed` one that keeps the raw bytes for staff."""
    try:
        parsed = parse_email(raw)
    except MalformedEmail as exc:
        return InboundMessage(
            channel=ChannelName.EMAIL,
            sender="unknown",
            raw=raw,
            malformed=str(exc),
            imap_uidvalidity=imap_uidvalidity,
            imap_uid=imap_uid,
        )
    if not parsed.from_address:
        return InboundMessage(
            channel=ChannelName.EMAIL,
            sender="unknown",
            raw=raw,
            subject=parsed.subject,
            text=parsed.text,
            malformed="no From address",
            message_id=parsed.message_id,
            imap_uidvalidity=imap_uidvalidity,
            imap_uid=imap_uid,
        )
    return InboundMessage(
        channel=ChannelName.EMAIL,
        sender=parsed.from_address,
        sender_name=parsed.from_name,
        subject=parsed.subject,
        text=parsed.text,
        # The server's arrival time when there is one, else the Date: header (see arrival()).
        received_at=received_at,
        dated=parsed.date,
        raw=raw,
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        headers=parsed.headers,
        content_type=parsed.content_type,
        imap_uidvalidity=imap_uidvalidity,
        imap_uid=imap_uid,
    )
