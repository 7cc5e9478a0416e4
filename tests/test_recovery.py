"""Recovery in seconds, against a real Dovecot: mail pushed during a backlog, a server that
restarts under an IDLE, `noxbot run` killed with -9 and started again, a SIGTERM in the
middle of a batch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path

import aioimaplib
import pytest
from sqlmodel import select

from bot.clock import utcnow
from bot.config import ImapSettings
from bot.runtime.mail_watcher import watch_mail
from bot.store.tables import ChannelCursor, Message, Request
from tests import dovecot
from tests.loop_gaps import loop_steps
from tests.workflow_kit import World, make_world, world_refused_inserts_into


@pytest.fixture
def imap_server():
    if not dovecot.available():
        pytest.skip("dovecot-imapd is not installed (.ci/run installs it)")
    server = dovecot.start()
    yield server
    server.stop()


def _mail(i: int, body: str = "Har ni en Java-konsult i mars?") -> bytes:
    return (
        f"From: kund{i}@example.com\r\nTo: info@noxconsulting.se\r\nSubject: Fraga {i}\r\n"
        f"Message-ID: <r{i}@example.com>\r\n\r\n{body}\r\n"
    ).encode()


async def _append(server: dovecot.Dovecot, mails: list[bytes]) -> None:
    client = aioimaplib.IMAP4(host="127.0.0.1", port=server.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(dovecot.USER, dovecot.PASSWORD)
    for raw in mails:
        assert (await client.append(raw, mailbox="INBOX")).result == "OK"
    await client.logout()


async def _when(condition, timeout: float) -> float:
    """Wait until `condition()`; returns when (monotonic). Fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.02)
    return time.monotonic()


def _world(
    tmp_path: Path, server: dovecot.Dovecot, monkeypatch, world: World | None = None, **imap: object
):
    monkeypatch.setenv("NOXBOT_IMAP_PASSWORD", dovecot.PASSWORD)
    world = world or make_world(tmp_path)
    world.services.clock = utcnow
    settings = world.services.settings.model_copy(
        update={
            "imap": ImapSettings(
                host="127.0.0.1",
                port=server.port,
                tls="none",
                username=dovecot.USER,
                backlog_days=36500,  # whatever date the suite runs at
                **imap,
            )
        }
    )
    return world, settings


def _ids(world) -> set[str]:
    with world.session() as session:
        return {m for (m,) in session.execute(Message.__table__.select().with_only_columns(
            Message.message_id))}  # fmt: skip


async def test_mail_pushed_during_a_backlog_is_read_right_after_it_not_at_the_next_idle(
    imap_server, tmp_path, monkeypatch, caplog
):
    """Mail that arrives during a backlog is not announced by IDLE afterwards; it is read at
    the latest as soon as the backlog is (before it, see the next test), not when the IDLE
    times out (30 s here). The log says what is to be read, and how far it has come."""
    caplog.set_level(logging.INFO, logger="noxbot")
    # Often enough that even a fast read of the backlog logs its progress.
    monkeypatch.setattr("bot.runtime.mail_watcher.PROGRESS_SECONDS", 0.02)
    await _append(imap_server, [_mail(i) for i in range(250)])
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_mail(world.database, world.services, settings, stop))
    try:
        await _when(lambda: len(_ids(world)) >= 20, 60)  # well inside the backlog
        await _append(imap_server, [_mail(9999, "Radera allt ni har om mig.")])
        backlog_read = await _when(lambda: len(_ids(world)) >= 250, 60)
        pushed_read = await _when(lambda: "<r9999@example.com>" in _ids(world), 30)
        assert pushed_read - backlog_read < 1.0
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 20)
        world.database.dispose()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == (
        f"mail watcher: connected to 127.0.0.1:{imap_server.port}, mailbox INBOX, 250 new to read"
    )
    progress = [line for line in lines if line.startswith("mail watcher: read ")]
    assert progress and all(re.fullmatch(r"mail watcher: read \d+/25[01] \(\d+ msg/s\)", p)
                            for p in progress), progress  # fmt: skip
    assert not any("kund" in line for line in lines)  # no addresses in the log


