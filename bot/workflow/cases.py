"""Opening a case and the staff choices for a whole case: extension, refusal, closing.

Every function works inside the caller's transaction and changes state only through
`lifecycle.transition`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, inspect
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from bot.errors import CaseError
from bot.reading.safe_text import stored_name, stored_note
from bot.rules.channels import ChannelName
from bot.rules.deadlines import due_date, extended_due_date, internal_target_date, stockholm_date
from bot.rules.kinds import RequestKind
from bot.rules.policy import kind_labels
from bot.rules.verification import Method
from bot.store import audit
from bot.store.records import (
    SYSTEM,
    S,
    alert_staff,
    find_requester,
    get_case,
    next_reference,
    subject_of,
)
from bot.store.register import InvalidContact
from bot.store.rows import insert_now, new_row
from bot.store.tables import (
    FINAL_STATES,
    AuditEvent,
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
from bot.workflow.confirming import (
    NoChallenge,
    ensure_contact_confirmations,
    start_case_verification,
)
from bot.workflow.drafts import (
    common_context,
    draft_acknowledgment,
    draft_reply,
    new_draft,
    redraft_reply,
    reply_address,
    supersede_open_drafts,
)
from bot.workflow.lifecycle import claim_case, is_open, transition
from bot.workflow.outbox import queue_outbox, withdraw_queued
from bot.workflow.services import Services
from bot.workflow.words import challenge_started_words, status_words
from handlers import handler_for, needs_verification
from handlers.base import CaseView
from handlers.marketing_optout import suppress_address
from handlers.rectification import staff_changes
from handlers.refusal import TEMPLATE as REFUSAL_TEMPLATE

#: At most one automatic acknowledgement per requester address and channel in this time.
ACKNOWLEDGE_AT_ONCE_EVERY = timedelta(days=1)
#: The audit action of an acknowledgment the limit above held back for staff.
ACKNOWLEDGMENT_HELD = "acknowledgment_held"


@dataclass(frozen=True)
class Opened:
    case: Request
    verification: Verification | None


def open_case(
    session: Session,
    services: Services,
    message: Message,
    kinds: list[RequestKind],
    language: str,
    *,
    confidence: float | None = None,
    evidence: list[str] | None = None,
    actor: str = SYSTEM,
) -> Opened:
    """Open a case for a rights request and take it as far as it can go without staff."""
    received_at = message.received_at
    tz = services.settings.organisation.timezone
    # Neither lookup reads what this transaction has pending (the message, events): the
    # message is written with the case, in one flush, not on its own before them.
    with session.no_autoflush:
        subject = find_requester(session, message.channel, message.address)
        reference = next_reference(session, stockholm_date(received_at, tz).year)
    verifying = needs_verification(kinds)
    # A stranger's request that needs verification goes to staff (unverified) whatever
    # else happens below: written so, its move recorded below (one UPDATE fewer).
    first = S.UNVERIFIED if verifying and subject is None else S.RECEIVED
    # Made and written at once (bot.store.rows): the events and the draft below need its id.
    case = new_row(
        Request,
        reference=reference,
        subject_id=subject.id if subject else None,
        kinds=[str(k) for k in kinds],
        language=language,
        channel=message.channel,
        requester_address=message.address,
        requester_name=stored_name(message.display_name),
        status=first,
        received_at=received_at,
        due_date=due_date(received_at, tz),
        target_date=internal_target_date(
            received_at, services.settings.deadlines.internal_target_days, tz
        ),
        confidence=confidence,
        evidence=evidence or [],
        requested_changes=[],
        created_at=services.clock(),
        updated_at=services.clock(),
    )
    insert_now(session, case)
    message.request_id = case.id
    message.state = MessageState.REQUEST  # the words the handlers read (drafts.case_view)
    if inspect(message).transient:  # a new message: written now, with its case
        insert_now(session, message)
    else:
        session.add(message)
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="case_opened",
        request=case,
        detail=f"{', '.join(case.kinds)} by {case.channel}"
        + (f"; confidence {confidence:.2f}" if confidence is not None else ""),
    )
    # What case_view would read back: a case just opened has this one message (its id is
    # new), and the person found above.
    view = CaseView(session, services, case, subject, message.text)
    for kind in case.kinds:
        handler_for(kind).on_open(view)
    stop_marketing_at_once(session, services, case, actor=actor)

    if not verifying:
        draft_reply(session, services, case, actor=actor)
        transition(
            session,
            case,
            S.AWAITING_APPROVAL,
            actor=actor,
            reason="no verification needed for " + ", ".join(case.kinds),
            now=services.clock(),
        )
        return Opened(case, None)

    if subject is None:
        transition(
            session,
            case,
            S.UNVERIFIED,
            actor=actor,
            reason="sender not found in the register",
            now=services.clock(),
            just_opened=True,
        )
        acknowledge(session, services, case, message)  # the same words for everyone
        return Opened(case, None)

    verification = start_case_verification(session, services, case, subject, actor=actor)
    if isinstance(verification, NoChallenge):
        transition(
            session, case, S.UNVERIFIED, actor=actor, reason=verification.why, now=services.clock()
        )
        # (One open alert a case: where a challenge was held back, staff were told why.)
        alert_staff(
            session,
            case,
            "unverified",
            f"{case.reference}: no alternate channel on file to verify the requester; "
            "decide how to confirm identity.",
            now=services.clock(),
        )
        acknowledge(session, services, case, message)
        return Opened(case, None)

    transition(
        session,
        case,
        S.AWAITING_VERIFICATION,
        actor=actor,
        reason=challenge_started_words(verification.method),
        now=services.clock(),
    )
    acknowledge(session, services, case, message)
    return Opened(case, verification)


#: Kinds that ask for marketing to stop: a withdrawal of consent is, for NOX, mostly the
#: newsletter's.
_STOPS_MARKETING = (RequestKind.MARKETING_OPTOUT, RequestKind.CONSENT_WITHDRAWAL)


def stop_marketing_at_once(
    session: Session,
    services: Services,
    case: Request,
    *,
    actor: str,
    channel: str | None = None,
    address: str | None = None,
) -> bool:
    """An opt-out (or consent withdrawal) in a case that also waits for verification: the
    sender's address is suppressed for marketing now, not when the reply is approved —
    Art. 21(3) wants it without delay, and it discloses nothing. The rest of the case still
    waits; approving the reply later does what the kinds' handlers do, as for any case."""
    if not any(k in _STOPS_MARKETING for k in case.kinds):
        return False
    if not needs_verification(case.kinds):
        return False  # nothing waits: the reply is drafted for staff at once
    # Only the address the asking message came by (`channel`, `address`; by default the
    # case's request) is read: who is on file plays no part yet. A later message in the
    # thread may come from another address than the case's (the person on file answering
    # a case a stranger opened in their name): it is that sender who asked.
    if not suppress_address(
        session,
        services,
        channel or case.channel,
        address if address is not None else case.requester_address,
    ):
        return False
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="marketing_suppressed",
        request=case,
        detail="the sender's address, at once; the rest of the case waits for verification",
    )
    return True


