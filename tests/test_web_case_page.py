"""The console's case page: what it never shows, and what it keeps when a form is refused."""

from __future__ import annotations

import html
import re

from sqlmodel import select

from bot.store.tables import Outbox
from tests.web_kit import console_client
from tests.workflow_kit import ANNA_EMAIL, ANNA_TELEGRAM


async def test_a_code_waiting_to_be_mailed_is_not_shown_on_the_case_page(world):
    """Anna asked by chat; her code goes to her mail on file and waits in the outbox (the
    mail server is down, say). Before, the case page showed the waiting mail with the code
    in clear: anyone at the console could have confirmed the request in her name."""
    reference = world.chat(ANNA_TELEGRAM, "Radera alla mina uppgifter.").reference
    with world.session() as session:
        [challenge] = session.exec(
            select(Outbox).where(
                Outbox.purpose == "verification_challenge", Outbox.address == ANNA_EMAIL
            )
        )
    code = re.search(r"\b\d{6}\b", challenge.text)
    assert challenge.status == "queued" and code is not None
    async with console_client(world) as (http, _):
        page = (await http.get(f"/cases/{reference}")).text
    assert "Outbox:" in page and "••••••" in page
    assert code[0] not in page


async def test_a_refused_edit_keeps_what_staff_typed(world):
    """Before, the refusal was shown over the draft as it was: the edit was lost."""
    reference = world.email(ANNA_EMAIL, "Sluta skicka nyhetsbrev till mig.").reference
    draft = world.reply_draft(reference)
    typed = "Hej Anna,\n\nVi har slutat skicka nyhetsbrev. (ändrad text 4711)"
    async with console_client(world) as (http, csrf):
        form = {"csrf": csrf, "draft": str(draft.id), "subject": "Nytt ämne 4711", "text": typed}
        refused = await http.post(f"/cases/{reference}/edit", data={**form, "why": " "})
    assert refused.status_code == 400 and "say why you edit the draft" in refused.text
    assert "(ändrad text 4711)</textarea>" in refused.text
    assert 'value="Nytt ämne 4711"' in refused.text
    assert world.reply_draft(reference).version == draft.version  # nothing was saved


async def test_the_browser_finds_the_consoles_icon(world):
    """Before, every page's request for /favicon.ico was a 404 in the browser's console."""
    async with console_client(world) as (http, _):
        for path in ("/favicon.ico", "/favicon.svg"):
            icon = await http.get(path)
            assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
        assert '<link rel="icon" href="/favicon.svg"' in (await http.get("/")).text


async def test_what_a_refused_form_kept_is_shown_as_text_never_run(world):
    reference = world.email(ANNA_EMAIL, "Sluta skicka nyhetsbrev till mig.").reference
    draft = world.reply_draft(reference)
    payload = '</textarea><script>alert(1)</script>"><img src=x onerror=alert(2)>{{7*7}}'
    async with console_client(world) as (http, csrf):
        form = {"csrf": csrf, "draft": str(draft.id), "subject": payload, "text": payload}
        page = (await http.post(f"/cases/{reference}/edit", data={**form, "why": " "})).text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "{{7*7}}" in page


async def test_a_subject_of_two_lines_is_refused_not_saved_to_fail_when_sent(world):
    """A hand-made post (a browser's one-line field cannot send it) with a line break in
    the subject: before, it was saved, approved, and then refused by the mail library
    when sent."""
    reference = world.email(ANNA_EMAIL, "Sluta skicka nyhetsbrev till mig.").reference
    draft = world.reply_draft(reference)
    async with console_client(world) as (http, csrf):
        form = {"csrf": csrf, "draft": str(draft.id), "text": draft.text, "why": "ämne"}
        subject = "Svar\r\nBcc: spy@evil.example"
        refused = await http.post(f"/cases/{reference}/edit", data={**form, "subject": subject})
    assert refused.status_code == 400 and "the subject must be one line" in refused.text
    assert world.reply_draft(reference).version == draft.version


async def test_text_that_would_reverse_or_hide_what_follows_is_shown_as_written(world):
    """A right-to-left override turned "gnp.exe" into "exe.png" on the screen, and a
    zero-width space hid itself: the console showed the mail's subject and text raw,
    while the terminal and the staff chat showed such characters visibly."""
    reference = world.email(
        ANNA_EMAIL,
        "Radera mina uppgifter. Bifogat: \u202egnp.exe",
        "Radering\u200b av \u202etxt.exe",
    ).reference
    async with console_client(world) as (http, _):
        page = (await http.get(f"/cases/{reference}")).text
        exported = (await http.get(f"/cases/{reference}/export")).text
    for shown in (page, exported):
        assert "\u202e" not in shown and "\u200b" not in shown
        assert "\\u202egnp.exe" in shown and "Radering\\u200b av" in shown


