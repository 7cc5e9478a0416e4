"""Complaint (GDPR Art. 77, 82): acknowledge, name IMY, and alert staff at once — a complaint
is never left to wait in the queue unseen. No verification."""

from __future__ import annotations

from bot.rules.kinds import RequestKind
from bot.store.tables import StaffAlert
from handlers.base import CaseView, Handler


class ComplaintHandler(Handler):
    kind = RequestKind.COMPLAINT
    needs_verification = False

    def on_open(self, view: CaseView) -> None:
        view.session.add(
            StaffAlert(
                request_id=view.case.id,
                kind="complaint",
                text=f"{view.case.reference}: a complaint about our handling of personal data "
                "arrived; the person may turn to IMY.",
                created_at=view.services.clock(),
            )
        )

    def on_approve(self, view: CaseView, actor: str) -> str:
        return "complaint acknowledged; staff alerted when it arrived"


HANDLER = ComplaintHandler()
