"""A mail's quoted history and signature are stripped once: parsing does it, and the
classifier reads that text as it is instead of stripping it again — with the same result."""

from __future__ import annotations

import pytest

from bot.reading import classifier, mail, text
from bot.reading.classifier import classify
from bot.reading.safe_text import stored_text
from bot.runtime.mail_reader import Position, read_mail

QUOTED = (
    "Hej!\r\n\r\nJag vill att ni raderar alla mina uppgifter.\r\n\r\nMvh Anna\r\n-- \r\n"
    "Anna Svensson\r\nEkonomi AB\r\n\r\nDen 24 nov. 2026 kl. 10:12 skrev Info <info@nox.se>:\r\n"
    "> Tack for ditt mejl.\r\n> Vi aterkommer.\r\n"
)
MASKED = (
    "Radera mina uppgifter.\r\nMitt personnummer ar 811218-9876.\r\n\r\nSkickat fran min iPhone\r\n"
)
NUL = "Radera mina uppgifter. Mitt personnummer ar 811218-\x009876.\r\n> gammalt\r\n"


def raw(body: str, subject: str = "Mina uppgifter") -> bytes:
    return (
        f"From: Anna <anna@example.se>\r\nTo: info@noxconsulting.se\r\nSubject: {subject}\r\n"
        "Message-ID: <once@example.se>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}"
    ).encode()


def test_an_ordinary_mail_is_stripped_of_quotes_and_signature_once(monkeypatch):
    calls = []

    def counted(value: str) -> str:
        calls.append(value)
        return text.visible_text(value)

    monkeypatch.setattr(mail, "visible_text", counted)
    monkeypatch.setattr(classifier, "visible_text", counted)
    reading = read_mail(raw(QUOTED), Position(1, 1, None))
    assert reading.classification is not None
    assert len(calls) == 1
    assert "Tack" not in reading.inbound.text and "Ekonomi AB" not in reading.inbound.text


@pytest.mark.parametrize("body", [QUOTED, MASKED, NUL, "Ta bort mig.\r\n\r\n> radera\r\n"])
def test_the_classification_is_the_same_as_when_the_classifier_strips_again(body):
    reading = read_mail(raw(body), Position(1, 1, None))
    inbound = reading.inbound
    assert reading.classification == classify(
        stored_text(inbound.text), subject=stored_text(inbound.subject), channel="email"
    )


def test_a_masked_identity_number_is_read_as_before(monkeypatch):
    # The mask is blanked out before the classifier strips the text, which may change what
    # stripping leaves: then it strips it again, as it always did.
    calls = []
    monkeypatch.setattr(
        classifier, "visible_text", lambda value: calls.append(value) or text.visible_text(value)
    )
    reading = read_mail(raw(MASKED), Position(1, 1, None))
    assert "9876" not in reading.inbound.text
    assert len(calls) == 1
