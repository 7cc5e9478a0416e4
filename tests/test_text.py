"""What the person wrote: quoted history, signatures and HTML furniture removed."""

from __future__ import annotations

from bot.text import html_to_text, strip_quoted, strip_signature, visible_text


def test_gmail_style_swedish_attribution_and_quotes_are_dropped():
    text = (
        "Tack, det löste sig!\n\nDen tis 24 nov. 2026 kl 10:12 skrev Anna <anna@example.se>:\n"
        "> Radera mina uppgifter\n"
    )
    assert visible_text(text) == "Tack, det löste sig!"


def test_english_attribution_wrapped_over_two_lines_is_dropped():
    text = "Please delete.\nOn Tue, 24 Nov 2026 at 10:12, Anna\n<anna@example.se> wrote:\n> hi"
    assert visible_text(text) == "Please delete."


def test_outlook_header_block_in_swedish_starts_the_history():
    text = (
        "Radera mig.\n\n________________________________\nFrån: NOX <info@noxconsulting.se>\n"
        "Skickat: den 3 november 2026 08:00\nTill: Anna\nÄmne: Nyhetsbrev\n\nKöp!"
    )
    assert visible_text(text) == "Radera mig."


def test_outlook_original_message_separator_starts_the_history():
    text = "Stop please.\n-----Original Message-----\nFrom: x\nSent: y\n\nold text"
    assert strip_quoted(text).strip() == "Stop please."


def test_a_forwarded_request_is_kept():
    text = (
        "FYI, från en konsult.\n\n---------- Forwarded message ---------\nFrån: Anna\n"
        "Skickat: idag\n\nRadera mina uppgifter."
    )
    assert "Radera mina uppgifter." in visible_text(text)


def test_a_line_saying_skrev_without_a_date_is_not_an_attribution():
    assert "radera" in visible_text("Som jag skrev tidigare:\nradera allt om mig")


def test_signature_and_phone_disclaimers_are_dropped():
    assert strip_signature("Radera mig\n-- \nAnna\n070-1234567") == "Radera mig"
    assert visible_text("Radera mig\n\nSkickat från min iPhone") == "Radera mig"
    assert visible_text("Delete me.\n\nThis e-mail and any attachments are confidential.") == (
        "Delete me."
    )


def test_html_blocks_become_lines_and_quotes_disappear():
    html = (
        "<div>Hej</div><p>Radera&nbsp;mig &amp; mitt CV</p><br>"
        '<div class="gmail_quote">Den 1 nov skrev X:<blockquote>gammalt</blockquote></div>'
        "<style>p{color:red}</style>"
    )
    assert html_to_text(html) == "Hej\n\nRadera mig & mitt CV"
    assert "gammalt" in html_to_text(html, drop_quotes=False)


def test_visible_text_is_idempotent():
    text = "Hej\n\n> citat\nradera mig\n-- \nsig"
    assert visible_text(visible_text(text)) == visible_text(text)
