"""Cases: opening one, verifying the requester, drafting, and what staff do with drafts.

Every function works inside the caller's transaction and changes state only through
`lifecycle.transition`. The one rule this module exists to keep: register data goes into a
draft only for a verified case, and leaves only in a draft a staff member approved.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot import audit
from bot.channels.base import Attachment, Button, ChannelName
from bot.deadlines import due_date, extended_due_date, internal_target_date, stockholm_date
from bot.errors import NoxbotError
from bot.kinds import RequestKind
from bot.lifecycle import is_open, transition
from bot.models import (
    ContactKind,
    Draft,
    DraftStatus,
    Message,
    Outbox,
    ReferenceCounter,
    Request,
    RequestStatus,
    StaffAlert,
    Subject,
    Verification,
    VerificationStatus,
)
from bot.policy import KIND_LABELS
from bot.register import contacts_of, find_subject, normalise
from bot.services import Services
from bot.verification import Method, Route, button_data, choose_route, hash_code, new_code
from handlers import handler_for
from handlers.base import CaseView
from handlers.refusal import TEMPLATE as REFUSAL_TEMPLATE

S = RequestStatus
SYSTEM = "noxbot"
REFERENCE_PATTERN = re.compile(r"\bDSR-(\d{4})-(\d{4,})\b")

#: Button labels for the Telegram confirmation, in the language of the case.
CONFIRM_LABELS = {
    "sv": ("Ja, det var jag", "Nej, det var inte jag"),
    "en": ("Yes, that was me", "No, it wasn't me"),
}


class CaseError(NoxbotError):
    """A staff action that cannot be done as asked; the message says why."""


class StaleDraft(CaseError):
    """Approving or editing a version that is no longer the current one."""


# --- References and lookups ----------------------------------------------------------------


def next_reference(session: Session, year: int) -> str:
    """DSR-YYYY-NNNN, numbered per year; the counter row serialises concurrent openers."""
    counter = session.exec(
        select(ReferenceCounter).where(ReferenceCounter.year == year).with_for_update()
    ).first()
    if counter is None:
        counter = ReferenceCounter(year=year, last=0)
    counter.last += 1
    session.add(counter)
    session.flush()
    return f"DSR-{year}-{counter.last:04d}"


def get_case(session: Session, reference: str) -> Request:
    case = session.exec(select(Request).where(Request.reference == reference.upper())).first()
    if case is None:
        raise CaseError(f"no case with reference {reference}")
    return case


def find_reference(text: str) -> str | None:
    match = REFERENCE_PATTERN.search(text or "")
    return match.group(0) if match else None


def subject_of(session: Session, case: Request) -> Subject | None:
    return session.get(Subject, case.subject_id) if case.subject_id else None


def kind_labels(kinds: list[str], language: str) -> list[str]:
    labels = KIND_LABELS.get(language, KIND_LABELS["en"])
    return [labels.get(k, k) for k in kinds]


def _alert(session: Session, case: Request | None, kind: str, text: str) -> None:
    session.add(StaffAlert(request_id=case.id if case else None, kind=kind, text=text))


def _contact_kind(channel: str) -> ContactKind | None:
    return {
        "email": ContactKind.EMAIL,
        "telegram": ContactKind.TELEGRAM,
        "phone": ContactKind.PHONE,
    }.get(channel)


def find_requester(session: Session, channel: str, address: str) -> Subject | None:
    """The person on file the request came from; post intake may give an email or phone."""
    kind = _contact_kind(channel)
    if kind is not None:
        return find_subject(session, kind, address)
    for kind in (ContactKind.EMAIL, ContactKind.PHONE):
        if subject := find_subject(session, kind, address):
            return subject
    return None


# --- Opening a case ------------------------------------------------------------------------


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
    subject = find_requester(session, message.channel, message.address)
    case = Request(
        reference=next_reference(session, stockholm_date(received_at, tz).year),
        subject_id=subject.id if subject else None,
        kinds=[str(k) for k in kinds],
        language=language,
        channel=message.channel,
        requester_address=message.address,
        requester_name=message.display_name,
        status=S.RECEIVED,
        received_at=received_at,
        due_date=due_date(received_at, tz),
        target_date=internal_target_date(
            received_at, services.settings.deadlines.internal_target_days, tz
        ),
        confidence=confidence,
        evidence=evidence or [],
    )
    session.add(case)
    session.flush()
    message.request_id = case.id
    session.add(message)
    audit.record(
        session,
        actor=actor,
        action="case_opened",
        request=case,
        detail=f"{', '.join(case.kinds)} by {case.channel}"
        + (f"; confidence {confidence:.2f}" if confidence is not None else ""),
    )
    view = _view(session, services, case)
    for kind in case.kinds:
        handler_for(kind).on_open(view)

    if not any(handler_for(k).needs_verification for k in case.kinds):
        _draft_reply(session, services, case, actor=actor)
        transition(
            session,
            case,
            S.AWAITING_APPROVAL,
            actor=actor,
            reason="no verification needed for " + ", ".join(case.kinds),
        )
        return Opened(case, None)

    if subject is None:
        transition(
            session, case, S.UNVERIFIED, actor=actor, reason="sender not found in the register"
        )
        _draft_clarification(session, services, case, "unknown_sender")
        return Opened(case, None)

    route = choose_route(
        ChannelName(case.channel),
        _normalised_or_raw(case.channel, case.requester_address),
        [(c.kind, c.value) for c in contacts_of(session, subject)],
    )
    if route is None:
        transition(
            session, case, S.UNVERIFIED, actor=actor, reason="no alternate contact channel on file"
        )
        _alert(
            session,
            case,
            "unverified",
            f"{case.reference}: no alternate channel on file to verify the requester; "
            "decide how to confirm identity.",
        )
        _draft_clarification(session, services, case, "no_alternate_channel")
        return Opened(case, None)

    verification = start_verification(session, services, case, route, actor=actor)
    transition(
        session,
        case,
        S.AWAITING_VERIFICATION,
        actor=actor,
        reason=f"verification by {route.method} sent",
    )
    _draft_acknowledgment(session, services, case)
    return Opened(case, verification)


def _normalised_or_raw(channel: str, address: str) -> str:
    kind = _contact_kind(channel)
    if kind is None:
        return address
    try:
        return normalise(kind, address)
    except NoxbotError:
        return address


# --- Verification --------------------------------------------------------------------------


def start_verification(
    session: Session, services: Services, case: Request, route: Route, *, actor: str = SYSTEM
) -> Verification:
    """Create the challenge and queue it on the alternate channel (it holds no personal data,
    so it goes out without approval); a phone route becomes a task for staff."""
    settings = services.settings.verification
    now = services.clock()
    verification = Verification(
        request_id=case.id,
        method=route.method,
        channel=route.channel,
        address=route.address,
        max_attempts=settings.max_attempts,
        expires_at=now + timedelta(hours=settings.code_ttl_hours),
        created_at=now,
    )
    session.add(verification)
    session.flush()
    assert verification.id is not None
    ttl = settings.code_ttl_hours
    ttl_shown = int(ttl) if float(ttl).is_integer() else ttl
    if route.method is Method.EMAIL_CODE:
        code = new_code()
        verification.code_hash = hash_code(services.hash_key, verification.id, code)
        rendered = services.drafter.render(
            "verification_challenge_email.txt.j2",
            case.language,
            reference=case.reference,
            name=None,
            due_date=case.due_date,
            code=code,
            ttl_hours=ttl_shown,
            request_channel=case.channel,
            max_attempts=settings.max_attempts,
        )
        outbox = queue_outbox(
            session,
            case,
            ChannelName.EMAIL,
            route.address,
            rendered.subject,
            rendered.text,
            purpose="verification_challenge",
            auto_submitted=True,
            now=now,
        )
        verification.challenge_ref = outbox.headers["message_id"]
    elif route.method is Method.TELEGRAM_CONFIRM:
        rendered = services.drafter.render(
            "verification_challenge_telegram.txt.j2",
            case.language,
            reference=case.reference,
            name=None,
            due_date=case.due_date,
            request_channel=case.channel,
            ttl_hours=ttl_shown,
        )
        yes, no = CONFIRM_LABELS.get(case.language, CONFIRM_LABELS["en"])
        queue_outbox(
            session,
            case,
            ChannelName.TELEGRAM,
            route.address,
            "",
            rendered.text,
            purpose="verification_challenge",
            now=now,
            buttons=[
                Button(yes, button_data(verification.id, True)),
                Button(no, button_data(verification.id, False)),
            ],
        )
    else:
        verification.expires_at = None
        _alert(
            session,
            case,
            "call_to_verify",
            f"{case.reference}: call the number on file ({route.address}) to confirm the "
            f"request, then run: noxbot requests verify {case.reference} --by phone "
            "--note '…'",
        )
    session.add(verification)
    audit.record(
        session,
        actor=actor,
        action="verification_started",
        request=case,
        detail=f"{route.method} via {route.channel}",
    )
    return verification


def _finish_verification(
    session: Session,
    services: Services,
    case: Request,
    verification: Verification,
    status: VerificationStatus,
    *,
    actor: str,
    note: str | None = None,
) -> None:
    verification.status = status
    verification.resolved_at = services.clock()
    verification.resolved_by = actor
    verification.note = note
    session.add(verification)
    audit.record(
        session, actor=actor, action=f"verification_{status}", request=case, detail=note or ""
    )


def confirm_identity(
    session: Session,
    services: Services,
    case: Request,
    verification: Verification | None,
    *,
    actor: str,
    note: str | None = None,
) -> None:
    """The requester is who they say: the case is verified and its reply drafted."""
    if verification is not None:
        _finish_verification(
            session,
            services,
            case,
            verification,
            VerificationStatus.CONFIRMED,
            actor=actor,
            note=note,
        )
    case.verified_at = services.clock()
    case.verified_by = actor
    transition(session, case, S.VERIFIED, actor=actor, reason=note or "identity confirmed")
    _supersede_open_drafts(session, case, purposes=("acknowledgment", "clarification"))
    _draft_reply(session, services, case, actor=SYSTEM)
    transition(session, case, S.AWAITING_APPROVAL, actor=SYSTEM, reason="reply drafted")


def deny_identity(
    session: Session,
    services: Services,
    case: Request,
    verification: Verification,
    *,
    actor: str,
) -> None:
    """'It wasn't me': nothing closes silently — the case waits for staff, who are alerted."""
    _finish_verification(
        session,
        services,
        case,
        verification,
        VerificationStatus.DENIED,
        actor=actor,
        note="the person on file says they did not ask",
    )
    transition(
        session,
        case,
        S.UNVERIFIED,
        actor=actor,
        reason="the person on file denied making the request",
    )
    _alert(
        session,
        case,
        "possible_impersonation",
        f"{case.reference}: the person on file says they did NOT make this request "
        f"(asked by {case.channel} from {case.requester_address}). Possible impersonation; "
        "nothing has been disclosed.",
    )
    _supersede_open_drafts(session, case, purposes=("acknowledgment",))
    _draft_clarification(session, services, case, "denied")


