"""The FETCH of a batch of mails is followed line by line as aioimaplib would, in linear time."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import aioimaplib

from bot.channels.imap import _LinearFetch


def _response(rng: random.Random, mails: int) -> list[bytes | bytearray]:
    lines: list[bytes | bytearray] = []
    for uid in range(1, mails + 1):
        body = bytearray(b"Subject: (hej\r\n\r\n:-) " * rng.randint(1, 5))
        lines.append(f'{uid} FETCH (UID {uid} INTERNALDATE "x" BODY[] {{{len(body)}}}'.encode())
        lines.append(body)  # literal data: aioimaplib keeps it as a bytearray
        lines.append(b")" if rng.random() < 0.9 else b" FLAGS (\\Seen))")
    return lines


def test_a_batch_fetch_says_data_is_incomplete_exactly_when_aioimaplib_would():
    loop = asyncio.new_event_loop()
    try:
        rng = random.Random(4)
        for _ in range(30):
            ours = _LinearFetch("A1", "1:*", "(BODY[])", prefix="UID", loop=loop)
            theirs = aioimaplib.FetchCommand("A1", "1:*", "(BODY[])", prefix="UID", loop=loop)
            for line in _response(rng, rng.randint(1, 8)):
                ours._resp_lines.append(line)
                theirs._resp_lines.append(line)
                assert ours.wait_data() == theirs.wait_data()
    finally:
        loop.close()


def test_following_a_fetch_of_many_mails_costs_the_same_per_line():
    loop = asyncio.new_event_loop()
    try:

        def per_line(mails: int) -> float:
            command = _LinearFetch("A1", "1:*", "(BODY[])", prefix="UID", loop=loop)
            lines = _response(random.Random(1), mails)
            started = time.process_time()
            for line in lines:
                command._resp_lines.append(line)
                command.wait_data()
            return (time.process_time() - started) / len(lines)

        per_line(100)  # warm up
        assert per_line(4_000) < 5 * per_line(200) + 2e-6
    finally:
        loop.close()


async def test_a_fetch_times_out_only_after_the_server_was_silent_for_the_timeout():
    loop = asyncio.get_running_loop()
    command = _LinearFetch("A1", "1:*", "(BODY[])", prefix="UID", loop=loop, timeout=0.3)
    started = loop.time()
    for _ in range(6):  # a line every 0.1 s for 0.6 s: never silent for 0.3 s
        await asyncio.sleep(0.1)
        command.append_to_resp(b"1 FETCH (UID 1 BODY[] {3}")
    assert not command._event.is_set()
    with contextlib.suppress(aioimaplib.CommandTimeout):
        await asyncio.wait_for(command.wait(), 2)
    waited = loop.time() - started
    assert command._resp_result == "KO" and 0.85 <= waited < 1.3
