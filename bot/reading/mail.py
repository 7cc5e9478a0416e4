"""RFC 822 bytes → the values noxbot works with (pure, no I/O).

Prefers text/plain, falls back to HTML turned into text; decodes every charset and transfer
encoding it meets and never lets an odd header crash the reader. Input that is not an email
at all, or is far beyond any real mail (the MAX_* limits below: headers, MIME parts and
nesting), raises MalformedEmail, so the caller can keep the raw bytes for staff. Every step
is linear in the size of the mail.
"""

from __future__ import annotations

import codecs
import email
import email.errors
import email.feedparser
import email.policy
import email.utils
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from functools import lru_cache
from typing import Any

from bot.reading.identity_numbers import mask_identity_numbers
from bot.reading.safe_text import without_lone_surrogates
from bot.reading.text import html_to_text, normalise_whitespace, visible_text


class MalformedEmail(ValueError):
    """Bytes that are not an email; the message says what is wrong."""


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str | None  # with angle brackets, as in the header: "<abc@x>"
    in_reply_to: str | None  # the first msg-id, with angle brackets
    references: tuple[str, ...]  # msg-ids with angle brackets, oldest first
    subject: str  # RFC 2047 decoded, unfolded, personnummer masked
    from_address: str | None  # lower-cased addr-spec
    from_name: str | None
    to_addresses: tuple[str, ...]
    date: datetime | None  # aware; a date without zone is read as UTC
    headers: dict[str, str]  # lower-cased names → decoded value (first occurrence), masked
    content_type: str  # of the top-level message, e.g. "multipart/report"
    body: str  # the chosen body as text, personnummer masked
    text: str  # visible_text(body): what the person wrote in this message
    attachments: tuple[str, ...]
    defects: tuple[str, ...]


# The headers at least one of which any real message has (RFC 5322 §3.6 requires Date and
# From; drafts and test mail sometimes lack one of them, never all).
_IDENTIFYING_HEADERS = ("from", "to", "subject", "date", "message-id")
_MSG_ID = re.compile(r"<[^<>\s]+>")
_FALLBACK_CHARSETS = ("utf-8", "cp1252")


