"""Approval: what approving a draft carries out, said before and done exactly.

The one rule kept here: approval carries out what the approved version says and nothing
more. A reply's scope (its kinds and changes) is read from that version, never from what the
case asks now; staff read the plan first ("Approving will: erase Anna Lindqvist from the
register; send the register extract"); and approval is refused, with the reason, while
something the plan needs is missing — a confirmation that covers the kinds, the old address
confirming a change of it, a case that has moved on since the draft was written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from bot.channels.messages import Attachment
from bot.errors import CaseError, StaleDraft
from bot.reading.safe_text import stored_note
from bot.rules.channels import ChannelName
from bot.rules.deadlines import local_clock, stockholm_date
from bot.rules.kinds import KINDS_NEEDING_VERIFICATION
from bot.rules.plan_words import SHORT_REASONS, plan_name, plan_words
from bot.rules.policy import kind_labels
from bot.rules.repeated_values import fold, repeated_values
from bot.store import audit
from bot.store.records import S, alert_staff, subject_of
from bot.store.register import find_subject, subject_data_values
from bot.store.tables import (
    AuditEvent,
    ChecklistItem,
    Draft,
    DraftStatus,
    Message,
    MessageState,
    Outbox,
    OutboxStatus,
    Request,
)
from bot.workflow.confirming import (
    asked_from_elsewhere,
    confirmed_kinds,
    drop_contact_challenges_outside,
    ensure_contact_confirmations,
    unconfirmed_contact_changes,
)
from bot.workflow.drafts import (
    case_view,
    claim_decision,
    current_version,
    get_draft,
    new_version,
    record_digest,
    reply_scope,
    supersede_open_drafts,
    written_for,
)
from bot.workflow.lifecycle import apply_extension, is_open, transition
from bot.workflow.linking import NAMED_FOUND, NO_DATA_SEARCHED, contacts_named
from bot.workflow.outbox import queue_outbox
from bot.workflow.services import Services
from handlers import handler_for
from handlers.base import CaseView
from handlers.disclosures_on_case import notices_planned
from handlers.rectification import conflict
from handlers.sources_on_case import open_checklist


@dataclass(frozen=True)
class Plan:
    """What approving one version would do, and why it cannot be approved yet (if so)."""

    will: list[str]
    blocked: list[str]
    #: What staff should read before approving, though it blocks nothing (the requester
    #: wrote again after this version was drafted).
    heed: list[str] = field(default_factory=list)
    #: The Art. 19 notices approving drafts (each held for its own approval), one
    #: {"recipient", "address"} a recipient; "address" None for one without an address on
    #: file, whom no notice can reach (staff tell it another way). `will` says it in words.
    notices: list[dict[str, str | None]] = field(default_factory=list)
    #: What blocks it in a few words each ("not verified", "checklist not ticked off"), for the
    #: lists that show a draft on one line (`drafts list`): `blocked` says it in full.
    held: list[str] = field(default_factory=list)


class _Blocks(list[str]):
    """The reasons approval is refused, in full, with the few words of each for lists
    (bot.rules.plan_words.SHORT_REASONS, by the reason's key)."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    def add(self, key: str, reason: str) -> None:
        self.append(reason)
        self.keys.append(key)

    def add_all(self, key: str, reasons: Iterable[str]) -> None:
        for reason in reasons:
            self.add(key, reason)

    def short(self) -> list[str]:
        said = [SHORT_REASONS.get(key, key.replace("_", " ")) for key in self.keys]
        return list(dict.fromkeys(said))


def _scope(draft: Draft, case: Request) -> dict[str, Any]:
    return dict(draft.covers) if draft.covers else reply_scope(case)


def _view(session: Session, services: Services, case: Request, draft: Draft) -> CaseView:
    view = case_view(session, services, case)
    # The approved text too: what it names of the sources is what an erasure acts on.
    scope = {**_scope(draft, case), "text": draft.text}
    return CaseView(view.session, view.services, view.case, view.subject, view.request_text, scope)


def approval_plan(
    session: Session,
    services: Services,
    draft: Draft,
    language: str = "en",
    *,
    in_console: bool = False,
) -> Plan:
    """What approving this version carries out, in words staff can check, and what stands
    in the way. The same function decides approval (`approve_draft`, in English: the words
    of the CLI and the JSON); the staff chat asks for its own language. `in_console` words
    the way out as the console's case page offers it (its button or form), not a command."""
    case = session.get(Request, draft.request_id)
    assert case is not None

    def say(key: str, **values: object) -> str:
        return plan_words(language, key, **values)

    will: list[str] = []
    blocked = _Blocks()
    notices: list[dict[str, str | None]] = []
    latest = current_version(session, draft.series)
    if latest.id != draft.id:
        blocked.add(
            "replaced",
            say(
                "replaced",
                id=draft.id,
                version=draft.version,
                latest_version=latest.version,
                latest_id=latest.id,
            ),
        )
    elif draft.status != DraftStatus.AWAITING_APPROVAL:
        blocked.add("not_awaiting", say("not_awaiting", status=plan_name(language, draft.status)))
    if blocked:  # a version decided or replaced: nothing else about it is to be done
        return Plan(will, list(blocked), held=blocked.short())
    notice = draft.purpose == "art19_notice"
    if not is_open(case.status) and not (notice and case.status == S.DONE):
        status = plan_name(language, case.status)
        blocked.add("case_ended", say("case_ended", reference=case.reference, status=status))
    if notice and case.status not in (S.APPROVED, S.DONE):
        blocked.add("notice_first", say("notice_first", reference=case.reference))
    if draft.purpose in ANSWERED_BY_THE_REPLY and case.status == S.APPROVED:
        blocked.add("answered", say("answered", reference=case.reference))
    if draft.carries_personal_data and case.verified_at is None:
        blocked.add("unverified", say("unverified", reference=case.reference))
    elif case.verified_at is None and (held := _register_values_in(session, case, draft)):
        blocked.add(
            "unverified_values", say("unverified_values", reference=case.reference, values=held)
        )
    if draft.purpose == "reply":
        _reply_plan(session, services, case, draft, will, blocked, language, in_console, notices)
    elif draft.purpose == "extension":
        _extension_plan(services, case, draft, will, blocked, language)
    elif draft.purpose == "refusal":
        will.append(say("refusal", reference=case.reference))
    elif draft.purpose == "no_data":
        will.append(say("no_data", reference=case.reference))
        # A system noxbot cannot search must be searched by hand before "nothing is held".
        blocked.add_all(
            "checklist",
            (
                say(
                    "checklist_console" if in_console else "checklist",
                    id=item.id,
                    source=item.source,
                    task=item.task,
                    reference=case.reference,
                )
                for item in open_checklist(session, case)
            ),
        )
    if draft.to_channel in (ChannelName.PHONE, ChannelName.POST):
        how = say("by_post" if draft.to_channel == ChannelName.POST else "by_phone")
        will.append(say("by_hand", how=how, address=draft.to_address))
    else:
        files = say("with_files", count=len(draft.attachments)) if draft.attachments else ""
        will.append(
            say(
                "send",
                purpose=plan_name(language, draft.purpose),
                channel=draft.to_channel,
                address=draft.to_address,
                files=files,
            )
        )
    zone = services.settings.organisation.timezone
    heed = _written_since(session, case, draft, language, zone)
    if draft.purpose == "no_data":
        heed += _named_held(session, services, case, language)
    return Plan(will, list(blocked), heed, notices, blocked.short())


#: Follow-ups named in a plan at most (the case page shows them all).
_FOLLOW_UPS_NAMED = 3


def _written_since(
    session: Session, case: Request, draft: Draft, language: str, zone: str
) -> list[str]:
    """The requester's messages in the case's thread that came after this version was
    drafted: a correction ("the right number is …", "forget the address") may change what
    should be approved, and before, nothing at the approval said it had come."""
    later = session.exec(
        select(Message.received_at, Message.channel)
        .where(
            Message.request_id == case.id,
            Message.state == MessageState.THREAD,
            col(Message.received_at) > draft.created_at,
        )
        .order_by(col(Message.received_at))
        .limit(_FOLLOW_UPS_NAMED)
    ).all()
    notes = [
        plan_words(language, "wrote_again", at=local_clock(at, zone), channel=channel)
        for at, channel in later
    ]
    # A message without the case's reference opens a case of its own ("my number is …43,
    # not …34"): named here too, or it is found only after the wrong answer went.
    same_person = (
        Request.subject_id == case.subject_id
        if case.subject_id is not None
        else (Request.requester_address == case.requester_address)
    )
    newer = session.exec(
        select(Request.reference, Request.received_at)
        .where(
            same_person,
            Request.id != case.id,
            col(Request.received_at) > draft.created_at,
            col(Request.closed_at).is_(None),
        )
        .order_by(col(Request.received_at))
        .limit(_FOLLOW_UPS_NAMED)
    ).all()
    notes += [
        plan_words(language, "newer_case", reference=reference, at=local_clock(at, zone))
        for reference, at in newer
    ]
    return notes


def _named_held(session: Session, services: Services, case: Request, language: str) -> list[str]:
    """A no-data answer's request that names a contact point on file, or one a source holds
    something for ("search my old address …"): the answer speaks only of the address it
    came from, and must not tell the unverified sender which of the others is held (its
    coming or not would); staff read it here, and link the case if it is that person's."""
    notes: list[str] = []
    on_file = sorted(
        {
            subject.id or 0
            for kind, value in contacts_named(session, services, case)
            if (subject := find_subject(session, kind, value)) is not None
        }
    )
    if on_file:
        ids = ", ".join(str(i) for i in on_file)
        notes.append(
            plan_words(
                language, "named_on_file", ids=ids, reference=case.reference, first=on_file[0]
            )
        )
    searched = session.exec(
        select(AuditEvent.detail)
        .where(AuditEvent.request_id == case.id, AuditEvent.action == NO_DATA_SEARCHED)
        .order_by(col(AuditEvent.id).desc())
    ).first()
    if searched and NAMED_FOUND in searched:
        found = searched.split(NAMED_FOUND, 1)[1]
        notes.append(
            plan_words(language, "named_in_sources", found=found, reference=case.reference)
        )
    return notes


def _register_values_in(session: Session, case: Request, draft: Draft) -> str:
    """What the register holds of the person an unverified case is linked to that a version
    repeats in its subject line or text (staff who pasted a number or a company into it),
    written as held or as people also write it (bot.rules.repeated_values), as a few words,
    when the version goes to an address not theirs (confirming.asked_from_elsewhere); ""
    when nothing."""
    subject = subject_of(session, case)
    if subject is None or asked_from_elsewhere(session, case) is None:
        return ""  # (what goes to the person's own contact point reaches only them)
    # (the name the sender gave is theirs to read back: notices greet them by it)
    given = fold(case.requester_name or "")
    values = sorted(v for v in subject_data_values(session, subject) if fold(v) != given)
    found = repeated_values(f"{draft.subject}\n{draft.text}", values)
    return ", ".join(found[:3]) + (" …" if len(found) > 3 else "")


def _kinds(kinds: list[str], language: str) -> str:
    return ", ".join(kinds if language == "en" else kind_labels(kinds, language))


def _reply_plan(
    session: Session,
    services: Services,
    case: Request,
    draft: Draft,
    will: list[str],
    blocked: _Blocks,
    language: str,
    in_console: bool = False,
    notices: list[dict[str, str | None]] | None = None,
) -> None:
    def say(key: str, **values: object) -> str:
        return plan_words(language, key, **values)

    def how(key: str, **values: object) -> str:
        """A reason with its way out: a command, or the console page's button or form."""
        return say(f"{key}_console" if in_console else key, **values)

    scope = _scope(draft, case)
    if written_for(draft) != reply_scope(case):
        blocked.add(
            "written_for",
            say(
                "written_for",
                written=_kinds(written_for(draft)["kinds"], language) or say("nothing_recorded"),
                reference=case.reference,
                kinds=_kinds(case.kinds, language),
            ),
        )
    needing = {k for k in scope["kinds"] if k in KINDS_NEEDING_VERIFICATION}
    if needing and case.verified_at is None and not draft.carries_personal_data:
        kinds = _kinds(sorted(needing), language)
        blocked.add(
            "unverified_kinds", say("unverified_kinds", reference=case.reference, kinds=kinds)
        )
    if needing and case.verified_at is not None:
        uncovered = sorted(needing - confirmed_kinds(session, case))
        if uncovered:
            blocked.add("uncovered", say("uncovered", kinds=_kinds(uncovered, language)))
    waiting = unconfirmed_contact_changes(session, case, scope.get("changes", []))
    if waiting:
        blocked.add("change_waits", say("change_waits", fields=say("and").join(waiting)))
    subject = subject_of(session, case)
    written = (draft.covers or {}).get("record")
    if written is not None and record_digest(session, subject) != written:
        blocked.add("record_changed", how("record_changed", reference=case.reference))
    if subject is not None:
        blocked.add_all(
            "conflict",
            (
                how("conflict", problem=problem)
                for change in scope.get("changes", [])
                if (problem := conflict(session, subject, change)) is not None
            ),
        )
    if "complaint" in scope["kinds"] and not case.complaint_outcome:
        blocked.add("no_outcome", how("no_outcome", reference=case.reference))
    blocked.add_all(
        "checklist",
        (
            how(
                "checklist",
                id=item.id,
                source=item.source,
                task=item.task,
                reference=case.reference,
            )
            for item in open_checklist(session, case)
        ),
    )
    waiting_acks = _waiting_drafts(session, case, ("acknowledgment",))
    if waiting_acks:
        will.append(say("ack_withdrawn", ids=", ".join(str(i) for i in waiting_acks)))
    view = _view(session, services, case, draft)
    for kind in scope["kinds"]:
        if (words := handler_for(kind).describe(view, language)) is not None:
            will.append(words)
    if any(handler_for(kind).tells_recipients(view) for kind in scope["kinds"]):
        _notices_plan(view, will, language, notices if notices is not None else [])
    left_out = [k for k in case.kinds if k not in scope["kinds"]]
    if left_out:
        will.append(say("left_out", kinds=_kinds(left_out, language)))


def _notices_plan(
    view: CaseView, will: list[str], language: str, notices: list[dict[str, str | None]]
) -> None:
    """The recipients approving tells (Art. 19), named before approval: a notice drafted to
    each one with an address, held for its own approval; one without an address cannot be
    sent a notice, and staff are told so."""
    planned = notices_planned(view)
    notices.extend({"recipient": name, "address": address} for name, address in planned)
    reached = [f"{name} ({address})" for name, address in planned if address]
    unreached = [name for name, address in planned if not address]
    if reached:
        will.append(plan_words(language, "art19_notices", items="; ".join(reached)))
    # One whose checklist item staff ticked off was told another way already.
    told = set(
        view.session.exec(
            select(ChecklistItem.source).where(
                ChecklistItem.request_id == view.case.id,
                col(ChecklistItem.source).in_(unreached),
                col(ChecklistItem.done_at).is_not(None),
            )
        )
    )
    if still := [name for name in unreached if name not in told]:
        will.append(plan_words(language, "art19_no_address", items="; ".join(still)))
    if done := [name for name in unreached if name in told]:
        will.append(plan_words(language, "art19_told_by_hand", items="; ".join(done)))


#: What a case's approved reply makes pointless, or contradicts, if it still waits: "your
#: request arrived", "we need more time", "we refuse".
ANSWERED_BY_THE_REPLY = ("acknowledgment", "extension", "refusal")


def _waiting_drafts(session: Session, case: Request, purposes: tuple[str, ...]) -> list[int]:
    """Drafts of the case of these purposes still waiting for approval or an edit: once its
    reply is approved they would tell the person, after the answer, that the request
    arrived (or that more time is needed, or that it is refused)."""
    return [
        d.id or 0
        for d in session.exec(
            select(Draft).where(
                Draft.request_id == case.id,
                col(Draft.purpose).in_(purposes),
                col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
            )
        )
    ]


def _extension_plan(
    services: Services,
    case: Request,
    draft: Draft,
    will: list[str],
    blocked: _Blocks,
    language: str,
) -> None:
    extension = (draft.covers or {}).get("extension", {})
    today = stockholm_date(services.clock(), services.settings.organisation.timezone)
    if today > case.due_date:
        blocked.add("too_late", plan_words(language, "too_late", due=case.due_date))
    if extension:
        will.append(
            plan_words(
                language,
                "extend",
                reference=case.reference,
                due=case.due_date,
                new_due=extension["due"],
            )
        )


def edit_draft(
    session: Session,
    services: Services,
    draft_id: int,
    text: str,
    *,
    actor: str,
    subject: str | None = None,
    kinds: list[str] | None = None,
    changes: dict[str, str] | None = None,
    why: str = "",
) -> Draft:
    """Staff's edit: a new version (bot.workflow.drafts.new_version says what it may change); a
    contact point it would now change is asked to confirm that on its old value. `why`,
    the reason staff give (masked as every note), is kept with the version in the history."""
    new = new_version(
        session,
        services,
        draft_id,
        text,
        actor=actor,
        subject=subject,
        kinds=kinds,
        changes=changes,
    )
    case = session.get(Request, new.request_id)
    assert case is not None
    if new.purpose == "reply":
        ensure_contact_confirmations(session, services, case, actor=actor)
    if why := stored_note(why).strip():
        audit.record(
            session,
            at=services.clock(),
            actor=actor,
            action="draft_edit_reason",
            request=case,
            detail=f"draft {new.id} v{new.version}: {why}",
        )
    return new


def approve_draft(
    session: Session,
    services: Services,
    draft_id: int,
    *,
    actor: str,
    expected_version: int | None = None,
) -> Outbox:
    """Approve one version: carry out what it says and queue it, in one transaction."""
    draft = get_draft(session, draft_id)
    if expected_version is not None and expected_version != draft.version:
        raise StaleDraft(
            f"draft {draft.id} is at version {draft.version}, not "
            f"{expected_version}; review it again"
        )
    plan = approval_plan(session, services, draft)
    if plan.blocked:
        if "replaced it" in plan.blocked[0]:
            raise StaleDraft(plan.blocked[0])
        error = StaleDraft if "written for" in plan.blocked[0] else CaseError
        raise error(f"draft {draft.id} cannot be approved: {'; '.join(plan.blocked)}")
    # (the chain's lock is taken after the work in the sources, at the first audit event:
    # held meanwhile, a slow mailbox would hold every writer of the trail on PostgreSQL)
    claim_decision(session, draft, chain_first=False)
    case = session.get(Request, draft.request_id)
    assert case is not None
    if draft.purpose == "reply":
        for kind in _scope(draft, case)["kinds"]:  # work outside the database, first
            handler_for(kind).before_approve(_view(session, services, case, draft), actor)
    now = services.clock()
    draft.status = DraftStatus.APPROVED
    draft.decided_by = actor
    draft.decided_at = now
    session.add(draft)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="draft_approved",
        request=case,
        detail=f"draft {draft.id} v{draft.version} ({draft.purpose})",
    )
    if draft.purpose == "reply":
        _carry_out_reply(session, services, case, draft, actor)
    text, attachments = draft.text, [Attachment(**a) for a in draft.attachments]
    if draft.to_channel == ChannelName.TELEGRAM and len(text) > CHAT_TEXT_LIMIT:
        text, attachments = _as_document(case, draft, attachments)
    outbox = queue_outbox(
        session,
        case,
        ChannelName(draft.to_channel),
        draft.to_address,
        draft.subject,
        text,
        purpose=draft.purpose,
        draft=draft,
        attachments=attachments,
        now=now,
        from_address=services.settings.organisation.email,
    )
    if draft.to_channel in (ChannelName.PHONE, ChannelName.POST):
        # No adapter calls or posts letters: staff deliver it, and the case is done then.
        outbox.status = OutboxStatus.MANUAL
        session.add(outbox)
        if draft.purpose == "extension":  # staff deliver the notice: it holds from now
            apply_extension(session, case, draft, now=now, actor=actor)
        how = "by post" if draft.to_channel == ChannelName.POST else "by phone"
        alert_staff(
            session,
            case,
            "deliver_by_hand",
            f"{case.reference}: draft {draft.id} is approved; deliver it {how} to "
            f"{draft.to_address} (noxbot drafts show {draft.id}).",
            now=now,
        )
        if draft.purpose == "reply":
            transition(
                session,
                case,
                S.DONE,
                actor=actor,
                reason=f"approved reply handed to staff to deliver {how}",
                now=now,
            )
    if draft.purpose == "refusal":
        transition(
            session,
            case,
            S.CLOSED,
            actor=actor,
            reason="refused under Art. 12(4); notice approved",
            now=now,
        )
    if draft.purpose == "no_data":
        transition(
            session,
            case,
            S.CLOSED,
            actor=actor,
            reason="answered: no personal data held linked to the address",
            now=now,
        )
    return outbox


