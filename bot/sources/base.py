"""What every source is: find what it holds about a person, erase what was found."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Protocol

from bot.channels.messages import Attachment
from bot.errors import NoxbotError


class SourceError(NoxbotError):
    """A source that is down or refused; the message says which and why (no personal data)."""


@dataclass(frozen=True)
class Person:
    """Who to look for: the name and every contact point on file (normalised)."""

    name: str | None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()  # E.164

    @property
    def empty(self) -> bool:
        return not (self.name or self.emails or self.phones)


@dataclass(frozen=True)
class Found:
    """One thing found: where it is (`ref`), what a person reads (`summary`)."""

    ref: str
    summary: str
    category: str
    erasable: bool = True
    #: Shown in an access reply besides the summary ((label, value) pairs, e.g. SQL columns).
    details: tuple[tuple[str, str], ...] = field(default=())


class Source(Protocol):
    name: str

    def find(self, person: Person) -> list[Found]:
        """Everything held about the person; raises SourceError when down or refused."""
        ...

    def erase(self, ref: str) -> str:
        """Erase one thing found; returns what was done, raises SourceError when it failed."""
        ...

    def attachment(self, ref: str) -> Attachment | None:
        """A copy for an access reply, where the source has one (a file, a mail)."""
        ...


_PHONE_LIKE = re.compile(r"\+?\d[\d\s\-()]{5,18}\d")


def phone_variants(e164: str) -> set[str]:
    """The digit strings a Swedish or international number may be written as."""
    digits = e164.lstrip("+")
    variants = {digits, "00" + digits}
    if digits.startswith("46"):
        variants.add("0" + digits[2:])
    return variants


def _address_pattern(email: str) -> re.Pattern[str]:
    """The address as a whole word: not part of a longer one (xanna@… or anna@….org)."""
    # A full stop may end the sentence after it ("mail anna@x.se."), not continue the domain.
    return re.compile(r"(?<![\w.+-])" + re.escape(email.casefold()) + r"(?![\w-]|\.[\w-])")


def has_address(text: str, emails: tuple[str, ...] | set[str]) -> bool:
    """Whether the text names one of the addresses whole (case-insensitively); a substring of
    someone else's address ('johanna.lindqvist@…' for 'anna.lindqvist@…') is not hers."""
    folded = text.casefold()
    return any(_address_pattern(e).search(folded) for e in emails)


def parties_of(headers: object, fields: tuple[str, ...] = ("From", "To", "Cc")) -> set[str]:
    """The addresses (casefolded) in a mail's address headers, parsed — never the display
    names, which anyone may fill with anyone's address."""
    from email.utils import getaddresses

    get_all = headers.get_all  # type: ignore[attr-defined]
    return {a.casefold() for f in fields for _, a in getaddresses(get_all(f, []) or []) if a}


#: Most bytes of one mail part read for a body match.
MAX_MAIL = 5_000_000


def mail_text(message: Message) -> str:
    """The decoded text parts of a mail, each cut at MAX_MAIL: what a body match reads."""
    parts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload[:MAX_MAIL].decode("utf-8", errors="replace"))
    return "\n".join(parts)


def mentions(text: str, person: Person) -> list[str]:
    """Which of the person's name, addresses and numbers the text contains (case- and
    spacing-insensitive), each whole: the name on word boundaries (not 'Johanna Lindqvist'
    for 'Anna Lindqvist'), an address not inside a longer one. What a documents match
    rests on."""
    folded = text.casefold()
    hits = []
    if person.name and person.name.split():
        words = r"\s+".join(re.escape(w) for w in person.name.casefold().split())
        if re.search(r"(?<!\w)" + words + r"(?!\w)", folded):
            hits.append("name")
    if has_address(folded, person.emails):
        hits.append("email")
    if person.phones:
        wanted = set().union(*(phone_variants(p) for p in person.phones))
        for match in _PHONE_LIKE.finditer(text):
            if re.sub(r"\D", "", match.group()) in wanted:
                hits.append("phone")
                break
    return hits


#: An address's local part just before an "@" (at most 64 characters, RFC 5321), and its
#: domain just after (at most 255): looked for around each "@" only, so that a long run of
#: letters or digits with no "@" in it costs one pass, not one per character.
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)+")


def _in_local_part(char: str) -> bool:
    return char.isalnum() or char in "._+-"


def any_addresses(text: str) -> list[str]:
    """Every email address in the text (linear in its length)."""
    found = []
    for at in re.finditer("@", text):
        start = at.start()
        while start > max(0, at.start() - 64) and _in_local_part(text[start - 1]):
            start -= 1
        domain = _DOMAIN.match(text, at.end(), at.end() + 255)
        if start < at.start() and domain:
            found.append(f"{text[start : at.start()]}@{domain.group()}")
    return found


def other_addresses(text: str, person: Person) -> set[str]:
    """Email addresses in the text that are not the person's: a sign that a document is
    (also) about someone else."""
    own = {e.casefold() for e in person.emails}
    return {a.casefold().rstrip(".") for a in any_addresses(text)} - own


#: Phone numbers looked for in one text at most (phonenumbers' matcher is bounded by it).
_MAX_NUMBERS_TRIED = 2_000
#: Numbers read in one text at most: more than one person has, so a list of people.
_MAX_NUMBERS_SEEN = 100


def other_phone_numbers(text: str, person: Person) -> set[str]:
    """Valid phone numbers in the text (Swedish unless written with a country code) that are
    not the person's, as E.164: a referee's or a colleague's number says the document is
    (also) about someone else. Dates, amounts and organisation numbers are not valid phone
    numbers, so they do not count."""
    import phonenumbers

    own = set(person.phones)
    found = set()
    matcher = phonenumbers.PhoneNumberMatcher(
        text, "SE", leniency=phonenumbers.Leniency.VALID, max_tries=_MAX_NUMBERS_TRIED
    )
    for seen, match in enumerate(matcher):
        if seen == _MAX_NUMBERS_SEEN:  # a list of numbers is no one person's document
            found.add(f"more than {_MAX_NUMBERS_SEEN} numbers")
            break
        number = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        if number not in own:
            found.add(number)
    # The matcher stops after _MAX_NUMBERS_TRIED candidates (its bound in time): what it did
    # not read may hold anyone's number, so the text is not taken for the person's alone.
    if getattr(matcher, "_max_tries", 1) <= 0:
        found.add(f"more than {_MAX_NUMBERS_TRIED} number-like strings")
    return found


def is_about_only(text: str, person: Person, hits: list[str]) -> bool:
    """Whether a document is the person's own, to be sent to them and erased for them: it
    names their email address, or their number and their name, and no one else's address or
    number. A CV that lists them as a referee, one that holds their number beside someone
    else's, or a number alone (a number on file may once have been someone else's) only
    mentions them (listed for staff, never attached or erased): sending it would give them
    another person's data."""
    return (
        ("email" in hits or {"phone", "name"} <= set(hits))
        and not other_addresses(text, person)
        and not other_phone_numbers(text, person)
    )
