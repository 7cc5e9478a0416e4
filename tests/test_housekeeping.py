"""Reminders before deadlines, and retention of finished cases."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import select

from bot.store.tables import AuditEvent, Message, Request
from bot.workflow.approval import approve_draft
from bot.workflow.housekeeping import purge_closed, reminders
from tests.workflow_kit import ANNA_TELEGRAM


def test_reminders_come_after_the_target_and_before_the_legal_deadline(world):
    outcome = world.email("someone@example.org", "Please unsubscribe me from your newsletter.")
    case = world.case(outcome.reference)  # received 2026-11-24: target 12-08, due 12-24
    with world.session() as session:
        assert reminders(session, date(2026, 12, 1), [7, 2, 0]) == []
        [past_target] = reminders(session, date(2026, 12, 9), [7, 2, 0])
        assert "internal target" in past_target.why
        [soon] = reminders(session, date(2026, 12, 21), [7, 2, 0])
        assert soon.why == "due in 3 working day(s)" and soon.due == case.due_date
        [late] = reminders(session, date(2026, 12, 29), [7, 2, 0])
        assert late.why.startswith("overdue")


async def test_retention_purges_messages_of_long_finished_cases_but_keeps_the_record(world):
    outcome = world.chat(ANNA_TELEGRAM, "sluta skicka nyhetsbrev till mig")
    with world.database.session() as session:
        approve_draft(
            session, world.services, world.reply_draft(outcome.reference).id, actor="staff:eva"
        )
    with world.session() as session:
        assert purge_closed(session, world.services, date(2030, 1, 1)) == []  # not sent yet
    await world.deliver()
    case = world.case(outcome.reference)
    assert case.status == "done"
    closed = case.closed_at.date()
    keep = world.services.settings.retention.closed_request_days
    with world.database.session() as session:
        assert purge_closed(session, world.services, closed + timedelta(days=keep)) == []
        assert purge_closed(session, world.services, closed + timedelta(days=keep + 1)) == [
            outcome.reference
        ]
    with world.session() as session:
        kept = session.exec(select(Message).where(Message.request_id == case.id)).all()
        # What came in keeps an empty row (so it is never read as new again); what went out
        # is gone.
        assert [(m.direction, m.text, m.classification) for m in kept] == [("in", "", None)]
        assert session.exec(select(Request)).one().reference == outcome.reference
        actions = [e.action for e in session.exec(select(AuditEvent))]
        assert actions[-1] == "retention_purge"


def test_daily_reminders_become_alerts_once_a_day(world):
    from bot.workflow.housekeeping import raise_daily_reminders

    world.email("someone@example.org", "Please unsubscribe me from your newsletter.")
    with world.database.session() as session:
        assert raise_daily_reminders(session, world.services, date(2026, 12, 21)) == 1
        assert raise_daily_reminders(session, world.services, date(2026, 12, 21)) == 0
        assert raise_daily_reminders(session, world.services, date(2026, 12, 22)) == 1
    assert [a.kind for a in world.alerts("deadline")] == ["deadline", "deadline"]
    assert "due in 3 working day(s)" in world.alerts("deadline")[0].text


def test_a_deadline_alert_names_the_case_status_in_words_not_its_enum_name(world):
    """`alerts list` and the staff chat read "(checking identity)", as every list says it,
    not "(awaiting_verification)"."""
    from bot.workflow.housekeeping import raise_daily_reminders

    world.email("anna.lindqvist@example.se", "Jag vill få ut alla uppgifter ni har om mig.")
    with world.database.session() as session:
        assert raise_daily_reminders(session, world.services, date(2026, 12, 21)) == 1
    [alert] = world.alerts("deadline")
    assert alert.text.startswith("DSR-2026-0001 (checking identity): due in 3 working day(s)")
    assert "awaiting_verification" not in alert.text


def test_each_case_has_one_open_deadline_alert_saying_where_it_stands_today(world):
    """Before, a new deadline alert was added every day beside the earlier ones: a case a
    week from its date had five open alerts in `alerts list`, four of them out of date."""
    from bot.workflow.housekeeping import raise_daily_reminders

    world.email("anna.lindqvist@example.se", "Jag vill få ut alla uppgifter ni har om mig.")
    for day in (17, 18, 21, 22, 28):
        with world.database.session() as session:
            assert raise_daily_reminders(session, world.services, date(2026, 12, day)) == 1
    alerts = world.alerts("deadline")
    assert len(alerts) == 5
    [open_alert] = [a for a in alerts if a.resolved_at is None]
    assert "overdue by 1 working day(s)" in open_alert.text
    assert {a.resolved_by for a in alerts if a.resolved_at is not None} == {"noxbot"}
