"""Staff accounts of the console: what a session and the login limit allow, over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.store.tables import StaffAccount, WebSession
from bot.web import accounts
from tests.workflow_kit import make_world


def test_a_session_ends_at_its_lifetime_and_a_reset_ends_it_at_once(tmp_path: Path):
    world = make_world(tmp_path)
    now = world.clock()
    with world.database.session() as session:
        account, _ = accounts.add_account(
            session, "alice", now=now, actor="staff:admin", setup_hours=1
        )
        accounts.set_password(session, account, "a long enough password", now)
        token, _ = accounts.open_session(session, account, now, minutes=60)
    with world.database.session() as session:
        assert accounts.session_for(session, token, now + timedelta(minutes=59)) is not None
        assert accounts.session_for(session, token, now + timedelta(minutes=60)) is None
        # The expired session is gone from the database, not only refused.
        assert session.exec(select(WebSession)).all() == []
    with world.database.session() as session:
        account = session.exec(select(StaffAccount)).one()
        token, _ = accounts.open_session(session, account, now, minutes=60)
        accounts.reset_account(session, "alice", now=now, actor="staff:admin", setup_hours=1)
        assert accounts.session_for(session, token, now) is None
        assert accounts.check_login(session, "alice", "a long enough password") is None
    world.database.dispose()


def test_the_password_is_kept_only_as_an_argon2_hash_and_a_setup_link_expires(tmp_path: Path):
    world = make_world(tmp_path)
    now = world.clock()
    with world.database.session() as session:
        account, link = accounts.add_account(
            session, "bertil", now=now, actor="staff:admin", setup_hours=2
        )
        assert accounts.account_for_setup(session, link, now + timedelta(hours=2)) is None
        assert accounts.account_for_setup(session, link, now + timedelta(hours=1)) is account
        with pytest.raises(accounts.AccountError, match="at least 12"):
            accounts.set_password(session, account, "short", now)
        accounts.set_password(session, account, "bertils lösenord", now)
        assert account.password_hash and account.password_hash.startswith("$argon2id$")
        assert "lösenord" not in account.password_hash
        assert accounts.account_for_setup(session, link, now) is None  # once only
        with pytest.raises(accounts.AccountError, match="exists already"):
            accounts.add_account(session, "bertil", now=now, actor="staff:admin", setup_hours=2)
        with pytest.raises(accounts.AccountError, match="a staff name is"):
            accounts.add_account(session, "bad name!", now=now, actor="x", setup_hours=2)
    world.database.dispose()


def test_the_login_limit_refuses_after_the_attempts_and_lets_in_when_the_window_moves_on():
    limiter = accounts.LoginLimiter(attempts=3, window=timedelta(minutes=15))
    start = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    keys = ["name:alice", "client:127.0.0.1"]
    for minute in range(3):
        assert not limiter.blocked(keys, start + timedelta(minutes=minute))
        limiter.failed(keys, start + timedelta(minutes=minute))
    assert limiter.blocked(keys, start + timedelta(minutes=5))
    assert limiter.blocked(["name:bob", "client:127.0.0.1"], start + timedelta(minutes=5))
    assert not limiter.blocked(["name:bob", "client:10.0.0.9"], start + timedelta(minutes=5))
    assert not limiter.blocked(keys, start + timedelta(minutes=15, seconds=1))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_console_logs_in_searches_the_queue_and_shows_a_case_on_both_databases(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
):
    import re

    import httpx

    from bot.config import WebSettings
    from bot.web.app import create_app
    from tests.workflow_kit import ANNA_EMAIL

    url = None if backend == "sqlite" else request.getfixturevalue("postgres_url")
    world = make_world(tmp_path, url)
    try:
        reference = world.email(ANNA_EMAIL, "Jag vill att ni raderar mina uppgifter.").reference
        with world.database.session() as session:
            account, _ = accounts.add_account(
                session, "alice", now=world.clock(), actor="staff:admin", setup_hours=1
            )
            accounts.set_password(session, account, "a long enough password", world.clock())
        app = create_app(world.database, world.services, WebSettings())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            form = (await client.get("/login")).text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf is not None
            response = await client.post(
                "/login",
                data={"csrf": csrf.group(1), "name": "alice", "password": "a long enough password"},
            )
            assert response.status_code == 303 and response.headers["location"] == "/"
            queue = await client.get("/", params={"q": "raderar"})
            assert reference in queue.text and ANNA_EMAIL in queue.text
            assert reference not in (await client.get("/", params={"q": "nobody"})).text
            case = await client.get(f"/cases/{reference}")
            assert "Jag vill att ni raderar mina uppgifter." in case.text
            assert "checking identity" in case.text
    finally:
        world.database.dispose()
