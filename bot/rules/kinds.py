"""The request kinds of the design, in one place, with what each needs."""

from __future__ import annotations

from enum import StrEnum


class RequestKind(StrEnum):
    """What a person asks for; `none` means the message is not a rights request."""

    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    PORTABILITY = "portability"
    OBJECTION = "objection"
    MARKETING_OPTOUT = "marketing_optout"
    CONSENT_WITHDRAWAL = "consent_withdrawal"
    COMPLAINT = "complaint"
    INFO = "info"
    NONE = "none"


#: Rights requests, in the order the design lists them (and replies mention them).
RIGHTS_KINDS: tuple[RequestKind, ...] = tuple(k for k in RequestKind if k is not RequestKind.NONE)

#: Verification guards disclosure and change of data (design, "Request kinds").
KINDS_NEEDING_VERIFICATION: frozenset[RequestKind] = frozenset(
    {
        RequestKind.ACCESS,
        RequestKind.RECTIFICATION,
        RequestKind.ERASURE,
        RequestKind.RESTRICTION,
        RequestKind.PORTABILITY,
        RequestKind.OBJECTION,
    }
)

#: GDPR article each kind rests on, for drafts and staff views.
GDPR_ARTICLE: dict[RequestKind, str] = {
    RequestKind.ACCESS: "Art. 15",
    RequestKind.RECTIFICATION: "Art. 16",
    RequestKind.ERASURE: "Art. 17",
    RequestKind.RESTRICTION: "Art. 18",
    RequestKind.PORTABILITY: "Art. 20",
    RequestKind.OBJECTION: "Art. 21(1)",
    RequestKind.MARKETING_OPTOUT: "Art. 21(2)-(3)",
    RequestKind.CONSENT_WITHDRAWAL: "Art. 7(3)",
    RequestKind.COMPLAINT: "Art. 77, 82",
    RequestKind.INFO: "Art. 12-14",
}


def needs_verification(
    kinds: set[RequestKind] | frozenset[RequestKind] | tuple[RequestKind, ...],
) -> bool:
    """A case needs verification when any of its kinds does."""
    return any(k in KINDS_NEEDING_VERIFICATION for k in kinds)
