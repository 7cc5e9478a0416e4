"""Access (GDPR Art. 15): everything the register holds on the person, plus the Art. 15(1)
information taken from the privacy policy. Needs verification: it discloses data."""

from __future__ import annotations

from bot.kinds import RequestKind
from bot.policy import art15_info
from bot.register import subject_record
from handlers.base import CaseView, Handler, Section


class AccessHandler(Handler):
    kind = RequestKind.ACCESS
    needs_verification = True

    def draft(self, view: CaseView) -> Section:
        record = []
        if view.subject is not None:
            record = [
                (i.label, i.value)
                for i in subject_record(view.session, view.subject, view.language)
            ]
        return Section(
            "kinds/access.txt.j2",
            {"record": record, "art15": art15_info(view.language)},
            carries_personal_data=bool(record),
        )

    def on_approve(self, view: CaseView, actor: str) -> str:
        return "register extract sent with the approved reply"


HANDLER = AccessHandler()
