"""The outbox's channels as the config sets them up: SMTP for mail, the Bot API for chat.

One place for both `noxbot run` and `noxbot outbox send`: a secret that is not set is one
clear line at start, not a refused login on every message later.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.channels.messages import OutboundChannel
from bot.channels.smtp import SmtpChannel
from bot.config import Settings
from bot.errors import NoxbotError
from bot.rules.channels import ChannelName
from bot.store.database import Database
from bot.workflow.sending import DeliveryReport, deliver_due
from bot.workflow.services import Services

if TYPE_CHECKING:
    from telegram import Bot


@dataclass
class Channels:
    """The configured outbound channels, the bot behind the Telegram one, and the names of
    the channels left out of the config (their messages wait in the outbox)."""

    outbound: dict[ChannelName, OutboundChannel] = field(default_factory=dict)
    bot: Bot | None = None
    missing: list[str] = field(default_factory=list)


def _secret(settings: Settings, section: str, key: str, env_name: str) -> str:
    value = settings.secret(env_name)
    if value is None:
        # Its name is not repeated: a secret pasted in its place must not be printed.
        raise NoxbotError(f"[{section}] {key}: the environment variable it names is not set")
    return value


async def open_channels(settings: Settings, stack: AsyncExitStack) -> Channels:
    """Set up every configured channel; the bot is shut down when `stack` closes."""
    channels = Channels()
    if settings.smtp is not None:
        password = (
            _secret(settings, "smtp", "password_env", settings.smtp.password_env)
            if settings.smtp.username
            else None
        )
        channels.outbound[ChannelName.EMAIL] = SmtpChannel(
            settings.smtp, password, settings.organisation.name
        )
    else:
        channels.missing.append("SMTP")
    if settings.telegram is not None:
        # python-telegram-bot and httpx (~15 MiB) are imported only where Telegram is set up.
        from bot.channels.telegram import TelegramChannel, make_bot, start_bot

        token = _secret(settings, "telegram", "token_env", settings.telegram.token_env)
        bot = make_bot(settings.telegram, token)
        stack.push_async_callback(bot.shutdown)
        await start_bot(bot)
        channels.bot = bot
        channels.outbound[ChannelName.TELEGRAM] = TelegramChannel(bot)
    else:
        channels.missing.append("Telegram")
    return channels


async def send_due_once(
    settings: Settings, database: Database, services: Services
) -> tuple[DeliveryReport, list[str]]:
    """Send every due outbox message whose channel is configured; returns the report and
    the channels that are not configured."""
    async with AsyncExitStack() as stack:
        channels = await open_channels(settings, stack)
        report = await deliver_due(database, services, channels.outbound)
    return report, channels.missing
