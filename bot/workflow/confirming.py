"""Confirming who asked: challenges on the alternate channel, and what each answer does.

A challenge names what it confirms (the kinds asked for, or the change of a contact point),
and a confirmation covers exactly that. Confirmed → the case is verified and its reply
drafted; "it wasn't me", too many wrong codes or no answer in time → the case waits for
staff, who are alerted. A rectification of a contact point that verification uses (email,
phone) is confirmed on the old value too; approval waits for that (bot.workflow.drafts). The pure
rules (routes, codes, the cooling-off period) are in bot.rules.verification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from bot.channels.messages import Button
from bot.errors import CaseError, ChangedMeanwhile
from bot.reading.safe_text import stored_note
from bot.rules.channels import ChannelName
from bot.rules.kinds import KINDS_NEEDING_VERIFICATION
from bot.rules.policy import kind_labels
from bot.rules.verification import (
    CONTACT_FIELDS,
    CodeAnswer,
    Denial,
    Method,
    Route,
    button_data,
    choose_route,
    code_matches,
    hash_code,
    new_code,
    parse_button_data,
    read_answer,
    route_to,
    usable_for_verification,
)
from bot.store import audit
from bot.store.records import (
    SYSTEM,
    S,
    alert_staff,
    find_reference,
    find_requester,
    get_case,
    normalised_or_raw,
    subject_of,
)
from bot.store.register import as_written, contacts_of
from bot.store.rows import insert_now, new_row, update_now_if
from bot.store.tables import (
    AuditEvent,
    ContactKind,
    Message,
    Outbox,
    Request,
    Subject,
    Verification,
    VerificationStatus,
)
from bot.workflow.drafts import draft_clarification, draft_reply, open_drafts, supersede_open_drafts
from bot.workflow.lifecycle import (
    is_open,
    resolve_alerts,
    resolve_verification_alerts,
    transition,
)
from bot.workflow.outbox import (
    REDACT_AFTER_SENDING,
    queue_outbox,
    withdraw_challenges,
    withdraw_queued,
    withdraw_unless_sent,
)
from bot.workflow.services import Services
from bot.workflow.words import STAFF_CALL

#: Button labels for the Telegram confirmation, in the language of the case.
CONFIRM_LABELS = {
    "sv": ("Ja, det var jag", "Nej, det var inte jag"),
    "en": ("Yes, that was me", "No, it wasn't me"),
}
#: What a confirmation of a contact point's change names, in the language of the case.
CONTACT_CHANGE_LABELS = {
    "sv": {
        "email": "ändring av din e-postadress hos oss till {new}",
        "phone": "ändring av ditt telefonnummer hos oss till {new}",
    },
    "en": {
        "email": "a change of your email address with us to {new}",
        "phone": "a change of your phone number with us to {new}",
    },
}


def verification_kinds(kinds: list[str]) -> list[str]:
    """The kinds of a case that a confirmation must cover (the rest need none)."""
    return [k for k in kinds if k in KINDS_NEEDING_VERIFICATION]


def usable_contacts(session: Session, subject: Subject, now: datetime) -> list[tuple[str, str]]:
    """The person's contact points that may prove who they are now (none cooling off)."""
    return [
        (c.kind, c.value)
        for c in contacts_of(session, subject)
        if usable_for_verification(c.verify_after, now)
    ]


