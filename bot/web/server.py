"""Serving the console with uvicorn: alone (`noxbot web`) or as a worker of `noxbot run`."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Callable

import uvicorn

from bot.config import WebSettings
from bot.errors import NoxbotError
from bot.store.database import Database
from bot.web.app import create_app
from bot.workflow.services import Services


async def serve_console(
    database: Database,
    services: Services,
    web: WebSettings,
    stop: asyncio.Event,
    listening: Callable[[], None] = lambda: None,
) -> None:
    """Serve until `stop` is set; uvicorn's own signal handlers stay off (the caller's
    supervisor owns SIGINT/SIGTERM). `listening` is called once the port is ours."""
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
    # uvicorn takes SIGINT/SIGTERM for itself while it serves (older releases in
    # install_signal_handlers, newer in capture_signals, which also raises the signal again
    # once it has stopped: `noxbot run` then took one Ctrl-C for two, "stop at once").
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    bound = listen_on(web.host, web.port)
    listening()
    task = asyncio.create_task(server.serve(sockets=[bound]))
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await task
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter


def listen_on(host: str, port: int) -> socket.socket:
    """The console's listening socket, or a NoxbotError saying why not in one line (uvicorn
    itself logs a traceback and ends the process when the port is taken)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listening = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise NoxbotError(f"[web] cannot listen on {host}:{port}: {exc.strerror}") from None
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(128)
    except OSError as exc:
        listening.close()
        taken = " (another program, perhaps another noxbot web, listens there)"
        hint = taken if exc.errno == errno.EADDRINUSE else ""
        raise NoxbotError(
            f"[web] cannot listen on {host}:{port}: {exc.strerror}{hint}; choose another "
            "port: [web] port in the config (noxbot web also takes --port)"
        ) from None
    listening.setblocking(False)
    return listening
