"""The JSON shapes of the design's contracts (cases, drafts, people on file), built in one
place so the command line, the demo and scripts see the same thing."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

from sqlmodel import Session, col, or_, select

from bot.rules.deadlines import working_days_left
from bot.rules.kinds import KINDS_NEEDING_VERIFICATION
from bot.rules.verification import Method, parse_button_data
from bot.store.forgetting import erased_with
from bot.store.records import normalised_or_raw
from bot.store.register import SUBJECT_FIELDS, InvalidContact, normalise_phone
from bot.store.search import name_contains
from bot.store.tables import (
    AuditEvent,
    ContactPoint,
    Draft,
    DraftStatus,
    Message,
    Outbox,
    OutboxStatus,
    Request,
    RequestStatus,
    StaffAlert,
    Subject,
    Verification,
    VerificationStatus,
)
from bot.workflow.approval import blocked_for_now
from bot.workflow.cases import ACKNOWLEDGMENT_HELD
from bot.workflow.confirming import identity_denied, not_on_file_next
from bot.workflow.drafts import open_drafts
from bot.workflow.lifecycle import is_open
from bot.workflow.rendering import humanjoin
from bot.workflow.services import Services
from bot.workflow.words import (
    button_pressed,
    draft_status_words,
    name_words,
    status_words,
    waits_on,
)


def case_waits_on(
    session: Session, services: Services, case: Request, *, in_console: bool = False
) -> str:
    """Whom the case waits on and what they are to do (_waiting)."""
    return _waiting(session, case, draft_blocked(session, services, case), in_console=in_console)


def _waiting(
    session: Session,
    case: Request,
    blocked: tuple[Draft, list[str]] | None,
    *,
    in_console: bool,
) -> str:
    """Whom the case waits on (_waits_on; `blocked`: its draft approval would refuse, as
    draft_blocked finds it), and, when its acknowledgment was held back by the one-a-day
    limit on automatic acknowledgments, that it was and what staff can do: it does not go
    by itself, and before, nothing said why it waited."""
    said = _waits_on(session, case, blocked, in_console=in_console)
    if not is_open(case.status):
        return said
    held = held_acknowledgment(session, case)
    if held is None:
        return said
    where = "on the case page" if in_console else f"noxbot drafts approve {held}"
    return (
        f"{said}; staff: the acknowledgment (draft {held}) is held by the one-a-day limit "
        "(an automatic acknowledgment already went to this address within the last day) "
        f"and does not go by itself: approve it to send it now ({where}), or leave it: it "
        "is withdrawn unsent when the case moves on (the identity check ends, a no-data "
        "answer is drafted, or the reply is approved)"
    )


def held_acknowledgment(session: Session, case: Request) -> int | None:
    """The id of the case's acknowledgment the one-a-day limit held back, still waiting
    for staff (it goes only if they approve it), or None."""
    return session.exec(
        select(Draft.id).where(
            Draft.request_id == case.id,
            Draft.purpose == "acknowledgment",
            Draft.status == DraftStatus.AWAITING_APPROVAL,
            col(Draft.request_id).in_(
                select(AuditEvent.request_id).where(
                    AuditEvent.request_id == case.id,
                    AuditEvent.action == ACKNOWLEDGMENT_HELD,
                )
            ),
        )
    ).first()


def _waits_on(
    session: Session, case: Request, blocked: tuple[Draft, list[str]] | None, *, in_console: bool
) -> str:
    """Whom the case waits on and what they are to do, as `requests show`, `requests list`
    and the console's queue and case page say it. The state alone is not enough: a phone
    call is staff's to make, not the requester's; a complaint's reply cannot be approved
    before its outcome is recorded; a requester not on file has no challenge to answer or
    number to call until staff link the case (or answer that no data is held). The
    console names its own forms where it has them; a phone call is recorded with the
    command only."""
    said = _state_waits_on(session, case, in_console=in_console)
    if case.status != RequestStatus.AWAITING_APPROVAL or said != waits_on(case.status):
        return said
    # "staff: approve …" only for a reply approval would take: one it would refuse (a
    # checklist item open, a code unanswered, a changed register …) says what holds it,
    # decided by the same plan approve_draft refuses by.
    if blocked is None:
        return said
    draft, held = blocked
    where = (
        "see what holds it on the case page"
        if in_console
        else f"noxbot drafts show {draft.id} says what holds it"
    )
    return (
        f"staff: the {name_words(draft.purpose)} cannot be approved yet "
        f"({'; '.join(held)}): {where}"
    )


def draft_blocked(
    session: Session, services: Services, case: Request
) -> tuple[Draft, list[str]] | None:
    """The case's draft awaiting approval that approval would refuse for now, and why in a
    few words each; None when there is none (or the case awaits no approval)."""
    if case.status != RequestStatus.AWAITING_APPROVAL:
        return None
    for draft in open_drafts(session, case):
        if held := blocked_for_now(session, services, draft):
            return draft, held
    return None


def _state_waits_on(session: Session, case: Request, *, in_console: bool) -> str:
    ref = case.reference
    status = RequestStatus(case.status)
    if status in (RequestStatus.AWAITING_VERIFICATION, RequestStatus.UNVERIFIED):
        needs = any(k in KINDS_NEEDING_VERIFICATION for k in case.kinds)
        drafted = session.exec(
            select(Draft.id).where(
                Draft.request_id == case.id,
                Draft.purpose == "no_data",
                Draft.status == DraftStatus.AWAITING_APPROVAL,
            )
        ).first()
        if drafted is not None:  # the "no data held" answer is written: it waits on staff
            where = "on the case page" if in_console else f"noxbot drafts show {drafted}"
            return (
                'staff: approve, edit or reject the "no data held" draft, once any manual '
                f"search on its checklist is ticked off ({where})"
            )
        if needs and case.subject_id is None and case.verified_at is None:
            if in_console:
                return (
                    "staff: link it to the person on file, or, when nobody matches, draft the "
                    '"no data held" answer (Requester not on file, on the case page)'
                )
            return f"staff: {not_on_file_next(case)}"
    close = "Close, on the case page" if in_console else f'noxbot requests close {ref} --reason "…"'
    if status == RequestStatus.UNVERIFIED and identity_denied(session, case) is not None:
        return (
            "staff: the person on file said the request was not theirs: close the case "
            f"({close}), unless they have told you since that it is"
        )
    if status == RequestStatus.UNVERIFIED and case.subject_id is not None:
        subject = session.get(Subject, case.subject_id)
        if subject is not None and not _other_contact_points(session, case, subject):
            return (
                "staff: no contact point on file but the one the request came from, so no "
                "challenge can be sent: add one staff know is theirs to the register (noxbot "
                "subjects import) and send a new challenge, or reply"
            )
    if status in (
        RequestStatus.AWAITING_VERIFICATION,
        RequestStatus.AWAITING_APPROVAL,
        RequestStatus.REJECTED,
    ):
        pending = session.exec(
            select(Verification).where(
                Verification.request_id == case.id,
                Verification.status == VerificationStatus.PENDING,
            )
        ).all()
        said = _challenges_waiting(ref, pending, status)
        if said:
            return said
    if (
        status in (RequestStatus.AWAITING_APPROVAL, RequestStatus.REJECTED)
        and "complaint" in case.kinds
        and not case.complaint_outcome
    ):
        if in_console:
            return "staff: record the complaint's outcome (Complaint outcome, on the case page)"
        return (
            "staff: record the complaint's outcome (noxbot requests outcome "
            f"{ref} --text-file FILE)"
        )
    if status in (RequestStatus.AWAITING_APPROVAL, RequestStatus.REJECTED):
        drafted = session.exec(
            select(Draft.id).where(
                Draft.request_id == case.id,
                col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
            )
        ).first()
        if drafted is None:  # withdrawn (an erasure of the person took it): nothing to approve
            return (
                "staff: its draft was withdrawn (see the history: an erasure of the person's "
                "data withdraws what would have carried it), so nothing waits to be approved: "
                f"close the case saying why ({close}), or draft the reply again"
                + ("" if in_console else f" (noxbot requests redraft {ref})")
            )
    if not is_open(case.status) or status == RequestStatus.APPROVED:
        # Answered, but the recipients who received the person's data are still to be told
        # (Art. 19): the notices wait for staff's approval after the case itself is done,
        # then for the outbox (where one that could not be sent waits for staff again).
        notices = session.exec(
            select(Draft.id, Draft.to_address).where(
                Draft.request_id == case.id,
                Draft.purpose == "art19_notice",
                col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
            )
        ).all()
        first = f"{waits_on(case.status)}; then " if status == RequestStatus.APPROVED else ""
        if notices:
            to = ", ".join(str(address) for _, address in notices)
            where = (
                "on the case page"
                if in_console
                else "noxbot drafts show " + ", ".join(str(id_) for id_, _ in notices)
            )
            return (
                f"{first}staff: approve the Art. 19 notice to {to}, or edit or reject it ({where})"
            )
        going = session.exec(
            select(Outbox.id, Outbox.address, Outbox.status).where(
                Outbox.request_id == case.id,
                Outbox.purpose == "art19_notice",
                col(Outbox.status).in_(_NOTICE_ON_ITS_WAY),
            )
        ).all()
        failed = [(id_, to) for id_, to, state in going if state == OutboxStatus.FAILED]
        if failed and not first:
            to = ", ".join(str(address) for _, address in failed)
            retry = (
                "on the Outbox page"
                if in_console
                else "noxbot outbox retry " + ", ".join(str(id_) for id_, _ in failed)
            )
            return f"staff: the Art. 19 notice to {to} could not be sent: retry it ({retry})"
        if going and not first:
            to = ", ".join(str(address) for _, address, _ in going)
            return f"the outbox: sending the Art. 19 notice to {to}"
    return waits_on(case.status)


#: An approved Art. 19 notice not yet sent: the case is not finished while one is.
_NOTICE_ON_ITS_WAY = [OutboxStatus.QUEUED, OutboxStatus.SENDING, OutboxStatus.FAILED]


def _other_contact_points(session: Session, case: Request, subject: Subject) -> bool:
    """Whether the person has a contact point on file other than the one the request came
    from (one still cooling off counts: a challenge may go there once it has)."""
    came_from = normalised_or_raw(case.channel, case.requester_address)
    return any(
        c.value != came_from
        for c in session.exec(select(ContactPoint).where(ContactPoint.subject_id == subject.id))
    )


#: A challenge, as the one who is to answer it reads it in "waiting on".
_ANSWER = {
    Method.EMAIL_CODE: "the code mailed to",
    Method.TELEGRAM_CONFIRM: "the Telegram message to",
}  # (a call is staff's to make: named among their calls)
_CONTACT = {"email": "email address", "phone": "phone number"}


def _challenges_waiting(ref: str, pending: Any, status: RequestStatus) -> str:
    """ "Waiting on" while challenges are out: the requester's to answer (who asked, and
    each side of a contact point's change: the old value on file and a new email address)
    and staff's calls to make. A change's challenges hold the reply's approval back, so a
    draft waits on them, not on staff; an empty string when no challenge is out."""
    identity = [v for v in pending if v.confirms_contact is None]
    changes = [v for v in pending if v.confirms_contact is not None]
    if status != RequestStatus.AWAITING_VERIFICATION and not changes:
        return ""
    answer = ""
    confirm: list[str] = []
    calls: list[str] = []
    if identity and not all(v.method == Method.PHONE_CALL for v in identity):
        answer = "answer the verification challenge"
    elif identity:
        calls.append("the number on file")
    called = {v.address for v in identity if v.method == Method.PHONE_CALL}
    for v in changes:
        field = _CONTACT.get(v.confirms_contact or "", v.confirms_contact or "")
        side = "new" if v.address == v.confirms_value else "old"
        if v.method == Method.PHONE_CALL and v.address in called:
            calls[0] = f"the number on file (the one call confirms the change of {field} too)"
        elif v.method == Method.PHONE_CALL:
            calls.append(f"the {side} {field} (to confirm its change)")
        else:
            challenge = _ANSWER.get(Method(v.method), "the challenge to")
            confirm.append(f"{challenge} the {side} {field}")
    said = []
    if confirm:
        change = f"confirm the change with {humanjoin(confirm, 'en')}"
        answer = f"{answer}, and {change}" if answer else change
    if answer:
        said.append(f"the requester: {answer}")
    if calls:
        said.append(
            f"staff: call {humanjoin(calls, 'en')} and record the answer (noxbot requests "
            f'verify {ref} --by phone --note "…")'
        )
    if said and status != RequestStatus.AWAITING_VERIFICATION:
        said.append("then staff approve the draft")
    return "; ".join(said)


def waiting_notices() -> Any:
    """The cases with an Art. 19 notice waiting for staff, or approved and not yet sent (a
    subquery of case ids): listed among the open cases, though the case itself is
    answered, until the recipients are told."""
    return (
        select(Draft.request_id)
        .where(
            Draft.purpose == "art19_notice",
            col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
        )
        .union(
            select(Outbox.request_id).where(
                Outbox.purpose == "art19_notice", col(Outbox.status).in_(_NOTICE_ON_ITS_WAY)
            )
        )
    )


def case_json(session: Session, services: Services, case: Request, today: date) -> dict[str, Any]:
    # The challenge of who asked (a case may also have challenges confirming a contact
    # point's change; those are not "the" verification of the case).
    verification = session.exec(
        select(Verification)
        .where(Verification.request_id == case.id, col(Verification.confirms_contact).is_(None))
        .order_by(col(Verification.id).desc())
    ).first()
    due = case.extended_due_date if case.extended and case.extended_due_date else case.due_date
    subject = session.get(Subject, case.subject_id) if case.subject_id else None
    blocked = draft_blocked(session, services, case)  # (once: "waiting_on" says it too)
    return {
        "reference": case.reference,
        "kinds": list(case.kinds),
        "status": case.status,
        "status_words": status_words(case.status),
        "waiting_on": _waiting(session, case, blocked, in_console=False),
        # Why its draft cannot be approved yet, in a few words each (as `drafts list`
        # says it); empty when nothing holds it.
        "blocked": blocked[1] if blocked else [],
        "requester_name": case.requester_name or (subject.name if subject else None),
        "subject_id": case.subject_id,
        # The erasure that removed the person from the register (the case then names no
        # one on file): its reference, else null.
        "erased_with": erased_with(session, case),
        "language": case.language,
        "channel": case.channel,
        "from": case.requester_address,
        "received_at": case.received_at.isoformat(),
        # The legal due date in force (the extended one after an Art. 12(3) extension).
        "due_date": due.isoformat(),
        "original_due_date": case.due_date.isoformat(),
        "target_date": case.target_date.isoformat(),
        "extended_due_date": case.extended_due_date.isoformat() if case.extended_due_date else None,
        # No deadline runs for a case that has ended.
        "working_days_left": working_days_left(due, today) if is_open(case.status) else None,
        "verified": case.verified_at is not None,
        "verification": None
        if verification is None
        else {
            "channel": verification.channel,
            "method": verification.method,
            "status": verification.status,
            "attempts": verification.attempts,
        },
        "confidence": case.confidence,
        "evidence": list(case.evidence),
    }


def _version_of(session: Session, draft: Draft, version: int) -> int | None:
    """The id of another version of the same draft (None: there is none)."""
    return session.exec(
        select(Draft.id).where(Draft.series == draft.series, Draft.version == version)
    ).first()


def draft_json(session: Session, draft: Draft) -> dict[str, Any]:
    """A draft as lists and scripts read it. An edit is a new draft (a new id) and the next
    version of the same reply: "replaces" is the draft id of the version before it,
    "replaced_by" the one of the version after it (None: there is none), so the id to use
    next is plain."""
    case = session.get(Request, draft.request_id)
    return {
        "id": draft.id,
        "reference": case.reference if case else None,
        "version": draft.version,
        "replaces": _version_of(session, draft, draft.version - 1) if draft.version > 1 else None,
        "replaced_by": _version_of(session, draft, draft.version + 1),
        "status": draft.status,
        "status_words": draft_status_words(draft.status)
        + (
            " (held by the one-a-day limit: goes only if approved)"
            if case is not None
            and draft.purpose == "acknowledgment"
            and held_acknowledgment(session, case) == draft.id
            else ""
        ),
        "purpose": draft.purpose,
        "language": draft.language,
        "to": {"channel": draft.to_channel, "address": draft.to_address},
        "subject": draft.subject,
        "text": draft.text,
        "attachments": [a["filename"] for a in draft.attachments],
        "carries_personal_data": draft.carries_personal_data,
        "created_at": draft.created_at.isoformat(),
        "author": draft.author,
    }


def subject_json(session: Session, subject: Subject) -> dict[str, Any]:
    contacts = session.exec(
        select(ContactPoint)
        .where(ContactPoint.subject_id == subject.id)
        .order_by(col(ContactPoint.id))
    ).all()
    return {
        "id": subject.id,
        "name": subject.name,
        "email": [c.value for c in contacts if c.kind == "email"],
        "phone": [c.value for c in contacts if c.kind == "phone"],
        "telegram_user_id": [c.value for c in contacts if c.kind == "telegram"],
        # Every register field (company … cv_text), so nothing held is missing from the JSON.
        **{key: getattr(subject, key) for key in SUBJECT_FIELDS[1:]},
        "extra": subject.extra,
        "restricted": subject.restricted,
        "objected": subject.objected,
        "marketing_suppressed": subject.marketing_suppressed,
        "consent_withdrawn": subject.consent_withdrawn,
        "created_at": subject.created_at.isoformat(),
        "updated_at": subject.updated_at.isoformat(),
    }


def challenge_deliveries(
    verifications: list[Verification], outbox: list[Outbox]
) -> dict[int, Outbox | None]:
    """The outbox row that carries each challenge (None: a call for staff, or none kept): a
    challenge is made and queued at once, and "sent" only once its sender has sent it. A
    code's mail is known by its Message-ID, Telegram buttons by the challenge they answer."""
    carrying: dict[int, Outbox] = {}
    by_message_id: dict[str, Outbox] = {}
    for row in outbox:
        if row.purpose != "verification_challenge":
            continue
        if message_id := row.headers.get("message_id"):
            by_message_id[str(message_id)] = row
        for _label, data in row.headers.get("buttons") or []:
            if (pressed := parse_button_data(str(data))) is not None:
                carrying[pressed[0]] = row
    return {
        v.id: carrying.get(v.id) or by_message_id.get(v.challenge_ref or "")
        for v in verifications
        if v.id is not None and v.method != Method.PHONE_CALL
    }


