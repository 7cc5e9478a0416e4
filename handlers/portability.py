"""Portability (GDPR Art. 20): the person's data as JSON and CSV attachments, ready to move
to another controller. Needs verification: it discloses data."""

from __future__ import annotations

import json

from bot.channels.messages import Attachment
from bot.rules.kinds import RequestKind
from bot.rules.plan_words import plan_words
from bot.store.register import export_csv, subject_export
from handlers.base import CaseView, Handler, Section

FILENAMES = {"sv": "personuppgifter", "en": "personal-data"}


class PortabilityHandler(Handler):
    kind = RequestKind.PORTABILITY
    needs_verification = True

    def draft(self, view: CaseView) -> Section:
        if view.subject is None:
            return Section("kinds/portability.txt.j2", {"attachments": []})
        export = subject_export(view.session, view.subject)
        stem = FILENAMES.get(view.language, FILENAMES["en"])
        attachments = (
            Attachment(
                f"{stem}.json",
                "application/json",
                json.dumps(export, ensure_ascii=False, indent=2) + "\n",
            ),
            Attachment(f"{stem}.csv", "text/csv", export_csv(export)),
        )
        return Section(
            "kinds/portability.txt.j2",
            {"attachments": [a.filename for a in attachments]},
            attachments=attachments,
            carries_personal_data=True,
            fields=tuple(k for k, v in export.items() if v not in (None, "", [], {})),
        )

    def describe(self, view: CaseView, language: str = "en") -> str | None:
        if view.subject is None:
            return None
        return plan_words(language, "portability", who=view.who)

    def on_approve(self, view: CaseView, actor: str) -> str:
        return "JSON and CSV export queued to go with the approved reply"


HANDLER = PortabilityHandler()
