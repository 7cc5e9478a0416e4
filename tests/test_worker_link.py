"""The watcher's end of its connection to the mail-reading worker
(bot.runtime.worker_link): frames come and go in pieces, and a worker that stops half-way
holds the event loop neither way."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from bot.runtime.mail_parsing import FRAME_LENGTH, Connection, pickled
from bot.runtime.worker_link import ENDED, OVERRUN, STOPPED, WorkerLink
from tests.loop_gaps import loop_gaps


@pytest.fixture
def pair():
    """The watcher's link, and the worker's end of the socket (blocking, as the worker's)."""
    ours, theirs = socket.socketpair()
    link = WorkerLink(ours)
    yield link, theirs
    link.close()
    theirs.close()


async def test_an_answer_that_comes_in_pieces_is_taken_whole(pair):
    link, theirs = pair
    answer = {"text": "x" * 3_000_000, "kinds": ["erasure"]}
    frame = pickled(answer)
    data = FRAME_LENGTH.pack(len(frame)) + frame

    async def write_slowly() -> None:
        for start in range(0, len(data), 700_000):
            await asyncio.get_running_loop().sock_sendall(theirs, data[start : start + 700_000])
            await asyncio.sleep(0.05)

    theirs.setblocking(False)
    writer = asyncio.create_task(write_slowly())
    assert await link.receive(5.0) == answer
    await writer


async def test_an_answer_stopped_half_way_is_given_up_without_holding_the_loop(pair):
    link, theirs = pair
    frame = pickled("ready")
    theirs.sendall(FRAME_LENGTH.pack(len(frame)) + frame[:3])  # ... and nothing more
    started = time.monotonic()
    async with loop_gaps() as gaps:
        assert await link.receive(0.5) is OVERRUN
    assert 0.5 <= time.monotonic() - started < 2 and max(gaps) < 0.2


async def test_a_stop_ends_the_wait_for_an_answer_at_once(pair):
    link, _ = pair
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.1, stop.set)
    started = time.monotonic()
    assert await link.receive(30.0, stop) is STOPPED
    assert time.monotonic() - started < 1


async def test_a_worker_that_closes_the_connection_has_ended(pair):
    link, theirs = pair
    theirs.close()
    assert await link.receive(5.0) is ENDED


async def test_frames_sent_arrive_in_order_for_the_workers_end(pair):
    link, theirs = pair
    mails = [b"small mail", b"\x00" * 1_000_000, b"", b"last"]
    received: list[object] = []

    def worker() -> None:
        connection = Connection(theirs)
        received.append(connection.recv())
        received.extend(bytes(connection.recv_bytes()) for _ in mails)

    reading = asyncio.get_running_loop().run_in_executor(None, worker)
    assert await link.send([pickled("group"), *mails], 5.0)
    await reading
    assert received == ["group", *mails]


async def test_a_send_the_worker_does_not_take_runs_out_of_time_without_holding_the_loop(pair):
    link, _ = pair  # the worker's end reads nothing
    started = time.monotonic()
    async with loop_gaps() as gaps:
        with pytest.raises(TimeoutError, match=r"the mail reader took no more within 0\.5 s"):
            await link.send([b"\x00" * 5_000_000], 0.5)
    assert 0.5 <= time.monotonic() - started < 2 and max(gaps) < 0.2


async def test_a_stop_ends_a_send_the_worker_does_not_take(pair):
    link, _ = pair
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.1, stop.set)
    started = time.monotonic()
    assert await link.send([b"\x00" * 5_000_000], 30.0, stop) is False
    assert time.monotonic() - started < 1
