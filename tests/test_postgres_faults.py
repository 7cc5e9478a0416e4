"""On PostgreSQL, with several writers and a server that can go away: requests are never
quarantined for a database's own trouble and the audit chain holds (two senders at once:
tests/test_outbox_concurrency.py)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import select

from bot.channels.messages import InboundMessage
from bot.rules.channels import ChannelName
from bot.runtime.intake import handle_inbound
from bot.store import audit
from bot.store.database import TRANSIENT_DB_ERRORS, Database
from bot.store.tables import ChannelCursor, Message, Request
from tests import pg
from tests.workflow_kit import ANNA_EMAIL, World, make_world

ERASE = "Jag vill att ni raderar alla mina personuppgifter."


def request_mail(world: World, **kw) -> InboundMessage:
    kw = {"message_id": "<r1@example.se>", "text": ERASE, "subject": "Radera mig", **kw}
    return InboundMessage(ChannelName.EMAIL, ANNA_EMAIL, received_at=world.clock(), **kw)


def cursor(world: World) -> str | None:
    with world.session() as session:
        row = session.get(ChannelCursor, "imap:INBOX")
        return row.value if row else None


@pytest.fixture
def pg_world(tmp_path, postgres_url) -> Iterator[World]:
    world = make_world(tmp_path, postgres_url)
    yield world
    world.database.dispose()


def test_a_staff_command_writing_at_the_same_moment_does_not_quarantine_a_request(
    pg_world, postgres_url
):
    other = Database(postgres_url, migrate=False)

    def staff_command() -> None:  # e.g. `noxbot alerts resolve` in another process
        with other.session() as session:
            audit.record(session, at=pg_world.clock(), actor="staff:eva", action="something")
            time.sleep(1.0)

    thread = threading.Thread(target=staff_command)
    thread.start()
    time.sleep(0.3)
    handle_inbound(
        pg_world.database, pg_world.services, request_mail(pg_world), "imap:INBOX", "1:1"
    )
    thread.join()
    other.dispose()
    with pg_world.session() as session:
        assert session.exec(select(Message)).one().state == "request"
        assert audit.verify_chain(session)[1] == []


def test_text_with_nul_and_an_absurd_message_id_are_read_not_fatal(pg_world):
    inbound = request_mail(
        pg_world, text=ERASE + "\x00 Anna", message_id=f"<{'x' * 3000}@example.se>"
    )
    handle_inbound(pg_world.database, pg_world.services, inbound, "imap:INBOX", "1:7")
    handle_inbound(pg_world.database, pg_world.services, inbound, "imap:INBOX", "1:7")  # again
    with pg_world.session() as session:
        [message] = session.exec(select(Message)).all()
        [case] = session.exec(select(Request)).all()
    assert message.state == "request" and "\x00" not in message.text
    assert message.message_id is None  # too long to thread by; still read once only
    assert case.kinds == ["erasure"]
    assert cursor(pg_world) == "1:7"


@pytest.fixture
def own_cluster() -> Iterator[pg.PostgresCluster]:
    """A cluster of this test's own, so it can be stopped and started."""
    if not pg.available():
        pytest.skip("PostgreSQL server binaries not found")
    cluster = pg.start_cluster()
    yield cluster
    cluster.stop()


def test_a_database_that_goes_away_is_waited_for_and_nothing_is_lost(tmp_path, own_cluster):
    name = f"t_{uuid.uuid4().hex[:8]}"
    admin = create_engine(own_cluster.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    world = make_world(tmp_path, own_cluster.url(name))
    inbound = request_mail(world)

    own_cluster.pause()
    with pytest.raises(TRANSIENT_DB_ERRORS):
        handle_inbound(world.database, world.services, inbound, "imap:INBOX", "1:1")
    own_cluster.resume()

    assert cursor(world) is None  # not moved past the message: it is read again
    handle_inbound(world.database, world.services, inbound, "imap:INBOX", "1:1")
    with world.session() as session:
        assert [m.state for m in session.exec(select(Message))] == ["request"]
    assert cursor(world) == "1:1"
    world.database.dispose()


def test_a_nul_in_a_message_id_is_read_not_fatal(pg_world):
    inbound = request_mail(pg_world, message_id="<x\x00y@example.se>")
    handle_inbound(pg_world.database, pg_world.services, inbound, "imap:INBOX", "1:3")
    with pg_world.session() as session:
        assert [m.state for m in session.exec(select(Message))] == ["request"]
    assert cursor(pg_world) == "1:3"


def test_a_statement_the_database_refuses_for_this_message_is_not_waited_for(pg_world):
    """A mail with 70,000 References: kept (the newest 20 are enough to thread), read once."""
    references = tuple(f"<r{i}@example.se>" for i in range(70_000))
    inbound = request_mail(pg_world, references=references)
    handle_inbound(pg_world.database, pg_world.services, inbound, "imap:INBOX", "1:4")
    assert cursor(pg_world) == "1:4"


def test_which_database_errors_pass_by_themselves(own_cluster):
    from sqlalchemy import text as sql

    from bot.store.database import is_transient, make_engine

    engine = make_engine(own_cluster.admin_url)
    with engine.connect() as connection, pytest.raises(Exception) as refused:
        many = {f"p{i}": i for i in range(70_000)}
        connection.execute(sql(f"SELECT 1 WHERE 1 IN ({','.join(':' + k for k in many)})"), many)
    assert not is_transient(refused.value)
    own_cluster.pause()
    with pytest.raises(Exception) as down, engine.connect() as connection:
        connection.execute(sql("SELECT 1"))
    assert is_transient(down.value)
    own_cluster.resume()
    engine.dispose()
