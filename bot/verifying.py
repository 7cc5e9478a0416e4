"""Confirming who asked: challenges on the alternate channel, and what each answer does.

Confirmed → the case is verified and its reply drafted; "it wasn't me", too many wrong
codes or no answer in time → the case waits for staff, who are alerted. The pure rules
(routes, codes) are in bot.verification.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from bot import audit
from bot.case_records import (
    SYSTEM,
    CaseError,
    S,
    alert_staff,
    find_reference,
    get_case,
    subject_of,
)
from bot.channels.base import Button, ChannelName
from bot.drafts import draft_clarification, draft_reply, supersede_open_drafts
from bot.lifecycle import is_open, resolve_verification_alerts, transition
from bot.models import (
    ContactKind,
    Message,
    Outbox,
    Request,
    Verification,
    VerificationStatus,
)
from bot.outbox import REDACT_AFTER_SENDING, queue_outbox
from bot.register import contacts_of
from bot.services import Services
from bot.verification import (
    CodeAnswer,
    Denial,
    Method,
    Route,
    button_data,
    code_matches,
    hash_code,
    new_code,
    parse_button_data,
    read_answer,
)

#: Button labels for the Telegram confirmation, in the language of the case.
CONFIRM_LABELS = {
    "sv": ("Ja, det var jag", "Nej, det var inte jag"),
    "en": ("Yes, that was me", "No, it wasn't me"),
}


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
            from_address=services.settings.organisation.email,
        )
        verification.challenge_ref = outbox.headers["message_id"]
        # The code stands in clear in the queued text only until it is sent (bot.outbox).
        outbox.headers = {**outbox.headers, REDACT_AFTER_SENDING: [code]}
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
            from_address=services.settings.organisation.email,
            buttons=[
                Button(yes, button_data(verification.id, True)),
                Button(no, button_data(verification.id, False)),
            ],
        )
    else:
        verification.expires_at = None
        alert_staff(
            session,
            case,
            "call_to_verify",
            f"{case.reference}: call the number on file ({route.address}) to confirm the "
            f"request, then run: noxbot requests verify {case.reference} --by phone "
            "--note '…'",
            now=services.clock(),
        )
    session.add(verification)
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="verification_started",
        request=case,
        detail=f"{route.method} via {route.channel}",
    )
    return verification


def finish_verification(
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
        session,
        at=services.clock(),
        actor=actor,
        action=f"verification_{status}",
        request=case,
        detail=note or "",
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
        finish_verification(
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
    transition(
        session,
        case,
        S.VERIFIED,
        actor=actor,
        reason=note or "identity confirmed",
        now=services.clock(),
    )
    resolve_verification_alerts(session, case, actor=actor, now=services.clock())
    supersede_open_drafts(session, case, purposes=("acknowledgment", "clarification"))
    draft_reply(session, services, case, actor=SYSTEM)
    transition(
        session,
        case,
        S.AWAITING_APPROVAL,
        actor=SYSTEM,
        reason="reply drafted",
        now=services.clock(),
    )


def deny_identity(
    session: Session,
    services: Services,
    case: Request,
    verification: Verification,
    *,
    actor: str,
) -> None:
    """'It wasn't me': nothing closes silently — the case waits for staff, who are alerted."""
    finish_verification(
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
        now=services.clock(),
    )
    alert_staff(
        session,
        case,
        "possible_impersonation",
        f"{case.reference}: the person on file says they did NOT make this request "
        f"(asked by {case.channel} from {case.requester_address}). Possible impersonation; "
        "nothing has been disclosed.",
        now=services.clock(),
    )
    supersede_open_drafts(session, case, purposes=("acknowledgment",))
    draft_clarification(session, services, case, "denied")


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
    finish_verification(session, services, case, verification, status, actor=actor, note=reason)
    transition(session, case, S.UNVERIFIED, actor=actor, reason=reason, now=services.clock())
    alert_staff(
        session, case, "verification_failed", f"{case.reference}: {reason}.", now=services.clock()
    )
    supersede_open_drafts(session, case, purposes=("acknowledgment",))
    draft_clarification(session, services, case, "verification_failed")


