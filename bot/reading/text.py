"""From a mail body to what the person wrote in this message: HTML to text, quoted earlier
messages and signatures removed. Pure functions over strings, so a reply is classified on
its own words and not on the newsletter or request it quotes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

# Elements that stand apart with a blank line, and elements that only start a new line.
_PARAGRAPH_TAGS = frozenset(
    {"blockquote", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p", "pre", "table", "ul"}
)
_LINE_TAGS = frozenset(
    {"address", "article", "dd", "div", "dt", "footer", "header", "li", "section", "tr"}
)
# Elements whose content is never shown to the reader.
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template"})
# Elements that have no end tag (HTML §13.1.2), so they never open a nesting level.
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
# Outlook puts the quoted history after an element with one of these ids.
_HISTORY_IDS = frozenset({"divrplyfwdmsg", "appendonsend"})
# The attributes that tell quoted history apart (see _TextExtractor); no other is kept.
_READ_ATTRIBUTES = frozenset({"id", "class"})


# HTML is read by a scanner that only moves forward (HTML5 tokenisation, simplified to what
# text extraction needs). The standard library's html.parser was used before: in Python
# 3.11 it scans the rest of the document again for every unclosed construct ("<a " repeated
# took minutes for 200 KB) and raises on some marked sections ("<![x[").
_TAG_NAME = re.compile(r"[^\t\n\r\f />]*")
_SPACE_OR_SLASH = re.compile(r"[\t\n\r\f /]*")
# An attribute: its name, then optionally "=" and a value in double quotes, single quotes or
# none; a quote left open is seen as such (group 3 or 5 empty) instead of searched for again.
_ATTRIBUTE = re.compile(
    r"(=?[^\t\n\r\f />=]*)[\t\n\r\f ]*"
    r"(?:=[\t\n\r\f ]*(?:\"([^\"]*)(\"?)|'([^']*)('?)|([^\t\n\r\f >]*)))?"
)
_TAG_OPEN = re.compile(r"<(/?)[a-zA-Z]")
_PLAIN_TAG = re.compile(r"<(/?)([a-zA-Z][^\t\n\r\f />]*)>")
_COMMENT_END = re.compile(r"--!?>")
# The end of a script or style element, whose content is not HTML (RAWTEXT).
_RAW_TEXT_END = {
    tag: re.compile(rf"</{tag}(?=[\t\n\r\f />])", re.IGNORECASE) for tag in ("script", "style")
}

_Attributes = list[tuple[str, str | None]]
_Event = tuple[str, str, _Attributes]  # ("data" | "start" | "end" | "startend", text/tag, …)


def _tag(html: str, position: int) -> tuple[str, _Attributes, int, bool] | None:
    """The tag whose name starts at `position`: name, attributes, where it ends, whether it
    closes itself ("<br/>"). None when the document ends inside it (HTML5: it is dropped).

    Only the attributes text extraction reads (_READ_ATTRIBUTES) are kept: a tag of 300,000
    attributes ("<a <a <a …", 0.9 MB) had made a list of them all, ~37 MiB."""
    name_end = _TAG_NAME.match(html, position).end()  # type: ignore[union-attr]
    name = html[position:name_end].lower()
    attributes: _Attributes = []
    position = name_end
    while True:
        before = position
        position = _SPACE_OR_SLASH.match(html, position).end()  # type: ignore[union-attr]
        if position >= len(html):
            return None
        if html[position] == ">":
            return name, attributes, position + 1, html[before:position].endswith("/")
        match = _ATTRIBUTE.match(html, position)
        assert match is not None  # the name part matches at least the character here
        key, double, double_end, single, single_end, bare = match.groups()
        if (double is not None and not double_end) or (single is not None and not single_end):
            return None  # a quoted value left open to the end
        key = key.lower()
        if key in _READ_ATTRIBUTES:
            value = double if double is not None else single if single is not None else bare
            attributes.append((key, unescape(value) if value else value))
        position = match.end()


def _html_events(html: str) -> Iterator[_Event]:
    """Text and tags of an HTML document in order, in one pass: every step consumes what it
    scans, and a construct left open at the end ends the document (HTML5), so the work is
    linear in the length whatever the input. Text is unescaped; comments, doctypes and
    processing instructions are left out."""
    position, end = 0, len(html)
    while position < end:
        opening = html.find("<", position)
        if opening < 0:
            opening = end
        if opening > position:
            yield ("data", unescape(html[position:opening]), [])
        if opening >= end:
            return
        if plain := _PLAIN_TAG.match(html, opening):  # "<p>", "</div>": most tags
            closing, name, attributes, position = bool(plain[1]), plain[2].lower(), [], plain.end()
            closed = False
        elif tag_open := _TAG_OPEN.match(html, opening):
            closing = bool(tag_open[1])
            tag = _tag(html, tag_open.end() - 1)
            if tag is None:
                return
            name, attributes, position, closed = tag
        else:
            position = _skip_markup(html, opening)
            if position < 0:
                return
            if position == opening + 1:  # "<" that starts nothing ("a < b")
                yield ("data", "<", [])
            continue
        if closing:
            yield ("end", name, [])
            continue
        yield ("startend" if closed else "start", name, attributes)
        raw_end = None if closed else _RAW_TEXT_END.get(name)
        if raw_end is not None:
            found = raw_end.search(html, position)
            if found is None:
                return
            position = found.start()


def _skip_markup(html: str, opening: int) -> int:
    """Where the markup at `opening` that is no tag ends: a comment, a doctype, a conditional
    marker, CDATA, a bogus end tag ("</ x>"); -1 when it runs to the end of the document;
    opening + 1 for a "<" that starts nothing."""
    if html.startswith(("<!-->", "<!--->"), opening):  # empty comments
        return html.index(">", opening) + 1
    if html.startswith("<!--", opening):
        found = _COMMENT_END.search(html, opening + 4)
        return found.end() if found else -1
    if html.startswith("</>", opening):
        return opening + 3
    if html.startswith(("<!", "<?", "</"), opening):
        cdata = html[opening : opening + 9].upper() == "<![CDATA["
        close = html.find("]]>" if cdata else ">", opening + 2)
        return close + (3 if cdata else 1) if close >= 0 else -1
    return opening + 1


_SOURCE_SPACES = re.compile(r"[ \t\r\n]+")
_PIECES_PER_CHUNK = 4_096


class _TextExtractor:
    """Collects the text of an HTML mail; optionally leaves quoted history out.

    Quoted history in HTML mail, by client:
    - Gmail: <div class="gmail_quote"> (with the attribution) around a <blockquote>;
    - Apple Mail, Thunderbird and most others: <blockquote type="cite">;
    - Outlook: <div id="divRplyFwdMsg"> or <div id="appendonsend"> and everything after it.
    """

    def __init__(self, drop_quotes: bool) -> None:
        self.drop_quotes = drop_quotes
        # The text so far: pieces, joined into a chunk every _PIECES_PER_CHUNK so that a
        # document of many small elements holds its text, not an object for each piece.
        self.pieces: list[str] = []
        self.chunks: list[str] = []
        # Line breaks wanted before the next text. Source line breaks are spaces in HTML;
        # only elements break lines. Where blocks meet, the larger break wins ("</p><p>" is
        # one blank line, "</div><div>" one line break).
        self.pending = 0
        self.skip_depth = 0
        self.quote_tag: str | None = None  # the element whose content is a dropped quote
        self.quote_depth = 0  # nesting of quote_tag inside itself
        self.stopped = False  # Outlook: everything after the history marker is history

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        if self.quote_tag is not None:
            if tag == self.quote_tag:
                self.quote_depth += 1
            return
        if tag in _SKIP_TAGS:
            self.skip_depth += 1
            return
        if self.drop_quotes and tag not in _VOID_TAGS:
            attributes = {name: (value or "") for name, value in attrs}
            if attributes.get("id", "").lower() in _HISTORY_IDS:
                self.stopped = True
                return
            if tag == "blockquote" or "gmail_quote" in attributes.get("class", "").split():
                self.quote_tag, self.quote_depth = tag, 1
                self.pending = max(self.pending, 2)
                return
        self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stopped:
            return
        if self.quote_tag is not None:
            if tag == self.quote_tag:
                self.quote_depth -= 1
                if self.quote_depth == 0:
                    self.quote_tag = None
                    self.pending = max(self.pending, 2)
            return
        if tag in _SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag not in _VOID_TAGS:
            self._break(tag)

    def _break(self, tag: str) -> None:
        if tag == "br":  # each <br> counts: two of them make a blank line
            self._add("\n" * self.pending + "\n")
        elif tag in _PARAGRAPH_TAGS:
            self.pending = max(self.pending, 2)
        elif tag in _LINE_TAGS:
            self.pending = max(self.pending, 1)

    def _add(self, piece: str) -> None:
        self.pending = 0
        self.pieces.append(piece)
        if len(self.pieces) >= _PIECES_PER_CHUNK:
            self.chunks.append("".join(self.pieces))
            self.pieces.clear()

    def text(self) -> str:
        """The text gathered, its spaces not yet tidied."""
        return "".join([*self.chunks, "".join(self.pieces)])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # "<br/>" is one line break; "<div/>" (invalid but seen) opens and closes at once.
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self.skip_depth or self.quote_tag or self.stopped:
            return
        if data == "\n":
            # A text of one line break alone between two tags breaks the line, as a <br>
            # does (a browser shows a space; the model was trained on text read this way).
            self._break("br")
        else:
            self._add("\n" * self.pending + _SOURCE_SPACES.sub(" ", data))

    def feed(self, html: str) -> None:
        for kind, value, attributes in _html_events(html):
            if kind == "data":
                self.handle_data(value)
            elif kind == "start":
                self.handle_starttag(value, attributes)
            elif kind == "end":
                self.handle_endtag(value)
            else:
                self.handle_startendtag(value, attributes)


def html_to_text(html: str, drop_quotes: bool = True) -> str:
    """Readable text from HTML mail; with `drop_quotes`, quoted history is left out."""
    parser = _TextExtractor(drop_quotes)
    parser.feed(html)
    return normalise_whitespace(parser.text())


# Invisible characters that mail clients sprinkle into text (zero-width space and joiners,
# byte-order mark, soft hyphen).
_INVISIBLE_CHARACTERS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARACTERS}]")


# A run of spaces and tabs other than a single space (which needs no replacing).
_SPACES = re.compile(r"(?: [ \t\f\v]|[\t\f\v])[ \t\f\v]*")
_BLANK_LINES = re.compile(r"\n{3,}")
# Blanks (what str.strip removes, but line breaks) at the end or start of a line, around
# the line break; only where there are some, so text without any has no match at all. A
# match is tried only where a run of blanks starts (the lookbehind), and gives none back:
# tried inside the run as well, a line of 40,000 em spaces took 7 s (quadratic).
_BLANKS_AT_BREAK = re.compile(r"(?<![^\S\n])[^\S\n]++\n[^\S\n]*+|\n[^\S\n]++")
# A quoted line ('>' after any blanks) with the line break before it.
_QUOTED_LINE = re.compile(r"\n[^\S\n]*>[^\n]*")


#: Up to this many characters, a text's lines are stripped one by one; a longer text is
#: tidied by one pattern over the whole of it (see normalise_whitespace).
LINE_BY_LINE_UP_TO = 64 * 1024


def normalise_whitespace(text: str) -> str:
    """Spaces tidied per line, runs of blank lines to one, no blank lines at the ends.

    A long text is tidied over the whole of it at once rather than line by line: a mail of a
    million short lines costs a fraction of a second, and no list of its lines (~60 bytes a
    line) is made. A text of ordinary length is split into lines: the pattern tries to match
    at every blank, ~50 µs for 3 KB of prose against ~5 µs for stripping its lines.
    """
    # Each step is skipped when a quick look shows it would change nothing (most mail has
    # no invisible characters, tabs or runs of blank lines): the same result, sooner.
    if not text.isascii():
        if any(char in text for char in _INVISIBLE_CHARACTERS):
            text = _INVISIBLE.sub("", text)
        text = text.replace("\xa0", " ")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in text or "\f" in text or "\v" in text:
        text = _SPACES.sub(" ", text)
    else:
        while "  " in text:  # each pass halves every run of spaces
            text = text.replace("  ", " ")
    if len(text) <= LINE_BY_LINE_UP_TO:
        text = "\n".join([line.strip() for line in text.split("\n")])
    else:
        text = _BLANKS_AT_BREAK.sub("\n", text)  # each line stripped (the ends: below)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


#: Quoted history, signatures and forwarded messages are looked for in this many first lines:
#: a person's own words come before them, and nobody writes more. Lines after it are kept
#: as they are (only '>' lines dropped), so the work on a huge mail stays linear and small.
MARKER_LINES = 5_000

# Where quoted history starts. An attribution names a date (so it has a digit) and ends in
# "wrote:"/"skrev …:"; a line that only says "as I wrote:" is the person's own text.
#   "On Tue, 24 Nov 2026 at 10:12, Anna <anna@example.se> wrote:"      (Gmail, Apple Mail)
#   "On 2026-11-24 10:12, Anna Svensson wrote:"                         (Thunderbird)
#   "Den tis 24 nov. 2026 kl 10:12 skrev Anna <anna@example.se>:"      (Gmail, svenska)
#   "24 nov. 2026 kl. 10:12 skrev Anna <anna@example.se>:"             (Apple Mail, svenska)
#   "2026-11-24 10:12 skrev Anna Svensson:"                             (Thunderbird, svenska)
# Gmail wraps a long attribution over two lines, so each is also tried joined with the next.
_ATTRIBUTIONS = (
    re.compile(r"^On\b(?=.*\d).{0,200}(?<!\bI)(?<!\bwe)\s+wrote\s*:$", re.IGNORECASE),
    re.compile(
        r"^(Den\b|\d|(mån|tis|ons|tor|tors|fre|lör|sön)[a-zåäö]*\b)(?=.*\d)"
        r".{0,160}\bskrev\s+(?!(jag|vi|ni|du|han|hon|de)\b)[^:]{1,160}:$",
        re.IGNORECASE,
    ),
)
_ORIGINAL_MESSAGE = re.compile(
    r"^-{2,}\s*(Original Message|Ursprungligt meddelande|Originalmeddelande)\s*-{2,}$",
    re.IGNORECASE,
)
# Outlook's header block: "From:/Från:" and, within the next three lines,
# "Sent:/Skickat:" (Outlook for Windows) or "Date:/Datum:" (Outlook for Mac).
_OUTLOOK_FROM = re.compile(r"^\*?(From|Från)\s*:", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(r"^\*?(Sent|Skickat|Date|Datum)\s*:", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^_{5,}$")
# A forwarded message is the request itself, not history (Gmail, Outlook, Apple Mail).
_FORWARD = re.compile(
    r"^-*\s*(Forwarded message|Vidarebefordrat meddelande|Begin forwarded message|"
    r"Vidarebefordrat brev|Början på vidarebefordrat brev)\b",
    re.IGNORECASE,
)


class _Lines:
    """The lines of a text and, for each, where the next line that is neither blank nor quoted
    stands: found once from the end, so that looking ahead from every line of a long mail
    costs a step per line instead of a pass over the rest of the mail (which was quadratic).
    """

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self._next = [len(lines)] * len(lines)
        following = len(lines)
        for index in range(len(lines) - 1, -1, -1):
            self._next[index] = following
            stripped = lines[index].strip()
            if stripped and not stripped.startswith(">"):
                following = index

    def following(self, index: int, count: int) -> list[str]:
        """The next `count` lines after `index` that are neither blank nor quoted, stripped.

        Skipping what strip_quoted and normalise_whitespace remove keeps visible_text
        idempotent.
        """
        found: list[str] = []
        position = self._next[index]
        while position < len(self.lines) and len(found) < count:
            found.append(self.lines[position].strip())
            position = self._next[position]
        return found


def _starts_history(lines: _Lines, index: int) -> bool:
    line = lines.lines[index].strip()
    if _ORIGINAL_MESSAGE.match(line):
        return True
    if any(p.match(line) for p in _ATTRIBUTIONS):
        return True
    # A wrapped attribution: this line starts it, the next one ends it. Not when this line
    # ends a sentence or the next line is a whole attribution by itself.
    following = lines.following(index, 1)
    if following and not line.endswith((".", "!", "?")):
        joined = f"{line} {following[0]}"
        alone = any(p.match(following[0]) for p in _ATTRIBUTIONS)
        if not alone and any(p.match(joined) for p in _ATTRIBUTIONS):
            return True
    return bool(_OUTLOOK_FROM.match(line)) and any(
        _OUTLOOK_SENT.match(following) for following in lines.following(index, 3)
    )


def without_quoted_lines(text: str) -> str:
    """The lines of `text` that do not start with '>' (after blanks), joined again: as
    joining the kept lines of text.split("\n") would, without a list of every line."""
    kept = _kept_lines(text)
    return "" if kept is None else kept


def _kept_lines(text: str) -> str | None:
    """As without_quoted_lines, but None when no line is kept (a single empty line kept
    is "")."""
    if ">" not in text:
        return text
    kept = _QUOTED_LINE.sub("", "\n" + text)  # each line with the break before it
    return kept[1:] if kept else None


def _lines_and_rest(text: str) -> list[str]:
    """The first MARKER_LINES lines of `text`, and then the rest of it as one string (not
    split: markers are looked for only in the first lines)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n", MARKER_LINES)


