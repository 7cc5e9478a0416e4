"""One crafted mail must not stop the mail watcher: every step of reading and classifying a
message is linear in its size or capped, so even the worst inputs are read (or kept raw for
staff, with the reason) in a moment. Before, a 40,000-character word took seconds, and a
1 MB one, a mail of short lines or unclosed HTML took minutes.

Each mail is read in a child process that is killed shortly after the limit, so that a
regression fails here instead of hanging the suite. The limit is on the processor time the
reading takes (the slowest, 5 MB bodies, take about 2 s), so that other work on the
machine does not make the tests fail.
"""

from __future__ import annotations

import base64
import multiprocessing
import time
from dataclasses import replace

import pytest

from bot.channels.mail import inbound_from_email
from bot.channels.messages import InboundMessage
from bot.reading.classifier import Classification, _fold_char, _mend, classify
from bot.reading.learned_model import word_features
from bot.reading.mail import _parsed_header, _parsed_long_header
from bot.rules.kinds import RequestKind
from bot.runtime.mail_reader import (
    GUARDED_FROM_BYTES,
    GUARDED_FROM_PARTS,
    MailReader,
    MailReading,
    Position,
    read_mail,
)
from tests.cpu_time import cpu_seconds

#: Seconds of processor time one mail may take. Most take well under a second, the worst
#: about two on an idle machine; the limit leaves room for a loaded one (CI runs the suite
#: while other work goes on), and is still far below what a super-linear step costs at these
#: sizes (a minute and more: a 1 MB word, a million short lines, 5 MB bodies).
LIMIT = 8.0


def _read(raw: bytes, connection) -> None:  # runs in the child process
    started = time.process_time()
    inbound = inbound_from_email(raw)
    classification = (
        None
        if inbound.malformed
        else classify(inbound.text, subject=inbound.subject, channel="email")
    )
    elapsed = time.process_time() - started
    connection.send((replace(inbound, raw=None), classification, elapsed))


def read_in_time(raw: bytes) -> tuple[InboundMessage, Classification | None]:
    """What staff would get from this mail, asserting it took less than LIMIT."""
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_read, args=(raw, sending), daemon=True)
    child.start()
    sending.close()
    try:
        if not receiving.poll(3 * LIMIT + 5):
            pytest.fail(f"reading a {len(raw):,}-byte mail took more than {3 * LIMIT + 5:.0f} s")
        inbound, classification, elapsed = receiving.recv()
    finally:
        child.kill()
        child.join()
    assert elapsed < LIMIT, f"reading a {len(raw):,}-byte mail took {elapsed:.2f} s"
    return inbound, classification


def read_here(raw: bytes) -> tuple[float, MailReading]:
    """(processor seconds, reading) of the mail read as the watcher reads a small one: in
    this process, the model loaded first. The least of three readings, so that a moment of
    other work in the process (a test's server thread winding down) is not counted - each
    with what reading keeps of the words and header values it met forgotten, as a crafted
    mail finds it (read again, one was three times as quick)."""
    read_mail(mail(REQUEST), Position(1, 1, None))

    def cold() -> MailReading:
        for cached in (_parsed_header, _parsed_long_header, _mend, _fold_char, word_features):
            cached.cache_clear()
        return read_mail(raw, Position(1, 2, None))

    readings = [cpu_seconds(cold) for _ in range(3)]
    return min(seconds for seconds, _ in readings), readings[0][1]


def parsed_with_peak(raw: bytes) -> tuple[InboundMessage, int]:
    """The parsed mail and the most memory (bytes, tracemalloc) parsing it held at once."""
    import tracemalloc

    tracemalloc.start()
    try:
        inbound = inbound_from_email(raw)
        return inbound, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module", autouse=True)
def _model_loaded() -> None:
    classify("hej")  # the children inherit the loaded model instead of each loading it


def mail(body: str | bytes, *, headers: str = "", content_type: str = "text/plain") -> bytes:
    head = (
        "From: Anna Lindqvist <anna@example.se>\r\nTo: info@noxconsulting.se\r\n"
        "Subject: Hej\r\nMessage-ID: <p1@example.se>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
        f"{headers}MIME-Version: 1.0\r\nContent-Type: {content_type}; charset=utf-8\r\n"
    )
    if isinstance(body, bytes):
        return f"{head}Content-Transfer-Encoding: base64\r\n\r\n".encode() + body
    return f"{head}Content-Transfer-Encoding: 8bit\r\n\r\n{body}".encode()


