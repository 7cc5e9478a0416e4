"""Objection (GDPR Art. 21(1)): stop processing based on legitimate interest, profiling for
assignment matching included; the register's `objected` flag is what the rest honours."""

from __future__ import annotations

from bot.rules.kinds import RequestKind
from bot.rules.plan_words import plan_words
from handlers.base import CaseView, Handler


class ObjectionHandler(Handler):
    kind = RequestKind.OBJECTION
    needs_verification = True
    changes_register = True

    def describe(self, view: CaseView, language: str = "en") -> str | None:
        if view.subject is None:
            return None
        return plan_words(language, "objection", who=view.who)

    def on_approve(self, view: CaseView, actor: str) -> str:
        if view.subject is None:
            return "no one on file to flag"
        view.subject.objected = True
        view.subject.updated_at = view.services.clock()
        view.session.add(view.subject)
        return "objection recorded: no processing on legitimate interest, no profiling"


HANDLER = ObjectionHandler()
