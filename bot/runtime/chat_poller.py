"""The chat poller: Telegram updates (getUpdates long poll), each processed with its offset
in one transaction; staff decisions in the staff chat; one bad update never stops it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Bot, CallbackQuery, ReplyParameters, Update
from telegram.error import TelegramError

from bot.channels.telegram import (
    UnreadableUpdate,
    fetch_updates,
    inbound_from_update,
    unreadable_inbound,
    unreadable_press,
)
from bot.config import Settings, TelegramSettings
from bot.errors import DoneOutsideNotRecorded
from bot.reading.safe_text import printable
from bot.runtime.intake import handle_inbound, read_cursor, write_cursor
from bot.runtime.loops import until_stopped, with_backoff
from bot.store.database import Database, is_refusal, is_transient
from bot.workflow.confirming import button_outcome
from bot.workflow.services import Services
from bot.workflow.staff_decisions import (
    NOT_HERE,
    decide_in_chat,
    edit_in_chat,
    is_staff_press,
    parse_decision,
)
from bot.workflow.staff_texts import staff_text, telegram_staff_actor

log = logging.getLogger("noxbot")


async def poll_chat_once(
    database: Database,
    services: Services,
    bot: Bot,
    settings: Settings,
    timeout: int,
    stop: asyncio.Event | None = None,
) -> int:
    """One getUpdates round: each update processed with its offset in one transaction.

    An update whose handling fails for any reason but a database that is away is logged
    (its kind of error only), answered if it was a button, and skipped: its offset is
    moved on in a transaction of its own, so it is never read again and the poller goes
    on. When the database is away the offset stays, and the update is read again later.
    """
    assert settings.telegram is not None
    with database.session() as session:
        offset = int(read_cursor(session, "telegram:offset") or 0)
    updates = await until_stopped(
        stop, fetch_updates(bot, offset or None, timeout, ["message", "callback_query"])
    )
    if updates is None:
        return 0  # stopped while waiting; the offset was not moved, nothing is lost
    for update in updates:
        position = str(update.update_id + 1)
        if isinstance(update, UnreadableUpdate):
            # Kept for staff (its JSON), the offset moved past it in the same transaction.
            log.error("chat poller: an update could not be read (%s); kept for staff",
                      update.error)  # fmt: skip
            handle_inbound(
                database, services, unreadable_inbound(update), "telegram:offset", position
            )
            if (press := unreadable_press(update)) is not None:
                with contextlib.suppress(TelegramError):
                    await bot.answer_callback_query(press)
            continue
        try:
            await _handle_update(database, services, bot, settings, update, position)
        except Exception as exc:
            if is_transient(exc) or is_refusal(exc):
                raise  # waited out (poll_chat); skipping would lose the update
            # Only the kind of error: its message may quote what a person wrote.
            log.error("chat poller: an update failed (%s); skipped", type(exc).__name__)
            _skip_update(database, services, position)
            if update.callback_query is not None:
                await _answer(update.callback_query)
    return len(updates)


def _skip_update(database: Database, services: Services, position: str) -> None:
    with database.session() as session:
        write_cursor(session, "telegram:offset", position, services.clock())


#: What a press's answer shows at most (Telegram takes 200 characters).
ANSWER_CHARS = 190


async def _answer(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a button press (its spinner stops; `text` is shown to the one who pressed)."""
    with contextlib.suppress(TelegramError):
        await query.answer(text[:ANSWER_CHARS] if text else None)


async def _handle_update(
    database: Database,
    services: Services,
    bot: Bot,
    settings: Settings,
    update: Update,
    position: str,
) -> None:
    assert settings.telegram is not None
    query = update.callback_query
    if query is not None and parse_decision(query.data or "") is not None:
        await _decide(database, services, bot, settings.telegram, query, position)
        return
    if _is_staff_edit(update, settings.telegram):
        await _edit_from_chat(database, services, bot, settings.telegram, update, position)
        return
    inbound = inbound_from_update(update, settings.telegram.staff_chat_id)
    if inbound is None:
        _skip_update(database, services, position)
    else:
        handle_inbound(database, services, inbound, "telegram:offset", position)
    if query is not None:
        in_staff_chat = query.message is not None and (
            query.message.chat.id == settings.telegram.staff_chat_id
        )
        not_here = staff_text(settings, "not_here") if in_staff_chat else NOT_HERE
        await _answer_press(database, query, not_here)


