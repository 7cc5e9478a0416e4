"""How the command line prints tables: what staff look up or grep — references, ids, dates,
addresses — is never cut or folded, at 80 columns or in a pipe; free text wraps instead.

Cells are plain text, never Rich markup: "[imap]" in our words or a subject line in a
person's stays as written. Colour comes from `Text` styles. Characters that could hide or
reorder text (an escape sequence in a display name) are shown as visible escapes
(`bot.reading.safe_text.printable`), here for table cells and by `SafeConsole` for all else.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Span, Text

from bot.reading.safe_text import printable
from bot.rules.deadlines import local_clock

Cell = str | Text


def safe_text(text: Text) -> Text:
    """A `Text` with its characters made printable, its styles kept where they were."""
    plain = text.plain
    if printable(plain) == plain:
        return text
    pieces = [printable(char) for char in plain]
    starts = [0]  # where each character of `plain` starts in the new text, then its end
    for piece in pieces:
        starts.append(starts[-1] + len(piece))
    return Text(
        "".join(pieces),
        style=text.style,
        justify=text.justify,
        overflow=text.overflow,
        no_wrap=text.no_wrap,
        end=text.end,
        tab_size=text.tab_size,
        spans=[Span(starts[s.start], starts[s.end], s.style) for s in text.spans],
    )


def safe_renderable(renderable: Any) -> Any:
    """What a console prints, with text from outside made printable: a string, a `Text`, a
    `Panel` around one (tables are made safe cell by cell in `_build`)."""
    if isinstance(renderable, str):
        return printable(renderable)
    if isinstance(renderable, Text):
        return safe_text(renderable)
    if isinstance(renderable, Panel):
        panel = copy.copy(renderable)
        panel.renderable = safe_renderable(renderable.renderable)
        return panel
    return renderable


class SafeConsole(Console):
    """A console that never prints a control, escape or bidi character raw (see
    `safe_renderable`): whatever a person wrote cannot hide the rest from staff."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(safe_renderable(o) for o in objects), **kwargs)


@dataclass(frozen=True)
class Column:
    header: str
    #: Looked up or grepped (a reference, id, date, address, path): always shown whole.
    key: bool = False
    #: Left out when the table would not fit the console (the JSON and `show` keep it): the
    #: column with the highest number goes first. None: always shown.
    drop_order: int | None = None
    #: Each line of a cell is one unit (a kind, "marketing opt-out") kept on one line when
    #: the column can be that wide; otherwise text wraps between words.
    whole_lines: bool = False
    #: Where a word too wide for the squeezed column may break: before its "@" for an
    #: address ("erik.svensson" / "@example.se"), so each half is still there whole for grep
    #: and the column needs only the wider half.
    break_before: str = ""
    #: Kept while the table can fit with every free-text column at its narrowest, and left
    #: out only when it cannot (the requester beside a very long address): the JSON and
    #: `show` keep it.
    drop_last: bool = False


#: Characters between two columns.
_GAPS = 2

#: The widest a free-text column is made to keep its longest word (or unit) whole; a longer
#: one (an address in a sentence) folds rather than push the table past the terminal.
WORD_CAP = 18


def _longest_line(values: Sequence[Cell]) -> int:
    lines = [line for v in values for line in str(v).splitlines()]
    return max((cell_len(line) for line in lines), default=1)


def _longest_word(values: Sequence[Cell], break_before: str = "") -> int:
    words = [word for v in values for word in str(v).split()]
    if break_before:
        # An address's halves are kept whole; any other word (a name the sender chose,
        # however long) folds past WORD_CAP like free text: one sender's name must not
        # make the column too wide to fit, and so leave it out for every row.
        return max(
            (
                max(cell_len(piece) for piece in _pieces(word, break_before))
                if break_before in word
                else min(cell_len(word), WORD_CAP)
                for word in words
            ),
            default=1,
        )
    return max((cell_len(word) for word in words), default=1)


def _pieces(word: str, break_before: str) -> list[str]:
    """A word as the pieces it may break into: 'erik@example.se' -> 'erik', '@example.se'."""
    at = word.rfind(break_before)
    return [word[:at], word[at:]] if at > 0 else [word]


def _broken(cell: Cell, break_before: str, width: int) -> Cell:
    """The cell with each word wider than `width` broken before `break_before`."""
    if not isinstance(cell, str):
        return cell
    return "\n".join(
        " ".join(
            "\n".join(_pieces(word, break_before)) if cell_len(word) > width else word
            for word in line.split(" ")
        )
        for line in cell.splitlines()
    )