def multipart(parts: list[str], boundary: str = "B") -> bytes:
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    return (
        "From: anna@example.se\r\nSubject: Bilagor\r\nMessage-ID: <p2@example.se>\r\n"
        f'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"{body}"
    ).encode()


def nested(depth: int) -> bytes:
    inner = "Content-Type: text/plain\r\n\r\nJag vill ha ett registerutdrag.\r\n"
    for level in range(depth):
        inner = (
            f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n'
            f"--b{level}\r\n{inner}\r\n--b{level}--\r\n"
        )
    return f"From: anna@example.se\r\nSubject: Hej\r\nMIME-Version: 1.0\r\n{inner}".encode()


REQUEST = "Hej! Jag vill att ni raderar alla mina personuppgifter, tack. Mvh Anna\n"
BUSINESS = "Vi har gått igenom offerten och återkommer om leveransdatum för projektet.\n"


@pytest.mark.parametrize("length", [40_000, 1_000_000])
def test_a_mail_that_is_one_huge_word_is_read_as_ordinary_mail(length):
    inbound, classification = read_in_time(mail("a" * length))
    assert inbound.malformed is None and len(inbound.text) == length
    assert classification is not None and classification.kinds == (RequestKind.NONE,)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("ab\n" * 25_000, id="75 KB of short lines"),
        pytest.param("a\n" * 1_000_000, id="a million short lines"),
        pytest.param("From: x\n" * 200_000, id="a line that could start a quote, over and over"),
        pytest.param("x\n" * 2_000 + "> q\n" * 200_000 + "y\n", id="a long quote between lines"),
        pytest.param("1" * 1_000_000, id="a million digits"),
        pytest.param("jag vill inte att ni raderar mig " * 30_000, id="a 1 MB clause"),
        pytest.param("a" + "\u2003" * 200_000 + "b\n", id="a line of 200,000 em spaces"),
        pytest.param(("a" + "\x1f" * 100_000 + "b\n") * 3, id="lines of 100,000 unit separators"),
    ],
)
def test_mail_of_odd_text_is_read_in_time(body):
    inbound, classification = read_in_time(mail(body))
    assert inbound.malformed is None and classification is not None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("inte " + "dsar " * 3_190, id="a negation, then 3,190 rejected matches"),
        pytest.param("inte " + "dsar art15 i csv optout " * 650, id="four patterns rejected"),
        pytest.param("how do i " + "dsar " * 3_190, id="'how do I', then 3,190 matches"),
    ],
)
def test_a_clause_of_thousands_of_negated_matches_is_read_at_once(body):
    """Every match a negation rejected looked back over its whole clause: one clause of
    16 KB (the most the rules read) of matches after one "inte" took over a second."""
    raw = mail(body)
    assert len(raw) < GUARDED_FROM_BYTES
    seconds, reading = read_here(raw)
    assert seconds < 0.2
    assert reading.classification is not None


_ADDRESS_HEADERS = ["To", "Cc", "Bcc", "Reply-To", "Sender", "Resent-From", "Resent-To"]
QUOTE = '"'
ESCAPED_COMMENTS = ("(\\a)" * 500)[:2_000]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(
            "".join(f"{name}: {QUOTE * 2_000}\r\n" for name in _ADDRESS_HEADERS),
            id="seven address headers of 2,000 quotes",
        ),
        pytest.param(
            "".join(f"{name}: {(',' + QUOTE) * 1_000}\r\n" for name in _ADDRESS_HEADERS),
            id="seven address headers of 1,000 ',\"'",
        ),
        pytest.param(
            "".join(f"X-H{i}: {('=?a?q?x ' * 2_000)[:16_000]}\r\n" for i in range(3)),
            id="three headers of encoded words that never end",
        ),
        pytest.param(
            "".join(f"{name}: {('(a)' * 700)[:2_000]}\r\n" for name in _ADDRESS_HEADERS),
            id="seven address headers of 667 comments",
        ),
        pytest.param(
            "".join(f"{name}: {ESCAPED_COMMENTS}\r\n" for name in _ADDRESS_HEADERS),
            id="seven address headers of escapes in comments",
        ),
    ],
)
def test_a_small_mail_of_crafted_headers_is_read_at_once(headers):
    """The library's header parsers grow with the square of what they find unclosed: for
    every quoted string of an address header the rest of the value was split again, and
    every encoded word without an end was looked for to the end of its line; the mail,
    read by the watcher itself, took ~0.5-0.7 s."""
    raw = mail(REQUEST, headers=headers)
    assert len(raw) < GUARDED_FROM_BYTES
    seconds, reading = read_here(raw)
    assert seconds < 0.1
    assert reading.inbound.sender == "anna@example.se"
    assert reading.classification.kinds == (RequestKind.ERASURE,)


