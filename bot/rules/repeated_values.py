"""Which of a person's register values a text repeats, in the shapes people write them (pure).

A text that goes to an address not on file must not carry what the register holds on the
person a case is linked to (bot.workflow.approval blocks it). A plain substring check misses
the same value written another way, as staff copying from a screen or a CSV write it: the
phone "+46701234567" as "070 – 123 45 67", the organisation number "559123-4567" as
"5591234567", a company name or a CV line wrapped over two lines or hyphenated, a list
separated by commas instead of semicolons, the date "2027-01-15" as "15 januari 2027" or
"15/01/2027". So numbers are compared by their digit groups, text with its spacing, dashes,
list separators and case folded, dates also in the usual forms of both languages, and a long
value (a CV) also by each of its sentences. A value is found only as a whole: "1 december
2026" is not found in "21 december 2026", nor the number 5550001 in "08-555 000 12".

Linear in the text's length times the number of values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers

from bot.rules.deadlines import MONTH_NAMES

#: Every dash Word, Outlook and people put between groups of digits or words.
_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2212"
#: A value written only with these is a number (phone, organisation or identity number,
#: date, a Telegram id): it is found by its digits, however they are grouped.
_NUMBER_VALUE = re.compile(rf"\+?[\d\s{_DASHES}./()]+")
#: A run of digit groups and what people put between them (one pass, no backtracking).
_NUMBER_RUN = re.compile(rf"\d[\d\s{_DASHES}./()]*")
_GROUP = re.compile(r"\d+")
#: A number with fewer digits than this (a postcode, a year) is compared as written only.
MIN_DIGITS = 6
#: The longest number looked for (an international phone number has at most 15 digits).
MAX_DIGITS = 16
_ISO_DATE = re.compile(r"(\d{4}) (\d{2}) (\d{2})")  # (as folded: the dashes are spaces)
_ORDINAL = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}
#: A long value's sentences, each found on its own when at least this long (a CV pasted in
#: part).
MIN_PIECE = 24
_PIECE_END = re.compile(r"[.!?;\n]+")
_FOLD_DASHES = re.compile(f"[{_DASHES}]")


def repeated_values(text: str, values: Iterable[str]) -> list[str]:
    """The values (as given) that `text` repeats, in the order given."""
    folded = fold(text)
    numbers = _numbers_in(text)
    return [value for value in values if _repeats(value, folded, numbers)]


def fold(text: str) -> str:
    """Case folded; dashes as blanks, semicolons as commas, every run of blanks and line
    breaks one space."""
    text = _FOLD_DASHES.sub(" ", text.casefold()).replace(";", ",")
    return " ".join(text.split())


def _holds(folded: str, form: str) -> bool:
    """Whether `form` stands in `folded` as a whole: not inside a longer word or number."""
    if not form:
        return False
    start = folded.find(form)
    while start != -1:
        end = start + len(form)
        before = folded[start - 1] if start else " "
        after = folded[end] if end < len(folded) else " "
        if not (before.isalnum() and form[0].isalnum()) and not (
            after.isalnum() and form[-1].isalnum()
        ):
            return True
        start = folded.find(form, start + 1)
    return False


def _numbers_in(text: str) -> set[str]:
    """Every number the text writes, as its digits: each run of consecutive digit groups
    ("070-123 45 67": 070, 070123, 0701234567, 123, … ) up to MAX_DIGITS digits."""
    found: set[str] = set()
    for run in _NUMBER_RUN.findall(text):
        groups = _GROUP.findall(run)
        for first in range(len(groups)):
            digits = ""
            for group in groups[first:]:
                digits += group
                if len(digits) > MAX_DIGITS:
                    break
                found.add(digits)
    return found


def _repeats(value: str, folded: str, numbers: set[str]) -> bool:
    plain = fold(value)
    if not plain:
        return False
    if _holds(folded, plain) or any(_holds(folded, form) for form in _date_forms(plain)):
        return True
    digits = "".join(char for char in value if char.isdigit())
    if _NUMBER_VALUE.fullmatch(value.strip()) and len(digits) >= MIN_DIGITS:
        return not numbers.isdisjoint(_number_forms(value.strip(), digits))
    pieces = [fold(piece) for piece in _PIECE_END.split(value)]
    return len(pieces) > 1 and any(len(p) >= MIN_PIECE and _holds(folded, p) for p in pieces)


def _number_forms(value: str, digits: str) -> set[str]:
    """A number's digits; a phone number's also as dialled at home and from abroad
    ("+46701234567": "0701234567", "46701234567"; "+447700900123": "07700900123")."""
    forms = {digits}
    if value.startswith(("+", "00")) or (value.startswith("0") and len(digits) >= 8):
        try:
            number = phonenumbers.parse("+" + digits[2:] if value.startswith("00") else value, "SE")
        except phonenumbers.NumberParseException:
            return forms
        national = str(number.national_number)
        forms |= {f"{number.country_code}{national}", f"0{national}"}
    return forms


def _date_forms(plain: str) -> list[str]:
    """An ISO date as people also write it: "15 januari 2027", "15:e januari 2027", "january
    15, 2027", "15th january 2027", "15/1 2027", "15/01/2027", "15.1.2027", "2027-1-15" (and
    with the month shortened to three letters, with or without a dot), folded."""
    match = _ISO_DATE.fullmatch(plain)
    if match is None:
        return []
    year, month, day = match.group(1), int(match.group(2)), int(match.group(3))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return []
    forms = [f"{year} {month} {day}"]
    for d, m in {(str(day), str(month)), (f"{day:02}", f"{month:02}")}:
        forms += [f"{d}/{m} {year}", f"{d}/{m}/{year}", f"{d}.{m}.{year}", f"{d}.{m} {year}"]
    ordinal = f"{day}{_ORDINAL.get(day, 'th')}"
    for language, months in MONTH_NAMES.items():
        name = months[month - 1].casefold()
        for written in {name, name[:3], f"{name[:3]}."}:
            forms += [f"{day} {written} {year}", f"{written} {day}, {year}"]
            forms += [f"{written} {day} {year}"]
            if language == "sv":
                forms.append(f"{day}:e {written} {year}")
            else:
                forms += [f"{ordinal} {written} {year}", f"{written} {ordinal}, {year}"]
    return [fold(form) for form in forms]
