"""What the clock asks of the cases: reminders before deadlines, and retention of closed ones.

Pure selection over stored cases plus one purge; the scheduler (and staff, from the command
line) call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, col, delete, or_, select

from bot.rules.deadlines import working_days_left
from bot.store import audit
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
    VerificationStatus,
)
from bot.workflow.lifecycle import FINAL_STATES
from bot.workflow.services import Services


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
            _forget_in_case(session, case)
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
        _clear(session, message, services)
        cleared += 1
    return cleared


def _clear(session: Session, message: Message, services: Services) -> None:
    message.subject, message.text, message.raw, message.display_name = "", "", None, None
    message.classification = None
    message.content_cleared_at = services.clock()
    session.add(message)


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
        _clear(session, message, services)
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
    return purged


def raise_daily_reminders(session: Session, services: Services, today: date) -> int:
    """Once a day, an alert per case that needs attention (staff chat and `alerts list`)."""
    if not _first_time_today(session, services, "reminders:last_day", today):
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
                created_at=services.clock(),
            )
        )
    return len(found)


def forget_correspondence(
    session: Session,
    services: Services,
    subject_id: int,
    addresses: list[tuple[str, str]],
    erasing: Request,
) -> int:
    """An erasure reaches noxbot's own copies too: the person's other, finished cases lose
    what they held of the person — message content, drafts and sent replies (register
    extracts, exports), a rectification's old and new values, the classifier's evidence —
    and mail of theirs that opened no case is cleared. Kept: the case records and the audit
    trail, and the erasure case's own correspondence — what the erasure reply says is kept.
    Open cases are left for staff. Returns how many rows were cleared."""
    note = f"(content erased with {erasing.reference})"
    cleared = 0
    finished = list(
        session.exec(
            select(Request).where(
                Request.subject_id == subject_id,
                Request.id != erasing.id,
                col(Request.status).in_([str(s) for s in FINAL_STATES]),
            )
        )
    )
    for case in finished:
        _forget_in_case(session, case)
        cleared += 1
    ids = [case.id for case in finished]
    for draft in session.exec(select(Draft).where(col(Draft.request_id).in_(ids))):
        draft.text, draft.attachments = note, []
        if draft.covers:
            draft.covers = {**draft.covers, "changes": []}
        session.add(draft)
        cleared += 1
    for row in session.exec(
        select(Outbox).where(
            col(Outbox.request_id).in_(ids),
            col(Outbox.status).not_in([OutboxStatus.QUEUED, OutboxStatus.SENDING]),
        )
    ):
        row.text, row.attachments = note, []
        session.add(row)
        cleared += 1
    unrelated = [
        (Message.channel == channel) & (Message.address == address)
        for channel, address in addresses
    ]
    conditions = [col(Message.request_id).in_(ids)]
    if unrelated:
        conditions.append(col(Message.request_id).is_(None) & or_(*unrelated))
    for message in session.exec(select(Message).where(or_(*conditions))):
        _clear(session, message, services)
        cleared += 1
    return cleared


def _forget_in_case(session: Session, case: Request) -> None:
    """What a case record holds of the person beyond the fact of the request."""
    case.requested_changes = []  # old and new values of a rectification
    case.evidence = []  # the classifier's phrases, quoted from the message
    case.requester_name = None
    session.add(case)


def _copies_waiting(
    session: Session, subject_id: int, erasing: Request
) -> tuple[list[Draft], list[Verification], list[Outbox]]:
    """What still waits to carry an erased person's data, in their other open cases: drafts
    with register data awaiting approval or an edit, challenges not yet answered, and
    messages approved (or automatic) but not sent yet — queued, or failed and retryable."""
    open_cases = [
        case.id
        for case in session.exec(
            select(Request).where(
                Request.subject_id == subject_id,
                Request.id != erasing.id,
                col(Request.status).not_in([str(s) for s in FINAL_STATES]),
            )
        )
    ]
    drafts = list(
        session.exec(
            select(Draft).where(
                col(Draft.request_id).in_(open_cases),
                col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
                col(Draft.carries_personal_data).is_(True),
            )
        )
    )
    challenges = list(
        session.exec(
            select(Verification).where(
                col(Verification.request_id).in_(open_cases),
                Verification.status == VerificationStatus.PENDING,
            )
        )
    )
    personal = select(Draft.id).where(col(Draft.carries_personal_data).is_(True))
    queued = list(
        session.exec(
            select(Outbox).where(
                col(Outbox.request_id).in_(open_cases),
                # Queued, or given up but open to `outbox retry`: neither may go out now.
                col(Outbox.status).in_([OutboxStatus.QUEUED, OutboxStatus.FAILED]),
                or_(
                    col(Outbox.purpose) == "verification_challenge",
                    col(Outbox.draft_id).in_(personal),
                ),
            )
        )
    )
    return drafts, challenges, queued


def _references(session: Session, ids: set[int | None]) -> dict[int | None, str]:
    rows = session.exec(select(Request).where(col(Request.id).in_(ids))).all()
    return {row.id: row.reference for row in rows}


def pending_copies(session: Session, subject_id: int, erasing: Request) -> list[str]:
    """What approving an erasure will withdraw, as staff read it before they approve."""
    drafts, challenges, queued = _copies_waiting(session, subject_id, erasing)
    refs = _references(session, {d.request_id for d in drafts} | {v.request_id for v in challenges})
    refs.update(_references(session, {o.request_id for o in queued}))
    return [
        *(f"draft {d.id} ({d.purpose}) of {refs[d.request_id]}" for d in drafts),
        *(f"the verification challenge of {refs[v.request_id]}" for v in challenges),
        *(
            f"outbox {o.id} ({o.purpose}) of {refs[o.request_id]}, not sent yet"
            for o in queued
            if o.purpose != "verification_challenge"
        ),
    ]


def withdraw_pending_copies(
    session: Session, services: Services, subject_id: int, erasing: Request, *, actor: str
) -> list[str]:
    """An approved erasure leaves nothing that could still send the person's data: their
    other open cases' drafts with register data are superseded, their challenges cancelled,
    and what is queued but not sent is cancelled. Those cases stay open for staff (the
    person is no longer on file), who are told which. Returns what was withdrawn."""
    withdrawn = pending_copies(session, subject_id, erasing)
    if not withdrawn:
        return []
    drafts, challenges, queued = _copies_waiting(session, subject_id, erasing)
    now = services.clock()
    for draft in drafts:
        draft.status = DraftStatus.SUPERSEDED
        draft.decision_reason = f"withdrawn: {erasing.reference} erased the person's data"
        session.add(draft)
    for verification in challenges:
        verification.status = VerificationStatus.CANCELLED
        verification.resolved_at, verification.resolved_by = now, actor
        verification.note = f"the person was erased ({erasing.reference})"
        session.add(verification)
    for row in queued:
        row.status = OutboxStatus.CANCELLED
        row.last_error = f"withdrawn: {erasing.reference} erased the person's data"
        row.text, row.attachments = "(withdrawn unsent after an erasure)", []
        session.add(row)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="erasure_withdrew",
        request=erasing,
        detail=f"{len(drafts)} drafts, {len(challenges)} challenges, {len(queued)} queued messages",
    )
    session.add(
        StaffAlert(
            request_id=erasing.id,
            kind="erasure_withdrew",
            text=f"{erasing.reference}: the approved erasure withdrew what still waited to carry "
            f"the person's data: {'; '.join(withdrawn)}. Those cases stay open for you to "
            "answer or close; the person is no longer on file.",
            created_at=now,
        )
    )
    return withdrawn
