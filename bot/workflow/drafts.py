"""Drafts: what staff approve, versioned, and what approving one carries out.

The one rule kept here: register data goes into a draft only for a verified case, and
leaves only in a draft a staff member approved — approval runs the handlers' actions and
queues the message in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.channels.messages import Attachment
from bot.errors import CaseError, StaleDraft
from bot.reading.safe_text import stored_note
from bot.rules.channels import ChannelName
from bot.rules.policy import kind_labels
from bot.rules.verification import usable_for_verification
from bot.store import audit
from bot.store.records import SYSTEM, S, alert_staff, greeting_name, subject_of
from bot.store.register import InvalidContact, contacts_of, normalise, subject_record
from bot.store.rows import insert_now, new_row
from bot.store.tables import (
    Draft,
    DraftStatus,
    Message,
    MessageState,
    Request,
    Subject,
)
from bot.workflow.lifecycle import hold_as_read, transition
from bot.workflow.rendering import longdate
from bot.workflow.services import Services
from handlers import handler_for
from handlers.base import CaseView
from handlers.rectification import staff_changes


def case_view(session: Session, services: Services, case: Request) -> CaseView:
    """What a handler sees: the case, the person (if still on file) and what they wrote."""
    # Only the message that made the request: a later message in the thread may come from
    # anyone who can write a From line, so it is shown to staff but never read for actions.
    first = session.exec(
        select(Message)
        .where(
            Message.request_id == case.id,
            Message.direction == "in",
            Message.state == MessageState.REQUEST,
        )
        .order_by(col(Message.id))
    ).all()
    text = "\n\n".join(m.text for m in first)
    return CaseView(session, services, case, subject_of(session, case), text)


def reply_address(session: Session, case: Request, now: datetime) -> tuple[str, str]:
    """Where a reply goes: the channel and address the request came from — except that a
    request by phone or post is answered by email or Telegram when the person is on file
    (we cannot send a call or a letter; staff deliver those by hand). A contact point a
    rectification put on file lately is not used for that: it proves nothing yet."""
    subject = subject_of(session, case)
    if case.channel in (ChannelName.PHONE, ChannelName.POST) and subject is not None:
        contacts = [
            c for c in contacts_of(session, subject) if usable_for_verification(c.verify_after, now)
        ]
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
    approved_at: datetime | None = None,
) -> Draft:
    """A new draft (version 1) and its event; `approved_at`: approved by noxbot at that
    time already (an automatic answer that needs no staff), in the same INSERT."""
    if carries_personal_data and case.verified_at is None:
        # The rule of this module: never draft register data for an unverified case.
        raise CaseError(f"{case.reference}: refusing to draft personal data for an unverified case")
    channel, address = reply_address(session, case, now)
    draft = new_row(
        Draft,
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
        **(
            {"status": DraftStatus.APPROVED, "decided_by": SYSTEM, "decided_at": approved_at}
            if approved_at is not None
            else {}
        ),
    )
    insert_now(session, draft)  # (bot.store.rows: its id is needed at once, below)
    audit.record(
        session,
        at=now,
        actor=author,
        action="draft_created",
        request=case,
        detail=f"draft {draft.id} ({purpose}) v1",
    )
    return draft


def common_context(session: Session, case: Request) -> dict[str, object]:
    return {
        "reference": case.reference,
        "name": greeting_name(session, case),
        "due_date": case.extended_due_date
        if case.extended and case.extended_due_date
        else case.due_date,
    }


#: The kinds whose section states the right to complain to the supervisory authority
#: (Art. 77) in more words than the reply's closing line, the one preferred first: a reply
#: says it once — in the first of these it answers, else in the closing line.
COMPLAINT_RIGHT_SECTIONS = ("complaint", "access")


def complaint_right_stated_by(kinds: list[str]) -> str | None:
    """Which kind's section states the right to complain in a reply answering `kinds`
    (None: the reply's closing line does)."""
    return next((k for k in COMPLAINT_RIGHT_SECTIONS if k in kinds), None)


def _names_the_authority(text: str, authority: str) -> bool:
    """Whether a section tells the person of the supervisory authority (IMY, or the name
    configured): a staff template that leaves the sentence out must not leave the reply
    without it."""
    folded = text.casefold()
    name = authority.split(",")[0].split("(")[0].strip().casefold()
    return (
        "imy" in folded
        or "integritetsskyddsmyndigheten" in folded
        or (bool(name) and name in folded)
    )


def draft_reply(
    session: Session,
    services: Services,
    case: Request,
    *,
    actor: str,
    leave_out: frozenset[str] = frozenset(),
) -> Draft:
    """The reply to the case, one section per kind — less the kinds staff left out of an
    earlier version (a redraft must not bring back what staff decided not to do)."""
    view = case_view(session, services, case)
    answered = [k for k in case.kinds if k not in leave_out]
    sections, attachments, personal = [], [], False
    headings: dict[str, str] = {}
    openings: dict[str, str] = {}
    owners: dict[str, list[str]] = {}
    fields: list[str] = []
    stater = complaint_right_stated_by(answered)
    stated = False  # whether the section meant to state it did (an override may not)
    for kind in answered:
        section = handler_for(kind).draft(view)
        text = services.drafter.render(
            section.template,
            case.language,
            **common_context(session, case),
            **section.context,
            states_complaint_right=kind == stater,
        ).text.strip()
        sections.append(text)
        stated = stated or (
            kind == stater
            and _names_the_authority(text, services.settings.organisation.supervisory_authority)
        )
        body = [line.strip() for line in text.splitlines() if line.strip()]
        headings[kind] = body[0] if body else ""
        openings[kind] = body[1] if len(body) > 1 else ""
        owners[kind] = [a.filename for a in section.attachments]
        attachments.extend(section.attachments)
        fields.extend(f for f in section.fields if f not in fields)
        personal = personal or section.carries_personal_data
    rendered = services.drafter.render(
        "reply.txt.j2",
        case.language,
        **common_context(session, case),
        sections=sections,
        kinds=kind_labels(answered, case.language),
        states_complaint_right=not stated,
    )
    scope = reply_scope(case)
    return new_draft(
        session,
        case,
        "reply",
        rendered.subject,
        rendered.text,
        attachments=tuple(attachments),
        carries_personal_data=personal,
        covers={
            **scope,
            "record": record_digest(session, view.subject) if personal else None,
            "kinds": answered,
            "changes": scope["changes"] if "rectification" in answered else [],
            "written_for": scope,
            "sections": headings,
            "openings": openings,
            "attachments": owners,
            "fields": fields,
        },
        author=actor,
        now=services.clock(),
    )


def record_digest(session: Session, subject: Subject | None) -> str | None:
    """A fingerprint of what the register holds on the person now: a reply that shows
    register data is out of date once it changes (a re-import, a rectification)."""
    if subject is None:
        return None
    items = [(i.key, i.value) for i in subject_record(session, subject, "en")]
    return hashlib.sha256(json.dumps(items, ensure_ascii=False).encode()).hexdigest()[:16]


def reply_scope(case: Request) -> dict[str, Any]:
    """What a reply written now answers: the case's kinds and the changes it would apply."""
    return {"kinds": list(case.kinds), "changes": list(case.requested_changes)}


def written_for(draft: Draft) -> dict[str, Any]:
    """The case as it stood when the reply was drafted (what the machine answered)."""
    covers = draft.covers or {}
    if "written_for" in covers:
        return dict(covers["written_for"])
    return {"kinds": list(covers.get("kinds", [])), "changes": list(covers.get("changes", []))}


def draft_clarification(session: Session, services: Services, case: Request, reason: str) -> Draft:
    rendered = services.drafter.render(
        "clarification.txt.j2",
        case.language,
        **common_context(session, case),
        reason=reason,
        kinds=kind_labels(case.kinds, case.language),
    )
    return new_draft(
        session, case, "clarification", rendered.subject, rendered.text, now=services.clock()
    )


def draft_acknowledgment(
    session: Session, services: Services, case: Request, *, approved_at: datetime | None = None
) -> Draft:
    """The acknowledgement while identity is checked; `approved_at`: approved by noxbot
    then (bot.workflow.cases.acknowledge sends it at once), written so from the start."""
    rendered = services.drafter.render(
        "acknowledgment.txt.j2",
        case.language,
        **{**common_context(session, case), "name": None},  # the same words for everyone
        needs_verification=True,
    )
    return new_draft(
        session,
        case,
        "acknowledgment",
        rendered.subject,
        rendered.text,
        now=services.clock(),
        approved_at=approved_at,
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
        by = f" by {latest.author}" if latest.author != "noxbot" else ""
        raise StaleDraft(
            f"draft {draft.id} is version {draft.version}, but version {latest.version} "
            f"(draft {latest.id}, written{by}) replaced it; review and approve draft {latest.id}"
        )


def claim_decision(
    session: Session,
    draft: Draft,
    may_be: tuple[DraftStatus, ...] = (DraftStatus.AWAITING_APPROVAL,),
    *,
    chain_first: bool = True,
) -> None:
    """Make this transaction the one that decides `draft`, after its checks and before
    anything is carried out: its row is written at once (to what it is - nothing changes
    yet), which one transaction at a time can do. A second decision on the same version (a
    double click, another staff member, the staff chat) waits for the first to end, then
    finds the version decided or replaced and is refused - instead of both going through:
    two replies queued, or a version rejected or replaced meanwhile sent all the same.
    `may_be`: the states the decision may be taken in. `chain_first`: the audit chain's lock
    before the row (audit.hold_chain), the order every other staff action takes them in;
    approval takes it later, after its work in the sources (a rare approval and closing of
    one case at the same instant may then deadlock, which PostgreSQL ends by refusing one)."""
    if chain_first:
        audit.hold_chain(session)
    claimed = session.execute(
        update(Draft)
        .where(
            col(Draft.id) == draft.id,
            col(Draft.status).in_([state.value for state in may_be]),
        )
        .values(status=Draft.status)  # (a write that changes nothing: it takes the row)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        status = session.exec(select(Draft.status).where(Draft.id == draft.id)).one()
        raise StaleDraft(
            f"draft {draft.id} was decided meanwhile: it is {status} now; review the case again"
        )
    _check_current(session, draft)  # (a version made meanwhile from a rejected one)
    session.refresh(draft)  # (what the decision goes on is what the first one left)
    case = session.get(Request, draft.request_id)
    if case is not None:
        session.refresh(case)


def reject_draft(
    session: Session, services: Services, draft_id: int, reason: str, *, actor: str
) -> Draft:
    reason = stored_note(reason)
    draft = get_draft(session, draft_id)
    _check_current(session, draft)
    if draft.status != DraftStatus.AWAITING_APPROVAL:
        raise CaseError(
            f"draft {draft.id} is {draft.status}; only a draft awaiting approval can be rejected"
        )
    if not reason.strip():
        raise CaseError("--reason is required")
    claim_decision(session, draft)
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


def new_version(
    session: Session,
    services: Services,
    draft_id: int,
    text: str,
    *,
    actor: str,
    subject: str | None = None,
    kinds: list[str] | None = None,
    changes: dict[str, str] | None = None,
) -> Draft:
    """Staff's edit becomes a new version; the old one stays as it was (versioned drafts).

    What approving the new version carries out comes from it: the scope of the version it
    replaces, unless staff state a new one (`kinds`: fewer of the kinds the case asks for;
    `changes`: what a rectification changes, as `requests changes` takes them). Either way
    the text must still say what will be done, and nothing more — a section cut out of the
    text without a new scope, or a changed phone number in it, is refused with what to do.
    """
    draft = get_draft(session, draft_id)
    _check_current(session, draft)
    if draft.status not in (DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED):
        by = f" (by {draft.decided_by})" if draft.decided_by else ""
        raise CaseError(f"draft {draft.id} is {draft.status}{by}; it can no longer be edited")
    if not text.strip():
        raise CaseError("the edited text is empty; nothing was changed")
    if subject is not None and any(c in subject for c in "\r\n\x00\x0b\x0c\x85\u2028\u2029"):
        # A mail's Subject is one header line: the sender would refuse it after approval.
        raise CaseError("the subject must be one line; nothing was changed")
    unchanged_scope = kinds is None and changes is None
    if text == draft.text and (subject is None or subject == draft.subject) and unchanged_scope:
        raise CaseError("the text is unchanged; no new version made")
    case = session.get(Request, draft.request_id)
    assert case is not None
    covers = draft.covers
    if draft.purpose == "reply":
        covers = _edited_scope(session, case, draft, kinds, changes)
        check_text_says(text, covers, case.reference)
    elif not unchanged_scope:
        raise CaseError(
            f"draft {draft.id} is a {draft.purpose}; only a reply has kinds and changes"
        )
    if draft.purpose == "extension":
        _check_notice_says(text, covers or {}, draft.language, case.reference)
    claim_decision(session, draft, (DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED))
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
        attachments=_attachments_in_scope(draft, covers),
        carries_personal_data=draft.carries_personal_data or case.verified_at is not None,
        covers=covers,
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
        detail=f"draft {draft.id} v{draft.version} → draft {new.id} v{new.version}"
        + ("" if unchanged_scope else f"; scope: {', '.join((covers or {}).get('kinds', []))}"),
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


def _attachments_in_scope(draft: Draft, covers: dict[str, Any] | None) -> list[dict[str, str]]:
    """A kind left out of the reply takes its files with it (a portability export)."""
    owners = (covers or {}).get("attachments", {})
    dropped = {
        name
        for kind, names in owners.items()
        if kind not in (covers or {}).get("kinds", [])
        for name in names
    }
    return [a for a in draft.attachments if a["filename"] not in dropped]


def _edited_scope(
    session: Session,
    case: Request,
    draft: Draft,
    kinds: list[str] | None,
    changes: dict[str, str] | None,
) -> dict[str, Any]:
    """The scope of an edited reply: the old one, or the kinds and changes staff state."""
    covers = dict(draft.covers or reply_scope(case))
    asked = written_for(draft)["kinds"]
    if kinds is not None:
        unknown = [k for k in kinds if k not in asked]
        if unknown or not kinds:
            raise CaseError(
                f"{case.reference} asks for {', '.join(asked)}; an edited reply may answer "
                f"some of those, not {', '.join(unknown) or 'none of them'}"
            )
        covers["kinds"] = [k for k in asked if k in kinds]  # the case's order
    if changes is not None:
        if "rectification" not in covers["kinds"]:
            raise CaseError(f"{case.reference}: changes belong to a rectification reply")
        subject = subject_of(session, case)
        if subject is None:
            raise CaseError(f"{case.reference}: the person is not on file; nothing to rectify")
        try:
            covers["changes"] = staff_changes(session, subject, changes, case.language)
        except InvalidContact as exc:
            raise CaseError(str(exc)) from None
    if "rectification" not in covers["kinds"]:
        covers["changes"] = []
    return covers


def _check_notice_says(text: str, covers: dict[str, Any], language: str, reference: str) -> None:
    """An extension notice must still give the new date: sending it makes that date the
    legal one (Art. 12(3)), so the person must read it."""
    due = date.fromisoformat(covers.get("extension", {}).get("due", "1970-01-01"))
    if longdate(due, language).casefold() not in text.casefold() and due.isoformat() not in text:
        raise CaseError(
            f"{reference}: the edited notice no longer gives the extended due date "
            f"({longdate(due, language)}), which sending it makes the legal one; keep it"
        )


def _plain(line: str) -> str:
    """A line as words only: "RADERING:" and "Radering" read the same."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in line.casefold()).split())


def check_text_says(text: str, covers: dict[str, Any], reference: str) -> None:
    """Raise unless the reply's text says what approving it carries out, and no more.

    - each kind in scope whose approval changes the register (erasure, a rectification, a
      restriction …) keeps its section, found by its heading;
    - no kind out of scope keeps its section (its heading, or its opening line);
    - each change in scope stands in the text as a line "old → new" with the new value as it
      will be written on file, and every such line is a change in scope.
    """
    lines = [_plain(line) for line in text.splitlines()]
    for kind, heading in covers.get("sections", {}).items():
        opening = covers.get("openings", {}).get(kind, "")
        present = bool(heading) and _plain(heading) in lines
        if kind in covers["kinds"] and handler_for(kind).changes_register and not present:
            others = [k for k in covers["kinds"] if k != kind]
            raise CaseError(
                f"{reference}: the edited text has no {heading} section, but approving it would "
                f"still carry out {kind}; keep the section, or leave {kind} out"
                + (f" (--kinds {','.join(others)})" if others else "")
            )
        said = present or (bool(opening) and _plain(opening) in lines)
        if kind not in covers["kinds"] and said:
            raise CaseError(
                f"{reference}: the edited text still has the {heading} section, but approving "
                f"it would not carry out {kind}; take the section out"
            )
    arrows = [line for line in text.splitlines() if "→" in line or "->" in line]
    changes = covers.get("changes", [])
    for change in changes:
        if not any(_says_new_value(line, change) for line in arrows):
            raise CaseError(
                f"{reference}: the edited text no longer says the change of {change['field']} "
                f"to {change['new']} (a line 'old → new') that approval would write on file; "
                f"keep it, or state the change (--set {change['field']}=NEW)"
            )
    for line in arrows:
        if not any(_says_new_value(line, change) for change in changes):
            raise CaseError(
                f"{reference}: the edited text says {line.strip()!r}, which approval would not "
                "write on file; take it out, or state the change (--set FIELD=NEW)"
            )


def _says_new_value(line: str, change: dict[str, Any]) -> bool:
    """Whether an "old → new" line ends in this change's new value, however written."""
    right = line.replace("->", "→").rpartition("→")[2].strip().rstrip(".").strip()
    if change["field"] in ("phone", "email"):
        try:
            return normalise(change["field"], right) == change["new"]
        except InvalidContact:
            return False
    return right.casefold() == str(change["new"]).casefold()


_NEWER = aliased(Draft)
#: A newer version of the same draft exists. Made once: an alias made on every call costs
#: SQLAlchemy ~1 ms to adapt its columns again (every request from a person on file asks).
_EDITED = exists().where(_NEWER.series == Draft.series, _NEWER.version > Draft.version)


def open_drafts(session: Session, case: Request | None = None) -> list[Draft]:
    """Drafts awaiting approval, and rejected ones still waiting for an edit: a rejected
    version that was edited into a newer one is history, not work. With `case`: that
    case's only (by its index, whatever the number of open cases)."""
    query = select(Draft).where(
        col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]), ~_EDITED
    )
    if case is not None:
        query = query.where(Draft.request_id == case.id)
    return list(session.exec(query.order_by(col(Draft.id))))


def redraft_reply(
    session: Session, services: Services, case: Request, why: str | None = None
) -> Draft | None:
    """What the case asks for changed: replace the waiting (or rejected) reply draft.

    A version staff wrote themselves is not carried over — it answers less than the case
    now asks — so they are told why (`why`: what changed; by default the kinds it covers),
    and their text stays readable as that version.
    """
    if case.status not in (S.AWAITING_APPROVAL, S.REJECTED):
        return None
    hold_as_read(session, case)  # (the callers claim the case first; this is the last word)
    replaced = session.exec(
        select(Draft).where(
            Draft.request_id == case.id,
            Draft.purpose == "reply",
            col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
        )
    ).all()
    left_out: set[str] = set()
    for old in replaced:
        old.status = DraftStatus.SUPERSEDED
        session.add(old)
        left_out |= set(written_for(old)["kinds"]) - set((old.covers or {}).get("kinds", []))
    draft = draft_reply(session, services, case, actor=SYSTEM, leave_out=frozenset(left_out))
    edited = [old for old in replaced if old.author != SYSTEM]
    if edited:
        kept_out = f"; {', '.join(sorted(left_out))} stays left out, as in it" if left_out else ""
        alert_staff(
            session,
            case,
            "redrafted",
            f"{case.reference}: {why or 'the request now covers ' + ', '.join(case.kinds)}, "
            f"so the reply was drafted again as draft {draft.id}; the edit in draft {edited[0].id} "
            f"(v{edited[0].version}) was not carried over{kept_out} — compare and edit "
            f"draft {draft.id}",
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