@pytest.mark.parametrize("crafted", [QUOTE * 300, "(" * 300], ids=["quotes", "open comments"])
def test_parts_of_crafted_header_values_are_read_at_once(crafted):
    # As many parts as the watcher reads itself, each Content-Type and -Disposition 300
    # characters of '"' or '(': the parameter parser splits the rest again for every quoted
    # string or comment (~3 ms a part); a value is now cut after MAX_MIME_SPECIALS.
    parts = [f"Content-Type: text/plain; charset=utf-8\r\n\r\n{REQUEST}"] + [
        f"Content-Type: text/plain; p{i}={crafted}\r\nContent-Disposition: inline; q={crafted}"
        f"\r\n\r\nx{i}"
        for i in range(GUARDED_FROM_PARTS - 2)
    ]
    raw = multipart(parts)
    assert MailReader(5.0).reads_here(raw)  # read by the watcher itself
    seconds, reading = read_here(raw)
    assert seconds < 0.08
    assert reading.inbound.malformed is None
    assert reading.classification.kinds == (RequestKind.ERASURE,)


def test_parts_inside_forwarded_mail_count_towards_what_the_watcher_reads_itself():
    # A message/rfc822 part holds a mail of parts of its own, without delimiter lines of
    # the outer mail: 26 parts each forwarding a chain of three mails were 105 parts of
    # crafted headers, read by the watcher itself (~0.5 s).
    def chain(k: int) -> str:
        headers = ""
        for depth in range(4):
            kind = "message/rfc822" if depth < 3 else "text/plain"
            headers += f"Content-Type: {kind}; a={k}{'(' * 280}\r\n\r\n"
        return headers + "hej"

    raw = multipart([chain(k) for k in range(8)])
    assert raw.count(b"\n--") <= GUARDED_FROM_PARTS and len(raw) < GUARDED_FROM_BYTES
    assert not MailReader(5.0).reads_here(raw)
    assert MailReader(5.0).reads_here(multipart([chain(k) for k in range(2)]))


# A third review: what the library's parsers do slowly on what a small mail can hold.


def test_ten_address_headers_of_plain_words_are_read_at_once():
    # A To, Cc, Bcc, Reply-To … of 1,000 words each ("a a a …": no quote, comment or comma
    # for PARSER_WORK to count): the address parser tries each word three ways, ~40 ms a
    # header, 0.4 s for the ten. Its time is now reckoned by tokens (PARSER_MICROSECONDS).
    names = ["To", "Cc", "Bcc", "Reply-To", "Sender", "Resent-From", "Resent-To", "Resent-Cc"]
    headers = "".join(f"{name}: x{i} " + "a " * 995 + "\r\n" for i, name in enumerate(names))
    raw = mail(REQUEST, headers=headers).replace(b"To: info@noxconsulting.se\r\n", b"", 1)
    assert MailReader(5.0).reads_here(raw)
    seconds, reading = read_here(raw)
    assert seconds < 0.1
    assert reading.inbound.sender == "anna@example.se"
    assert reading.classification.kinds == (RequestKind.ERASURE,)


