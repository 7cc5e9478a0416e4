"""Sending mail over SMTP (aiosmtplib): the outbox's email channel. Knows SMTP, not GDPR.

The Message-ID was fixed when the message was queued, so a retry after a lost reply from
the server is recognisably the same message.
"""

from __future__ import annotations

import email.utils
from email.message import EmailMessage

import aiosmtplib

from bot.channels.base import ChannelName, OutboundMessage, SendError
from bot.config import SmtpSettings


def build_email(message: OutboundMessage, from_address: str, from_name: str) -> EmailMessage:
    """The RFC 5322 message for an outbound value: threading headers, text, attachments."""
    mail = EmailMessage()
    mail["From"] = email.utils.formataddr((from_name, from_address))
    mail["To"] = message.address
    mail["Subject"] = message.subject
    mail["Date"] = email.utils.formatdate(localtime=False)
    mail["Message-ID"] = message.message_id or email.utils.make_msgid(
        domain=from_address.split("@")[-1]
    )
    if message.in_reply_to:
        mail["In-Reply-To"] = message.in_reply_to
    if message.references:
        mail["References"] = " ".join(message.references)
    for name, value in message.extra_headers:
        mail[name] = value
    mail.set_content(message.text)
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mail.add_attachment(
            attachment.content.encode("utf-8"),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return mail


class SmtpChannel:
    """Sends each message in its own SMTP session, with the configured TLS and timeout."""

    name = ChannelName.EMAIL

    def __init__(self, settings: SmtpSettings, password: str | None, from_name: str) -> None:
        self.settings = settings
        self.password = password
        self.from_name = from_name

    async def send(self, message: OutboundMessage) -> str:
        mail = build_email(message, self.settings.from_address, self.from_name)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.settings.host,
                port=self.settings.port,
                username=self.settings.username,
                password=self.password if self.settings.username else None,
                use_tls=self.settings.tls == "ssl",
                start_tls=self.settings.tls == "starttls",
                timeout=self.settings.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"recipient refused: {exc}", permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            # RFC 5321 §4.2.1: 5yz is a permanent failure, 4yz a transient one.
            raise SendError(f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendError(f"SMTP server unreachable: {exc}") from exc
        return str(mail["Message-ID"])
