"""Access (GDPR Art. 15): everything the register holds on the person, plus the Art. 15(1)
information taken from the privacy policy. Needs verification: it discloses data."""

from __future__ import annotations

from bot.rules.kinds import RequestKind
from bot.rules.policy import art15_info
from bot.store.register import subject_record
from handlers.base import CaseView, Handler, Section


class AccessHandler(Handler):
    kind = RequestKind.ACCESS
    needs_verification = True

    def draft(self, view: CaseView) -> Section:
        items = []
        if view.subject is not None:
            items = subject_record(view.session, view.subject, view.language)
        return Section(
            "kinds/access.txt.j2",
            {"record": [(i.label, i.value) for i in items], "art15": art15_info(view.language)},
            carries_personal_data=bool(items),
            fields=tuple(i.key for i in items),
        )

    def describe(self, view: CaseView) -> str | None:
        if view.subject is None:
            return "say that no register data is held"
        return f"send {view.who}'s register extract"

    def on_approve(self, view: CaseView, actor: str) -> str:
        return "register extract sent with the approved reply"


HANDLER = AccessHandler()
