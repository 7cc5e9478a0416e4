"""From a mail body to what the person wrote in this message: HTML to text, quoted earlier
messages and signatures removed. Pure functions over strings.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "ul",
        "ol",
        "section",
        "article",
        "header",
        "footer",
        "hr",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title"})
_QUOTE_IDS = frozenset({"divrplyfwdmsg", "appendonsend"})


class _TextExtractor(HTMLParser):
    def __init__(self, drop_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_quotes = drop_quotes
        self.parts: list[str] = []
        self.skip_depth = 0
        self.quote_stack: list[str] = []  # tags whose content is a quote being dropped
        self.stopped = False  # Outlook: everything after the reply marker is history

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        attributes = {k: (v or "") for k, v in attrs}
        if tag in _SKIP_TAGS:
            self.skip_depth += 1
        if self.drop_quotes:
            classes = attributes.get("class", "").lower().split()
            if attributes.get("id", "").lower() in _QUOTE_IDS:
                self.stopped = True
                return
            if self.quote_stack or tag == "blockquote" or "gmail_quote" in classes:
                self.quote_stack.append(tag)
                return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.stopped:
            return
        if tag in _SKIP_TAGS and self.skip_depth:
            self.skip_depth -= 1
        if self.quote_stack:
            if tag == self.quote_stack[-1]:
                self.quote_stack.pop()
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr") and not self.quote_stack and not self.stopped:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not (self.skip_depth or self.quote_stack or self.stopped):
            self.parts.append(data)


def html_to_text(html: str, drop_quotes: bool = True) -> str:
    """Readable text from HTML mail; with `drop_quotes`, quoted history is left out."""
    parser = _TextExtractor(drop_quotes)
    parser.feed(html)
    parser.close()
    text = unescape("".join(parser.parts)).replace("\xa0", " ")
    return normalise_whitespace(text)


def normalise_whitespace(text: str) -> str:
    """Trailing spaces gone, runs of blank lines to one, no blank lines at the ends."""
    lines = [
        re.sub(r"[ \t]+", " ", line).strip()
        for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


# Where quoted history starts, in the order they are tried on each line:
_ATTRIBUTION = [
    # English: "On Tue, 24 Nov 2026 at 10:12, Anna <anna@example.se> wrote:"
    re.compile(r"^\s*On\b.{0,200}\bwrote:\s*$", re.IGNORECASE),
    # Swedish: "Den tis 24 nov. 2026 kl 10:12 skrev Anna <…>:" and "24 nov. 2026 skrev …:"
    re.compile(r"^\s*.{0,120}\d.{0,120}\bskrev\b.{0,200}:\s*$", re.IGNORECASE),
    re.compile(
        r"^\s*-{2,}\s*(Original Message|Ursprungligt meddelande|Originalmeddelande)\s*-{2,}",
        re.IGNORECASE,
    ),
]
# Outlook header block: "From:/Från:" followed within a few lines by "Sent:/Skickat:".
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|Från|Fran)\s*:\*?\s", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(r"^\s*\*?(Sent|Skickat|Date|Datum)\s*:\*?\s", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^\s*_{5,}\s*$")
_FORWARD = re.compile(
    r"(Forwarded message|Vidarebefordrat meddelande|Begin forwarded message)", re.IGNORECASE
)


def strip_quoted(text: str) -> str:
    """Drop quoted earlier messages: '>' lines and everything from an attribution on.

    A forwarded message is kept: someone forwarding a request wants us to read it.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    forwarded = False
    for index, line in enumerate(lines):
        if _FORWARD.search(line):
            forwarded = True
        if forwarded:
            kept.append(line)
            continue
        if line.lstrip().startswith(">"):
            continue
        two_lines = line + " " + (lines[index + 1] if index + 1 < len(lines) else "")
        if any(p.match(line) for p in _ATTRIBUTION) or (
            re.match(r"^\s*On\b", line)
            and re.search(r"\bwrote:\s*$", two_lines)
            and not re.search(r"wrote:", line)
        ):
            break
        if _OUTLOOK_FROM.match(line) and any(
            _OUTLOOK_SENT.match(following) for following in lines[index + 1 : index + 4]
        ):
            if kept and _UNDERSCORES.match(kept[-1]):
                kept.pop()
            break
        kept.append(line)
    return "\n".join(kept)


_SIGNATURE_SEPARATOR = re.compile(r"^-- ?$")
_DISCLAIMERS = re.compile(
    r"^\s*(This (e-?mail|message)( and any attachments)? (is|are|may (be|contain))"
    r"|Detta (e-?post)?meddelande( och eventuella bilagor)? (kan innehålla|är)"
    r"|Sent from my (iPhone|iPad|Android|mobile)|Skickat från min (iPhone|iPad|mobil)"
    r"|Hämta Outlook för|Get Outlook for|Skickat från Outlook|Sent from Outlook"
    r"|CONFIDENTIALITY NOTICE|KONFIDENTIALITET)",
    re.IGNORECASE,
)


def strip_signature(text: str) -> str:
    """Drop the '-- ' signature and trailing disclaimers or 'Sent from my iPhone' lines."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if _SIGNATURE_SEPARATOR.match(line.rstrip("\r")):
            lines = lines[:index]
            break
    for index, line in enumerate(lines):
        if _DISCLAIMERS.match(line):
            lines = lines[:index]
            break
    return "\n".join(lines)


def visible_text(text: str) -> str:
    """What the person wrote in this message: no quoted history, no signature."""
    return normalise_whitespace(strip_signature(strip_quoted(text)))
