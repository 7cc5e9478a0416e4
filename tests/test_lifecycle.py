"""The lifecycle: every allowed move works and is audited; every other move is refused."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from bot.store.audit import verify_chain
from bot.store.tables import AuditEvent, Request, RequestStatus
from bot.workflow.lifecycle import (
    ALLOWED_MOVES,
    FINAL_STATES,
    REOPEN_MOVES,
    IllegalTransition,
    check_move,
    is_open,
    transition,
)

S = RequestStatus
NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
ALL_MOVES = [(a, b) for a in S for b in S]
LEGAL = [(a, b) for a, b in ALL_MOVES if b in ALLOWED_MOVES[a]]
ILLEGAL = [(a, b) for a, b in ALL_MOVES if b not in ALLOWED_MOVES[a]]


def _case(session, status: RequestStatus) -> Request:
    request = Request(
        reference="DSR-2026-0001",
        kinds=["erasure"],
        channel="email",
        requester_address="anna@example.se",
        status=status,
        received_at=NOW,
        created_at=NOW,
        updated_at=NOW,
        due_date=date(2026, 12, 24),
        target_date=date(2026, 12, 8),
    )
    session.add(request)
    session.flush()
    return request


def test_the_design_diagram_moves_are_allowed():
    path = [
        S.RECEIVED,
        S.AWAITING_VERIFICATION,
        S.VERIFIED,
        S.AWAITING_APPROVAL,
        S.APPROVED,
        S.DONE,
    ]
    for a, b in itertools.pairwise(path):
        check_move("DSR-2026-0001", a, b)
    check_move("DSR-2026-0001", S.RECEIVED, S.AWAITING_APPROVAL)  # kinds needing no verification
    check_move("DSR-2026-0001", S.AWAITING_VERIFICATION, S.UNVERIFIED)
    check_move("DSR-2026-0001", S.AWAITING_APPROVAL, S.REJECTED)


@pytest.mark.parametrize("state", [s for s in S if s not in FINAL_STATES])
def test_any_open_case_can_be_withdrawn_or_closed(state):
    assert {S.WITHDRAWN, S.CLOSED} <= ALLOWED_MOVES[state]
    assert is_open(state)


@pytest.mark.parametrize("state", sorted(FINAL_STATES))
def test_a_finished_case_never_moves_again(state):
    assert ALLOWED_MOVES[state] == frozenset()
    assert not is_open(state)


REOPENS = [(a, b) for a, b in ALL_MOVES if b in REOPEN_MOVES.get(a, frozenset())]
NOT_REOPENS = [(a, b) for a, b in ALL_MOVES if b not in REOPEN_MOVES.get(a, frozenset())]


@pytest.mark.parametrize(("current", "target"), REOPENS, ids=[f"{a}->{b}" for a, b in REOPENS])
def test_only_staffs_reopen_moves_a_finished_case_back_to_staff(database, current, target):
    with database.session() as session:
        request = _case(session, current)
        request.closed_at = NOW
        with pytest.raises(IllegalTransition):
            transition(session, request, target, actor="staff:eva", reason="plain", now=NOW)
        transition(
            session, request, target, actor="staff:eva", reason="reopened: x", now=NOW,
            reopening=True,
        )  # fmt: skip
        assert (request.status, request.closed_at) == (target, None)


@pytest.mark.parametrize(
    ("current", "target"), NOT_REOPENS, ids=[f"{a}->{b}" for a, b in NOT_REOPENS]
)
def test_reopening_moves_nothing_but_a_finished_case_to_staff(database, current, target):
    with database.session() as session:
        request = _case(session, current)
        with pytest.raises(IllegalTransition):
            transition(
                session, request, target, actor="staff:eva", reason="x", now=NOW, reopening=True
            )
        assert request.status == current


@pytest.mark.parametrize(("current", "target"), LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
def test_each_legal_move_changes_the_status_and_writes_an_audit_event(database, current, target):
    with database.session() as session:
        request = _case(session, current)
        transition(session, request, target, actor="staff:eva", reason="test move", now=NOW)
        assert request.status == target
        events = session.exec(select(AuditEvent)).all()
        assert [(e.from_state, e.to_state, e.actor, e.detail) for e in events] == [
            (current, target, "staff:eva", "test move")
        ]
        assert (request.closed_at is not None) == (target in FINAL_STATES)


@pytest.mark.parametrize(("current", "target"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_each_illegal_move_is_refused_and_changes_nothing(database, current, target):
    with database.session() as session:
        request = _case(session, current)
        with pytest.raises(IllegalTransition) as caught:
            transition(session, request, target, actor="staff:eva", reason="should fail", now=NOW)
        assert request.status == current
        assert session.exec(select(AuditEvent)).all() == []
    message = str(caught.value)
    assert "DSR-2026-0001" in message and str(current) in message and str(target) in message


def test_moves_are_chained_in_the_audit_trail(database):
    with database.session() as session:
        request = _case(session, S.RECEIVED)
        for target in (S.AWAITING_VERIFICATION, S.VERIFIED, S.AWAITING_APPROVAL):
            transition(session, request, target, actor="noxbot", reason="flow", now=NOW)
    with database.session() as session:
        count, problems = verify_chain(session)
    assert count == 3 and problems == []


def test_a_move_recorded_without_an_update_is_only_for_a_case_just_opened_in_it(database):
    """`just_opened` records received → target for a case written in `target` by this very
    transaction; on a stored case, or towards a final state, it refuses and records nothing."""
    with database.session() as session:
        _case(session, S.UNVERIFIED)
        session.commit()
    with database.session() as session:
        stored = session.exec(select(Request)).one()
        for target in (S.UNVERIFIED, S.CLOSED):
            with pytest.raises(ValueError):
                transition(
                    session, stored, target, actor="system", reason="x", now=NOW,
                    just_opened=True,
                )  # fmt: skip
        assert session.exec(select(AuditEvent)).all() == []
        assert stored.status == S.UNVERIFIED
