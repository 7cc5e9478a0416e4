"""Swedish personal identity numbers (personnummer, samordningsnummer): found and masked.

The policy says NOX does not need them, so they are masked before a message is stored. A
candidate counts only with a valid date (coordination numbers add 60 to the day) and a
valid Luhn check digit, so phone, organisation and invoice numbers stay as written; one
the text names as an identity number just before it is masked with a typo too (in the check
digit, the month or the day: people mistype their own). Any dash, space, other mark,
full-width or invisible character people or their keyboards put in a number is read
through.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import date

DEFAULT_MASK = "[personnummer borttaget]"

#: What Word, Outlook, phones and people put between the groups: hyphen-minus, hyphen,
#: non-breaking hyphen, figure dash, en and em dash, horizontal bar, hyphen bullet, minus
#: signs, the small and full-width hyphen-minus (East Asian keyboards); spaces of every width
#: (non-breaking, thin, em, ideographic …).
_DASHES = "\\-\u02d7\u2010-\u2015\u2043\u2212\u2796\ufe58\ufe63\uff0d"
_SPACES = " \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u2800\u3000"
#: Plus, also full-width.
_PLUS = "+\uff0b"
#: Marks that list or bracket numbers ("811218, 9876", "811218 (9876 kr)"): between the
#: groups only with no space around them.
_LISTING = ",:;()\\[\\]{}<>"
#: Letters drawn as a dash, which a phone's Japanese, Chinese or Korean keyboard offers in
#: its place: the prolonged sound mark (also half-width), the ideograph one, Hangul eu.
_DASH_LIKE_LETTERS = "\u30fc\uff70\u4e00\u3161\u1173"
#: One mark that may join the groups: no letter (but those), digit or space.
_JOINING = rf"(?:[^\w\s{_LISTING}]|[_{_DASH_LIKE_LETTERS}])"

# YYMMDD-NNNN, YYMMDD+NNNN, YYMMDDNNNN, YYYYMMDD-NNNN, YYYYMMDDNNNN, with a space or any one
# mark before the last four ("811218 9876", "19811218/9876", "811218_9876", "811218|9876",
# "811218'9876", "811218\u30029876": what is no letter, digit or space, with spaces around
# it or not), or a line break where the mail program wrapped the line ("811218\n9876",
# "811218-\n9876"), the date grouped by spaces or one such mark ("1981 12 18-9876",
# "81.12.18.9876", "1981/12/18-9876") and the last four in pairs ("81 12 18-98 76"); never
# inside a longer run of digits (an invoice or account number).
_CANDIDATE = re.compile(
    rf"""
    (?<![\d{_PLUS}{_DASHES}])
    (?P<century>19|20)?
    (?P<yy>\d\d)
    (?:
        (?P<inner>[{_SPACES}]|{_JOINING})(?P<mm>\d\d)(?P=inner)(?P<dd>\d\d)
      | (?P<mmdd>\d{{4}})
    )
    (?P<separator>
        [{_SPACES}]?{_JOINING}[{_SPACES}]?
      | [{_LISTING}]
      | [{_SPACES}]?[{_PLUS}{_DASHES}]?[{_SPACES}]?\r?\n
      | [{_SPACES}]
    )?
    (?P<last>\d\d[{_SPACES}]?\d\d)
    (?!\d)
    """,
    re.VERBOSE,
)
_DASH_OR_PLUS = re.compile(rf"[{_PLUS}{_DASHES}]")
#: A mark between the groups, not only spaces or a line break ("811218_9875").
_MARK = re.compile(rf"[^{_SPACES}\r\n]")


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
    r"(?:person|samordnings|födelse)\s*-?\s*(?:num+(?:er|re)t?|nr)|\bp\.?\s?-?nr\b"
    r"|\bpers\.?\s?nr|personal\s+(?:(?:identity|id|identification)\s+)?(?:number|no)\b"
    r"|social\s+security|\bssn\b|\bid[-\s]?(?:nummer|number|nr|no)\b",
    re.IGNORECASE,
)
#: How far before a number its name may stand ("Mitt personnummer är "), and how far within
#: one sentence ("Mitt personnummer, som ni redan har i ert system sedan i våras, är ").
NAMED_WITHIN = 40
NAMED_IN_SENTENCE_WITHIN = 120
_DIGIT = re.compile(r"\d")
_SENTENCE_END = re.compile(r"[.!?;\n]")
#: The name of another kind of number, between a name and a number: the number is that
#: one's ("Ni har mitt personnummer; det gäller fakturan 231045-0012", "Personnummer
#: saknas. Order 811218-9875"). A sentence end alone near the name is not enough: "fel
#: personnummer i avtalet. Det ska vara 880605-2219" names it.
_OTHER_NUMBER = re.compile(
    r"\b(?:faktura|invoice|order|kund|customer|tel|phone|mobil|org|avtals|contract|ärende"
    r"|konto|account|ref)\w*",  # (a prefix: "telefon", "mobile", "referens" too)
    re.IGNORECASE,
)
#: What may stand between a name and the number it names right before it: "personnummer:
#: ", "personnummer är ", "personal number is ".
_RIGHT_BEFORE = re.compile(r"[\s:=(]*(?:(?:är|is|var|was)[\s:]*)?", re.IGNORECASE)
#: A clause about the name set off by commas, then "är", right before the number: "Mitt
#: personnummer, som står på fakturan, är 811318-9876" says what the personnummer is, even
#: with another number's name inside the clause. (One comma more, "personnummer, som ni
#: har, och fakturanumret, är …", and the number may be the invoice's.)
_CLAUSE_RIGHT_BEFORE = re.compile(
    r"\s*,\s*(?:som|vilket|which|that)\b[^,.!?;\n]*,\s*(?:är|is|var|was)[\s:]*",
    re.IGNORECASE,
)

#: How closely a name stands before a number: not at all, in reach, right before it.
NOT_NAMED, NAMED, NAMED_RIGHT_BEFORE = 0, 1, 2


def find_identity_numbers(text: str, *, named_too: bool = False) -> list[IdentityNumberMatch]:
    """Every valid personal identity or coordination number in the text; with `named_too`,
    also one with a typo (in the check digit or the date) that the text names as one just
    before it, with no other number between ("personnummer: 811218-9875"): what masking
    hides, not what the classifier reads as no phone number."""
    found: list[IdentityNumberMatch] = []
    if not _may_hold_digits(text):
        return found
    names: list[int] | None = None  # where each naming word ends: found once, if needed
    # An identity number found names the next as a naming word does ("det ska vara
    # 880605-2219, inte 880506-2219"): where each ends, in order.
    ends: list[int] = []
    position = 0
    while (match := _first_candidate(text, position)) is not None:
        kind = _kind_of(match)
        if kind is None and named_too:
            if names is None:
                names = [name.end() for name in _NAMED.finditer(text)]
            naming = _naming(text, _last_before(names, ends, match.start()), match.start())
            if naming != NOT_NAMED:
                kind = _kind_of(match, named=naming)
        if kind is None:
            position = match.start() + 1  # a look-alike must not hide a number inside it
            continue
        found.append(IdentityNumberMatch(match.start(), match.end(), kind))
        ends.append(match.end())
        position = match.end()
    return found


def _last_before(names: list[int], ends: list[int], start: int) -> int | None:
    """Where the last naming word or identity number before `start` ends (each list in
    order), or None."""
    last = [
        positions[index - 1]
        for positions in (names, ends)
        if (index := bisect.bisect_right(positions, start)) > 0
    ]
    return max(last) if last else None


def _naming(text: str, named_at: int | None, start: int) -> int:
    """How closely a naming word (or an identity number) ending at `named_at` stands before
    `start`, with no digit and no other number's name between: within NAMED_WITHIN
    characters, or further within one sentence ("Personnummer: 811218-1238 / Kundnr
    200105-1234" names the first number only; "Personnummer saknas. Order 811218-9875"
    names none); right before it also after a clause about the name ("personnummer, som
    står på fakturan, är "), whatever number's name the clause holds."""
    if named_at is None or start - named_at > NAMED_IN_SENTENCE_WITHIN:
        return NOT_NAMED
    between = text[named_at:start]
    if _DIGIT.search(between) is not None:
        return NOT_NAMED
    if len(between) > NAMED_WITHIN and _SENTENCE_END.search(between) is not None:
        return NOT_NAMED
    if _CLAUSE_RIGHT_BEFORE.fullmatch(between) is not None:
        return NAMED_RIGHT_BEFORE
    if _OTHER_NUMBER.search(between) is not None:
        return NOT_NAMED
    return NAMED_RIGHT_BEFORE if _RIGHT_BEFORE.fullmatch(between) else NAMED


def _kind_of(match: re.Match[str], *, named: int = NOT_NAMED) -> str | None:
    """The kind of number a candidate is, or None for a look-alike. A `named` one may have
    a typo in the check digit when it is written as an identity number (a mark between the
    groups, or the century) or stands right after its name ("Mitt personnummer är 811218
    9875"; further off, "fakturanummer 8112189875" after "personnummer saknas" is an
    invoice's), and one right after its name a typo in the month or the day (not both)."""
    century, yy, separator = match["century"], match["yy"], match["separator"] or ""
    yymmdd = yy + (match["mmdd"] or match["mm"] + match["dd"])
    last = "".join(ch for ch in match["last"] if ch.isdigit())
    dashed = _DASH_OR_PLUS.search(separator) is not None
    marked = _MARK.search(separator) is not None
    if match["inner"] and not marked:
        # "2026-11-24 1430" is a date and a time: a grouped date counts only with a mark
        # before the last four, as in "1981 12 18-9876" and "81.12.18.9876".
        return None
    if century is None and yy in ("07", "08") and not dashed and named != NAMED_RIGHT_BEFORE:
        # "0701234567" and "070123 4567" are Swedish mobile numbers, "0812345678" a
        # Stockholm one; a person born 2007-2008 writing the number without a dash is
        # the rarer reading, and masking a phone number would lose a rectification.
        return None
    kind = _date_kind(yymmdd, century)
    if kind is not None and luhn_ok(yymmdd + last):
        return kind
    written_as_one = marked or century is not None or named == NAMED_RIGHT_BEFORE
    if not named or not written_as_one:
        return None
    if kind is not None:
        return kind
    # A typo in the date only right after the name: further off, a date-like number with a
    # day of 45 is more likely an invoice's than a mistyped personnummer.
    return _kind_despite_a_typo(yymmdd) if named == NAMED_RIGHT_BEFORE else None


def _kind_despite_a_typo(yymmdd: str) -> str | None:
    """The kind of a named number whose date has a typo in the month or in the day (one
    of the two is still right: "811318" for 811218). A "month" of 20 or more is an
    organisation number's ("Lindh Konsult AB, 559201-3344"), never a typo."""
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    if month >= 20:
        return None
    if 61 <= day <= 91:
        return "samordningsnummer"
    if 1 <= month <= 12 or 1 <= day <= 31:
        return "personnummer"
    return None


#: Characters nobody sees, which a number can hide behind ("811218\u200b-1238" shows as
#: the number): zero-width and joining characters, the soft hyphen, bidi marks, variation
#: selectors (also the supplement's), tag characters, interlinear annotation marks, musical
#: formatting marks, the BOM. Masking reads the text without them.
_INVISIBLE = re.compile(
    # (combining marks too: an underline or a strike drawn over the digits, "8\u03321\u0332")
    "[\u0300-\u036f\u20d0-\u20ff"
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)


def mask_identity_numbers(text: str, mask: str = DEFAULT_MASK) -> str:
    """The text with every personal identity number replaced by `mask`, also one that
    invisible characters stand in (the mask then covers them too)."""
    if not text:
        return text
    if text.isascii() or _INVISIBLE.search(text) is None:
        spans = [(m.start, m.end) for m in find_identity_numbers(text, named_too=True)]
    else:
        spans = _spans_seen_through(text)
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        pieces.extend([text[position:start], mask])
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _spans_seen_through(text: str) -> list[tuple[int, int]]:
    """Where the identity numbers stand in `text`, found in it without its invisible
    characters: the text is kept as its visible runs, each with where it starts in both."""
    runs: list[tuple[int, int]] = []  # (start in the visible text, start in `text`)
    visible: list[str] = []
    length = position = 0
    for invisible in _INVISIBLE.finditer(text):
        if invisible.start() > position:
            runs.append((length, position))
            visible.append(text[position : invisible.start()])
            length += invisible.start() - position
        position = invisible.end()
    if position < len(text):
        runs.append((length, position))
        visible.append(text[position:])
    starts = [start for start, _ in runs]

    def original(index: int) -> int:
        run = bisect.bisect_right(starts, index) - 1
        return runs[run][1] + index - runs[run][0]

    def end(index: int) -> int:  # past the marks drawn over the last digit too
        position = original(index - 1) + 1
        while position < len(text) and _INVISIBLE.match(text, position):
            position += 1
        return position

    return [
        (original(m.start), end(m.end))
        for m in find_identity_numbers("".join(visible), named_too=True)
    ]
