"""Posting to the Telegram staff chat: every alert and every draft that waits for a
decision (bot.workflow.staff_decisions makes the cards and reads the presses).
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest

from bot.channels.telegram import MAX_TEXT, split_text
from bot.reading.safe_text import printable
from bot.store.audit import chain_head
from bot.store.database import Database
from bot.store.tables import ChannelCursor, Draft, DraftStatus, Request, StaffAlert
from bot.workflow.approval import approval_plan
from bot.workflow.cases import erased_why
from bot.workflow.services import Services
from bot.workflow.staff_decisions import card_facts, decision_data, draft_card, staff_text
from bot.workflow.staff_texts import alert_post, staff_language, staff_name
from bot.workflow.words import name_words

log = logging.getLogger("noxbot")


async def notify_staff(database: Database, services: Services, bot: Bot, chat_id: int) -> int:
    """Post every alert and waiting draft the staff chat has not seen; returns how many."""
    with database.session() as session:
        alerts = [
            (a, session.get(Request, a.request_id) if a.request_id else None)
            for a in session.exec(
                select(StaffAlert)
                .where(
                    col(StaffAlert.staff_notified_at).is_(None),
                    col(StaffAlert.resolved_at).is_(None),
                )
                .order_by(col(StaffAlert.id))
            )
        ]
        drafts = [
            (
                d,
                session.get(Request, d.request_id),
                approval_plan(session, services, d, staff_language(services.settings)),
                card_facts(session, services, d),
            )
            for d in session.exec(
                select(Draft)
                .where(
                    col(Draft.staff_notified_at).is_(None),
                    Draft.status == DraftStatus.AWAITING_APPROVAL,
                )
                .order_by(col(Draft.id))
            )
        ]
    posted = await _post_audit_head(database, services, bot, chat_id)
    for alert, about in alerts:
        post = alert_post(
            services.settings, alert.kind, alert.text, about.reference if about else None
        )
        await bot.send_message(chat_id=chat_id, text=printable(post)[:MAX_TEXT])
        with database.session() as session:
            stored = session.get(StaffAlert, alert.id)
            stored.staff_notified_at = services.clock()  # type: ignore[union-attr]
            session.add(stored)
        posted += 1
    language = _language(services)
    for draft, case, plan, facts in drafts:
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        staff_text(services, "approve", version=draft.version),
                        callback_data=decision_data(draft, True),
                    ),
                    InlineKeyboardButton(
                        staff_text(services, "reject"), callback_data=decision_data(draft, False)
                    ),
                ]
            ]
        )
        card = draft_card(draft, case.reference if case else "?", plan, facts, language)
        pieces = split_text(printable(card))
        last = None
        for index, piece in enumerate(pieces):
            last = await bot.send_message(
                chat_id=chat_id,
                text=piece,
                reply_markup=buttons if index == len(pieces) - 1 else None,
            )
        with database.session() as session:
            stored = session.get(Draft, draft.id)
            assert stored is not None
            stored.staff_notified_at = services.clock()
            stored.staff_message_id = last.message_id if last is not None else None
            session.add(stored)
        posted += 1
    await close_decided_cards(database, services, bot, chat_id)
    return posted


def _language(services: Services) -> str:
    return staff_language(services.settings)


def decision_line(services: Services, draft: Draft) -> str:
    """What a closed card says of its draft: who decided what, and when (local time)."""
    timezone = services.settings.organisation.timezone
    when = (
        draft.decided_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
        if draft.decided_at
        else ""
    )
    who = printable(staff_name(draft.decided_by or ""))
    if draft.status == DraftStatus.APPROVED:
        return staff_text(services, "approved", who=who, when=when)
    if draft.status == DraftStatus.REJECTED:
        return staff_text(services, "rejected", who=who, when=when)
    return staff_text(services, "superseded")


async def close_decided_cards(
    database: Database, services: Services, bot: Bot, chat_id: int
) -> int:
    """Edit every card whose draft was decided — in the chat, the CLI or anywhere — or
    superseded since it was posted: its buttons go and it says who decided what and when.
    Returns how many were edited."""
    with database.session() as session:
        drafts = [
            (d, session.get(Request, d.request_id), _erased(session, d))
            for d in session.exec(
                select(Draft)
                .where(
                    col(Draft.staff_message_id).is_not(None),
                    col(Draft.staff_card_closed_at).is_(None),
                    Draft.status != DraftStatus.AWAITING_APPROVAL,
                )
                .order_by(col(Draft.id))
            )
        ]
    language = _language(services)
    for draft, case, erased in drafts:
        reference = case.reference if case else "?"
        if erased:  # nothing of the person stays on the chat service's servers
            purpose = name_words(draft.purpose)
            card = staff_text(
                services, "erased_card", reference=reference, purpose=purpose, v=draft.version
            )
        else:
            card = split_text(printable(draft_card(draft, reference, language=language)))[-1]
        text = f"{card}\n\n{decision_line(services, draft)}"
        try:
            await bot.edit_message_text(
                chat_id=chat_id,
                message_id=draft.staff_message_id,
                text=split_text(text)[-1] if len(text) > MAX_TEXT else text,
                reply_markup=None,
            )
        except BadRequest as exc:  # deleted by hand, or too old to edit: nothing to close
            log.warning("staff chat: card of draft %s not edited (%s)", draft.id, exc)
        with database.session() as session:
            stored = session.get(Draft, draft.id)
            assert stored is not None
            stored.staff_card_closed_at = services.clock()
            session.add(stored)
    return len(drafts)


def _erased(session: Session, draft: Draft) -> bool:
    """Whether the draft's case lost its person's data to an erasure (or retention), or the
    draft was withdrawn because of one."""
    if "erased the person's data" in (draft.decision_reason or ""):
        return True
    case = session.get(Request, draft.request_id)
    return case is not None and erased_why(session, case) is not None


async def _post_audit_head(database: Database, services: Services, bot: Bot, chat_id: int) -> int:
    """Once a day, the audit chain's head hash goes to the log (not the chat: it is noise
    there): kept outside the database, it lets `noxbot audit verify --head` notice deleted
    newest events. Returns 0: nothing is posted."""
    today = services.clock().date().isoformat()
    with database.session() as session:
        marker = session.get(ChannelCursor, "staff_chat:audit_head_day")
        if marker is not None and marker.value == today:
            return 0
        head = chain_head(session)
    log.info("audit head %s: %s (check with: noxbot audit verify --head %s)", today, head, head)
    with database.session() as session:
        marker = session.get(ChannelCursor, "staff_chat:audit_head_day") or ChannelCursor(
            name="staff_chat:audit_head_day", value=today
        )
        marker.value = today
        marker.updated_at = services.clock()
        session.add(marker)
    return 0
