"""Reading one mail — parsing and classifying it, the CPU-heavy, pure part of handling it —
within a time budget, so that no mail can stop the mail watcher.

Every step of reading is linear in the mail's size or capped (bot.reading.mail, .text,
.classifier), and an ordinary mail takes a few milliseconds. The budget is the last line
of defence, against whatever slow path is still unknown, and it has to be enforced from
outside the work:

- a thread cannot be stopped, and a regular expression running in C holds the GIL, so
  `asyncio.wait_for` around `asyncio.to_thread` neither frees the event loop (SIGTERM,
  the other channels) nor ends the work;
- a signal (SIGALRM) is only handled between Python bytecodes, not inside a regex;
- a separate process can be killed at any moment. So a mail of GUARDED_FROM_BYTES or more
  is parsed in a worker process (a fresh interpreter running
  bot.runtime.mail_parsing.serve_worker) that stays up between mails (the watcher ends it
  a few seconds after the mailbox is read through: MailReader.rest); the event loop waits
  for its answer without blocking, and kills it when the budget runs out or the watcher is
  stopped.

Only parsing grows with the mail: the classifier reads at most HEAD_CHARS + TAIL_CHARS of
any text (bot.reading.classifier.bounded), so a mail's classification costs what a small
mail's does and is done here, for every mail — the worker needs neither the model nor the
rest of noxbot (~20 MiB and 0.1 s of start-up less). Smaller mail is parsed here too: at
that size the linear steps cannot take long (the slowest input found, MIME parts with
crafted headers, costs about 7 µs a byte, so such mail is read in the worker whatever
its size once it has more than GUARDED_FROM_PARTS parts; ordinary mail a few
milliseconds), and the worker process need not even exist while the mailbox holds
only ordinary mail. Handing a mail over costs about a millisecond up to 64 KB and a few at
1 MB (the mail goes there and its message comes back, pickled: 0.5 ms per MB); starting
the worker about 0.1 s, once and after each kill (bench/pathological_bench.py measures
both).

A mail that takes longer than the budget becomes a `malformed` message: kept raw and shown
to staff, and the cursor moves past it like any other mail - unless the worker did no work
meanwhile (IDLE_SHARE: frozen, starved), which is not the mail's fault: a new worker reads
it once more.

A backlog uses the second core: its small mail goes to the worker in groups (`start_group`,
~25 µs a mail to hand over and take back, where waiting for a round trip per mail cost a
millisecond), which then loads the classifier too (~13 MiB) and reads a group while the
watcher fetches the next and its database thread writes the last
(bot.runtime.mail_watcher). Each mail of a group has its own budget, as above.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import IO

from bot.channels.messages import InboundMessage
from bot.reading.classifier import Classification
from bot.reading.learned_model import loaded_model
from bot.runtime.mail_classifying import classification_of, classify_inbound
from bot.runtime.mail_parsing import (
    CLASSIFY,
    READY,
    Position,
    ReadGroup,
    parse_mail,
    pickled,
    unreadable,
)
from bot.runtime.worker_link import ENDED, NOT_YET, OVERRUN, STOPPED, WorkerLink

__all__ = [
    "GUARDED_FROM_BYTES",
    "KeptOriginal",
    "MailBytes",
    "MailReader",
    "MailReading",
    "Position",
    "ReaderUnavailable",
    "classify_inbound",
    "read_mail",
]

log = logging.getLogger("noxbot")

#: Mail at least this large is read in the worker process (see the module's docstring).
GUARDED_FROM_BYTES = 64 * 1024
#: ... and mail with more MIME delimiter lines than this, whatever its size: what parsing
#: costs grows with its parts' headers (crafted ones up to ~5 ms each) and, for every line,
#: with how deep it is nested; real small mail has a few (a reply with two attachments: 4).
GUARDED_FROM_PARTS = 12
#: ... and mail whose header has more lines than this: each line is a header, or a defect
#: the parser notes, looked at twice (30,000 lines of ":" cost ~0.13 s); real mail has a
#: few dozen, a long chain of Received and signature headers a few hundred.
GUARDED_FROM_HEADER_LINES = 1_000
#: Where a mail's header ends: an empty line (LF LF, or CR LF CR LF).
_HEADER_END = re.compile(rb"\n\r?\n")
#: The worker is ended after a mail that left it holding more than this (at rest ~21 MiB;
#: after a mail with 1 MB attached ~30).
RECYCLE_MIB = 48.0
#: Once the mailbox is read through, the worker is ended after this many seconds unless it
#: is used again meanwhile (see MailReader.rest).
REST_SECONDS = 5.0
#: A worker that used less than this share of the budget in processor time while a mail's
#: answer was waited for did no work on it: frozen (SIGSTOP, a stuck call) or starved, not
#: held up by the mail - which is then read again by a new worker, not kept for staff.
IDLE_SHARE = 0.1
#: How long the worker process may take to start (import the parser) before the
#: watcher treats it as unavailable and tries again later.
START_SECONDS = 60.0


@dataclass(frozen=True)
class MailReading:
    """One mail as read: the message, and the classifier's reading of it (None when the
    mail is malformed, or classifying it failed: the pipeline then classifies it itself).

    `original`: where a mail read in the worker keeps its bytes until it is written (its
    `inbound.raw` is then None; see KeptOriginal)."""

    inbound: InboundMessage
    classification: Classification | None
    original: KeptOriginal | None = None


class MailBytes:
    """A mail's bytes as fetched, handed to MailReader.read, which takes them: when the
    caller holds them only through this, the reader can let them leave memory."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data

    def take(self) -> bytes:
        data, self._data = self._data, None
        if data is None:
            raise ValueError("these mail bytes were taken already")
        return data


