"""Text from outside, made safe to show and to store.

A display name, subject or body is written by whoever sends it. Shown raw on a terminal an
escape sequence can hide the rest of a draft from the approver, and a bidi override can
reorder what staff read in the chat, so everything printed from outside goes through
`printable`. A name is stored without any of it, and without a personal identity number.
"""

from __future__ import annotations

import re
import unicodedata

from bot.reading.identity_numbers import mask_identity_numbers

#: Joiners inside emoji and in Persian or Indic words: format characters, but harmless.
_KEPT_FORMAT = frozenset({"\u200c", "\u200d"})
#: ANSI escape sequences (CSI "ESC [ … final", OSC "ESC ] … BEL|ST", and two-character
#: ones): in a name they are dropped whole, not just their ESC.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|\x9b[0-?]*[ -/]*[@-~]"
)


def _unsafe(char: str) -> bool:
    """Control and format characters (C0, DEL, C1, bidi overrides and isolates, zero-width
    and tag characters), line and paragraph separators and lone surrogates."""
    if char in "\n\t":
        return False
    category = unicodedata.category(char)
    if category == "Cf":
        return char not in _KEPT_FORMAT
    return category in ("Cc", "Cs", "Zl", "Zp")


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: str) -> str:
    """`text` with every character that can hide, overwrite or reorder other text shown as a
    visible escape ("\\x1b", "\\u202e"); newlines and tabs stay, CRLF becomes a newline."""
    text = text.replace("\r\n", "\n")
    if not any(_unsafe(char) for char in text):
        return text
    return "".join(_escape(char) if _unsafe(char) else char for char in text)


def _json_escape(char: str) -> str:
    units = char.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))


def printable_json(dumped: str) -> str:
    """JSON text (`json.dumps(…, ensure_ascii=False)`) with what `printable` escapes written
    as \\u escapes: the same data for a parser, nothing hidden on a terminal."""
    if not any(_unsafe(char) for char in dumped):
        return dumped
    return "".join(_json_escape(char) if _unsafe(char) else char for char in dumped)


#: An email address in a display name, with the brackets or quotes around it.
_ADDRESS_IN_NAME = re.compile(
    r"""[<("'\[]*(?:mailto:)?[^\s<>()"'\[\]@]+@[^\s<>()"'\[\]@]+[>)"'\]]*"""
)


#: Letters that draw nothing (Hangul fillers, the braille blank): a name of them alone shows
#: as an empty cell where staff look for who wrote. In a name they count as spaces.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


#: Variation selectors after the first after a letter (U+FE00-FE0F, U+E0100-E01EF): one
#: chooses a glyph ("❤️", a kanji's variant), a run of them draws nothing and can carry
#: hidden text.
_SELECTOR_RUN = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]{2,}")


def stored_name(name: str | None) -> str | None:
    """A name from outside (a display name, `--name`) as it is stored: escape sequences and
    control characters removed, white space single, personal identity numbers and email
    addresses dropped (a greeting has no use for either, and an address in the name -
    "Anna Lindqvist <anna@…>" from another address - would pass for where the mail came
    from wherever staff read the name beside the real one); None when nothing is left."""
    if not name:
        return None
    text = _ESCAPE_SEQUENCE.sub("", name)
    text = "".join(
        " " if char in "\n\t" or char in _BLANK_LETTERS else char
        for char in text
        if not _unsafe(char)
    )
    text = _SELECTOR_RUN.sub(lambda run: run[0][:1], text)
    # White space made single first: "811218  1238" is a number once it is "811218 1238".
    text = mask_identity_numbers(" ".join(text.split()), mask="")
    text = _ADDRESS_IN_NAME.sub("", text)
    text = re.sub(r"\(\s*\)|\[\s*\]|<\s*>", "", text)
    text = " ".join(text.split()).strip(" ,;:/-\u2013\u2014")
    return text or None


def stored_note(text: str) -> str:
    """A staff note or reason as it is stored: personal identity numbers masked (staff may
    have copied one from what the person wrote)."""
    return mask_identity_numbers(text)


def stored_text(value: str | None) -> str:
    """Text as a message is stored: NUL removed (PostgreSQL refuses it), lone surrogates
    replaced (no database takes them), personal identity numbers masked. The classifier
    reads exactly this (bot.runtime.mail_reader)."""
    return mask_identity_numbers(without_lone_surrogates((value or "").replace("\x00", "")))


# A UTF-16 surrogate on its own: no character, and no database or UTF-8 encoder takes it.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def without_lone_surrogates(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD. A mail's charset can decode to
    them (utf-7's "+2AA-", unicode_escape's "\\ud800"), the email package keeps bytes it
    cannot read as them (surrogateescape), and JSON can spell them ("\\ud800"): text that
    holds one can be neither stored nor quarantined."""
    return text if text.isascii() else _LONE_SURROGATE.sub("\ufffd", text)
