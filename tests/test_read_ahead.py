"""A backlog's small mail is read in the reader's worker process, a group at a time, on the
second core (bot.runtime.mail_watcher._ReadAhead, MailReader.start_group): what is stored
is what reading each mail here stores, in the mailbox's order."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlmodel import select

from bot.runtime.mail_reader import MailReader, Position, read_mail
from bot.store.tables import Message
from tests.loop_gaps import loop_gaps
from tests.test_recovery import (  # noqa: F401
    _append,
    _mail,
    _watch_until,
    _when,
    _world,
    imap_server,
)

REQUESTS = [
    "Hej, jag vill att ni raderar alla mina uppgifter.",
    "Please send me a copy of all the personal data you hold about me.",
    "Sluta skicka nyhetsbrev till mig, tack.",
    "Mitt telefonnummer är fel, det ska vara 070-123 45 67.",
]


def _backlog() -> list[bytes]:
    """Ordinary mail and requests, a large mail read alone in the middle, and mail that
    cannot be read."""
    mails = []
    for i in range(70):
        body = REQUESTS[i % 4] if i % 3 == 0 else f"Har ni en Java-konsult i vecka {i}?"
        mails.append(_mail(i, body))
    mails[30] = _mail(30, "Offerten bifogas nedan.\r\n" * 4_000 + REQUESTS[0])  # ~96 KB
    mails[41] = b"\xff\xfe" + bytes(range(256)) * 4  # no headers at all
    mails[52] = (
        b"From: kund52@example.com\r\nMessage-ID: <r52@example.com>\r\n"
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain;'
        b" charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n!!not base64!!\r\n"
    )
    return mails


def _stored(world) -> list[tuple]:
    with world.session() as session:
        messages = session.exec(select(Message).order_by(Message.id)).all()
        return [
            (m.imap_uid, m.state, m.state_reason, m.subject, m.text, m.classification, m.raw)
            for m in messages
        ]


async def test_a_backlog_read_on_the_second_core_is_stored_as_mail_read_one_by_one_is(
    imap_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    await _append(imap_server, _backlog())
    groups: list[int] = []
    real_start = MailReader.start_group

    async def counted(self, mails, stop=None):
        groups.append(len(mails))
        return await real_start(self, mails, stop)

    monkeypatch.setattr(MailReader, "start_group", counted)
    stored = {}
    for how, read_ahead_from in (("one by one", 10**9), ("in groups", 50)):
        monkeypatch.setattr("bot.runtime.mail_watcher.READ_AHEAD_FROM", read_ahead_from)
        (tmp_path / how).mkdir()
        world, settings = _world(tmp_path / how, imap_server, monkeypatch)
        await _watch_until(world, settings, lambda w=world: len(_stored(w)) == 70, 60)
        stored[how] = _stored(world)
    assert sum(groups) >= 25  # the worker read some (the watcher the rest, the large one alone)
    assert [row[0] for row in stored["in groups"]] == list(range(1, 71))  # the mailbox's order
    assert stored["in groups"] == stored["one by one"]
    states = {row[0]: row[1] for row in stored["in groups"]}
    assert states[42] == "malformed" and states[31] != "malformed"


@pytest.fixture
def reader():
    """A mail reader (its worker started by the test's first group), ended after the test."""
    reader = MailReader(5.0)
    yield reader
    reader.close()


def _small(i: int) -> tuple[bytes, Position]:
    return _mail(i, REQUESTS[i % 4]), Position(imap_uidvalidity=7, imap_uid=i)


def _sizeable(i: int) -> tuple[bytes, Position]:
    """A mail just under what is read alone: a group of 25 takes the worker a while."""
    body = "Vi återkommer om offerten.\r\n" * 2_000 + REQUESTS[i % 4]
    return _mail(i, body), Position(imap_uidvalidity=7, imap_uid=i)


async def test_a_group_whose_reader_process_dies_is_read_again_mail_by_mail(caplog, reader):
    mails = [_sizeable(i) for i in range(25)]
    assert await reader.start_group(mails)
    reader._worker.kill()  # as the kernel's OOM killer would, while it reads
    readings = await reader.finish_group()
    assert readings == [read_mail(raw, position) for raw, position in mails]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "the mail reader ended while it read a group; reading its last 25 one by one"
    ]
    assert await reader.start_group(mails[:2])  # and the next group is read as before
    assert await reader.finish_group() == readings[:2]


