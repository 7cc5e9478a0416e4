"""The staff chat's decisions: a card per draft with Approve/Reject buttons, and what a
press does. Only the user ids in `[telegram] staff_user_ids`, in the staff chat, may decide,
and a button carries the draft version it was shown for, so pressing Approve on a version an
edit replaced is refused just as `noxbot drafts approve --version` would be. Button data is
parsed here, once. Posting the cards is the runtime's (bot.runtime.staff_chat).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, select
from telegram import CallbackQuery

from bot.config import TelegramSettings
from bot.errors import NoxbotError
from bot.reading.safe_text import stored_name
from bot.store.tables import Draft
from bot.workflow.approval import Plan, approve_draft, edit_draft
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


def edit_in_chat(
    session: Session, services: Services, card_message_id: int, text: str, user_id: int
) -> str | None:
    """A staff member answered a card with new text: it becomes the draft's next version
    (approved, as any version, with its own card's button). Returns what to tell the chat
    when it could not be done; None when the new version is made, or the message answered
    no card (nothing to say)."""
    draft = session.exec(select(Draft).where(Draft.staff_message_id == card_message_id)).first()
    if draft is None:
        return None
    actor = f"telegram-staff:{user_id}"
    try:
        with session.begin_nested():
            edit_draft(session, services, draft.id or 0, text.strip(), actor=actor)
    except NoxbotError as exc:
        return f"Not done: {exc}"
    return None
