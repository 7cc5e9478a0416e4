"""RFC 822 bytes → the values noxbot works with (pure, no I/O).

Prefers text/plain, falls back to HTML turned into text; decodes every charset and transfer
encoding it meets, and never lets an odd header crash the reader. Input that is not an
email at all raises MalformedEmail, so the caller can keep the raw bytes for staff.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage, Message

from bot.identity_numbers import mask_identity_numbers
from bot.text import html_to_text, normalise_whitespace, visible_text


class MalformedEmail(ValueError):
    """Bytes that are not an email; the message says what is wrong."""


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str | None  # with angle brackets, as in the header
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    from_address: str | None
    from_name: str | None
    to_addresses: tuple[str, ...]
    date: datetime | None
    headers: dict[str, str]  # lower-cased names → decoded value (first occurrence)
    content_type: str
    body: str
    text: str
    attachments: tuple[str, ...]
    defects: tuple[str, ...]


def _header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # a header the policy cannot parse: fall back to the raw value
        raw = dict(message.raw_items()).get(name) if hasattr(message, "raw_items") else None
        value = raw
    if value is None:
        return None
    text = str(value)
    with contextlib.suppress(Exception):
        text = str(make_header(decode_header(text)))
    return " ".join(text.split())


def _msg_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    import re

    return tuple(re.findall(r"<[^<>\s]+>", value))


def _decode_part(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return payload.decode("cp1252", errors="replace")


def _body_parts(message: Message) -> tuple[str | None, str | None, list[str]]:
    plain: str | None = None
    html: str | None = None
    attachments: list[str] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        disposition = (part.get("Content-Disposition") or "").lower()
        filename = part.get_filename()
        if filename or disposition.startswith("attachment"):
            attachments.append(filename or "(unnamed)")
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _decode_part(part)
        elif kind == "text/html" and html is None:
            html = _decode_part(part)
    return plain, html, attachments


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one message; raises MalformedEmail when the bytes are not an email."""
    if not raw or not raw.strip():
        raise MalformedEmail("empty message")
    head = raw[:4096]
    if b"\x00" in head:
        raise MalformedEmail("binary data, not an email")
    message: Message | EmailMessage = email.message_from_bytes(raw, policy=email.policy.compat32)
    if not message.keys():
        raise MalformedEmail("no headers")
    if not any(_header(message, h) for h in ("From", "Subject", "Message-ID", "Date", "To")):
        raise MalformedEmail("none of From, To, Subject, Date or Message-ID present")

    headers: dict[str, str] = {}
    for name in message:
        key = name.lower()
        if key not in headers:
            headers[key] = _header(message, name) or ""

    from_value = _header(message, "From") or ""
    name, address = email.utils.parseaddr(from_value)
    to_value = _header(message, "To") or ""
    to_addresses = tuple(a.lower() for _, a in email.utils.getaddresses([to_value]) if a)

    date: datetime | None = None
    if date_value := _header(message, "Date"):
        try:
            date = email.utils.parsedate_to_datetime(date_value)
            if date.tzinfo is None:
                date = date.replace(tzinfo=UTC)
        except (TypeError, ValueError, IndexError):
            date = None

    plain, html, attachments = _body_parts(message)
    if plain is not None and plain.strip():
        body = normalise_whitespace(plain)
    elif html is not None:
        body = html_to_text(html)
    else:
        body = normalise_whitespace(plain or "")
    body = mask_identity_numbers(body)

    message_ids = _msg_ids(_header(message, "Message-ID"))
    in_reply_to = _msg_ids(_header(message, "In-Reply-To"))
    return ParsedEmail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_msg_ids(_header(message, "References")),
        subject=mask_identity_numbers(_header(message, "Subject") or ""),
        from_address=address.lower() if address and "@" in address else None,
        from_name=name or None,
        to_addresses=to_addresses,
        date=date,
        headers=headers,
        content_type=message.get_content_type(),
        body=body,
        text=visible_text(body),
        attachments=tuple(attachments),
        defects=tuple(str(d) for d in message.defects),
    )
