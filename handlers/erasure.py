"""Erasure (GDPR Art. 17): the person is deleted from the register on approval. What stays,
and why, is said in the reply: bookkeeping the law requires, a minimal suppression record
(keyed hashes, so we never contact them again), and the record of this case itself
(Art. 5(2) accountability). Needs verification: it destroys data."""

from __future__ import annotations

from bot.rules.kinds import RequestKind
from bot.store.forgetting import forget_correspondence, pending_copies, withdraw_pending_copies
from bot.store.register import contacts_of, erase_subject, suppress_contacts
from handlers.base import CaseView, Handler, Section

KEPT = {
    "sv": [
        "Fakturor och annat bokföringsunderlag, som bokföringslagen kräver att vi sparar i sju år.",
        "En minimal spärrpost: en nycklad kontrollsumma (hash) av din e-postadress och ditt "
        "telefonnummer, så att vi inte kontaktar dig igen.",
        "Detta ärende och vår korrespondens om det, som visar att vi har hanterat din begäran "
        "(ansvarsskyldigheten i artikel 5.2 GDPR).",
    ],
    "en": [
        "Invoices and other accounting records, which Swedish bookkeeping law requires us to "
        "keep for seven years.",
        "A minimal suppression record: a keyed hash of your email address and phone number, so "
        "that we never contact you again.",
        "This case and our correspondence about it, which show that we handled your request "
        "(accountability, Article 5(2) GDPR).",
    ],
}


class ErasureHandler(Handler):
    kind = RequestKind.ERASURE
    needs_verification = True
    changes_register = True

    def draft(self, view: CaseView) -> Section:
        return Section(
            "kinds/erasure.txt.j2",
            {"kept": KEPT.get(view.language, KEPT["en"]), "service_ends": view.subject is not None},
        )

    def describe(self, view: CaseView) -> str | None:
        if view.subject is None:
            return None
        waiting = pending_copies(view.session, view.subject.id or 0, view.case)
        also = (
            "; withdraw what still waits to carry their data: " + "; ".join(waiting)
            if waiting
            else ""
        )
        return (
            f"erase {view.who} from the register (profile, CV, contact points) and clear "
            f"the content of their earlier, finished cases and mail{also}"
        )

    def on_approve(self, view: CaseView, actor: str) -> str:
        if view.subject is None:
            return "no one on file to erase"
        subject = view.subject
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
        removed = erase_subject(view.session, subject)
        view.case.subject_id = None
        view.session.add(view.case)
        return (
            f"erased from the register ({', '.join(removed)}); {suppressed} suppression "
            f"hashes; content of {cleared} earlier messages and drafts cleared; "
            f"{len(withdrawn)} waiting copies withdrawn"
        )


HANDLER = ErasureHandler()
