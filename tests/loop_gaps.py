"""How long the event loop went without running a ticker, for the tests that show a step
hands control back (the chat, the sender and a SIGTERM are served meanwhile)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator


@contextlib.asynccontextmanager
async def loop_gaps(every: float = 0.01) -> AsyncIterator[list[float]]:
    """The gaps between the turns of a ticker that asks to run every `every` seconds, while
    the block runs (filled in as they happen)."""
    gaps: list[float] = []

    async def ticking() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(every)
            gaps.append(time.monotonic() - last)
            last = time.monotonic()

    ticker = asyncio.create_task(ticking())
    try:
        yield gaps
    finally:
        ticker.cancel()


@contextlib.contextmanager
def loop_steps() -> Iterator[list[float]]:
    """The processor time (of the event loop's thread) each step of the event loop took while
    the block runs: how long the loop held everything else up, measured so that other work
    on the machine does not count (unlike the gaps of a ticker)."""
    steps: list[float] = []
    run = asyncio.events.Handle._run

    def timed(handle: asyncio.events.Handle) -> None:
        began = time.thread_time()
        try:
            run(handle)
        finally:
            steps.append(time.thread_time() - began)

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]
    try:
        yield steps
    finally:
        asyncio.events.Handle._run = run  # type: ignore[method-assign]
