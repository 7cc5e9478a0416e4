"""`noxbot run`: the workers together against real servers on 127.0.0.1, stopped cleanly."""

from __future__ import annotations

import asyncio
import email
import email.policy
import signal
import time

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from sqlmodel import select

from bot.clock import utcnow
from bot.config import ImapSettings, SmtpSettings, TelegramSettings
from bot.runtime.supervisor import run_workers
from bot.store.tables import Request, Verification
from bot.workflow.approval import approve_draft
from tests import dovecot
from tests.fake_bot_api import FakeBotApi
from tests.workflow_kit import make_world


async def wait_until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
def imap_server():
    if not dovecot.available():
        pytest.skip("dovecot-imapd is not installed (.ci/run installs it)")
    server = dovecot.start()
    yield server
    server.stop()


async def test_a_mailed_request_is_confirmed_on_telegram_approved_and_answered_by_mail(
    imap_server, tmp_path, monkeypatch
):
    received: list[email.message.EmailMessage] = []

    class Mailbox:
        async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook
            received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            return "250 OK"

    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTPServer(Mailbox()), "127.0.0.1", 0)
    api = FakeBotApi()
    await api.start()
    monkeypatch.setenv("NOXBOT_TELEGRAM_TOKEN", api.token)
    monkeypatch.setenv("NOXBOT_IMAP_PASSWORD", dovecot.PASSWORD)
    world = make_world(tmp_path)
    settings = world.services.settings.model_copy(
        update={
            "imap": ImapSettings(
                host="127.0.0.1",
                port=imap_server.port,
                tls="none",
                username=dovecot.USER,
                poll_seconds=1,
            ),
            "smtp": SmtpSettings(
                host="127.0.0.1", port=smtp.sockets[0].getsockname()[1], tls="none"
            ),
            "telegram": TelegramSettings(base_url=api.base_url, poll_timeout_seconds=1),
        }
    )
    # The workers run on a real clock, the one the IMAP server lives in (which need not be
    # this process's: under faketime only what passes the variables on is moved).
    skew = await dovecot.server_now(imap_server) - utcnow()
    world.services.clock = lambda: utcnow() + skew
    monkeypatch.setattr("bot.runtime.supervisor.OUTBOX_SECONDS", 0.1)
    stop = asyncio.Event()
    workers = asyncio.create_task(run_workers(settings, world.database, world.services, stop))
    try:
        import aioimaplib

        client = aioimaplib.IMAP4(host="127.0.0.1", port=imap_server.port, timeout=10)
        await client.wait_hello_from_server()
        await client.login(dovecot.USER, dovecot.PASSWORD)
        await client.append(
            b"From: Anna Lindqvist <anna.lindqvist@example.se>\r\nTo: info@noxconsulting.se\r\n"
            b"Subject: Radera mig\r\nMessage-ID: <run-1@example.se>\r\n\r\n"
            b"Jag vill att ni raderar alla mina personuppgifter.\r\n",
            mailbox="INBOX",
        )
        await client.logout()

        await wait_until(lambda: any(c.fields.get("reply_markup") for c in api.sent()))
        with world.session() as session:
            verification = session.exec(select(Verification)).one()
        api.user_presses(5550001, f"v:{verification.id}:y")
        await wait_until(
            lambda: world.session().exec(select(Request)).one().status == "awaiting_approval"
        )
        case = world.session().exec(select(Request)).one()
        with world.database.session() as session:
            approve_draft(
                session, world.services, world.reply_draft(case.reference).id, actor="staff:eva"
            )
        await wait_until(lambda: any(m["To"] == "anna.lindqvist@example.se" for m in received))
        await wait_until(lambda: world.case(case.reference).status == "done")
        [reply] = received
        assert reply["In-Reply-To"] == "<run-1@example.se>"
        assert case.reference in reply["Subject"]
    finally:
        stop.set()
        await asyncio.wait_for(workers, 20)  # every worker stops when asked
        smtp.close()
        await api.stop()
        world.database.dispose()


async def test_a_bot_api_that_is_down_at_start_does_not_keep_the_rest_from_starting(
    tmp_path, monkeypatch
):
    from contextlib import AsyncExitStack

    from bot.runtime.senders import open_channels
    from tests.pg import free_port

    monkeypatch.setenv("NOXBOT_TELEGRAM_TOKEN", "123:test")
    world = make_world(tmp_path)
    closed = f"http://127.0.0.1:{free_port()}/bot"
    settings = world.services.settings.model_copy(
        update={"telegram": TelegramSettings(base_url=closed)}
    )
    async with AsyncExitStack() as stack:
        channels = await open_channels(settings, stack)
        assert channels.bot is not None and "telegram" in channels.outbound


async def test_a_refused_bot_token_stops_the_start_with_one_line_and_no_token(
    tmp_path, monkeypatch
):
    from contextlib import AsyncExitStack

    from bot.errors import NoxbotError
    from bot.runtime.senders import open_channels

    api = FakeBotApi()
    await api.start()
    monkeypatch.setenv("NOXBOT_TELEGRAM_TOKEN", "999:AAH-wrong")
    world = make_world(tmp_path)
    settings = world.services.settings.model_copy(
        update={"telegram": TelegramSettings(base_url=api.base_url)}
    )
    try:
        async with AsyncExitStack() as stack:
            with pytest.raises(NoxbotError) as caught:
                await open_channels(settings, stack)
    finally:
        await api.stop()
    message = str(caught.value)
    assert "refused the token" in message and "AAH-wrong" not in message
    assert "\n" not in message


