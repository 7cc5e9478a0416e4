"""From the terminal to real servers on 127.0.0.1: manual intake, a code mailed over SMTP,
the answer, staff approval, and the reply sent through the Bot API."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from typer.testing import CliRunner

from bot.cli import app
from tests.fake_bot_api import FakeBotApi

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


class Mailbox:
    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook
        self.received.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


class Servers:
    """aiosmtpd and the fake Bot API on their own event loop, in a thread, so the command
    line (which runs its own loop) can talk to them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.mailbox = Mailbox()
        self.bot_api = FakeBotApi()

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def start(self) -> None:
        self.thread.start()

        async def smtp() -> int:
            server = await self.loop.create_server(lambda: SMTPServer(self.mailbox), "127.0.0.1", 0)
            self.smtp_server = server
            return server.sockets[0].getsockname()[1]

        self.smtp_port = self._run(smtp())
        self._run(self.bot_api.start())

    def stop(self) -> None:
        async def close() -> None:
            self.smtp_server.close()
            await self.bot_api.stop()

        self._run(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture
def servers() -> Iterator[Servers]:
    s = Servers()
    s.start()
    yield s
    s.stop()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_request_on_telegram_is_verified_by_mail_and_answered_on_telegram(
    servers, tmp_path, monkeypatch
):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "nox.db"}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {servers.smtp_port}\ntls = "none"\n'
        f'[telegram]\nbase_url = "{servers.bot_api.base_url}"\n'
    )
    monkeypatch.setenv("NOXBOT_CONFIG", str(config))
    monkeypatch.setenv("NOXBOT_TELEGRAM_TOKEN", servers.bot_api.token)
    run("subjects", "import", str(EXAMPLES / "register.csv"))

    request = tmp_path / "request.txt"
    request.write_text("Please delete all my personal data.")
    case = json.loads(
        run(
            "requests",
            "new",
            "--channel",
            "telegram",
            "--from",
            "5550002",
            "--text-file",
            str(request),
            "--format",
            "json",
        )
    )
    assert case["verification"] == {
        "channel": "email",
        "method": "email_code",
        "status": "pending",
        "attempts": 0,
    }

    assert "sent 2" in run("outbox", "send")  # the code by mail, the acknowledgement here
    [challenge] = servers.mailbox.received
    [ack] = servers.bot_api.sent("sendMessage")
    assert int(ack.fields["chat_id"]) == 5550002 and case["reference"] in ack.fields["text"]
    assert challenge["To"] == "john.carter@example.com"
    assert case["reference"] in challenge["Subject"]
    assert challenge["Auto-Submitted"] == "auto-generated"
    code = re.search(r"\b\d{6}\b", challenge.get_body(("plain",)).get_content()).group(0)

    answer = tmp_path / "answer.txt"
    answer.write_text(code)
    run("requests", "new", "--channel", "telegram", "--from", "5550002", "--text-file", str(answer))
    [draft] = json.loads(run("drafts", "list", "--format", "json"))
    assert draft["reference"] == case["reference"] and draft["to"]["channel"] == "telegram"
    run("drafts", "approve", str(draft["id"]))
    assert "sent 2" in run("outbox", "send")  # the "confirmed" note and the reply

    texts = [c.fields["text"] for c in servers.bot_api.sent("sendMessage")]
    assert any("confirmed" in t for t in texts)
    assert any(case["reference"] in t and "ERASURE" in t for t in texts)
    shown = json.loads(run("requests", "show", case["reference"], "--format", "json"))
    assert shown["status"] == "done"
