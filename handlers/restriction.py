"""Restriction (GDPR Art. 18): the person's data stays stored but is not used for brokering,
matching or marketing; the register's `restricted` flag is what the rest honours."""

from __future__ import annotations

from bot.rules.kinds import RequestKind
from bot.rules.plan_words import plan_words
from handlers.base import CaseView, Handler, Section
from handlers.disclosures_on_case import draft_notices, recipients_to_tell


class RestrictionHandler(Handler):
    kind = RequestKind.RESTRICTION
    needs_verification = True
    changes_register = True

    def draft(self, view: CaseView) -> Section:
        told = recipients_to_tell(view)
        return Section("kinds/restriction.txt.j2", {"told": told}, carries_personal_data=bool(told))

    def describe(self, view: CaseView, language: str = "en") -> str | None:
        if view.subject is None:
            return None
        return plan_words(language, "restriction", who=view.who)

    def on_approve(self, view: CaseView, actor: str) -> str:
        if view.subject is None:
            return "no one on file to restrict"
        view.subject.restricted = True
        view.subject.updated_at = view.services.clock()
        view.session.add(view.subject)
        notices = draft_notices(view, "restriction", actor)
        told = f"; {len(notices)} Art. 19 notice(s) drafted for approval" if notices else ""
        return f"processing restricted (register flag set){told}"


HANDLER = RestrictionHandler()
