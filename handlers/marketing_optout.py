"""Marketing opt-out (GDPR Art. 21(2)-(3)): no more marketing on any channel. No verification:
stopping marketing must be as easy as it was to start, and discloses nothing. Even an
address not on file is suppressed, as a keyed hash."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.rules.kinds import RequestKind
from bot.rules.plan_words import plan_words
from bot.store.register import InvalidContact, contact_hash, normalise, suppress_contacts
from bot.store.tables import Suppression
from handlers.base import CaseView, Handler, HandlerServices, Section

_CONTACT_KIND = {"email": "email", "telegram": "telegram", "phone": "phone"}


class MarketingOptoutHandler(Handler):
    kind = RequestKind.MARKETING_OPTOUT
    needs_verification = False
    changes_register = True

    def draft(self, view: CaseView) -> Section:
        """Someone on file: marketing stops on every contact point we hold. Someone not on
        file: only the address they wrote from is suppressed, so the reply says that, and
        asks for any other address or number marketing reached them at."""
        if view.subject is not None:
            return Section("kinds/marketing_optout.txt.j2", {"on_file": True})
        channel = view.case.channel
        reachable = _marketing_contact(channel, view.case.requester_address) is not None
        return Section(
            "kinds/marketing_optout.txt.j2",
            {
                "on_file": False,
                "channel": channel if reachable else None,
                "address": view.case.requester_address if reachable else None,
            },
        )

    def describe(self, view: CaseView, language: str = "en") -> str | None:
        if view.subject is not None:
            return plan_words(language, "marketing_optout", who=view.who)
        address = view.case.requester_address
        if view.case.channel == "telegram":  # a bare chat id says nothing: name it
            address = f"{'Telegram-användare' if language == 'sv' else 'Telegram user'} {address}"
        return plan_words(language, "marketing_optout_address", address=address)

    def on_approve(self, view: CaseView, actor: str) -> str:
        key = view.services.hash_key
        if view.subject is not None:
            view.subject.marketing_suppressed = True
            view.subject.updated_at = view.services.clock()
            view.session.add(view.subject)
            suppress_contacts(
                view.session, key, view.subject, "marketing_optout", now=view.services.clock()
            )
            return "marketing switched off for every contact point on file"
        if not suppress_sender(view):
            return "no one on file; nothing to switch off"
        return "sender's address suppressed for marketing (not on file)"


def _marketing_contact(channel: str, address: str) -> tuple[str, str] | None:
    """The contact point (kind, normalised value) a message's address is, where marketing
    could reach it; None for a channel without one (a letter) or a malformed address."""
    kind = _CONTACT_KIND.get(channel)
    if kind is None:
        return None
    try:
        return kind, normalise(kind, address)
    except InvalidContact:
        return None


def suppress_sender(view: CaseView) -> bool:
    """Suppress the address the request came from for marketing (see suppress_address)."""
    return suppress_address(
        view.session, view.services, view.case.channel, view.case.requester_address
    )


def suppress_address(
    session: Session, services: HandlerServices, channel: str, address: str
) -> bool:
    """Suppress an address a message came from for marketing (a keyed hash, whoever sent
    it): stopping marketing to the address that asked discloses nothing, so a case that also
    waits for verification does this at once (Art. 21(3)). False when the channel has no
    address marketing could reach (a letter, a malformed address)."""
    contact = _marketing_contact(channel, address)
    if contact is None:
        return False
    digest = contact_hash(services.hash_key, *contact)
    exists = session.exec(select(Suppression).where(Suppression.contact_hash == digest))
    if exists.first() is None:
        session.add(
            Suppression(
                contact_hash=digest,
                reason="marketing_optout",
                created_at=services.clock(),
            )
        )
    return True


HANDLER = MarketingOptoutHandler()
