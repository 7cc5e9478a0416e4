"""Swedish or English, from long mails down to two-word chats, diacritics or not."""

from __future__ import annotations

import pytest

from bot.language import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("radera mig", "sv"),
        ("delete me", "en"),
        ("jag vill att ni tar bort mina uppgifter", "sv"),
        ("Jag vill ha en kopia av mina personuppgifter.", "sv"),
        ("Hi, what personal data do you hold about me?", "en"),
        ("I want my data", "en"),
        ("jag bor i Stockholm", "sv"),
        ("STOPP", "sv"),
        ("", "sv"),
        ("12345", "sv"),
    ],
)
def test_language_is_detected(text, language):
    assert detect_language(text) == language
