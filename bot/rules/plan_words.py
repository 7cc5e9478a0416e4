"""The words of an approval plan ("Approving will: …", "Cannot be approved yet: …"), in one
place, in English and Swedish. English is what `noxbot drafts show` and the JSON give (a
fixed contract); the staff chat shows the plan in `[telegram] staff_language`. Pure words:
the plan's facts come from bot.workflow.approval and the handlers.
"""

from __future__ import annotations

PLAN_WORDS: dict[str, dict[str, str]] = {
    "en": {
        # what approving will do
        "refusal": "close {reference} as refused (Art. 12(4))",
        "no_data": "close {reference} as answered: no data held linked to the address",
        "by_hand": "hand the text to staff to deliver {how} to {address}",
        "by_post": "by post",
        "by_phone": "by phone",
        "send": "send this {purpose} by {channel} to {address}{files}",
        "with_files": " with {count} attachment(s)",
        "left_out": "not carry out {kinds} (left out of this version)",
        "extend": "extend the legal due date of {reference} from {due} to {new_due} (Art. 12(3))",
        "access": "send {who}'s data, category by category, with the Art. 15 facts",
        "access_nobody": "say that no data is held about the person",
        "access_mentions": (
            "; NOT attached, as they only mention the person and hold others' data (quote "
            "what concerns them by hand, others redacted): {items}"
        ),
        "complaint": "answer the complaint with the outcome staff recorded, and end the case",
        "consent_withdrawal": "record that {who} withdrew consent",
        "erasure": (
            "erase {who} from the register (profile, CV, contact points) and clear the content "
            "of their earlier, finished cases and mail{also}{sources}"
        ),
        "erasure_also": "; withdraw what still waits to carry their data: {items}",
        "erasure_sources": "; erase from the sources: {items}",
        "sources_too": "; do the same in the sources, on each row found there: {items}",
        "erasure_mentions": (
            "; left in place, as they only mention the person and hold others' data "
            "(redact what concerns them by hand if it must go): {items}"
        ),
        "marketing_optout": "switch off marketing to every contact point of {who}",
        "marketing_optout_address": "switch off marketing to {address}",
        "objection": "record {who}'s objection: no matching or profiling on legitimate interest",
        "portability": "send {who}'s data as JSON and CSV files",
        "rectification": "change {who}'s {changes}",
        "rectification_change": "{field} from {old} to {new}",
        "none": "(none)",
        "restriction": "mark {who} as restricted: kept, not used for brokering or marketing",
        "art19_notices": (
            "draft an Art. 19 notice to each recipient of the data: {items}; each notice is "
            "held for staff's approval, like this reply, and goes only once approved"
        ),
        "art19_no_address": (
            "draft no Art. 19 notice to {items}: no address on file, so no notice can be "
            "sent; staff must tell them another way (the case's checklist)"
        ),
        "art19_told_by_hand": (
            "draft no Art. 19 notice to {items}: no address on file; staff told them "
            "another way (ticked off on the case's checklist)"
        ),
        # what stands in the way
        "replaced": (
            "draft {id} is version {version}, but version {latest_version} (draft {latest_id}) "
            "replaced it; review and approve draft {latest_id}"
        ),
        "not_awaiting": "it is {status}; only a draft awaiting approval can be approved",
        "wrote_again": (
            "the requester wrote again ({channel}, {at}) after this version was drafted: "
            "read it on the case before approving"
        ),
        "newer_case": (
            "the same person opened {reference} ({at}) after this version was drafted: "
            "read it before approving, it may correct this one"
        ),
        "named_on_file": (
            "the message names an email address or phone number on file (person {ids}): "
            "this answer speaks only of the address it came from; if the request is that "
            "person's, link the case instead (noxbot requests link {reference} --subject "
            "{first}): they confirm it on their own channel"
        ),
        "named_in_sources": (
            "the sources hold something for an address or number the message names "
            "({found}): read the message; if the request is that person's, link the case "
            "instead of sending this answer"
        ),
        "answered": "{reference}'s reply was approved; this would reach the person after it",
        "case_ended": "{reference} is {status}; its drafts can no longer be sent",
        "notice_first": (
            "it tells a recipient what {reference}'s reply carries out; approve the reply first"
        ),
        "unverified": "{reference} is not verified; register data cannot go out",
        "unverified_values": (
            "{reference} is not verified, yet the text holds what the register says of the "
            "person it is linked to ({values}); take it out, or verify first"
        ),
        "unverified_kinds": (
            "{reference} is not verified, and a reply to {kinds} needs the person's "
            'confirmation first (or the "no data held" answer, for someone not on file)'
        ),
        "written_for": (
            "it was written for {written}, but {reference} now asks for {kinds} or other "
            "changes; a new draft is needed (noxbot drafts list)"
        ),
        "nothing_recorded": "nothing recorded",
        "uncovered": (
            "the confirmation of who asked did not name {kinds}; that needs its own "
            "confirmation (its own case)"
        ),
        "change_waits": (
            "the change of {fields} waits for the old one on file to confirm it, and a new "
            "email address to answer the code sent to it (the codes, or a call for staff "
            "to make, are asked for: see the case's verification)"
        ),
        "and": " and ",
        "record_changed": (
            "the register data it shows changed since it was drafted (a re-import or a "
            "correction); draft it again: noxbot requests redraft {reference}"
        ),
        "conflict": "{problem}; state another with noxbot requests changes",
        "no_outcome": (
            "the complaint's outcome is not recorded; look into it, then noxbot requests "
            "outcome {reference} --text-file FILE (the reply is drafted again with it)"
        ),
        "checklist": (
            "checklist item {id} ({source}: {task}) is not ticked off; do it, then noxbot "
            "requests tick {reference} {id} --note '...'"
        ),
        "too_late": (
            "the first month ended on {due}; an extension must reach the person within it "
            "(Art. 12(3))"
        ),
        "ack_withdrawn": (
            "withdraw the acknowledgment still waiting for approval (draft {ids}): this reply "
            "answers the case"
        ),
        # the ways out as the console's case page offers them (a button or form, no command)
        "record_changed_console": (
            "the register data it shows changed since it was drafted (a re-import or a "
            'correction); draft it again with the button "Draft the reply again" on this page'
        ),
        "conflict_console": ('{problem}; state another under "Rectification changes" on this page'),
        "no_outcome_console": (
            "the complaint's outcome is not recorded; look into it, then write it under "
            '"Complaint outcome" on this page and press "Record outcome" (the reply is drafted '
            "again with it)"
        ),
        "checklist_console": (
            "checklist item {id} ({source}: {task}) is not ticked off; do it, then say what "
            'was done under "Checklist" on this page and press "Tick off item {id}"'
        ),
    },
    "sv": {
        "refusal": "avsluta {reference} som avslaget (art. 12.4)",
        "no_data": "avsluta {reference} som besvarat: inga uppgifter kopplade till adressen",
        "by_hand": "lämna texten till personalen att leverera {how} till {address}",
        "by_post": "per post",
        "by_phone": "per telefon",
        "send": "skicka detta {purpose} via {channel} till {address}{files}",
        "with_files": " med {count} bilaga/bilagor",
        "left_out": "inte utföra {kinds} (utelämnat i den här versionen)",
        "extend": (
            "förlänga den lagstadgade svarstiden för {reference} från {due} till {new_due} "
            "(art. 12.3)"
        ),
        "access": "skicka {who}s uppgifter, kategori för kategori, med uppgifterna i art. 15",
        "access_nobody": "säga att inga uppgifter finns om personen",
        "access_mentions": (
            "; bifogas INTE, eftersom de bara nämner personen och rymmer andras uppgifter "
            "(citera det som rör hen för hand, övrigt maskat): {items}"
        ),
        "complaint": "besvara klagomålet med det utfall personalen har registrerat och avsluta",
        "consent_withdrawal": "registrera att {who} har återkallat sitt samtycke",
        "erasure": (
            "radera {who} ur registret (profil, CV, kontaktuppgifter) och tömma innehållet i "
            "hens tidigare, avslutade ärenden och mejl{also}{sources}"
        ),
        "erasure_also": "; dra tillbaka det som ännu väntar med hens uppgifter: {items}",
        "erasure_sources": "; radera i källorna: {items}",
        "sources_too": "; göra detsamma i källorna, på varje rad som hittas där: {items}",
        "erasure_mentions": (
            "; lämnas kvar, eftersom de bara nämner personen och rymmer andras uppgifter "
            "(maska det som rör hen för hand om det måste bort): {items}"
        ),
        "marketing_optout": "stänga av marknadsföring till alla kontaktuppgifter för {who}",
        "marketing_optout_address": "stänga av marknadsföring till {address}",
        "objection": (
            "registrera {who}s invändning: ingen matchning eller profilering på berättigat intresse"
        ),
        "portability": "skicka {who}s uppgifter som JSON- och CSV-filer",
        "rectification": "ändra {who}s {changes}",
        "rectification_change": "{field} från {old} till {new}",
        "none": "(inget)",
        "restriction": (
            "markera {who} som begränsad: sparas, används inte för förmedling eller marknadsföring"
        ),
        "art19_notices": (
            "skriva ett meddelande enligt art. 19 till var och en som har fått uppgifterna: "
            "{items}; varje meddelande väntar på personalens godkännande, som detta svar, och "
            "skickas först när det är godkänt"
        ),
        "art19_no_address": (
            "inte skriva något meddelande enligt art. 19 till {items}: ingen adress finns, så "
            "inget meddelande kan skickas; personalen måste meddela dem på annat sätt "
            "(ärendets checklista)"
        ),
        "art19_told_by_hand": (
            "inte skriva något meddelande enligt art. 19 till {items}: ingen adress finns; "
            "personalen har meddelat dem på annat sätt (avbockat på ärendets checklista)"
        ),
        "replaced": (
            "utkast {id} är version {version}, men version {latest_version} (utkast "
            "{latest_id}) ersatte det; granska och godkänn utkast {latest_id}"
        ),
        "not_awaiting": "det är {status}; bara ett utkast som väntar på beslut kan godkännas",
        "wrote_again": (
            "den som frågade skrev igen ({channel}, {at}) efter att den här versionen skrevs: "
            "läs det i ärendet innan du godkänner"
        ),
        "newer_case": (
            "samma person öppnade {reference} ({at}) efter att den här versionen skrevs: "
            "läs det innan du godkänner, det kan rätta det här"
        ),
        "named_on_file": (
            "meddelandet nämner en e-postadress eller ett telefonnummer i registret (person "
            "{ids}): svaret gäller bara adressen det kom från; är begäran den personens, "
            "koppla ärendet i stället (noxbot requests link {reference} --subject {first}): "
            "personen bekräftar den i sin egen kanal"
        ),
        "named_in_sources": (
            "källorna har något för en adress eller ett nummer som meddelandet nämner "
            "({found}): läs meddelandet; är begäran den personens, koppla ärendet i stället "
            "för att skicka det här svaret"
        ),
        "answered": "svaret i {reference} är godkänt; det här skulle nå personen efter det",
        "case_ended": "{reference} är {status}; dess utkast kan inte längre skickas",
        "notice_first": (
            "det berättar för en mottagare vad svaret i {reference} utför; godkänn svaret först"
        ),
        "unverified": "{reference} är inte bekräftat; registeruppgifter kan inte skickas",
        "unverified_values": (
            "{reference} är inte bekräftat, men texten innehåller det registret säger om "
            "personen ärendet är kopplat till ({values}); ta bort det, eller bekräfta först"
        ),
        "unverified_kinds": (
            "{reference} är inte bekräftat, och ett svar om {kinds} kräver att personen "
            'bekräftar först (eller svaret "inga uppgifter", för någon som inte finns i '
            "registret)"
        ),
        "written_for": (
            "det skrevs för {written}, men {reference} gäller nu {kinds} eller andra "
            "ändringar; ett nytt utkast behövs (noxbot drafts list)"
        ),
        "nothing_recorded": "inget registrerat",
        "uncovered": (
            "bekräftelsen av vem som frågade gällde inte {kinds}; det kräver en egen "
            "bekräftelse (ett eget ärende)"
        ),
        "change_waits": (
            "ändringen av {fields} väntar på att den gamla uppgiften i registret bekräftar den, "
            "och på att en ny e-postadress svarar med koden som skickas dit (koderna, eller "
            "ett samtal som personalen ska ringa, är begärda: se ärendets verifiering)"
        ),
        "and": " och ",
        "record_changed": (
            "registeruppgifterna i utkastet har ändrats sedan det skrevs (en ny import eller en "
            "rättelse); skriv det igen: noxbot requests redraft {reference}"
        ),
        "conflict": "{problem}; ange en annan med noxbot requests changes",
        "no_outcome": (
            "klagomålets utfall är inte registrerat; utred det och kör sedan noxbot requests "
            "outcome {reference} --text-file FIL (svaret skrivs då om)"
        ),
        "checklist": (
            "punkt {id} i checklistan ({source}: {task}) är inte avbockad; gör den och kör "
            "sedan noxbot requests tick {reference} {id} --note '...'"
        ),
        "too_late": (
            "första månaden slutade {due}; en förlängning måste nå personen inom den (art. 12.3)"
        ),
        "ack_withdrawn": (
            "dra tillbaka mottagningsbekräftelsen som fortfarande väntar på beslut (utkast "
            "{ids}): det här svaret besvarar ärendet"
        ),
        "record_changed_console": (
            "registeruppgifterna i utkastet har ändrats sedan det skrevs (en ny import eller en "
            'rättelse); skriv det igen med knappen "Draft the reply again" på sidan'
        ),
        "conflict_console": '{problem}; ange en annan under "Rectification changes" på sidan',
        "no_outcome_console": (
            "klagomålets utfall är inte registrerat; utred det, skriv det under "
            '"Complaint outcome" på sidan och tryck "Record outcome" (svaret skrivs då om)'
        ),
        "checklist_console": (
            "punkt {id} i checklistan ({source}: {task}) är inte avbockad; gör den, skriv vad "
            'som gjordes under "Checklist" på sidan och tryck "Tick off item {id}"'
        ),
    },
}