def _delivery_json(outbox: Outbox | None) -> dict[str, Any]:
    """A challenge's message: its outbox status ("queued", "sent", "failed", …; None for a
    call staff make) and when it was sent."""
    return {
        "delivery": outbox.status if outbox else None,
        "sent_at": outbox.sent_at.isoformat() if outbox and outbox.sent_at else None,
    }


def case_document_json(
    session: Session, services: Services, case: Request, today: date
) -> dict[str, Any]:
    """The whole case, as `requests show` prints it and staff see it in the console: the
    case object with its thread, every version of every draft, challenges, what waits in the
    outbox, alerts and the audit history, each in order."""

    def rows(table: Any, order: Any) -> list[Any]:
        return list(session.exec(select(table).where(table.request_id == case.id).order_by(order)))

    deliveries = challenge_deliveries(
        rows(Verification, col(Verification.id)), rows(Outbox, col(Outbox.id))
    )
    return {
        **case_json(session, services, case, today),
        "thread": [
            {
                "id": m.id,
                "direction": m.direction,
                "channel": m.channel,
                "address": m.address,
                "name": m.display_name,
                "at": m.received_at.isoformat(),
                "subject": m.subject,
                "text": m.text,
                # A press of "Yes, that was me" / "No, it wasn't me": "yes", "no"
                # ("unknown" when not recorded); None for a message with words.
                "button": button_pressed(m.state, m.state_reason, m.text),
                "raw_kept": m.raw is not None,
            }
            for m in rows(Message, col(Message.received_at))
        ],
        "drafts": [
            {
                **draft_json(session, d),
                "series": d.series,
                "decided_by": d.decided_by,
                "decision_reason": d.decision_reason,
            }
            for d in rows(Draft, col(Draft.id))
        ],
        "verifications": [
            {
                "method": v.method,
                "channel": v.channel,
                "address": v.address,
                # what the challenge confirms: a change of this contact point, or (None)
                # who asked
                "confirms_contact": v.confirms_contact,
                "status": v.status,
                "attempts": v.attempts,
                "created_at": v.created_at.isoformat(),
                "resolved_by": v.resolved_by,
                "note": v.note,
                **_delivery_json(deliveries.get(v.id)),
            }
            for v in rows(Verification, col(Verification.id))
        ],
        "outbox": [
            {
                "id": o.id,
                "purpose": o.purpose,
                "channel": o.channel,
                "address": o.address,
                "status": o.status,
            }
            for o in rows(Outbox, col(Outbox.id))
        ],
        "alerts": [
            {"id": a.id, "kind": a.kind, "text": a.text, "resolved": a.resolved_at is not None}
            for a in rows(StaffAlert, col(StaffAlert.id))
        ],
        "history": [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "detail": e.detail,
            }
            for e in rows(AuditEvent, col(AuditEvent.id))
        ],
    }


def find_people(session: Session, text: str, limit: int = 20) -> list[Subject]:
    """People on file whose name or any contact point contains `text`, whatever its case
    and accents ('öhrn', 'Ohrn' find Lena Öhrn); a phone number as people write it
    ('073-987 65 43') also finds the number kept as '+46739876543'."""
    values = [name_contains(ContactPoint.value, text)]
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) >= 6:
        values.append(col(ContactPoint.value).ilike(f"%{digits}%"))  # part of a number
        with contextlib.suppress(InvalidContact):  # not a phone number: text search alone
            values.append(col(ContactPoint.value) == normalise_phone(text))
    by_contact = select(ContactPoint.subject_id).where(or_(*values))
    return list(
        session.exec(
            select(Subject)
            .where(or_(name_contains(Subject.name, text), col(Subject.id).in_(by_contact)))
            .order_by(col(Subject.name))
            .limit(limit)
        )
    )