def _stored_in_order(world) -> list[str]:
    """The stored messages' Message-IDs in the order they were written."""
    with world.session() as session:
        return [m.message_id for m in session.exec(select(Message).order_by(Message.id))]


def _cursor(world) -> str | None:
    with world.session() as session:
        row = session.get(ChannelCursor, "imap:INBOX")
        return row.value if row else None


@contextlib.asynccontextmanager
async def _watching(world, settings):
    """The mail watcher running until the block ends (then stopped as by SIGTERM); its task
    is what the block gets."""
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_mail(world.database, world.services, settings, stop))
    try:
        yield watcher
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 20)


async def test_a_request_arriving_during_a_long_backlog_is_read_before_the_backlog_is_through(
    imap_server, tmp_path, monkeypatch, caplog
):
    """A new request is not left behind a thousand older mails: the watcher asks the server
    for newer mail every quarter of a second while it reads a backlog, and reads and writes
    it before the rest, within about a second. The cursor still moves in order: when the
    backlog reaches it, it is found stored and nothing is done twice."""
    caplog.set_level(logging.INFO, logger="noxbot")
    await _append(imap_server, [_mail(i) for i in range(1500)])
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    try:
        async with _watching(world, settings):
            await _when(lambda: len(_ids(world)) >= 20, 60)
            await _append(imap_server, [_mail(9999, "Radera allt ni har om mig.")])
            appended = time.monotonic()
            read = await _when(lambda: "<r9999@example.com>" in _ids(world), 30)
            backlog_left = 1500 - (len(_ids(world)) - 1)
            await _when(lambda: (_cursor(world) or "").endswith(":1501"), 60)
        stored = _stored_in_order(world)
        with world.session() as session:
            query = select(Message).where(Message.message_id == "<r9999@example.com>")
            [request] = session.exec(query)
    finally:
        world.database.dispose()
    assert read - appended < 2.0
    assert backlog_left > 100  # read out of turn, not after the backlog
    assert len(stored) == len(set(stored)) == 1501  # once each
    assert request.request_id is not None  # handled as any request is: a case opened
    assert "mail watcher: the mail at UID 1501 arrived during the backlog; read first" in [
        r.getMessage() for r in caplog.records
    ]


@pytest.mark.parametrize(
    "earlier_from",
    [
        b"From: kund9999@example.com\r\n",
        # Written oddly: the server's own SEARCH FROM does not find these two, and the
        # pipeline reads both as from kund9999@example.com.
        b"Subject: Radera\rFrom: kund9999@example.com\r\n",
        b"From: =?x-unknown?q?kund9999=40example=2Ecom?=\r\n",
    ],
    ids=["plain", "after a lone CR", "as an encoded word"],
)
async def test_new_mail_from_someone_with_mail_still_in_the_backlog_waits_its_turn(
    imap_server, tmp_path, monkeypatch, earlier_from
):
    """A person's later mail ("forget my last mail") is not read before their earlier one,
    still waiting in the backlog: whose the waiting mail is is read from its header as the
    pipeline reads it. Nor is a reply read before the mail it answers (it would not find
    its case)."""
    backlog = [_mail(i) for i in range(1500)]
    backlog[1200] = earlier_from + _mail(1200).split(b"\r\n", 1)[1]
    await _append(imap_server, backlog)
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    reply = _mail(9998, "Jag svarar för Anna.").replace(
        b"Message-ID:", b"In-Reply-To: <r1300@example.com>\r\nMessage-ID:"
    )
    try:
        async with _watching(world, settings):
            await _when(lambda: len(_ids(world)) >= 20, 60)
            await _append(imap_server, [_mail(9999, "Glöm mitt förra mejl."), reply])
            await _when(lambda: len(_ids(world)) >= 1502, 60)
        stored = _stored_in_order(world)
    finally:
        world.database.dispose()
    assert stored.index("<r9999@example.com>") > stored.index("<r1200@example.com>")
    assert stored.index("<r9998@example.com>") > stored.index("<r1300@example.com>")