async def test_an_edit_refused_because_a_colleague_saved_first_keeps_its_text_and_names_them(
    world,
):
    """Åsa and Bertil edit the same draft; Bertil saves first. Before, Åsa's text was gone
    and the refusal did not say who had changed the draft."""
    from bot.workflow.approval import edit_draft

    reference = world.email(ANNA_EMAIL, "Sluta skicka nyhetsbrev till mig.").reference
    draft = world.reply_draft(reference)
    with world.database.session() as session:
        edit_draft(session, world.services, draft.id, draft.text + "\n/Bertil", actor="bertil")
    typed = draft.text + "\n\nMed vänliga hälsningar, Åsa (text 4712)"
    async with console_client(world) as (http, csrf):
        form = {"csrf": csrf, "draft": str(draft.id), "subject": draft.subject, "why": "hälsning"}
        refused = await http.post(f"/cases/{reference}/edit", data={**form, "text": typed})
    assert refused.status_code == 400
    assert "written by bertil) replaced it" in refused.text
    assert (
        "Your edit was not saved" in refused.text and "Åsa (text 4712)</textarea>" in refused.text
    )


async def test_times_are_shown_as_a_clock_in_stockholm_reads_them(world):
    """Before, every time on the console was UTC: a mail sent at 10:00 Swedish time read
    "Received 09:00 UTC", and staff converted each one themselves."""
    reference = world.email(ANNA_EMAIL, "Sluta skicka nyhetsbrev till mig.").reference
    assert world.case(reference).received_at.hour == 9  # 09:00 UTC, in November: CET
    async with console_client(world) as (http, _):
        page = (await http.get(f"/cases/{reference}")).text
        exported = (await http.get(f"/cases/{reference}/export")).text
    assert "Received 2026-11-24 10:00 CET" in page and " UTC" not in page
    assert "2026-11-24 10:00 CET" in exported and " UTC" not in exported


async def test_the_case_file_says_what_was_sent_and_when_and_what_is_still_waiting(world):
    """Before, the exported file said "approved, sending" and the history "register extract
    sent" while the reply only waited in the outbox: nothing said what had been delivered."""
    reference = world.email(ANNA_EMAIL, "Sluta skicka nyhetsbrev till mig.").reference
    world.approve(world.reply_draft(reference).id)
    async with console_client(world) as (http, _):
        waiting = (await http.get(f"/cases/{reference}/export")).text
        await world.deliver()
        sent = (await http.get(f"/cases/{reference}/export")).text
    assert "<h2>What was sent</h2>" in waiting and "queued, not sent" in waiting
    assert "queued, not sent" not in sent and "sent 2026-11-24 10:00 CET" in sent


async def test_a_call_staff_recorded_reads_as_one_in_the_verification_list(world):
    """Anna was asked on Telegram; staff called her instead and recorded it. Before, the
    list read "phone call to staff call: confirmed"."""
    reference = world.email(ANNA_EMAIL, "Jag vill ha en kopia av mina personuppgifter.").reference
    assert world.verification(reference).method == "telegram_confirm"
    world.call_confirms(reference)
    async with console_client(world) as (http, _):
        page = (await http.get(f"/cases/{reference}")).text
        exported = (await http.get(f"/cases/{reference}/export")).text
    for shown in (page, exported):
        assert "a call staff made to the number on file" in shown
        assert "to staff call" not in shown


async def test_an_edit_form_holds_the_draft_exactly_so_saving_it_keeps_every_character(world):
    """A soft hyphen or a right-to-left mark pasted from Word, or in a name: the page shows
    such characters visibly everywhere else, but in the edit form (sent back as typed)
    they stay as they are. Before, one ordinary edit saved "\\xad" into the reply."""
    import html

    from bot.workflow.approval import edit_draft

    reference = world.email(ANNA_EMAIL, "Sluta skicka nyhetsbrev till mig.").reference
    draft = world.reply_draft(reference)
    odd = draft.text + "\nKon\u00adsult\u200b-text \u202eabc\n"
    with world.database.session() as session:
        new = edit_draft(session, world.services, draft.id, odd, actor="staff:eva")
    async with console_client(world) as (http, csrf):
        page = (await http.get(f"/cases/{reference}")).text
        shown = re.search(rf'<textarea id="text-{new.id}" name="text">(.*?)</textarea>', page, re.S)
        assert shown is not None and html.unescape(shown[1]) == odd
        assert "\\u202eabc" in page  # shown visibly where it is only read
        form = {"csrf": csrf, "draft": str(new.id), "subject": new.subject, "why": "signed"}
        form["text"] = html.unescape(shown[1]) + "\nMvh Eva"
        assert (await http.post(f"/cases/{reference}/edit", data=form)).status_code == 303
    assert world.reply_draft(reference).text == odd + "\nMvh Eva"


