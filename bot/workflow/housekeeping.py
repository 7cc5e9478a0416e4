"""What the clock asks of the cases: reminders before deadlines, and retention of closed ones.

Pure selection over stored cases plus one purge; the scheduler (and staff, from the command
line) call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, col, delete, select

from bot.rules.deadlines import working_days_left
from bot.store import audit
from bot.store.forgetting import clear_message, forget_in_case
from bot.store.records import SYSTEM, resolve_by
from bot.store.tables import (
    ChannelCursor,
    Direction,
    Draft,
    DraftStatus,
    Message,
    MessageState,
    Outbox,
    OutboxStatus,
    Request,
    StaffAlert,
    Verification,
    WebSession,
)
from bot.workflow.lifecycle import FINAL_STATES
from bot.workflow.services import Services
from bot.workflow.words import status_words


@dataclass(frozen=True)
class Reminder:
    reference: str
    status: str
    due: date
    target: date
    working_days_left: int
    why: str


def reminders(session: Session, today: date, remind_days_before: list[int]) -> list[Reminder]:
    """Open cases staff must look at now, most urgent first: overdue, due within the
    configured working days, or past the internal target."""
    threshold = max(remind_days_before, default=0)
    found = []
    open_cases = col(Request.status).not_in([str(s) for s in FINAL_STATES])
    notices = {
        draft.request_id: draft.id
        for draft in session.exec(
            select(Draft).where(
                Draft.purpose == "extension",
                col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
            )
        )
    }
    for case in session.exec(select(Request).where(open_cases)):
        due = case.extended_due_date if case.extended and case.extended_due_date else case.due_date
        left = working_days_left(due, today)
        if left < 0:
            why = f"overdue by {-left} working day(s)"
        elif left <= threshold:
            why = "due today" if left == 0 else f"due in {left} working day(s)"
        elif today > case.target_date:
            why = f"past the internal target {case.target_date}"
        else:
            continue
        if case.id in notices and not case.extended and left >= 0:
            # Art. 12(3): the extension holds only if the person is told within the month.
            why += (
                f"; the extension notice (draft {notices[case.id]}) is not approved yet and "
                f"must reach the person by {due}"
            )
        found.append(Reminder(case.reference, case.status, due, case.target_date, left, why))
    return sorted(found, key=lambda r: (r.working_days_left, r.reference))


def purge_closed(session: Session, services: Services, today: date) -> list[str]:
    """Retention: for cases finished more than `[retention] closed_request_days` ago, delete
    the messages, drafts, outbox rows and verifications. The case row (reference, kinds,
    dates, outcome) and the audit trail stay, as the record that the request was handled."""
    keep_days = services.settings.retention.closed_request_days
    cutoff = today - timedelta(days=keep_days)
    purged = []
    for case in session.exec(
        select(Request).where(
            col(Request.status).in_([str(s) for s in FINAL_STATES]),
            col(Request.closed_at).is_not(None),
        )
    ):
        if case.closed_at is None or case.closed_at.date() >= cutoff:
            continue
        pending = session.exec(
            select(Outbox).where(
                Outbox.request_id == case.id,
                col(Outbox.status).in_([OutboxStatus.QUEUED, OutboxStatus.SENDING]),
            )
        ).first()
        if pending is not None:
            continue  # never drop a message that has not gone out yet
        removed = 0
        for table in (Outbox, Draft, Verification, StaffAlert):
            result = session.exec(delete(table).where(table.request_id == case.id))  # type: ignore[call-overload]
            removed += result.rowcount or 0
        removed += _clear_messages(session, services, case)
        if case.requested_changes or case.evidence or case.requester_name:
            forget_in_case(session, case)
            removed += 1
        if removed:
            audit.record(
                session,
                at=services.clock(),
                actor="noxbot",
                action="retention_purge",
                request=case,
                detail=f"{removed} rows deleted, {keep_days} days after the case ended",
            )
            purged.append(case.reference)
    return purged


def _clear_messages(session: Session, services: Services, case: Request) -> int:
    """A purged case's messages: what went out is deleted; what came in keeps its row without
    content, so that mail still in the mailbox is never taken for new if it is read again
    (a renumbered mailbox)."""
    result = session.exec(
        delete(Message).where(  # type: ignore[call-overload]
            Message.request_id == case.id, Message.direction == Direction.OUTBOUND
        )
    )
    cleared = result.rowcount or 0
    for message in session.exec(
        select(Message).where(
            Message.request_id == case.id, col(Message.content_cleared_at).is_(None)
        )
    ):
        clear_message(session, message, services.clock())
        cleared += 1
    return cleared


#: Inbound messages that never became part of a case: content cleared after the retention
#: period. Not among them: messages waiting for staff triage (state triage), and messages
#: staff labelled in triage — those are the classifier's evaluation data.
_UNRELATED_STATES = (MessageState.NOT_A_REQUEST, MessageState.AUTOMATED, MessageState.MALFORMED)


def purge_unrelated_messages(session: Session, services: Services, today: date) -> int:
    """Retention for mail and chat that opened no case: after `[retention]
    unrelated_message_days` their subject, text and raw bytes are cleared. The row stays
    (channel ids, state), so the message is never read twice. Returns how many were cleared."""
    cutoff = datetime.combine(
        today - timedelta(days=services.settings.retention.unrelated_message_days),
        time.min,
        tzinfo=UTC,
    )
    cleared = 0
    for message in session.exec(
        select(Message).where(
            col(Message.request_id).is_(None),
            Message.direction == Direction.INBOUND,
            col(Message.state).in_([str(s) for s in _UNRELATED_STATES]),
            col(Message.received_at) < cutoff,
            col(Message.content_cleared_at).is_(None),
            col(Message.labelled_by).is_(None),
        )
    ):
        clear_message(session, message, services.clock())
        cleared += 1
    if cleared:
        audit.record(
            session,
            at=services.clock(),
            actor="noxbot",
            action="retention_purge",
            detail=f"content of {cleared} messages that opened no case cleared",
        )
    return cleared


def _first_time_today(session: Session, services: Services, name: str, today: date) -> bool:
    """True once per day for `name` (a marker row records the day), for the scheduler's
    daily jobs: it wakes every minute, and several instances may share the database."""
    marker = session.get(ChannelCursor, name)
    if marker is not None and marker.value == today.isoformat():
        return False
    marker = marker or ChannelCursor(name=name, value="")
    marker.value = today.isoformat()
    marker.updated_at = services.clock()
    session.add(marker)
    return True


def run_daily_retention(session: Session, services: Services, today: date) -> list[str]:
    """Once a day from the scheduler: both retention rules; returns the purged cases."""
    if not _first_time_today(session, services, "retention:last_day", today):
        return []
    purged = purge_closed(session, services, today)
    purge_unrelated_messages(session, services, today)
    purge_expired_web_sessions(session, services.clock())
    return purged


def purge_expired_web_sessions(session: Session, now: datetime) -> int:
    """Forget console logins that have ended (a session is otherwise deleted only when its
    browser comes back or logs out); returns how many."""
    result = session.execute(delete(WebSession).where(col(WebSession.expires_at) <= now))
    return result.rowcount or 0


def raise_daily_reminders(session: Session, services: Services, today: date) -> int:
    """Once a day, an alert per case that needs attention (staff chat and `alerts list`)."""
    if not _first_time_today(session, services, "reminders:last_day", today):
        return 0
    found = reminders(session, today, services.settings.deadlines.remind_days_before)
    for reminder in found:
        case = session.exec(select(Request).where(Request.reference == reminder.reference)).one()
        # One open deadline alert per case, saying where it stands today: yesterday's
        # ("due in 3 working days") is resolved by this one, not left beside it.
        earlier = session.exec(
            select(StaffAlert).where(
                StaffAlert.request_id == case.id,
                StaffAlert.kind == "deadline",
                col(StaffAlert.resolved_at).is_(None),
            )
        ).all()
        for alert in earlier:
            resolve_by(
                session,
                alert,
                "replaced by the day's deadline reminder",
                actor=SYSTEM,
                now=services.clock(),
                case=case,
            )
        session.add(
            StaffAlert(
                request_id=case.id,
                kind="deadline",
                text=f"{reminder.reference} ({status_words(reminder.status)}): {reminder.why}; "
                f"legal due date {reminder.due}",
                created_at=services.clock(),
            )
        )
    return len(found)