#: A chat message longer than this (one Telegram message) goes as a short message with the
#: full text as a document: a reply in five chat bubbles is hard to read and to keep.
CHAT_TEXT_LIMIT = 4096
_SHORT_CHARS = 800
_FULL_TEXT_NOTE = {
    "sv": "Hela svaret finns i den bifogade filen {name}.",
    "en": "The full answer is in the attached file {name}.",
}


def _as_document(
    case: Request, draft: Draft, attachments: list[Attachment]
) -> tuple[str, list[Attachment]]:
    """The opening paragraphs (up to a few hundred characters) and a note, with the whole
    text as the first document before the exports."""
    name = f"{case.reference}.txt"
    opening: list[str] = []
    for paragraph in draft.text.split("\n\n"):
        if opening and len("\n\n".join([*opening, paragraph])) > _SHORT_CHARS:
            break
        opening.append(paragraph)
    while len(opening) > 1 and _is_heading(opening[-1]):  # a heading with nothing under it
        opening.pop()
    short = "\n\n".join(opening)[:_SHORT_CHARS].rstrip()
    note = _FULL_TEXT_NOTE.get(draft.language, _FULL_TEXT_NOTE["en"]).format(name=name)
    full = Attachment(filename=name, content_type="text/plain", content=draft.text)
    return f"{short}\n\n{note}", [full, *attachments]


