"""Messages as plain values and the small interface every channel adapter implements.

The pipeline knows GDPR and nothing about sockets; an adapter knows its protocol and
nothing about GDPR. Both meet in these values.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.reading.safe_text import stored_text
from bot.rules.channels import ChannelName


@dataclass(frozen=True)
class InboundMessage:
    """One message as it arrived, before noxbot made anything of it."""

    channel: ChannelName
    #: Email address, or the Telegram user id as a decimal string, or a phone number.
    sender: str
    text: str = ""
    subject: str = ""
    sender_name: str | None = None
    #: When the channel says it arrived (IMAP INTERNALDATE, Telegram's date); None when it
    #: says nothing (a button press): then it is when noxbot read it, by the workflow's clock.
    received_at: datetime | None = None
    #: When the sender says they sent it (a mail's Date: header): only a fallback, never
    #: later than when it was read (a wrong clock must not push a deadline out).
    dated: datetime | None = None
    #: The original bytes (RFC 822 for mail), kept so nothing is lost.
    raw: bytes | None = None
    #: Mail: Message-ID, In-Reply-To, References; lower-cased header names for loop checks.
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    #: IMAP position, when the mail came from a mailbox.
    imap_uidvalidity: int | None = None
    imap_uid: int | None = None
    #: Telegram: chat and message ids, the message it replies to, a pressed button's data.
    telegram_chat_id: int | None = None
    telegram_message_id: int | None = None
    telegram_reply_to_id: int | None = None
    callback_data: str | None = None
    callback_id: str | None = None
    #: Telegram: the update's own id, for an update that could not be read (nothing else
    #: of it is known for certain: it is what tells it from another).
    telegram_update_id: int | None = None
    #: Set when the mail could not be parsed: why (the raw bytes are kept for staff).
    malformed: str | None = None
    #: `text` and `subject` are already as stored (bot.reading.safe_text.stored_text: no
    #: NUL, personal identity numbers masked): the mail reader makes them so where it
    #: parses a mail, within its time budget, so that neither the classifier nor the
    #: pipeline scans a mail of many MB again. Whoever changes `text` or `subject` must
    #: leave this False.
    stored_form: bool = False

    def stored_subject_and_text(self) -> tuple[str, str]:
        """The subject and the text as they are stored (and classified)."""
        if self.stored_form:
            return self.subject, self.text
        return stored_text(self.subject), stored_text(self.text)

    def arrival(self, now: datetime) -> datetime:
        """When the message arrived, for its deadline: the channel's word, else the sender's
        Date (never later than `now`), else `now`."""
        if self.received_at is not None:
            return self.received_at
        return min(self.dated, now) if self.dated is not None else now

    def dedupe_key(self) -> str:
        """The same message handed in twice has the same key (idempotent processing).

        Mail is known by sender and Message-ID together: another sender reusing an id (a
        broken client, or on purpose) must not make a request vanish as a duplicate. A key
        longer than an index allows is hashed.
        """
        if self.channel is ChannelName.EMAIL:
            if self.message_id:
                key = f"email:mid:{self.sender.lower()}:{self.message_id.strip('<>').lower()}"
                # Headers are the sender's to write: anything a database index or text
                # column could refuse (length, NUL and other control characters) is hashed.
                safe = len(key) <= 200 and key.isprintable()
                return key if safe else f"email:midsha:{_digest(key)}"
            if self.imap_uidvalidity is not None and self.imap_uid is not None:
                return f"email:imap:{self.imap_uidvalidity}:{self.imap_uid}"
        if self.channel is ChannelName.TELEGRAM and self.callback_id is not None:
            key = f"telegram:cb:{self.callback_id}"  # (made by Telegram, but checked alike)
            safe = len(key) <= 200 and key.isprintable()
            return key if safe else f"telegram:cbsha:{_digest(key)}"
        if self.channel is ChannelName.TELEGRAM and self.telegram_update_id is not None:
            # An update kept unread, known by its id and its content: Telegram numbers
            # updates afresh, at random, after a week without any, and another update
            # given an old one's id must not be taken for it and dropped.
            held = hashlib.sha256(self.raw or b"").hexdigest()[:16]
            return f"telegram:update:{self.telegram_update_id}:{held}"
        if self.channel is ChannelName.TELEGRAM and self.telegram_message_id is not None:
            return f"telegram:{self.telegram_chat_id}:{self.telegram_message_id}"
        digest = _digest(
            "\x00".join(
                [
                    self.channel,
                    self.sender,
                    self.subject,
                    self.text,
                    self.received_at.isoformat() if self.received_at else "",
                ]
            )
        )
        return f"{self.channel}:sha:{digest}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class Button:
    """An inline button on a chat message: what it says and what pressing it sends back."""

    label: str
    data: str


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: str
    #: "utf-8" for text; "base64" for a file's bytes (a CV in PDF found in a source).
    encoding: str = "utf-8"

    def data(self) -> bytes:
        """The bytes to send."""
        if self.encoding == "base64":
            return base64.b64decode(self.content)
        return self.content.encode("utf-8")


@dataclass(frozen=True)
class OutboundMessage:
    """One message to send, as the outbox holds it."""

    channel: ChannelName
    address: str
    text: str
    subject: str = ""
    attachments: tuple[Attachment, ...] = ()
    message_id: str | None = None  # fixed when queued: a retry sends the same message
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    reply_to_message_id: int | None = None  # Telegram
    buttons: tuple[Button, ...] = ()
    extra_headers: tuple[tuple[str, str], ...] = ()
    #: What an earlier attempt already delivered (an adapter's own record, e.g. the pieces of
    #: a long Telegram reply), so a retry goes on from there instead of repeating it.
    progress: dict[str, Any] = field(default_factory=dict)


class SendError(Exception):
    """Sending failed. The cases, for the outbox:
    - transient (default): the server is down or busy; this message is retried with backoff;
    - `permanent`: this message can never go (recipient refused, message rejected);
    - `channel_broken`: the channel itself is misconfigured (login refused, TLS): no message
      can go until staff fix it, so none is charged an attempt and staff are alerted.
    `progress` records what was delivered before the failure (see OutboundMessage)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        channel_broken: bool = False,
        progress: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.channel_broken = channel_broken
        self.progress = progress or {}


class OutboundChannel(Protocol):
    """What the outbox sender needs from a channel adapter."""

    name: ChannelName

    async def send(self, message: OutboundMessage) -> str:
        """Send one message; return the channel's id for it (Message-ID, Telegram id)."""
        ...
