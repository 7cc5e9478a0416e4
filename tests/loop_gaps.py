"""How long the event loop went without running a ticker, for the tests that show a step
hands control back (the chat, the sender and a SIGTERM are served meanwhile)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator


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
