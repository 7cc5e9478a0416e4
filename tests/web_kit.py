"""A staff console over the demo's database, served on 127.0.0.1 for browser tests and the
README's screenshots (bench/console_screenshots.py)."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from rich.console import Console
from sqlmodel import select

from bot.channels.memory import MemoryChannel
from bot.channels.messages import InboundMessage
from bot.cli.demo import demo
from bot.config import DatabaseSettings, Settings, WebSettings
from bot.rules.channels import ChannelName
from bot.rules.deadlines import stockholm_date
from bot.store.database import Database
from bot.store.records import get_case
from bot.store.tables import Draft, Request
from bot.web import accounts
from bot.web.app import create_app
from bot.web.server import serve_console
from bot.workflow.confirming import verify_by_phone
from bot.workflow.pipeline import process_inbound
from bot.workflow.sending import deliver_due
from bot.workflow.services import Services
from tests.workflow_kit import World

CHROMIUM = "/usr/bin/chromium"
STAFF_NAME, STAFF_PASSWORD = "alice", "correct horse battery"


@dataclass
class ConsoleSite:
    url: str
    database: Database
    services: Services
    overdue_reference: str  # Erik's portability request: overdue, a reply with attachments
    stranger_reference: str  # the demo's erasure request from an address not on file
    unknown_reference: str  # an access request from an address nobody on file has

    def send_outbox(self) -> list[str]:
        """What the outbox sender would send now (in-memory channels); the addresses."""
        return send_outbox(self.database, self.services)


def send_outbox(database: Database, services: Services) -> list[str]:
    """Run the outbox sender once over in-memory channels; the addresses it sent to."""
    channels = {name: MemoryChannel(name) for name in ChannelName}
    # In a thread of its own: Playwright's sync API keeps an event loop in this one.
    thread = threading.Thread(target=asyncio.run, args=(deliver_due(database, services, channels),))
    thread.start()
    thread.join(timeout=30)
    return [m.address for ch in channels.values() for m in ch.sent]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(directory: Path) -> tuple[Database, Services, list[str]]:
    """The demo's cases, an overdue portability case with its export attached, and a staff
    account with a password."""
    demo(directory, Console(file=io.StringIO()))
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{(directory / 'demo.db').resolve()}")
    )
    database = Database(settings.database.url)
    services = Services.from_settings(settings)
    with database.session() as session:
        outcome = process_inbound(
            session,
            services,
            InboundMessage(
                ChannelName.EMAIL,
                "erik.svensson@example.se",
                sender_name="Erik Svensson",
                subject="Dataportabilitet",
                text="Hej, jag vill få ut mina uppgifter i ett maskinläsbart format "
                "(dataportabilitet) så att jag kan flytta dem till en annan leverantör.",
                message_id="<web-1@example.se>",
            ),
        )
    reference = outcome.reference or ""
    with database.session() as session:
        unknown = process_inbound(
            session,
            services,
            InboundMessage(
                ChannelName.EMAIL,
                "okand@example.net",
                sender_name="Okänd Person",
                subject="Registerutdrag",
                text="Hej, jag vill ha en kopia av alla personuppgifter ni har om mig.",
                message_id="<web-2@example.net>",
            ),
        )
        stranger = session.exec(
            select(Request).where(Request.requester_address == "stranger@example.org")
        ).one()
        others = [stranger.reference, unknown.reference or ""]
    with database.session() as session:
        verify_by_phone(
            session, services, reference, "called Erik on 073-987 65 43", actor="staff:demo"
        )
    today = stockholm_date(services.clock(), settings.organisation.timezone)
    with database.session() as session:
        case = get_case(session, reference)
        case.received_at = services.clock() - timedelta(days=38)
        case.due_date = today - timedelta(days=20)
        case.target_date = today - timedelta(days=30)
        session.add(case)
        account, _ = accounts.add_account(
            session, STAFF_NAME, now=services.clock(), actor="staff:admin", setup_hours=1
        )
        accounts.set_password(session, account, STAFF_PASSWORD, services.clock())
        assert session.exec(select(Draft).where(Draft.request_id == case.id)).first()
    send_outbox(database, services)  # the acknowledgements, as a running noxbot sends them
    return database, services, [reference, *others]


@contextmanager
def serve(directory: Path, login_attempts: int = 3) -> Iterator[ConsoleSite]:
    """The console on a free loopback port, in a thread, until the block ends."""
    database, services, references = prepare(directory)
    port = free_port()
    web = WebSettings(port=port, login_attempts=login_attempts)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve_console(database, services, web, stop))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield ConsoleSite(f"http://127.0.0.1:{port}", database, services, *references)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        database.dispose()


#: The password of the staff member `console_client` logs in.
CONSOLE_PASSWORD = "a long enough password"


@asynccontextmanager
async def console_client(world: World) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The console over `world`, with staff member alice logged in; her form token."""
    with world.database.session() as session:
        account, _ = accounts.add_account(
            session, "alice", now=world.clock(), actor="staff:admin", setup_hours=1
        )
        accounts.set_password(session, account, CONSOLE_PASSWORD, world.clock())
    app = create_app(world.database, world.services, WebSettings())
    transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        login = re.search(r'name="csrf" value="([^"]+)"', (await http.get("/login")).text)
        assert login is not None
        form = {"csrf": login[1], "name": "alice", "password": CONSOLE_PASSWORD}
        assert (await http.post("/login", data=form)).status_code == 303
        token = re.search(r'name="csrf" value="([^"]+)"', (await http.get("/")).text)
        assert token is not None
        yield http, token[1]