def challenge_undeliverable(session: Session, services: Services, row: Outbox) -> None:
    """The challenge could not be delivered (a refused address, a blocked bot): the person
    cannot answer it, so the case goes to staff now rather than when it would expire."""
    case = session.get(Request, row.request_id) if row.request_id else None
    if case is None or case.status != S.AWAITING_VERIFICATION:
        return
    for verification in pending_verifications(session, case):
        sent_here = verification.address == row.address and verification.channel == row.channel
        if sent_here and verification.method != Method.PHONE_CALL:
            fail_verification(
                session,
                services,
                case,
                verification,
                VerificationStatus.FAILED,
                actor=SYSTEM,
                reason=f"the verification message could not be delivered by {row.channel}",
            )
            return


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
    # Only a call to a number we already held proves who asked; a number the requester gave
    # proves nothing (the policy: "another channel for which we have your contact details").
    subject = subject_of(session, case)
    if subject is None:
        raise CaseError(
            f"{case.reference}: the requester is not on file, so there is no number on file "
            "to call; a phone verification cannot be recorded"
        )
    if not any(c.kind == ContactKind.PHONE for c in contacts_of(session, subject)):
        raise CaseError(
            f"{case.reference}: the person on file has no phone number on file; a phone "
            "verification cannot be recorded"
        )
    pending = pending_verifications(session, case)
    for other in pending:
        if other.method != Method.PHONE_CALL:
            finish_verification(
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


def _feedback(
    session: Session,
    services: Services,
    case: Request,
    message: Message,
    outcome: str,
    attempts_left: int = 0,
) -> None:
    """Tell whoever answered how it went; holds no personal data, so needs no approval."""
    rendered = services.drafter.render(
        "verification_result.txt.j2",
        case.language,
        reference=case.reference,
        name=None,
        due_date=case.due_date,
        outcome=outcome,
        attempts_left=attempts_left,
    )
    queue_outbox(
        session,
        case,
        ChannelName(message.channel),
        message.address,
        rendered.subject,
        rendered.text,
        purpose="verification_result",
        auto_submitted=True,
        now=services.clock(),
        from_address=services.settings.organisation.email,
    )


def _expired(services: Services, verification: Verification) -> bool:
    return verification.expires_at is not None and services.clock() > verification.expires_at


def answer_button(session: Session, services: Services, message: Message, data: str) -> str | None:
    """A press of "Yes, that was me" / "No, it wasn't me"; returns what it did, or None when
    the button is not this user's to press."""
    parsed = parse_button_data(data)
    verification = session.get(Verification, parsed[0]) if parsed else None
    if (
        parsed is None
        or verification is None
        or verification.method != Method.TELEGRAM_CONFIRM
        or verification.address != message.address
    ):
        return None
    case = session.get(Request, verification.request_id)
    assert case is not None
    message.request_id = case.id
    if verification.status != VerificationStatus.PENDING or not is_open(case.status):
        return f"verification already {verification.status}"
    if _expired(services, verification):
        fail_verification(
            session,
            services,
            case,
            verification,
            VerificationStatus.EXPIRED,
            actor=f"telegram:{message.address}",
            reason="the confirmation was answered after it expired",
        )
        _feedback(session, services, case, message, "expired")
    elif parsed[1]:
        confirm_identity(
            session,
            services,
            case,
            verification,
            actor=f"telegram:{message.address}",
            note="confirmed on Telegram",
        )
        _feedback(session, services, case, message, "confirmed")
    else:
        deny_identity(session, services, case, verification, actor=f"telegram:{message.address}")
        _feedback(session, services, case, message, "denied")
    return f"verification {data}"


def answer_code(session: Session, services: Services, message: Message) -> str | None:
    """A message answering a pending email-code challenge, from the address it went to (a
    reply to that mail) or from the requester in the chat the request came from; returns
    what it did, or None when the message is no such answer."""
    pending = session.exec(
        select(Verification, Request)
        .join(Request, col(Request.id) == Verification.request_id)
        .where(
            Verification.status == VerificationStatus.PENDING,
            Verification.method == Method.EMAIL_CODE,
        )
        .order_by(col(Verification.id).desc())
    ).all()
    threads = {message.in_reply_to, *message.references}
    reference = find_reference(message.subject)
    for verification, case in pending:
        from_address = message.channel == "email" and message.address == verification.address
        # A reply to the challenge mail itself proves the writer read it. A From header and a
        # reference are easy to forge, so on their own they may only bring the right code:
        # a forged "no" or wrong codes must not end someone else's verification.
        in_thread = from_address and verification.challenge_ref in threads
        by_reference = from_address and reference == case.reference
        in_chat = (
            message.channel == case.channel
            and message.address == case.requester_address
            and message.channel != "email"
        )
        if not (in_thread or by_reference or in_chat):
            continue
        answer = read_answer(message.text)
        if answer is None:
            return None
        correct = isinstance(answer, CodeAnswer) and code_matches(
            services.hash_key, verification.id or 0, answer.code, verification.code_hash or ""
        )
        if not (in_thread or in_chat or correct):
            return None  # read as an ordinary message from the requester (staff see it)
        message.request_id = case.id
        actor = f"{message.channel}:{message.address}"
        if _expired(services, verification):
            fail_verification(
                session,
                services,
                case,
                verification,
                VerificationStatus.EXPIRED,
                actor=actor,
                reason="the code was answered after it expired",
            )
            _feedback(session, services, case, message, "expired")
        elif isinstance(answer, Denial):
            deny_identity(session, services, case, verification, actor=actor)
            _feedback(session, services, case, message, "denied")
        elif correct:
            confirm_identity(
                session,
                services,
                case,
                verification,
                actor=actor,
                note=f"code confirmed by {message.channel}",
            )
            _feedback(session, services, case, message, "confirmed")
        else:
            verification.attempts += 1
            session.add(verification)
            left = verification.max_attempts - verification.attempts
            audit.record(
                session,
                at=services.clock(),
                actor=actor,
                action="verification_wrong_code",
                request=case,
                detail=f"attempt {verification.attempts} of {verification.max_attempts}",
            )
            if left <= 0:
                fail_verification(
                    session,
                    services,
                    case,
                    verification,
                    VerificationStatus.FAILED,
                    actor=actor,
                    reason="too many wrong verification codes",
                )
                _feedback(session, services, case, message, "failed")
            else:
                _feedback(session, services, case, message, "wrong_code", attempts_left=left)
        return "verification answer"
    return None