class KeptOriginal:
    """A mail's bytes in an unnamed temporary file while the mail waits to be written, read
    back (`read`) only when they must be kept whole for staff: its processing failed.

    Why: a mail of several MB held its bytes beside its text and the database driver's two
    copies of that text while it was written - ~6 MiB of the watcher's peak in hostile
    mail. The file is made in the temporary directory ($TMPDIR, else /tmp), readable by
    noxbot's user alone, and has no name: it is gone once closed (when the mail is
    written), or when the process ends, however it ends. Where it cannot be written (a full
    disk), the bytes stay in memory (`in_file` is False)."""

    def __init__(self, data: bytes) -> None:
        self.size = len(data)
        self._data: bytes | None = None
        self._file: IO[bytes] | None = None
        self._close: Callable[[], None] = lambda: None
        try:
            file = tempfile.TemporaryFile(prefix="noxbot-mail-")  # noqa: SIM115 (kept open)
        except OSError:
            self._data = data
            return
        try:
            file.write(data)
            file.flush()
        except OSError:
            file.close()
            self._data = data
            return
        self._file = file
        self._close = weakref.finalize(self, file.close)

    @property
    def in_file(self) -> bool:
        return self._file is not None

    def read(self) -> bytes:
        """The mail's bytes (OSError when they cannot be read back, or were let go of)."""
        if self._file is None:
            if self._data is None:
                raise OSError("the mail's bytes were let go of")
            return self._data
        if self._file.closed:
            raise OSError("the mail's bytes were let go of")
        self._file.seek(0)
        data = self._file.read()
        if len(data) != self.size:
            raise OSError(f"read back {len(data)} of the mail's {self.size} bytes")
        return data

    def close(self) -> None:
        """Let go of the bytes (the file closed, and so gone)."""
        self._data = None
        self._close()


def _read_back(original: KeptOriginal) -> bytes:
    """The bytes of a mail to be kept for staff; none when they cannot be read back - the
    mail is kept all the same (a mail left unread would stop the mailbox at it)."""
    try:
        return original.read()
    except OSError as exc:
        log.error("a mail's bytes could not be read back (%s); kept without them", exc)
        return b""
    finally:
        original.close()


def read_mail(raw: bytes, position: Position) -> MailReading:
    """Parse and classify one mail (pure). Never raises: a mail that breaks the parser is a
    malformed message that keeps its raw bytes for staff."""
    return reading_of(parse_mail(raw, position))


