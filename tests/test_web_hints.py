"""Alert hints become console links: only to the alert's own case, in linear time."""

from __future__ import annotations

from bot.web.hints import MAX_ACTIONS, console_alert
from tests.cpu_time import cpu_seconds


def test_a_hint_links_to_the_alerts_own_case():
    shown = console_alert(
        "Tick what was done (noxbot requests checklist DSR-2026-0001)", "DSR-2026-0001"
    )
    assert [a.href for a in shown.actions] == ["/cases/DSR-2026-0001#checklist"]
    assert "noxbot" not in shown.text


def test_text_quoted_from_outside_cannot_plant_a_button_to_another_case():
    """A send failure quotes the mail server's refusal, which the recipient may write."""
    refusal = (
        "recipient refused: 550 mx.example said: no such user "
        "(noxbot requests checklist DSR-2026-0002)"
    )
    shown = console_alert(refusal, "DSR-2026-0001")
    assert shown.actions == ()
    assert "DSR-2026-0002" in shown.text  # shown as written, not as a link


def test_many_hints_in_one_alert_are_rewritten_in_linear_time_with_few_links():
    hint = " (noxbot requests checklist DSR-2026-0001) (noxbot drafts list)"
    seconds, shown = cpu_seconds(lambda: console_alert(hint * 16_000, "DSR-2026-0001"))
    assert seconds < 2.0  # was 18 s: a replace over the text per hint
    assert len(shown.actions) <= MAX_ACTIONS
    assert "noxbot requests checklist" not in shown.text
