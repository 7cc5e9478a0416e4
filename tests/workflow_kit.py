"""A small world for workflow tests: a migrated database, the sample register, in-memory
channels, a clock that can be moved, and the people on file answering their challenges."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from bot.channels.memory import MemoryChannel
from bot.channels.messages import InboundMessage, OutboundMessage
from bot.config import DatabaseSettings, Settings, VerificationSettings
from bot.rules.channels import ChannelName
from bot.store.database import Database
from bot.store.records import get_case
from bot.store.register import import_file
from bot.store.tables import Draft, Outbox, Request, StaffAlert, Verification
from bot.workflow.approval import approve_draft
from bot.workflow.confirming import verify_by_phone
from bot.workflow.pipeline import Outcome, process_inbound
from bot.workflow.rendering import Drafter
from bot.workflow.sending import MAX_ATTEMPTS, deliver_due
from bot.workflow.services import Services

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ANNA_EMAIL, ANNA_TELEGRAM = "anna.lindqvist@example.se", "5550001"
JOHN_EMAIL, JOHN_TELEGRAM = "john.carter@example.com", "5550002"
ERIK_EMAIL = "erik.svensson@example.se"  # email + phone only
MARIA_EMAIL, MARIA_TELEGRAM = "maria.berg@example.se", "5550004"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 24, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class World:
    database: Database
    services: Services
    clock: Clock
    channels: dict[ChannelName, MemoryChannel]
    _ids: int = 0

    # --- messages arriving -----------------------------------------------------------------

    def receive(self, message: InboundMessage) -> Outcome:
        with self.database.session() as session:
            return process_inbound(session, self.services, message)

    def email(self, sender: str, text: str, subject: str = "", **kw: Any) -> Outcome:
        self._ids += 1
        kw.setdefault("message_id", f"<m{self._ids}@example.test>")
        return self.receive(
            InboundMessage(
                ChannelName.EMAIL,
                sender,
                text=text,
                subject=subject,
                received_at=self.clock(),
                **kw,
            )
        )

    def chat(self, user: str, text: str, **kw: Any) -> Outcome:
        self._ids += 1
        return self.receive(
            InboundMessage(
                ChannelName.TELEGRAM,
                user,
                text=text,
                received_at=self.clock(),
                telegram_chat_id=int(user),
                telegram_message_id=self._ids,
                **kw,
            )
        )

    def press(self, user: str, verification_id: int, yes: bool) -> Outcome:
        self._ids += 1
        return self.receive(
            InboundMessage(
                ChannelName.TELEGRAM,
                user,
                received_at=self.clock(),
                telegram_chat_id=int(user),
                callback_data=f"v:{verification_id}:{'y' if yes else 'n'}",
                callback_id=f"cb{self._ids}",
            )
        )

    def triage_everything(self) -> None:
        """Make every message one the classifier is unsure about (triage threshold 1.0), for
        tests of what staff triage does rather than of what the classifier thinks."""
        settings = self.services.settings
        self.services.settings = settings.model_copy(
            update={"classifier": settings.classifier.model_copy(update={"triage_threshold": 1.0})}
        )

    # --- staff -----------------------------------------------------------------------------

    def approve(self, draft_id: int, **kw: Any) -> Outbox:
        with self.database.session() as session:
            return approve_draft(session, self.services, draft_id, actor="staff:eva", **kw)

    # --- what went out ---------------------------------------------------------------------

    async def deliver(self) -> list[OutboundMessage]:
        before = {name: len(ch.sent) for name, ch in self.channels.items()}
        await deliver_due(self.database, self.services, self.channels)
        return [m for name, ch in self.channels.items() for m in ch.sent[before[name] :]]

    async def refused_until_given_up(self, channel: ChannelName = ChannelName.EMAIL) -> None:
        """The channel's server refuses every attempt (the requester's mail server, say)
        until the sender gives up on what is queued."""
        for _ in range(MAX_ATTEMPTS):
            self.channels[channel].fail_next = 1
            await self.deliver()
            self.clock.advance(hours=2)

    def sent_to(self, address: str) -> list[OutboundMessage]:
        return [m for ch in self.channels.values() for m in ch.sent if m.address == address]

    def code_mailed_to(self, address: str) -> str:
        mail = [m for m in self.channels[ChannelName.EMAIL].sent if m.address == address][-1]
        match = re.search(r"\b\d{6}\b", mail.text)
        assert match, mail.text
        return match.group(0)

    # --- looking inside --------------------------------------------------------------------

    def session(self) -> Session:
        return Session(self.database.engine, expire_on_commit=False)

    def case(self, reference: str) -> Request:
        with self.session() as session:
            return get_case(session, reference)

    def cases(self) -> list[Request]:
        with self.session() as session:
            return list(session.exec(select(Request).order_by(col(Request.id))))

    def verification(self, reference: str) -> Verification:
        """The newest challenge of who asked (not one confirming a contact point's change)."""
        with self.session() as session:
            case = get_case(session, reference)
            return session.exec(
                select(Verification)
                .where(
                    Verification.request_id == case.id,
                    col(Verification.confirms_contact).is_(None),
                )
                .order_by(col(Verification.id).desc())
            ).first()

    def call_confirms(self, reference: str) -> None:
        """Staff called the number on file, and the person confirmed (a changed phone)."""
        with self.database.session() as session:
            verify_by_phone(
                session, self.services, reference, "called the number on file", actor="staff:eva"
            )

    def drafts(
        self, reference: str, purpose: str | None = None, status: str | None = "awaiting_approval"
    ) -> list[Draft]:
        with self.session() as session:
            case = get_case(session, reference)
            query = select(Draft).where(Draft.request_id == case.id).order_by(col(Draft.id))
            if purpose:
                query = query.where(Draft.purpose == purpose)
            if status:
                query = query.where(Draft.status == status)
            return list(session.exec(query))

    def reply_draft(self, reference: str) -> Draft:
        drafts = self.drafts(reference, "reply")
        assert len(drafts) == 1, drafts
        return drafts[0]

    def alerts(self, kind: str | None = None) -> list[StaffAlert]:
        with self.session() as session:
            query = select(StaffAlert).order_by(col(StaffAlert.id))
            if kind:
                query = query.where(StaffAlert.kind == kind)
            return list(session.exec(query))


def make_world(tmp_path: Path, url: str | None = None, **settings_overrides: Any) -> World:
    # Most tests follow a case one send at a time; the acknowledgement sent at once (the
    # default) has its own tests (tests/test_conversation.py), which turn it on.
    settings_overrides.setdefault("verification", VerificationSettings(acknowledge_at_once=False))
    settings = Settings(
        database=DatabaseSettings(url=url or f"sqlite:///{tmp_path / 'w.db'}"), **settings_overrides
    )
    database = Database(settings.database.url)
    clock = Clock()
    services = Services(
        settings=settings, drafter=Drafter(settings.organisation), hash_key=b"k" * 32, clock=clock
    )
    with database.session() as session:
        import_file(session, EXAMPLES / "register.csv", now=clock())
    return World(database, services, clock, {name: MemoryChannel(name) for name in ChannelName})


def world_refused_inserts_into(
    tmp_path: Path, postgres_url: str, table: str
) -> tuple[World, Callable[[], None]]:
    """A world whose database role may not INSERT into `table` (a permission taken away,
    as a DBA might by mistake), on a schema the cluster's owner made: PostgreSQL itself
    refuses (SQLSTATE 42501), for every message that would write there alike. Returns the
    world and what gives the permission back."""
    owner = make_world(tmp_path, postgres_url)
    role = f"app_{uuid.uuid4().hex[:10]}"
    with owner.database.engine.begin() as connection:
        for statement in (
            f"CREATE ROLE {role} LOGIN",
            f"GRANT USAGE ON SCHEMA public TO {role}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
            f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
            f'REVOKE INSERT ON "{table}" FROM {role}',
        ):
            connection.execute(text(statement))
    owner.database.dispose()
    app = make_world(tmp_path, postgres_url.replace("//postgres@", f"//{role}@"))

    def given_back() -> None:
        owner.database.engine.dispose()
        with owner.database.engine.begin() as connection:
            connection.execute(text(f'GRANT INSERT ON "{table}" TO {role}'))
        owner.database.dispose()

    return app, given_back