@pytest.mark.parametrize(
    ("unit", "count"),
    [
        # each read by the parser of unstructured headers (~5 ms), 0.15 s for the mail
        pytest.param("=? ", 666, id="2,000 characters of broken encoded words"),
        # ~250 encoded words a header, glued together (one token for the parser's budget
        # until each "=?" counted): the parser and the decoder copy the rest of the value
        # for each, 0.19 s for the mail; more than MAX_ENCODED_WORDS is now read as written
        pytest.param("a=??q??=", 248, id="248 glued encoded words"),
    ],
)
def test_many_headers_of_crafted_encoded_words_are_read_at_once(unit, count):
    headers = "".join(f"X-H{i}: " + unit * count + "\r\n" for i in range(31))
    raw = mail(REQUEST, headers=headers)
    assert MailReader(5.0).reads_here(raw)
    seconds, reading = read_here(raw)
    assert seconds < 0.1
    assert reading.classification.kinds == (RequestKind.ERASURE,)


@pytest.mark.parametrize("charset", ["punycode", "idna", "PUNYCODE"])
def test_a_mail_declaring_a_charset_no_mail_is_written_in_is_read_at_once(charset):
    # Python decodes punycode (and idna, which uses it) in time with the square of a run of
    # digits: a 60 KB body took 0.5 s, four 16,000-character headers 0.3 s. Such a part,
    # or encoded word, is read as one of an unknown charset.
    body = REQUEST + "-" + "9" * 30_000
    word = f"=?{charset}?q?-" + "9" * 15_000 + "?="
    raw = mail(body, headers=f"X-Note: {word}\r\n").replace(
        b"charset=utf-8", f"charset={charset}".encode(), 1
    )
    assert MailReader(5.0).reads_here(raw)
    seconds, reading = read_here(raw)
    assert seconds < 0.1
    assert reading.inbound.text.startswith("Hej! Jag vill att ni raderar")
    assert reading.inbound.headers["x-note"].startswith("-999")
    assert reading.classification.kinds == (RequestKind.ERASURE,)


def test_parts_of_crafted_header_values_without_specials_are_read_at_once():
    # Content-Type and -Disposition of 150 " :" or " @" (none of them a quote, comment or
    # escape for MAX_MIME_SPECIALS): ~3.5 ms a parse, several parses a part; 48 parts took
    # 0.43 s. A value is now cut after MAX_MIME_TOKENS, and mail of more than
    # GUARDED_FROM_PARTS delimiter lines goes to the worker.
    def crafted(count: int) -> bytes:
        return multipart(
            [f"Content-Type: text/plain; charset=utf-8\r\n\r\n{REQUEST}"]
            + [
                f"Content-Type: text/x{i};"
                + " :" * 150
                + "\r\nContent-Disposition: inline;"
                + " @" * 150
                + f"\r\n\r\nx{i}"
                for i in range(count)
            ]
        )

    assert not MailReader(5.0).reads_here(crafted(47))
    raw = crafted(GUARDED_FROM_PARTS - 2)
    assert MailReader(5.0).reads_here(raw)
    seconds, reading = read_here(raw)
    assert seconds < 0.08
    assert reading.inbound.malformed is None
    assert reading.classification.kinds == (RequestKind.ERASURE,)


def test_an_outlook_attachment_header_is_read_whole():
    # Cut after MAX_MIME_TOKENS: far above a real value, an Outlook attachment's name, size
    # and dates (~45 tokens) among them.
    disposition = (
        'attachment; filename="CV Anna Maria Svensson-Lindqvist 2026 slutversion (2).pdf";'
        ' size=123456; creation-date="Tue, 24 Nov 2026 10:00:00 GMT";'
        ' modification-date="Tue, 24 Nov 2026 10:00:00 GMT"'
    )
    raw = multipart(
        [
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{REQUEST}",
            f"Content-Type: application/pdf\r\nContent-Disposition: {disposition}\r\n\r\nx",
        ]
    )
    from bot.reading.mail import parse_email

    parsed = parse_email(raw)
    assert parsed.attachments == ("CV Anna Maria Svensson-Lindqvist 2026 slutversion (2).pdf",)


def test_a_mail_whose_header_is_thousands_of_lines_is_read_in_the_worker():
    # 30,000 header lines of ":" are as many defects, each looked at twice (~0.13 s).
    lines = "X-A: b\r\n" * 900
    assert MailReader(5.0).reads_here(mail(REQUEST, headers=lines))
    assert not MailReader(5.0).reads_here(mail(REQUEST, headers=":\n" * 30_000))
    assert not MailReader(5.0).reads_here(mail(REQUEST, headers="X-A: b\r\n" * 1_001))


