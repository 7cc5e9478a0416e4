"""From RFC 822 bytes to what the person wrote: every charset and encoding, quotes gone."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.reading.mail import MalformedEmail, header_after_blank_lines, parse_email

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "mail"


def _mail(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode("ascii") + b"\r\n" + body


def test_iso_8859_1_quoted_printable_body_and_encoded_words_are_decoded():
    parsed = parse_email((EXAMPLES / "01-radera-iso-8859-1-qp.eml").read_bytes())
    assert parsed.from_name == "Lena Öberg"
    assert parsed.from_address == "lena.oberg@example.se"
    assert parsed.subject == "Radera mina uppgifter - GDPR"
    assert "raderar alla mina personuppgifter" in parsed.text
    assert "även mitt CV" in parsed.text
    assert parsed.message_id == "<ex1@example.se>"


def test_base64_body_and_utf8_b_encoded_subject_are_decoded():
    parsed = parse_email((EXAMPLES / "02-registerutdrag-base64.eml").read_bytes())
    assert parsed.subject == "Begäran om registerutdrag"
    assert parsed.from_name == "Jonas Åkesson"
    assert "vilka personuppgifter har ni om mig" in parsed.text


def test_html_only_mail_is_turned_into_text():
    parsed = parse_email((EXAMPLES / "03-portability-html-only.eml").read_bytes())
    assert "<b>" not in parsed.body
    assert "Please send me all my personal data in a machine-readable format" in parsed.text
    assert parsed.text.splitlines()[0] == "Hello NOX,"


def test_plain_part_is_preferred_in_multipart_alternative():
    parsed = parse_email((EXAMPLES / "04-ratta-telefonnummer.eml").read_bytes())
    assert "<p>" not in parsed.body and "073-555 44 33" in parsed.text


def test_quoted_newsletter_under_a_reply_is_not_part_of_the_text():
    parsed = parse_email((EXAMPLES / "05-avregistrera-svar-pa-nyhetsbrev.eml").read_bytes())
    assert parsed.text == "Sluta skicka nyhetsbrev till mig, tack."
    assert "Nya uppdrag" in parsed.body
    assert parsed.in_reply_to == "<newsletter-2026-11@noxconsulting.se>"


def test_headers_are_kept_lower_cased_for_auto_reply_checks():
    parsed = parse_email((EXAMPLES / "07-autosvar-semester.eml").read_bytes())
    assert parsed.headers["auto-submitted"] == "auto-replied"


def test_windows_1252_and_an_unknown_charset_never_crash():
    cp1252 = _mail(
        "From: a@example.se\nSubject: x\nContent-Type: text/plain; charset=windows-1252\n",
        "Hälsningar – Åsa".encode("cp1252"),
    )
    assert parse_email(cp1252).text == "Hälsningar – Åsa"
    unknown = _mail(
        "From: a@example.se\nSubject: x\nContent-Type: text/plain; charset=x-klingon\n",
        "Tack så mycket".encode(),
    )
    assert parse_email(unknown).text == "Tack så mycket"


def test_iso_8859_1_b_encoded_subject():
    subject = "=?iso-8859-1?b?VGEgYm9ydCBtaW5hIHVwcGdpZnRlciBw5SBlciBzaWRh?="
    raw = _mail(f"From: a@example.se\nSubject: {subject}\n", b"hej")
    assert parse_email(raw).subject == "Ta bort mina uppgifter på er sida"


def test_threading_ids_and_date_are_read():
    raw = _mail(
        "From: Anna <ANNA@Example.se>\nSubject: Re: x\nMessage-ID: <b@example.se>\n"
        "In-Reply-To: <a@noxconsulting.se>\nReferences: <z@x> <a@noxconsulting.se>\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0100\n",
        b"ok",
    )
    parsed = parse_email(raw)
    assert parsed.from_address == "anna@example.se"
    assert parsed.references == ("<z@x>", "<a@noxconsulting.se>")
    assert parsed.in_reply_to == "<a@noxconsulting.se>"
    assert parsed.date.isoformat() == "2026-11-24T10:00:00+01:00"


def test_personal_identity_numbers_are_masked_in_subject_and_body():
    raw = _mail(
        "From: a@example.se\nSubject: Mitt pnr 811218-9876\n",
        b"Personnummer 19811218-9876, radera mig.",
    )
    parsed = parse_email(raw)
    assert "9876" not in parsed.subject and "9876" not in parsed.body
    assert "[personnummer borttaget]" in parsed.text


def test_a_bounce_report_keeps_its_content_type():
    raw = _mail(
        "From: MAILER-DAEMON@example.com\nSubject: Undelivered Mail Returned to Sender\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n',
        b"--r\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--r--\r\n",
    )
    parsed = parse_email(raw)
    assert parsed.content_type == "multipart/report"
    assert "could not be delivered" in parsed.text


def test_attachments_are_named_not_read_as_text():
    raw = _mail(
        'From: a@example.se\nSubject: CV\nContent-Type: multipart/mixed; boundary="m"\n',
        (
            "--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHär är mitt nya CV.\r\n"
            "--m\r\nContent-Type: application/pdf\r\n"
            'Content-Disposition: attachment; filename="cv.pdf"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--m--\r\n"
        ).encode(),
    )
    parsed = parse_email(raw)
    assert parsed.attachments == ("cv.pdf",) and parsed.text == "Här är mitt nya CV."


@pytest.mark.parametrize(
    "raw",
    [b"", b"   \r\n", b"\x00\x01\x02binary", b"just some words\n"],
    ids=["empty", "blank", "binary", "no-headers"],
)
def test_input_that_is_not_an_email_is_refused_clearly(raw):
    with pytest.raises(MalformedEmail):
        parse_email(raw)


# --- The fixtures in tests/data/eml: one real-world shape each. ------------------------------

FIXTURES = Path(__file__).resolve().parent / "data" / "eml"


def _fixture(name: str):
    return parse_email((FIXTURES / name).read_bytes())


def test_quoted_printable_utf8_swedish_body():
    parsed = _fixture("qp-utf8-sv.eml")
    assert parsed.subject == "Fråga om mina uppgifter"
    assert parsed.from_name == "Göran Häll"
    assert "vilka uppgifter ni har sparade om mig och varifrån ni fått dem" in parsed.text
    assert "hur länge ni tänker spara mitt CV" in parsed.text  # soft line break joined


def test_quoted_printable_latin1_body_with_b_encoded_latin1_subject():
    parsed = _fixture("qp-latin1-sv.eml")
    assert parsed.subject == "Ta bort mina uppgifter på er sida"
    assert parsed.from_name == "Åsa Söderström"
    assert "även gamla ansökningar. Tack på förhand!" in parsed.text


def test_base64_body_utf8_subject_and_mixed_case_address():
    parsed = _fixture("base64-body.eml")
    assert parsed.subject == "Subject access request – Emma Clarke"
    assert parsed.from_address == "emma.clarke@example.com"
    assert "I would like a copy of the personal data you hold about me." in parsed.text
    assert parsed.date is not None and parsed.date.utcoffset().total_seconds() == 0


def test_html_only_mail_keeps_lines_and_drops_script_and_style():
    parsed = _fixture("html-only.eml")
    assert parsed.content_type == "text/html"
    assert parsed.text == (
        "Hej!\n\nJag vill inte längre få era utskick.\nTa bort mig från listan, tack.\n\n"
        "Nyhetsbrev\nInbjudningar\n\n/Lars Berg"
    )


def test_multipart_alternative_reads_the_plain_part_not_the_html():
    parsed = _fixture("multipart-alternative.eml")
    assert parsed.text == (
        "Hej! Jag har bytt e-postadress till nina.ek@example.com, kan ni ändra det?"
    )
    assert "HTML-VERSION" not in parsed.body


def test_gmail_reply_in_swedish_is_read_without_the_quoted_message():
    parsed = _fixture("gmail-reply-sv.eml")
    assert parsed.text == "Tack, det ser bra ut. Ni får gärna radera mitt gamla CV också."
    assert "registerutdrag" in parsed.body  # the body keeps the history for staff
    assert parsed.in_reply_to == "<case-17@noxconsulting.se>"
    assert parsed.references == ("<first@example.se>", "<case-17@noxconsulting.se>")


def test_outlook_reply_in_swedish_is_read_without_the_newsletter_below():
    parsed = _fixture("outlook-reply-sv.eml")
    assert parsed.text == "Jag vill inte få fler nyhetsbrev från er.\n\nErik"
    assert parsed.from_name == "Svensson, Erik"
    assert parsed.from_address == "erik.svensson@example.se"


def test_outlook_html_reply_drops_everything_after_the_reply_marker():
    parsed = _fixture("outlook-reply-html.eml")
    assert parsed.text == "Radera mig från era listor, tack."


def test_auto_reply_headers_are_available_decoded():
    parsed = _fixture("auto-reply.eml")
    assert parsed.headers["auto-submitted"] == "auto-replied"
    assert parsed.headers["x-auto-response-suppress"] == "All"
    assert parsed.subject == "Automatiskt svar: Ditt ärende"


def test_bounce_is_a_delivery_report_whose_text_is_the_notification():
    parsed = _fixture("bounce.eml")
    assert parsed.content_type == "multipart/report"
    assert parsed.from_address == "mailer-daemon@mx.example.com"
    assert "delivery-status" in parsed.headers["content-type"]
    assert "could not\nbe delivered" in parsed.text
    assert "Final-Recipient" not in parsed.body  # the machine-readable part is not text


def test_newsletter_list_unsubscribe_header_is_unfolded():
    parsed = _fixture("newsletter.eml")
    assert parsed.headers["list-unsubscribe"] == (
        "<mailto:unsubscribe@example.com?subject=unsubscribe>, <https://example.com/unsub?u=1>"
    )
    assert parsed.headers["precedence"] == "bulk"


def test_personnummer_is_masked_everywhere_and_the_phone_number_is_kept():
    parsed = _fixture("personnummer.eml")
    assert parsed.subject == "Radera mig, pnr [personnummer borttaget]"
    assert parsed.headers["subject"] == parsed.subject
    assert "9876" not in parsed.body
    assert "Mitt personnummer är [personnummer borttaget]" in parsed.text
    assert "070-123 45 67" in parsed.text


def test_raw_8bit_windows_1252_headers_are_read():
    parsed = _fixture("windows-1252-8bit-headers.eml")
    assert parsed.from_name == "Åke Öst"
    assert parsed.subject == "Återkallar samtycke – tack"
    assert parsed.text == "Jag återkallar mitt samtycke – ni får inte längre använda mitt CV."


def test_forwarded_request_is_read_but_the_forwarders_signature_is_not():
    parsed = _fixture("forwarded-request.eml")
    assert "Hej, jag vill att ni raderar alla mina uppgifter." in parsed.text
    assert "Kim Sand, NOX Consulting" not in parsed.text


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.eml")), ids=lambda p: p.name)
def test_every_fixture_has_a_sender_a_message_id_and_some_text(path):
    parsed = parse_email(path.read_bytes())
    assert parsed.from_address and parsed.message_id and parsed.text
    assert parsed.message_id.startswith("<") and parsed.message_id.endswith(">")


def test_a_malformed_address_header_does_not_crash_and_yields_no_sender():
    raw = _mail("From: <<<@@>>> (\nSubject: hej\nTo: ,,,\n", b"radera mig")
    parsed = parse_email(raw)
    assert parsed.from_address is None and parsed.to_addresses == ()
    assert parsed.text == "radera mig"


def test_an_unparseable_date_is_none_and_a_zoneless_date_is_utc():
    assert parse_email(_mail("From: a@example.se\nDate: yesterday\n", b"x")).date is None
    zoneless = parse_email(_mail("From: a@example.se\nDate: 24 Nov 2026 10:00:00 -0000\n", b"x"))
    assert zoneless.date is not None and zoneless.date.tzinfo is not None


def test_an_unknown_charset_in_an_encoded_word_is_read_not_raised():
    raw = _mail("From: =?x-unknown?q?Anna?= <a@example.se>\nSubject: =?klingon?b?aGVq?=\n", b"x")
    parsed = parse_email(raw)
    assert parsed.from_address == "a@example.se"
    assert "hej" in parsed.subject


def test_a_broken_base64_body_still_gives_text():
    raw = _mail(
        "From: a@example.se\nSubject: x\nContent-Transfer-Encoding: base64\n",
        b"cmFkZXJhIG1pZw=!!not base64",
    )
    parsed = parse_email(raw)
    assert isinstance(parsed.text, str)
    assert parsed.defects  # the damage is reported for staff


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(FIXTURES.glob("*.eml"))),
    st.lists(st.tuples(st.integers(0, 4000), st.binary(max_size=8)), max_size=12),
)
def test_damaged_mail_is_parsed_or_refused_but_never_crashes(path, edits):
    data = bytearray(path.read_bytes())
    for position, junk in edits:
        at = position % (len(data) + 1)
        data[at : at + len(junk)] = junk
    try:
        parsed = parse_email(bytes(data))
    except MalformedEmail:
        return
    assert isinstance(parsed.text, str) and isinstance(parsed.subject, str)


def test_headers_read_without_the_policys_parser_read_as_the_parser_reads_them():
    """bot.reading.mail._plain_value skips the email library's header parser where its
    answer is the text itself; on random ASCII values (control characters, quotes, folds)
    and Message-IDs it must give what the parser gives."""
    import email.policy
    import random
    import string

    from bot.reading.mail import _POLICY, _plain_value, _unfold

    def parsed(name: str, value: str) -> str:
        return _unfold(str(email.policy.EmailPolicy.header_fetch_parse(_POLICY, name, value)))

    chance = random.Random(7)
    alphabet = "".join(map(chr, range(128))) + string.ascii_letters * 3 + ' =?()<>@\\"'
    tried = 0
    for name in ("subject", "x-mailer", "in-reply-to", "references", "received", "to", "date"):
        for _ in range(3000):
            value = "".join(chance.choices(alphabet, k=chance.randint(0, 40)))
            value = value.replace("\r", " ").replace("\n", " ")
            if chance.random() < 0.2:
                value += "\r\n\t folded"
            if (plain := _plain_value(name, value)) is not None:
                tried += 1
                assert _unfold(plain) == parsed(name, value), (name, value)
    atext = "abcXYZ019._+-!#$%&'*/=?^_`{|}~"
    for _ in range(5000):
        local = "".join(chance.choices(atext, k=chance.randint(0, 12)))
        domain = "".join(chance.choices("ab9.-", k=chance.randint(0, 8)))
        value = f" <{local}@{domain}>\t" if chance.random() < 0.3 else f"<{local}@{domain}>"
        if (plain := _plain_value("message-id", value)) is not None:
            tried += 1
            assert _unfold(plain) == parsed("message-id", value), value
    assert tried > 10_000
    assert _plain_value("date", "Tue, 24 Nov 2026 10:00:00 +0100") is None  # reformatted
    assert _plain_value("from", '"Svensson, Erik" <erik@example.se>') is None  # quoted
    assert _plain_value("subject", "=?utf-8?q?Hej?=") is None  # an encoded word


def test_addresses_of_the_usual_shape_read_as_the_library_reads_them():
    """bot.reading.mail skips the email library for "a@b.se" and "Name <a@b.se>": the
    header as the policy renders it and the (name, address) pairs must be the library's."""
    import email.policy
    import random

    from bot.reading.mail import _POLICY, _addresses, _parsed_addresses, _plain_value, _unfold

    chance = random.Random(11)

    def piece(alphabet: str, most: int) -> str:
        return "".join(chance.choices(alphabet, k=chance.randint(0, most)))

    tried = 0
    for _ in range(20_000):
        address = f"{piece('abcXYZ019._+-', 10)}@{piece('ab9.-', 8)}"
        if chance.random() < 0.5:
            name = " ".join(piece("abQ0", 6) for _ in range(chance.randint(1, 3)))
            address = f"{name} <{address}>"
        value = f" {address}\t" if chance.random() < 0.3 else address
        header = chance.choice(["from", "to", "cc", "reply-to", "sender", "resent-from"])
        if (plain := _plain_value(header, value)) is None:
            continue
        tried += 1
        rendered = _unfold(str(email.policy.EmailPolicy.header_fetch_parse(_POLICY, header, value)))
        assert _unfold(plain) == rendered, (header, value)
        assert _addresses(rendered) == _parsed_addresses(rendered), value
    assert tried > 5_000