# Limits that keep the work on one mail linear and small, far above what real mail needs.
# The email library's parsers for structured headers (addresses, parameters) grow with the
# square of a value's length — a 64 KB From of backslashes took 20 s — and its MIME parser
# checks every line against every enclosing boundary.
#: The top-level header block (real ones: a few KB); over it the mail is malformed.
MAX_HEADER_BYTES = 256 * 1024
#: One header's value is cut to this length where it is read (References keep their end:
#: the newest ids, which find the thread); Content-* headers, read in every MIME part, to
#: MAX_MIME_HEADER_CHARS and MAX_MIME_PARAMETERS (real ones have a handful).
MAX_HEADER_CHARS = 16_000
MAX_MIME_HEADER_CHARS = 300
MAX_MIME_PARAMETERS = 20
#: Longer values are decoded without the library's structured parser (see above).
MAX_PARSED_HEADER_CHARS = 2_000
#: The structured parser splits the rest of a value again at every quoted string, comment,
#: escape and list item (_PARSER_SPECIALS): a To of 2,000 '"' or of 667 "(a)" took ~80 ms.
#: Its work on a mail's headers, reckoned as (specials + 1) x length, is kept within this
#: (~30 ms at worst; a To and a Cc of 40 quoted names each take ~290,000); headers beyond
#: it are decoded without the parser. From, Sender, Reply-To and To are parsed first.
PARSER_WORK = 600_000
_PARSER_SPECIALS = re.compile(r'["(\\,]')
_PARSED_FIRST = ("from", "sender", "reply-to", "to")
#: ... and apart from that, its time on a mail's headers, reckoned from their tokens (words,
#: and the characters between them that address syntax knows), is kept within this many
#: microseconds: a structured header costs up to ~40 µs a token (an address header of
#: 1,000 words "a a a …" took ~40 ms, ten of them ~0.4 s), an unstructured one that the
#: parser must read (an encoded word, 8-bit text) up to ~9. A To and a Cc of 40 quoted
#: names each (~520 tokens each) fit, From, Sender, Reply-To and To first; one header is
#: given at most PARSER_MICROSECONDS_A_HEADER (600 structured tokens).
PARSER_MICROSECONDS = 50_000
PARSER_MICROSECONDS_A_HEADER = 24_000
_PARSER_TOKENS = re.compile(r'[^\s"(),:;<>@\[\]\\.]+|["(),:;<>@\[\]\\.]')
_STRUCTURED_TOKEN_MICROSECONDS = 40
_UNSTRUCTURED_TOKEN_MICROSECONDS = 9
#: A Content-* value is cut before its special after this many: real ones quote a few
#: parameters (charset, name, boundary) and hold no comments; cut at 300 characters, a
#: value of crafted comments still cost ~1 ms a parse, and it is parsed several times.
MAX_MIME_SPECIALS = 2 * MAX_MIME_PARAMETERS
#: ... and after this many tokens (_PARSER_TOKENS): 150 of " :" or " @", which are no
#: specials, cost ~3.5 ms a parse. A real one has a few dozen (an Outlook attachment's
#: name, size and two quoted dates: ~45).
MAX_MIME_TOKENS = 64
#: RFC 2047 encoded words that no "?=" ends on their line: the library looks for the end of
#: each to the end of the line (16,000 characters of "=?a?q?x " took ~0.25 s); with more
#: than this, the value is read as it is written.
MAX_OPEN_ENCODED_WORDS = 32
#: ... and a value of more than this many encoded words, ended or not, is read as written
#: too, without the header parser: each costs ~15 µs to decode and join, and ~30 µs in the
#: parser (eleven headers of 250 glued "a=??q??=" took 90 ms); a real one has a few, a To
#: of a hundred recipients' encoded names a hundred.
MAX_ENCODED_WORDS = 100
#: MIME structure: more parts, deeper nesting or more multipart sections is malformed.
MAX_MIME_PARTS = 200
MAX_MIME_DEPTH = 20
MAX_MULTIPART_SECTIONS = 100
_MIME_SPECIALS = re.compile(r'["(\\]')
#: Text codecs Python has that no mail is written in, whose decoders take time with the
#: square of the text (punycode reads a run of digits as one growing number: 60 KB took
#: 0.5 s): a part or an encoded word declaring one is read as if its charset were unknown.
_SLOW_CODECS = frozenset({"punycode", "idna"})
_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))', re.IGNORECASE)
_FEED_BYTES = 64 * 1024
_BOUNDARY_WORD = re.compile(rb"boundary", re.IGNORECASE)
_HEADER_END = re.compile(rb"\n\r?\n")


class _BoundedPolicy(email.policy.EmailPolicy):
    """email.policy.default, with each header value cut where the parser reads it (see
    MAX_HEADER_CHARS), and each parsed once: the library parses a part's Content-Type again
    on every look (eight times per part while parsing), so that no header can make reading
    a mail slow."""

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        lowered = name.strip().lower()
        if lowered.startswith("content-"):
            parameters = value[:MAX_MIME_HEADER_CHARS].split(";")
            value = ";".join(parameters[: MAX_MIME_PARAMETERS + 1])
            for count, special in enumerate(_MIME_SPECIALS.finditer(value)):
                if count == MAX_MIME_SPECIALS:
                    value = value[: special.start()]
                    break
            for count, token in enumerate(_PARSER_TOKENS.finditer(value)):
                if count == MAX_MIME_TOKENS:
                    value = value[: token.start()]
                    break
        elif len(value) > MAX_HEADER_CHARS:
            cut = (
                slice(-MAX_HEADER_CHARS, None)
                if lowered == "references"
                else slice(MAX_HEADER_CHARS)
            )
            value = value[cut]
        return name, value

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):  # already a parsed header object
            return value
        if len(value) <= SHORT_HEADER_CHARS:
            return _parsed_header(self, name, value)
        return _parsed_long_header(self, name, value)


