"""The watcher's end of the connection to its mail-reading worker: the frames the worker's
end (bot.runtime.mail_parsing.Connection) sends and reads, but nothing here blocks the
event loop.

Why: a blocking send to a worker that has stopped reading (frozen by SIGSTOP, a stuck
call, a machine swapping hard) with its socket's buffer full - any mail over ~200 KB
fills it - would hold the event loop, and with it SIGTERM, the chat and the sender, for
as long as the worker stays frozen; a blocking receive of an answer the worker stopped
writing half-way, the same. Here a send or an answer that does not come within its time
is given up, and the caller ends the worker (the connection is then mid-frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import socket
from collections.abc import Awaitable, Iterable

from bot.runtime.mail_parsing import FRAME_LENGTH


class _Outcome:
    """What came instead of an answer (a named marker, for logs and tests)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: The time ran out before the whole answer came.
OVERRUN = _Outcome("OVERRUN")
#: The worker ended (closed the connection, or was killed).
ENDED = _Outcome("ENDED")
#: `stop` was set first.
STOPPED = _Outcome("STOPPED")
#: (`take`) Not all of the next answer is there yet.
NOT_YET = _Outcome("NOT_YET")

#: sendmsg takes at most this many buffers at once (the system's IOV_MAX is 1024).
_BUFFERS_AT_ONCE = 512


class WorkerLink:
    """Frames to and from the worker over a non-blocking stream socket. An answer is read as
    far as it has come and kept until it is whole, so a large one is taken in pieces
    while the event loop runs."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._socket = sock
        self._header = bytearray()  # of the answer being read
        self._body: bytearray | None = None  # ... once its header is whole
        self._got = 0  # of its body

    def fileno(self) -> int:
        """The socket's number; -1 once closed."""
        return self._socket.fileno()

    def close(self) -> None:
        """Close the socket, and first take away what the event loop watches on its number:
        a send or a wait cancelled a moment ago cleans up only a turn or two later, by which
        time the number may be a new socket's (the chat's, an IMAP connection's), whose own
        reader or writer would then fail to register, or silently never fire."""
        fd = self._socket.fileno()
        if fd >= 0:
            with contextlib.suppress(RuntimeError):  # (no loop running: none registered)
                loop = asyncio.get_running_loop()
                loop.remove_reader(fd)
                loop.remove_writer(fd)
        self._socket.close()

    async def send(
        self, frames: Iterable[bytes], seconds: float, stop: asyncio.Event | None = None
    ) -> bool:
        """Send each frame (its length, then its bytes: see mail_parsing.pickled) within
        `seconds` in all. False when `stop` was set first. TimeoutError (an OSError) when the
        worker did not take them in time, another OSError when it went away: either may
        leave a frame half sent, and the caller ends the worker.

        What the socket takes at once is sent here, without a task: a group of small mail
        fits its buffer (one sendmsg call); only the rest of a large mail is waited for."""
        parts = [
            memoryview(part)
            for frame in frames
            for part in (FRAME_LENGTH.pack(len(frame)), frame)
            if len(part)
        ]
        parts = self._send_now(parts)
        if not parts:
            return True
        loop = asyncio.get_running_loop()

        async def send_rest() -> None:
            for part in parts:
                await loop.sock_sendall(self._socket, part)

        return await _within(send_rest(), seconds, stop, "the mail reader took no more")

    def _send_now(self, parts: list[memoryview]) -> list[memoryview]:
        """Send what the socket takes without waiting; the parts (or their ends) left."""
        while parts:
            try:
                sent = self._socket.sendmsg(parts[:_BUFFERS_AT_ONCE])
            except BlockingIOError:
                return parts
            done = 0
            while done < len(parts) and sent >= len(parts[done]):
                sent -= len(parts[done])
                done += 1
            parts = parts[done:]
            if sent:
                parts[0] = parts[0][sent:]
        return parts

    def take(self) -> object:
        """The worker's next answer if all of it has come, else NOT_YET (what came of it is
        kept for the next call). EOFError when the worker closed the connection; OSError
        when it cannot be read (closed here)."""
        sock = self._socket
        while self._body is None:
            try:
                chunk = sock.recv(FRAME_LENGTH.size - len(self._header))
            except BlockingIOError:
                return NOT_YET
            if not chunk:
                raise EOFError("the mail reader closed the connection")
            self._header += chunk
            if len(self._header) == FRAME_LENGTH.size:
                (size,) = FRAME_LENGTH.unpack(self._header)
                self._header.clear()
                self._body, self._got = bytearray(size), 0
        body = self._body
        with memoryview(body) as view:
            while self._got < len(body):
                try:
                    read = sock.recv_into(view[self._got :])
                except BlockingIOError:
                    return NOT_YET
                if not read:
                    raise EOFError("the mail reader closed the connection")
                self._got += read
        self._body = None
        return pickle.loads(body)

    def take_now(self, stop: asyncio.Event | None = None) -> object:
        """As `take`, with the worker's end as ENDED (STOPPED when `stop` is set: a stop
        that came with the end - a SIGTERM to the whole process group, as systemd sends it,
        ends the worker too - is a stop, and the mail is read again next time, not kept
        for staff as unreadable)."""
        try:
            return self.take()
        except (EOFError, OSError):
            return STOPPED if stop is not None and stop.is_set() else ENDED

    async def receive(self, seconds: float, stop: asyncio.Event | None = None) -> object:
        """The worker's next answer; OVERRUN when all of it has not come within `seconds`,
        ENDED when the worker ended, STOPPED as soon as `stop` is set (an answer that is
        there already is still taken). The event loop runs on meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds  # wall clock: the time given
        while True:
            answer = self.take_now(stop)
            if answer is not NOT_YET:
                return answer
            if stop is not None and stop.is_set():
                return STOPPED
            left = deadline - loop.time()  # wall clock: the time given
            if left <= 0:
                return OVERRUN
            await self._readable(left, stop)

    async def _readable(self, seconds: float, stop: asyncio.Event | None) -> None:
        """Wait until something (or the end) can be read, `stop` is set or `seconds` pass."""
        loop = asyncio.get_running_loop()
        readable = loop.create_future()
        # (the number kept: a link closed meanwhile - a warm-up cancelled - has none)
        fd = self.fileno()
        if fd < 0:
            return  # (take says why)
        loop.add_reader(fd, lambda: readable.done() or readable.set_result(None))
        try:
            await _first_of(readable, seconds, stop)
        finally:
            # Not if the link was closed meanwhile (a warm-up cancelled by a rest's end): the
            # registration went with it, and the number may be a new socket's.
            if self.fileno() == fd:
                loop.remove_reader(fd)


async def _within(
    work: Awaitable[None], seconds: float, stop: asyncio.Event | None, why: str
) -> bool:
    """Run `work` within `seconds`: True when done, False when `stop` was set first;
    TimeoutError(`why`) when the time ran out. Unfinished, it is cancelled."""
    task = asyncio.ensure_future(work)
    try:
        await _first_of(task, seconds, stop)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait([task])
    if not task.cancelled():
        task.result()  # (its OSError, if the worker went away)
        return True
    if stop is not None and stop.is_set():
        return False
    raise TimeoutError(f"{why} within {seconds:g} s")


async def _first_of(future: asyncio.Future, seconds: float, stop: asyncio.Event | None) -> None:
    """Wait until `future` is done, `stop` is set or `seconds` pass, whichever is first."""
    stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        await asyncio.wait(
            [future, *([stopping] if stopping else [])],
            timeout=seconds,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        if stopping is not None:
            stopping.cancel()
