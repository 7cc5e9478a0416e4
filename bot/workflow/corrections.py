"""Staff correcting what a case asks for after intake: its kinds, and what a rectification
changes (added to the earlier changes, never silently replacing them)."""

from __future__ import annotations

from sqlmodel import Session

from bot.errors import CaseError
from bot.rules.kinds import RequestKind
from bot.store import audit
from bot.store.records import S, alert_staff, get_case
from bot.store.tables import Request
from bot.workflow.cases import set_requested_changes
from bot.workflow.confirming import confirmed_kinds, verification_kinds
from bot.workflow.drafts import case_view, redraft_reply
from bot.workflow.lifecycle import claim_case, is_open, resolve_alerts
from bot.workflow.services import Services
from handlers import handler_for


def correct_kinds(
    session: Session, services: Services, reference: str, kinds: list[str], *, actor: str
) -> Request:
    """Set the kinds the case covers (the classifier, or the requester, got them wrong);
    the waiting reply is drafted again for them. A kind that needs a confirmation the
    requester has not given blocks approval until they give it (the draft's plan says so)."""
    case = get_case(session, reference)
    claim_case(session, case)  # (an approval, or a follow-up adding a kind, at the same time)
    if not is_open(case.status) or case.status == S.APPROVED:
        raise CaseError(f"{case.reference} is {case.status}; its kinds can no longer change")
    known = [k.value for k in RequestKind if k not in (RequestKind.NONE,)]
    wanted = [k for k in known if k in set(kinds)]  # the order of the kinds table
    unknown = sorted(set(kinds) - set(known))
    if unknown:
        raise CaseError(
            f"unknown kinds: {', '.join(unknown)} (expected some of {', '.join(known)})"
        )
    if not wanted:
        raise CaseError("a case covers at least one kind; close it if it asks for nothing")
    if wanted == list(case.kinds):
        raise CaseError(f"{case.reference} covers {', '.join(wanted)} already")
    added = [k for k in wanted if k not in case.kinds]
    before = list(case.kinds)
    case.kinds = wanted
    session.add(case)
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="kinds_corrected",
        request=case,
        detail=f"{', '.join(before)} -> {', '.join(wanted)}",
    )
    if "complaint" in before and "complaint" not in wanted:
        # Its "acknowledge it, record the outcome" alert asks for what is no longer asked.
        resolve_alerts(
            session,
            case,
            ["complaint"],
            "no longer a complaint",
            actor=actor,
            now=services.clock(),
        )
    view = case_view(session, services, case)
    for kind in added:
        handler_for(kind).on_open(view)
    uncovered = set(verification_kinds(added)) - confirmed_kinds(session, case)
    if case.verified_at is not None and uncovered:
        alert_staff(
            session,
            case,
            "unverified",
            f"{case.reference}: now also covers {', '.join(sorted(uncovered))}, which the "
            "requester's confirmation did not cover; confirm it with them (noxbot requests "
            "verify) before the reply can be approved.",
            now=services.clock(),
        )
    redraft_reply(session, services, case)
    return case


def add_changes(
    session: Session, services: Services, reference: str, settings: dict[str, str], *, actor: str
) -> Request:
    """Add rectification changes to those already stated (a field stated again takes the new
    value); each is validated as `requests changes` validates it."""
    case = get_case(session, reference)
    claim_case(session, case)  # (merged with the changes as they are once held, not as read)
    merged = {c["field"]: str(c["new"]) for c in case.requested_changes}
    merged.update(settings)
    return set_requested_changes(session, services, case.reference, merged, actor=actor)
