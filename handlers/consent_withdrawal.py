"""Consent withdrawal (GDPR Art. 7(3)): processing based on consent stops from now on.
No verification: withdrawing must be as easy as giving consent."""

from __future__ import annotations

from bot.rules.kinds import RequestKind
from bot.rules.plan_words import plan_words
from handlers.base import CaseView, Handler


class ConsentWithdrawalHandler(Handler):
    kind = RequestKind.CONSENT_WITHDRAWAL
    needs_verification = False
    changes_register = True

    def describe(self, view: CaseView, language: str = "en") -> str | None:
        if view.subject is None:
            return None
        return plan_words(language, "consent_withdrawal", who=view.who)

    def on_approve(self, view: CaseView, actor: str) -> str:
        if view.subject is None:
            return "no one on file; no consent to withdraw"
        view.subject.consent_withdrawn = True
        view.subject.updated_at = view.services.clock()
        view.session.add(view.subject)
        return "consent withdrawn (register flag set)"


HANDLER = ConsentWithdrawalHandler()
