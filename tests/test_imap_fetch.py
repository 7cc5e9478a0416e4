"""The FETCH of a batch of mails is followed line by line as aioimaplib would, in linear time."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import tracemalloc

import aioimaplib
import pytest

from bot.channels.imap import ImapMailbox, _LinearFetch
from bot.config import ImapSettings
from tests import dovecot
from tests.cpu_time import cpu_seconds
from tests.test_recovery import _append, imap_server  # noqa: F401


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

            def follow() -> None:
                for line in lines:
                    command._resp_lines.append(line)
                    command.wait_data()

            seconds, _ = cpu_seconds(follow)
            return seconds / len(lines)

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


_BODY = b"Subject: hej\r\nFrom: anna@example.se\r\n\r\n" + b"x" * 6000 + b"\r\n"


async def _trickling_server(
    pause: float,
    stall_after: int | None = None,
    size_line: bytes | None = None,
    lines_before_size: int = 0,
):
    """A loopback IMAP server whose FETCH sends its one mail 1,000 bytes every `pause`
    seconds (as a slow link or a big batch would), or stops sending after `stall_after`
    slices (a server that hangs mid-answer). Its answer to the size query is `size_line`
    (by default the true size), after `lines_before_size` other lines, one every `pause`
    seconds (as a server that reads each message to learn its size answers: here sizes of
    other messages, as a server may send unasked)."""

    async def handle(reader, writer):
        writer.write(b"* OK ready\r\n")
        while line := await reader.readline():
            tag, _, command = line.decode().strip().partition(" ")
            command = command.upper()
            if command.startswith("CAPABILITY"):
                writer.write(f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n".encode())
            elif command.startswith("LOGIN"):
                writer.write(f"{tag} OK logged in\r\n".encode())
            elif command.startswith("SELECT"):
                writer.write(
                    f"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n* OK [UIDNEXT 2] x\r\n"
                    f"{tag} OK [READ-WRITE] done\r\n".encode()
                )
            elif command.startswith("UID FETCH") and "RFC822.SIZE" in command:
                for k in range(lines_before_size):  # (sizes of mail not asked about)
                    writer.write(f"* {k + 2} FETCH (UID {k + 100} RFC822.SIZE 5)\r\n".encode())
                    await writer.drain()
                    await asyncio.sleep(pause)
                answer = size_line or f"* 1 FETCH (UID 1 RFC822.SIZE {len(_BODY)})".encode()
                writer.write(answer + f"\r\n{tag} OK done\r\n".encode())
            elif command.startswith("UID FETCH"):
                writer.write(
                    b'* 1 FETCH (UID 1 INTERNALDATE "04-Dec-2026 10:00:00 +0000" BODY[] '
                    + f"{{{len(_BODY)}}}\r\n".encode()
                )
                for number, start in enumerate(range(0, len(_BODY), 1000)):
                    if stall_after is not None and number >= stall_after:
                        await asyncio.sleep(3600)
                    writer.write(_BODY[start : start + 1000])
                    await writer.drain()
                    await asyncio.sleep(pause)
                writer.write(f")\r\n{tag} OK done\r\n".encode())
            elif command.startswith("LOGOUT"):
                writer.write(f"* BYE\r\n{tag} OK\r\n".encode())
                await writer.drain()
                break
            else:
                writer.write(f"{tag} BAD unknown\r\n".encode())
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def _fetch_all(server, timeout: float) -> list:
    port = server.sockets[0].getsockname()[1]
    settings = ImapSettings(
        host="127.0.0.1", port=port, tls="none", username="u", timeout_seconds=timeout
    )
    mailbox = ImapMailbox(settings, "p")
    await mailbox.connect()
    try:
        return [mail async for mail in mailbox.new_mail(0, [1])]
    finally:
        await mailbox.close()


async def test_a_fetch_that_takes_longer_than_the_timeout_in_all_but_never_pauses_is_read():
    server = await _trickling_server(pause=0.15)  # 7 slices: ~1 s in all
    try:
        (mail,) = await _fetch_all(server, timeout=0.5)
        assert mail.uid == 1 and mail.raw == _BODY
    finally:
        server.close()


async def test_a_server_that_stops_answering_in_the_middle_of_a_fetch_times_out():
    server = await _trickling_server(pause=0.05, stall_after=2)
    started = time.monotonic()
    try:
        with pytest.raises((aioimaplib.CommandTimeout, TimeoutError)):
            await asyncio.wait_for(_fetch_all(server, timeout=0.5), 10)
        assert time.monotonic() - started < 3
    finally:
        server.close()


async def test_a_size_query_that_takes_longer_than_the_timeout_in_all_but_never_pauses_is_read():
    # A server that has to read each message to know its size answers slowly but steadily:
    # timed by its silence, as the FETCH of the mail is, not by the whole answer's length.
    server = await _trickling_server(pause=0.15, lines_before_size=6)  # ~0.9 s in all
    try:
        (mail,) = await _fetch_all(server, timeout=0.5)
        assert mail.uid == 1 and mail.raw == _BODY
    finally:
        server.close()


@pytest.mark.parametrize(
    "size_line",
    [
        b"* 1 FETCH (UID 1 RFC822.SIZE " + b"9" * 5000 + b")",
        b"* 1 FETCH (UID " + b"7" * 5000 + b" RFC822.SIZE 12)",
        b"* 1 FETCH (UID 1 RFC822.SIZE -5)",
    ],
    ids=["huge size", "huge uid", "negative size"],
)
async def test_a_server_that_answers_the_size_query_with_nonsense_still_has_its_mail_read(
    size_line,
):
    server = await _trickling_server(pause=0.0, size_line=size_line)
    try:
        (mail,) = await _fetch_all(server, timeout=2)
        assert mail.uid == 1 and mail.raw == _BODY
    finally:
        server.close()


async def test_mails_are_fetched_whole_and_a_large_one_into_a_single_copy_of_its_bytes(
    imap_server,  # noqa: F811
):
    """aioimaplib gathers a message's bytes in a bytearray, copied into bytes after: a mail
    of several MB was held twice at once. Every mail, small ones fetched together and a
    large one alone, arrives byte for byte."""
    rng = random.Random(3)
    mails = [
        (
            f"From: a{i}@example.se\r\nSubject: ({i}\r\nMessage-ID: <f{i}@example.se>\r\n\r\n"
            + "".join(rng.choice([*"ab (){}*", "\r\n"]) for _ in range(rng.randint(0, 3_000)))
        ).encode()
        for i in range(5)
    ]
    large = b"From: b@example.se\r\nSubject: Stor\r\n\r\n" + b"Hej hopp, 123.\r\n" * 250_000
    mails.insert(2, large)
    await _append(imap_server, mails)
    box = ImapMailbox(
        ImapSettings(host="127.0.0.1", port=imap_server.port, tls="none", username=dovecot.USER),
        dovecot.PASSWORD,
    )
    await box.connect()
    fetched: list[bytes] = []
    peaks: list[int] = []
    try:
        tracemalloc.start()
        async for mail in box.new_mail(0):
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.reset_peak()
            fetched.append(mail.raw)
            del mail
    finally:
        tracemalloc.stop()
        await box.close()
    assert fetched == mails
    assert max(peaks) < 1.4 * len(large), f"{max(peaks) / len(large):.2f} times the mail"


@pytest.mark.parametrize(
    "said",
    [
        b"31-Dec-9999 23:59:59 -1200",  # no UTC time: stored, it would overflow
        b"01-Jan-2026 00:00:99999999999999999999 +0000",
        b"24 Nov 2026",
        b"\xff-Nov-2026 10:00:00 +0100",
    ],
)
def test_an_internaldate_that_is_no_date_is_none_not_an_error(said):
    """Raised, it stopped the FETCH of every mail with it (no mail to blame): once a second."""
    from bot.channels.imap import _internal_date

    assert _internal_date(said) is None
    assert _internal_date(b"24-Nov-2026 10:00:00 +0100").isoformat() == "2026-11-24T10:00:00+01:00"
    # "-0000" is UTC, its place unknown: a time in UTC, not a naive one (refused when stored)
    assert _internal_date(b"24-Nov-2026 10:00:00 -0000").isoformat() == "2026-11-24T10:00:00+00:00"


def test_a_search_answer_that_also_counts_new_mail_gives_only_the_uids():
    """A server may add "* 7 EXISTS" or "* 1 RECENT" to a SEARCH's answer (mail arrived
    meanwhile): those numbers are counts, and taking them for UIDs would read from the wrong
    place (the first start's backlog begins at the lowest UID found)."""
    from bot.channels.imap import _uids

    said = aioimaplib.Response(
        "OK", [b"1203 1207 1290", b"7 EXISTS", b"1 RECENT", b"Search completed (0.001 secs)."]
    )
    assert _uids(said) == [1203, 1207, 1290]
    assert _uids(aioimaplib.Response("OK", [b"", b"Search completed."])) == []


async def test_mail_another_session_just_delivered_is_found_at_once_and_headers_are_read(
    imap_server,  # noqa: F811
):
    await _append(imap_server, [_from(i, f"kund{i % 3}@example.com") for i in range(6)])
    mailbox = ImapMailbox(
        ImapSettings(host="127.0.0.1", port=imap_server.port, tls="none", username=dovecot.USER),
        dovecot.PASSWORD,
    )
    await mailbox.connect()
    try:
        assert await mailbox.uids_after(0) == [1, 2, 3, 4, 5, 6]
        await _append(imap_server, [_from(6, "ny@example.se")])
        assert await mailbox.arrived_after(6) == [7]  # at once, not at the next command
        headers = await mailbox.headers_between(2, 4, 1_000)
        assert [mail.uid for mail in headers] == [2, 3, 4]
        assert headers[0].raw.startswith(b"From: kund1@example.com\r\n")
        assert headers[0].raw.endswith(b"\r\n\r\n") and b"Hej" not in headers[0].raw
        assert [len(mail.raw) for mail in await mailbox.headers_between(2, 3, 20)] == [20, 20]
        assert await mailbox.headers_between(5, 4, 1_000) == []
    finally:
        await mailbox.close()


def _from(i: int, sender: str) -> bytes:
    return (
        f"From: {sender}\r\nSubject: {i}\r\nMessage-ID: <f{i}@example.com>\r\n\r\nHej\r\n"
    ).encode()
