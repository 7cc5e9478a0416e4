"""Information (GDPR Art. 12-14): answers about the processing, drawn from the policy, for
the questions the person asked. No verification: nothing about the person is disclosed."""

from __future__ import annotations

from bot.rules.kinds import RequestKind
from bot.rules.policy import info_answers
from handlers.base import CaseView, Handler, Section


class InfoHandler(Handler):
    kind = RequestKind.INFO
    needs_verification = False

    def draft(self, view: CaseView) -> Section:
        answers = info_answers(view.request_text, view.language)
        return Section("kinds/info.txt.j2", {"answers": list(answers)})


HANDLER = InfoHandler()