def test_a_to_of_many_named_recipients_and_encoded_names_is_still_read():
    # Under the limits: the parser reads quoted names and encoded words as before.
    names = ", ".join(f'"Svensson, Erik{i}" <erik{i}@example.se>' for i in range(40))
    subject = "=?utf-8?q?R=C3=A4tta_mina_uppgifter?="
    inbound = inbound_from_email(mail(REQUEST, headers=f"Cc: {names}\r\nX-Topic: {subject}\r\n"))
    assert inbound.headers["cc"].count("<erik") == 40
    assert '"Svensson, Erik39" <erik39@example.se>' in inbound.headers["cc"]
    assert inbound.headers["x-topic"] == "Rätta mina uppgifter"


@pytest.mark.parametrize("blank", ["\x1c", "\x1f", "\x0b", "\u2003", "\u3000"])
def test_a_small_mail_of_a_long_run_of_blanks_is_read_at_once(blank):
    """Mail under GUARDED_FROM_BYTES is read by the watcher itself. Tidying the text's
    spaces tried a match at every blank of a run that ends in no line break: 60,000
    information separators (a 60 KB mail) held the event loop ~15 s."""
    raw = mail("Hej " + blank * (60_000 // len(blank.encode())) + " radera mina uppgifter")
    assert len(raw) < GUARDED_FROM_BYTES
    seconds, reading = read_here(raw)
    assert seconds < 0.5
    assert reading.inbound.malformed is None and reading.classification is not None


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(mail(REQUEST * 70_000), id="5 MB of lines"),
        pytest.param(mail(REQUEST.replace("\n", " ") * 30_000), id="2 MB on one line"),
        pytest.param(mail(base64.encodebytes(REQUEST.encode() * 30_000)), id="2 MB in base64"),
        pytest.param(
            mail("<div><p>Radera mig</p></div>" * 75_000, content_type="text/html"),
            id="2 MB of HTML",
        ),
    ],
)
def test_a_mail_of_megabytes_is_read_in_time_and_its_request_found(raw):
    inbound, classification = read_in_time(raw)
    assert inbound.malformed is None
    assert classification is not None and classification.kinds == (RequestKind.ERASURE,)


def test_a_request_at_the_end_of_a_long_mail_is_still_found():
    # Only the beginning and the end of a long text are classified: a request is often
    # in the last lines. The text itself is kept whole.
    body = BUSINESS * 13_000 + "\nRadera alla mina personuppgifter, tack.\n"
    inbound, classification = read_in_time(mail(body))
    assert inbound.text.endswith("Radera alla mina personuppgifter, tack.")
    assert classification is not None and classification.kinds == (RequestKind.ERASURE,)
    assert classification.evidence == ("Radera alla mina personuppgifter",)


def test_parts_whose_lines_end_in_a_lone_cr_are_counted_before_the_mail_is_parsed():
    # The parser ends a line at a lone CR as well: such delimiter lines were not counted,
    # so a mail of thousands of parts was parsed whole before it was found too complex.
    from bot.reading.mail import _too_complex_to_read

    parts = [f"Content-Type: text/plain\r\n\r\nx{i}" for i in range(5_000)]
    for raw in (multipart(parts), multipart(parts).replace(b"\r\n", b"\r")):
        assert _too_complex_to_read(raw) == "more than 200 MIME parts"
    assert _too_complex_to_read(multipart(parts[:150]).replace(b"\r\n", b"\r")) is None


@pytest.mark.parametrize(
    "html",
    [
        pytest.param("<a " * 300_000, id="tags that never close"),
        pytest.param("</" * 500_000, id="end tags that never close"),
        pytest.param("<!--a>" * 200_000, id="comments that never close"),
        pytest.param('<a x="' * 200_000, id="attribute values that never close"),
    ],
)
def test_html_that_never_closes_is_read_in_time(html):
    inbound, _ = read_in_time(mail(html, content_type="text/html"))
    assert inbound.malformed is None