def fail_verification(
    session: Session,
    services: Services,
    case: Request,
    verification: Verification,
    status: VerificationStatus,
    *,
    actor: str,
    reason: str,
) -> None:
    """Too many wrong codes or an expired challenge: staff decide what happens next."""
    _finish_verification(session, services, case, verification, status, actor=actor, note=reason)
    transition(session, case, S.UNVERIFIED, actor=actor, reason=reason)
    _alert(session, case, "verification_failed", f"{case.reference}: {reason}.")
    _supersede_open_drafts(session, case, purposes=("acknowledgment",))
    _draft_clarification(session, services, case, "verification_failed")


def verify_by_phone(
    session: Session, services: Services, reference: str, note: str, *, actor: str
) -> Request:
    """Staff called the number on file and the person confirmed the request."""
    case = get_case(session, reference)
    if case.status not in (S.AWAITING_VERIFICATION, S.UNVERIFIED):
        raise CaseError(
            f"{case.reference} is {case.status}; only a case awaiting verification "
            "or unverified can be verified"
        )
    if not note.strip():
        raise CaseError("--note is required: say who was called and what they confirmed")
    pending = pending_verifications(session, case)
    for other in pending:
        if other.method != Method.PHONE_CALL:
            _finish_verification(
                session,
                services,
                case,
                other,
                VerificationStatus.CANCELLED,
                actor=actor,
                note="verified by phone instead",
            )
    phone = next((v for v in pending if v.method == Method.PHONE_CALL), None)
    if phone is None:
        phone = Verification(
            request_id=case.id,
            method=Method.PHONE_CALL,
            channel=ChannelName.PHONE,
            address="staff call",
            created_at=services.clock(),
        )
        session.add(phone)
        session.flush()
    confirm_identity(session, services, case, phone, actor=actor, note=f"by phone: {note}")
    return case


