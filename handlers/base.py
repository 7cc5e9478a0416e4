"""The shape every handler has: whether its kind needs verification, what it drafts, and
what approval does. One module per kind lives next to this one; `handlers.HANDLERS` maps
a kind to its handler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from bot.channels.messages import Attachment
from bot.config import Settings
from bot.rules.kinds import RequestKind
from bot.rules.processing import Records
from bot.sources import Source
from bot.store.tables import Request, Subject


class Renderer(Protocol):
    """What a handler may render with (bot.workflow.rendering.Drafter is one)."""

    def render(self, template: str, language: str, **context: Any) -> Any: ...


class HandlerServices(Protocol):
    """What a handler may use of the workflow's services (bot.workflow.services.Services
    is one): the settings, the key for suppression hashes, and the clock."""

    settings: Settings
    hash_key: bytes
    clock: Callable[[], datetime]
    #: For messages a handler drafts besides its section (an Art. 19 notice).
    drafter: Renderer
    #: The records of processing (bot.rules.processing), what Art. 15 replies are written from.
    records: Records | None
    #: The sources searched for the person (bot.sources), besides the register.
    sources: list[Source] | None


@dataclass(frozen=True)
class CaseView:
    """What a handler sees of a case."""

    session: Session
    services: HandlerServices
    case: Request
    subject: Subject | None
    request_text: str
    #: On approval: the approved version's scope ({"kinds", "changes"}), which is what is
    #: carried out — not what the case asks now, nor what the machine first drafted.
    scope: dict[str, Any] | None = None

    @property
    def language(self) -> str:
        return self.case.language

    @property
    def changes(self) -> list[dict[str, Any]]:
        """The rectification changes in force: the approved scope's, else the case's."""
        if self.scope is not None:
            return list(self.scope.get("changes", []))
        return list(self.case.requested_changes)

    @property
    def who(self) -> str:
        """The person, as staff read it in "what approval will do"."""
        return self.subject.name if self.subject is not None else "the requester (not on file)"


@dataclass(frozen=True)
class Section:
    """One kind's part of a reply: a template under templates/<lang>/kinds/ and its values."""

    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    #: True when the text or attachments hold register data: only for verified cases.
    carries_personal_data: bool = False
    #: Which register fields it discloses (names, not values): what stays on record once
    #: an erasure has removed the values from what was sent.
    fields: tuple[str, ...] = ()


class Handler:
    """Base: a kind that drafts a section and, on approval, does nothing more."""

    kind: RequestKind
    needs_verification: bool = False
    #: Whether approving its section changes the register (then its text must say so).
    changes_register: bool = False

    def on_open(self, view: CaseView) -> None:
        """Runs when a case of this kind is opened (e.g. alert staff to a complaint)."""

    def draft(self, view: CaseView) -> Section:
        return Section(f"kinds/{self.kind}.txt.j2")

    def before_approve(self, view: CaseView, actor: str) -> None:
        """Runs before approval changes anything, for work outside the database (moving
        files and mail): it may commit what it did and raise CaseError to stop approval."""

    def on_approve(self, view: CaseView, actor: str) -> str:
        """Carry out what the approved reply promises; returns what was done, for the audit."""
        return "nothing to carry out"

    def tells_recipients(self, view: CaseView) -> bool:
        """Whether approving its section drafts Art. 19 notices to the recipients of the
        person's data (handlers.disclosures_on_case.draft_notices), for the plan to name."""
        return False

    def describe(self, view: CaseView, language: str = "en") -> str | None:
        """What approving a reply with this kind's section will do, for staff to read first
        ("erase Anna Lindqvist from the register"), in `language` (English for the CLI and
        the JSON; bot.rules.plan_words holds the words); None when it only answers."""
        return None
