"""The Telegram staff chat: new drafts with Approve/Reject buttons, and alerts.

Only the user ids in `[telegram] staff_user_ids` may decide, and a button carries the draft
version it was shown for, so pressing Approve on a version that an edit replaced is refused
just as `noxbot drafts approve --version` would be. Button data is parsed here, once. What
is posted shows control and bidi characters from outside as escapes (`printable`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, col, select
from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.telegram import split_text
from bot.config import TelegramSettings
from bot.errors import NoxbotError
from bot.reading.safe_text import printable, stored_name
from bot.store.audit import chain_head
from bot.store.database import Database
from bot.store.tables import ChannelCursor, Draft, DraftStatus, Request, StaffAlert
from bot.workflow.approval import Plan, approval_plan, approve_draft
from bot.workflow.drafts import reject_draft
from bot.workflow.services import Services

PREVIEW = 3000  # characters of a draft shown in the chat; the rest with `noxbot drafts show`
#: The answer to a decision button pressed by someone not on staff, or outside the staff
#: chat: it names no setting and nobody (whoever pressed it may have forged it).
NOT_HERE = "This button does nothing here."
#: The answer when carrying out a decision failed unexpectedly (the log says why).
DECISION_FAILED = "Could not be done; see the log."
_DECISION = re.compile(r"d:(\d+):(\d+):([ar])")


@dataclass(frozen=True)
class Decision:
    draft_id: int
    version: int
    approve: bool


def decision_data(draft: Draft, approve: bool) -> str:
    return f"d:{draft.id}:{draft.version}:{'a' if approve else 'r'}"


def parse_decision(data: str) -> Decision | None:
    match = _DECISION.fullmatch(data or "")
    if not match:
        return None
    return Decision(int(match.group(1)), int(match.group(2)), match.group(3) == "a")


def draft_card(draft: Draft, reference: str, plan: Plan | None = None) -> str:
    """What staff read in the chat before pressing a button: the draft, then exactly what
    approving it will do."""
    text = draft.text if len(draft.text) <= PREVIEW else draft.text[:PREVIEW] + "\n[…]"
    files = (
        f"\nattachments: {', '.join(a['filename'] for a in draft.attachments)}"
        if draft.attachments
        else ""
    )
    steps = ""
    if plan is not None:
        steps = "\n\nApproving will: " + "; ".join(plan.will)
        if plan.blocked:
            steps += "\nCannot be approved yet: " + "; ".join(plan.blocked)
    return (
        f"Draft {draft.id} · {reference} · version {draft.version} · {draft.purpose}\n"
        f"to {draft.to_channel}: {draft.to_address}\nsubject: {draft.subject}{files}\n\n"
        f"{text}{steps}"
    )


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


def is_staff_press(query: CallbackQuery, telegram: TelegramSettings) -> bool:
    """Pressed in the staff chat by one of the staff user ids."""
    return (
        telegram.staff_chat_id is not None
        and query.message is not None
        and query.message.chat.id == telegram.staff_chat_id
        and query.from_user.id in telegram.staff_user_ids
    )


def decide_in_chat(
    session: Session, services: Services, query: CallbackQuery, staff_user_ids: list[int]
) -> str:
    """A staff member pressed Approve or Reject; returns the answer shown to them."""
    decision = parse_decision(query.data or "")
    if decision is None:
        return "Unknown button."
    if query.from_user.id not in staff_user_ids:
        return NOT_HERE
    actor = f"telegram-staff:{query.from_user.id}"
    try:
        with session.begin_nested():  # a refused decision changes nothing
            if decision.approve:
                approve_draft(
                    session,
                    services,
                    decision.draft_id,
                    actor=actor,
                    expected_version=decision.version,
                )
                return f"Draft {decision.draft_id} v{decision.version} approved; it will be sent."
            reject_draft(
                session,
                services,
                decision.draft_id,
                "rejected in the staff chat by "
                f"{stored_name(query.from_user.full_name) or query.from_user.id}",
                actor=actor,
            )
            return (
                f"Draft {decision.draft_id} rejected; edit it with "
                f"noxbot drafts edit {decision.draft_id}."
            )
    except NoxbotError as exc:
        return f"Not done: {exc}"