def pending_verifications(session: Session, case: Request) -> list[Verification]:
    return list(
        session.exec(
            select(Verification).where(
                Verification.request_id == case.id,
                Verification.status == VerificationStatus.PENDING,
            )
        )
    )


# --- Drafts --------------------------------------------------------------------------------


def _view(session: Session, services: Services, case: Request) -> CaseView:
    first = session.exec(
        select(Message)
        .where(Message.request_id == case.id, Message.direction == "in")
        .order_by(col(Message.id))
    ).all()
    text = "\n\n".join(
        m.text for m in first if m.state not in ("verification_answer", "automated", "malformed")
    )
    return CaseView(session, services, case, subject_of(session, case), text)


def reply_address(case: Request) -> tuple[str, str]:
    """Where a reply to the requester goes: the channel and address the request came from."""
    return case.channel, case.requester_address


def _new_draft(
    session: Session,
    case: Request,
    purpose: str,
    subject: str,
    text: str,
    *,
    attachments: tuple[Attachment, ...] = (),
    carries_personal_data: bool = False,
    author: str = SYSTEM,
) -> Draft:
    if carries_personal_data and case.verified_at is None:
        # The rule of this module: never draft register data for an unverified case.
        raise CaseError(f"{case.reference}: refusing to draft personal data for an unverified case")
    channel, address = reply_address(case)
    draft = Draft(
        series=uuid.uuid4().hex[:12],
        version=1,
        request_id=case.id,
        purpose=purpose,
        language=case.language,
        to_channel=channel,
        to_address=address,
        subject=subject,
        text=text,
        attachments=[a.__dict__ for a in attachments],
        carries_personal_data=carries_personal_data,
        author=author,
    )
    session.add(draft)
    session.flush()
    audit.record(
        session,
        actor=author,
        action="draft_created",
        request=case,
        detail=f"draft {draft.id} ({purpose}) v1",
    )
    return draft


