"""Flat cost: every query the pipeline makes for an inbound message is served by an index,
so a message costs the same with 100,000 earlier ones as with none (bench/ingest.py
measures it). Checked with SQLite's own query planner on the statements really sent."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.workflow_kit import make_world


def _plans(world, statements: dict[str, object]) -> dict[str, list[str]]:
    with world.database.engine.connect() as connection:
        return {
            statement: [
                row[3]
                for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            ]
            for statement, params in statements.items()
        }


@pytest.mark.parametrize("at_once", [False, True], ids=["ack-drafted", "ack-at-once"])
def test_no_query_of_the_pipeline_reads_a_whole_table(tmp_path, at_once):
    # (`at_once`: acknowledgements go out at once, the default: each asks whether one
    # went to the same address within the day)
    from bot.config import VerificationSettings

    world = make_world(tmp_path, verification=VerificationSettings(acknowledge_at_once=at_once))
    statements: dict[str, object] = {}

    @event.listens_for(world.database.engine, "before_cursor_execute")
    def keep(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            statements.setdefault(statement, parameters)

    # The paths a message can take: a request by mail and by chat (challenges go out), a
    # code answer, a reply in a case's thread, a reference in the subject, business mail,
    # an unsure message, an automated one.
    opened = world.email("anna.lindqvist@example.se", "Jag vill ha ut alla mina personuppgifter.")
    world.chat("5550002", "Please delete all personal data you have about me.")
    world.email("john.carter@example.com", "123456", subject="Re: confirm")
    world.email(
        "anna.lindqvist@example.se",
        "Och radera dem sedan.",
        in_reply_to="<m1@example.test>",
        references=["<m1@example.test>"],
    )
    world.email("anna.lindqvist@example.se", "Hur går det?", subject=f"Re: {opened.reference}")
    world.email("kund@example.com", "Har ni en Java-konsult i mars?")
    world.email("kund@example.com", "Vad har ni om mig?")
    world.email("noreply@example.com", "Out of office", headers={"auto-submitted": "auto-replied"})
    world.chat("5550002", "Any news?")
    assert len(statements) > 10
    # (the once-a-day check for acknowledgements sent at once is among them)
    assert any("draft.decided_at >=" in s for s in statements) == at_once

    whole_table = {
        statement: plan
        for statement, plan in _plans(world, statements).items()
        # A scan that walks the primary key backwards and stops at LIMIT (the audit chain's
        # newest hash) reads one row; any other SCAN reads them all.
        if any(line.startswith("SCAN") for line in plan)
        and not ("LIMIT" in statement and not any("TEMP B-TREE" in line for line in plan))
    }
    assert not whole_table, whole_table


def test_a_request_from_a_person_on_file_reads_no_other_cases_drafts(tmp_path):
    # Its rectification check once read every open draft of every case: a cost that grew
    # with the number of cases waiting for staff.
    from bot.store.tables import Draft

    world = make_world(tmp_path)
    waiting = [world.email(f"ny{n}@example.com", "Vad har ni om mig?") for n in range(5)]
    assert all(o.reference for o in waiting)  # each with an acknowledgement waiting
    loaded: list[Draft] = []

    @event.listens_for(Draft, "load")
    def keep(draft, _context):  # type: ignore[no-untyped-def]
        loaded.append(draft)

    try:
        opened = world.email(
            "anna.lindqvist@example.se", "Jag vill att ni raderar alla mina personuppgifter."
        )
    finally:
        event.remove(Draft, "load", keep)
    assert opened.reference is not None, opened
    case = world.case(opened.reference)
    assert case.subject_id is not None  # a person on file: a challenge went out
    assert {d.request_id for d in loaded} <= {case.id}, [d.request_id for d in loaded]
