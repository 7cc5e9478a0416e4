"""Two senders on one PostgreSQL database never send the same outbox row twice."""

from __future__ import annotations

import asyncio
import threading

from sqlmodel import select

from bot.channels.messages import OutboundMessage
from bot.rules.channels import ChannelName
from bot.store import audit
from bot.store.database import Database
from bot.store.records import get_case
from bot.store.tables import Outbox
from bot.workflow.sending import deliver_due
from tests.workflow_kit import ANNA_EMAIL, make_world


class SlowChannel:
    """Takes a moment per message, so the two senders overlap."""

    name = ChannelName.EMAIL

    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    async def send(self, message: OutboundMessage) -> str:
        await asyncio.sleep(0.01)
        self.sent.append(message.message_id or "")
        return message.message_id or ""


def test_two_senders_send_each_row_once_and_keep_the_audit_chain(tmp_path, postgres_url):
    """Two `noxbot run` instances on one database: each row is claimed by one of them, and
    both marking rows sent at the same moment never collide on the audit chain."""
    world = make_world(tmp_path, postgres_url)
    outcome = world.email(ANNA_EMAIL, "Jag vill att ni raderar alla mina personuppgifter.")
    with world.database.session() as session:
        case = get_case(session, outcome.reference)
        for row in session.exec(select(Outbox)):
            session.delete(row)
        for i in range(40):
            session.add(
                Outbox(
                    channel="email",
                    address=f"p{i}@example.se",
                    text="hej",
                    request_id=case.id,  # so that each send writes an audit event
                    headers={"message_id": f"<{i}@noxconsulting.se>"},
                    next_attempt_at=world.clock(),
                    created_at=world.clock(),
                )
            )
    sent: list[str] = []
    errors: list[str] = []

    def sender() -> None:
        database = Database(postgres_url, migrate=False)
        for _ in range(15):
            try:
                asyncio.run(
                    deliver_due(
                        database, world.services, {ChannelName.EMAIL: SlowChannel(sent)}, limit=4
                    )
                )
            except Exception as exc:
                errors.append(type(exc).__name__)
        database.dispose()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(sent) == sorted(f"<{i}@noxconsulting.se>" for i in range(40))
    with world.session() as session:
        assert {o.status for o in session.exec(select(Outbox))} == {"sent"}
        assert audit.verify_chain(session)[1] == []
    world.database.dispose()