def _common(case: Request) -> dict[str, object]:
    return {
        "reference": case.reference,
        "name": case.requester_name,
        "due_date": case.extended_due_date
        if case.extended and case.extended_due_date
        else case.due_date,
    }


def _draft_reply(session: Session, services: Services, case: Request, *, actor: str) -> Draft:
    view = _view(session, services, case)
    sections, attachments, personal = [], [], False
    for kind in case.kinds:
        section = handler_for(kind).draft(view)
        sections.append(
            services.drafter.render(
                section.template, case.language, **_common(case), **section.context
            ).text.strip()
        )
        attachments.extend(section.attachments)
        personal = personal or section.carries_personal_data
    rendered = services.drafter.render(
        "reply.txt.j2",
        case.language,
        **_common(case),
        sections=sections,
        kinds=kind_labels(case.kinds, case.language),
    )
    return _new_draft(
        session,
        case,
        "reply",
        rendered.subject,
        rendered.text,
        attachments=tuple(attachments),
        carries_personal_data=personal,
        author=actor,
    )


def _draft_clarification(session: Session, services: Services, case: Request, reason: str) -> Draft:
    rendered = services.drafter.render(
        "clarification.txt.j2",
        case.language,
        **_common(case),
        reason=reason,
        kinds=kind_labels(case.kinds, case.language),
    )
    return _new_draft(session, case, "clarification", rendered.subject, rendered.text)


def _draft_acknowledgment(session: Session, services: Services, case: Request) -> Draft:
    rendered = services.drafter.render(
        "acknowledgment.txt.j2",
        case.language,
        **_common(case),
        needs_verification=True,
    )
    return _new_draft(session, case, "acknowledgment", rendered.subject, rendered.text)