def reading_of(inbound: InboundMessage) -> MailReading:
    """A parsed mail and the classifier's reading of it (none for a malformed mail)."""
    return MailReading(inbound, classification_of(inbound))


class ReaderUnavailable(OSError):
    """The worker process could not be started; the watcher backs off and tries again (an
    OSError, as a lost connection is)."""


class MailReader:
    """Reads mail within `budget_seconds` each (see the module's docstring). One per mail
    watcher; `close()` ends the worker process."""

    def __init__(self, budget_seconds: float, *, guarded_from_bytes: int = GUARDED_FROM_BYTES):
        self.budget_seconds = budget_seconds
        self.guarded_from_bytes = guarded_from_bytes
        self._worker: subprocess.Popen[bytes] | None = None
        self._connection: WorkerLink | None = None
        self._classifying = False  # the worker has loaded the classifier (see start_group)
        self._warming: asyncio.Future[WorkerLink | None] | None = None  # see warm_up
        self._group: list[tuple[bytes, Position]] | None = None  # being read in the worker
        self._resting: asyncio.TimerHandle | None = None  # see rest
        #: Whether finish_group had to wait for an answer the worker had not yet given (the
        #: worker is behind: the watcher could read more of each group itself).
        self.waited = False

    async def read(
        self,
        mail: bytes | MailBytes,
        position: Position,
        stop: asyncio.Event | None = None,
        *,
        guarded: bool = False,
    ) -> MailReading | None:
        """The mail read; a malformed reading when it took longer than the budget; None when
        `stop` was set first (nothing was done: the mail is read again next time).

        Handed as MailBytes (held by nothing else), a mail read in the worker is not held in
        memory beside its reading: once the worker has its bytes they wait in a file, the
        reading's `original` (its `inbound.raw` is then None; see KeptOriginal). `guarded`:
        read in the worker whatever its size."""
        handed = isinstance(mail, MailBytes)
        raw = mail.take() if isinstance(mail, MailBytes) else mail
        if not guarded and self.reads_here(raw):
            return read_mail(raw, position)  # (here: neither waits for nor keeps the worker)
        self._awake()
        await self._warmed(stop)
        reading = self._read_in_worker(raw, position, stop, handed)
        del raw  # (held by `reading` alone: it lets the bytes go once they wait in a file)
        try:
            return await reading
        except BaseException:  # (a cancellation too) a frame may be half sent, or an answer
            self._end_worker()  # left unread for the next mail to take for its own
            raise

    async def _read_in_worker(
        self,
        raw: bytes,
        position: Position,
        stop: asyncio.Event | None,
        handed: bool,
        *,
        again: bool = False,
    ) -> MailReading | None:
        for attempt in (1, 2):
            connection = await self._ready(stop)
            if connection is None:
                return None  # stopped while the worker was starting
            try:
                sent = await connection.send([pickled(position), raw], self.budget_seconds, stop)
            except OSError as exc:  # it ended while idle (killed from outside), or is frozen
                self._end_worker()
                if attempt == 2:
                    raise ReaderUnavailable(f"the mail reader went away: {exc}") from exc
                if isinstance(exc, TimeoutError):
                    log.warning("%s; starting a new one", exc)
                continue
            if not sent:
                self._end_worker()  # (a frame may be half sent)
                return None
            break
        size = len(raw)
        original = None
        if handed:  # the worker has them: they wait in a file while it reads, and after
            original = KeptOriginal(raw)
            if original.in_file:
                raw = b""  # (held by the file alone)
            else:
                original = None
        answer = await self._answer_or_idle(connection, stop)
        if answer is _IDLE and not again:
            self._end_worker()
            log.warning(
                "the mail reader did no work for %g s (frozen?); reading the mail again in a"
                " new one",
                self.budget_seconds,
            )
            again_raw = raw if original is None else _read_back(original)
            if original is not None:
                original.close()
            return await self._read_in_worker(again_raw, position, stop, handed, again=True)
        if isinstance(answer, InboundMessage):
            self._recycle_if_grown()
            if original is None:
                return reading_of(replace(answer, raw=raw))
            if answer.malformed:  # kept whole for staff
                return reading_of(replace(answer, raw=_read_back(original)))
            return replace(reading_of(answer), original=original)
        self._end_worker()
        if answer is STOPPED:
            if original is not None:
                original.close()
            return None
        why = (
            f"reading it took longer than {self.budget_seconds:g} s"
            if answer is OVERRUN or answer is _IDLE
            else "reading it ended the reader process"
        )
        log.error("a mail of %d bytes could not be read (%s); kept for staff", size, why)
        kept = raw if original is None else _read_back(original)
        return MailReading(unreadable(kept, position, why), None)

    def reads_here(self, raw: bytes) -> bool:
        """Whether `read` reads this mail here, unguarded: it is under `guarded_from_bytes`
        and of at most GUARDED_FROM_PARTS MIME parts (counted as delimiter lines, an upper
        bound; the parser also ends a line at a lone CR, and a message/* part holds a mail
        of parts of its own without one), with a header of at most GUARDED_FROM_HEADER_LINES
        lines, so that reading it cannot take long."""
        if len(raw) >= self.guarded_from_bytes:
            return False
        delimiters = raw.count(b"\n--") + raw.count(b"\r--")
        if delimiters + raw.lower().count(b"message/") > GUARDED_FROM_PARTS:
            return False
        end = header.start() if (header := _HEADER_END.search(raw)) else len(raw)
        # (the parser also ends a line at a lone CR)
        lines = raw.count(b"\n", 0, end) + raw.count(b"\r", 0, end) - raw.count(b"\r\n", 0, end)
        return lines <= GUARDED_FROM_HEADER_LINES

    async def start_group(
        self, mails: list[tuple[bytes, Position]], stop: asyncio.Event | None = None
    ) -> bool:
        """Send small mails (each one that `reads_here`) to the worker to be read - parsed
        and classified - while the caller goes on (fetching the next, writing the last);
        `finish_group` takes their readings. False when `stop` was set first."""
        if self._group is not None:
            raise RuntimeError("a group is being read already")
        self._awake()
        await self._warmed(stop)
        connection = await self._classifying_worker(stop)
        if connection is None:
            return False
        frames = [pickled(ReadGroup(len(mails)))]
        for raw, position in mails:
            frames += (pickled(position), raw)
        try:
            if not await connection.send(frames, self.budget_seconds, stop):
                self._end_worker()  # (a frame may be half sent)
                return False
        except OSError as exc:  # it went away, or is frozen: finish_group reads them one by one
            if isinstance(exc, TimeoutError):
                log.warning("%s; reading the group one by one", exc)
            self._end_worker()
        except BaseException:  # (a cancellation) a frame may be half sent
            self._end_worker()
            raise
        self._group = mails
        return True

    async def finish_group(self, stop: asyncio.Event | None = None) -> list[MailReading] | None:
        """The readings of the group `start_group` sent, in its order; None when `stop` was set
        first (nothing was done: the group is read again next time).

        The worker answers mail by mail, and each mail has the budget a mail read alone has
        (counted from when it is waited for): one that runs out of it is kept for staff as
        `read` keeps it. If the worker ends, the mail in hand and the rest are read again one
        by one, each in a worker of its own making, which finds the one to blame."""
        mails, self._group = self._group or [], None
        self.waited = False
        try:
            return await self._take_group(mails, stop)
        except BaseException:  # (a cancellation too) the worker's answers are left unread
            self._end_worker()
            raise

    async def _take_group(
        self, mails: list[tuple[bytes, Position]], stop: asyncio.Event | None
    ) -> list[MailReading] | None:
        readings: list[MailReading] = []
        for raw, position in mails:
            answer = ENDED if self._connection is None else await self._next(stop)
            if isinstance(answer, tuple):
                inbound, classification = answer
                readings.append(MailReading(replace(inbound, raw=raw), classification))
                continue
            self._end_worker()
            if answer is STOPPED:
                return None
            if answer is _IDLE:
                log.warning(
                    "the mail reader did no work for %g s (frozen?); reading the rest of its"
                    " group one by one",
                    self.budget_seconds,
                )
                rest = mails[len(readings) :]
            elif answer is OVERRUN:
                why = f"reading it took longer than {self.budget_seconds:g} s"
                log.error(
                    "a mail of %d bytes could not be read (%s); kept for staff", len(raw), why
                )
                readings.append(MailReading(unreadable(raw, position, why), None))
                rest = mails[len(readings) :]
            else:
                rest = mails[len(readings) :]
                log.warning(
                    "the mail reader ended while it read a group; reading its last %d one by one",
                    len(rest),
                )
            for raw_rest, position_rest in rest:
                reading = await self.read(raw_rest, position_rest, stop, guarded=True)
                if reading is None:
                    return None
                readings.append(reading)
            return readings
        self._recycle_if_grown()
        return readings

    async def _next(self, stop: asyncio.Event | None) -> object:
        """The worker's next answer: taken at once when it is there (most are, read while the
        watcher did other work), else waited for within the budget."""
        connection = self._connection
        assert connection is not None
        answer = connection.take_now(stop)
        if answer is not NOT_YET:
            return answer
        self.waited = True
        return await self._answer_or_idle(connection, stop)

    async def _answer_or_idle(self, connection: WorkerLink, stop: asyncio.Event | None) -> object:
        """The worker's next answer within the budget (see WorkerLink.receive); _IDLE instead
        of OVERRUN when the worker did almost no work meanwhile (IDLE_SHARE)."""
        worker = self._worker
        before = None if worker is None else _cpu_seconds(worker.pid)
        answer = await connection.receive(self.budget_seconds, stop)
        if answer is OVERRUN and worker is not None and before is not None:
            after = _cpu_seconds(worker.pid)
            if after is not None and after - before < IDLE_SHARE * self.budget_seconds:
                return _IDLE
        return answer

    def drop_group(self) -> None:
        """Forget the group being read (the watcher failed meanwhile): the worker is ended,
        so that its answer is not taken for the next request's."""
        if self._group is not None:
            self._group = None
            self._end_worker()

    async def _classifying_worker(self, stop: asyncio.Event | None) -> WorkerLink | None:
        """The connection to a worker that has loaded the classifier (see `_ready`)."""
        connection = await self._ready(stop)
        if connection is None or self._classifying:
            return connection
        # (pickling the model ~20 ms; the worker's own load takes ~0.3 s)
        frames = [pickled(CLASSIFY), pickled(loaded_model())]
        try:
            sent = await connection.send(frames, START_SECONDS, stop)
        except OSError as exc:
            self._end_worker()
            raise ReaderUnavailable(f"the mail reader went away: {exc}") from exc
        if not sent:
            self._end_worker()
            return None
        loaded = await connection.receive(START_SECONDS, stop)
        if loaded == READY:
            self._classifying = True
            return connection
        self._end_worker()
        if loaded is STOPPED:
            return None
        raise ReaderUnavailable("the mail reader could not load the classifier")

    async def _ready(self, stop: asyncio.Event | None) -> WorkerLink | None:
        """The connection to the worker, starting one (and waiting, without blocking the
        event loop, until it has loaded what it needs) when there is none; None when `stop`
        is set meanwhile.

        The worker is a fresh interpreter running mail_parsing.serve_worker: not a fork of
        this process, which holds sockets and threads, and not multiprocessing's spawn,
        which runs the parent's main module again."""
        worker, connection = self._worker, self._connection
        if worker is not None and connection is not None and worker.poll() is None:
            return connection
        self._end_worker()
        if stop is not None and stop.is_set():
            return None  # (no worker started only to be ended)
        ours, theirs = socket.socketpair()
        try:
            self._worker = subprocess.Popen(
                [sys.executable, "-c", _WORKER, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise ReaderUnavailable(f"cannot start the mail reader: {exc}") from exc
        finally:
            theirs.close()
        self._connection = WorkerLink(ours)
        started = await self._connection.receive(START_SECONDS, stop)
        if started == READY:
            return self._connection
        self._end_worker()
        if started is STOPPED:
            return None
        raise ReaderUnavailable("the mail reader did not start")

    def _recycle_if_grown(self) -> None:
        """End the worker when it holds more than RECYCLE_MIB (the next large mail starts a
        fresh one, ~0.1 s): what parsing a mail of several MB takes is not given back to
        the system whole (the allocator keeps partly used blocks), and mail after mail it
        added up - 170 MiB after a mixed backlog of hostile mail."""
        worker = self._worker
        if worker is not None and _rss_mib(worker.pid) > RECYCLE_MIB:
            self._end_worker()

    def _end_worker(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker.wait()
        if self._connection is not None:
            self._connection.close()  # (and what the event loop watched on its number)
        self._worker = self._connection = None
        self._classifying = False

    def rest(self, seconds: float = REST_SECONDS) -> None:
        """The mailbox is read through: the worker (21-48 MiB) is ended in `seconds` unless it
        is used again first. noxbot waits for mail most of the time, and not with the worker
        kept; but a burst that comes on the heels of a backlog, or the next mail of a busy
        minute, finds it ready rather than starting one (0.2-1 s, on the burst's time).
        Counted from the first call after the worker was last used, however many passes
        (polls, pushes that bring no mail) call it meanwhile."""
        if self._resting is not None:
            return  # (counted from the first: a pass every second must not put it off)
        if self._worker is not None or self._warming is not None:
            self._resting = asyncio.get_running_loop().call_later(seconds, self.close)

    def _awake(self) -> None:
        """The worker is wanted again: it is not ended at the end of a rest."""
        if self._resting is not None:
            self._resting.cancel()
            self._resting = None

    def close(self) -> None:
        self._awake()
        if self._warming is not None:
            self._warming.cancel()
            self._warming = None
        self._end_worker()

    def warm_up(self) -> None:
        """Start the worker and have it load the classifier, in the background (~0.2 s:
        Python, the parser, the model sent; 0.5-1 s on a busy machine); the caller reads
        here meanwhile and sends groups once `ready_for_groups` says so. A backlog's first
        mails, or a burst's, do not wait."""
        self._awake()
        if self._classifying or self._warming is not None:
            return
        warming = asyncio.ensure_future(self._classifying_worker(None))
        # (its failure is raised by ready_for_groups; one never asked for is not logged)
        warming.add_done_callback(lambda task: task.cancelled() or task.exception())
        self._warming = warming

    def ready_for_groups(self) -> bool:
        """Whether groups can be sent now: the worker has loaded the classifier. Raises the
        warm-up's failure (ReaderUnavailable) once."""
        warming = self._warming
        if warming is not None:
            if not warming.done():
                return False
            self._warming = None
            if not warming.cancelled() and (failure := warming.exception()) is not None:
                raise failure
        return self._classifying and self._worker is not None and self._worker.poll() is None

    async def _warmed(self, stop: asyncio.Event | None) -> None:
        """Wait for a warm-up under way, whatever comes of it (the caller starts a worker
        of its own if need be): two would start two workers. A stop ends the wait, and the
        warm-up with it (a worker slow to start could otherwise hold a SIGTERM up to
        START_SECONDS)."""
        warming = self._warming
        if warming is None:
            return
        self._warming = None
        if warming.done():
            return  # (its outcome is not raised here: the caller starts a worker if need be)
        stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
        try:
            waits = [warming, stopping] if stopping is not None else [warming]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if stopping is not None:
                stopping.cancel()
            if not warming.done():  # stopped first (or this task was cancelled)
                warming.cancel()
                self._end_worker()


#: (_answer_or_idle) The budget ran out while the worker did no work.
_IDLE = object()
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float | None:
    """The processor time a process has used; None where /proc cannot tell (not Linux)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    except (OSError, ValueError, IndexError):
        return None


def _rss_mib(pid: int) -> float:
    """A process's resident memory in MiB; 0 where /proc cannot tell (not Linux)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


_WORKER = (
    "import sys; from bot.runtime.mail_parsing import serve_worker; serve_worker(int(sys.argv[1]))"
)