async def test_mail_waiting_in_the_backlog_that_begins_with_a_blank_line_holds_back_only_its_sender(
    imap_server, tmp_path, monkeypatch
):
    """To the server a mail that begins with a blank line has an empty header; the pipeline
    reads the headers after the blank line. Whose it is is read from its first bytes: a
    later mail of its sender waits its turn, someone else's request is read first (before,
    the empty header was "from anyone" and every newcomer waited for the whole backlog)."""
    backlog = [_mail(i) for i in range(3000)]
    backlog[2900] = b"\r\n" + _mail(2900).replace(b"kund2900@", b"tidig@")
    await _append(imap_server, backlog)
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    later = _mail(9998, "Glöm mitt förra mejl.").replace(b"kund9998@", b"tidig@")
    request = _mail(9999, "Radera allt ni har om mig.")
    try:
        async with _watching(world, settings):
            await _when(lambda: len(_ids(world)) >= 20, 60)
            await _append(imap_server, [later, request])
            await _when(lambda: (_cursor(world) or "").endswith(":3002"), 180)
        stored = _stored_in_order(world)
    finally:
        world.database.dispose()
    assert len(stored) == len(set(stored)) == 3002
    assert stored.index("<r9998@example.com>") > stored.index("<r2900@example.com>")
    assert stored.index("<r9999@example.com>") < stored.index("<r2000@example.com>")


async def test_a_stop_after_a_newer_mail_was_read_first_loses_nothing_and_repeats_nothing(
    imap_server, tmp_path, monkeypatch
):
    """The watcher stops (SIGTERM, a crash) after newer mail was written out of turn and
    before the backlog reached it: the next start reads on from the cursor, finds that
    mail stored, and every mail ends up stored exactly once. (Two new mails of one new
    sender are both read first, in their order.)"""
    await _append(imap_server, [_mail(i) for i in range(1500)])
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    second = _mail(9999, "Radera allt ni har om mig.").replace(b"kund9999@", b"kund9998@")
    try:
        async with _watching(world, settings):
            await _when(lambda: len(_ids(world)) >= 20, 60)
            await _append(imap_server, [_mail(9998, "Vad har ni om mig?"), second])
            await _when(lambda: "<r9999@example.com>" in _ids(world), 30)
        read_first = _stored_in_order(world)
        async with _watching(world, settings):  # started again
            await _when(lambda: (_cursor(world) or "").endswith(":1502"), 60)
        stored = _stored_in_order(world)
    finally:
        world.database.dispose()
    assert len(read_first) < 1502  # stopped in the middle of the backlog
    assert read_first.index("<r9998@example.com>") < read_first.index("<r9999@example.com>")
    assert len(stored) == len(set(stored)) == 1502


async def test_a_dovecot_restart_under_idle_is_noticed_at_once_and_mail_read_soon_after(
    imap_server, tmp_path, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="noxbot")
    await _append(imap_server, [_mail(1)])
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=60)
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_mail(world.database, world.services, settings, stop))
    try:
        await _when(lambda: _ids(world) == {"<r1@example.com>"}, 60)
        await asyncio.sleep(0.5)  # now in IDLE, for up to 60 s
        imap_server.halt()
        halted = time.monotonic()
        noticed = await _when(
            lambda: any("closed the connection" in r.getMessage() for r in caplog.records), 10
        )
        assert noticed - halted < 2.0
        await asyncio.sleep(4)  # an outage of a few seconds
        imap_server.resume()
        back = time.monotonic()
        await _append(imap_server, [_mail(2)])  # arrived before the watcher is back
        read = await _when(lambda: "<r2@example.com>" in _ids(world), 30)
        assert read - back < 5.0
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert all(f"127.0.0.1:{imap_server.port}" in w for w in warnings), warnings
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 20)
        world.database.dispose()