async def test_sigterm_stops_noxbot_run_while_a_large_mail_is_being_read(imap_server, tmp_path):
    """`noxbot run` as started by systemd: a mail that takes seconds to fetch and read (35 MB)
    does not delay a SIGTERM, and nothing more is read after it (the mail stays for the next
    start)."""
    import os
    import signal
    import sqlite3
    import sys

    import aioimaplib

    client = aioimaplib.IMAP4(host="127.0.0.1", port=imap_server.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(dovecot.USER, dovecot.PASSWORD)
    large = "Vi återkommer om offerten, tack.\r\n".encode() * 1_000_000
    for n, body in enumerate([b"Hej!\r\n", large]):
        await client.append(
            b"From: kund@example.com\r\nSubject: Offert\r\n"
            + f"Message-ID: <term-{n}@example.com>\r\n\r\n".encode()
            + body,
            mailbox="INBOX",
        )
    await client.logout()
    database = tmp_path / "noxbot.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{database}"\n\n'
        f'[imap]\nhost = "127.0.0.1"\nport = {imap_server.port}\ntls = "none"\n'
        f'username = "{dovecot.USER}"\npoll_seconds = 1\n'
        "backlog_days = 36500\n\n"  # whatever date the suite runs at
        "[classifier]\nbudget_seconds = 60\n"
    )

    def stored() -> list[str]:
        with sqlite3.connect(database) as connection:
            try:
                return [row[0] for row in connection.execute("SELECT message_id FROM message")]
            except sqlite3.OperationalError:  # not migrated yet
                return []

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "-c", str(config),
            env={**os.environ, "NOXBOT_IMAP_PASSWORD": dovecot.PASSWORD},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip

    process = await start()
    try:
        await wait_until(lambda: stored() == ["<term-0@example.com>"], timeout=60)
        # The large mail is being fetched or parsed: parsing alone takes ~2 s on a quiet
        # machine, after the fetch and the start of the process that parses it.
        await asyncio.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert time.monotonic() - stopping < 1.5
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert stored() == ["<term-0@example.com>"]  # read again on the next start


async def test_noxbot_run_serves_the_staff_console_when_web_is_configured(tmp_path):
    import httpx

    from bot.config import WebSettings
    from tests.pg import free_port

    world = make_world(tmp_path)
    port = free_port()
    settings = world.services.settings.model_copy(update={"web": WebSettings(port=port)})
    stop = asyncio.Event()
    task = asyncio.create_task(run_workers(settings, world.database, world.services, stop))
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = await client.get(f"http://127.0.0.1:{port}/login")
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
    assert response.status_code == 200 and "Log in to the staff console" in response.text
    stop.set()
    await asyncio.wait_for(task, 15)
    world.database.dispose()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_one_signal_stops_noxbot_run_cleanly_with_the_console_served(tmp_path, signum):
    """With [web] (as config.example.toml has it), one SIGTERM or Ctrl-C finished what was
    under way and ended with status 0. Before, uvicorn raised the signal again once it had
    stopped, noxbot took it for a second one and stopped at once (status 130)."""
    import sys

    import httpx

    from tests.pg import free_port

    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "noxbot.db"}"\n\n[web]\nport = {port}\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "-c", str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    await client.get(f"http://127.0.0.1:{port}/login")
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline and process.returncode is None
                    await asyncio.sleep(0.05)
        process.send_signal(signum)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert "stopping at once" not in err.decode() and "INFO stopped" in err.decode()
    assert b"noxbot stopped." in out


@pytest.mark.parametrize(
    ("setting", "variable", "value"),
    [
        # One arena (peak RSS): threads that allocate at once otherwise get arenas of their own.
        ("limit_malloc_arenas", "MALLOC_ARENA_MAX", "4"),
        # Large blocks (a mail of several MB and its copies) kept out of the heap.
        ("fix_mmap_threshold", "MALLOC_MMAP_THRESHOLD_", "65536"),
    ],
)
def test_the_worker_process_tunes_glibcs_malloc_unless_the_person_set_it(
    monkeypatch, setting, variable, value
):
    """`noxbot run` asks glibc for what bot.runtime.supervisor's `setting` says; the same
    variable in the environment is the person's choice and is left alone."""
    import platform
    import subprocess
    import sys

    from bot.runtime import supervisor

    monkeypatch.delenv(variable, raising=False)
    libc = platform.libc_ver()[0]
    # In a fresh interpreter: the setting is process-wide and stays.
    check = f"from bot.runtime.supervisor import {setting} as f; print(f())"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.stdout.strip() == ("True" if libc == "glibc" else "False"), done.stderr
    monkeypatch.setenv(variable, value)
    assert getattr(supervisor, setting)() is False


#: What `noxbot run` loads with mail channels only: its modules and the opened channels.
RUN_WITHOUT_TELEGRAM = """
import asyncio, contextlib, sys
import bot.cli.app
from bot.config import DatabaseSettings, ImapSettings, Settings, SmtpSettings
from bot.runtime.senders import open_channels
from bot.runtime.supervisor import run_workers

settings = Settings(
    database=DatabaseSettings(url="sqlite://"),
    imap=ImapSettings(host="127.0.0.1", username="info"),
    smtp=SmtpSettings(host="127.0.0.1"),
)

async def main():
    async with contextlib.AsyncExitStack() as stack:
        channels = await open_channels(settings, stack)
        print(sorted(str(name) for name in channels.outbound), channels.missing)

asyncio.run(main())
print(sorted({m.split(".")[0] for m in sys.modules} & {"telegram", "httpx"}))
"""


def test_noxbot_run_without_telegram_does_not_load_the_telegram_library():
    """python-telegram-bot and httpx hold ~15 MiB of `noxbot run`'s memory: only where a
    Telegram channel is configured (or `noxbot check` asks the Bot API)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_TELEGRAM], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['email'] ['Telegram']", "[]"]
