"""Requesters not on file: link the case to a person in the register, or answer that no
data is held linked to the address the request came from.

Linking proves nothing by itself: it sends the challenge to a channel the register holds for
that person (bot.workflow.confirming), and only their confirmation verifies the case. The
"no data held" answer goes only to the address the request came from — its owner learns
that nothing is held about that address, which discloses nothing about anyone else — and
only while that address is not on file and no configured source (mailbox, documents, SQL)
finds anything for the address or the requester's name (else it would be false).

A request often names the person's other contact points ("try my old address
anna.old@example.se, or 070-…"). The answer names them and asks the sender to write from
them, but says nothing about what is held under them: an unverified sender naming an
address must not learn whether it is on file, from the letter or from its absence. Staff
are told before approving when one is on file, or a source holds something for it
(approval.heed): if the request is that person's, they link the case, and the person
confirms it on their own channel.
"""

from __future__ import annotations

from datetime import datetime

import phonenumbers
from sqlmodel import Session, col, select

from bot.config import ManualSource
from bot.errors import CaseError
from bot.reading.identity_numbers import find_identity_numbers
from bot.rules.channels import ChannelName
from bot.rules.deadlines import local_clock
from bot.rules.kinds import needs_verification
from bot.rules.verification import Method, Route, alternate_routes
from bot.sources import Person, SourceError
from bot.sources.base import any_addresses
from bot.store import audit
from bot.store.records import S, alert_staff, find_requester, get_case
from bot.store.register import InvalidContact, as_written, find_subject, normalise_email
from bot.store.tables import Draft, Message, Outbox, Request, Subject, Verification
from bot.workflow.confirming import (
    NoChallenge,
    cancel_challenges,
    ensure_contact_confirmations,
    guesses_spent,
    identity_denied,
    normalised_or_raw,
    not_on_file_next,
    start_case_verification,
    start_verification,
    usable_contacts,
    verification_kinds,
)
from bot.workflow.drafts import case_view, common_context, new_draft, supersede_open_drafts
from bot.workflow.lifecycle import claim_case, is_open, transition
from bot.workflow.services import Services
from bot.workflow.words import challenge_started_words, kinds_words
from handlers.sources_on_case import add_checklist_item, open_checklist

NO_DATA_TEMPLATE = "no_data.txt.j2"
#: How the no-data search's history entry says a source holds something for a contact
#: point the message names (read again by approval.heed).
NAMED_FOUND = "found for what the message names: "
NO_DATA_SEARCHED = "no_data_sources_searched"
#: Contact points of each kind read from one request at most: a person names their old
#: address or number or two; a list of them is no one person's.
MAX_NAMED = 5
#: How a manual source's checklist item for a no-data answer ends (after its task).
NO_DATA_CHECK = " — for the requester's address before answering that no data is held"


def _unlinked_open_case(session: Session, reference: str) -> Request:
    case = get_case(session, reference)
    claim_case(session, case)  # (two staff linking at once: the second sees the first's link)
    if not is_open(case.status) or case.status == S.APPROVED:
        raise CaseError(f"{case.reference} is {case.status}; it can no longer be changed")
    if case.verified_at is not None:
        raise CaseError(f"{case.reference} is verified already")
    return case


def challenge_routes(session: Session, services: Services, case: Request) -> list[Route]:
    """Where a new challenge for this case may go: the person's contact points on file
    that may verify now, never the address the request came from."""
    subject = session.get(Subject, case.subject_id) if case.subject_id else None
    if subject is None:
        return []
    return routes_for(session, services, case, subject)


def routes_for(
    session: Session, services: Services, case: Request, subject: Subject
) -> list[Route]:
    """Where a challenge for this case may go if it is (or would be) linked to `subject`,
    the strongest first: staff choose among these before linking, too."""
    return alternate_routes(
        ChannelName(case.channel),
        normalised_or_raw(case.channel, case.requester_address),
        usable_contacts(session, subject, services.clock()),
    )