#: A draft's purpose and status as a plan names them (otherwise the name, underscores as
#: spaces).
NAMES: dict[str, dict[str, str]] = {
    "en": {"art19_notice": "Art. 19 notice", "no_data": "no-data answer"},
    "sv": {
        "reply": "svar",
        "clarification": "förtydligande",
        "extension": "förlängningsbesked",
        "refusal": "avslag",
        "no_data": "besked",
        "acknowledgment": "mottagningsbekräftelse",
        "art19_notice": "meddelande enligt art. 19",
        "approved": "godkänt",
        "rejected": "avslaget",
        "superseded": "ersatt",
        "sent": "skickat",
        "closed": "stängt",
        "done": "klart",
        "withdrawn": "återkallat",
    },
}


def plan_words(language: str, key: str, **values: object) -> str:
    """One phrase of a plan in `language` ("en" or "sv"; anything else reads as English)."""
    words = PLAN_WORDS.get(language, PLAN_WORDS["en"])
    return words[key].format(**values)


def plan_name(language: str, word: str) -> str:
    """A purpose or status as the plan in `language` names it (a status enum as its value)."""
    names = NAMES.get(language, NAMES["en"])
    return names.get(str(word), str(word).replace("_", " "))


#: Why a draft cannot be approved yet, in a few words, by the reason's key (English, as the
#: CLI's lists and the JSON give it): `drafts list` shows "blocked: not verified", not "to
#: approve", for a draft whose approval would be refused.
SHORT_REASONS: dict[str, str] = {
    "replaced": "a newer version replaced it",
    "not_awaiting": "not awaiting approval",
    "case_ended": "the case has ended",
    "notice_first": "the reply is not approved yet",
    "answered": "the reply was approved",
    "unverified": "not verified",
    "unverified_values": "not verified",
    "unverified_kinds": "not verified",
    "written_for": "the case changed: draft it again",
    "uncovered": "the confirmation does not cover it",
    "change_waits": "contact change codes unanswered",
    "record_changed": "the register changed: draft it again",
    "conflict": "a change conflicts with the register",
    "no_outcome": "complaint outcome not recorded",
    "checklist": "checklist not ticked off",
    "too_late": "too late to extend",
}
