"""What the clock asks of the cases: reminders before deadlines, and retention of closed ones.

Pure selection over stored cases plus one purge; the scheduler (and staff, from the command
line) call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, col, delete, select

from bot import audit
from bot.deadlines import working_days_left
from bot.lifecycle import FINAL_STATES
from bot.models import (
    ChannelCursor,
    Draft,
    Message,
    Outbox,
    OutboxStatus,
    Request,
    StaffAlert,
    Verification,
)
from bot.services import Services


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
    for case in session.exec(
        select(Request).where(col(Request.status).not_in([str(s) for s in FINAL_STATES]))
    ):
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
        for table in (Outbox, Draft, Verification, Message):
            result = session.exec(delete(table).where(table.request_id == case.id))  # type: ignore[call-overload]
            removed += result.rowcount or 0
        if removed:
            audit.record(
                session,
                actor="noxbot",
                action="retention_purge",
                request=case,
                detail=f"{removed} rows deleted, {keep_days} days after the case ended",
            )
            purged.append(case.reference)
    return purged


def raise_daily_reminders(session: Session, services: Services, today: date) -> int:
    """Once a day, an alert per case that needs attention (staff chat and `alerts list`)."""
    marker = session.get(ChannelCursor, "reminders:last_day")
    if marker is not None and marker.value == today.isoformat():
        return 0
    found = reminders(session, today, services.settings.deadlines.remind_days_before)
    for reminder in found:
        case = session.exec(select(Request).where(Request.reference == reminder.reference)).one()
        session.add(
            StaffAlert(
                request_id=case.id,
                kind="deadline",
                text=f"{reminder.reference} ({reminder.status}): {reminder.why}; "
                f"legal due date {reminder.due}",
            )
        )
    marker = marker or ChannelCursor(name="reminders:last_day", value="")
    marker.value = today.isoformat()
    marker.updated_at = services.clock()
    session.add(marker)
    return len(found)