def test_html_with_an_unknown_marked_section_is_read():
    # Python's own HTML parser raised on "<![x[", which made the whole mail unreadable.
    inbound, classification = read_in_time(
        mail("<p>Radera mina uppgifter.</p><![x[ y ]]><p>Mvh Anna</p>", content_type="text/html")
    )
    assert inbound.text == "Radera mina uppgifter.\n\nMvh Anna"
    assert classification is not None and classification.kinds == (RequestKind.ERASURE,)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(nested(200), "more than 100 multipart sections", id="200 levels"),
        pytest.param(nested(30), "MIME parts nested more than 20 deep", id="30 levels"),
        pytest.param(
            b"From: anna@example.se\r\nSubject: Hej\r\n"
            + b"Content-Type: message/rfc822\r\n\r\n" * 3_000
            + b"Content-Type: text/plain\r\n\r\nhej\r\n",
            "MIME parts nested too deep",
            id="3,000 forwarded mails inside each other",
        ),
        pytest.param(
            multipart(
                [f"Content-Type: text/plain\r\n\r\nx{i}" for i in range(5_000)],
            ),
            "more than 200 MIME parts",
            id="5,000 parts",
        ),
        pytest.param(
            mail("hej", headers="".join(f"X-H{i}: v\r\n" for i in range(100_000))),
            "header larger than 256 KB",
            id="100,000 header lines",
        ),
    ],
)
def test_mail_beyond_the_limits_is_kept_for_staff_with_the_reason(raw, reason):
    inbound, classification = read_in_time(raw)
    assert inbound.malformed == reason
    assert classification is None


def _with_odd_header_parts(count: int) -> bytes:
    """ "Hej" and `count` parts whose Content-Type and Content-Disposition are crafted."""
    parts = [
        f"Content-Type: text/plain; p={i}; " + "((" * 300 + "\r\n"
        f"Content-Disposition: attachment; filename=f{i}; " + "<a>" * 300 + "\r\n\r\nx"
        for i in range(count)
    ]
    return multipart(["Content-Type: text/plain\r\n\r\nHej", *parts])


def test_many_parts_with_odd_headers_are_read_in_time():
    # The email library's parameter parser grows with the square of a header's length; the
    # headers are cut where they are read, and parsed once each.
    inbound, _ = read_in_time(_with_odd_header_parts(190))
    assert inbound.malformed is None and inbound.text == "Hej"


def test_many_parts_with_odd_headers_leave_no_memory_held_once_read():
    # The library's parsed header holds ~1 KiB for each character of a structured value,
    # and parsed headers are kept for the next look: 256 of them were 64 MiB held by a 0.3 MB
    # mail (190 such parts) after it was read, in the process that read it.
    import gc
    import tracemalloc

    raw = _with_odd_header_parts(120)
    inbound_from_email(raw)  # (the library's own first-use caches)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        inbound = inbound_from_email(raw.replace(b"p=", b"p=x"))  # other values: not cached
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert inbound.text == "Hej"
    assert held - before < 8 * 2**20 and peak - before < 16 * 2**20, (held, peak)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("ab\r\n" * 1_250_000, id="1.25 million short lines"),
        pytest.param("> ab\r\n" * 800_000, id="800,000 quoted lines"),
        pytest.param("Från Anna\r\n" * 450_000, id="450,000 lines with a marker word"),
    ],
)
def test_a_mail_of_megabytes_of_short_lines_is_read_without_a_copy_per_line(body):
    """The parser's list of a single-part body's lines and the text's splits into lines
    held ~60 bytes a line: 5 MB of short lines took the reading process ~170 MiB over
    its base. Reading now holds a few copies of the mail, not one object per line."""
    raw = mail(body)
    inbound, peak = parsed_with_peak(raw)
    assert inbound.malformed is None and inbound.sender == "anna@example.se"
    assert peak < 8 * len(raw), f"{peak / 2**20:.0f} MiB for a {len(raw) / 2**20:.1f} MiB mail"


