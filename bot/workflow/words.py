"""Case states in the words staff read: what the case is at, and whom it waits on."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.rules.kinds import RequestKind
from bot.rules.verification import Method
from bot.store.register import as_written
from bot.store.tables import RequestStatus as S

#: A draft staff rejected leaves the case "to redraft", never "rejected" (which would read as
#: the person's request being turned down).
STATUS_WORDS: dict[str, str] = {
    S.RECEIVED: "received",
    S.AWAITING_VERIFICATION: "checking identity",
    S.VERIFIED: "identity confirmed",
    S.UNVERIFIED: "identity not confirmed",
    S.AWAITING_APPROVAL: "draft to approve",
    S.APPROVED: "approved, sending",
    S.DONE: "answered",
    S.REJECTED: "draft rejected, to redraft",
    S.WITHDRAWN: "withdrawn",
    S.CLOSED: "closed",
}

WAITS_ON: dict[str, str] = {
    S.RECEIVED: "staff: decide what the message asks",
    S.AWAITING_VERIFICATION: "the requester: answer the verification challenge",
    S.VERIFIED: "noxbot: drafting the reply",
    S.UNVERIFIED: "staff: verify another way, resend the challenge, or reply",
    S.AWAITING_APPROVAL: "staff: approve, edit or reject the draft",
    S.APPROVED: "the outbox: sending the approved reply",
    S.DONE: "nobody",
    S.REJECTED: "staff: edit the draft or redraft (noxbot requests redraft)",
    S.WITHDRAWN: "nobody",
    S.CLOSED: "nobody",
}


#: What became of an inbound message, in words (MessageState's names are for scripts).
MESSAGE_STATE_WORDS: dict[str, str] = {
    "received": "received",
    "request": "a new case",
    "thread": "added to a case",
    "verification_answer": "a verification answer",
    "not_a_request": "not a request",
    "automated": "automated mail",
    "triage": "to staff triage (kinds unclear)",
    "malformed": "unreadable, kept for staff",
}


def message_state_words(state: str) -> str:
    return MESSAGE_STATE_WORDS.get(state, state.replace("_", " "))


#: A press of a Telegram confirmation button as a case's thread shows it: the message it
#: is kept as has no text. "unknown": pressed before the reason named the button.
PRESSED_WORDS = {
    "yes": 'pressed "Yes, that was me" on the verification challenge',
    "no": 'pressed "No, it wasn\'t me" on the verification challenge',
    "unknown": "pressed a button of the verification challenge",
}
#: The reason confirming.answer_button gives a press: "verification v:12:y…".
_PRESS = re.compile(r"verification v:\d+:([yn])\b")


def button_pressed(state: str, reason: str | None, text: str) -> str | None:
    """ "yes", "no" or "unknown" for a message that is a press of a confirmation button (a
    verification answer without text: a code typed is text); None for anything else."""
    if state != "verification_answer" or text.strip():
        return None
    match = _PRESS.match(reason or "")
    if match is None:
        return "unknown"
    return "yes" if match.group(1) == "y" else "no"


def outcome_words(state: str, detail: str) -> str:
    """A message that opened no case: what it was, and why when that adds something."""
    words = message_state_words(state)
    if not detail or state == "not_a_request" or (state == "triage" and detail in _SAID):
        return words
    return f"{words} ({detail})"


#: Details that only repeat what the state's words say.
_SAID = frozenset({"classifier unsure"})


def kinds_words(kinds: list[str]) -> str:
    return ", ".join(name_words(k) for k in kinds)


def status_words(status: str) -> str:
    return STATUS_WORDS.get(status, status.replace("_", " "))


def waits_on(status: str) -> str:
    return WAITS_ON.get(status, "")


#: A draft's status in a list: what staff are to do with it.
DRAFT_STATUS_WORDS: dict[str, str] = {
    "awaiting_approval": "to approve",
    "approved": "approved",
    "rejected": "rejected, to edit",
    "superseded": "replaced",
}

#: Names that do not read right with the underscores taken out.
_NAMES: dict[str, str] = {
    "art19_notice": "Art. 19 notice",
    "marketing_optout": "marketing opt-out",
}


def draft_status_words(status: str) -> str:
    return DRAFT_STATUS_WORDS.get(status, status.replace("_", " "))


def name_words(name: str) -> str:
    """A kind, draft purpose or alert kind as words ("possible impersonation"), for lists;
    scripts read the names themselves from --format json."""
    return _NAMES.get(name, name.replace("_", " "))


#: Verification methods as staff say them; each names its channel, so "via phone" is not
#: repeated after it.
METHOD_WORDS: dict[str, str] = {
    Method.TELEGRAM_CONFIRM: "Telegram confirmation",
    Method.EMAIL_CODE: "code by email",
    Method.PHONE_CALL: "phone call",
}


def method_words(method: str) -> str:
    return METHOD_WORDS.get(method, method.replace("_", " "))


#: Names that appear in the history's stored details ("phone_call via phone", "outbox 1
#: (verification_challenge) to telegram") and read better as words. Only these are
#: rewritten: a staff note quoted in a detail keeps its own underscores.
_DETAIL_NAMES: frozenset[str] = frozenset(
    {*(k.value for k in RequestKind), *(m.value for m in Method)}
    | {s.value for s in S}
    | {"verification_challenge", "verification_result", "art19_notice", "no_data"}
    | {"complaint_acknowledgment"}
    # alert kinds a history entry names ("alert 7 (call_to_verify) resolved: …")
    | {"call_to_verify", "send_failed", "verification_failed", "erasure_withdrew"}
)
_METHOD_VIA = re.compile(
    r"\b(" + "|".join(m.value for m in Method) + r") via (telegram|email|phone)\b"
)
#: The channel each method goes by: "phone_call via phone" says it twice.
_OWN_CHANNEL = {
    Method.PHONE_CALL: "phone",
    Method.EMAIL_CODE: "email",
    Method.TELEGRAM_CONFIRM: "telegram",
}
#: A name standing alone: not part of an address or a file name ("no_data@example.se").
_NAME = re.compile(r"(?<![\w.@+-])[a-z0-9]+(?:_[a-z0-9]+)+(?![\w@+-]|\.\w)")


def history_words(detail: str) -> str:
    """A history entry's stored detail in staff words: method and kind names as words
    ("phone call", "marketing opt-out"); what the names hold stays as written."""
    detail = _METHOD_VIA.sub(_method_via, detail)
    return _NAME.sub(lambda m: _detail_name(m.group(0)), detail)


def _method_via(match: re.Match[str]) -> str:
    method, channel = match.group(1), match.group(2)
    words = method_words(method)
    return words if _OWN_CHANNEL.get(Method(method)) == channel else f"{words} via {channel}"


def _detail_name(name: str) -> str:
    if name in METHOD_WORDS:
        return method_words(name)
    return name_words(name) if name in _DETAIL_NAMES else name


def action_words(action: str) -> str:
    """A history entry's action ("verification_started") as words; one that names a kind
    ("carried_out_marketing_optout") names it as lists do ("marketing opt-out")."""
    kind = action.removeprefix("carried_out_")
    if kind != action and kind in _NAMES:
        return f"carried out {name_words(kind)}"
    return action.replace("_", " ")


def address_words(channel: str, address: str) -> str:
    """Whom an address reaches, as staff read it: a Telegram chat id is a bare number that
    says nothing to a newcomer, so it is named ("Telegram user 5550009"); an email address
    or phone number speaks for itself, the number written the international way with spaces
    ("+46 70 123 45 67", not the stored "+46701234567")."""
    if channel == "telegram":
        return f"Telegram user {address}"
    return as_written(address, "phone", "en") if channel == "phone" else address


#: The address a phone verification staff recorded themselves carries (no challenge went).
STAFF_CALL = "staff call"


def challenge_words(method: str, channel: str, address: str) -> str:
    """A verification as staff read it: "code by email to anna@…", or, for one staff
    recorded after calling, "a call staff made" (not "phone call to staff call")."""
    if address == STAFF_CALL:
        return "a call staff made to the number on file"
    return f"{method_words(method)} to {address_words(channel, address)}"


def party_words(channel: str, address: str, name: str | None = None) -> str:
    """A requester or correspondent: the name on file when known, with the address."""
    where = address_words(channel, address)
    if not name:
        return where
    return f"{name} ({where})" if channel == "telegram" else f"{name} <{where}>"


#: A challenge's message as staff read it, by its outbox status (see `delivery_words`).
DELIVERY_WORDS = {
    "queued": "queued, not sent yet",
    "sending": "being sent",
    "failed": "could not be sent",
    "cancelled": "withdrawn before it was sent",
}


def delivery_words(delivery: str | None, sent_at: str | None, clock: Callable[[str], str]) -> str:
    """ ", sent 10:02 CET" or ", queued, not sent yet": whether a challenge's message has
    gone (a challenge is made, and its message queued, in one step); "" for a call staff
    make or one whose message is not kept. `clock` writes an ISO time as staff read it."""
    if delivery == "sent" and sent_at:
        return f", sent {clock(sent_at)}"
    words = DELIVERY_WORDS.get(delivery or "")
    return f", {words}" if words else ""


def challenge_started_words(method: str, address: str | None = None) -> str:
    """A challenge just made, as the history and the command line say it: its message is
    queued (the sender sends it), and a phone call is for staff to make — neither is "sent"
    yet. Method names as stored; `history_words` turns them into words."""
    if method == Method.PHONE_CALL:
        whom = f"call {address}" if address else "call the number on file"
        return f"verification by {method}: staff to {whom}"
    return f"verification by {method} queued" + (f" for {address}" if address else "")