def _build(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    title: str | None,
    whole_lines: bool = True,
) -> tuple[Table, int, list[tuple[int, int]]]:
    """The table, the narrowest it can be without cutting a key, and each column's
    (narrowest, widest) content width. Without `whole_lines`, a unit ("consent
    withdrawal") may wrap between its words too."""
    rows = [[safe_text(c if isinstance(c, Text) else Text(c)) for c in row] for row in rows]
    # A light frame leaves the text most of an 80-column terminal: two spaces between
    # columns, none at the edges.
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
    )
    least = _GAPS * (len(columns) - 1)
    ranges: list[tuple[int, int]] = []
    for index, column in enumerate(columns):
        longest = _longest_line([column.header, *(row[index] for row in rows)])
        if column.key:
            # min_width keeps a key whole even when Rich must squeeze every column.
            table.add_column(column.header, no_wrap=True, min_width=longest)
            least += longest
            ranges.append((longest, longest))
        else:
            # Free text wraps between words: the column keeps its longest word (a status
            # word, "acknowledgment") whole, and a few characters a line even when squeezed.
            values = [column.header, *(row[index] for row in rows)]
            if column.whole_lines and whole_lines:
                unit = _longest_line(values)
            else:
                unit = _longest_word(values, column.break_before)
            # A few characters a line even when squeezed, unless every value is shorter (a
            # number under "working days left": the header wraps between its words instead).
            shortest_kept = min(_longest_line([row[index] for row in rows]), 8)
            narrowest = max(unit, shortest_kept)
            if not column.break_before:  # a broken address keeps its halves whole
                narrowest = min(narrowest, WORD_CAP)
            table.add_column(column.header, overflow="fold", min_width=narrowest)
            least += narrowest
            ranges.append((narrowest, max(longest, narrowest)))
    for row in rows:
        table.add_row(*row)
    return table, least, ranges


def _squeeze(ranges: list[tuple[int, int]], width: int) -> list[int]:
    """Set each column's width so the table fits `width`: keys keep theirs, and the widest
    free-text column gives up a character at a time, never below its narrowest. (Left to
    itself, Rich shrinks every column evenly, keys too, then widens the keys back past the
    terminal's edge.)"""
    widths = [widest for _, widest in ranges]
    room = width - _GAPS * (len(ranges) - 1)
    while sum(widths) > room:
        shrinkable = [i for i, (least, _) in enumerate(ranges) if widths[i] > least]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= max(1, min(widths[widest] - ranges[widest][0], sum(widths) - room) // 4)
    return widths


def fitted_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str | None = None,
) -> Table:
    """The widest table that fits the console: optional columns are left out one by one
    until it does (a `drop_last` one only when the rest cannot fit even squeezed); key
    columns are never cut either way."""
    optional = sorted((c.drop_order, i) for i, c in enumerate(columns) if c.drop_order)
    last = [i for i, c in enumerate(columns) if c.drop_last]
    dropped: set[int] = set()
    whole_lines = True
    while True:
        keep = [i for i in range(len(columns)) if i not in dropped]
        kept = [columns[i] for i in keep]
        kept_rows = [[row[i] for i in keep] for row in rows]
        table, least, ranges = _build(kept, kept_rows, title, whole_lines)
        if not optional and least > console.width and last:
            # Before a drop_last column goes, units may wrap between their words.
            if whole_lines and any(c.whole_lines for c in kept):
                whole_lines = False
            else:
                dropped.add(last.pop())
                whole_lines = True
            continue
        if not optional or _natural_width(console, table) <= console.width:
            if least > console.width:
                table.width = least  # wider than the console rather than cut
            elif _natural_width(console, table) > console.width:
                widths = _squeeze(ranges, console.width)
                if any(c.break_before for c in kept):
                    kept_rows = [
                        [
                            _broken(cell, c.break_before, w) if c.break_before else cell
                            for cell, c, w in zip(row, kept, widths, strict=True)
                        ]
                        for row in kept_rows
                    ]
                    table, _, _ = _build(kept, kept_rows, title, whole_lines)
                for column, column_width in zip(table.columns, widths, strict=True):
                    column.width = column_width
            return table
        dropped.add(optional.pop()[1])


def _natural_width(console: Console, table: Table) -> int:
    return console.measure(table, options=console.options.update_width(10_000)).maximum


def recipient(to: dict[str, str]) -> str:
    """'email anna@example.se', 'telegram 5550002': a bare number says nothing to a newcomer."""
    return f"{to['channel']} {to['address']}"


def print_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str | None = None,
) -> None:
    """Print `fitted_table`; a line wider than a very narrow console is left for the terminal
    to wrap, never cropped."""
    console.print(fitted_table(console, columns, rows, title=title), crop=False)


def iso_as_local(iso: str, zone: str) -> str:
    """A point in time the JSON gives in UTC ("2026-12-07T06:12:00+00:00"), as a clock in
    `zone` reads it, named: "2026-12-07 07:12 CET" (rules.deadlines.local_clock)."""
    try:
        return local_clock(datetime.fromisoformat(iso), zone)
    except ValueError:
        return iso


def fact_words(value: object) -> str:
    """One of the case's facts as a person reads it: lists joined, nothing as a dash,
    yes/no, a mapping as its pairs."""
    if value is None or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):  # kinds side by side; phrases, which hold commas, apart
        items = [fact_words(item) for item in value]
        return ("; " if any(" " in item for item in items) else ", ").join(items)
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {fact_words(v)}" for k, v in value.items())
    return str(value)
