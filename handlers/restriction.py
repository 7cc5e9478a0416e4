"""Restriction (GDPR Art. 18): the person's data stays stored but is not used for brokering,
matching or marketing; the register's `restricted` flag is what the rest honours."""

from __future__ import annotations

from bot.rules.kinds import RequestKind
from bot.rules.plan_words import plan_words
from handlers.base import CaseView, Handler, Section
from handlers.disclosures_on_case import draft_notices, recipients_to_tell
from handlers.sources_changes import carry_out_in_sources, configured, done_in_sources, named


class RestrictionHandler(Handler):
    kind = RequestKind.RESTRICTION
    needs_verification = True
    changes_register = True

    def draft(self, view: CaseView) -> Section:
        told = recipients_to_tell(view, "restriction")
        restricted: list[tuple[str, str]] = []
        if view.subject is not None and view.case.verified_at is not None:
            restricted = named(view, "restrict", view.services.clock())
        return Section(
            "kinds/restriction.txt.j2",
            {"told": told, "restricted": restricted},
            carries_personal_data=bool(told or restricted),
        )

    def tells_recipients(self, view: CaseView) -> bool:
        return view.subject is not None

    def describe(self, view: CaseView, language: str = "en") -> str | None:
        if view.subject is None:
            return None
        tables = configured(view, "restrict")
        too = plan_words(language, "sources_too", items="; ".join(tables)) if tables else ""
        return plan_words(language, "restriction", who=view.who) + too

    def before_approve(self, view: CaseView, actor: str) -> None:
        """Restrict in the sources first: a failure is committed on the case, alerts staff
        and stops approval (the register flag is set only once every source is done)."""
        if view.subject is None:
            return
        now = view.services.clock()
        carry_out_in_sources(view, "restrict", "restriction", now)

    def on_approve(self, view: CaseView, actor: str) -> str:
        if view.subject is None:
            return "no one on file to restrict"
        view.subject.restricted = True
        view.subject.updated_at = view.services.clock()
        view.session.add(view.subject)
        notices = draft_notices(view, "restriction", actor)
        told = f"; {len(notices)} Art. 19 notice(s) drafted for approval" if notices else ""
        elsewhere = "".join(f"; {line}" for line in done_in_sources(view, "restrict"))
        return f"processing restricted (register flag set){elsewhere}{told}"


HANDLER = RestrictionHandler()