async def test_a_refused_login_is_logged_with_the_server_and_its_answer(
    imap_server, tmp_path, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="noxbot")
    world, settings = _world(tmp_path, imap_server, monkeypatch)
    monkeypatch.setenv("NOXBOT_IMAP_PASSWORD", "wrong-secret")
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_mail(world.database, world.services, settings, stop))
    try:
        await _when(lambda: any(r.levelno == logging.WARNING for r in caplog.records), 15)
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 20)
        world.database.dispose()
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"127.0.0.1:{imap_server.port}" in line
    assert "login as info" in line and "AUTHENTICATIONFAILED" in line
    assert "wrong-secret" not in line


async def test_a_mail_whose_reading_keeps_failing_is_set_aside_and_the_rest_is_read(
    imap_server, tmp_path, monkeypatch, caplog
):
    """An unexpected error (a bug) while one mail is read does not end the watcher, nor
    `noxbot run` with the chat and the sender: the watcher starts again from the cursor, and
    a mail that fails a second time is kept whole for staff and passed."""
    import bot.runtime.mail_reader as mail_reader

    caplog.set_level(logging.INFO, logger="noxbot")
    real_read_mail = mail_reader.read_mail
    tries: list[int] = []

    def failing_on_one(raw, position):
        if b"<r2@example.com>" in raw:
            tries.append(position.imap_uid)
            raise TypeError("Anna Lindqvist anna@example.se")
        return real_read_mail(raw, position)

    monkeypatch.setattr(mail_reader, "read_mail", failing_on_one)
    await _append(imap_server, [_mail(1), _mail(2, "Radera mig, anna@example.se"), _mail(3)])
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_mail(world.database, world.services, settings, stop))
    try:
        await _when(lambda: "<r3@example.com>" in _ids(world), 30)
        assert not watcher.done()
        await _append(imap_server, [_mail(4)])  # and the watcher goes on reading
        await _when(lambda: "<r4@example.com>" in _ids(world), 30)
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 20)
        world.database.dispose()
    assert tries == [2, 2]  # tried once more, then not again
    with world.session() as session:
        kept = session.exec(select(Message).where(Message.imap_uid == 2)).one()
        others = session.exec(select(Message).where(Message.imap_uid != 2)).all()
    assert kept.state == "malformed"
    assert kept.state_reason == "reading it failed twice (TypeError)"
    assert kept.raw is not None and b"Radera mig, anna@example.se" in kept.raw
    assert sorted(m.imap_uid for m in others) == [1, 3, 4]
    assert all(m.state != "malformed" for m in others)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines[0] == "mail watcher: reading the mail at UID 2 failed (TypeError); retrying in 1 s"
    assert "mail watcher: the mail at UID 2 failed twice; set aside for staff" in lines
    assert not any("anna" in line.lower() for line in lines)


async def _watch_until(world, settings, condition, timeout: float) -> None:
    """The mail watcher, run until `condition()` (failing after `timeout` s, or if the
    watcher ends first), then stopped; the database let go."""
    try:
        async with _watching(world, settings) as watcher:
            await _when(condition, timeout)
            assert not watcher.done()
    finally:
        world.database.dispose()


def _storing_fails_on(monkeypatch, marker: str, *, bytes_too: bool = False) -> None:
    """Processing, and quarantining, a message whose text holds `marker` (with `bytes_too`,
    or whose raw bytes do) raises TypeError: a bug met by that mail alone, which not even
    a bare record of it survives."""
    import bot.runtime.intake as intake

    def holds(inbound) -> bool:
        in_bytes = bytes_too and marker.encode() in (inbound.raw or b"")
        return in_bytes or marker in (inbound.text or "")

    real_process, real_quarantine = intake.process_inbound, intake.quarantine

    def failing_process(session, services, inbound, **kwargs):
        if holds(inbound):
            raise TypeError("anna@example.se")
        return real_process(session, services, inbound, **kwargs)

    def failing_quarantine(session, inbound, error, **kwargs):
        if holds(inbound):
            raise TypeError("anna@example.se")
        return real_quarantine(session, inbound, error, **kwargs)

    monkeypatch.setattr(intake, "process_inbound", failing_process)
    monkeypatch.setattr(intake, "quarantine", failing_quarantine)


