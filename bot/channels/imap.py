"""Reading the info@ mailbox over IMAP (aioimaplib). Knows IMAP, not GDPR.

Mail is fetched with BODY.PEEK[] so nothing is marked read, and nothing is moved: mail that
is not a rights request is left exactly as it was. Fetches go in batches of at most 100
UIDs and about BATCH_BYTES, and the responses are handed to aioimaplib in slices (see
PARSE_SLICE).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

import aioimaplib

from bot.config import ImapSettings

BATCH = 100
#: ... and at most about this many bytes: the sizes are asked first (RFC822.SIZE), so that
#: mail with attachments (a CV as a PDF) is not fetched and held a hundred at a time — 150
#: mails with a 1 MB attachment each took `noxbot run` to 362 MiB. A larger mail is
#: fetched alone.
BATCH_BYTES = 2 * 1024 * 1024
#: aioimaplib parses what one read of the socket returns (up to 256 KiB) by recursing once
#: per line, each level keeping the rest of the buffer: a FETCH of 100 ordinary mails took
#: ~30 MiB at once. Handed to it in slices of this size, the same response takes well under
#: 1 MiB; a slice boundary is no different from where the network happens to split data.
PARSE_SLICE = 16 * 1024
#: Numbers in a server's answers are 32-bit (RFC 3501: at most 10 digits); a longer one is not
#: read as a number at all (Python refuses to convert more than 4,300 digits).
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d{1,10})\b")
_UIDNEXT = re.compile(rb"UIDNEXT (\d{1,10})\b")
_INTERNALDATE = re.compile(rb"INTERNALDATE \"([^\"]+)\"")
_UID = re.compile(rb"\bUID (\d{1,10})\b")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d{1,10})\b")
_EXISTS = re.compile(rb"(?:\* )?(\d{1,10}) EXISTS")
#: A SEARCH response's untagged line as aioimaplib files it ("* SEARCH 1 2 3" as "1 2 3"):
#: numbers only. The response may hold other untagged lines - "2501 EXISTS", "1 RECENT" -
#: whose numbers are no UIDs.
_SEARCH = re.compile(rb"(?:\* )?(?:SEARCH)? ?[0-9 ]*")


class ImapError(Exception):
    """The server refused something or went away; the watcher reconnects with backoff.

    Its message names the server and what it said, never a mail's content: it is logged."""


class ConnectionLost(ImapError):
    """The server closed the connection (or it broke) while a command or IDLE was waiting."""


@dataclass(frozen=True)
class FetchedMail:
    uid: int
    raw: bytes
    internal_date: datetime | None


def _internal_date(text: bytes | None) -> datetime | None:
    if not text:
        return None
    # "24-Nov-2026 10:00:00 +0100" (RFC 3501 date-time); a server's odd one is no date, and
    # nor is one that has no UTC time (31-Dec-9999 23:59:59 -1200: stored, it would overflow)
    try:
        day, month, rest = text.decode("ascii").split("-", 2)
        received = parsedate_to_datetime(f"{day} {month} {rest}")
        if received.tzinfo is None:  # "-0000": UTC, its place unknown (RFC 5322 3.3)
            received = received.replace(tzinfo=UTC)
        received.astimezone(UTC)
        return received
    except (TypeError, ValueError, OverflowError):  # UnicodeDecodeError too
        return None


def parse_fetch(lines: list[bytes | bytearray | memoryview]) -> list[FetchedMail]:
    """UID, raw bytes and INTERNALDATE of each message in a UID FETCH response. A message's
    bytes are the line after its FETCH line: a view of them as _LinearFetch gives them (used
    as they are), or a bytearray as aioimaplib's own commands do (copied)."""
    found = []
    for index, line in enumerate(lines[:-1]):
        if isinstance(line, bytes) and line.endswith(b"}") and b" FETCH " in line:
            uid = _UID.search(line)
            body = lines[index + 1]
            if isinstance(body, memoryview) and isinstance(body.obj, bytes):
                raw = body.obj
            elif isinstance(body, bytearray | bytes):
                raw = bytes(body)
            else:
                continue
            if uid:
                date = _INTERNALDATE.search(line)
                found.append(
                    FetchedMail(
                        int(uid.group(1)), raw, _internal_date(date.group(1) if date else None)
                    )
                )
    return found


def fetch_groups(uids: list[int], sizes: dict[int, int], most_bytes: int) -> list[list[int]]:
    """`uids` in order, cut into runs of at most `most_bytes` together (a message larger
    than that alone; one whose size is unknown counts as nothing)."""
    groups: list[list[int]] = []
    group: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if group and total + size > most_bytes:
            groups.append(group)
            group, total = [], 0
        group.append(uid)
        total += size
    if group:
        groups.append(group)
    return groups