async def test_a_group_abandoned_by_a_stop_is_never_taken_for_the_next_ones_readings(reader):
    stop = asyncio.Event()
    first = [_sizeable(i) for i in range(25)]
    assert await reader.start_group(first)
    stop.set()  # (long before the worker has read them)
    assert await reader.finish_group(stop) is None  # read again next time
    second = [_small(i) for i in range(100, 103)]
    assert await reader.start_group(second)
    assert await reader.finish_group() == [read_mail(raw, pos) for raw, pos in second]


async def test_a_group_is_read_in_the_worker_with_the_classifier_loaded_there(reader):
    mails = [_small(i) for i in range(4)]
    assert await reader.start_group(mails)
    readings = await reader.finish_group()
    kinds = [reading.classification.kinds for reading in readings]
    assert kinds == [read_mail(raw, pos).classification.kinds for raw, pos in mails]
    assert all(k for k in kinds)  # each of them a request, read as one
    assert reader._worker is not None and reader._worker.poll() is None


async def test_a_group_is_read_with_the_watchers_model_not_a_newer_file(reader):
    """The worker classifies with the model the watcher reads with (sent to it, not loaded
    again): a retrain that replaced the file meanwhile would otherwise split the mailbox
    between two models."""
    from dataclasses import replace

    from bot.reading import learned_model

    mails = [_small(i) for i in range(4)]
    from_file = [read_mail(raw, pos).classification for raw, pos in mails]
    shipped = learned_model.shipped_model()
    # The same weights under the kinds in reverse order: surely not what the file reads.
    learned_model.use_as_shipped(replace(shipped, kinds=shipped.kinds[::-1]))
    try:
        assert await reader.start_group(mails)
        readings = await reader.finish_group()
        here = [read_mail(raw, pos).classification for raw, pos in mails]
    finally:
        learned_model.use_as_shipped(shipped)
    assert [r.classification for r in readings] == here
    assert here != from_file


@pytest.mark.parametrize("count", [1, 25])
async def test_each_mail_of_a_group_keeps_its_own_bytes_and_place(count, reader):
    mails = [_small(i) for i in range(count)]
    assert await reader.start_group(mails)
    readings = await reader.finish_group()
    assert [(r.inbound.raw, r.inbound.imap_uid) for r in readings] == [
        (raw, pos.imap_uid) for raw, pos in mails
    ]


async def test_a_mail_of_a_group_that_takes_longer_than_its_budget_is_kept_and_the_rest_read():
    reader = MailReader(0.3)
    try:
        mails = [_sizeable(i) for i in range(25)]
        # The first one keeps the worker busy past the budget (20 MB to parse: ~1 s), as a
        # slow path in the parser would. (A worker that does no work is not the mail's
        # fault: see the frozen worker's tests.)
        mails[0] = (_mail(0, REQUESTS[0] * 400_000), mails[0][1])
        assert await reader.start_group(mails)
        stuck = reader._worker.pid
        readings = await reader.finish_group()
        assert readings[0].inbound.malformed == "reading it took longer than 0.3 s"
        assert readings[0].inbound.raw == mails[0][0]  # kept whole for staff
        assert readings[1:] == [read_mail(raw, position) for raw, position in mails[1:]]
        assert reader._worker is None or reader._worker.pid != stuck
    finally:
        reader.close()


