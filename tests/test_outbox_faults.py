"""The outbox sender when channels misbehave: nothing lost, nothing sent twice, staff told."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, select

from bot.channels.messages import OutboundMessage, SendError
from bot.errors import NoxbotError
from bot.rules.channels import ChannelName
from bot.store.tables import Outbox, StaffAlert
from bot.workflow.outbox import requeue
from bot.workflow.sending import MAX_ATTEMPTS, deliver_due
from tests.workflow_kit import ANNA_EMAIL, World


class Recorder:
    """A channel that records what it sends, and fails the way it is told to."""

    def __init__(self, name: ChannelName, error: SendError | None = None) -> None:
        self.name = name
        self.error = error
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> str:
        if self.error is not None:
            raise self.error
        self.sent.append(message)
        return f"ref{len(self.sent)}"


def queue(world: World, channel: str, count: int) -> list[int]:
    with world.database.session() as session:
        rows = [
            Outbox(
                channel=channel,
                address=f"p{i}@example.se" if channel == "email" else str(9000 + i),
                text=f"message {i}",
                headers={"message_id": f"<{channel}{i}@noxconsulting.se>"},
                next_attempt_at=world.clock(),
                created_at=world.clock(),
            )
            for i in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def statuses(world: World) -> list[str]:
    with world.session() as session:
        return [o.status for o in session.exec(select(Outbox).order_by(col(Outbox.id)))]


async def test_messages_for_a_channel_this_instance_lacks_do_not_hold_up_the_others(world):
    queue(world, "telegram", 60)  # older than the mail, and no bot configured here
    queue(world, "email", 3)
    mail = Recorder(ChannelName.EMAIL)
    await deliver_due(world.database, world.services, {ChannelName.EMAIL: mail})
    assert [m.address for m in mail.sent] == ["p0@example.se", "p1@example.se", "p2@example.se"]
    assert statuses(world).count("queued") == 60


async def test_a_refused_login_holds_the_queue_and_tells_staff_once(world):
    queue(world, "email", 3)
    broken = Recorder(ChannelName.EMAIL, SendError("SMTP login refused (535)", channel_broken=True))
    for _ in range(3):
        world.clock.advance(minutes=10)
        await deliver_due(world.database, world.services, {ChannelName.EMAIL: broken})
    with world.session() as session:
        rows = list(session.exec(select(Outbox)))
    assert [(r.status, r.attempts) for r in rows] == [("queued", 0)] * 3
    assert [a.kind for a in world.alerts()] == ["channel_broken"]

    world.clock.advance(minutes=10)  # staff fixed the password
    fixed = Recorder(ChannelName.EMAIL)
    await deliver_due(world.database, world.services, {ChannelName.EMAIL: fixed})
    assert len(fixed.sent) == 3 and statuses(world) == ["sent"] * 3


async def test_a_message_that_gave_up_can_be_queued_again_by_staff(world):
    [row_id] = queue(world, "email", 1)
    refused = Recorder(ChannelName.EMAIL, SendError("recipient refused: 550", permanent=True))
    await deliver_due(world.database, world.services, {ChannelName.EMAIL: refused})
    assert statuses(world) == ["failed"]
    [alert] = world.alerts("send_failed")
    assert f"noxbot outbox retry {row_id}" in alert.text

    with world.database.session() as session:
        requeue(session, world.services, row_id, actor="staff:eva")
    mail = Recorder(ChannelName.EMAIL)
    await deliver_due(world.database, world.services, {ChannelName.EMAIL: mail})
    assert [m.message_id for m in mail.sent] == ["<email0@noxconsulting.se>"]  # the same mail
    with world.database.session() as session, pytest.raises(NoxbotError, match="only a failed"):
        requeue(session, world.services, row_id, actor="staff:eva")


async def test_a_message_queued_again_that_fails_again_raises_one_open_alert(world):
    """The retry answers the first alert; the second failure is a new one. Before, two
    identical alerts stood open about the same message."""
    [row_id] = queue(world, "email", 1)
    refused = Recorder(ChannelName.EMAIL, SendError("recipient refused: 550", permanent=True))
    await deliver_due(world.database, world.services, {ChannelName.EMAIL: refused})
    with world.database.session() as session:
        requeue(session, world.services, row_id, actor="staff:eva")
    await deliver_due(world.database, world.services, {ChannelName.EMAIL: refused})
    first, second = world.alerts("send_failed")
    assert first.resolved_by == "staff:eva" and second.resolved_at is None


async def test_a_transient_failure_is_retried_until_the_attempts_run_out(world):
    queue(world, "email", 1)
    down = Recorder(ChannelName.EMAIL, SendError("SMTP server unreachable"))
    for _ in range(MAX_ATTEMPTS):
        world.clock.advance(hours=2)
        await deliver_due(world.database, world.services, {ChannelName.EMAIL: down})
    assert statuses(world) == ["failed"]


async def test_the_sender_stops_between_messages_when_asked(world):
    queue(world, "email", 5)
    stop = asyncio.Event()

    class StopsAfterOne(Recorder):
        async def send(self, message: OutboundMessage) -> str:
            stop.set()
            return await super().send(message)

    mail = StopsAfterOne(ChannelName.EMAIL)
    await deliver_due(world.database, world.services, {ChannelName.EMAIL: mail}, stop=stop)
    assert len(mail.sent) == 1
    assert statuses(world) == ["sent"] + ["queued"] * 4


async def test_a_row_already_marked_sent_is_not_recorded_twice(world):
    queue(world, "email", 1)
    mail = Recorder(ChannelName.EMAIL)
    await deliver_due(world.database, world.services, {ChannelName.EMAIL: mail})
    world.clock.advance(hours=1)
    await deliver_due(world.database, world.services, {ChannelName.EMAIL: mail})
    assert len(mail.sent) == 1
    with world.session() as session:
        assert session.exec(select(StaffAlert)).all() == []


async def test_a_refused_login_holds_every_message_of_that_channel_and_alerts_once(world):
    queue(world, "email", 3)
    attempts = 0

    class Refusing(Recorder):
        async def send(self, message: OutboundMessage) -> str:
            nonlocal attempts
            attempts += 1
            raise SendError(f"SMTP 535 session {attempts}", channel_broken=True)

    for _ in range(20):  # a minute of rounds, every 3 s
        world.clock.advance(seconds=3)
        await deliver_due(
            world.database, world.services, {ChannelName.EMAIL: Refusing(ChannelName.EMAIL)}
        )
    assert attempts == 1  # one login tried, then the whole channel waits
    world.clock.advance(minutes=6)
    await deliver_due(
        world.database, world.services, {ChannelName.EMAIL: Refusing(ChannelName.EMAIL)}
    )
    assert attempts == 2
    assert len(world.alerts("channel_broken")) == 1  # though the server's reply changed


async def test_a_challenge_that_cannot_be_delivered_sends_the_case_to_staff(world):
    from tests.workflow_kit import JOHN_EMAIL, JOHN_TELEGRAM

    outcome = world.chat(JOHN_TELEGRAM, "Please send me a copy of my personal data.")
    assert world.case(outcome.reference).status == "awaiting_verification"
    bounced = Recorder(
        ChannelName.EMAIL, SendError(f"recipient refused: 550 {JOHN_EMAIL}", permanent=True)
    )
    await deliver_due(world.database, world.services, {ChannelName.EMAIL: bounced})
    assert world.case(outcome.reference).status == "unverified"
    assert world.verification(outcome.reference).status == "failed"
    # One alert for one problem: the failed verification says it could not be delivered.
    [alert] = world.alerts()
    assert alert.kind == "verification_failed" and "could not be delivered" in alert.text


async def test_a_message_id_is_in_the_domain_the_organisation_writes_from(tmp_path):
    from bot.config import OrganisationSettings
    from tests.workflow_kit import ANNA_EMAIL, make_world

    world = make_world(tmp_path, organisation=OrganisationSettings(email="dpo@nox.example"))
    world.email(ANNA_EMAIL, "Jag vill ha en kopia av mina personuppgifter.")
    with world.session() as session:
        assert session.exec(select(Outbox)).one().headers["message_id"].endswith("@nox.example>")
    world.database.dispose()


async def test_a_failed_verification_challenge_is_not_retried_and_the_way_out_runs_as_shown(
    world,
):
    reference = world.email(ANNA_EMAIL, "Jag vill ha ett registerutdrag.", "Utdrag").reference
    with world.database.session() as session:
        row = session.exec(select(Outbox).where(Outbox.purpose == "verification_challenge")).one()
        row.status = "failed"
        session.add(row)
        row_id = row.id
    with world.database.session() as session, pytest.raises(NoxbotError) as refused:
        requeue(session, world.services, row_id, actor="staff:eva")
    assert f"noxbot requests verify {reference} --by phone --note '…'" in str(refused.value)
    assert f"noxbot requests close {reference} --reason '…'" in str(refused.value)


async def test_the_log_says_what_each_round_sent_or_could_not(world, caplog):
    """A server that is down was silent in the log until staff were alerted hours later."""
    import logging

    from bot.runtime.supervisor import say_what_was_sent

    queue(world, "email", 2)
    down = Recorder(ChannelName.EMAIL, SendError("SMTP server unreachable: p0@example.se"))
    with caplog.at_level(logging.INFO, logger="noxbot"):
        report = await deliver_due(world.database, world.services, {ChannelName.EMAIL: down})
        say_what_was_sent("outbox sender (email)", report)
        world.clock.advance(hours=2)
        up = Recorder(ChannelName.EMAIL)
        say_what_was_sent(
            "outbox sender (email)",
            await deliver_due(world.database, world.services, {ChannelName.EMAIL: up}),
        )
    assert [r.getMessage() for r in caplog.records] == [
        "outbox sender (email): 2 message(s) could not be sent now (outbox 1, 2), tried again "
        "later; noxbot outbox list says why",
        "outbox sender (email): sent 2 message(s)",
    ]
