"""A complaint's outcome: what staff found and will do. Recording it drafts the case's reply
again with it; until then the reply cannot be approved and the case stays open."""

from __future__ import annotations

from sqlmodel import Session

from bot.errors import CaseError
from bot.reading.safe_text import stored_note
from bot.store import audit
from bot.store.records import get_case
from bot.store.tables import Draft
from bot.workflow.drafts import redraft_reply
from bot.workflow.lifecycle import claim_case, resolve_alerts
from bot.workflow.services import Services


def record_outcome(
    session: Session, services: Services, reference: str, outcome: str, *, actor: str
) -> Draft:
    outcome = stored_note(outcome)  # (it is also written into the reply)
    case = get_case(session, reference)
    claim_case(session, case)
    if "complaint" not in case.kinds:
        raise CaseError(f"{case.reference} is no complaint ({', '.join(case.kinds)})")
    if not outcome.strip():
        raise CaseError("the outcome is empty; say what was found and what NOX will do")
    case.complaint_outcome = outcome.strip()
    session.add(case)
    draft = redraft_reply(session, services, case, "the complaint's outcome was recorded")
    if draft is None:
        raise CaseError(
            f"{case.reference} is {case.status}; an outcome can be recorded while its reply "
            "waits for approval"
        )
    # The alert "a complaint arrived" asked for this outcome.
    resolve_alerts(
        session, case, ("complaint",), "outcome recorded", actor=actor, now=services.clock()
    )
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="complaint_outcome",
        request=case,
        detail=f"outcome recorded; reply drafted again as draft {draft.id}",
    )
    return draft
