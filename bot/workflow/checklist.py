"""The case's checklist: what staff do by hand (a system noxbot cannot reach, a source that
was down or refused) and tick off with a note before a reply can be approved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.errors import CaseError, ChangedMeanwhile
from bot.reading.safe_text import stored_note
from bot.store import audit
from bot.store.records import get_case
from bot.store.rows import update_now_if
from bot.store.tables import ChecklistItem, Request, SourceFinding


def checklist_of(session: Session, case: Request) -> list[ChecklistItem]:
    return list(
        session.exec(
            select(ChecklistItem)
            .where(ChecklistItem.request_id == case.id)
            .order_by(col(ChecklistItem.id))
        )
    )


def tick(
    session: Session, reference: str, item_id: int, note: str, *, actor: str, now: datetime
) -> ChecklistItem:
    """Tick one item off with what staff did; the note stays on the case."""
    note = stored_note(note)
    case = get_case(session, reference)
    item = session.get(ChecklistItem, item_id)
    if item is None or item.request_id != case.id:
        raise CaseError(f"{case.reference} has no checklist item {item_id}")
    if item.done_at is not None:
        raise CaseError(f"checklist item {item_id} was ticked off by {item.done_by} already")
    if not note.strip():
        raise CaseError("say in --note what was done (it stays on the case)")
    done = {"done_at": now, "done_by": actor, "note": note.strip()}
    audit.hold_chain(session)  # (the chain first, then rows: see hold_chain)
    if not update_now_if(session, item, {"done_at": None}, **done):
        raise ChangedMeanwhile(f"checklist item {item_id} was ticked off meanwhile")
    audit.record(
        session,
        at=now,
        actor=actor,
        action="checklist_ticked",
        request=case,
        detail=f"item {item_id} ({item.source})",
    )
    return item


def sources_json(session: Session, case: Request) -> dict[str, Any]:
    """What the sources hold for the case and the checklist, for `requests checklist`."""
    findings = session.exec(
        select(SourceFinding)
        .where(SourceFinding.request_id == case.id)
        .order_by(col(SourceFinding.id))
    )
    return {
        "reference": case.reference,
        "findings": [
            {
                "id": f.id,
                "source": f.source,
                "summary": f.summary,
                "category": f.category,
                "erasable": f.erasable,
                "state": f.state,
                "outcome": f.outcome,
            }
            for f in findings
        ],
        "checklist": [
            {
                "id": i.id,
                "source": i.source,
                "task": i.task,
                "done": i.done_at is not None,
                "done_by": i.done_by,
                "done_at": i.done_at,
                "note": i.note,
            }
            for i in checklist_of(session, case)
        ],
    }
