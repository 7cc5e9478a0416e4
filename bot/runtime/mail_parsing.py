"""Parsing one mail into an inbound message, here or in the mail reader's worker process
(bot.runtime.mail_reader explains why large mail is parsed there).

This module is all the worker process imports: the MIME parser and the message types, not
the classifier's model nor the rest of noxbot, so that the worker starts in a fraction of
a second and holds a few MiB beside the watcher instead of a second copy of everything.
Only for a backlog, read in groups on the worker's core (ReadGroup), does it load the
classifier as well (bot.runtime.mail_classifying).
"""

from __future__ import annotations

import pickle
import signal
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.channels.mail import inbound_from_email
from bot.channels.messages import InboundMessage
from bot.rules.channels import ChannelName

#: What the worker sends once it has started and can parse, and once it has loaded the
#: classifier when asked to (CLASSIFY).
READY = "ready"
#: Asks the worker to load the classifier: it reads groups of mail (ReadGroup) from then on.
#: Sent next: the watcher's model (bot.reading.learned_model.LinearModel), or None when the
#: watcher has not loaded one (the worker then loads the shipped file).
CLASSIFY = "classify"
#: Each frame on the connection: its length, then its bytes (a pickle, or a mail as it is).
FRAME_LENGTH = struct.Struct("!Q")


def pickled(value: object) -> bytes:
    """A value as a frame's bytes."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


class Connection:
    """The worker's end of the connection to the watcher: objects, pickled, over a stream
    socket, each after its length; blocking, as the worker has nothing else to do. (The
    watcher's end is bot.runtime.worker_link.WorkerLink, which never blocks its event
    loop. multiprocessing.connection does the same, and costs the worker 1.5 MiB of
    modules.)"""

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock

    def fileno(self) -> int:
        return self._socket.fileno()

    def send(self, value: object) -> None:
        self.send_bytes(pickled(value))

    def recv(self) -> object:
        """The next object; EOFError when the other side has closed the connection."""
        return pickle.loads(self.recv_bytes())

    def send_bytes(self, data: bytes) -> None:
        """Bytes as they are (a mail of many MB is not copied into a pickle first)."""
        self._socket.sendall(FRAME_LENGTH.pack(len(data)))
        self._socket.sendall(data)

    def recv_bytes(self) -> bytearray:
        (size,) = FRAME_LENGTH.unpack(self._exactly(FRAME_LENGTH.size))
        return self._exactly(size)

    def _exactly(self, size: int) -> bytearray:
        buffer = bytearray(size)
        view, got = memoryview(buffer), 0
        while got < size:
            read = self._socket.recv_into(view[got:])
            if not read:
                raise EOFError("the other side closed the connection")
            got += read
        return buffer

    def close(self) -> None:
        self._socket.close()


@dataclass(frozen=True)
class Position:
    """Where a mail stands in the mailbox, and when the server received it."""

    imap_uidvalidity: int | None = None
    imap_uid: int | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class ReadGroup:
    """Asks the worker to read - parse and classify - `count` mails, sent next as a position
    and the bytes each, and to answer with each one's reading as it is done: (the message
    without its raw bytes, its classification or None).

    Why a group: handing mail over one at a time cost the watcher more than reading it (a
    round trip per mail, waited for); a group of small mail costs it ~25 µs a mail, and the
    worker reads it on another core while the watcher fetches the next group and writes the
    last (bot.runtime.mail_watcher)."""

    count: int


def unreadable(raw: bytes, position: Position, why: str) -> InboundMessage:
    """A mail that could not be read: kept raw, shown to staff as `why`."""
    return InboundMessage(
        channel=ChannelName.EMAIL,
        sender="unknown",
        raw=raw,
        malformed=why,
        imap_uidvalidity=position.imap_uidvalidity,
        imap_uid=position.imap_uid,
        received_at=position.received_at,
    )


def parse_mail(raw: bytes, position: Position) -> InboundMessage:
    """The mail as an inbound message (pure), its text and subject as they are stored
    (masking identity numbers scans the whole text: here, within the budget, and once).
    Never raises: a mail that breaks the parser is a malformed message that keeps its raw
    bytes for staff."""
    try:
        inbound = inbound_from_email(
            raw,
            imap_uidvalidity=position.imap_uidvalidity,
            imap_uid=position.imap_uid,
            received_at=position.received_at,
        )
        subject, text = inbound.stored_subject_and_text()
        return replace(inbound, subject=subject, text=text, stored_form=True)
    except Exception as exc:  # a parser bug must not stop the watcher
        return unreadable(raw, position, f"reading it failed ({type(exc).__name__})")


#: Reads one mail in the worker: the message (without its raw bytes) and its classification.
_Read = Callable[[bytes, Position], tuple[InboundMessage, object]]


def serve_worker(fd: int) -> None:
    """The worker process: parses each mail it is sent on the socket `fd` (its position,
    then its bytes) and answers with the message (without the raw bytes, which the watcher
    has), until the watcher closes the connection or kills it. Asked to (CLASSIFY), it
    loads the classifier, and reads groups of mail (ReadGroup) as well."""
    # Ctrl-C reaches the whole process group, and so does systemd's SIGTERM; stopping is
    # the watcher's to decide (it ends this process; should the watcher die, the socket's
    # end does).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    connection = Connection(socket.socket(fileno=fd))
    connection.send(READY)
    read: _Read | None = None
    while True:
        try:
            request = connection.recv()
            if request == CLASSIFY:
                read = _reading_here(connection.recv())
                connection.send(READY)
                continue
            if isinstance(request, ReadGroup):
                group = [
                    (connection.recv(), bytes(connection.recv_bytes()))
                    for _ in range(request.count)
                ]
                if read is None:
                    read = _reading_here()
                for position, raw in group:  # each answered as soon as it is read
                    connection.send(read(raw, position))  # type: ignore[arg-type]
                continue
            raw = bytes(connection.recv_bytes())
        except (EOFError, OSError):
            return
        inbound = parse_mail(raw, request)  # type: ignore[arg-type]
        try:
            connection.send(replace(inbound, raw=None))
        except OSError:
            return


def _reading_here(model: object = None) -> _Read:
    """Reading with classification, in the worker: the classifier and its model are loaded
    only when the watcher sends groups of mail (a backlog), not for a lone large mail. The
    watcher sends the model it reads with (see CLASSIFY), else the shipped one is loaded."""
    from bot.reading.classifier import load_model
    from bot.reading.learned_model import LinearModel, use_as_shipped
    from bot.runtime.mail_classifying import classification_of

    if isinstance(model, LinearModel):
        use_as_shipped(model)
    load_model()  # now, not on the first mail's budget (~0.3 s unless sent)

    def read(raw: bytes, position: Position) -> tuple[InboundMessage, object]:
        inbound = parse_mail(raw, position)
        return replace(inbound, raw=None), classification_of(inbound)

    return read