def acknowledge(
    session: Session, services: Services, case: Request, message: Message | None = None
) -> Draft:
    """The first answer while identity is checked. Its words are the same for everyone and
    hold no personal data (not even the name the sender gave), so with `[verification]
    acknowledge_at_once` it is queued at once on the mail or chat the request came by (never
    to a contact point on file: that would tell whether we hold one); else it is a draft
    that waits for staff. `message`: the one the case was just opened by (its only one so
    far: what the acknowledgement threads to, without asking the database)."""
    now = services.clock()
    came_by = (case.channel, case.requester_address)
    if (
        not services.settings.verification.acknowledge_at_once
        or case.channel not in (ChannelName.EMAIL, ChannelName.TELEGRAM)
        or reply_address(session, case, now) != came_by
    ):
        # a request by phone or post: staff answer it by hand
        return draft_acknowledgment(session, services, case)
    if _acknowledged_lately(session, case, now):
        # A flood of requests in someone's name (a forged From) must not turn NOX into a
        # mail cannon aimed at them: one automatic answer a day, the rest wait for staff.
        # Recorded, so that "waiting on" says why this one waits (bot.workflow.views).
        held = draft_acknowledgment(session, services, case)
        audit.record(
            session,
            at=now,
            actor=SYSTEM,
            action=ACKNOWLEDGMENT_HELD,
            request=case,
            detail=f"draft {held.id}: one automatic acknowledgment a day to an address, and "
            "one already went to this one; this one waits for staff",
        )
        return held
    # Written approved (one INSERT), as if drafted and approved by noxbot at once.
    draft = draft_acknowledgment(session, services, case, approved_at=now)
    queue_outbox(
        session,
        case,
        ChannelName(draft.to_channel),
        draft.to_address,
        draft.subject,
        draft.text,
        purpose="acknowledgment",
        draft=draft,
        auto_submitted=True,  # RFC 3834: an automatic answer; loop-safe like the challenges
        now=now,
        from_address=services.settings.organisation.email,
        replying_to=message,
    )
    return draft


