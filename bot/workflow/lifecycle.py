"""The lifecycle of a request: one table of allowed moves, one function that makes them.

Nothing else changes a request's status (a case opened straight into its first state by
open_case has that move recorded here too: `transition(..., just_opened=True)`). Every
move writes an audit event (who, when, from, to, why); an illegal move raises
`IllegalTransition` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlmodel import Session, col, select

from bot.errors import ChangedMeanwhile, NoxbotError
from bot.store import audit
from bot.store.records import resolve_by
from bot.store.rows import inserted_in_this_transaction, update_now_if
from bot.store.tables import (
    FINAL_STATES,
    Draft,
    DraftStatus,
    Request,
    RequestStatus,
    StaffAlert,
    Verification,
    VerificationStatus,
)
from bot.workflow.outbox import withdraw_challenges

S = RequestStatus


#: Any open state may move to withdrawn (the person takes it back) or closed (staff).
_ALWAYS = frozenset({S.WITHDRAWN, S.CLOSED})

#: The design's diagram as a table: state → states it may move to.
ALLOWED_MOVES: dict[RequestStatus, frozenset[RequestStatus]] = {
    # Kinds that need verification wait for it; the others go straight to staff; with no
    # alternate channel on file (or an unknown sender) staff decide.
    S.RECEIVED: frozenset({S.AWAITING_VERIFICATION, S.AWAITING_APPROVAL, S.UNVERIFIED}) | _ALWAYS,
    S.AWAITING_VERIFICATION: frozenset({S.VERIFIED, S.UNVERIFIED}) | _ALWAYS,
    # A "no" from a channel on file (the old address asked to confirm a change) after the
    # case was verified sends it back to staff.
    S.VERIFIED: frozenset({S.AWAITING_APPROVAL, S.UNVERIFIED}) | _ALWAYS,
    # Staff decide: verify by phone, send a new challenge, or reply (clarification, refusal).
    S.UNVERIFIED: frozenset({S.VERIFIED, S.AWAITING_VERIFICATION, S.AWAITING_APPROVAL}) | _ALWAYS,
    S.AWAITING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.UNVERIFIED}) | _ALWAYS,
    S.APPROVED: frozenset({S.DONE}) | _ALWAYS,
    # A rejected draft is redrafted and goes back to staff.
    S.REJECTED: frozenset({S.AWAITING_APPROVAL, S.UNVERIFIED}) | _ALWAYS,
    S.DONE: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.CLOSED: frozenset(),
}

#: The one way out of a final state: staff reopen a case ended by mistake
#: (`bot.workflow.cases.reopen_case`). A case whose identity is confirmed (or whose kinds
#: need no verification) goes back to staff with a fresh reply draft; any other case goes
#: to `unverified`, where staff decide how to confirm who asked. Ordinary moves never use
#: this table, so nothing else (a late code, a redraft) can revive an ended case.
REOPEN_MOVES: dict[RequestStatus, frozenset[RequestStatus]] = {
    state: frozenset({S.AWAITING_APPROVAL, S.UNVERIFIED})
    for state in (S.DONE, S.WITHDRAWN, S.CLOSED)
}


class IllegalTransition(NoxbotError):
    """A move the lifecycle does not allow; the message names the case and both states."""


def allowed_moves(state: RequestStatus | str) -> frozenset[RequestStatus]:
    return ALLOWED_MOVES[RequestStatus(state)]


def is_open(state: RequestStatus | str) -> bool:
    return RequestStatus(state) not in FINAL_STATES


def check_move(reference: str, current: RequestStatus | str, target: RequestStatus | str) -> None:
    """Raise IllegalTransition unless the table allows current → target."""
    current, target = RequestStatus(current), RequestStatus(target)
    if target not in ALLOWED_MOVES[current]:
        allowed = ", ".join(sorted(ALLOWED_MOVES[current])) or "nothing (it is final)"
        raise IllegalTransition(
            f"{reference}: cannot move from {current} to {target}; from {current} it may move "
            f"to {allowed}"
        )


def claim_case(session: Session, request: Request) -> None:
    """Make this transaction the one that acts on the case now, before its checks: the row
    is written at once (to what it is), which one transaction at a time can do. A second
    staff action at the same moment (a double click, a colleague) waits for the first to
    end and then checks what it left - an extension notice waiting already, a person
    linked - instead of both going through on what each read before. The case is read
    again once held; ChangedMeanwhile when its state moved since it was read."""
    audit.hold_chain(session)
    hold_as_read(session, request)
    session.refresh(request)


def hold_as_read(session: Session, request: Request) -> None:
    """The case's row taken by this transaction, while it is in the state this one read
    (else ChangedMeanwhile): what is decided from that state (a reply drafted again for a
    case still waiting for approval) is not done to a case approved meanwhile."""
    if not update_now_if(session, request, {"status": request.status}, status=request.status):
        raise _changed_meanwhile(request, request.status)


def _changed_meanwhile(request: Request, was: str) -> ChangedMeanwhile:
    """What staff (or a worker, which reads its message again) are told when the case is
    no longer in the state they acted on."""
    return ChangedMeanwhile(
        f"{request.reference} changed meanwhile (it is no longer {was}); nothing was done: "
        "look at it again"
    )


def transition(
    session: Session,
    request: Request,
    target: RequestStatus | str,
    *,
    actor: str,
    reason: str,
    now: datetime,
    reopening: bool = False,
    just_opened: bool = False,
) -> None:
    """Move a case to `target` at `now` and record who did it and why, in the caller's
    transaction. `reopening` (staff's reopen only) checks `REOPEN_MOVES` instead.

    `just_opened`: the case was opened in this transaction and written in `target`, an
    open state, already (its first state known before its INSERT: one UPDATE fewer); its
    move from `received` is checked and recorded as any other."""
    target = RequestStatus(target)
    if just_opened:
        if (
            reopening
            or target in FINAL_STATES
            or request.status != target
            or not inserted_in_this_transaction(session, request)
        ):
            raise ValueError(
                f"{request.reference}: only a case just written in an open state {target} "
                "can have its move from received recorded without an UPDATE"
            )
        current = RequestStatus.RECEIVED
    else:
        current = RequestStatus(request.status)
    if reopening:
        if target not in REOPEN_MOVES.get(current, frozenset()):
            raise IllegalTransition(
                f"{request.reference}: only a finished case (done, withdrawn, closed) can be "
                f"reopened, to awaiting_approval or unverified; it is {current}"
            )
    else:
        check_move(request.reference, current, target)
    changes: dict[str, object] = {"status": target, "updated_at": now}
    if target in FINAL_STATES:
        changes["closed_at"] = now
    elif reopening:
        changes["closed_at"] = None
    audit.record(
        session,
        at=now,
        actor=actor,
        action="transition",
        request=request,
        from_state=current,
        to_state=target,
        detail=reason,
    )
    # One UPDATE now, not a flush of the case later; after the event, so that on PostgreSQL
    # the case's row is locked after the audit chain's lock, in the order the flush used
    # to take them (locking the row first could make a new deadlock with a transaction
    # that holds the chain's lock and waits for the row).
    if not just_opened and not update_now_if(session, request, {"status": current}, **changes):
        raise _changed_meanwhile(request, current)
    if target in FINAL_STATES:
        _cancel_pending_verifications(session, request, actor=actor)
        ended = f"the case ended ({target})"
        resolve_verification_alerts(session, request, ended, actor=actor, now=now)
        _supersede_waiting_drafts(session, request, keep_notices=target == RequestStatus.DONE)


def apply_extension(
    session: Session, request: Request, notice: Draft, *, now: datetime, actor: str
) -> None:
    """Art. 12(3): the longer deadline holds from the notice that tells the person of it —
    once it is sent (or handed to staff to deliver), not when it is drafted or approved."""
    extension = (notice.covers or {}).get("extension")
    if not extension or request.extended:
        return
    request.extended = True
    request.extension_reason = extension["reason"]
    request.extended_due_date = date.fromisoformat(extension["due"])
    session.add(request)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="extended",
        request=request,
        detail=f"to {request.extended_due_date}, with the notice in draft {notice.id}",
    )


def _cancel_pending_verifications(session: Session, request: Request, *, actor: str) -> None:
    """A case that has ended answers no challenge any more: a late code or button press then
    finds nothing pending instead of confirming a closed case."""
    for verification in session.exec(
        select(Verification).where(
            Verification.request_id == request.id,
            Verification.status == VerificationStatus.PENDING,
        )
    ):
        verification.status = VerificationStatus.CANCELLED
        verification.resolved_at = request.updated_at
        verification.resolved_by = actor
        verification.note = f"the case ended ({request.status})"
        session.add(verification)
        audit.record(
            session,
            at=request.updated_at,
            actor=actor,
            action="verification_cancelled",
            request=request,
        )
    withdraw_challenges(session, request.id)


def _supersede_waiting_drafts(session: Session, request: Request, keep_notices: bool) -> None:
    """A case that has ended sends nothing more: drafts still waiting for approval or an
    edit (a second notice, a reply after a refusal) are superseded, not left in the queue.
    Except, when it ended done, its Art. 19 notices: they tell recipients what the approved
    reply carried out, and staff approve them after it."""
    for draft in session.exec(
        select(Draft).where(
            Draft.request_id == request.id,
            col(Draft.status).in_([DraftStatus.AWAITING_APPROVAL, DraftStatus.REJECTED]),
        )
    ):
        if keep_notices and draft.purpose == "art19_notice":
            continue
        draft.status = DraftStatus.SUPERSEDED
        session.add(draft)


#: Alerts that ask staff to establish who asked (call the number on file, decide how to
#: confirm): they are dealt with once the case is verified, or moot once it has ended.
VERIFICATION_ALERTS = ("call_to_verify", "unverified", "verification_failed")


def resolve_verification_alerts(
    session: Session, request: Request, why: str, *, actor: str, now: datetime
) -> None:
    resolve_alerts(session, request, VERIFICATION_ALERTS, why, actor=actor, now=now)


def resolve_alerts(
    session: Session,
    request: Request,
    kinds: Iterable[str],
    why: str,
    *,
    actor: str,
    now: datetime,
) -> None:
    """The case's open alerts of these kinds, resolved by what `actor` just did (`why`, in
    words for the case's history)."""
    for alert in list(
        session.exec(
            select(StaffAlert).where(
                StaffAlert.request_id == request.id,
                col(StaffAlert.kind).in_(list(kinds)),
                col(StaffAlert.resolved_at).is_(None),
            )
        )
    ):
        resolve_by(session, alert, why, actor=actor, now=now, case=request)
