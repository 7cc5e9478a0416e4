"""Register values found in a text in the shapes staff paste them, and only as a whole."""

from __future__ import annotations

import pytest

from bot.rules.repeated_values import repeated_values

ON_FILE = [
    "+46701234567",
    "+447700900123",
    "559123-4567",
    "5550001",  # a Telegram user id
    "2027-01-15",
    "2026-12-01",
    "Lindqvist Data AB",
    "Python; PostgreSQL; Kubernetes",
    "15 år som utvecklare, senast på Exempelbanken.",
]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Numret vi har är 070-123 45 67.", "+46701234567"),
        ("Numret vi har är 070 – 123 45 67.", "+46701234567"),  # Word's en dash
        ("ring 0701234567", "+46701234567"),
        ("ring +46 70 123 45 67", "+46701234567"),
        ("Ref 12 070-123 45 67", "+46701234567"),
        ("UK: 07700 900123", "+447700900123"),
        ("Org.nr 5591234567.", "559123-4567"),
        ("Bolag: Lindqvist\nData AB", "Lindqvist Data AB"),
        ("Bolag: Lindqvist-Data AB", "Lindqvist Data AB"),
        ("Kan: Python, PostgreSQL, Kubernetes", "Python; PostgreSQL; Kubernetes"),
        ("CV: 15 år som utvecklare, senast på\nExempelbanken.", ON_FILE[-1]),
        ("ledig från 15 januari 2027", "2027-01-15"),
        ("ledig från 15:e januari 2027", "2027-01-15"),
        ("ledig från 15 jan. 2027", "2027-01-15"),
        ("ledig från 15/01/2027", "2027-01-15"),
        ("ledig från 15.1.2027", "2027-01-15"),
        ("ledig från 2027-1-15", "2027-01-15"),
        ("available from January 15th, 2027", "2027-01-15"),
    ],
)
def test_a_value_pasted_in_another_shape_is_found(text, value):
    assert repeated_values(text, ON_FILE) == [value]


@pytest.mark.parametrize(
    "text",
    [
        "Vi svarar senast 21 december 2026.",  # not "1 december 2026"
        "Vi svarar senast 2026-12-21 (ärende DSR-2026-0001).",
        "Vi svarar senast 31/12 2026.",
        "Du kan också ringa oss på 08-555 000 12.",  # not the id 5550001
        "Fakturanummer 1559123-45670.",
    ],
)
def test_an_ordinary_line_of_a_notice_is_not_taken_for_a_value(text):
    assert repeated_values(text, ON_FILE) == []