#: Parsed header objects are kept for the next look (see _BoundedPolicy): many, for the
#: short values mail repeats (a part's Content-Type, "text/plain; charset=utf-8"); a few,
#: for longer ones. The library's parsed object holds ~1 KiB for each character of a
#: structured value (a token tree): 256 kept Content-* values of 300 crafted characters
#: were 64 MiB held by one 0.3 MB mail, in the process that read it, after it was read.
SHORT_HEADER_CHARS = 80


def _parse_header(policy: email.policy.EmailPolicy, name: str, value: str) -> Any:
    """A header value as the library parses it; parsed header objects are immutable."""
    return email.policy.EmailPolicy.header_fetch_parse(policy, name, value)


_parsed_header = lru_cache(maxsize=64)(_parse_header)
_parsed_long_header = lru_cache(maxsize=4)(_parse_header)


_POLICY = _BoundedPolicy()


def _from_surrogates(value: str) -> str:
    """Raw 8-bit header bytes (kept as surrogates by the parser) read as UTF-8, else cp1252."""
    data = value.encode("utf-8", "surrogateescape")
    for charset in _FALLBACK_CHARSETS:
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _open_encoded_words(value: str) -> int:
    """How many "=?" no "?=" follows on their line (see MAX_OPEN_ENCODED_WORDS)."""
    count = 0
    for line in value.splitlines():
        end = line.rfind("?=")
        count += line.count("=?", end + 2 if end >= 0 else 0)
    return count


def _slow_codec(charset: str | None) -> bool:
    """Whether `charset` names one of _SLOW_CODECS (by any of its aliases)."""
    if not charset:
        return False
    try:
        return codecs.lookup(charset).name in _SLOW_CODECS
    except (LookupError, ValueError):
        return False


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded; an unknown charset, or one of _SLOW_CODECS, is read
    as UTF-8 with replacement. A value of more than MAX_OPEN_ENCODED_WORDS words that never
    end, or of more than MAX_ENCODED_WORDS words, is read as written."""
    if "=?" in value and (
        value.count("=?") > MAX_ENCODED_WORDS or _open_encoded_words(value) > MAX_OPEN_ENCODED_WORDS
    ):
        return value
    try:
        pieces = decode_header(value)
    except (ValueError, email.errors.MessageError):
        return value
    if any(_slow_codec(charset) for _, charset in pieces):
        pieces = [(piece, None if _slow_codec(charset) else charset) for piece, charset in pieces]
    try:
        return str(make_header(pieces))
    except (LookupError, UnicodeError, ValueError, email.errors.MessageError):
        pass
    out: list[str] = []
    for piece, charset in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        try:
            out.append(piece.decode(charset or "utf-8"))
        except (LookupError, UnicodeError):
            out.append(piece.decode("utf-8", errors="replace"))
    return "".join(out)


def _unfold(value: str) -> str:
    return " ".join(value.split())


# Headers the policy parses by their structure (email.headerregistry's map, 3.11); every
# other one it reads as unstructured text.
_STRUCTURED = """
    date resent-date orig-date sender resent-sender to resent-to cc resent-cc bcc resent-bcc
    from resent-from reply-to mime-version content-type content-disposition
    content-transfer-encoding message-id