async def test_a_challenge_reads_queued_until_its_message_has_gone_then_sent(world):
    """The mail server is down: Anna's code waits in the outbox. The case page said "sent
    10:00" for it all the same, and staff told Anna to look in her inbox."""
    from bot.workflow.views import case_document_json

    reference = world.chat(ANNA_TELEGRAM, "Radera alla mina uppgifter.").reference

    def challenge_line(page: str) -> str:
        [line] = [
            line
            for line in re.sub(r"<[^>]+>", "", page).splitlines()
            if line.strip().startswith("made 20")
        ]
        return line

    async with console_client(world) as (http, _):
        waiting = challenge_line((await http.get(f"/cases/{reference}")).text)
        assert "queued, not sent yet" in waiting and "sent 2026" not in waiting
        world.clock.advance(minutes=5)
        await world.deliver()
        gone = challenge_line((await http.get(f"/cases/{reference}")).text)
    assert "sent 2026-11-24 10:05 CET" in gone and "not sent" not in gone
    with world.session() as session:
        case = world.case(reference)
        [shown] = case_document_json(session, world.services, case, world.clock().date())[
            "verifications"
        ]
    assert (shown["delivery"], shown["sent_at"]) == ("sent", "2026-11-24T09:05:00+00:00")


async def test_the_case_page_writes_a_new_phone_number_as_the_letter_does(world):
    """The plan and the stated changes showed +46765551234 beside a letter saying
    076-555 12 34: staff comparing them read two different numbers."""
    reference = world.email(ANNA_EMAIL, "Rätta mitt telefonnummer till 076-555 12 34, tack.")
    reference = reference.reference
    world.call_confirms(reference)
    assert "Telefon: 070-123 45 67 → 076-555 12 34" in world.reply_draft(reference).text
    async with console_client(world) as (http, _):
        page = html.unescape((await http.get(f"/cases/{reference}")).text)
    assert "<li>change Anna Lindqvist's phone from 070-123 45 67 to 076-555 12 34" in page
    assert "<li>Telefon: 070-123 45 67 → 076-555 12 34</li>" in page
    assert "to +46765551234</li>" not in page and "→ +46765551234" not in page


async def test_the_case_page_and_file_say_which_verification_button_was_pressed(world):
    """The press was an empty card in the thread, under the challenge it answered."""
    reference = world.email(ANNA_EMAIL, "Jag vill att ni raderar alla mina personuppgifter.")
    reference = reference.reference
    await world.deliver()
    world.press(ANNA_TELEGRAM, world.verification(reference).id, yes=True)
    async with console_client(world) as (http, _):
        page = html.unescape((await http.get(f"/cases/{reference}")).text)
        exported = html.unescape((await http.get(f"/cases/{reference}/export")).text)
    thread = page.split("<h2>Thread</h2>")[1]
    cards = thread.split('<div class="card ')[1:4]
    assert "From Telegram user 5550001" in cards[2]
    assert 'pressed "Yes, that was me" on the verification challenge' in cards[2]
    assert "<pre></pre>" not in thread
    # The case file exported from the console says it the same way.
    messages = exported.split("<h2>Messages</h2>")[1].split("<h2>What was sent</h2>")[0]
    assert messages.count('pressed "Yes, that was me" on the verification challenge') == 1
    assert "<pre></pre>" not in messages


async def test_the_case_page_names_each_versions_draft_id_and_what_it_replaces(world):
    """Staff edited draft 6 in the console, then ran noxbot drafts approve 6: the page said
    "version 2" only, not that version 2 is another draft (another id) replacing 6."""
    reference = world.email(ANNA_EMAIL, "Sluta skicka nyhetsbrev till mig.").reference
    old = world.reply_draft(reference)
    async with console_client(world) as (http, csrf):
        form = {"csrf": csrf, "draft": str(old.id), "subject": old.subject, "why": "signed"}
        form["text"] = old.text + "\nMvh Eva"
        done = await http.post(f"/cases/{reference}/edit", data=form, follow_redirects=True)
    new = world.reply_draft(reference)
    text = " ".join(re.sub(r"<[^>]+>", " ", done.text).split())
    assert "Saved as a new version (a new draft id" in text
    assert f"version 2 (draft {new.id}; replaces draft {old.id})" in text
    assert f"Version 1 (draft {old.id})" in text and f"Version 2 (draft {new.id})" in text


async def test_a_phone_verification_reads_as_a_sentence_without_code_attempts(world):
    """A call staff recorded read "confirmed , 0 attempt(s)": a call has no codes to count
    (DPO review)."""
    from tests.workflow_kit import ERIK_EMAIL

    reference = world.email(ERIK_EMAIL, "Jag vill ha ett registerutdrag.", "Utdrag").reference
    world.call_confirms(reference)
    async with console_client(world) as (http, _):
        page = (await http.get(f"/cases/{reference}")).text
    text = " ".join(re.sub(r"<[^>]+>", "", page).split())
    assert "confirmed, made" in text
    assert "attempt" not in text and "confirmed ," not in text
