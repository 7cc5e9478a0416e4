"""`noxbot check` reaches real servers on 127.0.0.1 and says clearly what is wrong."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP as SMTPServer

from bot.config import parse_settings
from bot.reach import check_servers
from tests.pg import free_port


class _Sink:
    async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook name
        return "250 OK"


@pytest.fixture
async def smtp_port():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTPServer(_Sink()), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.fixture
async def bot_api():
    async def get_me(request: web.Request) -> web.Response:
        if request.match_info["token"] != "123:good":
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "id": 1,
                    "is_bot": True,
                    "first_name": "NOX",
                    "username": "nox_test_bot",
                },
            }
        )

    app = web.Application()
    app.router.add_post("/bot{token}/getMe", get_me)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/bot"
    await runner.cleanup()


async def test_check_reaches_smtp_and_the_bot_api(smtp_port, bot_api, monkeypatch):
    monkeypatch.setenv("TEST_TG_TOKEN", "123:good")
    settings = parse_settings(
        {
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "tls": "none"},
            "telegram": {"token_env": "TEST_TG_TOKEN", "base_url": bot_api},
        }
    )
    probes = {p.name: p for p in await check_servers(settings)}
    assert probes["SMTP"].ok, probes["SMTP"].detail
    assert probes["Telegram"].ok and "@nox_test_bot" in probes["Telegram"].detail


async def test_check_names_a_wrong_token_a_missing_secret_and_a_closed_port(bot_api, monkeypatch):
    monkeypatch.setenv("TEST_TG_TOKEN", "123:bad")
    monkeypatch.delenv("TEST_IMAP_PW", raising=False)
    closed = free_port()
    settings = parse_settings(
        {
            "imap": {
                "host": "127.0.0.1",
                "port": closed,
                "tls": "none",
                "username": "info",
                "password_env": "TEST_IMAP_PW",
                "timeout_seconds": 5,
            },
            "smtp": {"host": "127.0.0.1", "port": closed, "tls": "none", "timeout_seconds": 5},
            "telegram": {"token_env": "TEST_TG_TOKEN", "base_url": bot_api},
        }
    )
    probes = {p.name: p for p in await check_servers(settings)}
    assert not probes["IMAP"].ok and "TEST_IMAP_PW" in probes["IMAP"].detail
    assert not probes["SMTP"].ok and f"127.0.0.1:{closed}" in probes["SMTP"].detail
    assert not probes["Telegram"].ok and "Unauthorized" in probes["Telegram"].detail
    monkeypatch.setenv("TEST_IMAP_PW", "x")
    probes = {p.name: p for p in await check_servers(settings)}
    assert not probes["IMAP"].ok and "refused" in probes["IMAP"].detail.lower()