"""
_STRUCTURED_HEADERS = frozenset(_STRUCTURED.split())
# An address of the usual shape ("anna@example.se", "Anna Svensson <anna.s@example.se>"):
# the policy renders it back as written, and email.utils reads it as (name, address).
_ADDRESS = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_PLAIN_ADDRESS = re.compile(
    rf"\s*(?:({_ADDRESS})|([A-Za-z0-9]+(?: [A-Za-z0-9]+)*) <({_ADDRESS})>)\s*"
)
_ADDRESS_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "reply-to", "sender"}
    | {"resent-from", "resent-to", "resent-cc", "resent-bcc", "resent-sender"}
)
# A Message-ID of the usual shape reads back as written.
_PLAIN_MESSAGE_ID = re.compile(r"\s*<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>\s*")


def _plain_value(name: str, raw_text: str) -> str | None:
    """The policy's reading of a header, when it is certainly the text as written (without
    line breaks), found without the policy's parser (tens of microseconds a header): plain
    ASCII without an RFC 2047 encoded word in an unstructured header, or an address or a
    Message-ID of the usual shape. None when the parser is needed (tests/test_mailparse.py
    checks that both give the same)."""
    if name == "message-id":
        plain = _PLAIN_MESSAGE_ID.fullmatch(raw_text) is not None
    elif name in _ADDRESS_HEADERS:
        plain = _PLAIN_ADDRESS.fullmatch(raw_text) is not None
    else:
        plain = name not in _STRUCTURED_HEADERS and raw_text.isascii() and "=?" not in raw_text
    if not plain:
        return None
    if "\r" in raw_text or "\n" in raw_text:
        return raw_text.replace("\r", "").replace("\n", "")
    return raw_text


#: One name, unquoted, before one address in angle brackets: "anna@victim.se <x@evil.example>".
#: (Possessive, the name stripped after: "\s*([^<>",]*?)\s*<" tried every split of a run of
#: blanks between three quantifiers - 2,000 no-break spaces and no "<" took 6 s.)
_NAME_AND_ANGLE_ADDRESS = re.compile(rf'([^<>",]*+)<({_ADDRESS})>\s*+')


def _address_named_like_one(raw_text: str) -> str | None:
    """A mailbox whose unquoted name holds an @, quoted: its <address> is the mailbox, as
    mail clients (which reply to it) and the receiving server (which checks its domain)
    read it. The policy's parser, and email.utils, read such a name as the address and
    drop the real one: "anna@victim.se <x@evil.example>" was read as a mail from
    anna@victim.se. None for any other header value."""
    if re.search(r"[\udc80-\udcff]", raw_text):  # raw 8-bit bytes (see _header_values)
        raw_text = _from_surrogates(raw_text)
    one = _NAME_AND_ANGLE_ADDRESS.fullmatch(raw_text.replace("\r", "").replace("\n", ""))
    if one is None or "@" not in one[1]:
        return None
    name = re.sub(r'["\\]', "", _decode_words(one[1].strip()))
    return f'"{name}" <{one[2]}>'


def _header_values(message: Message) -> Iterator[tuple[str, str]]:
    """(lower-cased name, decoded value) for the first header of each name, never raising.

    Cases: a well-formed header is decoded by the policy; raw 8-bit bytes (older clients
    that skip RFC 2047) are read as UTF-8 or cp1252; a header the policy's parser chokes on,
    or one beyond what it may take (MAX_PARSED_HEADER_CHARS, PARSER_WORK,
    PARSER_MICROSECONDS), is decoded from its raw text.
    """
    firsts: dict[str, str] = {}
    for name, raw in message.raw_items():
        firsts.setdefault(name.lower(), str(raw))  # only the first of each counts
    work, microseconds = PARSER_WORK, PARSER_MICROSECONDS
    values: dict[str, str] = {}
    for name in sorted(firsts, key=lambda n: n not in _PARSED_FIRST):  # (a stable sort)
        raw_text = firsts[name]
        # ASCII (the usual case, told without a pattern) holds no surrogates.
        plain = _plain_value(name, raw_text) if raw_text.isascii() else None
        if plain is not None and len(raw_text) <= MAX_PARSED_HEADER_CHARS:
            value = plain
        elif name in _ADDRESS_HEADERS and (
            named := _address_named_like_one(raw_text[:MAX_PARSED_HEADER_CHARS])
        ):
            value = named
        elif not raw_text.isascii() and re.search(r"[\udc80-\udcff]", raw_text):
            value = _decode_words(_from_surrogates(raw_text))
        elif len(raw_text) > MAX_PARSED_HEADER_CHARS or raw_text.count("=?") > MAX_ENCODED_WORDS:
            value = _decode_words(raw_text)
        else:
            # (an encoded word is tokens too, however it is glued to the next: the parser
            # copies the rest of the value for each and decodes it, ~30 µs apiece at 2,000
            # characters)
            tokens = len(_PARSER_TOKENS.findall(raw_text)) + 4 * raw_text.count("=?")
            if name in _STRUCTURED_HEADERS:
                work -= (len(_PARSER_SPECIALS.findall(raw_text)) + 1) * len(raw_text)
                cost = tokens * _STRUCTURED_TOKEN_MICROSECONDS
            else:
                cost = tokens * _UNSTRUCTURED_TOKEN_MICROSECONDS
            if cost <= PARSER_MICROSECONDS_A_HEADER:
                microseconds -= cost
            if work < 0 or microseconds < 0 or cost > PARSER_MICROSECONDS_A_HEADER:
                value = _decode_words(raw_text)
            else:
                try:
                    value = str(message.policy.header_fetch_parse(name, raw_text))
                except Exception:  # the policy parser has raised on odd input; read it raw
                    value = _decode_words(raw_text)
        values[name] = _unfold(without_lone_surrogates(value))
    yield from ((name, values[name]) for name in firsts)


def _addresses(decoded: str | None) -> list[tuple[str, str]]:
    """(display name, addr-spec) pairs from a decoded address header; junk left out.

    The policy re-quotes decoded display names ('"Svensson, Erik" <…>'), so a comma in a
    name does not split it; an old-style comment ("x@y (Name)") becomes the name.
    """
    if not decoded:
        return []
    if plain := _PLAIN_ADDRESS.fullmatch(decoded):  # the usual shape: read directly
        return [(plain[2] or "", plain[1] or plain[3])]
    return _parsed_addresses(decoded)


def _parsed_addresses(decoded: str) -> list[tuple[str, str]]:
    """_addresses, by email.utils, of the value's first MAX_PARSED_HEADER_CHARS (cut after a
    comma): email.utils adds each member of a group to a new list, in time with the square
    of how many ("g:anna@example.se,@@@…", 16,000 of them: 0.26 s)."""
    if len(decoded) > MAX_PARSED_HEADER_CHARS:
        head = decoded[:MAX_PARSED_HEADER_CHARS]
        decoded = head.rpartition(",")[0] or head
    try:
        pairs = email.utils.getaddresses([decoded])
    except Exception:  # older Pythons raise on some malformed lists; treat as no address
        return []
    return [(n, a) for n, a in pairs if "@" in a and not re.search(r"[\s\ufffd<>]", a)]


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
        dated = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
        dated.astimezone(UTC)  # one that has no UTC time (9999, west of UTC) is no date
        return dated
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _decode_part(part: Message) -> str:
    """A text part as str, whatever its charset: declared, else UTF-8, else cp1252."""
    return without_lone_surrogates(_decoded_part(part))


def _decoded_part(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # a broken transfer encoding; keep what the part says as is
        payload = None
    if payload is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    if not isinstance(payload, bytes):
        return str(payload)
    declared = part.get_content_charset()
    if _slow_codec(declared):
        declared = None
    for charset in (declared, *_FALLBACK_CHARSETS) if declared else _FALLBACK_CHARSETS:
        try:
            return payload.decode(charset)
        except (LookupError, ValueError):
            continue
    return payload.decode("utf-8", errors="replace")


def _leaf_parts(message: Message) -> Iterator[Message]:
    """Leaf parts in order, not descending into a bounce's machine-readable status."""
    if message.is_multipart():
        if message.get_content_type() in ("message/delivery-status", "text/rfc822-headers"):
            return
        for part in message.get_payload():
            if isinstance(part, Message):
                yield from _leaf_parts(part)
    else:
        yield message


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # undecodable RFC 2231 parameter
        return "(unreadable name)"
    return without_lone_surrogates(name) if isinstance(name, str) else name


