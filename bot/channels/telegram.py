"""The Telegram Bot API (python-telegram-bot): sending for the outbox, and turning updates
into inbound values for the chat poller. Knows the Bot API, not GDPR."""

from __future__ import annotations

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from bot.channels.base import ChannelName, InboundMessage, OutboundMessage, SendError
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


def inbound_from_update(update: Update, staff_chat_id: int | None = None) -> InboundMessage | None:
    """A chat message or a button press as an inbound value; None for what is not ours to
    read (the staff chat, edits, service messages, other bots)."""
    if update.callback_query is not None:
        query = update.callback_query
        chat = query.message.chat.id if query.message is not None else query.from_user.id
        return InboundMessage(
            channel=ChannelName.TELEGRAM,
            sender=str(query.from_user.id),
            sender_name=query.from_user.full_name,
            callback_data=query.data or "",
            callback_id=query.id,
            telegram_chat_id=chat,
            telegram_message_id=query.message.message_id if query.message else None,
        )
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    if message.chat.type != "private" or message.chat.id == staff_chat_id:
        return None
    text = message.text or message.caption or ""
    if not text:
        return None
    return InboundMessage(
        channel=ChannelName.TELEGRAM,
        sender=str(message.from_user.id),
        sender_name=message.from_user.full_name,
        text=text,
        received_at=message.date,
        telegram_chat_id=message.chat.id,
        telegram_message_id=message.message_id,
        telegram_reply_to_id=message.reply_to_message.message_id
        if message.reply_to_message
        else None,
    )