def _is_heading(paragraph: str) -> bool:
    """A paragraph that only names what follows ("Our consultant register", "RADERING"):
    one short line that ends no sentence."""
    line = paragraph.strip()
    return "\n" not in line and len(line) <= 80 and not line.endswith((".", "!", "?"))


def _carry_out_reply(
    session: Session, services: Services, case: Request, draft: Draft, actor: str
) -> None:
    """The approved version's kinds, with its changes — what its text says, checked when it
    was edited (bot.workflow.drafts.check_text_says)."""
    scope = _scope(draft, case)
    transition(
        session,
        case,
        S.APPROVED,
        actor=actor,
        reason=f"draft {draft.id} approved",
        now=services.clock(),
    )
    for kind in scope["kinds"]:
        # A fresh view per kind: an erasure before it may have removed the person.
        view = _view(session, services, case, draft)
        done = handler_for(kind).on_approve(view, actor)
        audit.record(
            session,
            at=services.clock(),
            actor=actor,
            action=f"carried_out_{kind}",
            request=case,
            detail=done,
        )
    drop_contact_challenges_outside(session, services, case, scope.get("changes", []), actor=actor)
    waiting = _waiting_drafts(session, case, ANSWERED_BY_THE_REPLY)
    if waiting:  # after the answer they would only confuse the person, or contradict it
        supersede_open_drafts(session, case, purposes=ANSWERED_BY_THE_REPLY)
        audit.record(
            session,
            at=services.clock(),
            actor=actor,
            action="acknowledgment_withdrawn",
            request=case,
            detail=f"draft {', '.join(str(i) for i in waiting)}: the approved reply "
            "answers the case",
        )
    left_out = [k for k in case.kinds if k not in scope["kinds"]]
    if left_out:
        audit.record(
            session,
            at=services.clock(),
            actor=actor,
            action="not_carried_out",
            request=case,
            detail=f"{', '.join(left_out)}: left out of the approved version {draft.version}",
        )


def blocked_for_now(session: Session, services: Services, draft: Draft) -> list[str]:
    """Why a draft awaiting approval cannot be approved yet, in a few words each (empty
    when it can, or when it is not awaiting approval): what a list shows instead of "to
    approve", decided by the same plan approve_draft refuses by."""
    if draft.status != DraftStatus.AWAITING_APPROVAL:
        return []
    return approval_plan(session, services, draft).held


def plan_for(session: Session, services: Services, draft_id: int) -> Plan:
    return approval_plan(session, services, get_draft(session, draft_id))
