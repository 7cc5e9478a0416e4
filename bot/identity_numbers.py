"""Swedish personal identity numbers (personnummer, samordningsnummer): found and masked.

The policy says NOX does not need them, so they are masked before a message is stored. A
candidate counts only with a valid date (coordination numbers add 60 to the day) and a
valid Luhn check digit, so phone, organisation and invoice numbers stay as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

DEFAULT_MASK = "[personnummer borttaget]"

# YYMMDD-NNNN, YYMMDD+NNNN, YYMMDDNNNN, YYYYMMDD-NNNN, YYYYMMDDNNNN; never inside a longer
# run of digits (an invoice or account number).
_CANDIDATE = re.compile(r"(?<![\d+\-])((?:19|20)?\d{6})\s?([-+]?)\s?(\d{4})(?![\d])")


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


def find_identity_numbers(text: str) -> list[IdentityNumberMatch]:
    """Every valid personal identity or coordination number in the text."""
    found: list[IdentityNumberMatch] = []
    for match in _CANDIDATE.finditer(text):
        digits, separator, last = match.groups()
        century = digits[:2] if len(digits) == 8 else None
        yymmdd = digits[-6:]
        if len(digits) == 6 and not separator and digits.startswith(("07", "08")):
            # "0701234567" and "070123 4567" are Swedish mobile numbers, "0812345678" a
            # Stockholm one; a person born 2007-2008 writing the number without a dash is
            # the rarer reading, and masking a phone number would lose a rectification.
            continue
        kind = _date_kind(yymmdd, century)
        if kind is None or not luhn_ok(yymmdd + last):
            continue
        found.append(IdentityNumberMatch(match.start(), match.end(), kind))
    return found


def mask_identity_numbers(text: str, mask: str = DEFAULT_MASK) -> str:
    """The text with every personal identity number replaced by `mask`."""
    if not text:
        return text
    pieces: list[str] = []
    position = 0
    for match in find_identity_numbers(text):
        pieces.extend([text[position : match.start], mask])
        position = match.end
    pieces.append(text[position:])
    return "".join(pieces)
