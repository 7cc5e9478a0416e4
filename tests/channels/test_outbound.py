"""The outbox's senders against real servers on 127.0.0.1: aiosmtpd and a local Bot API."""

from __future__ import annotations

import asyncio
import email
import email.policy
from dataclasses import replace

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer

from bot.channels.messages import Attachment, Button, OutboundMessage, SendError
from bot.channels.smtp import SmtpChannel
from bot.channels.telegram import TelegramChannel, make_bot, split_text
from bot.config import SmtpSettings, TelegramSettings
from bot.rules.channels import ChannelName
from tests.fake_bot_api import FakeBotApi


class Mailbox:
    def __init__(self, refuse: str | None = None, greylist: str | None = None) -> None:
        self.received: list[email.message.EmailMessage] = []
        self.refuse = refuse
        self.greylist = greylist

    async def handle_RCPT(self, server, session, envelope, address, options):  # aiosmtpd hook
        if self.refuse and address == self.refuse:
            return "550 5.1.1 no such user"
        if self.greylist and address == self.greylist:
            return "450 4.2.0 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook
        self.received.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


@pytest.fixture
async def smtp_server():
    mailbox = Mailbox(refuse="nobody@example.se", greylist="new@example.se")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTPServer(mailbox), "127.0.0.1", 0)
    yield mailbox, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def _only_secret(server, session, envelope, mechanism, auth_data):  # aiosmtpd authenticator
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=auth_data.password == b"secret", handled=False)


@pytest.fixture
async def smtp_login_server():
    """An SMTP server that wants a login (without TLS: loopback only)."""
    mailbox = Mailbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTPServer(
            mailbox, authenticator=_only_secret, auth_require_tls=False, auth_required=True
        ),
        "127.0.0.1",
        0,
    )
    yield mailbox, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.fixture
async def bot_api():
    api = FakeBotApi()
    await api.start()
    yield api
    await api.stop()


REPLY = OutboundMessage(
    channel=ChannelName.EMAIL,
    address="anna@example.se",
    subject="Svar [DSR-2026-0001]",
    text="Hej Anna,\n\nhär är ditt svar.",
    message_id="<abc@noxconsulting.se>",
    in_reply_to="<q1@example.se>",
    references=("<q0@example.se>", "<q1@example.se>"),
    attachments=(Attachment("personuppgifter.json", "application/json", '{"namn": "Åsa"}'),),
    extra_headers=(("X-Noxbot-Reference", "DSR-2026-0001"),),
)


async def test_mail_goes_out_with_its_threading_headers_and_attachments(smtp_server):
    mailbox, port = smtp_server
    channel = SmtpChannel(
        SmtpSettings(host="127.0.0.1", port=port, tls="none"), None, "NOX Consulting AB"
    )
    assert await channel.send(REPLY) == "<abc@noxconsulting.se>"
    [mail] = mailbox.received
    assert mail["Message-ID"] == "<abc@noxconsulting.se>"
    assert mail["In-Reply-To"] == "<q1@example.se>"
    assert mail["References"] == "<q0@example.se> <q1@example.se>"
    assert mail["From"] == "NOX Consulting AB <info@noxconsulting.se>"
    assert mail["X-Noxbot-Reference"] == "DSR-2026-0001"
    assert "här är ditt svar" in mail.get_body(("plain",)).get_content()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "personuppgifter.json"
    assert attachment.get_content().decode() == '{"namn": "Åsa"}'


async def test_a_refused_recipient_is_a_permanent_failure(smtp_server):
    _, port = smtp_server
    channel = SmtpChannel(SmtpSettings(host="127.0.0.1", port=port, tls="none"), None, "NOX")
    bad = OutboundMessage(ChannelName.EMAIL, "nobody@example.se", "x", subject="s")
    with pytest.raises(SendError) as caught:
        await channel.send(bad)
    assert caught.value.permanent


async def test_a_server_that_is_down_is_a_transient_failure():
    from tests.pg import free_port

    channel = SmtpChannel(
        SmtpSettings(host="127.0.0.1", port=free_port(), tls="none", timeout_seconds=5), None, "NOX"
    )
    with pytest.raises(SendError) as caught:
        await channel.send(REPLY)
    assert not caught.value.permanent


async def test_chat_message_goes_out_with_buttons_reply_and_documents(bot_api):
    settings = TelegramSettings(base_url=bot_api.base_url)
    async with make_bot(settings, bot_api.token) as bot:
        channel = TelegramChannel(bot)
        sent_id = await channel.send(
            OutboundMessage(
                ChannelName.TELEGRAM,
                "5550001",
                "Var det du?",
                reply_to_message_id=11,
                buttons=(Button("Ja, det var jag", "v:1:y"), Button("Nej", "v:1:n")),
                attachments=(Attachment("data.csv", "text/csv", "namn\r\nÅsa\r\n"),),
            )
        )
    [message] = bot_api.sent("sendMessage")
    assert sent_id == "500"
    assert message.fields["chat_id"] == "5550001" and message.fields["text"] == "Var det du?"
    assert message.fields["reply_parameters"]["message_id"] == 11
    buttons = message.fields["reply_markup"]["inline_keyboard"][0]
    assert [(b["text"], b["callback_data"]) for b in buttons] == [
        ("Ja, det var jag", "v:1:y"),
        ("Nej", "v:1:n"),
    ]
    [document] = bot_api.sent("sendDocument")
    assert document.files == {"data.csv": "namn\r\nÅsa\r\n".encode()}


