"""Which of a person's register values a text repeats, in the shapes people write them (pure).

A text that goes to an address not on file must not carry what the register holds on the
person a case is linked to (bot.workflow.approval blocks it). A plain substring check misses
the same value written another way, as staff copying from a screen or a CSV write it: the
phone "+46701234567" as "070-123 45 67", the organisation number "559123-4567" as
"5591234567", a company name or a CV line wrapped over two lines, the date "2027-01-15" as
"15 januari 2027". So numbers are compared by their digits, text with its spacing and case
folded, dates also in the long forms of both languages, and a long value (a CV) also by each
of its sentences. Linear in the text's length times the number of values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: A value written only with these is a number (phone, organisation or identity number,
#: date): it is found by its digits, however they are grouped.
_NUMBER_VALUE = re.compile(r"\+?[\d\s\-./()]+")
#: A run of digits and what people group them with, in the text (one pass, no backtracking).
_NUMBER_RUN = re.compile(r"\d[\d\s\-./()]*")
#: A number with fewer digits than this (a postcode, a year) is compared as written only.
MIN_DIGITS = 6
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_MONTHS = {
    "sv": [
        "januari",
        "februari",
        "mars",
        "april",
        "maj",
        "juni",
        "juli",
        "augusti",
        "september",
        "oktober",
        "november",
        "december",
    ],
    "en": [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ],
}
#: A long value's sentences, each found on its own when at least this long (a CV pasted in
#: part).
MIN_PIECE = 24
_PIECE_END = re.compile(r"[.!?;\n]+")


def repeated_values(text: str, values: Iterable[str]) -> list[str]:
    """The values (as given) that `text` repeats, in the order given."""
    folded = fold(text)
    runs = [_digits(run) for run in _NUMBER_RUN.findall(text)]
    return [value for value in values if _repeats(value, folded, runs)]


def fold(text: str) -> str:
    """Case folded, every run of blanks and line breaks one space."""
    return " ".join(text.casefold().split())


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def _repeats(value: str, folded: str, runs: list[str]) -> bool:
    plain = fold(value)
    if not plain:
        return False
    if plain in folded or any(form in folded for form in _date_forms(plain)):
        return True
    digits = _digits(value)
    if _NUMBER_VALUE.fullmatch(value.strip()) and len(digits) >= MIN_DIGITS:
        return any(form in run for run in runs for form in _number_forms(value.strip(), digits))
    pieces = [fold(piece) for piece in _PIECE_END.split(value)]
    return len(pieces) > 1 and any(len(p) >= MIN_PIECE and p in folded for p in pieces)


def _number_forms(value: str, digits: str) -> set[str]:
    """A number's digits; a Swedish phone number's also as dialled at home and from abroad
    ("+46701234567": "0701234567", "46701234567")."""
    if value.startswith("+46"):
        rest = digits[2:]
    elif value.startswith("0046"):
        rest = digits[4:]
    elif value.startswith("0") and not value.startswith("00") and len(digits) >= 8:
        rest = digits[1:]
    else:
        return {digits}
    return {digits, "0" + rest, "46" + rest}


def _date_forms(plain: str) -> list[str]:
    """An ISO date as people also write it: "15 januari 2027", "january 15, 2027", "15/1
    2027", "15.1.2027" (and with the month shortened to three letters)."""
    match = _ISO_DATE.fullmatch(plain)
    if match is None:
        return []
    year, month, day = match.group(1), int(match.group(2)), int(match.group(3))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return []
    forms = [f"{day}/{month} {year}", f"{day}/{month}/{year}", f"{day}.{month}.{year}"]
    for months in _MONTHS.values():
        for name in {months[month - 1], months[month - 1][:3]}:
            forms += [f"{day} {name} {year}", f"{name} {day}, {year}", f"{name} {day} {year}"]
    return forms