def start_verification(
    session: Session,
    services: Services,
    case: Request,
    route: Route,
    *,
    kinds: list[str],
    confirms_contact: str | None = None,
    confirms_value: str | None = None,
    actor: str = SYSTEM,
) -> Verification:
    """Create the challenge and queue it on the alternate channel (it holds no personal data,
    so it goes out without approval); a phone route becomes a task for staff. The challenge
    names what it confirms: `kinds`, or the change of the contact point `confirms_contact`."""
    settings = services.settings.verification
    now = services.clock()
    verification = new_row(
        Verification,
        request_id=case.id,
        method=route.method,
        channel=route.channel,
        address=route.address,
        max_attempts=settings.max_attempts,
        expires_at=now + timedelta(hours=settings.code_ttl_hours),
        created_at=now,
        kinds=list(kinds),
        confirms_contact=confirms_contact,
        confirms_value=confirms_value,
    )
    insert_now(session, verification)  # (bot.store.rows: its id goes into the code's hash)
    ttl = settings.code_ttl_hours
    ttl_shown = int(ttl) if float(ttl).is_integer() else ttl
    naming = {
        "reference": case.reference,
        "name": None,
        "due_date": case.due_date,
        "request_channel": case.channel,
        "ttl_hours": ttl_shown,
        "asked_for": _what_is_confirmed(case.language, kinds, confirms_contact, confirms_value),
        "asked_from": asked_from_elsewhere(session, case),
    }
    if route.method is Method.EMAIL_CODE:
        code = new_code()
        verification.code_hash = hash_code(services.hash_key, verification.id, code)
        rendered = services.drafter.render(
            "verification_challenge_email.txt.j2",
            case.language,
            code=code,
            max_attempts=settings.max_attempts,
            **naming,
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
        # The code stands in clear in the queued text only until it is sent (bot.workflow.outbox).
        outbox.headers = {**outbox.headers, REDACT_AFTER_SENDING: [code]}
    elif route.method is Method.TELEGRAM_CONFIRM:
        rendered = services.drafter.render(
            "verification_challenge_telegram.txt.j2", case.language, **naming
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
        # Numbers as staff dial them ("+46 70 123 45 67"), as the rest of the console shows.
        new_value = as_written(confirms_value, confirms_contact or "", "en")
        what = (
            f"that they asked to change their {confirms_contact} on file to {new_value} "
            f"(and call {new_value} too, to hear that the new number is theirs)"
            if confirms_contact
            else "the request"
        )
        number = as_written(route.address, "phone", "en")
        alert_staff(
            session,
            case,
            "call_to_verify",
            f"{case.reference}: call the number on file ({number}) to confirm {what}, "
            f"then run: noxbot requests verify {case.reference} --by phone --note '…'",
            now=now,
        )
    session.add(verification)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="verification_started",
        request=case,
        detail=f"{route.method} via {route.channel}"
        + (f" for the change of {confirms_contact}" if confirms_contact else ""),
    )
    return verification


def asked_from_elsewhere(session: Session, case: Request) -> str | None:
    """Where the request came from, when that is none of the linked person's own contact
    points (staff linked the case to them): the answer will go there, so the challenge names
    it - a person who did ask from a new address recognises it, one who did not is warned
    rather than asked only whether they made "a request". None when the request came from
    their own contact point, or by phone or post (answered on file)."""
    if case.channel not in (ChannelName.EMAIL, ChannelName.TELEGRAM):
        return None
    owner = find_requester(session, case.channel, case.requester_address)
    if owner is not None and owner.id == case.subject_id:
        return None
    return case.requester_address


def _what_is_confirmed(
    language: str, kinds: list[str], confirms_contact: str | None, new: str | None
) -> list[str]:
    if confirms_contact is not None:
        labels = CONTACT_CHANGE_LABELS.get(language, CONTACT_CHANGE_LABELS["en"])
        return [labels[confirms_contact].format(new=as_written(new, confirms_contact, language))]
    return kind_labels(kinds, language)


#: Challenges one contact point may have waiting for an answer at once before a new case
#: sends it no more by itself: a flood of requests in someone's name (a forged From) must
#: not become a flood of "Was it you?" questions to them, each a chance of a tired "yes".
MAX_PENDING_CHALLENGES = 3


def challenges_pending(session: Session, services: Services, route: Route) -> int:
    """Challenges to this contact point that still wait for an answer (not expired)."""
    return int(
        session.exec(
            select(func.count())
            .select_from(Verification)
            .where(
                Verification.address == route.address,
                Verification.method == route.method,
                Verification.status == VerificationStatus.PENDING,
                col(Verification.expires_at) > services.clock(),
            )
        ).one()
    )


@dataclass(frozen=True)
class NoChallenge:
    """Why a new case sent no challenge, in the words its history records (staff have been
    alerted where they have something to decide)."""

    why: str


#: No contact point on file may be used to verify the requester (staff decide).
NO_ALTERNATE_CHANNEL = NoChallenge("no alternate contact channel on file")


def start_case_verification(
    session: Session,
    services: Services,
    case: Request,
    subject: Subject,
    *,
    actor: str,
    by_staff: bool = False,
) -> Verification | NoChallenge:
    """The challenges a new case needs: who asked, through an alternate channel on file, and
    each contact point its rectification would change, on that contact point's old value.
    Returns the first, or why none was sent: no alternate channel may be used (staff
    decide); a case opened from outside (`by_staff` False) sends none to a contact point
    that already has MAX_PENDING_CHALLENGES waiting (staff are told, and send one if the
    request is theirs); nor a code to an address whose codes were guessed wrong too often."""
    route = choose_route(
        ChannelName(case.channel),
        normalised_or_raw(case.channel, case.requester_address),
        usable_contacts(session, subject, services.clock()),
    )
    if route is None:
        return NO_ALTERNATE_CHANNEL
    if (
        not by_staff
        and route.method in (Method.EMAIL_CODE, Method.TELEGRAM_CONFIRM)
        and challenges_pending(session, services, route) >= MAX_PENDING_CHALLENGES
    ):
        alert_staff(
            session,
            case,
            "unverified",
            f"{case.reference}: {MAX_PENDING_CHALLENGES} verification challenges to the "
            "contact point on file wait for an answer already, so no further one was sent "
            "(many requests in the person's name at once may be forged); if this request is "
            f"theirs, send one from the case page (noxbot requests challenge {case.reference}).",
            now=services.clock(),
        )
        return NoChallenge(
            f"{MAX_PENDING_CHALLENGES} challenges to the contact point on file wait for an "
            "answer already; no further one sent"
        )
    if route.method is Method.EMAIL_CODE and guesses_spent(session, services, route.address):
        alert_staff(
            session,
            case,
            "unverified",
            f"{case.reference}: codes sent to the contact point on file were answered wrongly "
            f"{services.settings.verification.max_attempts} times in the last "
            f"{services.settings.verification.code_ttl_hours} hours, so no new code was sent; "
            "confirm by phone (noxbot requests verify) or decide.",
            now=services.clock(),
        )
        return NoChallenge(
            "codes to the contact point on file were answered wrongly too often; no new code sent"
        )
    verification = start_verification(
        session, services, case, route, kinds=verification_kinds(case.kinds), actor=actor
    )
    ensure_contact_confirmations(session, services, case, actor=actor)
    return verification


def guesses_spent(session: Session, services: Services, address: str) -> bool:
    """Whether the codes sent to this address lately have used up the attempts one code
    allows: a new case must not bring a fresh set of guesses (each forged request would)."""
    settings = services.settings.verification
    since = services.clock() - timedelta(hours=settings.code_ttl_hours)
    wrong = session.exec(
        select(func.coalesce(func.sum(Verification.attempts), 0)).where(
            Verification.address == address,
            Verification.method == Method.EMAIL_CODE,
            col(Verification.created_at) >= since,
        )
    ).one()
    return int(wrong) >= settings.max_attempts


def _confirms(verification: Verification, field: str, old: str, new: str) -> bool:
    """Whether a challenge asked the old value of this contact point to confirm exactly this
    change (a staff call to the number on file, for a phone number)."""
    if verification.confirms_contact != field or verification.confirms_value != new:
        return False
    if field == "phone" and verification.method == Method.PHONE_CALL:
        return True
    kind = CONTACT_FIELDS[field]
    return verification.channel == str(kind) and verification.address == old


def _proves_new(verification: Verification, field: str, new: str) -> bool:
    """Whether a challenge went to the new email address itself, for this change: answered,
    it shows the address is the requester's."""
    return (
        field == "email"
        and verification.confirms_contact == field
        and verification.confirms_value == new
        and verification.channel == str(CONTACT_FIELDS[field])
        and verification.address == new
    )


def _asks_about(verification: Verification, field: str, old: str, new: str) -> bool:
    """Whether a challenge is one of those this change needs (either side)."""
    return (bool(old) and _confirms(verification, field, old, new)) or _proves_new(
        verification, field, new
    )


def changes_to_confirm(changes: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(field, old, new) of each change to a contact point that verification uses and that
    must be confirmed: a replaced value on its old side, and a new email address (also one
    added where none was on file: `old` is "") on its new side."""
    return [
        (c["field"], c.get("old") or "", c["new"])
        for c in changes
        if c.get("field") in CONTACT_FIELDS
        and c.get("new")
        and (c.get("old") or c["field"] == "email")
    ]


def unconfirmed_contact_changes(
    session: Session, case: Request, changes: list[dict[str, Any]]
) -> list[str]:
    """The contact points a change would replace that have not confirmed that very change
    on their old value, or (an email address) whose new value has not shown it is the
    requester's: approval of such a change waits (GDPR Art. 12(6): a change of the channel
    we verify through is exactly what an impostor would ask for, and an address that is
    someone else's would bring their data into the requester's next access reply)."""
    confirmed = list(
        session.exec(
            select(Verification).where(
                Verification.request_id == case.id,
                Verification.status == VerificationStatus.CONFIRMED,
            )
        )
    )
    return [
        field
        for field, old, new in changes_to_confirm(changes)
        if (old and not any(_confirms(v, field, old, new) for v in confirmed))
        or (field == "email" and not any(_proves_new(v, field, new) for v in confirmed))
    ]


def drop_contact_challenges_outside(
    session: Session,
    services: Services,
    case: Request,
    changes: list[dict[str, Any]],
    *,
    actor: str,
) -> None:
    """Challenges for contact changes that an approved version left out end: the change
    will not happen, so neither a "yes" nor a "no" to it has anything left to decide."""
    wanted = changes_to_confirm(changes)
    for verification in pending_verifications(session, case):
        if verification.confirms_contact is None:
            continue
        if not any(_asks_about(verification, *change) for change in wanted):
            finish_verification(
                session,
                services,
                case,
                verification,
                VerificationStatus.CANCELLED,
                actor=actor,
                note="the approved reply does not make this change",
            )


def _wanted_contact_changes(session: Session, case: Request) -> list[tuple[str, str, str]]:
    """The contact changes the case asks for: stated, or in a reply draft still open."""
    wanted = changes_to_confirm(case.requested_changes)
    for draft in open_drafts(session, case):
        if draft.purpose == "reply" and draft.covers:
            wanted += [
                c for c in changes_to_confirm(draft.covers.get("changes", [])) if c not in wanted
            ]
    return wanted


def ensure_contact_confirmations(
    session: Session, services: Services, case: Request, *, actor: str = SYSTEM
) -> list[Verification]:
    """Ask each contact point a rectification would change to confirm that change on its old
    value, and a new email address to show that it is the requester's (a code sent to it),
    unless asked already; a challenge for a change no longer asked (staff restated it) is
    cancelled. Without the second, a requester could put someone else's address on file as
    their own, and their next access request would gather that person's mail."""
    wanted = _wanted_contact_changes(session, case)
    asked = []
    for verification in session.exec(
        select(Verification).where(
            Verification.request_id == case.id,
            col(Verification.confirms_contact).is_not(None),
            col(Verification.status).in_(
                [VerificationStatus.PENDING, VerificationStatus.CONFIRMED]
            ),
        )
    ):
        still = any(_asks_about(verification, *change) for change in wanted)
        if not still and verification.status == VerificationStatus.PENDING:
            finish_verification(
                session,
                services,
                case,
                verification,
                VerificationStatus.CANCELLED,
                actor=actor,
                note="the change it asked about is no longer asked",
            )
        elif still:
            asked.append(verification)
    started = []
    for field, old, new in wanted:
        sides = []
        if old:  # (an email added where none was on file has no old side)
            sides.append((old, lambda v, f=field, o=old, n=new: _confirms(v, f, o, n)))
        if field == "email" and case.verified_at is not None:
            # Only once who asked is confirmed (confirm_identity asks again then): a forged
            # request must not make NOX mail codes to any address it names.
            sides.append((new, lambda v, f=field, n=new: _proves_new(v, f, n)))
        for address, answered_by in sides:
            if any(answered_by(v) for v in asked):
                continue
            side = "old" if address == old else "new"
            if field == "email" and guesses_spent(session, services, address):
                alert_staff(
                    session,
                    case,
                    "verification_failed",
                    f"{case.reference}: codes sent to the {side} {field} were answered wrongly "
                    "too often lately; no code was sent for this change, which cannot be "
                    "approved as it stands.",
                    now=services.clock(),
                )
                continue
            verification = start_verification(
                session,
                services,
                case,
                route_to(CONTACT_FIELDS[field], address),
                kinds=["rectification"],
                confirms_contact=field,
                confirms_value=new,
                actor=actor,
            )
            asked.append(verification)
            started.append(verification)
    return started


def confirmed_kinds(session: Session, case: Request) -> set[str]:
    """The kinds the confirmations of who asked have covered."""
    covered: set[str] = set()
    for verification in session.exec(
        select(Verification).where(
            Verification.request_id == case.id,
            Verification.status == VerificationStatus.CONFIRMED,
            col(Verification.confirms_contact).is_(None),
        )
    ):
        covered.update(verification.kinds or [])
    return covered


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
    audit.record(  # (first: the audit chain's lock before the outbox's rows, as every writer)
        session,
        at=services.clock(),
        actor=actor,
        action=f"verification_{status}",
        request=case,
        # A challenge for a contact change says so (the field, never its value: the
        # trail outlives an erasure): one call can confirm who asked and the change, two
        # lines in the history that otherwise read the same.
        detail=(
            f"the change of {verification.confirms_contact}" + (f": {note}" if note else "")
            if verification.confirms_contact
            else note or ""
        ),
    )
    if status != VerificationStatus.CONFIRMED:  # nothing may still ask for its answer
        withdraw_challenges(session, case.id, verification.address)


ANOTHER_FAILED = "another challenge of this case failed or was denied"


def cancel_challenges(
    session: Session,
    services: Services,
    case: Request,
    *,
    actor: str,
    note: str,
    keep: Verification | None = None,
) -> None:
    """The case's pending challenges (but `keep`) no longer decide: when one fails or is
    denied, a later "yes" elsewhere must not verify a case someone said was not theirs;
    when the case is linked to another person, one sent for the person before must not
    confirm it for this one."""
    for other in pending_verifications(session, case):
        if keep is None or other.id != keep.id:
            finish_verification(
                session, services, case, other, VerificationStatus.CANCELLED, actor=actor,
                note=note,
            )  # fmt: skip


def confirm_answer(
    session: Session,
    services: Services,
    case: Request,
    verification: Verification,
    *,
    actor: str,
    note: str,
) -> None:
    """A challenge was confirmed: who asked (the case is verified and its reply drafted), or
    the change of a contact point (approval of that change may now go ahead)."""
    if verification.confirms_contact is None:
        confirm_identity(session, services, case, verification, actor=actor, note=note)
        return
    finish_verification(
        session,
        services,
        case,
        verification,
        VerificationStatus.CONFIRMED,
        actor=actor,
        note=note,
    )
    if verification.method == Method.PHONE_CALL and not any(
        v.method == Method.PHONE_CALL for v in pending_verifications(session, case)
    ):
        _resolve_open_alerts(
            session, case, "call_to_verify", "the call was made", actor=actor, now=services.clock()
        )
    waiting = unconfirmed_contact_changes(session, case, _changes_of(session, case))
    if case.status in (S.AWAITING_APPROVAL, S.REJECTED) and not waiting:
        alert_staff(
            session,
            case,
            "change_confirmed",
            f"{case.reference}: the change of {verification.confirms_contact} was confirmed "
            "(on the old value, and a new email address by a code sent to it); its reply can "
            "now be approved.",
            now=services.clock(),
        )


def _changes_of(session: Session, case: Request) -> list[dict[str, Any]]:
    """The changes a case asks for, as change dicts (stated, and in open reply drafts)."""
    return [
        {"field": field, "old": old, "new": new}
        for field, old, new in _wanted_contact_changes(session, case)
    ]


def _at_new_value(verification: Verification) -> bool:
    """Whether a contact-change challenge went to the new value (the address to be put on
    file), not to the old one on file."""
    return verification.confirms_contact is not None and (
        verification.address == verification.confirms_value
    )


def _side_of(verification: Verification) -> str:
    """Which value a contact-change challenge went to, in words for staff."""
    if _at_new_value(verification):
        return f"the new {verification.confirms_contact}, which was to show it is theirs"
    return f"the old {verification.confirms_contact} on file"


def _resolve_open_alerts(
    session: Session, case: Request, kind: str, why: str, *, actor: str, now: datetime
) -> None:
    """The task an alert asked for is done (a call made): it leaves the list."""
    resolve_alerts(session, case, [kind], why, actor=actor, now=now)


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
    resolve_verification_alerts(
        session, case, "identity confirmed", actor=actor, now=services.clock()
    )
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
    # A new email address is asked for its code now that who asked is known.
    ensure_contact_confirmations(session, services, case, actor=actor)


def deny_identity(
    session: Session,
    services: Services,
    case: Request,
    verification: Verification,
    *,
    actor: str,
) -> None:
    """'It wasn't me' — also after a "yes" (a mis-tap), as long as nothing was carried out:
    nothing closes silently, the case waits for staff, who are alerted. Once the reply is
    approved there is nothing left to stop; staff are told to look at what was done.

    A "no" from the new email address a change would put on file is that address's owner,
    not the person on file: it stops only that change (staff are told), not the case."""
    new_address = _at_new_value(verification)
    finish_verification(
        session,
        services,
        case,
        verification,
        VerificationStatus.DENIED,
        actor=actor,
        note="the new address says it is not the requester's"
        if new_address
        else "the person on file says they did not ask",
    )
    if new_address:
        alert_staff(
            session,
            case,
            "verification_failed",
            f"{case.reference}: the new {verification.confirms_contact} named for the change "
            "answered that it is not the requester's; the change cannot be approved as it "
            "stands (restate the changes without it, or close the case).",
            now=services.clock(),
        )
        return
    cancel_challenges(session, services, case, actor=actor, note=ANOTHER_FAILED, keep=verification)
    if case.status == S.APPROVED:
        note = "withdrawn: the person on file said they did not make the request"
        # One that gave up must not be sent again either; one the sender is handing over
        # right now cannot be stopped, but is not tried again if this attempt fails.
        stopped = withdraw_queued(
            session, case.id, "reply", note, failed_too=True, actor=actor, now=services.clock()
        )
        going = withdraw_unless_sent(session, case.id, "reply", note)
        unsent = (
            f" Its reply was withdrawn before it went ({stopped} message(s)): close the case "
            "(and reopen it to answer, once you know who asked)."
            if stopped
            else ""
        ) + (
            f" {going} reply message(s) were being handed over to be sent as they said so: "
            "see the case's outbox; one that did not get through is not tried again."
            if going
            else ""
        )
        alert_staff(
            session,
            case,
            "possible_impersonation",
            f"{case.reference}: the person on file says they did NOT make this request, but "
            f"its reply was already approved; check what was carried out.{unsent}",
            now=services.clock(),
        )
        return
    case.verified_at = None  # whatever confirmed it before no longer counts
    if case.status != S.UNVERIFIED:
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
    supersede_open_drafts(session, case, purposes=("acknowledgment", "reply"))
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
    """Too many wrong codes or an expired challenge: staff decide what happens next.

    A challenge for the change of a contact point that fails leaves the case where it is:
    the change simply cannot be approved (staff are told)."""
    finish_verification(session, services, case, verification, status, actor=actor, note=reason)
    if verification.confirms_contact is not None and case.status != S.AWAITING_VERIFICATION:
        alert_staff(
            session,
            case,
            "verification_failed",
            f"{case.reference}: {reason} ({_side_of(verification)}, for the change asked); "
            "the change cannot be approved as it stands.",
            now=services.clock(),
        )
        return
    cancel_challenges(session, services, case, actor=actor, note=ANOTHER_FAILED, keep=verification)
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
    if case is None or not is_open(case.status):
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


def not_on_file_next(case: Request) -> str:
    """What staff do next with a case whose requester is not on file, in commands."""
    return (
        f"link it to the person it is about (noxbot requests link {case.reference} --subject "
        f"ID), or, when nobody matches, answer that no data is held (noxbot requests no-data "
        f"{case.reference})"
    )


def verify_by_phone(
    session: Session, services: Services, reference: str, note: str, *, actor: str
) -> Request:
    """Staff called the number on file and the person confirmed the request — or, once the
    case is verified, the change of a contact point that waits for the old number's word."""
    note = stored_note(note)
    case = get_case(session, reference)
    if not note.strip():
        raise CaseError("--note is required: say who was called and what they confirmed")
    calls = [
        v
        for v in pending_verifications(session, case)
        if v.method == Method.PHONE_CALL and v.confirms_contact is not None
    ]
    if case.status not in (S.AWAITING_VERIFICATION, S.UNVERIFIED):
        if not calls:
            raise CaseError(
                f"{case.reference} is {case.status}; only a case awaiting verification "
                "or unverified, or a change waiting for a call, can be verified by phone"
            )
        for call in calls:
            confirm_answer(session, services, case, call, actor=actor, note=f"by phone: {note}")
        return case
    # Only a call to a number we already held proves who asked; a number the requester gave
    # proves nothing (the policy: "another channel for which we have your contact details"),
    # nor does one a rectification put on file a few days ago (bot.rules.verification.COOLING_OFF).
    subject = subject_of(session, case)
    if subject is None:
        raise CaseError(
            f"{case.reference}: the requester is not on file, so there is no number on file "
            f"to call; a phone verification cannot be recorded. First {not_on_file_next(case)}"
        )
    phones = [k for k, _ in usable_contacts(session, subject, services.clock()) if k == "phone"]
    if not phones:
        cooling = any(c.kind == ContactKind.PHONE for c in contacts_of(session, subject))
        raise CaseError(
            f"{case.reference}: the person on file has no phone number on file"
            + (" that may be used yet (it was changed recently)" if cooling else "")
            + "; a phone verification cannot be recorded"
        )
    pending = pending_verifications(session, case)
    for other in pending:
        if other.method != Method.PHONE_CALL and other.confirms_contact is None:
            finish_verification(
                session,
                services,
                case,
                other,
                VerificationStatus.CANCELLED,
                actor=actor,
                note="verified by phone instead",
            )
    phone = next(
        (v for v in pending if v.method == Method.PHONE_CALL and v.confirms_contact is None), None
    )
    if phone is None:
        phone = Verification(
            request_id=case.id,
            method=Method.PHONE_CALL,
            channel=ChannelName.PHONE,
            address=STAFF_CALL,
            created_at=services.clock(),
            kinds=verification_kinds(case.kinds),
        )
        session.add(phone)
        session.flush()
    phone.kinds = verification_kinds(case.kinds)  # the call confirmed the case as it stands
    for call in calls:  # the same call to the number on file confirms a change of it
        finish_verification(
            session, services, case, call, VerificationStatus.CONFIRMED, actor=actor, note=note
        )
    confirm_identity(session, services, case, phone, actor=actor, note=f"by phone: {note}")
    return case


def identity_denied(session: Session, case: Request) -> datetime | None:
    """When the person on file answered "it wasn't me" to the case's latest challenge of who
    asked, or None."""
    latest = session.exec(
        select(Verification)
        .where(Verification.request_id == case.id, col(Verification.confirms_contact).is_(None))
        .order_by(col(Verification.id).desc())
    ).first()
    if latest is None or latest.status != VerificationStatus.DENIED:
        return None
    return latest.resolved_at or latest.created_at


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
    sits as 'pending'. Returns the references it moved. Two of them at the same instant (two
    staff listing, the scheduler) expire each challenge once: the second finds it done and
    lists on, as it does a case another action moved meanwhile."""
    expired = list(
        session.exec(
            select(Verification.id).where(
                Verification.status == VerificationStatus.PENDING,
                col(Verification.expires_at).is_not(None),
                col(Verification.expires_at) < services.clock(),
            )
        )
    )
    moved = []
    for verification_id in expired:
        try:
            with session.begin_nested():  # a case moved meanwhile leaves nothing behind
                reference = _expire(session, services, verification_id)
        except ChangedMeanwhile:
            continue  # another action took the case on meanwhile: what it did stands
        if reference is not None:
            moved.append(reference)
    return moved


def _expire(session: Session, services: Services, verification_id: int) -> str | None:
    """Expire one challenge, claimed first (after the audit chain, as every writer): of two
    transactions expiring it at once, the second finds it no longer pending. The reference
    of the case it moved, or None."""
    audit.hold_chain(session)
    verification = session.get(Verification, verification_id)
    pending = {"status": VerificationStatus.PENDING}
    if verification is None or not update_now_if(session, verification, pending, **pending):
        return None  # answered, or expired by another, meanwhile
    session.refresh(verification)
    case = session.get(Request, verification.request_id)
    if case is None:
        return None
    session.refresh(case)
    if not is_open(case.status):
        return None
    if case.status != S.AWAITING_VERIFICATION and verification.confirms_contact is None:
        return None
    fail_verification(
        session,
        services,
        case,
        verification,
        VerificationStatus.EXPIRED,
        actor=SYSTEM,
        reason="the verification was not answered in time",
    )
    return case.reference


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
    actor = f"telegram:{message.address}"
    if _denied_after_yes(verification, case, confirmed=parsed[1]):
        deny_identity(session, services, case, verification, actor=actor)
        _feedback(session, services, case, message, "denied")
        return f"verification {data} (after a yes)"
    if verification.status != VerificationStatus.PENDING or not is_open(case.status):
        # (the button said too: a case's thread shows what was pressed, see button_pressed)
        return f"verification {data}: already {verification.status}"
    if _expired(services, verification):
        fail_verification(
            session,
            services,
            case,
            verification,
            VerificationStatus.EXPIRED,
            actor=actor,
            reason="the confirmation was answered after it expired",
        )
        _feedback(session, services, case, message, "expired")
    elif parsed[1]:
        confirm_answer(
            session, services, case, verification, actor=actor, note="confirmed on Telegram"
        )
        _feedback(session, services, case, message, "confirmed")
    else:
        deny_identity(session, services, case, verification, actor=actor)
        _feedback(session, services, case, message, "denied")
    return f"verification {data}"


#: The short answer to a press of a confirmation button, shown where it was pressed.
_PRESS_TOASTS = {
    "sv": {
        VerificationStatus.CONFIRMED: "Tack! Det är bekräftat.",
        VerificationStatus.DENIED: "Tack. Vi gör ingenting med begäran.",
    },
    "en": {
        VerificationStatus.CONFIRMED: "Thank you! It is confirmed.",
        VerificationStatus.DENIED: "Thank you. We will not act on the request.",
    },
}
_PRESS_ENDED = {"sv": "Knappen gäller inte längre.", "en": "This button no longer applies."}


def button_outcome(session: Session, data: str, address: str) -> str | None:
    """What a press of "Yes, that was me" / "No" came to, in a few words for the one who
    pressed it; None when the button is not theirs (they learn nothing about it)."""
    parsed = parse_button_data(data)
    verification = session.get(Verification, parsed[0]) if parsed else None
    if verification is None or verification.address != address:
        return None
    case = session.get(Request, verification.request_id)
    language = case.language if case is not None and case.language in _PRESS_TOASTS else "sv"
    return (
        _PRESS_TOASTS[language].get(VerificationStatus(verification.status))
        or _PRESS_ENDED[language]
    )


def _denied_after_yes(verification: Verification, case: Request, *, confirmed: bool) -> bool:
    """A "no" from the person on file after their "yes" (a mis-tap, or second thoughts)
    still counts while the case is open: it is the stronger word."""
    return (
        not confirmed
        and verification.status == VerificationStatus.CONFIRMED
        and is_open(case.status)
        and case.status != S.DONE
    )


def _answer_routes(
    message: Message, verification: Verification, case: Request, reference: str | None
) -> tuple[bool, bool]:
    """How a message may answer a code challenge: (in the challenge's thread or in the
    requester's chat — the writer read the challenge; by From and reference only — easy to
    forge, so it may bring the right code and count a wrong one, never say "no")."""
    from_address = message.channel == "email" and message.address == verification.address
    in_thread = from_address and verification.challenge_ref in {
        message.in_reply_to,
        *message.references,
    }
    in_chat = (
        message.channel == case.channel
        and message.address == case.requester_address
        and message.channel != "email"
    )
    by_reference = from_address and reference == case.reference
    return in_thread or in_chat, by_reference


def answer_code(session: Session, services: Services, message: Message) -> str | None:
    """A message answering a code challenge, from the address it went to (in the challenge's
    thread, or quoting the case's reference) or from the requester in the chat the request
    came from; returns what it did, or None when the message is no such answer.

    The cases, in order:
    - no challenge of this case reaches the message by any route, or it says neither a code
      nor "no": not an answer;
    - a right code: that challenge is confirmed;
    - a "no" in the thread or the chat: the person on file denies it (a forged "no" by From
      and reference alone is not an answer);
    - a wrong code by any route: one attempt used, on every challenge it could answer — a
      forged From may use up someone's attempts, but never guess without limit; at the limit
      the verification fails and staff are alerted once;
    - any of these after the challenge has ended (failed, expired, confirmed): recorded as a
      late answer, quietly — no new alert per guess.
    """
    # Most mail says neither a code nor a "no": known without asking the database.
    answer = read_answer(message.text)
    if answer is None:
        return None
    session.add(message)  # (the pipeline adds a message once a step needs it: this one does)
    reference = find_reference(message.subject)
    # The two routes as two indexed lookups (an OR across both tables would read every
    # verification for every inbound message).
    to_address = select(Verification.id).where(
        Verification.address == message.address, Verification.method == Method.EMAIL_CODE
    )
    of_requester = (
        select(Verification.id)
        .join(Request, col(Request.id) == Verification.request_id)
        .where(
            Request.requester_address == message.address,
            Request.channel == message.channel,
            Verification.method == Method.EMAIL_CODE,
        )
    )
    challenges = session.exec(
        select(Verification, Request)
        .join(Request, col(Request.id) == Verification.request_id)
        .where(col(Verification.id).in_(to_address.union(of_requester)))
        .order_by(col(Verification.id).desc())
    ).all()
    reached = [
        (verification, case, *routes)
        for verification, case in challenges
        if any(routes := _answer_routes(message, verification, case, reference))
    ]
    if not reached:
        return _code_without_challenge(session, services, message)
    live = [
        (v, c, trusted, forged)
        for v, c, trusted, forged in reached
        if v.status == VerificationStatus.PENDING and is_open(c.status)
    ]
    if not live:
        verification, case, trusted, _ = reached[0]
        message.request_id = case.id
        if (
            isinstance(answer, Denial)
            and trusted
            and _denied_after_yes(verification, case, confirmed=False)
        ):
            actor = f"{message.channel}:{message.address}"
            deny_identity(session, services, case, verification, actor=actor)
            _feedback(session, services, case, message, "denied")
            return "verification answer (a no after the code)"
        if (
            isinstance(answer, CodeAnswer)
            and verification.status != VerificationStatus.CONFIRMED
            and (done := _code_without_challenge(session, services, message)) is not None
        ):
            # Too many wrong codes, or too late: answered as a stranger's code is, so
            # whether a challenge ever went to a contact point on file does not show.
            return f"{done} (the verification is already {verification.status})"
        return f"a late answer: the verification is already {verification.status}"
    case = live[0][1]
    live = [entry for entry in live if entry[1].id == case.id]  # one case per answer
    message.request_id = case.id
    actor = f"{message.channel}:{message.address}"
    if isinstance(answer, Denial):
        trusted = [v for v, _, in_thread_or_chat, _ in live if in_thread_or_chat]
        if not trusted:
            return None  # read as an ordinary message from the requester (staff see it)
        deny_identity(session, services, case, trusted[0], actor=actor)
        _feedback(session, services, case, message, "denied")
        return "verification answer"
    assert isinstance(answer, CodeAnswer)
    for verification, *_ in live:
        if _expired(services, verification):
            continue
        if code_matches(
            services.hash_key, verification.id or 0, answer.code, verification.code_hash or ""
        ):
            confirm_answer(
                session,
                services,
                case,
                verification,
                actor=actor,
                note=f"code confirmed by {message.channel}",
            )
            _feedback(session, services, case, message, "confirmed")
            return "verification answer"
    expired = [v for v, *_ in live if _expired(services, v)]
    if expired:
        fail_verification(
            session,
            services,
            case,
            expired[0],
            VerificationStatus.EXPIRED,
            actor=actor,
            reason="the code was answered after it expired",
        )
        _feedback(session, services, case, message, "expired")
        return "verification answer"
    left = min(_count_wrong_code(session, services, case, v, actor) for v, *_ in live)
    if left <= 0:
        _feedback(session, services, case, message, "failed")
    else:
        _feedback(session, services, case, message, "wrong_code", attempts_left=left)
    return "verification answer"


def _code_without_challenge(session: Session, services: Services, message: Message) -> str | None:
    """A code typed by a requester whose case no live code challenge reaches (a stranger,
    someone on file asked another way, or whose challenge already failed or expired) gets the
    words a wrong code on a live challenge gets, counted the same way: "did not match" until
    the case has had `max_attempts` wrong codes, then "too many times" once, then nothing
    (recorded only). Whether a challenge went to a contact point on file must not show in
    the answer."""
    if not isinstance(read_answer(message.text or ""), CodeAnswer):
        return None
    case = session.exec(
        select(Request)
        .where(
            Request.channel == message.channel,
            Request.requester_address == message.address,
            col(Request.status).in_([S.UNVERIFIED, S.AWAITING_VERIFICATION]),
        )
        .order_by(col(Request.id).desc())
    ).first()
    if case is None:
        return None
    message.request_id = case.id
    audit.record(
        session,
        at=services.clock(),
        actor=f"{message.channel}:{message.address}",
        action=WRONG_CODE,
        request=case,
        detail="a code no live challenge of the case asked for",
    )
    wrong = session.exec(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.request_id == case.id, AuditEvent.action == WRONG_CODE)
    ).one()
    left = services.settings.verification.max_attempts - int(wrong)
    if left < 0:
        # "Too many times" was said once: more codes (a forged From can send any number)
        # are recorded, not answered - each answer is a mail or chat message no one approves.
        return "a code no live challenge of the case asked for (not answered: too many)"
    if left == 0:
        _feedback(session, services, case, message, "failed")
    else:
        _feedback(session, services, case, message, "wrong_code", attempts_left=left)
    return "a code no live challenge of the case asked for"


#: The audit action of every wrong code a case gets, whether or not a challenge asked for it.
WRONG_CODE = "verification_wrong_code"


def _count_wrong_code(
    session: Session, services: Services, case: Request, verification: Verification, actor: str
) -> int:
    """One wrong attempt on this challenge; at the limit it fails. Returns attempts left."""
    verification.attempts += 1
    session.add(verification)
    left = verification.max_attempts - verification.attempts
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action=WRONG_CODE,
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
    return left