def send_new_challenge(
    session: Session,
    services: Services,
    reference: str,
    *,
    actor: str,
    address: str | None = None,
    despite_denial: bool = False,
) -> Verification:
    """An unverified case of a person on file: a new challenge on a channel on file (the
    earlier one expired, failed or was never delivered) — the strongest one, or the one at
    `address` staff chose among `challenge_routes`. CaseError when none may be used, and
    when the person said the request was not theirs, unless `despite_denial` (staff have
    heard from them since): asking them again pesters the real person, and a "yes" pressed
    by mistake would send their data to whoever wrote."""
    case = _unlinked_open_case(session, reference)
    if case.status != S.UNVERIFIED:
        raise CaseError(
            f"{case.reference} is {case.status}; a new challenge is sent only for an "
            "unverified case"
        )
    if not despite_denial and (denied := identity_denied(session, case)) is not None:
        raise CaseError(
            f"{case.reference}: the person on file said it was not them "
            f"({local_clock(denied, services.settings.organisation.timezone)}); no new "
            "challenge was sent. Close the case "
            f"(noxbot requests close {case.reference} --reason …), or, if they have told you "
            "since that it is theirs, send it anyway (--despite-denial)"
        )
    subject = session.get(Subject, case.subject_id) if case.subject_id else None
    if subject is None:
        raise CaseError(
            f"{case.reference} is not linked to anyone on file: {not_on_file_next(case)}"
        )
    if address is not None:
        return _challenge_at(session, services, case, address, actor=actor, why="new challenge")
    verification = _challenge(session, services, case, subject, actor=actor, why="new challenge")
    if verification is None:  # nothing was sent: say so, and what staff can do instead
        raise CaseError(
            f"{case.reference}: no challenge was sent: the person on file has no contact point "
            "other than the one the request came from that may be used to verify (a new one "
            "cools off for 14 days). Add one staff know is theirs to the register (noxbot "
            "subjects import) and send a new challenge, or close the case saying why."
        )
    return verification


def _challenge_at(
    session: Session, services: Services, case: Request, address: str, *, actor: str, why: str
) -> Verification:
    """A challenge to the contact point on file staff chose (`address`, as written or
    normalised: "073-987 65 43" is +46739876543), among `challenge_routes`."""
    routes = challenge_routes(session, services, case)
    route = next(
        (r for r in routes if r.address in (address, normalised_or_raw(r.channel, address))),
        None,
    )
    if route is None:
        on_file = ", ".join(r.address for r in routes) or "none may be used"
        if normalised_or_raw(case.channel, address) == normalised_or_raw(
            case.channel, case.requester_address
        ):
            raise CaseError(
                f"{case.reference}: {address} is where the request came from; a challenge "
                "there proves nothing, it must go to another contact point on file "
                f"(those that may verify now: {on_file})"
            )
        raise CaseError(
            f"{case.reference}: {address} is not a contact point on file to verify by "
            f"(on file: {on_file})"
        )
    if route.method is Method.EMAIL_CODE and guesses_spent(session, services, route.address):
        raise CaseError(
            f"{case.reference}: codes sent to {route.address} were answered wrongly too often "
            "lately; choose another contact point or confirm by phone"
        )
    verification = start_verification(
        session, services, case, route, kinds=verification_kinds(case.kinds), actor=actor
    )
    ensure_contact_confirmations(session, services, case, actor=actor)
    if case.status != S.AWAITING_VERIFICATION:
        transition(
            session,
            case,
            S.AWAITING_VERIFICATION,
            actor=actor,
            reason=f"{why}; {challenge_started_words(verification.method)} (chosen by staff)",
            now=services.clock(),
        )
    return verification


def _challenge(
    session: Session, services: Services, case: Request, subject: Subject, *, actor: str, why: str
) -> Verification | None:
    verification = start_case_verification(
        session, services, case, subject, actor=actor, by_staff=True
    )
    if isinstance(verification, NoChallenge):
        alert_staff(
            session,
            case,
            "unverified",
            f"{case.reference}: no channel on file for subject {subject.id} may be used to "
            "verify; confirm by phone (noxbot requests verify) or decide.",
            now=services.clock(),
        )
        return None
    if case.status != S.AWAITING_VERIFICATION:
        transition(
            session,
            case,
            S.AWAITING_VERIFICATION,
            actor=actor,
            reason=f"{why}; {challenge_started_words(verification.method)}",
            now=services.clock(),
        )
    return verification


