"""Sending at once: whatever a commit queues is sent when it commits, not at the next sweep
(every OUTBOX_SECONDS); on PostgreSQL a commit in another process (a CLI approval) wakes
`noxbot run` too. The sweep is made half a minute long here, so that an answer in seconds
can only have come from the wake-up, however busy the machine (benchmarks measure how soon:
bench/conversation_latency.py)."""

from __future__ import annotations

import asyncio
import re
import time

from aiosmtpd.smtp import SMTP as SMTPServer

from bot.clock import utcnow
from bot.config import SmtpSettings, TelegramSettings, VerificationSettings
from bot.runtime import supervisor
from bot.runtime.supervisor import run_workers
from bot.runtime.wakeups import listen_for_wakeups
from bot.store.database import Database
from bot.store.tables import StaffAlert
from tests.fake_bot_api import FakeBotApi
from tests.workflow_kit import JOHN_TELEGRAM, make_world

STRANGER = 9990001
#: The sweep in these tests, and how soon an answer must come instead.
SWEEP_SECONDS, AT_ONCE_SECONDS = 30.0, 10.0


async def _first_text_to(api: FakeBotApi, chat_id: int, after: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in api.sent()[after:]:
            if int(call.fields["chat_id"]) == chat_id:
                return call.fields["text"]
        await asyncio.sleep(0.01)
    raise AssertionError(f"nothing was sent to {chat_id} within {timeout} s")


async def test_the_acknowledgement_and_verified_answer_come_well_before_the_sweep(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(supervisor, "OUTBOX_SECONDS", SWEEP_SECONDS)
    mails: list[bytes] = []

    class Mailbox:
        async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook
            mails.append(envelope.content)
            return "250 OK"

    smtp = await asyncio.get_running_loop().create_server(
        lambda: SMTPServer(Mailbox()), "127.0.0.1", 0
    )
    api = FakeBotApi(hold_polls=0.02)
    await api.start()
    monkeypatch.setenv("NOXBOT_TELEGRAM_TOKEN", api.token)
    world = make_world(tmp_path, verification=VerificationSettings(acknowledge_at_once=True))
    world.services.clock = utcnow  # the workers run on the real clock
    settings = world.services.settings.model_copy(
        update={
            "smtp": SmtpSettings(
                host="127.0.0.1", port=smtp.sockets[0].getsockname()[1], tls="none"
            ),
            "telegram": TelegramSettings(base_url=api.base_url, poll_timeout_seconds=1),
        }
    )
    stop = asyncio.Event()
    workers = asyncio.create_task(run_workers(settings, world.database, world.services, stop))
    try:
        await asyncio.sleep(0.3)  # the workers are up and waiting
        api.user_says(STRANGER, "Please delete all my personal data")
        ack = await _first_text_to(api, STRANGER, 0, AT_ONCE_SECONDS)
        assert "contact channel" in ack

        api.user_says(int(JOHN_TELEGRAM), "Please delete all my personal data")
        deadline = time.monotonic() + AT_ONCE_SECONDS
        while not mails and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        code = re.search(rb"\b(\d{6})\b", mails[0]).group(1).decode()
        await asyncio.sleep(0.2)
        seen = len(api.sent())
        api.user_says(int(JOHN_TELEGRAM), code)
        verified = await _first_text_to(api, int(JOHN_TELEGRAM), seen, AT_ONCE_SECONDS)
        assert "confirmed" in verified
    finally:
        stop.set()
        await asyncio.wait_for(workers, 20)
        smtp.close()
        await api.stop()
        world.database.dispose()


async def test_a_commit_in_another_process_wakes_the_senders_through_postgres(postgres_url):
    here, there = Database(postgres_url), Database(postgres_url, migrate=False)
    stop = asyncio.Event()
    wake = here.wakeup.subscribe()
    listener = asyncio.create_task(listen_for_wakeups(here, stop))
    try:
        await asyncio.wait_for(wake.wait(), 5)  # a new connection wakes once, to catch up
        wake.clear()
        with there.session() as session:  # another instance, or the CLI, raises an alert
            session.add(StaffAlert(kind="test", text="a test alert", created_at=utcnow()))
        await asyncio.wait_for(wake.wait(), 2)
        wake.clear()
        with there.session() as session:  # a read-only transaction wakes nobody
            session.get(StaffAlert, 1)
        await asyncio.sleep(0.3)
        assert not wake.is_set()
    finally:
        stop.set()
        await asyncio.wait_for(listener, 5)
        here.dispose()
        there.dispose()
