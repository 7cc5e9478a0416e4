"""Drafts: what staff approve, versioned, and what approving one carries out.

The one rule kept here: register data goes into a draft only for a verified case, and
leaves only in a draft a staff member approved — approval runs the handlers' actions and
queues the message in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import exists
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot import audit
from bot.case_records import SYSTEM, CaseError, S, StaleDraft, alert_staff, kind_labels, subject_of
from bot.channels.base import Attachment, ChannelName
from bot.lifecycle import is_open, transition
from bot.models import (
    Draft,
    DraftStatus,
    Message,
    Outbox,
    OutboxStatus,
    Request,
)
from bot.outbox import queue_outbox
from bot.register import contacts_of
from bot.services import Services
from handlers import handler_for
from handlers.base import CaseView


def case_view(session: Session, services: Services, case: Request) -> CaseView:
    """What a handler sees: the case, the person (if still on file) and what they wrote."""
    first = session.exec(
        select(Message)
        .where(Message.request_id == case.id, Message.direction == "in")
        .order_by(col(Message.id))
    ).all()
    text = "\n\n".join(
        m.text for m in first if m.state not in ("verification_answer", "automated", "malformed")
    )
    return CaseView(session, services, case, subject_of(session, case), text)


def reply_address(session: Session, case: Request) -> tuple[str, str]:
    """Where a reply goes: the channel and address the request came from — except that a
    request by phone or post is answered by email or Telegram when the person is on file
    (we cannot send a call or a letter; staff deliver those by hand)."""
    subject = subject_of(session, case)
    if case.channel in (ChannelName.PHONE, ChannelName.POST) and subject is not None:
        contacts = contacts_of(session, subject)
        for kind in ("email", "telegram"):
            value = next((c.value for c in contacts if c.kind == kind), None)
            if value is not None:
                return kind, value
    return case.channel, case.requester_address


def new_draft(
    session: Session,
    case: Request,
    purpose: str,
    subject: str,
    text: str,
    *,
    attachments: tuple[Attachment, ...] = (),
    carries_personal_data: bool = False,
    covers: dict[str, object] | None = None,
    author: str = SYSTEM,
    now: datetime,
) -> Draft:
    if carries_personal_data and case.verified_at is None:
        # The rule of this module: never draft register data for an unverified case.
        raise CaseError(f"{case.reference}: refusing to draft personal data for an unverified case")
    channel, address = reply_address(session, case)
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
        covers=covers,
        author=author,
        created_at=now,
    )
    session.add(draft)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=author,
        action="draft_created",
        request=case,
        detail=f"draft {draft.id} ({purpose}) v1",
    )
    return draft


def common_context(case: Request) -> dict[str, object]:
    return {
        "reference": case.reference,
        "name": case.requester_name,
        "due_date": case.extended_due_date
        if case.extended and case.extended_due_date
        else case.due_date,
    }


def draft_reply(session: Session, services: Services, case: Request, *, actor: str) -> Draft:
    view = case_view(session, services, case)
    sections, attachments, personal = [], [], False
    for kind in case.kinds:
        section = handler_for(kind).draft(view)
        sections.append(
            services.drafter.render(
                section.template, case.language, **common_context(case), **section.context
            ).text.strip()
        )
        attachments.extend(section.attachments)
        personal = personal or section.carries_personal_data
    rendered = services.drafter.render(
        "reply.txt.j2",
        case.language,
        **common_context(case),
        sections=sections,
        kinds=kind_labels(case.kinds, case.language),
    )
    return new_draft(
        session,
        case,
        "reply",
        rendered.subject,
        rendered.text,
        attachments=tuple(attachments),
        carries_personal_data=personal,
        covers=reply_scope(case),
        author=actor,
        now=services.clock(),
    )


def reply_scope(case: Request) -> dict[str, object]:
    """What a reply written now answers: the case's kinds and the changes it would apply."""
    return {"kinds": list(case.kinds), "changes": list(case.requested_changes)}


def draft_clarification(session: Session, services: Services, case: Request, reason: str) -> Draft:
    rendered = services.drafter.render(
        "clarification.txt.j2",
        case.language,
        **common_context(case),
        reason=reason,
        kinds=kind_labels(case.kinds, case.language),
    )
    return new_draft(
        session, case, "clarification", rendered.subject, rendered.text, now=services.clock()
    )


def draft_acknowledgment(session: Session, services: Services, case: Request) -> Draft:
    rendered = services.drafter.render(
        "acknowledgment.txt.j2",
        case.language,
        **common_context(case),
        needs_verification=True,
    )
    return new_draft(
        session, case, "acknowledgment", rendered.subject, rendered.text, now=services.clock()
    )