def link_to_subject(
    session: Session,
    services: Services,
    reference: str,
    subject_id: int,
    *,
    actor: str,
    address: str | None = None,
) -> Verification | None:
    """Link an unverified case to a person on file and challenge them on a channel the
    register holds — the strongest, or the one at `address` staff chose among `routes_for`;
    None (and an alert) when no channel on file may be used."""
    case = _unlinked_open_case(session, reference)
    if not needs_verification(case.kinds):
        # Nothing waits on who asked: there is no challenge to send, and its answer holds
        # nothing from the register (it failed on the move to "checking identity").
        raise CaseError(
            f"{case.reference} asks for {kinds_words(case.kinds)}, which needs no "
            "verification: its answer goes to the requester without anything from the "
            "register, so there is nobody to link or challenge. Note whom it concerns "
            f"instead (noxbot requests note {case.reference} --text …)"
        )
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise CaseError(f"no person with id {subject_id} in the register")
    if case.subject_id == subject.id:
        raise CaseError(f"{case.reference} is linked to {subject.name} already")
    owner = find_requester(session, case.channel, case.requester_address)
    if owner is not None and owner.id != subject.id:
        raise CaseError(
            f"{case.reference} came from {case.requester_address}, which is on file for "
            f"{owner.name}: a request from it is theirs, and only they can confirm it. If "
            f"{subject.name} is asking, they must ask from a contact point of their own"
        )
    note = "the case was linked to another person"
    cancel_challenges(session, services, case, actor=actor, note=note)
    case.subject_id = subject.id
    session.add(case)
    supersede_open_drafts(session, case, purposes=("no_data",))
    _drop_no_data_checks(session, case, actor=actor, now=services.clock())
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="linked_to_subject",
        request=case,
        detail=f"subject {subject.id}",
    )
    why = "linked to a person on file"
    if address is not None:
        return _challenge_at(session, services, case, address, actor=actor, why=why)
    return _challenge(session, services, case, subject, actor=actor, why=why)


def draft_no_data(session: Session, services: Services, reference: str, *, actor: str) -> Draft:
    """The answer "we hold no personal data linked to this address", to that address, for
    staff to approve; approving it closes the case."""
    case = _unlinked_open_case(session, reference)
    if case.subject_id is not None or find_requester(session, case.channel, case.requester_address):
        raise CaseError(
            f"{case.reference}: the case is linked to a person on file, or the requester's "
            "address is on file; the answer cannot say that no data is held"
        )
    named = contacts_named(session, services, case)
    _check_sources(session, services, case, named, actor=actor)
    supersede_open_drafts(
        session,
        case,
        purposes=("reply", "acknowledgment", "clarification", "refusal", "no_data"),
    )
    rendered = services.drafter.render(
        NO_DATA_TEMPLATE,
        case.language,
        **common_context(session, case),
        address=case.requester_address,
        named=[as_written(value, kind, case.language) for kind, value in named],
        earlier=_earlier_cases_from(session, case),
    )
    draft = new_draft(
        session,
        case,
        "no_data",
        rendered.subject,
        rendered.text,
        author=actor,
        now=services.clock(),
    )
    if draft.to_address != case.requester_address:
        raise CaseError(f"{case.reference}: the answer would not go to the address asked about")
    return draft


def _earlier_cases_from(session: Session, case: Request) -> list[str]:
    """The references of the other cases opened from the address this one came from: what
    they hold (the messages, our answers) is personal data linked to that address too, so
    the no-data answer names them beside this correspondence."""
    return list(
        session.exec(
            select(Request.reference)
            .where(
                Request.channel == case.channel,
                Request.requester_address == case.requester_address,
                Request.id != case.id,
            )
            .order_by(col(Request.id))
        )
    )


def contacts_named(session: Session, services: Services, case: Request) -> list[tuple[str, str]]:
    """The other email addresses and phone numbers the request names ("search my old address
    anna.old@example.se / 070-…"), normalised ("email"/"phone", value), in the order
    written: not the sender's own, not ours (a quoted letter of ours names them), not a
    personnummer read as a number; at most MAX_NAMED of each."""
    text = case_view(session, services, case).request_text
    org = services.settings.organisation
    ours = {normalised_or_raw(ChannelName.EMAIL, org.email)}
    if org.phone:
        ours.add(normalised_or_raw(ChannelName.PHONE, org.phone))
    ours.add(normalised_or_raw(case.channel, case.requester_address))
    named: list[tuple[str, str]] = []
    emails: list[str] = []
    for written in any_addresses(text):
        try:
            address = normalise_email(written.rstrip("."))
        except InvalidContact:
            continue
        if address not in ours and address not in emails and len(emails) < MAX_NAMED:
            emails.append(address)
    named.extend(("email", a) for a in emails)
    identity = [(m.start, m.end) for m in find_identity_numbers(text)]
    phones: list[str] = []
    # Possible numbers, as the register takes them (a number of a range the phone plan does
    # not list yet, such as +44 7700 900…, is on file too): one counts when it is valid or
    # on file, so that a number on file always refuses the answer.
    matcher = phonenumbers.PhoneNumberMatcher(
        text, "SE", leniency=phonenumbers.Leniency.POSSIBLE, max_tries=100
    )
    for match in matcher:
        if any(match.start < end and start < match.end for start, end in identity):
            continue
        number = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        counts = phonenumbers.is_valid_number(match.number) or (
            find_subject(session, "phone", number) is not None
        )
        if counts and number not in ours and number not in phones:
            phones.append(number)
        if len(phones) == MAX_NAMED:
            break
    named.extend(("phone", n) for n in phones)
    return named


