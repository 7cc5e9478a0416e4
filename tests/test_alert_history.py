"""Alerts resolved by another action (a withdrawn reply, an erasure, a confirmed identity, a
case that ended): the case's history says which alert went and why, as it does when staff
resolve one, and `alerts list --all` says who resolved each and how (DPO review)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.store.records import get_case
from bot.workflow.cases import close_case
from bot.workflow.views import case_document_json
from bot.workflow.words import history_words
from tests.cli_kit import run, run_json, write_config
from tests.test_promises import verified
from tests.workflow_kit import ERIK_EMAIL, World

ROOT = Path(__file__).resolve().parent.parent


def history(world: World, reference: str) -> list[str]:
    """The case's history as `requests show` words it: actor, action, detail."""
    with world.session() as session:
        case = get_case(session, reference)
        document = case_document_json(session, world.services, case, world.clock().date())
    return [
        f"{e['actor']} {e['action'].replace('_', ' ')}: {history_words(e['detail'])}"
        for e in document["history"]
    ]


async def test_closing_a_case_whose_reply_gave_up_says_in_its_history_the_alert_went(world):
    """The reply could not be sent; staff closed the case, which withdrew it and resolved
    its "could not be sent" alert: the history said nothing of the alert."""
    export = await verified(world, "Please send me my personal data as JSON.", "Export")
    reply = world.approve(world.reply_draft(export).id)
    await world.refused_until_given_up()
    [failed] = [a for a in world.alerts("send_failed") if f"outbox {reply.id} " in a.text]
    with world.database.session() as session:
        close_case(session, world.services, export, "answered by phone", actor="staff:eva")
    said = [line for line in history(world, export) if f"alert {failed.id} " in line]
    assert said == [
        f"staff:eva alert resolved: alert {failed.id} (send failed) resolved: "
        "reply withdrawn: the case was closed without it"
    ]


async def test_an_erasure_says_in_the_other_cases_history_that_their_call_alert_went(world):
    other = world.email(ERIK_EMAIL, "Jag vill ha en kopia av alla personuppgifter ni har om mig.")
    erase = world.email(ERIK_EMAIL, "Radera alla mina personuppgifter, artikel 17.", "Radering")
    world.call_confirms(erase.reference)
    world.approve(world.reply_draft(erase.reference).id)
    [alert] = [a for a in world.alerts("call_to_verify") if a.text.startswith("(no call")]
    said = [line for line in history(world, other.reference) if "alert resolved" in line]
    assert len(said) == 1
    assert said[0].endswith(
        f"alert {alert.id} (call to verify) resolved: {erase.reference} erased the person's data"
    )
    assert "+46" not in said[0] and "Erik" not in said[0]  # nothing the history did not show


def test_a_call_recorded_says_in_the_history_the_call_alert_went(world: World):
    reference = world.email(ERIK_EMAIL, "Radera alla mina personuppgifter, artikel 17.").reference
    [alert] = world.alerts("call_to_verify")
    world.call_confirms(reference)
    said = [line for line in history(world, reference) if "alert resolved" in line]
    assert len(said) == 1 and f"alert {alert.id} (call to verify) resolved: " in said[0]
    assert said[0].endswith("identity confirmed")


def test_a_case_closed_says_in_its_history_its_call_alert_went(world: World):
    reference = world.email(ERIK_EMAIL, "Radera alla mina personuppgifter, artikel 17.").reference
    [alert] = world.alerts("call_to_verify")
    with world.database.session() as session:
        close_case(session, world.services, reference, "asked twice", actor="staff:eva")
    said = [line for line in history(world, reference) if "alert resolved" in line]
    assert said == [
        f"staff:eva alert resolved: alert {alert.id} (call to verify) resolved: "
        "the case ended (closed)"
    ]


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """The CLI's config with the example register imported, wide enough not to wrap."""
    path = write_config(tmp_path, monkeypatch)
    monkeypatch.setenv("COLUMNS", "250")
    assert run("subjects", "import", str(ROOT / "examples" / "register.csv"))[0] == 0
    return path


def new_case(tmp_path: Path, text: str) -> str:
    note = tmp_path / "note.txt"
    note.write_text(text)
    return run_json(
        "requests", "new", "--channel", "email", "--from", ERIK_EMAIL, "--text-file", str(note)
    )["reference"]


def test_alerts_list_all_says_who_resolved_each_alert_and_how(config, tmp_path):
    """`alerts list --all` said when an alert was resolved, not by whom nor how: a call
    alert that staff resolved read the same as one the case's closing resolved."""
    first = new_case(tmp_path, "Radera alla mina personuppgifter, artikel 17.")
    second = new_case(tmp_path, "Jag vill ha en kopia av alla personuppgifter ni har om mig.")
    calls = {a["text"].split(":")[0]: a["id"] for a in run_json("alerts", "list")}
    assert run("alerts", "resolve", str(calls[first]), "--note", "Called Erik, no answer")[0] == 0
    assert run("requests", "close", second, "--reason", "asked twice")[0] == 0

    listed = {a["id"]: a for a in run_json("alerts", "list", "--all")}
    by_hand, by_closing = listed[calls[first]], listed[calls[second]]
    assert (by_hand["resolved_by"], by_hand["resolution"]) == (
        "staff:eva",
        "Called Erik, no answer",
    )
    assert (by_closing["resolved_by"], by_closing["resolution"]) == (
        "staff:eva",
        "the case ended (closed)",
    )
    code, shown = run("alerts", "list", "--all")
    assert code == 0
    from bot.cli.output import iso_as_local

    when = iso_as_local(by_closing["resolved_at"], "Europe/Stockholm")
    [line] = [line for line in shown.splitlines() if line.startswith(f"{calls[second]} ")]
    assert f"{when} by staff:eva: the case ended (closed)" in line
    [line] = [line for line in shown.splitlines() if line.startswith(f"{calls[first]} ")]
    assert "by staff:eva: Called Erik, no answer" in line
    assert json.loads(run("alerts", "list", "--format", "json")[1]) == []  # none open
