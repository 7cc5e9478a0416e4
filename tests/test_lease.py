"""One instance holds the pollers' lease; another takes over only when it runs out."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from bot.clock import utcnow
from bot.config import TelegramSettings
from bot.runtime.lease import POLLERS, release, try_acquire
from bot.runtime.supervisor import run_workers
from tests.fake_bot_api import FakeBotApi
from tests.workflow_kit import make_world

T0 = datetime(2026, 11, 24, 9, tzinfo=UTC)
TTL = timedelta(seconds=60)


def test_the_lease_is_held_renewed_taken_over_and_released(any_database):
    with any_database.session() as session:
        assert try_acquire(session, POLLERS, "a", TTL, T0)
    with any_database.session() as session:
        assert not try_acquire(session, POLLERS, "b", TTL, T0 + timedelta(seconds=30))
        assert try_acquire(session, POLLERS, "a", TTL, T0 + timedelta(seconds=30))  # renewed
    with any_database.session() as session:
        assert not try_acquire(session, POLLERS, "b", TTL, T0 + timedelta(seconds=80))
        assert try_acquire(session, POLLERS, "b", TTL, T0 + timedelta(seconds=91))  # ran out
    with any_database.session() as session:
        release(session, POLLERS, "a")  # not a's any more: nothing happens
        assert not try_acquire(session, POLLERS, "a", TTL, T0 + timedelta(seconds=92))
        release(session, POLLERS, "b")
    with any_database.session() as session:
        assert try_acquire(session, POLLERS, "a", TTL, T0 + timedelta(seconds=93))


async def test_a_second_instance_polls_only_after_the_first_lets_go(tmp_path, monkeypatch):
    monkeypatch.setattr("bot.runtime.supervisor.LEASE_TTL", timedelta(seconds=0.6))
    api = FakeBotApi()
    await api.start()
    monkeypatch.setenv("NOXBOT_TELEGRAM_TOKEN", api.token)
    world = make_world(tmp_path)
    world.services.clock = utcnow
    settings = world.services.settings.model_copy(
        update={"telegram": TelegramSettings(base_url=api.base_url, poll_timeout_seconds=0)}
    )
    with world.database.session() as session:
        assert try_acquire(session, POLLERS, "other-instance", timedelta(seconds=60), utcnow())
    stop = asyncio.Event()
    workers = asyncio.create_task(run_workers(settings, world.database, world.services, stop))
    try:
        await asyncio.sleep(1.0)
        assert api.polls == 0  # the other instance holds the lease
        with world.database.session() as session:
            release(session, POLLERS, "other-instance")
        deadline = time.monotonic() + 10
        while api.polls == 0:
            assert time.monotonic() < deadline, "never took over the lease"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(workers, 20)
        await api.stop()
    with world.session() as session:
        from bot.store.tables import ChannelCursor

        assert session.get(ChannelCursor, POLLERS) is None  # released at a clean stop
    world.database.dispose()


def test_a_lease_left_by_a_dead_process_on_this_host_is_taken_over_at_once(any_database):
    import socket
    import subprocess
    import sys

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                           capture_output=True, text=True)  # fmt: skip
    dead = f"{socket.gethostname()}:{int(ended.stdout)}:abc123"
    alive = f"{socket.gethostname()}:1:def456"  # pid 1 always runs
    elsewhere = f"another-host:{int(ended.stdout)}:fed789"
    with any_database.session() as session:
        assert try_acquire(session, POLLERS, dead, TTL, T0)
    with any_database.session() as session:  # the dead holder's lease has 59 s to run
        assert try_acquire(session, POLLERS, "me", TTL, T0 + timedelta(seconds=1))
    previous = "me"
    for other in (alive, elsewhere):
        with any_database.session() as session:
            release(session, POLLERS, previous)
            assert try_acquire(session, POLLERS, other, TTL, T0)
        with any_database.session() as session:
            assert not try_acquire(session, POLLERS, "me", TTL, T0 + timedelta(seconds=1))
        previous = other
