"""How every worker loop waits: a sleep that a stop ends, a long wait abandoned at a stop,
and backoff on a transient failure (1, 2, 4 … s, at most five minutes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import exc as sa_exc

from bot.store.database import sqlite_error_name, sqlstate_of

log = logging.getLogger("noxbot")

T = TypeVar("T")
MAX_BACKOFF = 300.0


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def wait_for_wake(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> None:
    """Wait until woken (something was queued), stopped, or `seconds` passed (the sweep that
    catches what a lost signal missed). The caller clears `wake` before it looks for work,
    so a signal that comes while it works is not lost."""
    if wake is None:
        await sleep_or_stop(stop, seconds)
        return
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


async def until_stopped(stop: asyncio.Event | None, waiting: Awaitable[T]) -> T | None:
    """The result of a long wait (a long poll), or None as soon as `stop` is set: a stop
    must not wait out a 30-second poll. Only for waits that are safe to abandon."""
    task = asyncio.ensure_future(waiting)
    if stop is None:
        return await task
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return None


def kind_of(exc: BaseException) -> str:
    """What to log of a failure by default: only its kind — server messages can echo
    addresses (personal data). A database error adds the driver's kind and the code the
    database gave (SQLSTATE, or SQLite's error name), which name no value:
    "ProgrammingError (InsufficientPrivilege, SQLSTATE 42501)"."""
    kind = type(exc).__name__
    cause = getattr(exc, "orig", None) if isinstance(exc, sa_exc.DBAPIError) else None
    if cause is None:
        return kind
    code = sqlstate_of(exc)
    named = f"SQLSTATE {code}" if code else sqlite_error_name(exc)
    if not named and isinstance(exc, sa_exc.OperationalError):
        # (a server that answers gives a code: with none, the connection itself failed)
        return f"the database cannot be reached ({kind}, {type(cause).__name__})"
    return f"{kind} ({type(cause).__name__}{f', {named}' if named else ''})"


#: The same failure is logged again at most this often while it lasts (seconds).
REPEAT_LOG_SECONDS = 60.0


async def with_backoff(
    name: str,
    stop: asyncio.Event,
    step: Callable[[], Awaitable[None]],
    transient: tuple[type[BaseException], ...],
    *,
    describe: Callable[[BaseException], str] = kind_of,
    longest_wait: Callable[[BaseException], float] = lambda _exc: MAX_BACKOFF,
) -> None:
    """Run `step` until stopped; a transient failure waits 1, 2, 4 … s (at most
    `longest_wait(exc)`, else five minutes).

    `describe` says what is logged of a failure (default: its kind only). A failure that
    repeats is logged once a minute, and nothing is logged once `stop` is set: a failure
    caused by the stop itself is no news."""
    delay = 1.0
    said, said_at = "", -REPEAT_LOG_SECONDS
    while not stop.is_set():
        try:
            await step()
            delay = 1.0
            if said:  # (what was logged as failing works again: say so, once)
                log.info("%s: working again", name)
            said = ""
        except transient as exc:
            if stop.is_set():
                return
            delay = min(delay, longest_wait(exc))
            what = describe(exc)
            now = time.monotonic()
            if what != said or now - said_at >= REPEAT_LOG_SECONDS:
                log.warning("%s: %s; retrying in %.0f s", name, what, delay)
                said, said_at = what, now
            await sleep_or_stop(stop, delay)
            delay = min(delay * 2, MAX_BACKOFF)