def supersede_open_drafts(session: Session, case: Request, purposes: tuple[str, ...]) -> None:
    """Drafts of these purposes that wait for approval or for an edit no longer apply."""
    for draft in session.exec(
        select(Draft).where(
            Draft.request_id == case.id,
            col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
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
    if draft.purpose == "reply" and draft.covers != reply_scope(case):
        # Approval carries out what the approved text says, never more: a kind or a change
        # that arrived after it was written needs a new draft first.
        written_for = ", ".join((draft.covers or {}).get("kinds", [])) or "nothing recorded"
        raise StaleDraft(
            f"draft {draft.id} was written for {written_for}, but {case.reference} now asks "
            f"for {', '.join(case.kinds)} or other changes; a new draft is needed "
            "(noxbot drafts list)"
        )
    draft.status = DraftStatus.APPROVED
    draft.decided_by = actor
    draft.decided_at = services.clock()
    session.add(draft)
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="draft_approved",
        request=case,
        detail=f"draft {draft.id} v{draft.version} ({draft.purpose})",
    )
    if draft.purpose == "reply":
        transition(
            session,
            case,
            S.APPROVED,
            actor=actor,
            reason=f"draft {draft.id} approved",
            now=services.clock(),
        )
        for kind in case.kinds:  # == the draft's scope, checked above
            # A fresh view per kind: an erasure before it may have removed the person.
            done = handler_for(kind).on_approve(case_view(session, services, case), actor)
            audit.record(
                session,
                at=services.clock(),
                actor=actor,
                action=f"carried_out_{kind}",
                request=case,
                detail=done,
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
        from_address=services.settings.organisation.email,
    )
    if draft.to_channel in (ChannelName.PHONE, ChannelName.POST):
        # No adapter calls or posts letters: staff deliver it, and the case is done then.
        outbox.status = OutboxStatus.MANUAL
        session.add(outbox)
        how = "by post" if draft.to_channel == ChannelName.POST else "by phone"
        alert_staff(
            session,
            case,
            "deliver_by_hand",
            f"{case.reference}: draft {draft.id} is approved; deliver it {how} to "
            f"{draft.to_address} (noxbot drafts show {draft.id}).",
            now=services.clock(),
        )
        if draft.purpose == "reply":
            transition(
                session,
                case,
                S.DONE,
                actor=actor,
                reason=f"approved reply handed to staff to deliver {how}",
                now=services.clock(),
            )
    if draft.purpose == "refusal":
        transition(
            session,
            case,
            S.CLOSED,
            actor=actor,
            reason="refused under Art. 12(4); notice approved",
            now=services.clock(),
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
        at=services.clock(),
        actor=actor,
        action="draft_rejected",
        request=case,
        detail=f"draft {draft.id} v{draft.version}: {reason}",
    )
    if draft.purpose == "reply" and case.status == S.AWAITING_APPROVAL:
        transition(session, case, S.REJECTED, actor=actor, reason=reason, now=services.clock())
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
        covers=draft.covers,
        author=actor,
        created_at=services.clock(),
    )
    session.add(new)
    session.flush()
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="draft_edited",
        request=case,
        detail=f"draft {draft.id} v{draft.version} → draft {new.id} v{new.version}",
    )
    if draft.purpose == "reply" and case.status == S.REJECTED:
        transition(
            session,
            case,
            S.AWAITING_APPROVAL,
            actor=actor,
            reason="redrafted",
            now=services.clock(),
        )
    return new


def open_drafts(session: Session) -> list[Draft]:
    """Drafts awaiting approval, and rejected ones still waiting for an edit: a rejected
    version that was edited into a newer one is history, not work."""
    newer = aliased(Draft)
    edited = exists().where(newer.series == Draft.series, newer.version > Draft.version)
    return list(
        session.exec(
            select(Draft)
            .where(
                col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
                ~edited,
            )
            .order_by(col(Draft.id))
        )
    )


def redraft_reply(session: Session, services: Services, case: Request) -> Draft | None:
    """What the case asks for changed: replace the waiting (or rejected) reply draft.

    A version staff wrote themselves is not carried over — it answers less than the case
    now asks — so they are told, and their text stays readable as that version.
    """
    if case.status not in (S.AWAITING_APPROVAL, S.REJECTED):
        return None
    replaced = session.exec(
        select(Draft).where(
            Draft.request_id == case.id,
            Draft.purpose == "reply",
            col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
        )
    ).all()
    for old in replaced:
        old.status = DraftStatus.SUPERSEDED
        session.add(old)
    draft = draft_reply(session, services, case, actor=SYSTEM)
    edited = [old for old in replaced if old.author != SYSTEM]
    if edited:
        alert_staff(
            session,
            case,
            "redrafted",
            f"{case.reference}: the request now covers {', '.join(case.kinds)}, so the reply "
            f"was drafted again as draft {draft.id}; the edit in draft {edited[0].id} "
            f"(v{edited[0].version}) was not carried over — compare and edit draft {draft.id}",
            now=services.clock(),
        )
    if case.status == S.REJECTED:
        transition(
            session,
            case,
            S.AWAITING_APPROVAL,
            actor=SYSTEM,
            reason="redrafted",
            now=services.clock(),
        )
    return draft