_DRAFT = Draft.__table__  # type: ignore[attr-defined]
_REQUEST = Request.__table__  # type: ignore[attr-defined]
#: Built once (with bind parameters): every request acknowledged at once asks it, and
#: building the ORM query each time cost more than running it.
_ACKNOWLEDGED_LATELY = (
    core_select(_DRAFT.c.id)
    .select_from(_DRAFT.join(_REQUEST, _REQUEST.c.id == _DRAFT.c.request_id))
    .where(
        _REQUEST.c.requester_address == bindparam("address"),
        _REQUEST.c.channel == bindparam("channel"),
        _REQUEST.c.id != bindparam("case_id"),
        _DRAFT.c.purpose == "acknowledgment",
        _DRAFT.c.decided_by == SYSTEM,
        _DRAFT.c.decided_at >= bindparam("since"),
    )
    .limit(1)
)


def _acknowledged_lately(session: Session, case: Request, now: datetime) -> bool:
    """Whether an acknowledgement already went out at once to this case's requester, on
    the same channel, within the last day — also one written earlier in this transaction
    (another request from the same address in the same batch: drafts are written at once,
    bot.store.rows.insert_now, and one still pending in the session is flushed first)."""
    if _pending(session, Draft) or _pending(session, Request, but=case):
        session.flush()  # (what the ORM's autoflush would do; the pipeline has none pending)
    found = session.connection().execute(
        _ACKNOWLEDGED_LATELY,
        {
            "address": case.requester_address,
            "channel": case.channel,
            "case_id": case.id,
            "since": now - ACKNOWLEDGE_AT_ONCE_EVERY,
        },
    )
    return found.first() is not None


def _pending(session: Session, model: type, *, but: object = None) -> bool:
    """Whether the session holds a new or changed `model` row (other than `but`) that a
    query must see: one not yet flushed."""
    return any(
        isinstance(o, model) and o is not but
        for o in (*session.new, *session.dirty, *session.deleted)
    )