@pytest.mark.parametrize(
    "html",
    [
        pytest.param("<div><p>Hej, radera mig</p></div>" * 150_000, id="5 MB of small elements"),
        pytest.param("<tr><td>a</td><td>b</td></tr>\r\n" * 150_000, id="4 MB of table cells"),
        pytest.param("<a " * 300_000, id="a tag of 300,000 attributes left open"),
        pytest.param("<p " + 'x="1" ' * 200_000 + ">hej</p>", id="a tag of 200,000 attributes"),
    ],
)
def test_an_html_mail_of_megabytes_is_read_without_an_object_per_element(html):
    """HTML text was gathered as one string per text node and line break, and every
    attribute of a tag was kept: 5 MB of small elements took ~49 MiB to read, a 0.9 MB tag
    of attributes ~35 MiB. Now the text is joined as it goes, and only the attributes that
    tell quoted history apart are kept."""
    raw = mail(html, content_type="text/html")
    inbound_from_email(mail("<p>hej</p>", content_type="text/html"))  # first-use caches
    inbound, peak = parsed_with_peak(raw)
    assert inbound.malformed is None and inbound.sender == "anna@example.se"
    assert peak < 6 * len(raw), f"{peak / 2**20:.0f} MiB for a {len(raw) / 2**20:.1f} MiB mail"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(
            "Content-Type: text/plain; charset=utf-8; " + "a=b; " * 12_000 + "\r\n",
            id="12,000 parameters",
        ),
        pytest.param("Reply-To: " + "\\" * 200_000 + "\r\n", id="200 KB of backslashes"),
        pytest.param("Reply-To: " + '"' * 100_000 + "\r\n", id="100 KB of quotes"),
    ],
)
def test_long_headers_are_read_in_time(headers):
    inbound, classification = read_in_time(mail(REQUEST, headers=headers))
    assert inbound.malformed is None and inbound.sender == "anna@example.se"
    assert classification is not None and classification.kinds == (RequestKind.ERASURE,)


def test_references_keep_the_newest_ids_when_there_are_too_many():
    ids = [f"<id{i}@example.se>" for i in range(5_000)]
    inbound, _ = read_in_time(mail(REQUEST, headers="References: " + " ".join(ids) + "\r\n"))
    assert inbound.references[-1] == ids[-1]


# A fourth review: what got round the third review's bounds.


@pytest.mark.parametrize("blank", [b"\xa0", b"\x0b", b"\x1c"])
def test_an_address_header_of_blanks_is_read_at_once(blank):
    # 8-bit bytes are read as cp1252, so 0xA0 becomes a no-break space; the pattern that
    # finds "name@like.this <address>" tried every split of the run between its three
    # quantifiers: 1,000 of them took 0.84 s, 2,000 took 6 s.
    # (control characters in a header make the mail one kept raw for staff: in time too)
    raw = mail(REQUEST).replace(b"To: info@noxconsulting.se", b"To: " + blank * 1_000, 1)
    assert MailReader(5.0).reads_here(raw)
    seconds, reading = read_here(raw)
    assert seconds < 0.1
    if blank == b"\xa0":
        assert reading.inbound.sender == "anna@example.se"
        assert reading.classification.kinds == (RequestKind.ERASURE,)


def test_a_name_that_looks_like_an_address_still_yields_the_real_one():
    raw = mail(REQUEST).replace(
        b"From: Anna Lindqvist <anna@example.se>", b"From:  anna@victim.se \xa0<x@evil.example>", 1
    )
    assert inbound_from_email(raw).sender == "x@evil.example"


def test_a_group_of_thousands_of_members_is_read_at_once():
    # email.utils adds each member of a group to a new list: 16,000 "@" members of a To and
    # of a From took 0.55 s.
    group = "g:anna@example.se," + "@" * 15_975
    raw = mail(REQUEST, headers=f"Cc: {group}\r\n").replace(
        b"To: info@noxconsulting.se", f"To: {group}".encode(), 1
    )
    assert MailReader(5.0).reads_here(raw)
    seconds, reading = read_here(raw)
    assert seconds < 0.1
    assert reading.inbound.sender == "anna@example.se"
    from bot.reading.automated import detect_automated

    assert cpu_seconds(lambda: detect_automated({"from": group}))[0] < 0.05


def test_header_lines_ended_by_a_lone_cr_count_as_lines():
    raw = ("From: Anna <anna@example.se>\rSubject: hej\r" + ":\r" * 30_000 + "\r\nHej\r\n").encode()
    assert not MailReader(5.0).reads_here(raw)
