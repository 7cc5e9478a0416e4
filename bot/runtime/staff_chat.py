"""Posting to the Telegram staff chat: every alert and every draft that waits for a
decision (bot.workflow.staff_decisions makes the cards and reads the presses).
"""

from __future__ import annotations

from sqlmodel import col, select
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.telegram import split_text
from bot.reading.safe_text import printable
from bot.store.audit import chain_head
from bot.store.database import Database
from bot.store.tables import ChannelCursor, Draft, DraftStatus, Request, StaffAlert
from bot.workflow.approval import approval_plan
from bot.workflow.services import Services
from bot.workflow.staff_decisions import decision_data, draft_card


async def notify_staff(database: Database, services: Services, bot: Bot, chat_id: int) -> int:
    """Post every alert and waiting draft the staff chat has not seen; returns how many."""
    with database.session() as session:
        alerts = list(
            session.exec(
                select(StaffAlert)
                .where(
                    col(StaffAlert.staff_notified_at).is_(None),
                    col(StaffAlert.resolved_at).is_(None),
                )
                .order_by(col(StaffAlert.id))
            )
        )
        drafts = [
            (d, session.get(Request, d.request_id), approval_plan(session, services, d))
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
    for alert in alerts:
        await bot.send_message(chat_id=chat_id, text=printable(f"⚠ {alert.kind}: {alert.text}"))
        with database.session() as session:
            stored = session.get(StaffAlert, alert.id)
            stored.staff_notified_at = services.clock()  # type: ignore[union-attr]
            session.add(stored)
        posted += 1
    for draft, case, plan in drafts:
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        f"Approve v{draft.version}", callback_data=decision_data(draft, True)
                    ),
                    InlineKeyboardButton("Reject", callback_data=decision_data(draft, False)),
                ]
            ]
        )
        pieces = split_text(printable(draft_card(draft, case.reference if case else "?", plan)))
        for index, piece in enumerate(pieces):
            await bot.send_message(
                chat_id=chat_id,
                text=piece,
                reply_markup=buttons if index == len(pieces) - 1 else None,
            )
        with database.session() as session:
            stored = session.get(Draft, draft.id)
            stored.staff_notified_at = services.clock()  # type: ignore[union-attr]
            session.add(stored)
        posted += 1
    return posted


async def _post_audit_head(database: Database, services: Services, bot: Bot, chat_id: int) -> int:
    """Once a day, the audit chain's head hash goes to the chat: kept outside the database,
    it lets `noxbot audit verify --head` notice deleted newest events."""
    today = services.clock().date().isoformat()
    with database.session() as session:
        marker = session.get(ChannelCursor, "staff_chat:audit_head_day")
        if marker is not None and marker.value == today:
            return 0
        head = chain_head(session)
    await bot.send_message(
        chat_id=chat_id,
        text=f"Audit head {today}: {head}\n(check with: noxbot audit verify --head {head})",
    )
    with database.session() as session:
        marker = session.get(ChannelCursor, "staff_chat:audit_head_day") or ChannelCursor(
            name="staff_chat:audit_head_day", value=today
        )
        marker.value = today
        marker.updated_at = services.clock()
        session.add(marker)
    return 1