def _body_parts(message: Message) -> tuple[str | None, str | None, list[str]]:
    """First text/plain, first text/html (neither an attachment), attachment names."""
    plain: str | None = None
    html: str | None = None
    attachments: list[str] = []
    for part in _leaf_parts(message):
        disposition = str(part.get("Content-Disposition", "") or "").lower()
        filename = _filename(part)
        if filename or disposition.startswith("attachment"):
            attachments.append(_unfold(filename or "(unnamed)"))
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _decode_part(part)
        elif kind == "text/html" and html is None:
            html = _decode_part(part)
    return plain, html, attachments


def _looks_binary(raw: bytes) -> bool:
    """NUL bytes or mostly control characters in the header block: not an email."""
    # (Split from the first 8 KB only: a split of the whole would copy a large mail twice.)
    head = raw[: 8192 + 4].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0][:8192]
    if b"\x00" in head:
        return True
    controls = len(head.translate(None, _NOT_CONTROL))  # what is left are the controls
    return controls > len(head) // 10


# Every byte but the control characters (tab, line feed and carriage return are text).
_NOT_CONTROL = bytes([*range(32, 256), 9, 10, 13])


def _too_complex_to_read(raw: bytes) -> str | None:
    """Why the bytes are beyond what noxbot reads (MAX_HEADER_BYTES, MAX_MULTIPART_SECTIONS,
    MAX_MIME_PARTS), found before the library parses them; None when they are not.

    Counts are upper bounds (a "boundary=" in text counts too): only mail far from real
    mail reaches them.
    """
    end = _HEADER_END.search(raw)
    if (end.start() if end else len(raw)) > MAX_HEADER_BYTES:
        return f"header larger than {MAX_HEADER_BYTES // 1024} KB"
    boundaries: set[bytes] = set()
    # The pattern is case-blind over ASCII only (bytes): without the word, nothing to find
    # (looked for without a lowered copy of the mail).
    for match in _BOUNDARY.finditer(raw) if _BOUNDARY_WORD.search(raw) else ():
        boundaries.add(match.group(1) or match.group(2))
        if len(boundaries) > MAX_MULTIPART_SECTIONS:
            return f"more than {MAX_MULTIPART_SECTIONS} multipart sections"
    # (The parser ends a line at a lone CR as well: "\r--b" is a delimiter line too, and
    # "\r\n--b" is counted once.)
    delimiters = sum(
        raw.count(b"\n--" + boundary) + raw.count(b"\r--" + boundary) for boundary in boundaries
    )
    if delimiters > MAX_MIME_PARTS + 2 * len(boundaries):
        return f"more than {MAX_MIME_PARTS} MIME parts"
    return None


