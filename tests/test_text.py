"""What the person wrote: quoted history, signatures and HTML furniture removed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.reading.text import html_to_text, strip_quoted, strip_signature, visible_text


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


def test_wrapped_swedish_gmail_attribution_is_dropped():
    text = (
        "Ja, radera allt.\n\nDen tis 24 nov. 2026 kl 10:12 skrev Anna Andersson-Lindqvist <\n"
        "anna.andersson-lindqvist@example.se>:\n\n> Vill du att vi raderar något?"
    )
    assert visible_text(text) == "Ja, radera allt."


def test_apple_mail_and_thunderbird_attributions_are_dropped():
    assert visible_text("Radera mig.\n\n24 nov. 2026 kl. 10:12 skrev Anna <a@example.se>:\nx") == (
        "Radera mig."
    )
    assert visible_text("Delete me.\n\nOn 2026-11-24 10:12, Anna Svensson wrote:\nold") == (
        "Delete me."
    )


def test_the_persons_own_words_about_what_they_wrote_are_kept():
    text = "Den 3 november skrev jag till er:\nRadera mitt CV."
    assert visible_text(text) == text
    text = "On 3 November I wrote:\nplease delete my CV."
    assert visible_text(text) == text


def test_a_sentence_before_a_swedish_attribution_is_kept():
    text = "Jag flyttar den 5 december.\nDen tis 24 nov. 2026 kl 10:12 skrev Anna <a@example.se>:"
    assert visible_text(text) == "Jag flyttar den 5 december."


def test_outlook_for_mac_header_block_with_datum_is_dropped():
    text = "Sluta mejla mig.\n\nFrån: NOX <info@noxconsulting.se>\nDatum: 3 nov 2026\nTill: x"
    assert visible_text(text) == "Sluta mejla mig."


def test_a_from_line_in_the_persons_own_text_is_not_a_header_block():
    text = "From: Anna Svensson, konsult\nPlease delete my profile."
    assert visible_text(text) == text


def test_a_request_opening_with_this_email_is_not_taken_for_a_disclaimer():
    text = "This email is to ask you to delete all my personal data.\nThanks, Anna"
    assert visible_text(text) == text
    text = "Detta mejl gäller radering av mina uppgifter.\nAnna"
    assert visible_text(text) == text


def test_a_disclaimer_wrapped_over_two_lines_is_dropped():
    text = (
        "Radera mig.\n\nDetta e-postmeddelande kan innehålla\nkonfidentiell information "
        "avsedd endast för mottagaren."
    )
    assert visible_text(text) == "Radera mig."


def test_outlook_mobile_footers_are_dropped():
    assert visible_text("Stop emailing me\n\nGet Outlook for iOS") == "Stop emailing me"
    assert visible_text("Sluta mejla\n\nHämta Outlook för Android") == "Sluta mejla"


def test_a_forwarded_message_with_quote_marks_is_kept_whole():
    text = (
        "Se nedan.\n\n-------- Vidarebefordrat meddelande --------\n"
        "> Radera mina uppgifter, tack.\n> /Eva"
    )
    assert "> Radera mina uppgifter, tack." in strip_quoted(text)


def test_html_blockquote_with_line_breaks_inside_ends_where_it_ends():
    html = "<p>Ja tack</p><blockquote>gammalt<br>mer gammalt<p>ännu mer</blockquote><p>/Anna</p>"
    assert html_to_text(html) == "Ja tack\n\n/Anna"


def test_outlook_html_reply_marker_ends_the_text():
    html = (
        '<div>Radera mig.</div><div id="appendonsend"></div><hr>'
        '<div id="divRplyFwdMsg"><b>Från:</b> NOX</div><div>Nyhetsbrev</div>'
    )
    assert html_to_text(html) == "Radera mig."
    assert "Nyhetsbrev" in html_to_text(html, drop_quotes=False)


def test_html_lines_paragraphs_and_invisible_characters():
    html = "<div>Hej</div><div>Radera mig\u200b</div><div><br></div><div>Anna</div>"
    assert html_to_text(html) == "Hej\nRadera mig\n\nAnna"
    assert html_to_text("<p>a</p><p>b</p>") == "a\n\nb"
    assert html_to_text("a<br/>b") == "a\nb"
    assert html_to_text("<p>x &amp;lt; y</p>") == "x &lt; y"  # decoded once, not twice


def test_html_source_line_breaks_are_spaces():
    assert html_to_text("<p>Radera\nmina\r\n  uppgifter</p>") == "Radera mina uppgifter"


_LINES = st.sampled_from(
    [
        "",
        "  ",
        "Radera mig",
        "> citat",
        ">",
        "-- ",
        "--",
        "Den tis 24 nov. 2026 kl 10:12 skrev Anna <",
        "anna@example.se>:",
        "On Tue, 24 Nov 2026, Anna",
        "<a@example.se> wrote:",
        "Från: NOX",
        "Skickat: idag",
        "________________",
        "---------- Forwarded message ---------",
        "Skickat från min iPhone",
        "This e-mail is",
        "confidential.",
        "Jag flyttar.",
        "\u200b",
        "a\xa0 b",
        "From: x",
        "Sent: today",
        "-----Original Message-----",
        "Get Outlook for iOS",
        "On 3 Nov Anna",
        "wrote:",
        "\t>x",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_LINES, max_size=16))
def test_visible_text_is_idempotent_on_any_mix_of_quote_and_signature_lines(lines):
    once = visible_text("\n".join(lines))
    assert visible_text(once) == once


MARKER_LINES_SEEN = [
    "On Tue, 24 Nov 2026 at 10:12, Anna <anna@example.se> wrote:",
    "ON 2026-11-24 10:12, Anna Svensson WROTE:",
    "Den tis 24 nov. 2026 kl 10:12 skrev Anna <anna@example.se>:",
    "2026-11-24 10:12 ſkrev Anna Svensson:",
    "-----Original Message-----",
    "-- Ursprungligt meddelande --",
    "From: Anna",
    "Sent: den 24 november 2026",
    "FRÅN: Anna",
    "Skickat: tisdag",
    "---------- Forwarded message ---------",
    "Början på vidarebefordrat brev:",
    "-- ",
    "Sent from my iPhone",
    "Skickat från min iPhone",
    "Get Outlook for iOS",
    "This e-mail is confidential and intended solely for the addressee.",
    "Detta meddelande är konfidentiellt och avsett endast för mottagaren.",
    "> quoted",
]


def test_skipping_the_line_by_line_look_changes_nothing(monkeypatch):
    """strip_quoted, strip_signature and visible_text skip looking at each line when no
    marker's word stands in the text; on the corpus, the example mails and texts made of
    marker lines in every case, they must give what the full look gives."""
    import json
    import random
    from pathlib import Path

    from bot.reading import text as module

    root = Path(__file__).resolve().parent.parent
    texts = [
        json.loads(line)["text"]
        for path in sorted((root / "bench" / "corpus").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in root.glob("tests/data/eml/*.eml")]
    chance = random.Random(5)
    for _ in range(600):
        lines = [*chance.sample(MARKER_LINES_SEEN, 3), "Radera mig, tack.", ""]
        chance.shuffle(lines)
        picked = "\n".join(lines)
        texts.append(chance.choice([picked, picked.upper(), picked.lower(), picked.title()]))

    def read(text: str) -> tuple[str, str, str]:
        return module.strip_quoted(text), module.strip_signature(text), module.visible_text(text)

    fast = [read(t) for t in texts]
    monkeypatch.setattr(module, "_may_hold", lambda text, words: True)
    slow = [read(t) for t in texts]
    assert fast == slow
    assert sum(1 for (q, s, _), t in zip(fast, texts, strict=True) if q != t or s != t) > 300