def test_a_date_that_has_no_utc_time_is_no_date():
    raw = _mail("From: a@example.se\nDate: Fri, 31 Dec 9999 23:59:59 -1200\n", b"Hej")
    assert parse_email(raw).date is None


@pytest.mark.parametrize(
    "from_header",
    [
        "anna@victim.example <x@evil.example>",
        "Anna anna@victim.example <x@evil.example>",
        "=?utf-8?q?anna@victim.example?= <x@evil.example>",
        "anna@victim.example\n <x@evil.example>",
    ],
)
def test_a_name_written_as_an_address_is_not_taken_for_the_sender(from_header):
    # Mail clients reply to the <address>, and the receiving server checks its domain; the
    # email library read such a name as the address and dropped the real one, so a mail
    # from x@evil.example was taken for one from anna@victim.example.
    parsed = parse_email(_mail(f"From: {from_header}\nSubject: Radera mig\n", b"Radera mig."))
    assert parsed.from_address == "x@evil.example"
    assert "anna@victim.example" in parsed.from_name


def test_a_name_written_as_an_address_in_raw_8_bit_is_not_taken_for_the_sender():
    raw = "From: anna@victim.example Åsa <x@evil.example>\r\nSubject: hej\r\n\r\nhej".encode()
    parsed = parse_email(raw)
    assert (parsed.from_address, parsed.from_name) == ("x@evil.example", "anna@victim.example Åsa")


