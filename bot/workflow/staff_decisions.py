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
from bot.rules.policy import kind_labels
from bot.store.records import subject_of
from bot.store.tables import Draft, DraftStatus, Request
from bot.workflow.approval import Plan, approval_plan, approve_draft, edit_draft
from bot.workflow.drafts import case_view, current_version, reject_draft
from bot.workflow.services import Services
from bot.workflow.staff_texts import TEXTS, staff_language, telegram_staff_actor
from bot.workflow.staff_texts import staff_text as _staff_text

PREVIEW = 3000  # characters of a draft shown in the chat; the rest with `noxbot drafts show`
#: The answer to a requester's button pressed by someone else: it names no setting and
#: nobody (whoever pressed it may have forged it). The staff chat's own answers, in its
#: language, are in bot.workflow.staff_texts ("not_here", "failed").
NOT_HERE = TEXTS["en"]["not_here"]
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


WROTE_LINES, WROTE_CHARS = 3, 300


def staff_text(services: Services, key: str, **values: object) -> str:
    return _staff_text(services.settings, key, **values)


@dataclass(frozen=True)
class CardFacts:
    """Who asked and what, as the card shows it above the draft."""

    name: str | None
    channel: str
    kinds: list[str]
    due: str
    wrote: str


def card_facts(session: Session, services: Services, draft: Draft) -> CardFacts | None:
    case = session.get(Request, draft.request_id)
    if case is None:
        return None
    language = staff_language(services.settings)
    subject = subject_of(session, case)
    words = case_view(session, services, case).request_text.strip()
    lines = [line.strip() for line in words.splitlines() if line.strip()][:WROTE_LINES]
    wrote = " / ".join(lines)
    if len(wrote) > WROTE_CHARS or len(lines) < len(words.splitlines()):
        wrote = wrote[:WROTE_CHARS].rstrip() + " …"
    due = case.extended_due_date if case.extended and case.extended_due_date else case.due_date
    return CardFacts(
        name=subject.name if subject is not None else None,
        channel=case.channel,
        kinds=kind_labels(case.kinds, language),
        due=due.isoformat(),
        wrote=wrote,
    )


def draft_card(
    draft: Draft,
    reference: str,
    plan: Plan | None = None,
    facts: CardFacts | None = None,
    language: str = "en",
) -> str:
    """What staff read in the chat before pressing a button: who asked and what, the
    draft, then exactly what approving it will do."""
    t = TEXTS[language]
    text = draft.text if len(draft.text) <= PREVIEW else draft.text[:PREVIEW] + "\n[…]"
    files = (
        f"\n{t['attachments']}: {', '.join(a['filename'] for a in draft.attachments)}"
        if draft.attachments
        else ""
    )
    about = ""
    if facts is not None:
        about = (
            f"{t['person']}: {facts.name or t['not_on_file']}\n"
            f"{t['channel']}: {facts.channel} · {t['kinds']}: {', '.join(facts.kinds)} · "
            f"{t['due']}: {facts.due}\n"
            + (f"{t['wrote']}: “{facts.wrote}”\n" if facts.wrote else "")
            + "\n"
        )
    steps = ""
    if plan is not None:
        steps = "".join(f"\n\n⚠ {note}" for note in plan.heed)
        steps += f"\n\n{t['will']}: " + "; ".join(plan.will)
        if plan.blocked:
            steps += f"\n{t['blocked']}: " + "; ".join(plan.blocked)
    purpose = t.get(draft.purpose, draft.purpose)
    return (
        f"{t['draft']} {draft.id} · {reference} · v{draft.version} · {purpose}\n{about}"
        f"{t['to']} {draft.to_channel}: {draft.to_address}\n{t['subject']}: {draft.subject}"
        f"{files}\n\n{text}{steps}"
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
        return staff_text(services, "unknown_button")
    if query.from_user.id not in staff_user_ids:
        return staff_text(services, "not_here")
    user = query.from_user
    actor = telegram_staff_actor(user.id, user.first_name, user.username)
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
                return staff_text(
                    services, "done_approve", id=decision.draft_id, version=decision.version
                )
            reject_draft(
                session,
                services,
                decision.draft_id,
                "rejected in the staff chat by "
                f"{stored_name(query.from_user.full_name) or query.from_user.id}",
                actor=actor,
            )
            return staff_text(services, "done_reject", id=decision.draft_id)
    except NoxbotError as exc:
        return staff_text(services, "not_done", why=_why_not(session, services, decision, exc))


def _why_not(session: Session, services: Services, decision: Decision, error: NoxbotError) -> str:
    """Why a decision was refused, in the staff chat's language: the approval plan's own
    reasons (which say the same as the error, in English); the error itself otherwise."""
    draft = session.get(Draft, decision.draft_id)
    if draft is None:
        return staff_text(services, "no_draft", id=decision.draft_id)
    plan = approval_plan(session, services, draft, staff_language(services.settings))
    stale = (
        draft.status != DraftStatus.AWAITING_APPROVAL
        or current_version(session, draft.series).id != draft.id
    )
    if plan.blocked and (decision.approve or stale):
        return "; ".join(plan.blocked if decision.approve else plan.blocked[:1])
    return str(error)


def edit_in_chat(
    session: Session, services: Services, card_message_id: int, text: str, actor: str
) -> str | None:
    """A staff member answered a card with new text: it becomes the draft's next version
    (approved, as any version, with its own card's button). Returns what to tell the chat
    when it could not be done; None when the new version is made, or the message answered
    no card (nothing to say)."""
    draft = session.exec(select(Draft).where(Draft.staff_message_id == card_message_id)).first()
    if draft is None:
        return None
    latest = current_version(session, draft.series)
    if latest.id != draft.id:
        why = staff_text(services, "edit_stale", id=draft.id, version=latest.version)
    elif draft.status not in (DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED):
        why = staff_text(services, "edit_closed", id=draft.id)
    elif text.strip() == draft.text.strip():
        why = staff_text(services, "edit_unchanged")
    else:
        try:
            with session.begin_nested():
                edit_draft(session, services, draft.id or 0, text.strip(), actor=actor)
            return None
        except NoxbotError as exc:
            # The text checks' reasons name command-line options; in Swedish, where to
            # read them instead.
            why = str(exc) if staff_language(services.settings) == "en" else None
            why = why or staff_text(services, "edit_refused", id=draft.id)
    return staff_text(services, "not_done", why=why)
