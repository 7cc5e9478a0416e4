"""Every text the staff chat shows, in `[telegram] staff_language` ("sv", the default, or
"en"), in one place: card labels, buttons, decision lines, answers to presses and alert
headlines. The CLI, the JSON and the audit trail keep their English words; only what is
posted to or answered in the staff chat is rendered from here. No text names a setting.
"""

from __future__ import annotations

from bot.config import Settings
from bot.reading.safe_text import stored_name

#: What the staff chat is shown, in `[telegram] staff_language`.
TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "draft": "Utkast",
        "person": "Person",
        "not_on_file": "finns inte i registret",
        "channel": "Kanal",
        "kinds": "Gäller",
        "due": "Svar senast",
        "wrote": "Skrev",
        "to": "Till",
        "subject": "Ämne",
        "attachments": "Bilagor",
        "will": "Godkänns det kommer noxbot att",
        "blocked": "Kan inte godkännas än",
        "approve": "Godkänn v{version}",
        "reject": "Avslå",
        "approved": "✅ Godkänt av {who}, {when}",
        "rejected": "✖ Avslaget av {who}, {when}",
        "superseded": "— Ersatt av en nyare version eller ett senare steg; inget beslut behövs",
        "erased_card": (
            "{reference}: {purpose} v{v}. Personens uppgifter är raderade: kortets text är "
            "borttagen härifrån."
        ),
        "done_approve": "Utkast {id} v{version} godkänt; det skickas.",
        "done_reject": "Utkast {id} avslaget; svara på kortet med ny text för en ny version.",
        "not_done": "Inte gjort: {why}",
        "reply": "svar",
        "clarification": "förtydligande",
        "extension": "förlängning",
        "refusal": "avslag",
        "acknowledgment": "mottagningsbekräftelse",
        "not_here": "Den här knappen gör ingenting här.",
        "failed": "Det gick inte; se loggen.",
        "done_outside": (
            "Databasen vägrade efter att arbete i källorna redan gjorts (filer flyttade, rader "
            "ändrade där) och sparade inget av det; det som gjordes där är inte ogjort. Se över "
            "ärendet och dess källor innan du godkänner igen."
        ),
        "unknown_button": "Okänd knapp.",
        "no_draft": "utkast {id} finns inte",
        "edit_stale": ("utkast {id} har ersatts av version {version}; svara på det nyaste kortet"),
        "edit_closed": "utkast {id} är redan avgjort och kan inte längre ändras",
        "edit_unchanged": "texten är oförändrad; ingen ny version",
        "edit_refused": (
            "den nya texten stämmer inte med vad ett godkännande utför (ett avsnitt eller en "
            "ändring saknas eller är för mycket); noxbot drafts edit {id} säger exakt vad"
        ),
        "alert_more": "Detaljer: noxbot alerts list eller konsolen.",
    },
    "en": {
        "draft": "Draft",
        "person": "Person",
        "not_on_file": "not on file",
        "channel": "Channel",
        "kinds": "Asks for",
        "due": "Due",
        "wrote": "Wrote",
        "to": "To",
        "subject": "Subject",
        "attachments": "Attachments",
        "will": "Approving will",
        "blocked": "Cannot be approved yet",
        "approve": "Approve v{version}",
        "reject": "Reject",
        "approved": "✅ Approved by {who}, {when}",
        "rejected": "✖ Rejected by {who}, {when}",
        "superseded": (
            "— Superseded: a newer version or a later step replaced it; no decision needed"
        ),
        "erased_card": (
            "{reference}: {purpose} v{v}. The person's data was erased: the card's text is "
            "removed from here."
        ),
        "done_approve": "Draft {id} v{version} approved; it will be sent.",
        "done_reject": "Draft {id} rejected; answer its card with new text for a new version.",
        "not_done": "Not done: {why}",
        "reply": "reply",
        "clarification": "clarification",
        "extension": "extension",
        "refusal": "refusal",
        "acknowledgment": "acknowledgment",
        "not_here": "This button does nothing here.",
        "failed": "Could not be done; see the log.",
        "done_outside": (
            "The database refused this after work in the sources had been done (files moved, "
            "rows changed there) and recorded none of it; what was done there is not undone. "
            "Look at the case and its sources before approving again."
        ),
        "unknown_button": "Unknown button.",
        "no_draft": "draft {id} does not exist",
        "edit_stale": "draft {id} was replaced by version {version}; answer the newest card",
        "edit_closed": "draft {id} is decided already and can no longer be edited",
        "edit_unchanged": "the text is unchanged; no new version made",
        "edit_refused": "draft {id}: the new text was refused",
        "alert_more": "",
    },
}

