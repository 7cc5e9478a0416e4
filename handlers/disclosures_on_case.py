"""Recipients in replies and Art. 19 notices.

An access reply names the recipients who received the person's data when the person asked
who did (CJEU C-154/21), and the categories otherwise. Rectification, erasure and
restriction draft an Art. 19 notice to each recipient with an address, for staff to approve
once the reply is approved (the change is then carried out); a recipient without an address
becomes a checklist item. The reply to the person says who is told.
"""

from __future__ import annotations

import re
import unicodedata
import uuid

from sqlmodel import col, select

from bot.store import audit
from bot.store.disclosures import disclosures_of
from bot.store.records import SYSTEM
from bot.store.tables import Disclosure, Draft, DraftStatus
from handlers.base import CaseView
from handlers.sources_on_case import add_checklist_item

_ASKED = re.compile(
    r"vilka (har )?(fatt|tagit del av|mottagit)|vem har (fatt|tagit del)|vilka mottagare|"
    r"till vilka|who (has |have )?(received|got)|which recipients|who did you (share|send|give)|"
    r"to whom|names? of (the )?recipients|lamnat ut .* till vem|vilka ni (har )?(delat|skickat)"
)


def _fold(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c)
    )


def asked_for_recipients(text: str) -> bool:
    """Whether the person asked who received their data (then recipients are named)."""
    return bool(_ASKED.search(_fold(text)))


def named_recipients(view: CaseView) -> list[str]:
    """'Kund AB, 2026-10-01: CV' for each disclosure on record."""
    if view.subject is None:
        return []
    return [
        f"{d.recipient}, {d.disclosed_on.isoformat()}: {d.what}"
        for d in disclosures_of(view.session, view.subject)
    ]


ACTIONS = {
    "sv": {"erasure": "raderat", "rectification": "rättat", "restriction": "begränsat"},
    "en": {"erasure": "erased", "rectification": "rectified", "restriction": "restricted"},
}


def recipients_to_tell(view: CaseView, kind: str) -> list[str]:
    """The recipients the reply says are told; one without an address is a checklist item
    staff tick off once they have told it another way (that the data it received is
    erased, rectified or restricted: `kind`)."""
    if view.subject is None or view.case.verified_at is None:
        return []
    told: list[str] = []
    for disclosure in disclosures_of(view.session, view.subject):
        if disclosure.recipient in told:
            continue
        told.append(disclosure.recipient)
        if disclosure.recipient_email is None:
            add_checklist_item(
                view.session,
                view.case,
                disclosure.recipient,
                f"tell {disclosure.recipient} (no address on file) that {view.who}'s data it "
                f"received ({disclosure.what}) is {ACTIONS['en'].get(kind, 'changed')} by this "
                "case (Art. 19)",
                view.services.clock(),
            )
    return told


def notices_planned(view: CaseView) -> list[tuple[str, str | None]]:
    """Whom approving the reply tells (Art. 19), as the plan names them before approval:
    (recipient, address) for each notice draft_notices will draft, and (recipient, None)
    for a recipient with no address on file, whom no notice can reach (staff tell it
    another way: its checklist item)."""
    if view.subject is None:
        return []
    by_address: dict[str, str] = {}
    without: list[str] = []
    for disclosure in disclosures_of(view.session, view.subject):
        if disclosure.recipient_email:
            by_address.setdefault(disclosure.recipient_email, disclosure.recipient)
        elif disclosure.recipient not in without:
            without.append(disclosure.recipient)
    named = set(by_address.values())
    return [(recipient, address) for address, recipient in by_address.items()] + [
        (recipient, None) for recipient in without if recipient not in named
    ]


def draft_notices(view: CaseView, kind: str, actor: str) -> list[Draft]:
    """One Art. 19 notice per recipient with an address, awaiting staff approval; run when
    the reply is approved, before the person's data is gone."""
    if view.subject is None:
        return []
    now = view.services.clock()
    for old in view.session.exec(
        select(Draft).where(
            Draft.request_id == view.case.id,
            Draft.purpose == "art19_notice",
            col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
        )
    ):
        old.status = DraftStatus.SUPERSEDED
        view.session.add(old)
    by_address: dict[str, list[Disclosure]] = {}
    for disclosure in disclosures_of(view.session, view.subject):
        if disclosure.recipient_email:
            by_address.setdefault(disclosure.recipient_email, []).append(disclosure)
    drafts = []
    for address, rows in by_address.items():
        rendered = view.services.drafter.render(
            "art19_notice.txt.j2",
            view.language,
            reference=view.case.reference,
            recipient=rows[0].recipient,
            person=view.subject.name,
            received=[f"{r.disclosed_on.isoformat()}: {r.what}" for r in rows],
            action=ACTIONS.get(view.language, ACTIONS["en"])[kind],
            kind=kind,
        )
        draft = Draft(
            series=uuid.uuid4().hex[:12],
            version=1,
            request_id=view.case.id,
            purpose="art19_notice",
            language=view.language,
            to_channel="email",
            to_address=address,
            subject=rendered.subject,
            text=rendered.text,
            attachments=[],
            carries_personal_data=True,
            covers=None,
            author=SYSTEM,
            created_at=now,
        )
        view.session.add(draft)
        view.session.flush()
        audit.record(
            view.session,
            at=now,
            actor=actor,
            action="draft_created",
            request=view.case,
            detail=f"draft {draft.id} (art19_notice) v1",
        )
        drafts.append(draft)
    return drafts