def extend_case(
    session: Session, services: Services, reference: str, reason: str, *, actor: str
) -> Draft:
    """Art. 12(3): two more months, with a notice to the person within the first month. The
    notice is drafted now; the longer deadline holds once it has gone out — sent, or handed
    to staff to post (bot.workflow.lifecycle.apply_extension) — so the person is never held
    to a date nobody told them of."""
    reason = stored_note(reason)  # (it is also written into the notice)
    case = get_case(session, reference)
    claim_case(session, case)
    if not is_open(case.status):
        raise CaseError(f"{case.reference} is {case.status}; a closed case cannot be extended")
    _not_after_the_reply(case, "extended: more time is asked for before the answer")
    if case.extended:
        raise CaseError(f"{case.reference} is already extended to {case.extended_due_date}")
    waiting = waiting_extension(session, case)
    if waiting is not None:
        raise CaseError(
            f"{case.reference}: an extension notice is already waiting for approval "
            f"(draft {waiting.id})"
        )
    going = session.exec(
        select(Outbox).where(
            Outbox.request_id == case.id,
            Outbox.purpose == "extension",
            col(Outbox.status).in_([OutboxStatus.QUEUED, OutboxStatus.SENDING]),
        )
    ).first()
    if going is not None:
        raise CaseError(
            f"{case.reference}: an extension notice is already approved and waiting to be sent "
            f"(outbox {going.id}); the due date moves once it has gone out"
        )
    if not reason.strip():
        raise CaseError("--reason is required: the notice must say why (Art. 12(3))")
    today = stockholm_date(services.clock(), services.settings.organisation.timezone)
    if today > case.due_date:
        raise CaseError(
            f"{case.reference}: the first month ended on {case.due_date}; an "
            "extension must be notified within it"
        )
    extended = extended_due_date(case.received_at, services.settings.organisation.timezone)
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="extension_drafted",
        request=case,
        detail=f"to {extended} once the notice is approved: {reason}",
    )
    rendered = services.drafter.render(
        "extension.txt.j2",
        case.language,
        **common_context(session, case),
        reason=reason,
        extended_due_date=extended,
    )
    return new_draft(
        session,
        case,
        "extension",
        rendered.subject,
        rendered.text,
        covers={"extension": {"due": extended.isoformat(), "reason": reason}},
        author=actor,
        now=services.clock(),
    )


def waiting_extension(session: Session, case: Request) -> Draft | None:
    """An extension notice still waiting for approval (or an edit), if there is one."""
    return session.exec(
        select(Draft).where(
            Draft.request_id == case.id,
            Draft.purpose == "extension",
            col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
        )
    ).first()


def resolve_alert(
    session: Session, services: Services, alert_id: int, note: str, *, actor: str
) -> StaffAlert:
    """Staff dealt with an alert; what they say they did is kept in the audit trail
    (personal identity numbers masked, as in every note)."""
    alert = session.get(StaffAlert, alert_id)
    if alert is None:
        raise CaseError(f"no alert with id {alert_id}")
    if alert.resolved_at is not None:
        raise CaseError(f"alert {alert_id} is resolved already (by {alert.resolved_by})")
    note = stored_note(note).strip()
    alert.resolved_at = services.clock()
    alert.resolved_by = actor
    session.add(alert)
    case = session.get(Request, alert.request_id) if alert.request_id else None
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="alert_resolved",
        request=case,
        detail=f"alert {alert.id} ({alert.kind})" + (f": {note}" if note else ""),
    )
    return alert


def call_still_owed(session: Session, alert: StaffAlert) -> str | None:
    """After a "call to verify" alert is resolved by hand, the call its case still waits
    for, as a command; None when none does. Resolving the alert records no call: staff who
    called and resolved it would otherwise leave the case waiting with nothing to say so."""
    if alert.kind != "call_to_verify" or alert.request_id is None:
        return None
    case = session.get(Request, alert.request_id)
    waiting = session.exec(
        select(Verification).where(
            Verification.request_id == alert.request_id,
            Verification.status == VerificationStatus.PENDING,
            Verification.method == Method.PHONE_CALL,
        )
    ).first()
    if case is None or waiting is None:
        return None
    return f'noxbot requests verify {case.reference} --by phone --note "…"'


def add_note(
    session: Session, services: Services, reference: str, text: str, *, actor: str
) -> Request:
    """An internal note on a case: kept in its history (personal identity numbers masked, as
    in every note and reason staff write), never sent to anyone."""
    note = stored_note(text).strip()
    if not note:
        raise CaseError("an empty note says nothing; write the note first")
    case = get_case(session, reference)
    audit.record(
        session, at=services.clock(), actor=actor, action="note", request=case, detail=note
    )
    return case


def _not_after_the_reply(case: Request, what: str) -> None:
    """Refused once the case's reply was approved: what it promised is carried out, and it
    is on its way (or went)."""
    if case.status == S.APPROVED:
        raise CaseError(
            f"{case.reference}: its reply was approved and what it promised carried out; "
            f"it can no longer be {what}"
        )


