"""Information (GDPR Art. 12-14): answers about the processing, drawn from the policy, for
the questions the person asked. No verification: nothing about the person is disclosed.

Where the records of processing (bot.rules.processing, the file the DPO edits) say more
than the policy — how long each kind of data is kept, transfers outside the EU/EEA and
their safeguards — the answer is theirs, so that a reply answering a question and an access
request says one thing, not two."""

from __future__ import annotations

from dataclasses import replace

from bot.rules.kinds import RequestKind
from bot.rules.policy import InfoAnswer, info_answers
from bot.rules.processing import Records
from handlers.base import CaseView, Handler, Section

_TRANSFERS_QUESTION = {
    "sv": "Förs uppgifterna över till länder utanför EU/EES?",
    "en": "Is the data transferred to countries outside the EU/EEA?",
}
_RETENTION_LEAD = {
    "sv": "Det beror på uppgifterna:",
    "en": "It depends on the data:",
}


def from_records(answer: InfoAnswer, records: Records | None, language: str) -> InfoAnswer:
    """The policy's answer, or the records of processing's where they hold the topic."""
    if records is None:
        return answer
    if answer.topic == "transfers":
        question = _TRANSFERS_QUESTION.get(language, _TRANSFERS_QUESTION["en"])
        return replace(answer, question=question, answer=records.transfers(language))
    if answer.topic == "retention":
        lines = [
            f"- {c.label(language)}: {c.retention(language)}"
            for c in records.categories
            if c.retention(language)
        ]
        if lines:
            lead = _RETENTION_LEAD.get(language, _RETENTION_LEAD["en"])
            return replace(answer, answer="\n".join([lead, *lines]))
    return answer


class InfoHandler(Handler):
    kind = RequestKind.INFO
    needs_verification = False

    def draft(self, view: CaseView) -> Section:
        records = view.services.records
        answers = [
            from_records(answer, records, view.language)
            for answer in info_answers(view.request_text, view.language)
        ]
        return Section("kinds/info.txt.j2", {"answers": answers})


HANDLER = InfoHandler()
