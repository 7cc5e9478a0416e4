"""Sending mail over SMTP (aiosmtplib): the outbox's email channel. Knows SMTP, not GDPR.

The Message-ID was fixed when the message was queued, so a retry after a lost reply from
the server is recognisably the same message.
"""

from __future__ import annotations

import email.utils
import ssl
from email.message import EmailMessage

import aiosmtplib

from bot.channels.messages import OutboundMessage, SendError
from bot.config import SmtpSettings
from bot.rules.channels import ChannelName


def build_email(message: OutboundMessage, from_address: str, from_name: str) -> EmailMessage:
    """The RFC 5322 message for an outbound value: threading headers, text, attachments."""
    name, bare = email.utils.parseaddr(message.address)
    if name or bare != message.address or "@" not in bare:
        # Only ever to the one address stored, never to what a display name might add.
        raise SendError(f"not a plain email address: {message.address!r}", permanent=True)
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
            attachment.data(),
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
            raise _refused(exc.recipients) from exc
        except aiosmtplib.SMTPRecipientRefused as exc:
            raise _refused([exc]) from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise SendError(
                f"SMTP login refused ({exc.code}); check [smtp] username and password_env",
                channel_broken=True,
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code in _CHANNEL_BROKEN_CODES:
                raise SendError(
                    f"SMTP {exc.code}: {exc.message}; check [smtp] username, tls and port",
                    channel_broken=True,
                ) from exc
            # RFC 5321 §4.2.1: 5yz is a permanent failure, 4yz a transient one.
            raise SendError(f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500) from exc
        except aiosmtplib.SMTPNotSupported as exc:
            raise SendError(f"SMTP: {exc}; check [smtp] tls and port", channel_broken=True) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            if (untrusted := _certificate_error(exc)) is not None:
                raise SendError(
                    f"SMTP server certificate not trusted ({untrusted.verify_message})",
                    channel_broken=True,
                ) from exc
            raise SendError(f"SMTP server unreachable: {exc}") from exc
        return str(mail["Message-ID"])


def _certificate_error(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind an error, if any: aiosmtplib wraps it in a connect
    error with implicit TLS, and raises it as it is with STARTTLS."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


#: Replies that say the session, not the message, is wrong (RFC 4954 §6: authentication
#: required, too weak, encryption required; 535 comes as SMTPAuthenticationError).
_CHANNEL_BROKEN_CODES = frozenset({530, 534, 538})


def _refused(recipients: list[aiosmtplib.SMTPRecipientRefused]) -> SendError:
    """A refused recipient is final on 5yz and worth retrying on 4yz (greylisting, a full
    mailbox, a server over quota: RFC 5321 §4.2.1)."""
    codes = ", ".join(f"{r.code} {r.message}" for r in recipients)
    return SendError(
        f"recipient refused: {codes}", permanent=all(r.code >= 500 for r in recipients)
    )