async def test_a_mail_that_cannot_be_stored_at_all_is_set_aside_and_the_rest_is_read(
    imap_server, tmp_path, monkeypatch, caplog
):
    """Not even a bare record of one mail can be stored (a bug met by it): the batch is
    rolled back, tried once more, and then the mail is stored as unreadable - its bytes,
    nothing read from them - while the others are read as usual. Beside it, the mail whose
    From decodes to a lone surrogate (utf-7), which once stopped the watcher this way."""
    caplog.set_level(logging.INFO, logger="noxbot")
    _storing_fails_on(monkeypatch, "BOOM")
    surrogate = (
        b"From: =?utf-7?Q?+2AA-a@b.se?=\r\nTo: info@noxconsulting.se\r\nSubject: hej\r\n"
        b"Message-ID: <utf7@b.se>\r\n\r\nRadera mig.\r\n"
    )
    await _append(imap_server, [_mail(1), _mail(2, "BOOM anna@example.se"), surrogate, _mail(4)])
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    await _watch_until(world, settings, lambda: "<r4@example.com>" in _ids(world), 30)
    with world.session() as session:
        by_uid = {m.imap_uid: m for m in session.exec(select(Message))}
    assert sorted(by_uid) == [1, 2, 3, 4]
    assert by_uid[2].state == "malformed"
    assert by_uid[2].state_reason == "storing it failed twice (TypeError)"
    assert b"BOOM anna@example.se" in (by_uid[2].raw or b"")
    assert by_uid[3].state == "malformed" and by_uid[3].state_reason == "no From address"
    assert by_uid[1].state != "malformed" and by_uid[4].state != "malformed"
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "mail watcher: storing the mail at UID 2 failed (TypeError); retrying in 1 s" in lines
    assert "mail watcher: the mail at UID 2 failed twice; set aside for staff" in lines
    assert not any("anna" in line.lower() for line in lines)


async def test_a_mail_that_cannot_be_kept_even_set_aside_is_noted_and_the_rest_is_read(
    imap_server, tmp_path, monkeypatch, caplog
):
    """Whatever of a mail's own makes storing it fail, even its bytes: it ends as a note that
    it is in the mailbox at its UID (nothing of it is left to fail), never a loop."""
    caplog.set_level(logging.INFO, logger="noxbot")
    _storing_fails_on(monkeypatch, "BOOM", bytes_too=True)
    await _append(imap_server, [_mail(1), _mail(2, "BOOM anna@example.se"), _mail(3)])
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    await _watch_until(world, settings, lambda: "<r3@example.com>" in _ids(world), 60)
    with world.session() as session:
        by_uid = {m.imap_uid: m for m in session.exec(select(Message))}
    assert sorted(by_uid) == [1, 2, 3]
    assert by_uid[2].state == "malformed" and not by_uid[2].raw
    assert by_uid[2].state_reason == (
        "storing it failed twice (TypeError); not even its bytes could be kept"
        " (it is in the mailbox)"
    )
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    noted = "mail watcher: the mail at UID 2 could not be kept even set aside; noted without"
    assert f"{noted} its bytes" in lines
    assert not any("anna" in line.lower() for line in lines)


async def test_an_unexpected_error_outside_a_mail_is_logged_and_the_watcher_goes_on(
    imap_server, tmp_path, monkeypatch, caplog
):
    """A failure no mail is to blame for (here: writing a batch, once) is logged by its kind
    and tried again, as a lost connection is; nothing is lost."""
    import bot.runtime.mail_watcher as mail_watcher

    caplog.set_level(logging.INFO, logger="noxbot")
    real_handle_batch = mail_watcher.handle_batch
    failures = [KeyError("anna@example.se")]

    def failing_once(*args, **kwargs):
        if failures:
            raise failures.pop()
        return real_handle_batch(*args, **kwargs)

    monkeypatch.setattr(mail_watcher, "handle_batch", failing_once)
    await _append(imap_server, [_mail(1), _mail(2)])
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    both = {"<r1@example.com>", "<r2@example.com>"}
    await _watch_until(world, settings, lambda: _ids(world) == both, 30)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["mail watcher: unexpected error (KeyError); retrying in 1 s"]