def refuse_case(
    session: Session, services: Services, reference: str, reasons: str, *, actor: str
) -> Draft:
    """Art. 12(4): a refusal notice with reasons, for staff to approve; approval closes."""
    reasons = stored_note(reasons)
    case = get_case(session, reference)
    claim_case(session, case)
    if not is_open(case.status):
        raise CaseError(f"{case.reference} is {case.status}")
    _not_after_the_reply(case, "refused: the person would be told both")
    if not reasons.strip():
        raise CaseError("--reason is required: a refusal must give reasons (Art. 12(4))")
    # A new refusal replaces an earlier one still waiting: one notice, the latest reasons.
    supersede_open_drafts(
        session, case, purposes=("reply", "acknowledgment", "clarification", "refusal")
    )
    rendered = services.drafter.render(
        REFUSAL_TEMPLATE,
        case.language,
        **common_context(session, case),
        reasons=reasons,
        kinds=kind_labels(case.kinds, case.language),
    )
    return new_draft(
        session,
        case,
        "refusal",
        rendered.subject,
        rendered.text,
        author=actor,
        now=services.clock(),
    )


def close_case(
    session: Session,
    services: Services,
    reference: str,
    reason: str,
    *,
    actor: str,
    withdrawn: bool = False,
) -> Request:
    """End an open case without a reply; its waiting drafts are superseded (by
    `lifecycle.transition`, as for every case that ends)."""
    reason = stored_note(reason)
    case = get_case(session, reference)
    claim_case(session, case)
    if not reason.strip():
        raise CaseError("--reason is required")
    if case.status == S.APPROVED:  # (what it promised is carried out; staff end it there)
        _withdraw_the_reply(session, services, case, actor=actor)
    transition(
        session,
        case,
        S.WITHDRAWN if withdrawn else S.CLOSED,
        actor=actor,
        reason=reason,
        now=services.clock(),
    )
    return case


def reopen_case(
    session: Session, services: Services, reference: str, reason: str, *, actor: str
) -> Request:
    """Staff take back an end made by mistake (closed, refused, answered, withdrawn).

    The case keeps its received date and so its legal deadline (and an extension already
    given); it is not a new request. Where it goes: identity confirmed, or kinds that need
    no verification → a fresh reply draft for staff (`awaiting_approval`); otherwise
    `unverified`, with an alert, for staff to confirm who asked. A case whose person was
    erased (or whose records were purged) cannot be reopened: what it would act on is gone.
    """
    reason = stored_note(reason)
    case = get_case(session, reference)
    claim_case(session, case)
    if not reason.strip():
        raise CaseError("--reason is required: say why the case is reopened")
    if case.status not in FINAL_STATES:
        raise CaseError(f"{case.reference} is {case.status}, not finished: nothing to reopen")
    gone = erased_why(session, case)
    if gone:
        raise CaseError(
            f"{case.reference} cannot be reopened: {gone}, so the data it would act on is "
            "gone. If the person asks again, that is a new request (a new case)."
        )
    now = services.clock()
    verified = case.verified_at is not None or not needs_verification(case.kinds)
    target = S.AWAITING_APPROVAL if verified else S.UNVERIFIED
    transition(
        session, case, target, actor=actor, reason=f"reopened: {reason.strip()}", now=now,
        reopening=True,
    )  # fmt: skip
    if verified:
        draft_reply(session, services, case, actor=SYSTEM)
    else:
        alert_staff(
            session,
            case,
            "unverified",
            f"{case.reference} was reopened; identity is not confirmed: verify by phone, send "
            "a challenge, link the case to a person on file, or reply.",
            now=now,
        )
    return case


