"""Erasure (GDPR Art. 17): the person is deleted from the register on approval. What stays,
and why, is said in the reply: bookkeeping the law requires, a minimal suppression record
(keyed hashes, so we never contact them again), and the record of this case itself
(Art. 5(2) accountability). Needs verification: it destroys data."""

from __future__ import annotations

from bot.errors import CaseError
from bot.rules.kinds import RequestKind
from bot.rules.plan_words import plan_words
from bot.store.disclosures import forget_disclosures
from bot.store.forgetting import (
    ERASED_FROM_THE_REGISTER,
    forget_correspondence,
    note_person_erased,
    pending_copies,
    withdraw_pending_copies,
)
from bot.store.records import alert_staff
from bot.store.register import contacts_of, erase_subject, suppress_contacts
from bot.store.tables import FindingState
from handlers.base import CaseView, Handler, Section
from handlers.disclosures_on_case import draft_notices, recipients_to_tell
from handlers.sources_on_case import (
    erase_findings,
    findings_of,
    only_mentions,
    search_sources,
    to_erase,
)

KEPT = {
    "sv": [
        "Fakturor och annat bokföringsunderlag, som bokföringslagen kräver att vi sparar i sju år.",
        "En minimal spärrpost: en nycklad kontrollsumma (hash) av {contacts}, så att vi inte "
        "kontaktar dig igen.",
        "Detta ärende och vår korrespondens om det, som visar att vi har hanterat din begäran "
        "(ansvarsskyldigheten i artikel 5.2 GDPR).",
    ],
    "en": [
        "Invoices and other accounting records, which Swedish bookkeeping law requires us to "
        "keep for seven years.",
        "A minimal suppression record: a keyed hash of {contacts}, so that we never contact "
        "you again.",
        "This case and our correspondence about it, which show that we handled your request "
        "(accountability, Article 5(2) GDPR).",
    ],
}

#: How the suppression record's contact points are named: (one, several) per kind, in the
#: order of register.contacts_of (email, phone, telegram).
_CONTACT_WORDS = {
    "sv": {
        "email": ("din e-postadress", "dina e-postadresser"),
        "phone": ("ditt telefonnummer", "dina telefonnummer"),
        "telegram": ("ditt Telegram-id", "dina Telegram-id"),
        None: "dina kontaktuppgifter",
        "and": "och",
    },
    "en": {
        "email": ("your email address", "your email addresses"),
        "phone": ("your phone number", "your phone numbers"),
        "telegram": ("your Telegram user id", "your Telegram user ids"),
        None: "your contact details",
        "and": "and",
    },
}


def kept_after_erasure(language: str, contact_kinds: list[str]) -> list[str]:
    """What the reply says stays, naming the contact points the suppression record hashes
    (register.suppress_contacts: every one on file), not a fixed "email and phone"."""
    words = _CONTACT_WORDS.get(language, _CONTACT_WORDS["en"])
    named: list[str] = []
    for kind in dict.fromkeys(contact_kinds):
        if kind in words:
            one, several = words[kind]
            named.append(several if contact_kinds.count(kind) > 1 else one)
    if not named:
        contacts = str(words[None])
    elif len(named) == 1:
        contacts = named[0]
    else:
        contacts = f"{', '.join(named[:-1])} {words['and']} {named[-1]}"
    return [item.format(contacts=contacts) for item in KEPT.get(language, KEPT["en"])]


