"""The one place that decides whether an incoming mail was sent by a machine, not a person.

Out-of-office replies, bounces, list mail and our own mail must never open a case or get an
answer: answering them makes mail loops (RFC 3834 §2) and files newsletters as rights requests.
"""

from __future__ import annotations

import email.message
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from email.utils import collapse_rfc2231_value, getaddresses
from enum import StrEnum

from bot.reading.mail import MAX_PARSED_HEADER_CHARS


class AutomatedKind(StrEnum):
    """Why a mail is not a person writing to us."""

    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    MAILING_LIST = "mailing_list"
    BULK = "bulk"
    OWN_MAIL = "own_mail"


@dataclass(frozen=True)
class Automated:
    """The verdict, with the header and value that gave it away (for the audit trail)."""

    kind: AutomatedKind
    reason: str


# Local parts that only mail systems send from (RFC 5321 §4.5.1 postmaster; sendmail et al.
# send delivery reports as MAILER-DAEMON).
_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
# Headers auto-responders set that are not in any RFC (vacation(1), cPanel, Zimbra, ...).
_AUTORESPONDER_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder")
# Headers noxbot itself puts on every mail it sends, so it never answers itself.
_OWN_HEADERS = ("X-Noxbot-Reference", "X-Noxbot")
# RFC 2369 / RFC 2919 list headers, in the order we report them.
_LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post")


class _Headers:
    """Case-insensitive, read-only view of a header mapping or an email.message.Message."""

    def __init__(self, headers: Mapping[str, str] | email.message.Message) -> None:
        items: Iterable[tuple[str, object]] = headers.items()
        self._values: dict[str, list[str]] = {}
        for name, value in items:
            self._values.setdefault(name.strip().lower(), []).append(_unfold(str(value)))

    def get(self, name: str) -> str | None:
        values = self._values.get(name.lower())
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        return list(self._values.get(name.lower(), ()))


def _unfold(value: str) -> str:
    """One line, single-spaced, so a folded header compares and reads like its value."""
    return re.sub(r"\s+", " ", value).strip()


def _content_type(value: str) -> tuple[str, str]:
    """Media type and report-type, parsed by the stdlib (quotes, case, RFC 2231 encoding)."""
    parsed = email.message.Message()
    parsed["Content-Type"] = value
    report_type = parsed.get_param("report-type")
    if report_type is None:
        return parsed.get_content_type(), ""
    return parsed.get_content_type(), collapse_rfc2231_value(report_type).strip().lower()


def detect_automated(
    headers: Mapping[str, str] | email.message.Message,
    *,
    own_addresses: Collection[str] = (),
    content_type: str | None = None,
) -> Automated | None:
    """Say whether a mail was sent by a machine (and what kind), or None for a person.

    `content_type` is the top-level Content-Type when the caller has it apart from the headers
    (e.g. from an IMAP BODYSTRUCTURE); it wins over a Content-Type header.

    There are several cases where a mail is not a person writing, checked in this order so the
    most specific verdict wins:
    1. Our own mail (loop prevention): From is one of `own_addresses` (case-insensitive), or
       the mail carries the X-Noxbot-Reference / X-Noxbot header we set on everything we send.
    2. Bounces: Content-Type multipart/report; report-type=delivery-status (RFC 3464, RFC 6522),
       or From a MAILER-DAEMON@ / postmaster@ local part. Another multipart/report (read
       receipts, RFC 8098; abuse reports, RFC 5965) is machine-made too: an auto-reply.
    3. RFC 3834 §5: Auto-Submitted with any value but "no" (auto-replied, auto-generated,
       auto-notified, or an extension) -- the value may carry parameters after ";".
    4. Auto-responders outside the RFCs: X-Autoreply, X-Autorespond, X-Autoresponder present.
       X-Auto-Response-Suppress is NOT one of them: Outlook puts it on ordinary mail written by
       a person, it only asks *others* not to auto-reply. X-Mailer and Subject ("Out of
       office", "Frånvaro") are not read either: people write those words too.
    5. Empty Return-Path "<>" (null reverse-path, RFC 5321 §4.5.5): a bounce. Checked after the
       RFC 3834 headers because RFC 3834 §3.3 asks auto-responders to use it too, and a
       labelled auto-reply should be reported as one, not as a failed delivery of ours.
    6. Precedence: bulk or junk → bulk mail; Precedence: list → mailing list. Not a standard
       (RFC 2076 §3.9) but what list servers and vacation programs have honoured for decades.
    7. Mailing lists: List-Id (RFC 2919), List-Unsubscribe or List-Post (RFC 2369). A
       newsletter or list post is not a rights request to act on, even when it mentions GDPR;
       someone who wants to unsubscribe writes to us themselves.
    """
    view = _Headers(headers)
    own = {address.strip().lower() for address in own_addresses}
    # (each From cut as bot.reading.mail cuts one before email.utils reads it: its groups'
    # members cost time with the square of how many)
    froms = [value[:MAX_PARSED_HEADER_CHARS] for value in view.get_all("From")]
    senders = [address.lower() for _, address in getaddresses(froms) if address]

    # 1. Our own mail.
    for sender in senders:
        if sender in own:
            return Automated(AutomatedKind.OWN_MAIL, f"From: {sender}")
    for name in _OWN_HEADERS:
        value = view.get(name)
        if value is not None:
            return Automated(AutomatedKind.OWN_MAIL, f"{name}: {value}")

    # 2. Bounces and other machine reports.
    raw_type = content_type if content_type is not None else view.get("Content-Type")
    if raw_type and "report" in raw_type.lower():  # (no parse for the usual text/plain)
        media_type, report_type = _content_type(raw_type)
        if media_type == "multipart/report":
            reason = f"Content-Type: multipart/report; report-type={report_type}"
            if report_type == "delivery-status":
                return Automated(AutomatedKind.BOUNCE, reason)
            return Automated(AutomatedKind.AUTO_REPLY, reason)
    for sender in senders:
        if sender.rsplit("@", 1)[0] in _BOUNCE_SENDERS:
            return Automated(AutomatedKind.BOUNCE, f"From: {sender}")

    # 3. RFC 3834 Auto-Submitted.
    auto_submitted = view.get("Auto-Submitted")
    if auto_submitted is not None and auto_submitted.split(";")[0].strip().lower() != "no":
        return Automated(AutomatedKind.AUTO_REPLY, f"Auto-Submitted: {auto_submitted}")

    # 4. Auto-responder headers outside the RFCs.
    for name in _AUTORESPONDER_HEADERS:
        value = view.get(name)
        if value is not None:
            return Automated(AutomatedKind.AUTO_REPLY, f"{name}: {value}")

    # 5. Null reverse-path.
    for return_path in view.get_all("Return-Path"):
        if return_path.replace(" ", "") == "<>":
            return Automated(AutomatedKind.BOUNCE, "Return-Path: <>")

    # 6. Precedence.
    precedence = (view.get("Precedence") or "").lower()
    if precedence in {"bulk", "junk"}:
        return Automated(AutomatedKind.BULK, f"Precedence: {precedence}")
    if precedence == "list":
        return Automated(AutomatedKind.MAILING_LIST, "Precedence: list")

    # 7. Mailing lists.
    for name in _LIST_HEADERS:
        value = view.get(name)
        if value is not None:
            return Automated(AutomatedKind.MAILING_LIST, f"{name}: {value}")

    return None