def _supersede_open_drafts(session: Session, case: Request, purposes: tuple[str, ...]) -> None:
    for draft in session.exec(
        select(Draft).where(
            Draft.request_id == case.id,
            Draft.status == DraftStatus.AWAITING_APPROVAL,
            col(Draft.purpose).in_(purposes),
        )
    ):
        draft.status = DraftStatus.SUPERSEDED
        session.add(draft)


def current_version(session: Session, series: str) -> Draft:
    return session.exec(
        select(Draft).where(Draft.series == series).order_by(col(Draft.version).desc())
    ).first()  # type: ignore[return-value]


def get_draft(session: Session, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise CaseError(f"no draft with id {draft_id}")
    return draft


def _check_current(session: Session, draft: Draft) -> None:
    latest = current_version(session, draft.series)
    if latest.id != draft.id:
        raise StaleDraft(
            f"draft {draft.id} is version {draft.version}, but version {latest.version} "
            f"(draft {latest.id}) replaced it; review and approve draft {latest.id}"
        )


def approve_draft(
    session: Session,
    services: Services,
    draft_id: int,
    *,
    actor: str,
    expected_version: int | None = None,
) -> Outbox:
    """Approve one version: carry out what it promises and queue it, in one transaction."""
    draft = get_draft(session, draft_id)
    _check_current(session, draft)
    if expected_version is not None and expected_version != draft.version:
        raise StaleDraft(
            f"draft {draft.id} is at version {draft.version}, not "
            f"{expected_version}; review it again"
        )
    if draft.status != DraftStatus.AWAITING_APPROVAL:
        raise CaseError(
            f"draft {draft.id} is {draft.status}; only a draft awaiting approval can be approved"
        )
    case = session.get(Request, draft.request_id)
    assert case is not None
    if not is_open(case.status):
        raise CaseError(f"{case.reference} is {case.status}; its drafts can no longer be sent")
    if draft.carries_personal_data and case.verified_at is None:
        raise CaseError(
            f"{case.reference} is not verified; a draft with personal data cannot be approved"
        )
    draft.status = DraftStatus.APPROVED
    draft.decided_by = actor
    draft.decided_at = services.clock()
    session.add(draft)
    audit.record(
        session,
        actor=actor,
        action="draft_approved",
        request=case,
        detail=f"draft {draft.id} v{draft.version} ({draft.purpose})",
    )
    if draft.purpose == "reply":
        transition(session, case, S.APPROVED, actor=actor, reason=f"draft {draft.id} approved")
        for kind in case.kinds:
            # A fresh view per kind: an erasure before it may have removed the person.
            done = handler_for(kind).on_approve(_view(session, services, case), actor)
            audit.record(
                session, actor=actor, action=f"carried_out_{kind}", request=case, detail=done
            )
    outbox = queue_outbox(
        session,
        case,
        ChannelName(draft.to_channel),
        draft.to_address,
        draft.subject,
        draft.text,
        purpose=draft.purpose,
        draft=draft,
        attachments=[Attachment(**a) for a in draft.attachments],
        now=services.clock(),
    )
    if draft.purpose == "refusal":
        transition(
            session, case, S.CLOSED, actor=actor, reason="refused under Art. 12(4); notice approved"
        )
    return outbox


def reject_draft(
    session: Session, services: Services, draft_id: int, reason: str, *, actor: str
) -> Draft:
    draft = get_draft(session, draft_id)
    _check_current(session, draft)
    if draft.status != DraftStatus.AWAITING_APPROVAL:
        raise CaseError(
            f"draft {draft.id} is {draft.status}; only a draft awaiting approval can be rejected"
        )
    if not reason.strip():
        raise CaseError("--reason is required")
    draft.status = DraftStatus.REJECTED
    draft.decided_by = actor
    draft.decided_at = services.clock()
    draft.decision_reason = reason
    session.add(draft)
    case = session.get(Request, draft.request_id)
    assert case is not None
    audit.record(
        session,
        actor=actor,
        action="draft_rejected",
        request=case,
        detail=f"draft {draft.id} v{draft.version}: {reason}",
    )
    if draft.purpose == "reply" and case.status == S.AWAITING_APPROVAL:
        transition(session, case, S.REJECTED, actor=actor, reason=reason)
    return draft


def edit_draft(
    session: Session,
    services: Services,
    draft_id: int,
    text: str,
    *,
    actor: str,
    subject: str | None = None,
) -> Draft:
    """Staff's edit becomes a new version; the old one stays as it was (versioned drafts)."""
    draft = get_draft(session, draft_id)
    _check_current(session, draft)
    if draft.status not in (DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED):
        raise CaseError(f"draft {draft.id} is {draft.status}; it can no longer be edited")
    if not text.strip():
        raise CaseError("the edited text is empty; nothing was changed")
    if text == draft.text and (subject is None or subject == draft.subject):
        raise CaseError("the text is unchanged; no new version made")
    case = session.get(Request, draft.request_id)
    assert case is not None
    if draft.status == DraftStatus.AWAITING_APPROVAL:
        draft.status = DraftStatus.SUPERSEDED
    session.add(draft)
    new = Draft(
        series=draft.series,
        version=draft.version + 1,
        request_id=draft.request_id,
        purpose=draft.purpose,
        language=draft.language,
        to_channel=draft.to_channel,
        to_address=draft.to_address,
        subject=subject if subject is not None else draft.subject,
        text=text,
        attachments=draft.attachments,
        carries_personal_data=draft.carries_personal_data or case.verified_at is not None,
        author=actor,
    )
    session.add(new)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="draft_edited",
        request=case,
        detail=f"draft {draft.id} v{draft.version} → draft {new.id} v{new.version}",
    )
    if draft.purpose == "reply" and case.status == S.REJECTED:
        transition(session, case, S.AWAITING_APPROVAL, actor=actor, reason="redrafted")
    return new


