"""A mail archive on disk in Maildir format (an exported or archived mailbox): mail from, to
or copied to one of the person's addresses, and mail whose body names one. Like the IMAP
mailbox source: an access reply lists and attaches them; an approved erasure moves the mail
the person is a party to into `erase_folder` (another Maildir), never mail that only
mentions them."""

from __future__ import annotations

import base64
import hashlib
import mailbox
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime
from pathlib import Path

from bot.channels.messages import Attachment
from bot.config import MaildirSource
from bot.sources.base import Found, Person, SourceError, has_address, mail_text, parties_of


class MaildirArchive:
    def __init__(self, config: MaildirSource):
        self.config = config
        self.name = config.name

    def _box(self, path: str) -> mailbox.Maildir:
        if not (Path(path) / "cur").is_dir():
            raise SourceError(f"{self.name}: {path} is not a Maildir folder")
        return mailbox.Maildir(path, create=False)

    def find(self, person: Person) -> list[Found]:
        if not person.emails:
            return []
        box = self._box(self.config.path)
        wanted = {e.casefold() for e in person.emails}
        found = []
        for key in sorted(box.keys()):
            message = box.get_message(key)
            parties = parties_of(message)
            senders = parties_of(message, ("From",))
            if parties & wanted:
                direction = "from" if senders & wanted else "to"
            elif has_address(mail_text(message), wanted):
                direction = "mentions"
            else:
                continue
            subject = " ".join(str(make_header(decode_header(message.get("Subject", "")))).split())
            try:
                when = parsedate_to_datetime(message.get("Date", "")).date().isoformat()
            except (TypeError, ValueError):
                when = "?"
            found.append(
                Found(
                    ref=key,
                    summary=f"{when}: {subject or '(no subject)'}",
                    category=self.config.category,
                    erasable=direction != "mentions",
                    details=(("direction", direction),),
                )
            )
        return found

    def erase(self, ref: str) -> str:
        box = self._box(self.config.path)
        try:
            message = box.get_message(ref)
        except KeyError:
            raise SourceError(f"{self.name}: a mail found is no longer there") from None
        target = mailbox.Maildir(self.config.erase_folder, create=True)
        try:
            target.add(message)
            box.discard(ref)
        except OSError as exc:
            raise SourceError(f"{self.name}: a mail could not be moved ({exc.strerror})") from None
        return f"a mail moved to {self.config.erase_folder}"

    def attachment(self, ref: str) -> Attachment | None:
        try:
            raw = self._box(self.config.path).get_bytes(ref)
        except KeyError:
            return None
        return Attachment(
            f"mail-{hashlib.sha256(ref.encode()).hexdigest()[:8]}.eml",
            "message/rfc822",
            base64.b64encode(raw).decode(),
            "base64",
        )
