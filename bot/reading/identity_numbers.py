"""Swedish personal identity numbers (personnummer, samordningsnummer): found and masked.

The policy says NOX does not need them, so they are masked before a message is stored. A
candidate counts only with a valid date (coordination numbers add 60 to the day) and a
valid Luhn check digit, so phone, organisation and invoice numbers stay as written; one
the text names as an identity number just before it is masked with a wrong check digit
too (people mistype their own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

DEFAULT_MASK = "[personnummer borttaget]"

#: What Word, Outlook and people put between the groups: hyphen-minus, hyphen, non-breaking
#: hyphen, figure dash, en dash, em dash, minus sign; spaces (also non-breaking and thin ones).
_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2212"
_SPACES = " \u00a0\u2009\u202f"

# YYMMDD-NNNN, YYMMDD+NNNN, YYMMDDNNNN, YYYYMMDD-NNNN, YYYYMMDDNNNN, with any dash, a space, a
# dot or a slash before the last four ("811218 9876", "19811218/9876"), the date grouped
# ("1981 12 18-9876", "81.12.18-9876") and the last four in pairs ("81 12 18-98 76"); never
# inside a longer run of digits (an invoice or account number).
_CANDIDATE = re.compile(
    rf"""
    (?<![\d+{_DASHES}])
    (?P<century>19|20)?
    (?P<yy>\d\d)
    (?:
        (?P<inner>[{_SPACES}.{_DASHES}])(?P<mm>\d\d)(?P=inner)(?P<dd>\d\d)
      | (?P<mmdd>\d{{4}})
    )
    (?P<separator>[{_SPACES}]?[+./{_DASHES}][{_SPACES}]?|[{_SPACES}])?
    (?P<last>\d\d[{_SPACES}]?\d\d)
    (?!\d)
    """,
    re.VERBOSE,
)
_DASH_OR_PLUS = re.compile(rf"[+{_DASHES}]")


@dataclass(frozen=True)
class IdentityNumberMatch:
    """Where a number stands in the text (a slice), and which kind it is."""

    start: int
    end: int
    kind: str  # "personnummer" | "samordningsnummer"


def luhn_ok(ten_digits: str) -> bool:
    """The Luhn (mod 10) check over YYMMDDNNNN, as Skatteverket computes the last digit."""
    total = 0
    for index, char in enumerate(ten_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return total % 10 == 0


def _date_kind(yymmdd: str, century: str | None) -> str | None:
    """The kind of number when YYMMDD is a real date (day + 60 for samordningsnummer)."""
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    kind = "personnummer"
    if day > 60:
        day -= 60
        kind = "samordningsnummer"
    year = int((century or "20") + yymmdd[:2])
    for candidate_year in (year, year - 100) if century is None else (year,):
        try:
            date(candidate_year, month, day)
        except ValueError:
            continue
        return kind
    return None


# A candidate starts a run of digits (its look-behind refuses a digit before it): trying it
# only where one starts finds the same first match as searching with it everywhere, which
# the look-behind makes slow (tens of nanoseconds a character, on every mail).
_DIGITS = re.compile(r"\d+")


def _first_candidate(text: str, position: int) -> re.Match[str] | None:
    """_CANDIDATE.search(text, position), found faster."""
    for digits in _DIGITS.finditer(text, position):
        if (match := _CANDIDATE.match(text, digits.start())) is not None:
            return match
    return None


def _may_hold_digits(text: str) -> bool:
    """False when the text certainly holds no digit (of any script, as `\\d` reads them):
    told in a microsecond, where any pattern takes tens of them on a page of text."""
    if any(digit in text for digit in "0123456789"):
        return True
    if text.isascii():
        return False
    try:
        text.encode("latin-1")  # no Latin-1 character beyond ASCII is a decimal digit
    except UnicodeEncodeError:
        return True
    return False


#: Words that name what follows as an identity number: a number right after them is masked
#: even with a wrong check digit (a typo in one's own personnummer is still one), where
#: alone such a number may be an invoice's or an order's.
_NAMED = re.compile(
    r"(?:person|samordnings|födelse)\s*-?\s*(?:nummer|nr)|\bp\.?\s?-?nr\b|\bpers\.?\s?nr"
    r"|personal\s+(?:identity|id|identification)\s+(?:number|no)|social\s+security"
    r"|\bssn\b|\bid[-\s]?(?:nummer|number|nr|no)\b",
    re.IGNORECASE,
)
#: How far before a number its name may stand ("Mitt personnummer är ").
NAMED_WITHIN = 40


def find_identity_numbers(text: str, *, named_too: bool = False) -> list[IdentityNumberMatch]:
    """Every valid personal identity or coordination number in the text; with `named_too`,
    also one with a wrong check digit that the text names as one just before it
    ("personnummer: 811218-9875"): what masking hides, not what the classifier reads as
    no phone number."""
    found: list[IdentityNumberMatch] = []
    if not _may_hold_digits(text):
        return found
    position = 0
    while (match := _first_candidate(text, position)) is not None:
        kind = _kind_of(match)
        if kind is None and named_too and _named_before(text, match.start()):
            kind = _kind_of(match, named=True)
        if kind is None:
            position = match.start() + 1  # a look-alike must not hide a number inside it
            continue
        found.append(IdentityNumberMatch(match.start(), match.end(), kind))
        position = match.end()
    return found


def _named_before(text: str, start: int) -> bool:
    """Whether the words just before `start` name an identity number."""
    return _NAMED.search(text, max(start - NAMED_WITHIN, 0), start) is not None


def _kind_of(match: re.Match[str], *, named: bool = False) -> str | None:
    """The kind of number a candidate is, or None for a look-alike; a `named` one needs
    only a real date, in the written form of one (a dash or plus, or the century)."""
    century, yy, separator = match["century"], match["yy"], match["separator"] or ""
    yymmdd = yy + (match["mmdd"] or match["mm"] + match["dd"])
    last = "".join(ch for ch in match["last"] if ch.isdigit())
    dashed = _DASH_OR_PLUS.search(separator) is not None
    if match["inner"] and not dashed:
        # "2026-11-24 1430" is a date and a time: a grouped date counts only with a dash
        # before the last four, as in "1981 12 18-9876".
        return None
    if century is None and yy in ("07", "08") and not dashed:
        # "0701234567" and "070123 4567" are Swedish mobile numbers, "0812345678" a
        # Stockholm one; a person born 2007-2008 writing the number without a dash is
        # the rarer reading, and masking a phone number would lose a rectification.
        return None
    kind = _date_kind(yymmdd, century)
    if kind is None:
        return None
    if not luhn_ok(yymmdd + last) and not (named and (dashed or century is not None)):
        return None
    return kind


def mask_identity_numbers(text: str, mask: str = DEFAULT_MASK) -> str:
    """The text with every personal identity number replaced by `mask`."""
    if not text:
        return text
    pieces: list[str] = []
    position = 0
    for match in find_identity_numbers(text, named_too=True):
        pieces.extend([text[position : match.start], mask])
        position = match.end
    pieces.append(text[position:])
    return "".join(pieces)
