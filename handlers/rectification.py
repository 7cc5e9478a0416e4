"""Rectification (GDPR Art. 16): the changes the person asked for, read from their message,
shown to staff as before → after, and applied to the register only when staff approve.
Needs verification: it changes data."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from sqlmodel import Session, select

from bot.errors import CaseError
from bot.rules.kinds import RequestKind
from bot.rules.plan_words import plan_words
from bot.rules.verification import COOLING_OFF
from bot.store.records import alert_staff
from bot.store.register import (
    FIELD_LABELS,
    InvalidContact,
    as_written,
    contacts_of,
    normalise_email,
    normalise_phone,
    region_of,
)
from bot.store.tables import ContactKind, ContactPoint, Subject
from handlers.base import CaseView, Handler, Section
from handlers.disclosures_on_case import draft_notices, recipients_to_tell
from handlers.sources_changes import carry_out_in_sources, configured, done_in_sources, named


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    old: str
    new: str


_NAME_WORD = r"[A-ZÅÄÖÉÜ][\w'\-]+"
# Cases, in the order they are tried (first match per field wins):
_LAST_NAME = re.compile(
    rf"(?:efternamn|last name|surname|family name)\w*\b[^.\n]{{0,40}}?"
    rf"(?:till|to|är nu|is now|ska vara|should be|nu är|numera|now)\s+({_NAME_WORD})"
)
_FIRST_NAME = re.compile(
    rf"(?:förnamn|first name|given name)\w*\b[^.\n]{{0,40}}?"
    rf"(?:till|to|är nu|is now|ska vara|should be|numera|now)\s+({_NAME_WORD})"
)
_FULL_NAME = re.compile(
    # "Jag heter nu …" is the person; "vårt bolag heter nu …" is a company, not a name.
    rf"(?:jag heter numera|jag heter nu|mitt nya namn är|my name is now|my new name is|"
    rf"I am now called|I'm now called|\bnamn till|\bname to)"
    rf"\s+({_NAME_WORD}(?:\s{_NAME_WORD}){{0,2}})"
)
_PHONE = re.compile(r"(?<![\w+])(\+?\d[\d ()\-]{6,16}\d)(?!\w)")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_ORG_NUMBER = re.compile(r"(?<!\d)(\d{6}-\d{4})(?!\d)")
_COMPANY = re.compile(
    r"((?:[A-ZÅÄÖ0-9][\w&\-]*\s){0,3}[A-ZÅÄÖ0-9][\w&\-]*\s(?:AB|HB|KB|Ltd|Limited|Inc|AS|Oy|GmbH))"
    r"(?![\w])"
)


def requested_changes(
    text: str,
    current: dict[str, str],
    *,
    ignore_emails: set[str],
    language: str,
    ignore_companies: frozenset[str] = frozenset(),
) -> list[Change]:
    """The corrections a message asks for, against the values held now (pure)."""
    labels = FIELD_LABELS.get(language, FIELD_LABELS["en"])
    wanted: dict[str, str] = {}
    name = current.get("name", "")
    if match := _FULL_NAME.search(text):
        wanted["name"] = match.group(1)
    else:
        parts = name.split()
        if (match := _LAST_NAME.search(text)) and parts:
            parts = [*parts[:-1], match.group(1)] if len(parts) > 1 else [*parts, match.group(1)]
        if (match := _FIRST_NAME.search(text)) and parts:
            parts = [match.group(1), *parts[1:]]
        if parts and " ".join(parts) != name:
            wanted["name"] = " ".join(parts)
    without_org = _ORG_NUMBER.sub(" ", text)
    phones = []
    for candidate in _PHONE.findall(without_org):
        try:
            phones.append(normalise_phone(candidate, region_of(current.get("phone"))))
        except InvalidContact:
            continue
    if phones:
        wanted["phone"] = phones[-1]  # "från 070… till 073…": the last one is the new one
    emails = [e.lower() for e in _EMAIL.findall(text) if e.lower() not in ignore_emails]
    if emails:
        wanted["email"] = emails[-1]
    if orgs := _ORG_NUMBER.findall(text):
        wanted["org_number"] = orgs[-1]
    companies = [c for c in _COMPANY.findall(text) if c.strip() not in ignore_companies]
    if companies:
        wanted["company"] = companies[-1].strip()
    return [
        Change(field, labels.get(field, field), current.get(field, "") or "", new)
        for field, new in wanted.items()
        if new and new != (current.get(field) or "")
    ]


#: Fields a rectification can change, and how a new value is written on file.
EDITABLE = {
    "name": str.strip,
    "company": str.strip,
    "org_number": str.strip,
    "phone": normalise_phone,
    # As the register keeps it: a bare address, or refused ("Name <a@b>" is no address).
    "email": normalise_email,
}


def staff_changes(
    session: Session, subject: Subject, settings: dict[str, str], language: str
) -> list[dict[str, str]]:
    """Changes staff state themselves ("phone=070…"), checked and shown before → after."""
    current = current_values(session, subject)
    labels = FIELD_LABELS.get(language, FIELD_LABELS["en"])
    changes = []
    for field, value in settings.items():
        if field not in EDITABLE:
            raise InvalidContact(
                f"{field!r} cannot be rectified here; expected one of {', '.join(EDITABLE)}"
            )
        if field == "phone":  # as the country of the number on file, without a code
            new = normalise_phone(value, region_of(current.get("phone")))
        else:
            new = EDITABLE[field](value)
        change = {
            "field": field,
            "label": labels.get(field, field),
            "old": current.get(field, ""),
            "new": new,
            "by": "staff",
        }
        if (problem := conflict(session, subject, change)) is not None:
            raise InvalidContact(problem)
        changes.append(change)
    return changes


def conflict(session: Session, subject: Subject, change: dict[str, str]) -> str | None:
    """Why a change cannot be applied to this person, or None: a new email address or phone
    number that is already on file for someone else (one contact point, one person)."""
    if change["field"] not in ("email", "phone"):
        return None
    owner = session.exec(
        select(ContactPoint).where(
            ContactPoint.kind == ContactKind(change["field"]),
            ContactPoint.value == change["new"],
        )
    ).first()
    if owner is None or owner.subject_id == subject.id:
        return None
    return f"the new {change['field']} is already on file for another person"


def current_values(session: Session, subject: Subject) -> dict[str, str]:
    contacts = contacts_of(session, subject)
    first = {kind: next((c.value for c in contacts if c.kind == kind), "") for kind in ContactKind}
    return {
        "name": subject.name,
        "company": subject.company or "",
        "org_number": subject.org_number or "",
        "phone": first[ContactKind.PHONE],
        "email": first[ContactKind.EMAIL],
    }


def _parsed_changes(view: CaseView) -> list[dict[str, str]]:
    """The changes the person's message asks for, as read when the case is opened. One that
    cannot be applied (another person's address) is left out and staff are told."""
    if view.subject is None:
        return []
    org_email = view.services.settings.organisation.email.lower()
    changes = requested_changes(
        view.request_text,
        current_values(view.session, view.subject),
        ignore_emails={org_email, view.case.requester_address.lower()},
        # Our own name in a greeting or a quote is no change to their company.
        ignore_companies=frozenset({view.services.settings.organisation.name}),
        language=view.language,
    )
    kept = []
    for change in map(asdict, changes):
        if (problem := conflict(view.session, view.subject, change)) is not None:
            alert_staff(
                view.session,
                view.case,
                "change_refused",
                f"{view.case.reference}: {problem}; that change is left out of the reply "
                "(noxbot requests changes states what to change instead).",
                now=view.services.clock(),
            )
            continue
        kept.append(change)
    return kept


class RectificationHandler(Handler):
    kind = RequestKind.RECTIFICATION
    needs_verification = True
    changes_register = True

    def on_open(self, view: CaseView) -> None:
        # Read now, not after verification: a change of the email or phone we verify through
        # is confirmed on its old value too, and that challenge goes out with the first one.
        view.case.requested_changes = _parsed_changes(view)
        view.session.add(view.case)

    def draft(self, view: CaseView) -> Section:
        changes = [
            Change(c["field"], c["label"], c["old"], c["new"]) for c in view.case.requested_changes
        ]
        told = recipients_to_tell(view, "rectification") if changes else []
        updated: list[tuple[str, str]] = []
        if changes and view.case.verified_at is not None:
            updated = named(view, "rectify", view.services.clock())
        return Section(
            "kinds/rectification.txt.j2",
            {"changes": changes, "told": told, "updated": updated},
            carries_personal_data=bool(changes),
        )

    def tells_recipients(self, view: CaseView) -> bool:
        return view.subject is not None and bool(view.changes)

    def describe(self, view: CaseView, language: str = "en") -> str | None:
        if not view.changes:
            return None
        # A phone number as the letter writes it (its language, not the plan's): staff set
        # the two side by side, and "+46701234567" reads as another number than "070-123 45 67".
        changes = "; ".join(
            plan_words(
                language,
                "rectification_change",
                field=c["field"],
                old=as_written(c["old"], c["field"], view.language) or plan_words(language, "none"),
                new=as_written(c["new"], c["field"], view.language),
            )
            for c in view.changes
        )
        tables = configured(view, "rectify")
        too = plan_words(language, "sources_too", items="; ".join(tables)) if tables else ""
        return plan_words(language, "rectification", who=view.who, changes=changes) + too

    def before_approve(self, view: CaseView, actor: str) -> None:
        """Update the sources first (their databases cannot be rolled back with ours): a
        failure is committed on the case, alerts staff and stops approval."""
        if view.subject is None or not view.changes:
            return
        for change in view.changes:  # the register would refuse it: change nothing anywhere
            if (problem := conflict(view.session, view.subject, change)) is not None:
                raise CaseError(f"{view.case.reference}: {problem}; approval changed nothing")
        now = view.services.clock()
        carry_out_in_sources(view, "rectify", "rectification", now)

    def on_approve(self, view: CaseView, actor: str) -> str:
        subject = view.subject
        if subject is None or not view.changes:
            return "no change to apply"
        now = view.services.clock()
        done = []
        for change in view.changes:
            if (problem := conflict(view.session, subject, change)) is not None:
                raise CaseError(f"{view.case.reference}: {problem}; approval changed nothing")
        for change in view.changes:
            field, new = change["field"], change["new"]
            if field in ("name", "company", "org_number"):
                setattr(subject, field, new)
            elif field in ("phone", "email"):
                kind = ContactKind(field)
                contacts = [c for c in contacts_of(view.session, subject) if c.kind == kind]
                old = next((c for c in contacts if c.value == change["old"]), None)
                if old is None and contacts and change["old"]:
                    old = contacts[0]
                target = old or ContactPoint(subject_id=subject.id, kind=kind, value=new)
                target.value = new
                # A new contact point proves nothing for a while (bot.rules.verification).
                target.verify_after = now + COOLING_OFF
                view.session.add(target)
            done.append(field)
        subject.updated_at = now
        view.session.add(subject)
        notices = draft_notices(view, "rectification", actor)
        # Field names only: the audit trail is kept for good and must not hold the values.
        told = f"; {len(notices)} Art. 19 notice(s) drafted for approval" if notices else ""
        elsewhere = "".join(f"; {line}" for line in done_in_sources(view, "rectify"))
        return f"rectified {', '.join(done)}{elsewhere}{told}"


HANDLER = RectificationHandler()
