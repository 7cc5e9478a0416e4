"""Forgetting a person in noxbot's own records: what an erasure (and retention) clears —
message content, drafts and sent replies holding register data, a rectification's values —
and what it withdraws before it can go out. The case records and the audit trail stay.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, or_, select

from bot.store import audit
from bot.store.records import resolve_by, resolve_send_failed
from bot.store.tables import (
    FINAL_STATES,
    AuditEvent,
    ChecklistItem,
    Draft,
    DraftStatus,
    Message,
    Outbox,
    OutboxStatus,
    Request,
    SourceFinding,
    StaffAlert,
    Verification,
    VerificationStatus,
)

#: The history entry of a case whose person on file an erasure removed (on the erasure's
#: own case, the entry of carrying it out): what says "erased with DSR-…" once the case no
#: longer names anyone on file.
PERSON_ERASED = "person_erased"
ERASURE_CARRIED_OUT = "carried_out_erasure"
ERASED_FROM_THE_REGISTER = "erased from the register"


def note_person_erased(
    session: Session, now: datetime, subject_id: int, erasing: Request, *, actor: str
) -> None:
    """Each other case of the person says in its history that the erasure removed them
    (the case then names no one on file, and staff would not know why)."""
    for case in session.exec(
        select(Request).where(Request.subject_id == subject_id, Request.id != erasing.id)
    ):
        audit.record(
            session,
            at=now,
            actor=actor,
            action=PERSON_ERASED,
            request=case,
            detail=f"the person on file was erased with {erasing.reference}",
        )


def erased_with(session: Session, case: Request) -> str | None:
    """The reference of the erasure that removed the case's person from the register, or
    None (a case that never named anyone on file, or whose person is still there)."""
    if case.subject_id is not None:
        return None
    events = session.exec(
        select(AuditEvent.action, AuditEvent.detail).where(
            AuditEvent.request_id == case.id,
            col(AuditEvent.action).in_([PERSON_ERASED, ERASURE_CARRIED_OUT]),
        )
    ).all()
    for action, detail in events:
        if action == ERASURE_CARRIED_OUT and detail.startswith(ERASED_FROM_THE_REGISTER):
            return case.reference
        if action == PERSON_ERASED:
            return detail.rsplit(" ", 1)[-1]
    return None


def clear_message(session: Session, message: Message, now: datetime) -> None:
    """A message keeps its row (so it is never read as new again) and loses its content."""
    message.subject, message.text, message.raw, message.display_name = "", "", None, None
    message.classification = None
    message.content_cleared_at = now
    session.add(message)


def forget_correspondence(
    session: Session,
    now: datetime,
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
        forget_in_case(session, case)
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
        clear_message(session, message, now)
        cleared += 1
    _reopen_staff_cards(session, subject_id)
    return cleared


def _reopen_staff_cards(session: Session, subject_id: int) -> None:
    """The staff chat's cards of the person's cases hold the drafts' text on the chat
    service's servers: each is edited again (bot.runtime.staff_chat.close_decided_cards),
    down to the case, the draft and the decision."""
    cases = select(Request.id).where(Request.subject_id == subject_id)
    session.execute(
        update(Draft)
        .where(col(Draft.request_id).in_(cases), col(Draft.staff_message_id).is_not(None))
        .values(staff_card_closed_at=None)
        .execution_options(synchronize_session=False)
    )


def forget_in_case(session: Session, case: Request) -> None:
    """What a case record holds of the person beyond the fact of the request."""
    case.requested_changes = []  # old and new values of a rectification
    case.evidence = []  # the classifier's phrases, quoted from the message
    case.requester_name = None
    case.complaint_outcome = None  # what staff found about the person's complaint
    # What the sources held of the person (file names, mail subjects, rows) goes; the
    # checklist keeps who did what and when, not the words about the person.
    for finding in session.exec(select(SourceFinding).where(SourceFinding.request_id == case.id)):
        session.delete(finding)
    for item in session.exec(select(ChecklistItem).where(ChecklistItem.request_id == case.id)):
        item.task, item.note = "(content erased)", None
        session.add(item)
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
        *(
            f"{count} verification challenge{'s' if count > 1 else ''} of {reference}"
            for reference, count in Counter(refs[v.request_id] for v in challenges).items()
        ),
        *(
            f"outbox {o.id} ({o.purpose}) of {refs[o.request_id]}, not sent yet"
            for o in queued
            if o.purpose != "verification_challenge"
        ),
    ]


def withdraw_pending_copies(
    session: Session, now: datetime, subject_id: int, erasing: Request, *, actor: str
) -> list[str]:
    """An approved erasure leaves nothing that could still send the person's data: their
    other open cases' drafts with register data are superseded, their challenges cancelled,
    and what is queued but not sent is cancelled. Those cases stay open for staff (the
    person is no longer on file), who are told which. Returns what was withdrawn."""
    withdrawn = pending_copies(session, subject_id, erasing)
    if not withdrawn:
        return []
    drafts, challenges, queued = _copies_waiting(session, subject_id, erasing)
    for draft in drafts:
        draft.status = DraftStatus.SUPERSEDED
        draft.decision_reason = f"withdrawn: {erasing.reference} erased the person's data"
        session.add(draft)
    for verification in challenges:
        verification.status = VerificationStatus.CANCELLED
        verification.resolved_at, verification.resolved_by = now, actor
        verification.note = f"the person was erased ({erasing.reference})"
        session.add(verification)
    # A call nobody is to make any more: its alert (which names the erased person's number)
    # is resolved, and says so instead of the number.
    called = {v.request_id for v in challenges if v.method == "phone_call"}
    erased = f"{erasing.reference} erased the person's data"
    for alert in list(
        session.exec(
            select(StaffAlert).where(
                col(StaffAlert.request_id).in_(called),
                StaffAlert.kind == "call_to_verify",
                col(StaffAlert.resolved_at).is_(None),
            )
        )
    ):
        alert.text = f"(no call to make: {erasing.reference} erased the person's data)"
        resolve_by(session, alert, erased, actor=actor, now=now)
    for row in queued:
        if row.status == OutboxStatus.FAILED:
            resolve_send_failed(
                session, row, actor=actor, now=now, why=f"{row.purpose} withdrawn: {erased}"
            )
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
