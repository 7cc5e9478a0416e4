"""Serving the console with uvicorn: alone (`noxbot web`) or as a worker of `noxbot run`."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn

from bot.config import WebSettings
from bot.store.database import Database
from bot.web.app import create_app
from bot.workflow.services import Services


async def serve_console(
    database: Database, services: Services, web: WebSettings, stop: asyncio.Event
) -> None:
    """Serve until `stop` is set; uvicorn's own signal handlers stay off (the caller's
    supervisor owns SIGINT/SIGTERM)."""
    config = uvicorn.Config(
        create_app(database, services, web),
        host=web.host,
        port=web.port,
        log_level="warning",
        access_log=False,  # request lines carry references and search words
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await task
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter
