"""Swedish or English, from long mails down to two-word chats, diacritics or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.reading.language import detect_language


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


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hej! Jag vill inte längre få era nyhetsbrev.", "sv"),
        ("hej jag vill inte ha era utskick langre, ta bort mig", "sv"),
        ("Kan ni radera mej?", "sv"),
        ("sluta skicka mejl", "sv"),
        ("Please stop sending me emails", "en"),
        ("I don\u2019t want your newsletter anymore", "en"),
        ("Hello, could you delete my CV? Thanks", "en"),
        ("Hej! Please delete my data, thanks", "en"),
        ("Tack! I Stockholm har vi kontor, men ta bort mig ur registret", "sv"),
        ("Dear NOX,\n\nUnder Article 17 I request erasure of my personal data.", "en"),
    ],
)
def test_language_of_mixed_and_informal_messages(text, language):
    assert detect_language(text) == language


def test_shipped_chat_examples_are_in_the_language_they_are_written_in():
    chat = Path(__file__).resolve().parent.parent / "examples" / "chat"
    found = {p.name: detect_language(p.read_text(encoding="utf-8")) for p in chat.glob("*.txt")}
    assert found["01-radera-mig.txt"] == "sv"
    assert found["02-what-do-you-have.txt"] == "en"
    assert found["04-how-long.txt"] == "en"
    assert found["05-mote.txt"] == "sv"