async def test_a_long_reply_is_split_and_buttons_go_on_the_last_piece(bot_api):
    text = "\n\n".join(f"Stycke {i}: " + "x" * 900 for i in range(10))
    assert all(len(p) <= 4096 for p in split_text(text))
    async with make_bot(TelegramSettings(base_url=bot_api.base_url), bot_api.token) as bot:
        await TelegramChannel(bot).send(
            OutboundMessage(ChannelName.TELEGRAM, "5550001", text, buttons=(Button("OK", "v:2:y"),))
        )
    pieces = bot_api.sent("sendMessage")
    assert len(pieces) == 3
    assert "\n\n".join(p.fields["text"] for p in pieces) == text
    assert [("reply_markup" in p.fields) for p in pieces] == [False, False, True]


async def test_a_bot_api_that_is_down_is_a_transient_failure(bot_api):
    async with make_bot(TelegramSettings(base_url=bot_api.base_url), bot_api.token) as bot:
        bot_api.fail_next = 1
        with pytest.raises(SendError) as caught:
            await TelegramChannel(bot).send(OutboundMessage(ChannelName.TELEGRAM, "1", "hi"))
    assert not caught.value.permanent


async def test_a_greylisted_recipient_is_tried_again_not_given_up(smtp_server):
    _, port = smtp_server
    channel = SmtpChannel(SmtpSettings(host="127.0.0.1", port=port, tls="none"), None, "NOX")
    later = OutboundMessage(ChannelName.EMAIL, "new@example.se", "x", subject="s")
    with pytest.raises(SendError, match="450") as caught:
        await channel.send(later)
    assert not caught.value.permanent and not caught.value.channel_broken


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_a_refused_login_is_the_channel_broken_not_the_message(smtp_login_server):
    mailbox, port = smtp_login_server
    settings = SmtpSettings(host="127.0.0.1", port=port, tls="none", username="info")
    with pytest.raises(SendError, match="login refused") as caught:
        await SmtpChannel(settings, "rotated-password", "NOX").send(REPLY)
    assert caught.value.channel_broken and not caught.value.permanent
    assert await SmtpChannel(settings, "secret", "NOX").send(REPLY) == REPLY.message_id
    assert len(mailbox.received) == 1


async def test_a_long_reply_cut_off_half_way_goes_on_where_it_stopped(bot_api):
    text = "\n\n".join(f"Stycke {i}: " + "x" * 900 for i in range(10))
    message = OutboundMessage(ChannelName.TELEGRAM, "5550001", text)
    bot_api.fail_calls = {2}  # the second piece meets a Bot API that is down
    async with make_bot(TelegramSettings(base_url=bot_api.base_url), bot_api.token) as bot:
        channel = TelegramChannel(bot)
        with pytest.raises(SendError) as caught:
            await channel.send(message)
        assert caught.value.progress == {"parts": 1, "first": 500}
        first = await channel.send(replace(message, progress=caught.value.progress))
    delivered = [c.fields["text"] for c in bot_api.sent("sendMessage")]
    assert first == "500"
    assert [t.split(":")[0] for t in delivered] == ["Stycke 0", "Stycke 4", "Stycke 4", "Stycke 8"]
    assert delivered[0] + "\n\n" + delivered[2] + "\n\n" + delivered[3] == text


async def test_a_refused_token_is_never_written_out(bot_api):
    from telegram.error import InvalidToken

    bot = make_bot(TelegramSettings(base_url=bot_api.base_url), "999:AAH-wrong")
    with pytest.raises(SendError) as caught:
        await TelegramChannel(bot).send(OutboundMessage(ChannelName.TELEGRAM, "1", "hi"))
    await bot.shutdown()
    assert caught.value.permanent
    assert "AAH-wrong" not in str(caught.value)
    assert isinstance(caught.value.__cause__, InvalidToken)


@pytest.fixture
def untrusted_tls(tmp_path):
    """A TLS context with a self-signed certificate no client trusts."""
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
async def test_an_untrusted_server_certificate_is_the_channel_broken(untrusted_tls, tls):
    loop = asyncio.get_running_loop()
    if tls == "ssl":  # implicit TLS, port 465
        server = await loop.create_server(
            lambda: SMTPServer(Mailbox()), "127.0.0.1", 0, ssl=untrusted_tls
        )
    else:
        server = await loop.create_server(
            lambda: SMTPServer(Mailbox(), tls_context=untrusted_tls, require_starttls=True),
            "127.0.0.1",
            0,
        )
    settings = SmtpSettings(host="127.0.0.1", port=server.sockets[0].getsockname()[1], tls=tls)
    try:
        with pytest.raises(SendError, match="certificate not trusted") as caught:
            await SmtpChannel(settings, None, "NOX").send(REPLY)
    finally:
        server.close()
    assert caught.value.channel_broken and not caught.value.permanent