async def test_crafted_mail_arriving_during_a_backlog_does_not_hold_the_chat_while_read_first(
    imap_server, tmp_path, monkeypatch
):
    """Ten small mails that each take some 20 ms to read (21 KB of what looks like identity
    numbers; 63 KB take ~60 ms) arrive during a backlog: read first, they were read back to
    back with no turn for anything else (0.2-0.7 s in which the chat, the sender and a
    SIGTERM waited). Now the event loop turns between two of them, and a round reads for at
    most NEWER_READ_SECONDS (the rest in the next round); every mail is stored once."""
    crafted = [
        _mail(9000 + k, ("850101-1234 " * 1750)[:21_000]).replace(b"kund", b"ny", 1)
        for k in range(10)
    ]
    await _append(imap_server, [_mail(i) for i in range(3000)])  # (its end seconds away)
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    async with _watching(world, settings):
        await _when(lambda: len(_ids(world)) >= 20, 60)
        with loop_steps() as steps:
            await _append(imap_server, crafted)
            await _when(lambda: (_cursor(world) or "").endswith(":3010"), 180)
    stored = _stored_in_order(world)
    assert len(stored) == len(set(stored)) == 3010
    read_first = stored[: stored.index("<r2000@example.com>")]
    assert any(f"<r{9000 + k}@example.com>" in read_first for k in range(10))
    # processor seconds in one step of the loop: about one mail's reading (0.23 s without a
    # turn between two)
    assert max(steps) < 0.12, sorted(steps)[-5:]
    world.database.dispose()


async def test_a_request_behind_slow_newcomers_is_still_read_before_the_backlog(
    imap_server, tmp_path, monkeypatch
):
    """Six slow small mails (~60 ms each to read) arrive just before a request, during a
    backlog: a round of the read-first lane has time for three or four of them. What it had
    no time for was left to its turn - the request behind the whole backlog. Now the next
    round looks at it."""
    slow = [
        _mail(9000 + k, ("850101-1234 " * 5250)[:63_000]).replace(b"kund", b"ny", 1)
        for k in range(6)
    ]
    request = _mail(9100, "Radera allt ni har om mig.").replace(b"kund", b"ny", 1)
    # (a backlog long enough that, however fast the machine, its end is seconds away: the
    # request is read ~1.5 s after it arrives, 800-1,200 mails into the backlog here)
    await _append(imap_server, [_mail(i) for i in range(3000)])
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    async with _watching(world, settings):
        await _when(lambda: len(_ids(world)) >= 20, 60)
        await _append(imap_server, [*slow, request])
        await _when(lambda: (_cursor(world) or "").endswith(":3007"), 180)
    stored = _stored_in_order(world)
    assert len(stored) == len(set(stored)) == 3007
    # (left to its turn, it would be the last of all)
    assert stored.index("<r9100@example.com>") < stored.index("<r2000@example.com>")
    world.database.dispose()


