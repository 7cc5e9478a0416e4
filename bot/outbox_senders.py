"""The outbox's channels as the config sets them up: SMTP for mail, the Bot API for chat."""

from __future__ import annotations

from contextlib import AsyncExitStack

from telegram.error import TelegramError

from bot.channels.base import ChannelName, OutboundChannel
from bot.channels.smtp import SmtpChannel
from bot.channels.telegram import TelegramChannel, make_bot
from bot.config import Settings
from bot.db import Database
from bot.errors import NoxbotError
from bot.outbox import DeliveryReport, deliver_due
from bot.services import Services


async def send_due_once(
    settings: Settings, database: Database, services: Services
) -> tuple[DeliveryReport, list[str]]:
    """Send every due outbox message whose channel is configured; returns the report and
    the channels that are not configured."""
    channels: dict[ChannelName, OutboundChannel] = {}
    missing = []
    async with AsyncExitStack() as stack:
        if settings.smtp is not None:
            password = settings.secret(settings.smtp.password_env)
            if settings.smtp.username and password is None:
                raise NoxbotError(
                    f"[smtp] password_env = {settings.smtp.password_env!r}: the environment "
                    "variable is not set"
                )
            channels[ChannelName.EMAIL] = SmtpChannel(
                settings.smtp, password, settings.organisation.name
            )
        else:
            missing.append("SMTP")
        if settings.telegram is not None:
            token = settings.secret(settings.telegram.token_env)
            if token is None:
                raise NoxbotError(
                    f"[telegram] token_env = {settings.telegram.token_env!r}: the environment "
                    "variable is not set"
                )
            try:
                bot = await stack.enter_async_context(make_bot(settings.telegram, token))
            except TelegramError as exc:
                raise NoxbotError(f"Telegram at {settings.telegram.base_url}: {exc}") from exc
            channels[ChannelName.TELEGRAM] = TelegramChannel(bot)
        else:
            missing.append("Telegram")
        report = await deliver_due(database, services, channels)
    return report, missing