def strip_quoted(text: str) -> str:
    """Drop quoted earlier messages: '>' lines and everything from an attribution on.

    A forwarded message is kept whole: someone forwarding a request wants us to read it.
    """
    if not _may_hold(_head(text), _HISTORY_WORDS):  # no marker can match: only '>' lines go
        return without_quoted_lines(text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = _lines_and_rest(text)
    end = _forward_start(lines)
    own, forwarded = lines[:end], lines[end:]
    kept: list[str] = []
    looking_ahead = _Lines(own[:MARKER_LINES])
    for index, line in enumerate(own[:MARKER_LINES]):
        if line.lstrip().startswith(">"):
            continue
        if _starts_history(looking_ahead, index):  # never looking into the forwarded message
            # Outlook draws a line of underscores above its header block.
            while kept and (not kept[-1].strip() or _UNDERSCORES.match(kept[-1].strip())):
                kept.pop()
            return "\n".join(kept)
        kept.append(line)
    for rest in own[MARKER_LINES:]:  # (the lines after the first MARKER_LINES, unsplit)
        if (unquoted := _kept_lines(rest)) is not None:
            kept.append(unquoted)
    return "\n".join(kept + forwarded)


def _forward_start(lines: list[str]) -> int:
    """Index of the first forwarded-message marker, or len(lines) when there is none."""
    window = lines[:MARKER_LINES]
    return next((i for i, line in enumerate(window) if _FORWARD.match(line.strip())), len(lines))


_SIGNATURE_SEPARATOR = re.compile(r"^-- ?$")  # RFC 3676 §4.3, and the common "--"
# A line a phone or web client adds under every message.
_CLIENT_FOOTER = re.compile(
    r"^(Sent from my (iPhone|iPad|Android|Samsung|Galaxy|mobile|phone|smartphone|BlackBerry)|"
    r"Skickat från min (iPhone|iPad|Android|Samsung|Galaxy|mobil|telefon|smartphone)|"
    r"Sent from Outlook|Skickat från Outlook|Get Outlook for|Hämta Outlook för|"
    r"Sent from Mail for Windows|Skickat från E-post för Windows|Sent from Yahoo Mail)\b.{0,40}$",
    re.IGNORECASE,
)
# A confidentiality disclaimer: opening words and, on that line or the next, what it claims.
_DISCLAIMER_START = re.compile(
    r"^(This (e-?mail|message|communication|transmission)|"
    r"Detta (e-?post(meddelande)?|e-?brev|mejl|meddelande)|CONFIDENTIALITY NOTICE|"
    r"KONFIDENTIALITET|Sekretess)\b",
    re.IGNORECASE,
)
_DISCLAIMER_CLAIM = re.compile(
    r"\b(confidential|privileged|intended (solely |only )?for|notify the sender|"
    r"konfidentiell|sekretess|avsett (enbart |endast )?för|avsedd (enbart |endast )?för|"
    r"meddela avsändaren)",
    re.IGNORECASE,
)


def _starts_footer(lines: _Lines, index: int) -> bool:
    line = lines.lines[index].strip()
    if _CLIENT_FOOTER.match(line):
        return True
    if not _DISCLAIMER_START.match(line):
        return False
    return bool(_DISCLAIMER_CLAIM.search(" ".join([line, *lines.following(index, 1)])))


def strip_signature(text: str) -> str:
    """Drop the '-- ' signature, confidentiality disclaimers and 'Sent from my iPhone'.

    Only above a forwarded message: the forwarder's signature goes, the request they
    forward stays whole.
    """
    head = _head(text)
    if "--" not in head and not _may_hold(head, _FOOTER_WORDS):  # nothing can match
        return text.replace("\r\n", "\n").replace("\r", "\n")
    lines = _lines_and_rest(text)
    end = _forward_start(lines)
    own, forwarded = lines[:end], lines[end:]
    looking_ahead = _Lines(own[:MARKER_LINES])
    for index, line in enumerate(own[:MARKER_LINES]):
        if _SIGNATURE_SEPARATOR.match(line.rstrip()) or _starts_footer(looking_ahead, index):
            own = own[:index]
            break
    return "\n".join(own + forwarded)


# Words without which no marker above can match (each marker pattern holds one of them;
# tests/test_text.py checks the lists against the patterns' sources), so that a mail
# without any is not looked at line by line. Forwarding counts for both: it changes
# where history and signatures are looked for.
_FORWARD_WORDS = ("forwarded", "vidarebefordrat")
_HISTORY_WORDS = ("wrote", "skrev", "original", "ursprungligt", "from", "från", *_FORWARD_WORDS)
_FOOTER_WORDS = (
    "sent", "skickat", "outlook", "confidential", "privileged", "intended", "notify",
    "konfidentiell", "sekretess", "avsett", "avsedd", "meddela", *_FORWARD_WORDS,
)  # fmt: skip
_MARKER_WORDS = tuple(dict.fromkeys(_HISTORY_WORDS + _FOOTER_WORDS))
# Characters that match an ASCII letter under re.IGNORECASE without lower-casing to it
# (İ, ı, ſ and the Kelvin sign): with one of them present, lower() cannot tell.
_CASE_ODDITIES = ("\u0130", "\u0131", "\u017f", "\u212a")


def _head(text: str) -> str:
    """The text up to its MARKER_LINES-th line break: all that markers are looked for in
    (at least: a lone CR ends a line too, where the text is split), so that a huge mail is
    not lower-cased whole to be looked at."""
    end = -1
    for _ in range(MARKER_LINES):
        end = text.find("\n", end + 1)
        if end < 0:
            return text
    return text[:end]


def _may_hold(text: str, words: tuple[str, ...]) -> bool:
    """False when none of `words` stands in the text in any case, as the markers'
    case-blind patterns read it (a substring search: a microsecond, not a pattern per line)."""
    if not text.isascii() and any(odd in text for odd in _CASE_ODDITIES):
        return True
    lowered = text.lower()
    return any(word in lowered for word in words)


def visible_text(text: str) -> str:
    """What the person wrote in this message: no quoted history, no signature. Idempotent."""
    # Tidied first as well, so invisible characters and blank-line runs cannot hide a marker
    # on the first pass that a second pass would see.
    tidy = normalise_whitespace(text)
    # (Signatures are looked for in the first lines of what strip_quoted leaves: without
    # quoted lines those are the text's first lines.)
    head = _head(tidy) if ">" not in tidy else tidy
    if "--" not in head and not _may_hold(head, _MARKER_WORDS):
        # No marker of either kind can match (one look instead of one per function): what
        # strip_quoted leaves is the lines that are not quoted, and strip_signature keeps
        # those whole.
        return normalise_whitespace(without_quoted_lines(tidy))
    return normalise_whitespace(strip_signature(strip_quoted(tidy)))