def requester_as_person(case: Request) -> tuple[Person, Person]:
    """Who a no-data answer is about, as the sources are searched for them (as an access
    case searches them for a person on file): by the address the request came from (an
    email address, or a phone number as E.164), and by the name they gave — a full name
    only: a lone "Anna" names half the CV folder."""
    address = normalised_or_raw(case.channel, case.requester_address)
    emails = (address,) if case.channel == ChannelName.EMAIL else ()
    phones = (address,) if case.channel == ChannelName.PHONE and address.startswith("+") else ()
    name = " ".join((case.requester_name or "").split())
    return Person(None, emails=emails, phones=phones), Person(
        name if len(name.split()) >= 2 else None
    )


def _own_message_ids(session: Session, case: Request) -> set[str]:
    """The Message-IDs of the case's own correspondence: what came in and what was sent."""
    came = session.exec(
        select(Message.message_id).where(
            Message.request_id == case.id, col(Message.message_id).is_not(None)
        )
    )
    sent = session.exec(select(Outbox.headers).where(Outbox.request_id == case.id))
    return {m for m in came if m} | {h["message_id"] for h in sent if h.get("message_id")}


def _check_sources(
    session: Session,
    services: Services,
    case: Request,
    named: list[tuple[str, str]],
    *,
    actor: str,
) -> None:
    """Refuse the no-data answer when a configured source holds something for the requester
    (by their address or their name) or cannot be searched; what one holds for a contact
    point the message names is noted for staff instead (see the module). A system noxbot
    cannot reach becomes a checklist item that blocks approval until staff have searched
    it by hand. Only source names and counts are said (the error reaches the console and
    logs; what was found does not)."""
    by_address, by_name = requester_as_person(case)
    by_named = Person(
        None,
        emails=tuple(v for k, v in named if k == "email"),
        phones=tuple(v for k, v in named if k == "phone"),
    )
    own = _own_message_ids(session, case)
    searched: list[str] = []
    found: list[str] = []
    for_named: list[str] = []
    down: list[str] = []

    def refs(person: Person) -> set[str]:
        """What a source holds for `person`, but the case's own mail: the request itself,
        in the mailbox it came to (and what was sent back about it), is no data held."""
        if person.empty:
            return set()
        return {f.ref for f in source.find(person) if dict(f.details).get("message_id") not in own}

    for source in services.sources or []:
        try:
            at_address, by_names = refs(by_address), refs(by_name)
            at_named = refs(by_named)
        except SourceError:
            down.append(source.name)
            continue
        searched.append(source.name)
        counts = [f"{len(at_address)} by the address"] if at_address else []
        if by_names - at_address:
            counts.append(f"{len(by_names - at_address)} by the name only")
        if counts:
            found.append(f"{source.name}: {', '.join(counts)}")
        if at_named - at_address - by_names:
            # Not a refusal: whether the answer comes must not tell the sender that an
            # address they named is held; staff read it before approving (approval.heed).
            for_named.append(f"{source.name}: {len(at_named - at_address - by_names)}")
    if found:
        raise CaseError(
            f"{case.reference}: the sources hold something for the requester "
            f"({'; '.join(found)}); the answer cannot say that no data is held. Look at what "
            "was found; link the case to the person (noxbot subjects search, then noxbot "
            f"requests link {case.reference} --subject ID; someone not yet on file is added "
            "with noxbot subjects import first) and answer it as an access case"
        )
    if down:
        raise CaseError(
            f"{case.reference}: {', '.join(down)} could not be searched; the answer cannot say "
            "that no data is held until every source has been searched — try again when it "
            "answers"
        )
    now = services.clock()
    for config in services.settings.sources:
        if isinstance(config, ManualSource):
            add_checklist_item(
                session,
                case,
                config.name,
                f"{config.task}{NO_DATA_CHECK} (note what was found)",
                now,
            )
    audit.record(
        session,
        at=now,
        actor=actor,
        action=NO_DATA_SEARCHED,
        request=case,
        detail=f"nothing found in: {', '.join(searched) or 'no source configured'}"
        + (f" (also for {len(named)} contact points the message names)" if named else "")
        + (f"; {NAMED_FOUND}{', '.join(for_named)}" if for_named else ""),
    )


def _drop_no_data_checks(session: Session, case: Request, *, actor: str, now: datetime) -> None:
    """Linked, the case gets no no-data answer: the manual searches that answer waited for
    are closed with a note (an access reply adds its own), not left to block the reply."""
    for item in open_checklist(session, case):
        if NO_DATA_CHECK in item.task:
            item.done_at, item.done_by = now, actor
            item.note = "not needed: the case was linked to a person on file"
            session.add(item)