async def test_mail_a_full_disk_has_no_room_for_waits_until_there_is_room(
    imap_server, tmp_path, monkeypatch, caplog
):
    """No room even for small mail is the disk's doing: nothing is set aside, the watcher
    says what the database refuses and reads the mail once there is room."""
    from sqlalchemy import event, text

    caplog.set_level(logging.INFO, logger="noxbot")
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    engine = world.database.engine
    with engine.connect() as connection:
        pages = connection.execute(text("PRAGMA page_count")).scalar()

    def full(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(engine, "connect", full)
    engine.dispose()
    # (mail of 300 KB: a few short rows would fit in the pages the database has)
    longer = "\r\n" + "Och en rad till om uppdraget i mars.\r\n" * 8_000
    await _append(imap_server, [_mail(1, "Hej." + longer), _mail(2, "Radera mig." + longer)])
    said = "mail watcher: the database refuses: OperationalError (OperationalError, SQLITE_FULL)"
    async with _watching(world, settings):
        await _when(lambda: any(r.getMessage().startswith(said) for r in caplog.records), 30)
        assert _ids(world) == set()
        event.remove(engine, "connect", full)
        engine.dispose()
        await _when(lambda: len(_ids(world)) == 2, 30)
    with world.session() as session:
        assert "malformed" not in [m.state for m in session.exec(select(Message))]
        assert session.exec(select(Request)).one().requester_address == "kund2@example.com"
    world.database.dispose()


async def test_mail_the_database_refuses_to_store_waits_and_the_watcher_says_why(
    imap_server, tmp_path, monkeypatch, caplog, postgres_url
):
    """A permission taken away from the table of cases: every request fails alike, which is
    the database's doing, not the mail's. The request is not set aside as unreadable; the
    watcher says what the database refuses, waits, and reads it once the permission is
    back."""
    caplog.set_level(logging.INFO, logger="noxbot")
    refused, given_back = world_refused_inserts_into(tmp_path, postgres_url, "request")
    await _append(imap_server, [_mail(1), _mail(2, "Radera allt ni har om mig."), _mail(3)])
    world, settings = _world(tmp_path, imap_server, monkeypatch, refused, poll_seconds=30)
    said = "mail watcher: the database refuses: ProgrammingError (InsufficientPrivilege,"
    said += " SQLSTATE 42501); retrying in"

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]

    async with _watching(world, settings):
        await _when(lambda: any(line.startswith(said) for line in warnings()), 30)
        assert "<r2@example.com>" not in _ids(world)
        given_back()
        await _when(lambda: len(_ids(world)) == 3, 30)
    with world.session() as session:
        assert [m.state for m in session.exec(select(Message))].count("malformed") == 0
        [case] = session.exec(select(Request)).all()
    assert case.requester_address == "kund2@example.com"
    assert _cursor(world).endswith(":3")
    assert not any("kund" in line or "Radera" in line for line in warnings())
    world.database.dispose()


# --- `noxbot run` as a process ------------------------------------------------------------


def _config(tmp_path: Path, server: dovecot.Dovecot) -> tuple[Path, Path]:
    database = tmp_path / "noxbot.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{database}"\n\n'
        f'[imap]\nhost = "127.0.0.1"\nport = {server.port}\ntls = "none"\n'
        f'username = "{dovecot.USER}"\npoll_seconds = 30\n'
        "backlog_days = 36500\n"  # whatever date the suite runs at
    )
    return config, database


def _stored_ids(database: Path) -> list[str]:
    try:
        with sqlite3.connect(database) as connection:
            return [row[0] for row in connection.execute("SELECT message_id FROM message")]
    except sqlite3.OperationalError:  # not there or not migrated yet
        return []


async def _noxbot_run(config: Path, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "-c", str(config),
        env={**os.environ, "NOXBOT_IMAP_PASSWORD": dovecot.PASSWORD},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("ab"),
    )  # fmt: skip


async def test_after_a_kill_9_the_restarted_instance_takes_its_own_lease_at_once(
    imap_server, tmp_path
):
    await _append(imap_server, [_mail(1)])
    config, database = _config(tmp_path, imap_server)
    log = tmp_path / "run.log"
    first = await _noxbot_run(config, log)
    try:
        await _when(lambda: _stored_ids(database) == ["<r1@example.com>"], 60)
        first.kill()  # kill -9: the lease stays, with 60 s to run
        await first.wait()
        await _append(imap_server, [_mail(2)])
        restarted = time.monotonic()
        second = await _noxbot_run(config, log)
        try:
            read = await _when(lambda: len(_stored_ids(database)) == 2, 60)
            # Starting Python and loading the model take a few seconds; the lease none.
            assert read - restarted < 15
        finally:
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), 30) == 0
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    said = log.read_text()
    assert "holding the pollers' lease" in said
    dead = f"{socket.gethostname()}:{first.pid}:"
    assert f"taking over the lease lease:pollers of a process that ended ({dead}" in said


