"""One handler per request kind; this dictionary is the registry (STYLE.md: a dict, not a
component framework)."""

from __future__ import annotations

from collections.abc import Iterable

from bot.rules.kinds import RequestKind
from handlers import (
    access,
    complaint,
    consent_withdrawal,
    erasure,
    info,
    marketing_optout,
    objection,
    portability,
    rectification,
    restriction,
)
from handlers.base import Handler

HANDLERS: dict[RequestKind, Handler] = {
    module.HANDLER.kind: module.HANDLER
    for module in (
        access,
        rectification,
        erasure,
        restriction,
        portability,
        objection,
        marketing_optout,
        consent_withdrawal,
        complaint,
        info,
    )
}


def handler_for(kind: RequestKind | str) -> Handler:
    return HANDLERS[RequestKind(kind)]


def needs_verification(kinds: Iterable[RequestKind | str]) -> bool:
    """Whether a case of these kinds waits for the requester's identity to be confirmed."""
    return any(handler_for(k).needs_verification for k in kinds)