def _structure_beyond_limits(message: Message) -> str | None:
    """Why the parsed structure is beyond MAX_MIME_DEPTH or MAX_MIME_PARTS, or None;
    walked without recursion."""
    parts, stack = 0, [(message, 0)]
    while stack:
        part, depth = stack.pop()
        parts += 1
        if depth > MAX_MIME_DEPTH:
            return f"MIME parts nested more than {MAX_MIME_DEPTH} deep"
        if parts > MAX_MIME_PARTS:
            return f"more than {MAX_MIME_PARTS} MIME parts"
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload if isinstance(child, Message))
    return None


def _defects(message: Message) -> tuple[str, ...]:
    """What the parser had to repair, in every part, for staff looking at an odd message."""
    found: list[str] = []
    try:
        for part in message.walk():
            for defect in part.defects:
                described = without_lone_surrogates(str(defect))
                found.append(
                    f"{type(defect).__name__}: {described}" if described else type(defect).__name__
                )
    except Exception:  # walking a broken structure; what was found so far is enough
        pass
    return tuple(found)


def _parsed(raw: bytes) -> Message:
    """What email.message_from_bytes returns, fed in pieces: it would decode the whole mail
    to one str and copy that into a StringIO (four bytes a character), ~6 times the mail's
    size held at once beside the parse itself. A mail of one part gets its body whole
    (_single_part)."""
    if (single := _single_part(raw)) is not None:
        return single
    parser = email.feedparser.BytesFeedParser(policy=_POLICY)
    for start in range(0, len(raw), _FEED_BYTES):
        parser.feed(raw[start : start + _FEED_BYTES])
    return parser.close()


#: The blank line that ends the headers of a mail whose lines end in LF or CRLF.
_BLANK_LINE = re.compile(rb"\n\r?\n")
_NO_SEPARATOR = email.errors.MissingHeaderBodySeparatorDefect