def erased_why(session: Session, case: Request) -> str | None:
    """Why a finished case's data is gone (None if it is not): it carried out an erasure,
    an erasure elsewhere cleared what it held of the person, or retention purged it."""
    events = session.exec(
        select(AuditEvent).where(
            AuditEvent.request_id == case.id,
            col(AuditEvent.action).in_(["carried_out_erasure", "retention_purge"]),
        )
    ).all()
    if any(e.action == "retention_purge" for e in events):
        return "its records were purged under the retention rule"
    if any(e.detail.startswith("erased from the register") for e in events):
        return "it erased the person"
    cleared = session.exec(
        select(Message.id).where(
            Message.request_id == case.id, col(Message.content_cleared_at).is_not(None)
        )
    ).first()
    erased_draft = session.exec(
        select(Draft.id).where(
            Draft.request_id == case.id, col(Draft.text).startswith("(content erased")
        )
    ).first()
    if cleared is not None or erased_draft is not None:
        return "the person was erased and what the case held of them was cleared"
    return None


def _withdraw_the_reply(session: Session, services: Services, case: Request, *, actor: str) -> None:
    """A case closed after its reply was approved (staff answered by phone, say): the reply
    still waiting to go, or given up, is withdrawn, so that the person does not get it after
    the case was closed, nor later by `outbox retry`; one the sender is handing over right
    now cannot be stopped, and the closing is refused."""
    unsent = [OutboxStatus.QUEUED, OutboxStatus.FAILED, OutboxStatus.SENDING]
    rows = session.exec(
        select(Outbox.id, Outbox.status).where(
            Outbox.request_id == case.id,
            Outbox.purpose == "reply",
            col(Outbox.status).in_(unsent),
        )
    ).all()
    note = "withdrawn: the case was closed without it"
    withdrawn = withdraw_queued(
        session, case.id, "reply", note, failed_too=True, actor=actor, now=services.clock()
    )
    # (one the sender took after it was read: a conditional write, so it is not withdrawn)
    if any(status == OutboxStatus.SENDING for _, status in rows) or withdrawn < len(rows):
        raise CaseError(
            f"{case.reference}: its reply is being handed over to be sent right now "
            f"(outbox {', '.join(str(id_) for id_, _ in rows)}); look again in a moment"
        )
    if withdrawn:
        audit.record(
            session,
            at=services.clock(),
            actor=actor,
            action="reply_withdrawn",
            request=case,
            detail=f"{withdrawn} message(s): the case was closed without it",
        )


def redraft_on_request(
    session: Session, services: Services, reference: str, *, actor: str, where: str
) -> Draft:
    """Staff have the reply drafted again from what is on file now (a re-import or a
    correction changed what a waiting reply shows); the waiting one is superseded. The case
    is claimed first: a reply approved meanwhile is not superseded under its queued mail."""
    case = get_case(session, reference)
    claim_case(session, case)
    draft = redraft_reply(session, services, case, f"staff asked for it ({where})")
    if draft is None:
        raise CaseError(
            f"{case.reference} is {status_words(case.status)}; only a reply waiting for "
            "approval (or an edit) can be drafted again"
        )
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="reply_redrafted",
        request=case,
        detail=f"drafted again from what is on file now ({where}) as draft {draft.id}",
    )
    return draft


def set_requested_changes(
    session: Session, services: Services, reference: str, settings: dict[str, str], *, actor: str
) -> Request:
    """Staff state what a rectification changes; the waiting reply is redrafted to match, and
    approval applies exactly these changes."""
    case = get_case(session, reference)
    claim_case(session, case)
    if RequestKind.RECTIFICATION not in case.kinds:
        raise CaseError(f"{case.reference} is not a rectification request")
    if not is_open(case.status) or case.status == S.APPROVED:
        raise CaseError(f"{case.reference} is {case.status}; its changes can no longer be set")
    subject = subject_of(session, case)
    if subject is None:
        raise CaseError(f"{case.reference}: the person is not on file; nothing to rectify")
    try:
        case.requested_changes = staff_changes(session, subject, settings, case.language)
    except InvalidContact as exc:
        raise CaseError(str(exc)) from None
    session.add(case)
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="changes_set",
        request=case,
        detail=", ".join(f"{c['field']}" for c in case.requested_changes),
    )
    redraft_reply(session, services, case, "the changes to make were stated anew")
    # A new email or phone is confirmed on the old one before approval (bot.workflow.confirming).
    ensure_contact_confirmations(session, services, case, actor=actor)
    return case