def open_drafts(session: Session) -> list[Draft]:
    return list(
        session.exec(
            select(Draft)
            .where(col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]))
            .order_by(col(Draft.id))
        )
    )


# --- Staff choices for a whole case --------------------------------------------------------


def extend_case(
    session: Session, services: Services, reference: str, reason: str, *, actor: str
) -> Draft:
    """Art. 12(3): two more months, with a notice to the person within the first month."""
    case = get_case(session, reference)
    if not is_open(case.status):
        raise CaseError(f"{case.reference} is {case.status}; a closed case cannot be extended")
    if case.extended:
        raise CaseError(f"{case.reference} is already extended to {case.extended_due_date}")
    if not reason.strip():
        raise CaseError("--reason is required: the notice must say why (Art. 12(3))")
    today = stockholm_date(services.clock(), services.settings.organisation.timezone)
    if today > case.due_date:
        raise CaseError(
            f"{case.reference}: the first month ended on {case.due_date}; an "
            "extension must be notified within it"
        )
    case.extended = True
    case.extension_reason = reason
    case.extended_due_date = extended_due_date(
        case.received_at, services.settings.organisation.timezone
    )
    session.add(case)
    audit.record(
        session,
        actor=actor,
        action="extended",
        request=case,
        detail=f"to {case.extended_due_date}: {reason}",
    )
    rendered = services.drafter.render(
        "extension.txt.j2",
        case.language,
        **_common(case),
        reason=reason,
        extended_due_date=case.extended_due_date,
    )
    return _new_draft(session, case, "extension", rendered.subject, rendered.text, author=actor)


def refuse_case(
    session: Session, services: Services, reference: str, reasons: str, *, actor: str
) -> Draft:
    """Art. 12(4): a refusal notice with reasons, for staff to approve; approval closes."""
    case = get_case(session, reference)
    if not is_open(case.status):
        raise CaseError(f"{case.reference} is {case.status}")
    if not reasons.strip():
        raise CaseError("--reason is required: a refusal must give reasons (Art. 12(4))")
    _supersede_open_drafts(session, case, purposes=("reply", "acknowledgment", "clarification"))
    rendered = services.drafter.render(
        REFUSAL_TEMPLATE,
        case.language,
        **_common(case),
        reasons=reasons,
        kinds=kind_labels(case.kinds, case.language),
    )
    return _new_draft(session, case, "refusal", rendered.subject, rendered.text, author=actor)


def redraft_reply(session: Session, services: Services, case: Request) -> Draft | None:
    """A thread message changed what the case asks for: replace the waiting reply draft."""
    if case.status != S.AWAITING_APPROVAL:
        return None
    _supersede_open_drafts(session, case, purposes=("reply",))
    return _draft_reply(session, services, case, actor=SYSTEM)