class ImapMailbox:
    """One logged-in connection to one mailbox."""

    def __init__(self, settings: ImapSettings, password: str) -> None:
        self.settings = settings
        self.password = password
        self.client: aioimaplib.IMAP4 | None = None
        self.uidvalidity = 0
        self.uidnext = 1
        #: How many messages SELECT reported (for the log line at start).
        self.exists = 0
        #: Set when the connection closes: every wait below ends at once with ConnectionLost,
        #: where aioimaplib alone would leave a pending command (or IDLE) waiting for its
        #: timeout.
        self._lost = asyncio.Event()

    @property
    def server(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    async def _until_lost(self, awaitable: object, timeout: float | None) -> object:
        """`awaitable`'s result; ConnectionLost as soon as the connection closes,
        TimeoutError after `timeout`."""
        task = asyncio.ensure_future(awaitable)  # type: ignore[arg-type]
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait({task, lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if self._lost.is_set():
            raise ConnectionLost(f"{self.server} closed the connection")
        raise TimeoutError(f"{self.server} did not answer in {timeout:g} s")

    async def _ok(self, awaitable: object, what: str, *, timed: bool = True) -> aioimaplib.Response:
        """The command's response when OK, else ImapError; it may take timeout_seconds in
        all, unless `timed` is False: a FETCH ends when the server is silent that long
        (its own timer, _LinearFetch), however long a big batch takes in all."""
        timeout = self.settings.timeout_seconds if timed else None
        response = await self._until_lost(awaitable, timeout)
        assert isinstance(response, aioimaplib.Response)
        if response.result != "OK":
            last = bytes(response.lines[-1]) if response.lines else b""
            said = last.decode(errors="replace")[:200]  # "[AUTHENTICATIONFAILED] …"
            raise ImapError(f"{self.server}: {what}: {response.result} {said}".rstrip())
        return response

    async def connect(self) -> None:
        s = self.settings
        cls = aioimaplib.IMAP4_SSL if s.tls == "ssl" else aioimaplib.IMAP4
        self._lost.clear()
        self.client = cls(host=s.host, port=s.port, timeout=s.timeout_seconds)
        # Set on the protocol rather than passed in: IMAP4_SSL takes no conn_lost_cb. The
        # connection is only being opened, so nothing can be lost before this line.
        self.client.protocol.conn_lost_cb = lambda _exc: self._lost.set()
        _parse_in_slices(self.client.protocol)
        try:
            await self._until_lost(self.client.wait_hello_from_server(), s.timeout_seconds)
        except OSError as exc:  # refused, unreachable, TLS handshake: say where
            raise ConnectionLost(f"cannot connect to {self.server}: {exc}") from exc
        await self._ok(self.client.login(s.username, self.password), f"login as {s.username}")
        response = await self._ok(self.client.select(s.mailbox), f"SELECT {s.mailbox}")
        for line in response.lines:
            if match := _UIDVALIDITY.search(bytes(line)):
                self.uidvalidity = int(match.group(1))
            if match := _UIDNEXT.search(bytes(line)):
                self.uidnext = int(match.group(1))
            if match := _EXISTS.match(bytes(line)):
                self.exists = int(match.group(1))

    async def last_uid_before(self, since: date) -> int:
        """The UID to read after so that mail from `since` on is read: one below the first
        UID that arrived on or after that day; the highest UID when nothing did; 0 for an
        empty mailbox. Used where no cursor can be trusted (first start, new UIDVALIDITY)."""
        assert self.client is not None
        day = f"{since.day}-{_MONTHS[since.month - 1]}-{since.year}"  # RFC 3501 date
        recent = _uids(await self._ok(self.client.uid_search("SINCE", day), "UID SEARCH"))
        if recent:
            return min(recent) - 1
        # Nothing recent: everything here is older. UIDNEXT as SELECT saw it, not the highest
        # UID now: mail arriving after the search must not be skipped.
        return max(self.uidnext - 1, 0)

    async def uids_after(self, after_uid: int) -> list[int]:
        """The UIDs above `after_uid`, in order."""
        assert self.client is not None
        response = await self._ok(self.client.uid_search("UID", f"{after_uid + 1}:*"), "UID SEARCH")
        # "n:*" always matches the highest UID, even when it is below n (RFC 3501 §6.4.8).
        return sorted(u for u in _uids(response) if u > after_uid)

    async def arrived_after(self, after_uid: int) -> list[int]:
        """The UIDs above `after_uid` as the server sees the mailbox now, in order: a NOOP
        first, for a UID SEARCH alone may answer from what the session last looked at (Dovecot
        notices mail delivered meanwhile only after it, and mail dropped into the Maildir by
        another program only on a NOOP or in IDLE)."""
        assert self.client is not None
        await self._ok(self.client.noop(), "NOOP")
        return await self.uids_after(after_uid)

    async def headers_between(
        self, first_uid: int, last_uid: int, most_bytes: int
    ) -> list[FetchedMail]:
        """The header blocks (BODY.PEEK[HEADER]) of the mail with UIDs from `first_uid` to
        `last_uid`, in order, each cut at `most_bytes` (a header that long is cut: whoever
        reads them tells it by its length): what a mail says of itself, without its body."""
        assert self.client is not None
        if last_uid < first_uid:
            return []
        response = await self._ok(
            self._linear_fetch(
                f"{first_uid}:{last_uid}", f"(UID BODY.PEEK[HEADER]<0.{most_bytes}>)"
            ),
            "UID FETCH",
            timed=False,
        )
        # ("n:m" is "m:n" to the server: a UID outside the range is none of these)
        found = [mail for mail in parse_fetch(response.lines) if first_uid <= mail.uid <= last_uid]
        return sorted(found, key=lambda mail: mail.uid)

    async def beginnings(self, uids: list[int], most_bytes: int) -> list[FetchedMail]:
        """The first `most_bytes` of each mail of `uids` (BODY.PEEK[]<0.n>), in UID order:
        where a mail's header is not where the server's HEADER part finds it (a mail that
        begins with a blank line has an empty one)."""
        assert self.client is not None
        if not uids:
            return []
        response = await self._ok(
            self._linear_fetch(",".join(map(str, uids)), f"(UID BODY.PEEK[]<0.{most_bytes}>)"),
            "UID FETCH",
            timed=False,
        )
        wanted = set(uids)
        found = [mail for mail in parse_fetch(response.lines) if mail.uid in wanted]
        return sorted(found, key=lambda mail: mail.uid)

    async def new_mail(
        self, after_uid: int, uids: list[int] | None = None
    ) -> AsyncIterator[FetchedMail]:
        """Messages with a UID above `after_uid` (or those of `uids`), oldest first, fetched
        at most BATCH and about BATCH_BYTES at a time.

        Mail that arrives meanwhile is not announced by IDLE later (a `* N EXISTS`, if the
        server sends one, is filed by aioimaplib among a command's lines): the caller asks
        for it (`arrived_after`) during a long pass and searches again when a pass found
        mail, so it is read within a second, not at the next IDLE or poll."""
        assert self.client is not None
        if uids is None:
            uids = await self.uids_after(after_uid)
        for start in range(0, len(uids), BATCH):
            some = uids[start : start + BATCH]
            for group in fetch_groups(some, await self.sizes(some), BATCH_BYTES):
                batch = ",".join(map(str, group))
                fetched = await self._ok(self._uid_fetch(batch), "UID FETCH", timed=False)
                mails = sorted(parse_fetch(fetched.lines), key=lambda m: m.uid, reverse=True)
                del fetched  # (its lines hold a second copy of every mail)
                while mails:  # each mail let go of once it is handed on
                    yield mails.pop()

    async def sizes(self, uids: list[int]) -> dict[int, int]:
        """Each message's size in bytes as the server reports it (RFC822.SIZE)."""
        assert self.client is not None
        # Timed like the FETCH of mail, by the server's silence: a server that must read each
        # message to know its size may take longer than timeout_seconds in all.
        response = await self._ok(
            self._linear_fetch(",".join(map(str, uids)), "(UID RFC822.SIZE)"),
            "UID FETCH",
            timed=False,
        )
        sizes: dict[int, int] = {}
        for line in response.lines:
            if isinstance(line, bytes) and b" FETCH " in line:
                uid, size = _UID.search(line), _SIZE.search(line)
                if uid and size:
                    sizes[int(uid.group(1))] = int(size.group(1))
        return sizes

    async def _uid_fetch(self, uids: str) -> aioimaplib.Response:
        """UID FETCH of whole messages."""
        return await self._linear_fetch(uids, "(UID INTERNALDATE BODY.PEEK[])")

    async def _linear_fetch(self, uids: str, items: str) -> aioimaplib.Response:
        """UID FETCH as aioimaplib's `uid("fetch", …)` sends it, with _LinearFetch in place
        of its FetchCommand."""
        assert self.client is not None
        protocol = self.client.protocol
        command = _LinearFetch(
            protocol.new_tag(),
            uids,
            items,
            prefix="UID",
            loop=protocol.loop,
            timeout=self.client.timeout,
        )
        return await protocol.execute(command)

    async def wait_for_mail(self, stop: asyncio.Event) -> None:
        """Until the server says something changed (IDLE), a poll interval passes, or stop."""
        assert self.client is not None
        timeout = self.settings.poll_seconds
        if not (self.settings.idle and self.client.has_capability("IDLE")):
            await self._until_lost(_wait(stop, timeout), None)
            await self._ok(self.client.noop(), "NOOP")
            return
        idle = await self._until_lost(
            self.client.idle_start(timeout=timeout), self.settings.timeout_seconds
        )
        waiter = asyncio.ensure_future(self.client.wait_server_push(timeout=timeout))
        stopper = asyncio.ensure_future(stop.wait())
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait(
                {waiter, stopper, lost}, timeout=timeout + 5, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (waiter, stopper, lost):
                task.cancel()
        if self._lost.is_set():  # a restarted or crashed server: reconnect now
            raise ConnectionLost(f"{self.server} closed the connection")
        self.client.idle_done()
        await self._until_lost(idle, self.settings.timeout_seconds)

    async def close(self) -> None:
        if self.client is not None:
            # Closing a broken connection can fail in any way; there is nothing left to do.
            with contextlib.suppress(Exception):
                if not self._lost.is_set():
                    await self._until_lost(self.client.logout(), 5)
            for task in list(self.client.tasks):  # an IDLE left waiting on a lost connection
                task.cancel()
            transport = self.client.protocol.transport if self.client.protocol else None
            if transport is not None:
                transport.close()
            self.client = None


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _LinearFetch(aioimaplib.FetchCommand):
    """aioimaplib's FetchCommand asks after every line received whether a message's data
    is still incomplete, and to know where the last message began it reads all the lines of
    the response so far: a batch of 100 mails cost ~30,000 pattern matches. This one reads
    only the lines that came since it last asked; the answer is the same.

    Likewise its timeout (the server silent for `timeout` seconds): aioimaplib replaces a
    timer after every line; this one notes when the last line came, and its one timer, when
    it fires, either ends the command or waits out the rest.

    And a message's bytes: aioimaplib gathers them in a bytearray, which then had to be
    copied into bytes - twice the mail at once. This one writes them to a BytesIO, whose
    value is the bytes it wrote into, not a copy, and files them among the response's lines
    as a memoryview of them (a type of their own there, as the bytearray was)."""

    def __init__(self, *args: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._looked_at = 0
        self._last_fetch = 0
        self._literal = io.BytesIO()

    def begin_literal_data(self, expected_size: int, literal_data: bytes = b"") -> bytes:
        self._literal = io.BytesIO()
        return super().begin_literal_data(expected_size, literal_data)

    def wait_literal_data(self) -> bool:
        return self._expected_size != 0 and self._literal.tell() != self._expected_size

    def append_literal_data(self, data: bytes) -> bytes:
        missing = self._expected_size - self._literal.tell()
        self._literal.write(data[:missing] if len(data) > missing else data)
        if not self.wait_literal_data():
            literal, self._literal = self._literal, io.BytesIO()
            self.append_to_resp(memoryview(literal.getvalue()))  # type: ignore[arg-type]
            del literal  # (the bytes are the view's alone now)
            self._end_literal_data()
        self._reset_timer()
        return data[missing:]

    def _set_timer(self) -> None:
        self._heard_at = self._loop.time()  # wall clock: the server's silence
        if self._timeout is not None:
            self._timer = self._loop.call_later(self._timeout, self._silent_too_long)

    def _reset_timer(self) -> None:
        self._heard_at = self._loop.time()  # wall clock: the server's silence

    def _silent_too_long(self) -> None:
        assert self._timeout is not None
        silent = self._loop.time() - self._heard_at  # wall clock: the server's silence
        if silent >= self._timeout:
            self._timeout_callback()
        else:
            self._timer = self._loop.call_later(self._timeout - silent, self._silent_too_long)

    def wait_data(self) -> bool:
        lines = self._resp_lines
        for index in range(self._looked_at, len(lines)):
            line = lines[index]
            if isinstance(line, bytes) and self.FETCH_MESSAGE_DATA_RE.match(line):
                self._last_fetch = index
        self._looked_at = len(lines)
        since = b"".join(line for line in lines[self._last_fetch :] if isinstance(line, bytes))
        return since.count(b"(") != since.count(b")")


def _parse_in_slices(protocol: aioimaplib.IMAP4ClientProtocol, size: int = PARSE_SLICE) -> None:
    """Make `protocol` take received data at most `size` bytes at a time (see PARSE_SLICE)."""
    receive = protocol.data_received

    def in_slices(data: bytes) -> None:
        if len(data) <= size:
            receive(data)
            return
        view = memoryview(data)
        for start in range(0, len(data), size):
            receive(bytes(view[start : start + size]))

    protocol.data_received = in_slices  # type: ignore[method-assign]


def _uids(response: aioimaplib.Response) -> list[int]:
    """The UIDs a SEARCH found: the numbers of its SEARCH lines only (an EXISTS or RECENT
    the server adds to the response is a count, not a UID)."""
    return [
        int(u)
        for line in response.lines[:-1]
        if _SEARCH.fullmatch(bytes(line))
        for u in bytes(line).split()
        if u.isdigit() and len(u) <= 10
    ]


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