#: One headline per alert kind, above the case reference. In English the stored alert text
#: follows (it is English already, with the details); in Swedish the details are one
#: command away, so that the chat reads in one language.
ALERTS: dict[str, dict[str, str]] = {
    "sv": {
        "call_to_verify": "Ring personen på numret i registret för att bekräfta att det är hen",
        "unverified": "Kan inte bekräftas automatiskt; ring eller bestäm",
        "verification_failed": "Bekräftelsen misslyckades, gick ut eller nådde inte fram",
        "possible_impersonation": "Personen i registret säger att det inte var hen",
        "change_confirmed": "Den gamla kontaktuppgiften bekräftade ändringen; svaret kan godkännas",
        "change_refused": "En begärd ändring gäller en annan person och lämnades utanför",
        "complaint": "Ett klagomål har kommit in",
        "new_message": "Den som frågade skrev igen i ett öppet ärende",
        "other_sender": "Någon annan hänvisade till ett ärende; meddelandet lades inte till",
        "redrafted": "Ärendets slag ändrades; svaret skrevs om över en redigering",
        "erasure_withdrew": (
            "En godkänd radering drog tillbaka utkast eller meddelanden i andra ärenden"
        ),
        "erasure_failed": "En radering i en källa misslyckades",
        "deliver_by_hand": "Ett godkänt svar ska lämnas per post eller telefon",
        "deadline": "Ett ärende är försenat, snart förfallet eller förbi målet",
        "triage": "Klassificeraren var osäker om ett meddelande",
        "send_failed": "Ett meddelande kunde inte skickas",
        "channel_broken": "En kanal fungerar inte; inget skickas där förrän den är lagad",
        "malformed": "Ett mejl kunde inte läsas",
        "other": "Något behöver ses över",
    },
    "en": {
        "call_to_verify": "Call the person on the number on file to confirm it is them",
        "unverified": "Cannot be confirmed automatically; call or decide",
        "verification_failed": "The confirmation failed, expired or did not reach them",
        "possible_impersonation": "The person on file says it was not them",
        "change_confirmed": "The old contact point confirmed the change; the reply can be approved",
        "change_refused": "A change asked for is on another person and was left out",
        "complaint": "A complaint arrived",
        "new_message": "The requester wrote again in an open case",
        "other_sender": "Someone else referred to a case; the message was not added to it",
        "redrafted": "The case's kinds changed; the reply was drafted again over an edit",
        "erasure_withdrew": "An approved erasure withdrew drafts or messages of other cases",
        "erasure_failed": "An erasure in a source failed",
        "deliver_by_hand": "An approved text goes by post or phone",
        "deadline": "A case is overdue, due soon or past its target",
        "triage": "The classifier was unsure about a message",
        "send_failed": "A message could not be sent",
        "channel_broken": "A channel is broken; nothing is sent on it until it is fixed",
        "malformed": "A mail could not be read",
        "other": "Something needs a look",
    },
}


def staff_language(settings: Settings) -> str:
    telegram = settings.telegram
    return telegram.staff_language if telegram is not None else "sv"


def staff_text(settings: Settings, key: str, **values: object) -> str:
    return TEXTS[staff_language(settings)][key].format(**values)


def alert_post(settings: Settings, kind: str, text: str, reference: str | None) -> str:
    """An alert as the staff chat shows it: its headline, the case, then the details (in
    English) or where to read them (in Swedish)."""
    language = staff_language(settings)
    headline = ALERTS[language].get(kind, ALERTS[language]["other"])
    if language == "en":  # the stored text names the case itself
        return f"⚠ {headline}\n{text}"
    return (
        f"⚠ {headline}"
        + (f" · {reference}" if reference else "")
        + (f"\n{TEXTS[language]['alert_more']}")
    )


TELEGRAM_STAFF = "telegram-staff:"


def telegram_staff_actor(user_id: int, first_name: str | None, username: str | None) -> str:
    """The audit actor of a staff member in the chat: the stable user id, then the name
    Telegram gives (first name, @username), which the decided card shows."""
    label = " ".join(
        part for part in (stored_name(first_name), f"@{username}" if username else None) if part
    )
    return f"{TELEGRAM_STAFF}{user_id} ({label})" if label else f"{TELEGRAM_STAFF}{user_id}"


def staff_name(actor: str) -> str:
    """Who decided, as staff know them: the Telegram name ("Eva @eva_nox"), the console or
    CLI name ("eva" of "staff:eva"); otherwise the actor as recorded."""
    if actor.startswith(TELEGRAM_STAFF) and actor.endswith(")") and " (" in actor:
        return actor[actor.index(" (") + 2 : -1]
    if actor.startswith("staff:"):
        return actor.removeprefix("staff:")
    return actor