async def test_a_group_is_read_when_the_reader_socket_is_numbered_over_1024():
    # select() refuses descriptors from 1024 on, which a process with many connections (a
    # raised open-files limit) reaches: the answers that are there are taken all the same.
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("the open-files limit is under 1200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    reader = MailReader(5.0)
    try:
        mails = [_small(i) for i in range(5)]
        assert await reader.start_group(mails)
        assert reader._connection.fileno() >= 1024
        await asyncio.sleep(0.5)  # the answers are there when they are asked for
        assert await reader.finish_group() == [read_mail(raw, pos) for raw, pos in mails]
    finally:
        reader.close()
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_group_left_by_an_error_while_its_answers_are_taken_ends_the_worker(
    monkeypatch,
    reader,
):
    assert await reader.start_group([_small(i) for i in range(3)])
    worker = reader._worker

    def broken(self):
        raise RuntimeError("a bug")

    monkeypatch.setattr("bot.runtime.worker_link.WorkerLink.take", broken)
    with pytest.raises(RuntimeError):
        await reader.finish_group()
    assert worker.poll() is not None  # its answers can never be taken for the next's


async def test_a_group_sent_to_a_frozen_worker_is_read_one_by_one_by_a_new_one(reader):
    """A group larger than the socket holds, sent to a worker that stopped reading: the
    event loop runs on, and once the budget runs out the group is read mail by mail by a
    fresh worker, as when a worker dies."""
    import os
    import signal
    import threading
    import time

    reader.budget_seconds = 2.0
    assert await reader.start_group([_small(0)])  # the worker is up, the classifier loaded
    await reader.finish_group()
    frozen = reader._worker
    os.kill(frozen.pid, signal.SIGSTOP)
    # Should the event loop block on it, the worker's end after 30 s ends the wait (and the
    # test fails on the gap) instead of the test hanging.
    watchdog = threading.Timer(30, lambda: frozen.poll() is None and frozen.kill())
    watchdog.start()
    mails = [_sizeable(i) for i in range(25)]  # ~1.4 MB
    try:
        started = time.monotonic()
        async with loop_gaps() as gaps:
            assert await reader.start_group(mails)
            readings = await reader.finish_group()
        took = time.monotonic() - started
    finally:
        watchdog.cancel()
        if frozen.poll() is None:
            os.kill(frozen.pid, signal.SIGKILL)
    assert readings == [read_mail(raw, pos) for raw, pos in mails]
    assert frozen.poll() is not None
    assert 2.0 <= took < 60 and max(gaps) < 1.0


async def test_a_group_of_small_mail_a_frozen_worker_took_is_read_again_not_kept_for_staff(
    reader,
):
    """25 small mails fit the socket's buffer: a frozen worker has them all and answers
    none. It did no work, so no mail is to blame: each is read again by a new worker."""
    import os
    import signal

    reader.budget_seconds = 1.0
    assert await reader.start_group([_small(0)])  # the worker is up, the classifier loaded
    await reader.finish_group()
    frozen = reader._worker
    os.kill(frozen.pid, signal.SIGSTOP)
    mails = [_small(i) for i in range(25)]
    try:
        assert await reader.start_group(mails)
        readings = await reader.finish_group()
    finally:
        if frozen.poll() is None:
            os.kill(frozen.pid, signal.SIGKILL)
    assert readings == [read_mail(raw, pos) for raw, pos in mails]
    assert frozen.poll() is not None


async def test_a_backlog_is_read_here_when_the_reader_process_cannot_start(
    imap_server,  # noqa: F811
    tmp_path,
    monkeypatch,
    caplog,
):
    from bot.runtime.mail_reader import ReaderUnavailable

    async def cannot_start(self, stop):
        raise ReaderUnavailable("cannot start the mail reader: [Errno 12] Cannot allocate memory")

    monkeypatch.setattr(MailReader, "_classifying_worker", cannot_start)
    await _append(imap_server, [_mail(i, REQUESTS[i % 4]) for i in range(60)])
    world, settings = _world(tmp_path, imap_server, monkeypatch)
    await _watch_until(world, settings, lambda: len(_stored(world)) == 60, 60)
    assert [row[0] for row in _stored(world)] == list(range(1, 61))
    assert (
        "mail watcher: cannot start the mail reader: [Errno 12] Cannot allocate memory;"
        " reading the backlog here"
    ) in [r.getMessage() for r in caplog.records]


async def test_a_backlog_does_not_wait_for_the_reader_process_to_start(
    imap_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    # Starting the worker and loading the classifier there takes about a second: the
    # backlog's first mails are read here meanwhile. One that never gets ready holds
    # nothing up, and is let go of with the watcher.
    never = asyncio.Event()
    warming: list[asyncio.Task] = []

    async def slow_to_start(self, stop):
        warming.append(asyncio.current_task())
        await never.wait()

    monkeypatch.setattr(MailReader, "_classifying_worker", slow_to_start)
    await _append(imap_server, [_mail(i, REQUESTS[i % 4]) for i in range(120)])
    world, settings = _world(tmp_path, imap_server, monkeypatch)
    await _watch_until(world, settings, lambda: len(_stored(world)) == 120, 60)
    assert [row[0] for row in _stored(world)] == list(range(1, 121))
    assert len(warming) == 1 and warming[0].cancelled()


async def test_a_burst_right_after_a_backlog_finds_the_reader_process_ready(
    imap_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    # The worker is kept a moment once the mailbox is read through (MailReader.rest): the
    # next burst's groups go to it at once instead of waiting for a new one to start.
    monkeypatch.setattr("bot.runtime.mail_watcher.READ_AHEAD_FROM", 10)
    started: list[int] = []
    real_warm_up = MailReader.warm_up

    def counted(self):
        started.append(1)
        return real_warm_up(self)

    monkeypatch.setattr(MailReader, "warm_up", counted)
    sent: list[int] = []
    real_start = MailReader.start_group

    async def noted(self, mails, stop=None):
        sent.append(len(_stored(world)))
        return await real_start(self, mails, stop)

    monkeypatch.setattr(MailReader, "start_group", noted)
    await _append(imap_server, [_mail(i, REQUESTS[i % 4]) for i in range(30)])
    world, settings = _world(tmp_path, imap_server, monkeypatch)

    async def burst_after_backlog() -> None:
        await _when(lambda: len(_stored(world)) == 30, 60)
        await asyncio.sleep(0.5)  # (the worker ready meanwhile)
        await _append(imap_server, [_mail(i, REQUESTS[i % 4]) for i in range(30, 80)])

    burst = asyncio.create_task(burst_after_backlog())
    await _watch_until(world, settings, lambda: len(_stored(world)) == 80, 60)
    await burst
    assert [row[0] for row in _stored(world)] == list(range(1, 81))
    assert len(started) == 1  # one worker started, for the backlog
    assert any(stored >= 30 for stored in sent)  # the burst's groups went to it


async def test_the_event_loop_is_served_between_the_mails_the_watcher_reads_itself(
    imap_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    # Each mail read here blocks the event loop while it is read (a crafted one under 64 KB
    # for up to ~0.5 s; here 0.1 s each); the chat and a SIGTERM are served between them,
    # not after a whole group of 25.
    import time

    import bot.runtime.mail_watcher as mail_watcher
    from bot.runtime.mail_reader import ReaderUnavailable

    async def cannot_start(self, stop):
        raise ReaderUnavailable("cannot start the mail reader")

    def slow_read_mail(raw, position):
        time.sleep(0.1)
        return read_mail(raw, position)

    monkeypatch.setattr(MailReader, "_classifying_worker", cannot_start)
    monkeypatch.setattr(mail_watcher, "read_mail", slow_read_mail)
    await _append(imap_server, [_mail(i) for i in range(60)])
    world, settings = _world(tmp_path, imap_server, monkeypatch)
    async with loop_gaps() as gaps:
        await _watch_until(world, settings, lambda: len(_stored(world)) == 60, 60)
    assert max(gaps) < 1.0  # one mail's 0.1 s and the database's turn; 25 of them: 2.5 s


async def test_a_stop_is_not_held_up_by_a_reader_process_that_is_slow_to_start(monkeypatch):
    # A large mail comes while the worker is still starting for a backlog: its reading
    # waits for that start, and a SIGTERM meanwhile ends the wait (and the start).
    never = asyncio.Event()

    async def slow_to_start(self, stop):
        await never.wait()

    monkeypatch.setattr(MailReader, "_classifying_worker", slow_to_start)
    reader = MailReader(5.0)
    stop = asyncio.Event()
    try:
        reader.warm_up()
        large = _mail(1, "Offerten bifogas nedan.\r\n" * 4_000)
        reading = asyncio.ensure_future(reader.read(large, Position(7, 1), stop))
        await asyncio.sleep(0.2)
        assert not reading.done()  # waiting for the worker to start
        stop.set()
        await asyncio.wait([reading], timeout=1.5)  # (not cancelled: it has to end itself)
        assert reading.done() and reading.result() is None  # read again next time
        assert reader._worker is None
    finally:
        reader.close()
