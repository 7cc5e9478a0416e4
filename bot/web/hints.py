"""Alert texts in the console: a command-line hint for something the console does itself
("Acknowledge it (noxbot drafts list)", "noxbot outbox retry 7 queues it again") becomes a
link to that place in the console; a hint for what only the command line does (`noxbot
requests verify`, `noxbot check`) stays as written.

Alerts are stored once, in the words the command line and the staff chat read; the console
rewrites them when it shows them, so the stored text and the audit trail never change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    """A link to where the console does what the hint said."""

    label: str
    href: str


@dataclass(frozen=True)
class ConsoleAlert:
    text: str
    actions: tuple[Action, ...]


_REF = r"DSR-\d{4}-\d{4,}"

#: (pattern, its replacement in the text, the console action it points to). The href is
#: built from the match and the alert's case reference (None: an alert with no case).
_Rule = tuple[re.Pattern[str], str, Callable[[re.Match[str], str | None], Action | None]]


def _case(anchor: str, label: str) -> Callable[[re.Match[str], str | None], Action | None]:
    def action(match: re.Match[str], reference: str | None) -> Action | None:
        # Only the alert's own case is linked: an alert may quote text from outside (a
        # mail server's refusal), which must not plant a button to another case.
        named = match.groupdict().get("ref")
        if reference is None or (named is not None and named != reference):
            return None
        return Action(label, f"/cases/{reference}#{anchor}")

    return action


_RULES: tuple[_Rule, ...] = (
    (
        re.compile(
            rf"then noxbot requests outcome (?P<ref>{_REF}) --text-file FILE"
            r"(?: \(or the case page's Complaint outcome in the console\))?"
        ),
        "then record its outcome on the case page",
        _case("complaint-outcome", "Record the complaint's outcome"),
    ),
    (
        re.compile(r" \(noxbot drafts list\)"),
        " (its drafts are on the case page)",
        _case("drafts", "The case's drafts"),
    ),
    (
        re.compile(r" \(noxbot drafts show \d+\)"),
        "",
        _case("drafts", "The approved draft"),
    ),
    (
        re.compile(rf" \(noxbot requests checklist (?P<ref>{_REF})\)"),
        " on the case page",
        _case("checklist", "The case's checklist"),
    ),
    (
        re.compile(r" \(noxbot requests changes states what to change instead\)"),
        " (state what to change instead on the case page)",
        _case("act", "State the changes"),
    ),
    (
        re.compile(r"noxbot outbox retry \d+ queues it again"),
        "retry on the outbox page queues it again",
        lambda match, reference: Action("Retry on the outbox page", "/outbox"),
    ),
)


#: At most this many links under one alert; a hint beyond them stays as written.
MAX_ACTIONS = 5


def console_alert(text: str, reference: str | None) -> ConsoleAlert:
    """The alert as the console shows it: hints it has an action for become links (one
    pass of each pattern over the text: linear in its length, whatever it quotes)."""
    actions: list[Action] = []

    for pattern, replacement, action in _RULES:

        def rewrite(match: re.Match[str], action=action, replacement=replacement) -> str:
            found = action(match, reference)
            if found is None:  # nowhere to point: the hint stays
                return match.group(0)
            if found not in actions:
                if len(actions) >= MAX_ACTIONS:
                    return match.group(0)
                actions.append(found)
            return match.expand(replacement)

        text = pattern.sub(rewrite, text)
    return ConsoleAlert(text, tuple(actions))
