"""Mail with attachments (a CV as a PDF) is fetched and held a few at a time, not a hundred:
the watcher's memory is bounded by a batch's bytes, not only by its count (bench/ingest.py
measures the peak)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from bench.ingest import with_attachment
from bot.channels import imap
from bot.channels.imap import fetch_groups
from bot.reading.classifier import classify
from bot.runtime import intake, mail_watcher
from bot.runtime.mail_reader import REST_SECONDS, MailReader
from bot.runtime.mail_watcher import watch_mail
from bot.store.tables import Message
from tests.test_recovery import _append, _ids, _when, _world, imap_server  # noqa: F401

LIMIT = 700_000


@contextlib.asynccontextmanager
async def _watching(world, settings) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    """The mail watcher running for the block; then stopped, and the database let go of."""
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_mail(world.database, world.services, settings, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 20)
        world.database.dispose()


def test_uids_are_cut_into_runs_of_at_most_the_byte_limit_in_order():
    sizes = {1: 300, 2: 300, 3: 300, 4: 2_000, 5: 100, 6: 100}
    assert fetch_groups([1, 2, 3, 4, 5, 6], sizes, 700) == [[1, 2], [3], [4], [5, 6]]
    assert fetch_groups([1, 2, 3], {}, 700) == [[1, 2, 3]]  # sizes unknown: as before
    assert fetch_groups([], sizes, 700) == []


async def test_mail_with_attachments_is_fetched_and_written_a_few_at_a_time_and_all_read(
    imap_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    monkeypatch.setattr(imap, "BATCH_BYTES", LIMIT)
    monkeypatch.setattr(mail_watcher, "DB_BATCH_BYTES", LIMIT)
    mails = [with_attachment(i, 220_000) for i in range(8)]  # ~300 KB each
    mails[3] = with_attachment(3, 900_000)  # larger than a batch: fetched alone
    mails.append(with_attachment(8, 100))
    await _append(imap_server, mails)
    size_of = {f"<cv{i}@example.com>": len(raw) for i, raw in enumerate(mails)}

    fetched: list[str] = []
    fetch = imap.ImapMailbox._uid_fetch

    async def recorded_fetch(self, uids):  # type: ignore[no-untyped-def]
        fetched.append(uids)
        return await fetch(self, uids)

    written: list[int] = []
    handle_batch = mail_watcher.handle_batch

    def recorded_batch(database, services, batch, *rest):  # type: ignore[no-untyped-def]
        written.append(sum(len(p.inbound.raw or b"") for p in batch))
        return handle_batch(database, services, batch, *rest)

    monkeypatch.setattr(imap.ImapMailbox, "_uid_fetch", recorded_fetch)
    monkeypatch.setattr(mail_watcher, "handle_batch", recorded_batch)
    world, settings = _world(tmp_path, imap_server, monkeypatch)
    async with _watching(world, settings):
        await _when(lambda: _ids(world) == set(size_of), 60)
    # Every FETCH of several mails stays within the limit; the large one went alone.
    fetched_sizes = [[len(mails[int(u) - 1]) for u in uids.split(",")] for uids in fetched]
    assert all(len(s) == 1 or sum(s) <= LIMIT for s in fetched_sizes), fetched_sizes
    assert [len(mails[3])] in fetched_sizes and len(fetched) >= 4
    # ... and no batch waits for the database with much more than the limit in it.
    assert max(written) <= LIMIT + len(mails[3]), written
    assert len(written) >= 3


@pytest.mark.parametrize("limit", [1, 10**9])
def test_any_byte_limit_keeps_every_uid_once_in_order(limit):
    rng = random.Random(limit)
    uids = sorted(rng.sample(range(1, 10_000), 300))
    sizes = {u: rng.randint(0, 5_000_000) for u in uids}
    groups = fetch_groups(uids, sizes, limit)
    assert [u for g in groups for u in g] == uids
    assert all(len(g) == 1 or sum(sizes[u] for u in g) <= limit for g in groups)


async def test_a_large_mail_is_let_go_of_before_the_next_one_is_fetched(
    imap_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    """A mail of several MB and its reading were still held while the next was fetched (a
    third copy beside the next one's): the watcher's peak through hostile mail."""
    import tracemalloc

    size = 3_000_000
    mails = [
        (
            f"From: lang{i}@example.se\r\nTo: info@noxconsulting.se\r\nSubject: Lang {i}\r\n"
            f"Message-ID: <lang{i}@example.se>\r\nContent-Type: text/plain\r\n\r\n"
            + "Hej hopp. "
            * (size // 10)
        ).encode()
        for i in range(3)
    ]
    await _append(imap_server, mails)
    held_at_fetch: list[int] = []
    fetch = imap.ImapMailbox._uid_fetch

    async def measured_fetch(self, uids):  # type: ignore[no-untyped-def]
        held_at_fetch.append(tracemalloc.get_traced_memory()[0])
        return await fetch(self, uids)

    monkeypatch.setattr(imap.ImapMailbox, "_uid_fetch", measured_fetch)
    world, settings = _world(tmp_path, imap_server, monkeypatch)
    classify("Hej")  # the model loaded before measuring
    tracemalloc.start()
    try:
        async with _watching(world, settings):
            await _when(lambda: len(_ids(world)) == 3, 60)
    finally:
        tracemalloc.stop()
    assert len(held_at_fetch) == 3, held_at_fetch  # each fetched alone
    grown = [held - held_at_fetch[0] for held in held_at_fetch[1:]]
    assert max(grown) < size // 2, f"bytes still held when the next mail was fetched: {grown}"


def _reading_workers() -> list[int]:
    """This process's children that are mail-reading workers (bot.runtime.mail_reader)."""
    found = []
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        with open(f"/proc/{os.getpid()}/task/{task}/children") as children:
            for pid in children.read().split():
                with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as line:
                    if b"serve_worker" in line.read():
                        found.append(int(pid))
    return found


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads /proc")
async def test_the_mail_reading_worker_is_ended_soon_after_the_mailbox_is_read_through(
    imap_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    """A large mail is read in a worker process (21-48 MiB); while noxbot waits for mail,
    which is most of the time, that process is not kept (a few seconds at most: a burst on
    the heels of the last mail finds it). The next large mail starts one."""
    world, settings = _world(tmp_path, imap_server, monkeypatch)
    seen_during: list[list[int]] = []
    read = MailReader.read

    async def observed_read(self, raw, position, stop=None):  # type: ignore[no-untyped-def]
        reading = await read(self, raw, position, stop)
        seen_during.append(_reading_workers())
        return reading

    monkeypatch.setattr(MailReader, "read", observed_read)
    async with _watching(world, settings):
        for n in range(2):
            await _append(imap_server, [with_attachment(n, 200_000)])
            await _when(lambda n=n: len(_ids(world)) == n + 1, 60)
            await _when(lambda: _reading_workers() == [], 10 + REST_SECONDS)
    # Each mail was read by a worker of its own, gone once the mailbox was read through.
    assert len(seen_during) == 2 and all(len(pids) == 1 for pids in seen_during)
    assert seen_during[0] != seen_during[1]


def _long_mail(n: int, size: int) -> bytes:
    return (
        f"From: lang{n}@example.se\r\nTo: info@noxconsulting.se\r\nSubject: Lang {n}\r\n"
        f"Message-ID: <lang{n}@example.se>\r\nContent-Type: text/plain\r\n\r\n"
        + "Hej hopp. "
        * (size // 10)
    ).encode()


def _files_kept_open() -> list[str]:
    """This process's open files that have no name any more (where mail bytes wait)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.endswith("(deleted)"):
                found.append(target)
    return found


async def test_a_large_mails_bytes_are_not_held_in_memory_while_it_is_written(
    imap_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    """Its text is written; its bytes wait in a file, wanted only if it has to be kept for
    staff. Held beside the text and the database driver's copies of it, they were ~6 MiB
    of the watcher's peak through hostile mail."""
    import tracemalloc

    size = 3_000_000
    await _append(imap_server, [_long_mail(1, size)])
    held_at_write: list[int] = []
    handle_batch = mail_watcher.handle_batch

    def measured_batch(database, services, batch, *rest):  # type: ignore[no-untyped-def]
        held_at_write.append(tracemalloc.get_traced_memory()[0])
        return handle_batch(database, services, batch, *rest)

    monkeypatch.setattr(mail_watcher, "handle_batch", measured_batch)
    world, settings = _world(tmp_path, imap_server, monkeypatch)
    classify("Hej")  # the model loaded before measuring
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    try:
        async with _watching(world, settings):
            await _when(lambda: _ids(world) == {"<lang1@example.se>"}, 60)
    finally:
        tracemalloc.stop()
    [held] = held_at_write
    # The text (one byte a letter) and little else: not the text and the bytes.
    assert held - before < 1.5 * size, f"{(held - before) / size:.2f} x the mail held"
    with world.session() as session:
        [message] = session.exec(select(Message)).all()
        assert len(message.text) >= size - 10 and message.raw is None


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="reads /proc")
async def test_no_file_of_mail_bytes_is_left_open_once_the_mail_is_written(
    imap_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    await _append(imap_server, [with_attachment(n, 200_000) for n in range(6)])
    world, settings = _world(tmp_path, imap_server, monkeypatch)
    already = _files_kept_open()
    async with _watching(world, settings):
        await _when(lambda: len(_ids(world)) == 6, 60)
        await asyncio.sleep(0.2)  # (the watcher closes them once the batch is written)
        assert _files_kept_open() == already


async def test_a_large_mail_whose_processing_fails_is_kept_for_staff_with_its_exact_bytes(
    imap_server,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    """Its bytes, which waited in a file while it was read and written, are read back and
    kept whole with it; the mail after it is read as usual."""
    failing = with_attachment(1, 300_000)
    await _append(imap_server, [failing, _long_mail(2, 100)])
    process_inbound = intake.process_inbound

    def broken_for_the_cv(session, services, inbound, **options):  # type: ignore[no-untyped-def]
        if inbound.message_id == "<cv1@example.com>":
            raise RuntimeError("a bug met by this mail")
        return process_inbound(session, services, inbound, **options)

    monkeypatch.setattr(intake, "process_inbound", broken_for_the_cv)
    world, settings = _world(tmp_path, imap_server, monkeypatch)
    async with _watching(world, settings):
        await _when(lambda: len(_ids(world)) == 2, 60)
    with world.session() as session:
        kept, after = session.exec(select(Message).order_by(Message.id)).all()
    assert kept.message_id == "<cv1@example.com>" and kept.raw == failing
    assert kept.state == "malformed" and "RuntimeError" in (kept.state_reason or "")
    assert after.message_id == "<lang2@example.se>" and after.state != "malformed"