def _single_part(raw: bytes) -> Message | None:
    """A mail of one part (not multipart/*, not message/*) as the feed parser makes it, but
    with the body set whole instead of fed line by line: the parser keeps a list of the
    body's lines (~60 bytes a line: ~70 MiB for a 5 MB mail of short lines) only to join
    them. None for any other mail, and wherever the parser could read the headers
    differently (a lone CR, a line that is no header before the blank line): it is fed."""
    blank = _BLANK_LINE.search(raw)
    if blank is None:
        return None
    head = raw[: blank.end()]
    if b"\r" in head.replace(b"\r\n", b""):  # a lone CR ends a line for the parser too
        return None
    parser = email.feedparser.BytesFeedParser(policy=_POLICY)
    parser.feed(head)
    message = parser.close()
    if (
        message.get_content_maintype() in ("multipart", "message")
        or message.get_payload() != ""  # the headers ended before the blank line
        or any(isinstance(d, _NO_SEPARATOR) for d in message.defects)
    ):
        return None
    # As BytesFeedParser decodes what it is fed; the payload is the rest of the input.
    message.set_payload(raw[blank.end() :].decode("ascii", "surrogateescape"))
    return message


def header_after_blank_lines(beginning: bytes) -> bytes | None:
    """The header block of a mail that begins with blank lines, read from its first bytes
    as parse_email reads it (the line ends a mail begins with are stripped first): up to and
    with the blank line that ends it. None when that is not within `beginning`, or when a
    lone CR is in it (the parser ends a line there too: read it whole)."""
    raw = beginning.lstrip(b"\r\n")
    blank = _BLANK_LINE.search(raw)
    if blank is None:
        return None
    head = raw[: blank.end()]
    return None if b"\r" in head.replace(b"\r\n", b"") else head


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one message; raises MalformedEmail when the bytes are not an email."""
    if not raw or not raw.strip():
        raise MalformedEmail("empty message")
    raw = raw.lstrip(b"\r\n")
    if _looks_binary(raw):
        raise MalformedEmail("binary data, not an email")
    if (too_complex := _too_complex_to_read(raw)) is not None:
        raise MalformedEmail(too_complex)
    try:
        message = _parsed(raw)
    except RecursionError as exc:
        raise MalformedEmail("MIME parts nested too deep") from exc
    except Exception as exc:  # the feed parser is lenient; anything it raises is garbage
        raise MalformedEmail(f"unreadable message: {exc}") from exc
    if (beyond := _structure_beyond_limits(message)) is not None:
        raise MalformedEmail(beyond)

    headers: dict[str, str] = {}
    for name, value in _header_values(message):
        headers.setdefault(name, mask_identity_numbers(value))
    if not any(headers.get(name) for name in _IDENTIFYING_HEADERS):
        raise MalformedEmail("no email headers (none of From, To, Subject, Date, Message-ID)")

    senders = _addresses(headers.get("from"))
    from_name, from_address = senders[0] if senders else ("", "")
    to_addresses = tuple(a.lower() for _, a in _addresses(headers.get("to")))

    try:
        content_type = message.get_content_type()
        plain, html, attachments = _body_parts(message)
    except Exception:  # a structure the library cannot walk: read the payload as text
        content_type = "text/plain"
        plain, html, attachments = raw.split(b"\n\n", 1)[-1].decode("utf-8", "replace"), None, []
    if plain is not None and plain.strip():
        body = normalise_whitespace(plain)
    elif html is not None:
        body = html_to_text(html)
    else:
        body = ""
    body = mask_identity_numbers(body)

    message_ids = _MSG_ID.findall(headers.get("message-id", ""))
    in_reply_to = _MSG_ID.findall(headers.get("in-reply-to", ""))
    return ParsedEmail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=tuple(_MSG_ID.findall(headers.get("references", ""))),
        subject=headers.get("subject", ""),
        from_address=from_address.lower() or None,
        from_name=_unfold(from_name) or None,
        to_addresses=to_addresses,
        date=_date(headers.get("date")),
        headers=headers,
        content_type=content_type,
        body=body,
        text=visible_text(body),
        attachments=tuple(mask_identity_numbers(name) for name in attachments),
        defects=_defects(message),
    )
