"""Confirming who asked: challenges on the alternate channel, and what each answer does.

Confirmed → the case is verified and its reply drafted; "it wasn't me", too many wrong
codes or no answer in time → the case waits for staff, who are alerted. The pure rules
(routes, codes) are in bot.verification.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from bot import audit
from bot.case_records import SYSTEM, CaseError, S, alert_staff, get_case
from bot.channels.base import Button, ChannelName
from bot.drafts import draft_clarification, draft_reply, supersede_open_drafts
from bot.lifecycle import transition
from bot.models import (
    Request,
    Verification,
    VerificationStatus,
)
from bot.outbox import queue_outbox
from bot.services import Services
from bot.verification import Method, Route, button_data, hash_code, new_code

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
        alert_staff(
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
    transition(session, case, S.VERIFIED, actor=actor, reason=note or "identity confirmed")
    supersede_open_drafts(session, case, purposes=("acknowledgment", "clarification"))
    draft_reply(session, services, case, actor=SYSTEM)
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
    )
    alert_staff(
        session,
        case,
        "possible_impersonation",
        f"{case.reference}: the person on file says they did NOT make this request "
        f"(asked by {case.channel} from {case.requester_address}). Possible impersonation; "
        "nothing has been disclosed.",
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
    transition(session, case, S.UNVERIFIED, actor=actor, reason=reason)
    alert_staff(session, case, "verification_failed", f"{case.reference}: {reason}.")
    supersede_open_drafts(session, case, purposes=("acknowledgment",))
    draft_clarification(session, services, case, "verification_failed")


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