@pytest.mark.parametrize(
    "raw",
    [
        b"\r\nFrom: Anna <anna@example.se>\r\nMessage-ID: <a1@x>\r\n\r\nHej",
        b"\r\n\r\n\nFrom: anna@example.se\r\nSubject: x\r\nMessage-ID: <a1@x>\r\n\r\nHej",
        b"\nFrom: =?utf-8?q?Anna?= <anna@example.se>\nMessage-ID: <a1@x>\n\nHej\n\nmer",
        b"\r\nFrom: anna@example.se\r\nTo: b@example.se\r\n folded\r\nMessage-ID: <a1@x>\r\n\r\n",
    ],
)
def test_the_header_after_blank_lines_reads_as_the_whole_mail_does(raw):
    """The mail watcher reads whose a waiting mail is from its first bytes when it begins
    with blank lines (the server's header part of it is empty): as the pipeline reads it."""
    header = header_after_blank_lines(raw)
    assert header is not None
    whole, alone = parse_email(raw), parse_email(header)
    assert (alone.from_address, alone.message_id) == (whole.from_address, whole.message_id)
    assert alone.from_address == "anna@example.se"


@pytest.mark.parametrize(
    "beginning",
    [
        pytest.param(b"\r\nFrom: anna@example.se\r\nSubject: " + b"x" * 200, id="cut"),
        pytest.param(b"\r\nFrom: anna@example.se\rTo: b@x\r\n\r\n", id="a lone CR"),
        pytest.param(b"\r\n\r\n", id="nothing but blank lines"),
    ],
)
def test_a_header_after_blank_lines_that_cannot_be_told_from_its_beginning_is_none(beginning):
    assert header_after_blank_lines(beginning) is None


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain; charset=utf-8", "Mitt personnummer är 811218\n9876 och jag bor i Lund."),
        ("text/plain; charset=utf-8; format=flowed", "Mitt pnr är 811218 \n9876, tack."),
        ("text/plain; charset=utf-8", "Jag heter Anna, 811218-\n9876, och vill bli raderad."),
        ("text/html; charset=utf-8", "<p>Personnummer: 811218<br>9876</p>"),
    ],
    ids=["wrapped-at-the-space", "format-flowed", "wrapped-after-the-dash", "html-br"],
)
def test_a_personnummer_the_mail_program_wrapped_onto_the_next_line_is_not_stored(
    content_type, body
):
    """Before, a personnummer split by a line break (a mail program wrapping a long line, a
    <br> in HTML) was stored as written: staff saw the number in the case; now it is masked."""
    raw = (
        "From: Anna <anna@example.se>\nTo: dpo@nox.example\nSubject: Radera mig\n"
        f"Message-ID: <wrap@example.se>\nContent-Type: {content_type}\n\n{body}\n"
    ).encode()
    parsed = parse_email(raw)
    assert "9876" not in parsed.body and "9876" not in parsed.text
    assert "[personnummer borttaget]" in parsed.text