class ErasureHandler(Handler):
    kind = RequestKind.ERASURE
    needs_verification = True
    changes_register = True

    def draft(self, view: CaseView) -> Section:
        removed: list[tuple[str, str]] = []
        checked: list[str] = []
        told = recipients_to_tell(view, "erasure")
        if view.subject is not None and view.case.verified_at is not None:
            findings = search_sources(
                view.session,
                view.services.settings,
                view.services.sources or [],
                view.case,
                view.subject,
                view.services.clock(),
            )
            counts: dict[str, list[str]] = {}
            for finding in findings:
                if finding.erasable:
                    counts.setdefault(finding.source, []).append(finding.summary)
            removed = [(source, "; ".join(what)) for source, what in counts.items()]
            checked = [c.name for c in view.services.settings.sources if c.type == "manual"]
        return Section(
            "kinds/erasure.txt.j2",
            {
                "kept": kept_after_erasure(
                    view.language,
                    [c.kind for c in contacts_of(view.session, view.subject)]
                    if view.subject is not None
                    else [],
                ),
                "service_ends": view.subject is not None,
                "removed": removed,
                "checked": checked,
                "told": told,
            },
            carries_personal_data=bool(removed or told),
        )

    def tells_recipients(self, view: CaseView) -> bool:
        return view.subject is not None

    def describe(self, view: CaseView, language: str = "en") -> str | None:
        if view.subject is None:
            return None
        waiting = pending_copies(view.session, view.subject.id or 0, view.case)
        also = plan_words(language, "erasure_also", items="; ".join(waiting)) if waiting else ""
        text = (view.scope or {}).get("text")
        elsewhere = [f"{f.source}: {f.summary}" for f in to_erase(view.session, view.case, text)]
        sources = (
            plan_words(language, "erasure_sources", items="; ".join(elsewhere)) if elsewhere else ""
        )
        mentioned = [
            f"{f.source}: {f.summary}"
            for f in findings_of(view.session, view.case, FindingState.FOUND)
            if only_mentions(f)
        ]
        if mentioned:
            sources += plan_words(language, "erasure_mentions", items="; ".join(mentioned))
        return plan_words(language, "erasure", who=view.who, also=also, sources=sources)

    def before_approve(self, view: CaseView, actor: str) -> None:
        """Erase in the sources first: files and mail cannot be rolled back with the
        database, so a failure is committed on the case and stops approval."""
        now = view.services.clock()
        done, failed = erase_findings(
            view.session,
            view.services.sources or [],
            view.case,
            now,
            approved_text=(view.scope or {}).get("text"),
        )
        if failed:
            text = (
                f"{view.case.reference}: erasure stopped. Done: {'; '.join(done) or 'nothing'}. "
                f"Not done: {'; '.join(failed)}. Each is a checklist item: erase by hand, "
                f"tick it off (noxbot requests checklist {view.case.reference}), then approve "
                "again."
            )
            alert_staff(view.session, view.case, "erasure_failed", text, now=now)
            view.session.commit()
            raise CaseError(text)

    def on_approve(self, view: CaseView, actor: str) -> str:
        if view.subject is None:
            return "no one on file to erase"
        subject = view.subject
        notices = draft_notices(view, "erasure", actor)
        forget_disclosures(view.session, subject)
        withdrawn = withdraw_pending_copies(
            view.session, view.services.clock(), subject.id or 0, view.case, actor=actor
        )
        suppressed = suppress_contacts(
            view.session, view.services.hash_key, subject, "erasure", now=view.services.clock()
        )
        addresses = [(c.kind, c.value) for c in contacts_of(view.session, subject)]
        cleared = forget_correspondence(
            view.session, view.services.clock(), subject.id or 0, addresses, view.case
        )
        note_person_erased(
            view.session, view.services.clock(), subject.id or 0, view.case, actor=actor
        )
        removed = erase_subject(view.session, subject)
        view.case.subject_id = None
        view.session.add(view.case)
        elsewhere = [
            f"{f.source}: {f.outcome}"
            for f in findings_of(view.session, view.case, FindingState.ERASED)
        ]
        return (
            f"{ERASED_FROM_THE_REGISTER} ({', '.join(removed)}); "
            f"{'; '.join(elsewhere) + '; ' if elsewhere else ''}{suppressed} suppression "
            f"hashes; content of {cleared} earlier messages and drafts cleared; "
            f"{len(withdrawn)} waiting copies withdrawn"
            + (f"; {len(notices)} Art. 19 notice(s) drafted for approval" if notices else "")
        )


HANDLER = ErasureHandler()
