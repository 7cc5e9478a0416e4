"""PostgreSQL LISTEN for the wake-ups other instances send (bot.store.wakeup): a commit in
another `noxbot run`, or a CLI approval, wakes this instance's senders at once."""

from __future__ import annotations

import asyncio
import logging

from bot.runtime.loops import until_stopped, with_backoff
from bot.store.database import POSTGRES_CONNECT_ARGS, Database
from bot.store.wakeup import CHANNEL

log = logging.getLogger("noxbot")


def _conninfo(database: Database) -> str:
    url = database.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen_for_wakeups(database: Database, stop: asyncio.Event) -> None:
    """Until stopped: every NOTIFY on the channel wakes this process's waiters. Each new
    connection wakes them once too, for what was queued while it was away."""
    import psycopg  # the postgres extra; only a PostgreSQL database gets here

    connect_args = {k: v for k, v in POSTGRES_CONNECT_ARGS.items() if k != "options"}

    async def step() -> None:
        async with await psycopg.AsyncConnection.connect(
            _conninfo(database), autocommit=True, **connect_args
        ) as connection:
            await connection.execute(f"LISTEN {CHANNEL}")
            database.wakeup.notify()

            async def relay() -> None:
                async for _ in connection.notifies():
                    database.wakeup.notify()

            await until_stopped(stop, relay())

    await with_backoff("wake-up listener", stop, step, (psycopg.Error, OSError))
