"""Sending chat messages through the Telegram Bot API (python-telegram-bot): the outbox's
Telegram channel. Knows the Bot API, not GDPR."""

from __future__ import annotations

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from bot.channels.base import ChannelName, OutboundMessage, SendError
from bot.config import TelegramSettings

#: The Bot API refuses longer texts; a long reply goes out in several messages.
MAX_TEXT = 4096


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraph or line ends where possible."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n\n", 0, limit)
        if cut <= 0:
            cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    pieces.append(rest)
    return [p for p in pieces if p]


def make_bot(settings: TelegramSettings, token: str) -> Bot:
    """A Bot talking to the configured Bot API (the public one, or a local one in tests)."""
    file_url = settings.base_url.replace("/bot", "/file/bot", 1)
    return Bot(token, base_url=settings.base_url, base_file_url=file_url)


class TelegramChannel:
    """Sends text (split when long), inline buttons and text attachments as documents."""

    name = ChannelName.TELEGRAM

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, message: OutboundMessage) -> str:
        chat_id = int(message.address)
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.label, callback_data=b.data) for b in message.buttons]]
            )
        pieces = split_text(message.text)
        try:
            first = None
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1
                sent = await self.bot.send_message(
                    chat_id=chat_id,
                    text=piece,
                    reply_markup=markup if last else None,
                    reply_parameters=ReplyParameters(
                        message.reply_to_message_id, allow_sending_without_reply=True
                    )
                    if message.reply_to_message_id and index == 0
                    else None,
                )
                first = first or sent
            for attachment in message.attachments:
                await self.bot.send_document(
                    chat_id=chat_id,
                    document=InputFile(
                        attachment.content.encode("utf-8"), filename=attachment.filename
                    ),
                )
        except (Forbidden, InvalidToken) as exc:
            raise SendError(f"Telegram refused: {exc}", permanent=True) from exc
        except RetryAfter as exc:
            raise SendError(f"Telegram asks to wait {exc.retry_after}s") from exc
        except BadRequest as exc:
            raise SendError(f"Telegram rejected the message: {exc}", permanent=True) from exc
        except (TimedOut, NetworkError) as exc:
            raise SendError(f"Telegram unreachable: {exc}") from exc
        assert first is not None
        return str(first.message_id)
