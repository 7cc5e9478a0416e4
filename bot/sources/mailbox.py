"""The mailbox ([imap] account), searched on the server: mail from, to or copied to one of
the person's addresses, and mail whose body names one. An access reply lists them (date,
direction, subject) and may attach them; an approved erasure moves the mail the person is a
party to into `erase_folder` — never mail that only mentions them.

Synchronous (stdlib imaplib): a source is asked while a reply is drafted, not in the watcher.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import json
import re
import ssl
from email.header import decode_header, make_header
from email.parser import BytesParser, HeaderParser
from email.utils import parsedate_to_datetime

from bot.channels.messages import Attachment
from bot.config import ImapSettings, MailboxSource
from bot.sources.base import (
    MAX_MAIL,
    Found,
    Person,
    SourceError,
    has_address,
    mail_text,
    parties_of,
)

_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_HEADERS = "BODY.PEEK[HEADER.FIELDS (DATE SUBJECT FROM TO CC MESSAGE-ID)]"


def _quote(value: str) -> str:
    if not value.isascii() or any(c in value for c in "\r\n"):
        raise SourceError("an address that is not plain ASCII cannot be searched; search by hand")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _folder(name: str) -> str:
    return _quote(name)


class Mailbox:
    def __init__(self, config: MailboxSource, imap: ImapSettings, password: str | None):
        self.config = config
        self.name = config.name
        self.imap = imap
        self.password = password

    def _connect(self) -> imaplib.IMAP4:
        try:
            if self.imap.tls == "ssl":
                client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    self.imap.host,
                    self.imap.port,
                    ssl_context=ssl.create_default_context(),
                    timeout=self.imap.timeout_seconds,
                )
            else:
                client = imaplib.IMAP4(
                    self.imap.host, self.imap.port, timeout=self.imap.timeout_seconds
                )
            client.login(self.imap.username, self.password or "")
            # What the server offers once logged in (MOVE, UIDPLUS): imaplib keeps the list
            # from before the login, which servers often shorten.
            status, data = client.capability()
            if status == "OK" and data and isinstance(data[-1], bytes):
                client.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())
        except (OSError, imaplib.IMAP4.error) as exc:
            raise SourceError(f"{self.name}: the mail server cannot be reached ({exc})") from None
        return client

    def unopenable_folders(self) -> list[str]:
        """The configured folders the server cannot open (`noxbot check`): a search meets
        the first one and fails whole. Raises SourceError when the server is not reached."""
        client = self._connect()
        try:
            return [
                folder
                for folder in self.config.folders
                if client.select(_folder(folder), readonly=True)[0] != "OK"
            ]
        except (OSError, imaplib.IMAP4.error) as exc:
            raise SourceError(f"{self.name}: the mail server failed ({exc})") from None
        finally:
            _logout(client)

    def _select(self, client: imaplib.IMAP4, folder: str, readonly: bool) -> int:
        status, _ = client.select(_folder(folder), readonly=readonly)
        if status != "OK":
            raise SourceError(f"{self.name}: the folder {folder} cannot be opened")
        code = client.response("UIDVALIDITY")[1]
        if not code or code[0] is None:
            raise SourceError(f"{self.name}: the server gives no UIDVALIDITY for {folder}")
        return int(code[0])

    def _search(self, client: imaplib.IMAP4, *criteria: str) -> set[int]:
        status, data = client.uid("SEARCH", *criteria)
        if status != "OK":
            raise SourceError(f"{self.name}: the server refused a search")
        return {int(n) for n in (data[0] or b"").split()}

    def find(self, person: Person) -> list[Found]:
        if not person.emails:
            return []
        client = self._connect()
        try:
            found = []
            for folder in self.config.folders:
                validity = self._select(client, folder, readonly=True)
                # The server's SEARCH matches substrings of whole headers and bodies
                # (johanna.lindqvist@ for anna.lindqvist@, a display name): only a
                # pre-filter; _describe decides on the parsed addresses.
                candidates: set[int] = set()
                for email in person.emails:
                    q = _quote(email)
                    candidates |= self._search(client, "OR", "OR", "FROM", q, "TO", q, "CC", q)
                    candidates |= self._search(client, "BODY", q)
                for uid in sorted(candidates):
                    finding = self._describe(client, folder, validity, uid, person)
                    if finding is not None:
                        found.append(finding)
            return found
        except (OSError, imaplib.IMAP4.error) as exc:
            raise SourceError(f"{self.name}: the mail server failed ({exc})") from None
        finally:
            _logout(client)

    def _describe(
        self,
        client: imaplib.IMAP4,
        folder: str,
        validity: int,
        uid: int,
        person: Person,
    ) -> Found | None:
        """One candidate mail as found: from or to the person when a parsed From/To/Cc
        address is exactly theirs, "mentions" when only its text names their address
        whole, None when neither (the server's substring match was someone else)."""
        _status, data = client.uid("FETCH", str(uid), f"({_HEADERS})")
        raw = next((part[1] for part in data if isinstance(part, tuple)), b"")
        headers = HeaderParser().parsestr(raw.decode("utf-8", errors="replace"))
        subject = " ".join(str(make_header(decode_header(headers.get("Subject", "")))).split())
        try:
            when = parsedate_to_datetime(headers.get("Date", "")).date().isoformat()
        except (TypeError, ValueError):
            when = "?"
        wanted = {e.casefold() for e in person.emails}
        if parties_of(headers, ("From",)) & wanted:
            direction = "from"
        elif parties_of(headers) & wanted:
            direction = "to"
        elif self._names_in_body(client, uid, wanted):
            direction = "mentions"
        else:
            return None
        return Found(
            ref=json.dumps([folder, validity, uid]),
            summary=f"{when}: {subject or '(no subject)'}",
            category=self.config.category,
            erasable=direction != "mentions",
            details=(
                ("direction", direction),
                ("folder", folder),
                ("message_id", " ".join(headers.get("Message-ID", "").split())),
            ),
        )

    def _names_in_body(self, client: imaplib.IMAP4, uid: int, wanted: set[str]) -> bool:
        """Whether the mail's decoded text names one of the addresses whole (at most
        MAX_MAIL bytes of it are fetched)."""
        _status, data = client.uid("FETCH", str(uid), f"(BODY.PEEK[]<0.{MAX_MAIL}>)")
        raw = next((part[1] for part in data if isinstance(part, tuple)), b"")
        return has_address(mail_text(BytesParser().parsebytes(raw)), wanted)

    def _locate(self, client: imaplib.IMAP4, ref: str, readonly: bool) -> int:
        folder, validity, uid = json.loads(ref)
        if self._select(client, folder, readonly=readonly) != validity:
            raise SourceError(
                f"{self.name}: {folder} was renumbered by the server since the search; "
                "search again (noxbot requests redraft)"
            )
        if uid not in self._search(client, "UID", str(uid)):
            raise SourceError(f"{self.name}: a mail found in {folder} is no longer there")
        return int(uid)

    def erase(self, ref: str) -> str:
        client = self._connect()
        try:
            uid = self._locate(client, ref, readonly=False)
            target = self.config.erase_folder
            if "MOVE" not in client.capabilities and "UIDPLUS" not in client.capabilities:
                # A plain EXPUNGE would also destroy every other mail flagged \Deleted in
                # the folder (a colleague's, still recoverable until then).
                raise SourceError(
                    f"{self.name}: the mail server offers neither MOVE nor UIDPLUS, so one mail "
                    "cannot be moved alone; move it by hand"
                )
            client.create(_folder(target))  # "already exists" is fine
            if "MOVE" in client.capabilities:
                status, _ = client.uid("MOVE", str(uid), _folder(target))
            else:
                status, _ = client.uid("COPY", str(uid), _folder(target))
                if status == "OK":
                    client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
                    status, _ = client.uid("EXPUNGE", str(uid))  # this mail only (RFC 4315)
                    if status != "OK":
                        client.uid("STORE", str(uid), "-FLAGS.SILENT", r"(\Deleted)")
            if status != "OK":
                raise SourceError(f"{self.name}: the server refused to move a mail")
            folder = json.loads(ref)[0]
            return f"a mail moved from {folder} to {target}"
        except (OSError, imaplib.IMAP4.error) as exc:
            raise SourceError(f"{self.name}: the mail server failed ({exc})") from None
        finally:
            _logout(client)

    def attachment(self, ref: str) -> Attachment | None:
        client = self._connect()
        try:
            uid = self._locate(client, ref, readonly=True)
            _status, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = next((part[1] for part in data if isinstance(part, tuple)), None)
            if raw is None:
                return None
            return Attachment(
                f"mail-{uid}.eml", "message/rfc822", base64.b64encode(raw).decode(), "base64"
            )
        except (OSError, imaplib.IMAP4.error) as exc:
            raise SourceError(f"{self.name}: the mail server failed ({exc})") from None
        finally:
            _logout(client)


def _logout(client: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        client.logout()
