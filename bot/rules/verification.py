"""Verification through an alternate channel on file: which route, and the codes (pure).

GDPR Art. 12(6) lets us ask for what is needed to confirm identity; the policy promises to
do it "through another channel for which we have your contact details". One function picks
that channel. Codes come from `secrets`, are stored only as keyed hashes (HMAC-SHA256) and
are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import chain

from bot.rules.channels import ChannelName
from bot.store.tables import ContactKind

CODE_DIGITS = 6

#: A contact point a rectification put on file is not used to verify anyone for this long:
#: if the change was an impostor's, the real person's old channels are the only proof until
#: they have had time to notice (they were asked to confirm the change on the old channel).
COOLING_OFF = timedelta(days=14)

#: Contact points a rectification may change that verification also uses, with the method
#: that reaches their old value to confirm the change.
CONTACT_FIELDS = {"email": ContactKind.EMAIL, "phone": ContactKind.PHONE}


class Method(StrEnum):
    TELEGRAM_CONFIRM = "telegram_confirm"  # buttons "Yes, that was me" / "No, it wasn't me"
    EMAIL_CODE = "email_code"  # a code sent to the email on file
    PHONE_CALL = "phone_call"  # staff call the number on file


@dataclass(frozen=True)
class Route:
    method: Method
    channel: ChannelName
    address: str


# Preference per channel the request came by: the strongest alternate first. A contact
# point equal to the one the request came from never counts (that would prove nothing).
_PREFERENCE: dict[ChannelName, tuple[ContactKind, ...]] = {
    ChannelName.EMAIL: (ContactKind.TELEGRAM, ContactKind.EMAIL, ContactKind.PHONE),
    ChannelName.TELEGRAM: (ContactKind.EMAIL, ContactKind.PHONE),
    ChannelName.PHONE: (ContactKind.EMAIL, ContactKind.TELEGRAM, ContactKind.PHONE),
    ChannelName.POST: (ContactKind.EMAIL, ContactKind.TELEGRAM, ContactKind.PHONE),
}
_METHOD = {
    ContactKind.TELEGRAM: (Method.TELEGRAM_CONFIRM, ChannelName.TELEGRAM),
    ContactKind.EMAIL: (Method.EMAIL_CODE, ChannelName.EMAIL),
    ContactKind.PHONE: (Method.PHONE_CALL, ChannelName.PHONE),
}
_CHANNEL_CONTACT_KIND = {
    ChannelName.EMAIL: ContactKind.EMAIL,
    ChannelName.TELEGRAM: ContactKind.TELEGRAM,
    ChannelName.PHONE: ContactKind.PHONE,
}


def choose_route(
    request_channel: ChannelName,
    request_address: str,
    contacts: Iterable[tuple[str, str]],
) -> Route | None:
    """The alternate contact point to verify through, or None when there is none on file.

    `contacts` are (kind, normalised value) pairs of the person the request names;
    `request_address` is normalised the same way.
    """
    routes = alternate_routes(request_channel, request_address, contacts)
    return routes[0] if routes else None


def alternate_routes(
    request_channel: ChannelName,
    request_address: str,
    contacts: Iterable[tuple[str, str]],
) -> list[Route]:
    """Every alternate contact point a challenge may go to, the strongest first (staff may
    choose another than the first; never the one the request came from)."""
    came_from = (_CHANNEL_CONTACT_KIND.get(request_channel), request_address)
    available = [(ContactKind(k), v) for k, v in contacts if (ContactKind(k), v) != came_from]
    routes = []
    for kind in _PREFERENCE[request_channel]:
        for contact_kind, value in available:
            if contact_kind is kind:
                method, channel = _METHOD[kind]
                routes.append(Route(method, channel, value))
    return routes


def usable_for_verification(verify_after: datetime | None, now: datetime) -> bool:
    """A contact point proves who someone is unless it is still cooling off."""
    return verify_after is None or verify_after <= now


def route_to(kind: ContactKind | str, value: str) -> Route:
    """The challenge that reaches one contact point (an email code, Telegram buttons, a
    call for staff to make)."""
    method, channel = _METHOD[ContactKind(kind)]
    return Route(method, channel, value)


def new_code() -> str:
    """A fresh numeric code from the OS's CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(key: bytes, verification_id: int, code: str) -> str:
    """Keyed hash bound to one verification, so a stolen hash fits nothing else."""
    return hmac.new(key, f"{verification_id}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(key: bytes, verification_id: int, code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_code(key, verification_id, code), stored_hash)


_CODE_IN_TEXT = re.compile(r"(?<![\d-])(\d{3})[ -]?(\d{3})(?![\d-])")
_DENIAL = re.compile(
    r"^\W*(?:nej|no|nope|inte jag|not me|det var inte jag|it wasn'?t me|that wasn'?t me)"
    r"(?:\W+(?:tack|thanks|thank you))?\W*$",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s*")
# Where str.splitlines ends a line.
_LINE_END = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


@dataclass(frozen=True)
class CodeAnswer:
    code: str


@dataclass(frozen=True)
class Denial:
    pass


def read_answer(text: str) -> CodeAnswer | Denial | None:
    """What a message says to a pending code challenge: a code, a 'no', or nothing.

    Only a line that is (nearly) just the code or just a 'no' counts, so that a phone number
    in a rectification, or "no more newsletters", is never taken for an answer.
    """
    for line in _first_lines(text, 5):
        if line.startswith(">"):
            break  # quoted challenge below a reply
        if _DENIAL.match(line):
            return Denial()
        match = _CODE_IN_TEXT.search(line)
        if match and _at_most_words(line, match.start(), match.end(), 4):
            return CodeAnswer(match.group(1) + match.group(2))
    return None


def _first_lines(text: str, count: int) -> list[str]:
    """The first `count` lines that are not blank, stripped: text.splitlines()'s, without
    splitting all of a mail of many MB (every mail is read for an answer: half a million
    lines took 35 MB here)."""
    found: list[str] = []
    position, size = 0, len(text)
    while len(found) < count:
        position = _SPACE.match(text, position).end()  # blank lines, and a line's indent
        if position >= size:
            break
        end = _LINE_END.search(text, position)
        found.append(text[position : end.start() if end else size].strip())
        position = end.end() if end else size
    return found


def _at_most_words(line: str, start: int, end: int, most: int) -> bool:
    """Whether `line` without line[start:end] holds at most `most` words (the two sides
    joined, as one word where a word meets a word), counting no further than that."""
    joined = start > 0 and end < len(line) and _WORD.fullmatch(line[start - 1] + line[end])
    count = -1 if joined else 0
    for _ in chain(_WORD.finditer(line, 0, start), _WORD.finditer(line, end)):
        count += 1
        if count > most:
            return False
    return True


# Telegram button data: short, parsed in one place.
def button_data(verification_id: int, confirmed: bool) -> str:
    return f"v:{verification_id}:{'y' if confirmed else 'n'}"


def parse_button_data(data: str) -> tuple[int, bool] | None:
    match = re.fullmatch(r"v:(\d+):([yn])", data or "")
    if not match:
        return None
    return int(match.group(1)), match.group(2) == "y"
