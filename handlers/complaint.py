"""Complaint (GDPR Art. 77, 82): acknowledged at once — no "we are sorry you feel", but what
NOX will do and by when — and staff are alerted. The case stays open: its reply says what
staff found and did, so it cannot be approved until staff record the outcome
(noxbot requests outcome REF --text-file FILE, or the console's case page). No
verification."""

from __future__ import annotations

import uuid

from bot.rules.kinds import RequestKind
from bot.rules.plan_words import plan_words
from bot.store import audit
from bot.store.records import SYSTEM, greeting_name
from bot.store.tables import Draft, StaffAlert
from handlers.base import CaseView, Handler, Section


class ComplaintHandler(Handler):
    kind = RequestKind.COMPLAINT
    needs_verification = False

    def on_open(self, view: CaseView) -> None:
        now = view.services.clock()
        view.session.add(
            StaffAlert(
                request_id=view.case.id,
                kind="complaint",
                text=f"{view.case.reference}: a complaint about our handling of personal data "
                "arrived; the person may turn to IMY. Acknowledge it (noxbot drafts list), "
                f"look into it, then noxbot requests outcome {view.case.reference} "
                "--text-file FILE (or the case page's Complaint outcome in the console).",
                created_at=now,
            )
        )
        rendered = view.services.drafter.render(
            "complaint_acknowledgment.txt.j2",
            view.language,
            reference=view.case.reference,
            name=greeting_name(view.session, view.case),
            due_date=view.case.due_date,
        )
        draft = Draft(
            series=uuid.uuid4().hex[:12],
            version=1,
            request_id=view.case.id,
            purpose="acknowledgment",
            language=view.language,
            to_channel=view.case.channel,
            to_address=view.case.requester_address,
            subject=rendered.subject,
            text=rendered.text,
            attachments=[],
            author=SYSTEM,
            created_at=now,
        )
        view.session.add(draft)
        view.session.flush()
        audit.record(
            view.session,
            at=now,
            actor=SYSTEM,
            action="draft_created",
            request=view.case,
            detail=f"draft {draft.id} (acknowledgment) v1",
        )

    def draft(self, view: CaseView) -> Section:
        return Section(
            "kinds/complaint.txt.j2",
            {"outcome": view.case.complaint_outcome or ""},
        )

    def describe(self, view: CaseView, language: str = "en") -> str | None:
        if not view.case.complaint_outcome:
            return None
        return plan_words(language, "complaint")

    def on_approve(self, view: CaseView, actor: str) -> str:
        return "complaint answered with the recorded outcome"


HANDLER = ComplaintHandler()
