"""Text from outside is shown with nothing hidden and stored without control characters."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from rich.text import Text

from bot.cli.output import SafeConsole, safe_text
from bot.reading.safe_text import printable, printable_json, stored_name


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("Anna\x1b[8m hidden", "Anna\\x1b[8m hidden"),  # "conceal" the rest of the line
        ("abc\u202edcba", "abc\\u202edcba"),  # right-to-left override
        ("x\u2066y\u2069", "x\\u2066y\\u2069"),  # isolates
        ("bell\x07 del\x7f c1\x9b", "bell\\x07 del\\x7f c1\\x9b"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("back\rover", "back\\x0dover"),
    ],
)
def test_characters_that_hide_or_reorder_text_are_shown_as_escapes(written, shown):
    assert printable(written) == shown


def test_ordinary_text_newlines_tabs_and_emoji_are_shown_as_written():
    text = "Hej Åsa!\n\tRadera mina uppgifter 👩‍💻 — tack.\r\nمرحبا"
    assert printable(text) == text.replace("\r\n", "\n")


def test_json_for_scripts_holds_the_same_data_with_nothing_hidden_on_a_terminal():
    value = {"from": "Box 1\u202e\x1b[2J\x85\U000e0041\ud800", "text": "rad 1\nrad 2 👩‍💻"}
    dumped = printable_json(json.dumps(value, ensure_ascii=False, indent=2))
    assert json.loads(dumped) == value
    assert all(printable(char) == char for char in dumped if char != "\n")


def test_a_styled_line_keeps_its_styles_around_the_escapes():
    text = Text.assemble(("from", "bold"), ": Box\x1b[8m 1", ("!", "red"))
    safe = safe_text(text)
    assert safe.plain == "from: Box\\x1b[8m 1!"
    assert [(safe.plain[s.start : s.end], str(s.style)) for s in safe.spans] == [
        ("from", "bold"),
        ("!", "red"),
    ]


def test_the_cli_console_prints_no_escape_sequence_from_outside_even_on_a_colour_terminal():
    console = SafeConsole(force_terminal=True, color_system="standard", width=80, markup=False)
    with console.capture() as captured:
        console.print(Text.assemble(("name", "bold"), ": Anna\x1b[8m\u202e hidden"))
    output = captured.get()
    assert "\x1b[8m" not in output and "\u202e" not in output
    assert "\\x1b[8m\\u202e hidden" in output
    assert "\x1b[1m" in output  # our own bold is still there
    plain = Console(force_terminal=True, color_system="standard", width=80, markup=False)
    with plain.capture() as raw:
        plain.print(Text("Anna\x1b[8m hidden"))
    assert "\x1b[8m" in raw.get()  # what a plain console would have let through


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("Anna\x1b[8m Lindqvist", "Anna Lindqvist"),
        ("Anna \x1b]0;title\x07Lindqvist", "Anna Lindqvist"),
        ("\u202eAnna\u202c\nLindqvist\x00", "Anna Lindqvist"),
        ("Anna Lindqvist (811218\u20139876)", "Anna Lindqvist"),
        ("811218-9876", None),
        ("  ", None),
        (None, None),
        ("Åsa Öberg-Lind 👩‍💻", "Åsa Öberg-Lind 👩‍💻"),
        # Letters that draw nothing: a name of them alone showed as an empty cell.
        ("\u3164\u3164\u3164", None),
        ("Anna\u2800Lindqvist", "Anna Lindqvist"),
        # One variation selector chooses a glyph; a run of them carries hidden text.
        ("Åsa ❤\ufe0f", "Åsa ❤\ufe0f"),
        ("Anna" + "\U000e0100" * 40 + " Lindqvist", "Anna\U000e0100 Lindqvist"),
    ],
)
def test_a_name_from_outside_is_stored_without_controls_or_identity_numbers(written, stored):
    assert stored_name(written) == stored


def test_a_display_name_with_a_number_split_by_white_space_keeps_none_of_it():
    """ "Kalle 811218  9876" (two spaces, or a tab) was stored as "Kalle 811218 9876": the
    number was looked for before the white space was made single."""
    from bot.reading.safe_text import stored_name

    for name in ("Kalle 811218  9876", "Kalle 811218\t9876", "Kalle 811218\u200b-9876"):
        assert stored_name(name) == "Kalle", name


def test_a_display_name_holding_someone_elses_address_is_kept_without_the_address(tmp_path):
    """Before, a mail from stranger@example.org named "Anna Lindqvist <anna.lindqvist@…>"
    was listed as from "Anna Lindqvist <anna.lindqvist@example.se>" with its real address
    under it, and the case page read "From Anna Lindqvist <anna.lindqvist@example.se>
    <stranger@example.org>": her address, as if the mail came from it. Now the name is
    kept without any address; the address shown is only the one the mail came from."""
    from tests.workflow_kit import make_world

    for written, stored in [
        ("Anna Lindqvist <anna.lindqvist@example.se>", "Anna Lindqvist"),
        ("anna.lindqvist@example.se", None),
        ("Anna Lindqvist [mailto:anna.lindqvist@example.se]", "Anna Lindqvist"),
        ("Anna Lindqvist (anna.lindqvist@example.se)", "Anna Lindqvist"),
    ]:
        assert stored_name(written) == stored, written
    world = make_world(tmp_path)
    outcome = world.email(
        "stranger@example.org",
        "Please delete all personal data you hold about me.",
        sender_name="Anna Lindqvist <anna.lindqvist@example.se>",
    )
    case = world.case(outcome.reference)
    assert case.requester_name == "Anna Lindqvist"
    with world.session() as session:
        from sqlmodel import select

        from bot.store.tables import Message

        shown = [m.display_name for m in session.exec(select(Message))]
    assert shown == ["Anna Lindqvist"]