async def test_sigterm_in_the_middle_of_a_batch_stops_after_the_mail_in_hand(imap_server, tmp_path):
    await _append(imap_server, [_mail(i) for i in range(300)])
    config, database = _config(tmp_path, imap_server)
    log = tmp_path / "run.log"
    process = await _noxbot_run(config, log)
    try:
        await _when(lambda: len(_stored_ids(database)) >= 10, 60)
        process.send_signal(signal.SIGTERM)
        signalled = len(_stored_ids(database))
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    # A batch is 100 mails and a stop used to finish it (87 more here); now the mail in
    # hand is finished, plus the few read while the signal travelled — and the ones done
    # before it in the open transaction (up to DB_BATCH), which commit with it: the faster
    # the pipeline, the more of those.
    from bot.runtime.mail_watcher import DB_BATCH

    assert len(_stored_ids(database)) - signalled <= DB_BATCH + 5
    lines = log.read_text().splitlines()
    assert lines[-1].endswith("INFO stopped"), lines[-3:]  # nothing logged after it


async def test_the_chat_is_served_within_half_a_second_while_a_backlog_is_read(
    imap_server, tmp_path, monkeypatch
):
    """The pipeline writes the backlog in a worker thread: the event loop stays free, and a
    chat message handled meanwhile (as the chat poller does, on the loop) waits at most for
    one batch's transaction."""
    from bot.channels.messages import InboundMessage
    from bot.rules.channels import ChannelName
    from bot.runtime.intake import handle_inbound

    await _append(imap_server, [_mail(i) for i in range(400)])
    world, settings = _world(tmp_path, imap_server, monkeypatch, poll_seconds=30)
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_mail(world.database, world.services, settings, stop))
    lags: list[float] = []
    try:
        await _when(lambda: len(_ids(world)) >= 10, 60)
        during = len(_ids(world))
        for n in range(40):
            asked = time.monotonic()
            await asyncio.sleep(0.02)  # the loop's own lag
            chat = InboundMessage(
                ChannelName.TELEGRAM, "5550009", text="Any news?", received_at=utcnow(),
                telegram_chat_id=5550009, telegram_message_id=n + 1,
            )  # fmt: skip
            handle_inbound(world.database, world.services, chat, "telegram:offset", str(n))
            lags.append(time.monotonic() - asked - 0.02)
        assert len(_ids(world)) - during >= 40  # the backlog was being read all along
        await _when(lambda: len(_ids(world) - {None}) >= 400, 60)
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 20)
        world.database.dispose()
    lags.sort()
    assert lags[int(len(lags) * 0.95)] < 0.5, lags


async def test_imap_over_tls_to_a_plain_server_is_a_clear_error_naming_the_server(imap_server):
    from bot.channels.imap import ImapError, ImapMailbox

    settings = ImapSettings(
        host="127.0.0.1", port=imap_server.port, tls="ssl", username=dovecot.USER,
        timeout_seconds=5,
    )  # fmt: skip
    mailbox = ImapMailbox(settings, dovecot.PASSWORD)
    try:
        with pytest.raises((ImapError, TimeoutError)) as failure:
            await mailbox.connect()
    finally:
        await mailbox.close()
    assert f"127.0.0.1:{imap_server.port}" in str(failure.value)


def test_a_lost_server_is_tried_again_within_seconds_a_refusal_or_a_bug_less_and_less_often():
    """How long the watcher waits at most between attempts, by what failed: a server that
    went away (mail is read soon after it is back), a refused login, a bug."""
    from sqlalchemy import exc as sa_exc

    from bot.channels.imap import ConnectionLost, ImapError
    from bot.runtime.mail_watcher import (
        MAX_BACKOFF,
        RECONNECT_SECONDS,
        MailFault,
        _longest_wait,
    )

    soon = [
        ConnectionLost("127.0.0.1:143 closed the connection"),
        ConnectionRefusedError(),
        TimeoutError(),
        aioimaplib.Abort("gone"),
        MailFault(1, 2, TypeError(), "reading"),
        sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    ]
    assert all(_longest_wait(exc) == RECONNECT_SECONDS for exc in soon)
    later = [ImapError("127.0.0.1:143: login as info: NO [AUTHENTICATIONFAILED]"), KeyError("x")]
    assert all(_longest_wait(exc) == MAX_BACKOFF for exc in later)
