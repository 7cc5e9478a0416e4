"""The Telegram Bot API (python-telegram-bot): sending for the outbox, and turning updates
into inbound values for the chat poller. Knows the Bot API, not GDPR."""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBUserWarning

from bot.channels.messages import InboundMessage, OutboundMessage, SendError
from bot.config import TelegramSettings
from bot.errors import NoxbotError
from bot.rules.channels import ChannelName

log = logging.getLogger("noxbot")

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


#: Seconds a long poll's answer may take beyond the poll itself (the library's own margin,
#: its default read timeout).
POLL_READ_MARGIN = 5.0
# fetch_updates asks for getUpdates by name, for its raw answer; the library would have it
# use get_updates, which reads the updates all or none.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)


@dataclass(frozen=True)
class UnreadableUpdate:
    """An update the library could not read (a shape it does not know, a date out of
    range): its id and its JSON, with the kind of error. Read with the rest, it would fail
    every poll that returns it - the chat stopped at it for good - and the library would
    log it whole, personal data and all."""

    update_id: int
    raw: bytes
    error: str


async def fetch_updates(
    bot: Bot, offset: int | None, timeout: int, allowed: list[str]
) -> list[Update | UnreadableUpdate]:
    """One getUpdates long poll, each update read on its own: one that cannot be read comes
    back as an UnreadableUpdate, the others as Updates."""
    result = await bot.do_api_request(
        "getUpdates",
        api_kwargs={"offset": offset, "timeout": timeout, "allowed_updates": allowed},
        read_timeout=timeout + POLL_READ_MARGIN,
    )
    updates: list[Update | UnreadableUpdate] = []
    for item in result if isinstance(result, list) else []:
        try:
            updates.append(Update.de_json(item, bot))
        except Exception as exc:  # any shape the library cannot read
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(update_id, int):
                raise  # with no id, there is no passing it
            raw = json.dumps(item, ensure_ascii=False).encode("utf-8", "replace")
            updates.append(UnreadableUpdate(update_id, raw, type(exc).__name__))
    return updates


def unreadable_inbound(update: UnreadableUpdate) -> InboundMessage:
    """An update that could not be read, as a message kept for staff: its JSON, and who sent
    it when that much can be told."""
    try:
        found = json.loads(update.raw)
        content = found.get("message") or found.get("callback_query") or {}
        sender = content.get("from", {}).get("id")
    except (ValueError, AttributeError):
        sender = None
    return InboundMessage(
        channel=ChannelName.TELEGRAM,
        sender=str(sender) if isinstance(sender, int) else "unknown",
        raw=update.raw,
        malformed=f"the chat update could not be read ({update.error})",
        telegram_update_id=update.update_id,
    )


def unreadable_press(update: UnreadableUpdate) -> str | None:
    """The id of the button press an unreadable update holds, if it is one: answered, its
    button stops spinning (it is not done: staff see it)."""
    try:
        press = json.loads(update.raw).get("callback_query") or {}
        found = press.get("id")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) and found else None


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
        """Text pieces, then attachments, in order. A failure part-way reports how far it got
        (SendError.progress), and the retry goes on from there: the person never gets the
        first half of a long reply twice."""
        chat_id = int(message.address)
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.label, callback_data=b.data) for b in message.buttons]]
            )
        pieces = split_text(message.text)
        done = int(message.progress.get("parts", 0))
        first = message.progress.get("first")
        parts = len(pieces) + len(message.attachments)
        try:
            for index in range(done, parts):
                if index < len(pieces):
                    sent = await self.bot.send_message(
                        chat_id=chat_id,
                        text=pieces[index],
                        reply_markup=markup if index == len(pieces) - 1 else None,
                        reply_parameters=ReplyParameters(
                            message.reply_to_message_id, allow_sending_without_reply=True
                        )
                        if message.reply_to_message_id and index == 0
                        else None,
                    )
                else:
                    attachment = message.attachments[index - len(pieces)]
                    sent = await self.bot.send_document(
                        chat_id=chat_id,
                        document=InputFile(attachment.data(), filename=attachment.filename),
                    )
                first = first or sent.message_id
                done = index + 1
        except (Forbidden, InvalidToken) as exc:
            raise _failed("Telegram refused", exc, done, first, permanent=True) from exc
        except RetryAfter as exc:
            raise _failed(f"Telegram asks to wait {exc.retry_after}s", None, done, first) from exc
        except BadRequest as exc:
            raise _failed("Telegram rejected the message", exc, done, first, True) from exc
        except (TimedOut, NetworkError) as exc:
            raise _failed("Telegram unreachable", exc, done, first) from exc
        return str(first)


def _failed(
    what: str, exc: Exception | None, done: int, first: int | None, permanent: bool = False
) -> SendError:
    # InvalidToken's text holds the token itself: only the class name is kept.
    reason = type(exc).__name__ if isinstance(exc, InvalidToken) else exc
    text = f"{what}: {reason}" if exc is not None else what
    progress = {"parts": done, "first": first} if done else None
    return SendError(text, permanent=permanent, progress=progress)


async def start_bot(bot: Bot) -> None:
    """Get the bot ready to talk to the Bot API. An API that cannot be reached now is no
    reason not to start (the poller and the sender keep trying); a refused token is."""
    try:
        await bot.initialize()
    except InvalidToken:
        raise TelegramTokenRefused(
            "[telegram] the Bot API refused the token in the variable token_env names"
        ) from None
    except (NetworkError, TimedOut, OSError) as exc:
        log.warning("Telegram Bot API not reachable at start (%s); trying on", type(exc).__name__)


class TelegramTokenRefused(NoxbotError):
    """The token is wrong: nothing will work until staff fix the config."""


#: What a message without text is shown as, so staff see that something came.
_NON_TEXT = {
    "photo": "a photo",
    "document": "a document",
    "voice": "a voice message",
    "audio": "an audio file",
    "video": "a video",
    "video_note": "a video message",
    "sticker": "a sticker",
    "contact": "a contact card",
    "location": "a location",
}


def _describe_non_text(message: Message) -> str:
    kind = next((label for attr, label in _NON_TEXT.items() if getattr(message, attr, None)), None)
    return f"({kind or 'a message without text'}, not downloaded)"


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
    # A photo or document is not downloaded (it may be an identity document we must not
    # keep); its caption, or a note of what came, is what staff see.
    text = message.text or message.caption or _describe_non_text(message)
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
