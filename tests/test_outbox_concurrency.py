"""Two senders on one PostgreSQL database never send the same outbox row twice."""

from __future__ import annotations

import asyncio
import threading

from bot.channels.base import ChannelName, OutboundMessage
from bot.db import Database
from bot.models import Outbox
from bot.outbox import deliver_due
from tests.workflow_kit import make_world


class SlowChannel:
    """Takes a moment per message, so the two senders overlap."""

    name = ChannelName.EMAIL

    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    async def send(self, message: OutboundMessage) -> str:
        await asyncio.sleep(0.01)
        self.sent.append(message.message_id or "")
        return message.message_id or ""


def test_outbox_rows_are_claimed_once_across_senders(tmp_path, postgres_url):
    world = make_world(tmp_path, postgres_url)
    with world.database.session() as session:
        for i in range(40):
            session.add(
                Outbox(
                    channel="email",
                    address=f"p{i}@example.se",
                    text="hej",
                    headers={"message_id": f"<{i}@noxconsulting.se>"},
                    next_attempt_at=world.clock(),
                )
            )
    sent: list[str] = []

    def sender() -> None:
        database = Database(postgres_url, migrate=False)
        for _ in range(10):
            asyncio.run(
                deliver_due(
                    database, world.services, {ChannelName.EMAIL: SlowChannel(sent)}, limit=5
                )
            )
        database.dispose()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(sent) == sorted(f"<{i}@noxconsulting.se>" for i in range(40))
    world.database.dispose()