# --- Outbox --------------------------------------------------------------------------------


def queue_outbox(
    session: Session,
    case: Request | None,
    channel: ChannelName,
    address: str,
    subject: str,
    text: str,
    *,
    purpose: str,
    draft: Draft | None = None,
    attachments: list[Attachment] | None = None,
    buttons: list[Button] | None = None,
    auto_submitted: bool = False,
    now: datetime | None = None,
) -> Outbox:
    """Queue one message; its Message-ID is fixed now so a retry sends the same message."""
    domain = "noxconsulting.se"
    headers: dict[str, object] = {"message_id": f"<{uuid.uuid4().hex}@{domain}>"}
    if case is not None:
        headers["reference"] = case.reference
        if channel is ChannelName.EMAIL:
            first = session.exec(
                select(Message)
                .where(
                    Message.request_id == case.id,
                    Message.direction == "in",
                    Message.channel == "email",
                )
                .order_by(col(Message.id))
            ).first()
            if first is not None and first.message_id and first.address == address:
                headers["in_reply_to"] = first.message_id
                headers["references"] = [*first.references, first.message_id]
        if channel is ChannelName.TELEGRAM:
            first = session.exec(
                select(Message)
                .where(
                    Message.request_id == case.id,
                    Message.direction == "in",
                    Message.channel == "telegram",
                    Message.address == address,
                )
                .order_by(col(Message.id))
            ).first()
            if first is not None and first.telegram_message_id:
                headers["reply_to_message_id"] = first.telegram_message_id
    if auto_submitted:
        headers["auto_submitted"] = "auto-generated"  # RFC 3834 §5
    if buttons:
        headers["buttons"] = [[b.label, b.data] for b in buttons]
    if case is not None and channel is ChannelName.EMAIL and case.reference not in subject:
        subject = f"{subject} [{case.reference}]".strip()
    outbox = Outbox(
        request_id=case.id if case else None,
        draft_id=draft.id if draft else None,
        channel=channel,
        address=address,
        subject=subject,
        text=text,
        attachments=[a.__dict__ for a in attachments or []],
        headers=headers,
        purpose=purpose,
        **({"created_at": now, "next_attempt_at": now} if now is not None else {}),
    )
    session.add(outbox)
    session.flush()
    if case is not None:
        audit.record(
            session,
            actor=SYSTEM,
            action="queued",
            request=case,
            detail=f"outbox {outbox.id} ({purpose}) to {channel}",
        )
    return outbox


def close_case(
    session: Session,
    services: Services,
    reference: str,
    reason: str,
    *,
    actor: str,
    withdrawn: bool = False,
) -> Request:
    """End an open case without a reply; its waiting drafts are superseded."""
    case = get_case(session, reference)
    if not reason.strip():
        raise CaseError("--reason is required")
    for verification in pending_verifications(session, case):
        _finish_verification(
            session,
            services,
            case,
            verification,
            VerificationStatus.CANCELLED,
            actor=actor,
            note=reason,
        )
    transition(session, case, S.WITHDRAWN if withdrawn else S.CLOSED, actor=actor, reason=reason)
    _supersede_open_drafts(
        session, case, purposes=("reply", "acknowledgment", "clarification", "extension", "refusal")
    )
    return case


def expire_verifications(session: Session, services: Services) -> list[str]:
    """Challenges nobody answered in time: the case goes to staff, who are alerted.

    Run before staff look at the queue (and by the scheduler), so an expired challenge never
    sits as 'pending'. Returns the references it moved.
    """
    now = services.clock()
    moved = []
    for verification in session.exec(
        select(Verification).where(
            Verification.status == VerificationStatus.PENDING,
            col(Verification.expires_at).is_not(None),
            col(Verification.expires_at) < now,
        )
    ):
        case = session.get(Request, verification.request_id)
        if case is None or case.status != S.AWAITING_VERIFICATION:
            continue
        fail_verification(
            session,
            services,
            case,
            verification,
            VerificationStatus.EXPIRED,
            actor=SYSTEM,
            reason="the verification was not answered in time",
        )
        moved.append(case.reference)
    return moved
