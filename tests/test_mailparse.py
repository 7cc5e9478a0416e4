"""From RFC 822 bytes to what the person wrote: every charset and encoding, quotes gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.mailparse import MalformedEmail, parse_email

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
