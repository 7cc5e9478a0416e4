"""The pure rules of verification: which alternate channel, codes, and reading answers."""

from __future__ import annotations

import pytest

from bot.rules.channels import ChannelName
from bot.rules.verification import (
    CodeAnswer,
    Denial,
    Method,
    choose_route,
    code_matches,
    hash_code,
    new_code,
    parse_button_data,
    read_answer,
)

ON_FILE = [("email", "anna@example.se"), ("phone", "+46701234567"), ("telegram", "555")]


def test_asked_by_email_is_confirmed_on_telegram():
    route = choose_route(ChannelName.EMAIL, "anna@example.se", ON_FILE)
    assert (route.method, route.address) == (Method.TELEGRAM_CONFIRM, "555")


def test_asked_on_telegram_gets_a_code_by_email():
    route = choose_route(ChannelName.TELEGRAM, "555", ON_FILE)
    assert (route.method, route.address) == (Method.EMAIL_CODE, "anna@example.se")


def test_only_a_phone_on_file_becomes_a_call():
    route = choose_route(
        ChannelName.EMAIL,
        "anna@example.se",
        [("email", "anna@example.se"), ("phone", "+46701234567")],
    )
    assert route.method is Method.PHONE_CALL


def test_the_channel_the_request_came_from_never_counts():
    assert (
        choose_route(ChannelName.EMAIL, "anna@example.se", [("email", "anna@example.se")]) is None
    )
    other = choose_route(
        ChannelName.EMAIL,
        "anna@example.se",
        [("email", "anna@example.se"), ("email", "anna@work.example")],
    )
    assert (other.method, other.address) == (Method.EMAIL_CODE, "anna@work.example")


def test_codes_are_six_digits_hashed_with_a_key_and_bound_to_their_verification():
    code = new_code()
    assert len(code) == 6 and code.isdigit()
    stored = hash_code(b"key", 7, code)
    assert code not in stored
    assert code_matches(b"key", 7, code, stored)
    assert not code_matches(b"key", 8, code, stored)
    assert not code_matches(b"other", 7, code, stored)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("123456", CodeAnswer("123456")),
        ("123 456", CodeAnswer("123456")),
        ("Här är koden: 123456", CodeAnswer("123456")),
        ("Here it is: 123456\n\n> Someone asked …\n> 999999", CodeAnswer("123456")),
        ("NEJ", Denial()),
        ("No, thanks", Denial()),
        ("det var inte jag", Denial()),
        ("no more newsletters please", None),
        ("rätta mitt nummer till 070-123 45 67 tack", None),
        ("nej tack till fler utskick, och mitt nya nummer är 070-123 45 67", None),
    ],
)
def test_only_a_plain_code_or_a_plain_no_is_an_answer(text, answer):
    assert read_answer(text) == answer


def test_button_data_is_parsed_in_one_place():
    assert parse_button_data("v:12:y") == (12, True)
    assert parse_button_data("v:12:n") == (12, False)
    assert parse_button_data("d:1:2") is None


def test_a_mail_of_many_lines_is_read_for_an_answer_without_splitting_all_of_it():
    """Every mail is read for a code or a "no" in its first lines; half a million lines
    split at once took 35 MB in the pipeline for that."""
    import tracemalloc

    from bot.rules.verification import CodeAnswer, read_answer

    lines = "From: a\n" * 500_000
    answer_below_blank_lines = "\n" * 500_000 + "  123 456\n" + lines
    tracemalloc.start()
    try:
        assert read_answer(lines) is None
        assert read_answer(answer_below_blank_lines) == CodeAnswer("123456")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, f"{peak / 2**20:.0f} MB"
