"""Searching names, addresses and text as people type them: "öhrn" finds "Öhrn", and
"Angstrom" finds "Ängström".

SQLite's LIKE and lower() fold only ASCII letters, so a Swedish name typed in lower case
was never found. Names and contact points are compared folded (lower case, accents
dropped): on SQLite by a function of ours registered on every connection (`noxbot_fold`,
this module's `fold`), on PostgreSQL by lower() and translate(). Long text (a mail's) is
not folded row by row, which would cost a function call over every stored mail: it is
matched with ILIKE in the few spellings a word is written in (as typed, lower case, upper
case, capitalised).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

#: The letters folded, and what to (after lower case): the same table on both sides of
#: every comparison, here and in PostgreSQL's translate(), so that a name typed exactly as
#: stored is always found.
_ACCENTED = "áàâäãåāăąçćčďđéèêëēěęğíìîïīıłńňñóòôöõøōőřśšşșťțúùûüūůűýÿžźż"
_PLAIN = "aaaaaaaaacccddeeeeeeegiiiiiilnnnoooooooorssssttuuuuuuuyyzzz"
_FOLDING = str.maketrans(_ACCENTED, _PLAIN)


def fold(text: str) -> str:
    """Lower case without accents: what `folded` compares ("Ängström" → "angstrom"). Only
    the letters of the table lose theirs, as in PostgreSQL, where the column is folded."""
    return unicodedata.normalize("NFC", text).lower().translate(_FOLDING)


def sqlite_fold(value: str | None) -> str | None:
    """`fold` as SQLite calls it (NULL stays NULL)."""
    return None if value is None else fold(value)


class folded(FunctionElement):
    """A column's value folded as `fold` folds text."""

    type = String()
    inherit_cache = True


@compiles(folded, "sqlite")
def _folded_sqlite(element: folded, compiler: Any, **kw: Any) -> str:
    return f"noxbot_fold({compiler.process(element.clauses, **kw)})"


@compiles(folded)
def _folded_elsewhere(element: folded, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    return f"translate(lower({inner}), '{_ACCENTED}', '{_PLAIN}')"


def _escaped(text: str) -> str:
    """LIKE's wildcards taken literally; a NUL dropped (PostgreSQL refuses it in text)."""
    text = text.replace("\x00", "")
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def name_contains(column: Any, text: str) -> Any:
    """Whether a short value (a name, an address) contains `text`, folded on both sides."""
    return folded(column).like(f"%{_escaped(fold(text))}%", escape="\\")


def text_contains(column: Any, text: str) -> Any:
    """Whether long text contains `text` in any of the spellings it is usually written in."""
    spellings = {text, text.lower(), text.upper(), text.capitalize(), text.title()}
    return or_(*(column.ilike(f"%{_escaped(s)}%", escape="\\") for s in sorted(spellings)))