def _is_staff_edit(update: Update, telegram: TelegramSettings) -> bool:
    """A text a staff member sent in the staff chat as a reply to one of the bot's cards."""
    message = update.message
    return (
        message is not None
        and telegram.staff_chat_id is not None
        and message.chat.id == telegram.staff_chat_id
        and message.from_user is not None
        and message.from_user.id in telegram.staff_user_ids
        and message.reply_to_message is not None
        and bool(message.text)
    )


async def _edit_from_chat(
    database: Database,
    services: Services,
    bot: Bot,
    telegram: TelegramSettings,
    update: Update,
    position: str,
) -> None:
    """The reply's text becomes the card's draft's next version; its new card comes from
    the staff chat poster (woken by the commit), the old card is closed as superseded."""
    message = update.message
    assert message is not None and message.reply_to_message is not None
    assert message.from_user is not None
    with database.session() as session:
        problem = edit_in_chat(
            session,
            services,
            message.reply_to_message.message_id,
            message.text or "",
            telegram_staff_actor(
                message.from_user.id, message.from_user.first_name, message.from_user.username
            ),
        )
        write_cursor(session, "telegram:offset", position, services.clock())
    if problem is not None:
        with contextlib.suppress(TelegramError):
            await bot.send_message(
                chat_id=telegram.staff_chat_id,
                text=printable(problem)[:4000],
                reply_parameters=ReplyParameters(message.message_id),
            )


async def _answer_press(database: Database, query: CallbackQuery, not_here: str) -> None:
    """A requester's press is answered where it was made: a short toast, and the message
    edited to show the outcome with its buttons gone. A press that is not theirs gets the
    neutral answer and changes nothing on screen."""
    with database.session() as session:
        outcome = button_outcome(session, query.data or "", str(query.from_user.id))
    if outcome is None:
        await _answer(query, not_here)
        return
    await _answer(query, outcome)
    shown = getattr(query.message, "text", None)
    with contextlib.suppress(TelegramError):
        if shown:
            await query.edit_message_text(printable(f"{shown}\n\n{outcome}"), reply_markup=None)
        else:
            await query.edit_message_reply_markup(reply_markup=None)


async def _decide(
    database: Database,
    services: Services,
    bot: Bot,
    telegram: TelegramSettings,
    query: CallbackQuery,
    position: str,
) -> None:
    """A press of Approve or Reject. Outside the staff chat, or by someone not on staff, it
    gets only a neutral answer: no message in that chat, nothing that names a setting."""
    if not is_staff_press(query, telegram):
        _skip_update(database, services, position)
        await _answer(query, staff_text(services.settings, "not_here"))
        return
    try:
        with database.session() as session:
            answer = decide_in_chat(session, services, query, telegram.staff_user_ids)
            write_cursor(session, "telegram:offset", position, services.clock())
    except DoneOutsideNotRecorded:  # read again, the press would meet what is done already
        _skip_update(database, services, position)
        answer = staff_text(services.settings, "done_outside")
    except Exception as exc:
        if is_transient(exc) or is_refusal(exc):
            raise
        log.error("staff chat: a decision failed (%s); nothing done", type(exc).__name__)
        _skip_update(database, services, position)
        answer = staff_text(services.settings, "failed")
    # The card itself is edited to show the decision (bot.runtime.staff_chat, woken by the
    # commit): the others in the chat see it there, without a message per press.
    if len(answer) <= ANSWER_CHARS:
        await _answer(query, answer)
        return
    # Too long for the press's answer (a refusal naming the command to run): its beginning
    # there, and the whole of it as a reply to the card, where it can be read and copied.
    await _answer(query, answer[: ANSWER_CHARS - 1].rsplit(" ", 1)[0] + "…")
    if query.message is not None:
        with contextlib.suppress(TelegramError):
            await bot.send_message(
                chat_id=query.message.chat.id,
                text=answer,
                reply_to_message_id=query.message.message_id,
            )


async def poll_chat(
    database: Database, services: Services, bot: Bot, settings: Settings, stop: asyncio.Event
) -> None:

    assert settings.telegram is not None
    timeout = settings.telegram.poll_timeout_seconds

    async def step() -> None:
        await poll_chat_once(database, services, bot, settings, timeout, stop)

    # Any error: one update's failure is contained in poll_chat_once; whatever escapes it
    # (the offset cannot be written) is waited out like a server that is down.
    await with_backoff("chat poller", stop, step, (Exception,))
