"""The staff console in a real Chromium (Debian's /usr/bin/chromium driven by Playwright):
what staff see and do, and what a stranger to the console does not get."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlmodel import select
from typer.testing import CliRunner

from bot.channels.messages import InboundMessage
from bot.cli import app
from bot.rules.channels import ChannelName
from bot.store.records import get_case, subject_of
from bot.store.tables import (
    AuditEvent,
    ChecklistItem,
    Message,
    MessageState,
    Outbox,
    Request,
    SourceFinding,
    StaffAlert,
)
from bot.workflow.pipeline import process_inbound
from tests.web_kit import CHROMIUM, STAFF_NAME, STAFF_PASSWORD, ConsoleSite, serve

runner = CliRunner()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[ConsoleSite]:
    with serve(tmp_path / "demo") as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


def log_in(page: Page, site: ConsoleSite, password: str = STAFF_PASSWORD) -> None:
    page.goto(site.url + "/")
    expect(page.get_by_role("heading", name="Log in to the staff console")).to_be_visible()
    page.get_by_label("Name").fill(STAFF_NAME)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_a_case_reads_in_staff_words_and_a_telegram_requester_is_named_as_one(
    site: ConsoleSite, browser: Browser
) -> None:
    with site.database.session() as session:
        [opt_out] = [
            r.reference
            for r in session.exec(select(Request).where(Request.requester_address == "5550009"))
        ]
        [rectification] = [
            r.reference
            for r in session.exec(
                select(Request).where(Request.requester_address == "erik.svensson@example.se")
            )
            if r.kinds == ["rectification"]
        ]
    page = browser.new_page()
    log_in(page, site)
    row = page.locator("table.queue tr", has=page.get_by_role("link", name=opt_out))
    expect(row).to_contain_text("Telegram user 5550009")
    page.goto(f"{site.url}/cases/{opt_out}")
    expect(page.locator("section").first).to_contain_text("from Telegram user 5550009")
    expect(page.locator(".msg-in").first).to_contain_text("From Telegram user 5550009 · telegram")
    expect(page.locator("body")).not_to_contain_text("<5550009>")

    page.goto(f"{site.url}/cases/{rectification}")
    history = page.locator("table").last
    expect(history).to_contain_text("verification started: phone call")
    expect(history).to_contain_text("case opened: rectification by email")
    for name in ("phone_call", "case_opened", "verification_started", "via phone"):
        expect(history).not_to_contain_text(name)
    expect(page.locator("body")).to_contain_text("phone call to")


def test_staff_find_an_overdue_case_edit_preview_and_approve_its_reply_and_see_it_sent(
    site: ConsoleSite, browser: Browser
) -> None:
    page = browser.new_page()
    log_in(page, site)
    expect(page.get_by_role("heading", name="Cases, deadline first")).to_be_visible()
    # Deadline first: the overdue case leads the queue, in red, with its label.
    first = page.locator("table.queue tbody tr").first
    expect(first).to_have_class(re.compile("overdue"))
    expect(first).to_contain_text(site.overdue_reference)
    expect(first).to_contain_text("Erik Svensson")
    expect(first).to_contain_text("OVERDUE")
    expect(first).to_contain_text("working days overdue")
    page.get_by_label("overdue only").check()
    page.get_by_role("button", name="Show").click()
    expect(page.locator("table.queue tbody tr")).to_have_count(1)
    page.get_by_role("link", name=site.overdue_reference).click()

    # The person's own words, as they wrote them.
    expect(page.locator(".msg-in").first).to_contain_text("maskinläsbart format")
    # Edit the draft in the page, with the reason; the diff shows the change.
    editor = page.locator("textarea[name=text]").first
    editor.fill(editor.input_value() + "\nRing mig gärna om något är oklart. /Alice")
    page.locator("input[name=why]").first.fill("a personal closing line")
    page.get_by_role("button", name="Save as new version").first.click()
    expect(page.get_by_role("status")).to_have_text(
        "Saved as a new version (a new draft id, shown below; it replaces the one edited)."
    )
    expect(page.locator(".diff .add")).to_contain_text(["+Ring mig gärna om något är oklart."])
    expect(page.locator("details summary").filter(has_text="Version 2")).to_contain_text(
        "edited because: a personal closing line"
    )

    # The export is there to read before anyone approves it.
    page.get_by_role("link", name="view").first.click()
    expect(page.locator("body")).to_contain_text("Erik Svensson")
    page.go_back()

    # Approval says what it will do, then does it; the outbox sends the reply.
    expect(page.locator(".plan")).to_contain_text("Approving version 2 will:")
    page.get_by_role("button", name="Approve version 2").click()
    expect(page.get_by_role("status")).to_have_text("Approved: the reply is queued to be sent.")
    assert "erik.svensson@example.se" in site.send_outbox()
    page.reload()
    sent = page.locator(".msg-out").last
    expect(sent).to_contain_text("To")
    expect(sent).to_contain_text("Ring mig gärna om något är oklart.")
    expect(page.locator("table").last).to_contain_text("staff:alice")


def test_a_logged_out_visitor_and_a_forged_form_get_nothing(
    site: ConsoleSite, browser: Browser
) -> None:
    case_url = f"{site.url}/cases/{site.overdue_reference}"
    with httpx.Client() as client:
        response = client.get(case_url)
        assert response.status_code == 303 and response.headers["location"] == "/login"
        assert "Erik" not in response.text
        attachment = client.get(f"{site.url}/drafts/1/attachments/0")
        assert attachment.status_code == 303 and "Erik" not in attachment.text

    page = browser.new_page()
    log_in(page, site)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(cookies=cookies) as client:
        forged = client.post(f"{case_url}/note", data={"text": "forged"})
        assert forged.status_code == 403
        wrong = client.post(f"{case_url}/note", data={"text": "forged", "csrf": "guess"})
        assert wrong.status_code == 403
    with site.database.session() as session:
        notes = session.exec(select(AuditEvent).where(AuditEvent.action == "note")).all()
    assert notes == []


def test_wrong_passwords_are_refused_then_rate_limited_even_for_the_right_one(
    site: ConsoleSite, browser: Browser
) -> None:
    page = browser.new_page()
    for _ in range(3):
        log_in(page, site, password="not the password")
        expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    log_in(page, site)
    expect(page.get_by_role("alert")).to_contain_text("Too many wrong passwords")
    page.goto(site.url + "/")
    expect(page.get_by_role("heading", name="Log in to the staff console")).to_be_visible()


def test_staff_link_a_requester_not_on_file_to_a_person_and_the_challenge_goes_to_them(
    site: ConsoleSite, browser: Browser
) -> None:
    page = browser.new_page()
    log_in(page, site)
    page.goto(f"{site.url}/cases/{site.stranger_reference}")
    expect(page.locator("section").first).to_contain_text("not linked to anyone in the register")
    page.get_by_label("Find the person in the register").fill("maria")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("button", name="Link to Maria Berg").click()
    expect(page.get_by_role("status")).to_contain_text("Linked to the person on file")
    expect(page.locator("section").first).to_contain_text("Maria Berg")
    expect(page.locator("section").first).to_contain_text("checking identity")
    # The challenge goes to Maria's Telegram on file, never to the address that asked.
    sent_to = site.send_outbox()
    assert "5550004" in sent_to and "stranger@example.org" not in sent_to
    page.reload()
    expect(page.locator("body")).to_contain_text("Telegram confirmation to Telegram user 5550004")


def test_staff_answer_no_data_held_to_an_address_nobody_on_file_has(
    site: ConsoleSite, browser: Browser
) -> None:
    page = browser.new_page()
    log_in(page, site)
    page.goto(f"{site.url}/cases/{site.unknown_reference}")
    page.get_by_role("button", name='Draft "no data held" answer').click()
    expect(page.get_by_role("status")).to_contain_text("no data held")
    plan = page.locator(".plan")
    expect(plan).to_contain_text("as answered: no data held linked to the address")
    expect(plan).to_contain_text("by email to okand@example.net")
    page.get_by_role("button", name="Approve version 1").click()
    expect(page.locator("section").first).to_contain_text("closed")
    assert site.send_outbox() == ["okand@example.net"]
    page.reload()
    expect(page.locator(".msg-out").last).to_contain_text(
        "har vi inga personuppgifter kopplade till den adressen."
    )


def test_a_new_staff_member_sets_a_password_by_the_one_time_link_and_a_disabled_one_is_out(
    site: ConsoleSite, browser: Browser, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    url = site.database.engine.url.render_as_string(hide_password=False)
    config.write_text(f'[database]\nurl = "{url}"\n[web]\nbase_url = "{site.url}"\n')
    added = runner.invoke(app, ["staff", "add", "bertil", "-c", str(config)])
    assert added.exit_code == 0, added.output
    link = re.search(r"http://\S+/setup/\S+", added.output)
    assert link is not None
    page = browser.new_page()
    page.goto(link.group(0))
    page.get_by_label("New password").fill("too short")
    page.get_by_label("The same again").fill("too short")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("alert")).to_contain_text("at least 12 characters")
    page.get_by_label("New password").fill("bertils eget lösenord")
    page.get_by_label("The same again").fill("bertils eget lösenord")
    page.get_by_role("button", name="Set password").click()
    page.get_by_label("Name").fill("bertil")
    page.get_by_label("Password").fill("bertils eget lösenord")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Cases, deadline first")).to_be_visible()
    # The link worked once only.
    page.goto(link.group(0))
    expect(page.locator("body")).to_contain_text("This link is used or has expired")

    listed = runner.invoke(app, ["staff", "list", "-c", str(config), "--format", "json"])
    assert {"name": "bertil", "state": "active"}.items() <= json.loads(listed.output)[1].items()
    assert runner.invoke(app, ["staff", "disable", "bertil", "-c", str(config)]).exit_code == 0
    page.goto(site.url + "/")
    expect(page.get_by_role("heading", name="Log in to the staff console")).to_be_visible()


def test_an_alert_points_to_the_consoles_own_action_and_keeps_a_cli_hint_only_without_one(
    site: ConsoleSite, browser: Browser
) -> None:
    with site.database.session() as session:
        [complaint] = session.exec(select(StaffAlert).where(StaffAlert.kind == "complaint"))
        reference = session.get(Request, complaint.request_id).reference
        assert "noxbot requests outcome" in complaint.text  # as stored, for the CLI and chat
        session.add(
            StaffAlert(
                kind="send_failed",
                text="outbox 99 (reply) to email could not be sent after 5 attempts: 550 no "
                "such user; noxbot outbox retry 99 queues it again",
                created_at=site.services.clock(),
            )
        )
        session.add(  # as linking.py words it when no contact point on file may be used
            StaffAlert(
                request_id=complaint.request_id,
                kind="unverified",
                text=f"{reference}: no channel on file for subject 3 may be used to verify; "
                "confirm by phone (noxbot requests verify) or decide.",
                created_at=site.services.clock(),
            )
        )
    page = browser.new_page()
    log_in(page, site)
    page.get_by_role("link", name="Alerts", exact=True).click()
    card = page.locator(".card", has_text="a complaint about our handling")
    expect(card).not_to_contain_text("noxbot")
    expect(card).to_contain_text("then record its outcome on the case page")
    expect(card.get_by_role("link", name="The case's drafts")).to_be_visible()
    failed = page.locator(".card", has_text="could not be sent after 5 attempts")
    expect(failed).to_contain_text("retry on the outbox page queues it again")
    expect(failed.get_by_role("link", name="Retry on the outbox page")).to_have_attribute(
        "href", "/outbox"
    )
    # Confirming by phone is done on the command line only: that hint stays.
    call = page.locator(".card", has_text="no channel on file")
    expect(call).to_contain_text("noxbot requests verify")
    expect(call.get_by_role("link")).to_have_count(1)  # the case's reference, nothing more

    card.get_by_role("link", name="Record the complaint's outcome").click()
    expect(page).to_have_url(f"{site.url}/cases/{reference}#complaint-outcome")
    expect(page.get_by_role("button", name="Record outcome")).to_be_visible()
    on_case = page.locator("div.card", has_text=f"complaint — {reference}: a complaint")
    expect(on_case).not_to_contain_text("noxbot")
    on_case.get_by_role("link", name="The case's drafts").click()
    expect(page).to_have_url(f"{site.url}/cases/{reference}#drafts")


def test_alerts_resolve_with_a_note_register_search_outbox_retry_reports_and_case_file(
    site: ConsoleSite, browser: Browser
) -> None:
    raw = b"From: x@example.se\r\nSubject: =?bad?=\r\n\r\n\xff\xfe broken"
    with site.database.session() as session:
        kept = Message(
            dedupe_key="web-malformed-1",
            channel="email",
            address="x@example.se",
            raw=raw,
            received_at=site.services.clock(),
            state=MessageState.MALFORMED,
        )
        session.add(kept)
        session.flush()
        read = Message(  # an ordinary mail an alert points at: no raw file is kept
            dedupe_key="web-read-1",
            channel="email",
            address="y@example.se",
            received_at=site.services.clock(),
            state=MessageState.NOT_A_REQUEST,
        )
        session.add(read)
        session.flush()
        session.add(
            StaffAlert(
                message_id=read.id,
                kind="new_message",
                text="A new message from the requester.",
                created_at=site.services.clock(),
            )
        )
        session.add(
            StaffAlert(
                message_id=kept.id,
                kind="malformed",
                text="A mail could not be read; the raw message is kept for you to look at.",
                created_at=site.services.clock(),
            )
        )
    page = browser.new_page()
    log_in(page, site)
    # Alerts: the raw message a "malformed" alert speaks of can be downloaded.
    page.get_by_role("link", name="Alerts", exact=True).click()
    with page.expect_download() as download:
        page.get_by_role("link", name="The message as received (.eml)").click()
    assert Path(download.value.path()).read_bytes() == raw
    # Resolved with a note, which the audit trail keeps; then gone from the list.
    first = page.locator(".card").first
    alert_text = first.locator("p").first.inner_text()
    first.locator("input[name=note]").fill("called the requester")
    first.get_by_role("button", name=re.compile("Resolve alert")).click()
    expect(page.get_by_role("heading", name="Alerts to deal with")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("resolved; what you wrote is kept")
    expect(page.locator("body")).not_to_contain_text(alert_text)
    with site.database.session() as session:
        resolved = session.exec(select(AuditEvent).where(AuditEvent.action == "alert_resolved"))
        # (not those the demo's other actions resolved: "alert 1 (…) resolved: …")
        [event] = [e for e in resolved if ") resolved: " not in e.detail]
    assert event.actor == "staff:alice" and event.detail.endswith("called the requester")
    # Resolved ones, with what was done.
    page.get_by_role("link", name="Show resolved ones too").click()
    expect(page.locator(".card", has_text=alert_text)).to_contain_text("Resolved by staff:alice")
    expect(page.locator(".card", has_text=alert_text)).to_contain_text(": called the requester")
    # One another action resolved says which: the demo's call, recorded as made.
    demo_call = page.locator(".card", has_text=re.compile(r"DSR-\d{4}-0003: call the number"))
    expect(demo_call).to_contain_text(": identity confirmed")
    # Only a message kept as received offers its file.
    assert page.get_by_role("link", name="The message as received (.eml)").count() == 1

    # Register: a person and their cases.
    page.get_by_role("link", name="Register").click()
    page.get_by_label("Name, email or phone").fill("erik")
    page.get_by_role("button", name="Search").click()
    person = page.locator("section").first
    expect(person).to_contain_text("Erik Svensson")
    expect(person).to_contain_text(site.overdue_reference)

    # Outbox: a message that failed for good is queued again.
    with site.database.session() as session:
        row = session.exec(select(Outbox).where(Outbox.purpose == "verification_result")).first()
        assert row is not None
        row.status, row.last_error = "failed", "550 mailbox unavailable"
        session.add(row)
        failed_id = row.id
    page.get_by_role("link", name="Outbox").click()
    expect(page.locator("tr.overdue")).to_contain_text("550 mailbox unavailable")
    page.get_by_role("button", name=f"Retry {failed_id}").click()
    with site.database.session() as session:
        retried = session.get(Outbox, failed_id)
        assert retried is not None and retried.status == "queued"

    # Reports: the overdue case is counted.
    page.get_by_role("link", name="Reports").click()
    expect(page.locator("section").first).to_contain_text("of which overdue: 1")
    expect(page.locator("table")).to_contain_text("portability")

    # The case file for an inspection, as one HTML file.
    page.goto(f"{site.url}/cases/{site.overdue_reference}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export case file (HTML, for an inspection)").click()
    html = Path(download.value.path()).read_text(encoding="utf-8")
    assert f"Case file {site.overdue_reference}" in html
    assert "maskinläsbart format" in html and "verify_by_phone" not in html
    # in the words the console uses, not the names the code uses
    assert "case opened" in html and "case_opened" not in html
    assert not re.search(r"— (awaiting_approval|superseded|pending|approved)\b", html)


def test_staff_correct_kinds_add_a_rectification_change_and_are_not_offered_to_pester_a_denier(
    site: ConsoleSite, browser: Browser
) -> None:
    page = browser.new_page()
    log_in(page, site)
    page.get_by_label("Kind").select_option("rectification")
    page.get_by_role("button", name="Show").click()
    page.locator("table.queue a.ref").first.click()
    changes = page.locator("form[action$='/changes']")
    expect(changes).to_contain_text("Telefon: 073-987 65 43 → 076-555 12 34")
    changes.get_by_label("Add a change to").select_option("company")
    changes.get_by_label("New value").fill("Svensson Nät AB")
    changes.get_by_role("button", name="Add change").click()
    expect(page.get_by_role("status")).to_contain_text("Changes added")
    # Added to the earlier change, not in its place.
    expect(page.locator("form[action$='/changes'] ul")).to_contain_text("→ 076-555 12 34")
    expect(page.locator("form[action$='/changes'] ul")).to_contain_text("Svensson Nät AB")

    page.get_by_role("link", name="Queue").click()
    page.get_by_label("Search").fill("5550009")
    page.get_by_role("button", name="Show").click()
    page.locator("table.queue a.ref").first.click()
    page.get_by_label("objection").check()
    page.get_by_role("button", name="Correct kinds").click()
    expect(page.get_by_role("status")).to_contain_text("Kinds corrected")
    expect(page.locator("section").first).to_contain_text("objection, marketing opt-out")

    page.get_by_role("link", name="Queue").click()
    page.get_by_label("Search").fill("maria")
    page.get_by_role("button", name="Show").click()
    page.locator("table.queue a.ref").first.click()
    # Maria said "No, it wasn't me" in the demo: no new challenge is offered to pester her.
    expect(page.get_by_text("no new challenge is offered")).to_be_visible()
    expect(page.get_by_role("button", name="Send new challenge")).to_have_count(0)
    # The changes asked Erik's old number to confirm; nothing went to Maria.
    assert "5550004" not in site.send_outbox()


def test_staff_triage_a_message_the_classifier_was_unsure_about_into_a_case(
    site: ConsoleSite, browser: Browser
) -> None:
    with site.database.session() as session:
        session.add(
            Message(
                dedupe_key="web-triage-1",
                channel="email",
                address="fragan@example.se",
                subject="Fråga",
                text="Hej, vad gör ni egentligen med det ni vet om mig? Ta bort det.",
                received_at=site.services.clock(),
                state=MessageState.TRIAGE,
                classification={"kinds": ["info"], "confidence": 0.41},
            )
        )
    page = browser.new_page()
    log_in(page, site)
    page.get_by_role("link", name="Triage").click()
    triaged = page.locator("section").filter(has_text="fragan@example.se")
    expect(triaged).to_contain_text("classifier: info (0.41)")
    triaged.get_by_label("erasure").check()
    triaged.get_by_role("button", name="Open a case").click()
    expect(page.locator(".msg-in").first).to_contain_text("Ta bort det.")
    expect(page.locator("section").first).to_contain_text("Kinds: erasure")
    page.get_by_role("link", name="Triage").click()
    expect(page.locator("body")).to_contain_text("Nothing to triage.")


def test_staff_reopen_a_case_closed_by_mistake_and_it_keeps_its_legal_deadline(
    site: ConsoleSite, browser: Browser
) -> None:
    with site.database.session() as session:
        due = str(get_case(session, site.overdue_reference).due_date)
    page = browser.new_page()
    log_in(page, site)
    page.goto(f"{site.url}/cases/{site.overdue_reference}")
    page.get_by_label("Close without a reply because").fill("looked like a duplicate")
    page.get_by_role("button", name="Close case").click()
    expect(page.locator("section").first).to_contain_text("closed")
    page.get_by_label("Reopen because").fill("it was not a duplicate")
    page.get_by_role("button", name="Reopen case").click()
    expect(page.get_by_role("status")).to_contain_text("legal deadline stays the original one")
    head = page.locator("section").first
    expect(head).to_contain_text("draft to approve")
    expect(head).to_contain_text(due)
    expect(head).to_contain_text("OVERDUE")
    expect(page.locator("body")).to_contain_text(
        f"staff:{STAFF_NAME}transition (closed → draft to approve): reopened: it was not a "
        "duplicate"
    )
    expect(page.get_by_role("button", name="Approve version 1")).to_be_visible()


def test_staff_choose_which_contact_point_on_file_the_challenge_goes_to_when_linking(
    site: ConsoleSite, browser: Browser
) -> None:
    page = browser.new_page()
    log_in(page, site)
    page.goto(f"{site.url}/cases/{site.stranger_reference}")
    page.get_by_label("Find the person in the register").fill("maria")
    page.get_by_role("button", name="Find").click()
    choice = page.get_by_label("Send the verification challenge to")
    # The strongest first, and never the address that asked.
    expect(choice.locator("option").first).to_have_text("telegram 5550004 (Telegram confirmation)")
    expect(choice).not_to_contain_text("stranger@example.org")
    choice.select_option("maria.berg@example.se")
    page.get_by_role("button", name="Link to Maria Berg").click()
    expect(page.get_by_role("status")).to_contain_text("Linked to the person on file")
    sent_to = site.send_outbox()
    assert "maria.berg@example.se" in sent_to
    assert "5550004" not in sent_to and "stranger@example.org" not in sent_to
    page.reload()
    expect(page.locator("body")).to_contain_text("code by email to maria.berg@example.se")


# --- cases the console finishes itself: the checklist, a complaint's outcome, a redraft ---------


def test_staff_tick_a_checklist_item_off_with_a_note_and_then_approve_the_reply(
    site: ConsoleSite, browser: Browser
) -> None:
    now = site.services.clock()
    with site.database.session() as session:
        case = get_case(session, site.overdue_reference)
        item = ChecklistItem(
            request_id=case.id or 0, source="Fortnox", task="search for invoices", created_at=now
        )
        session.add(item)
        session.add(
            SourceFinding(
                request_id=case.id or 0,
                source="CV-arkiv",
                ref="cv-erik.pdf",
                category="document",
                summary="cv-erik.pdf",
                found_at=now,
            )
        )
        session.flush()
        item_id = item.id
    page = browser.new_page()
    log_in(page, site)
    page.goto(f"{site.url}/cases/{site.overdue_reference}")
    expect(page.locator(".finding")).to_contain_text("CV-arkiv: cv-erik.pdf — found")
    plan = page.locator(".plan")
    expect(plan).to_contain_text(f"checklist item {item_id} (Fortnox: search for invoices)")
    expect(plan).to_contain_text(f'press "Tick off item {item_id}"')
    expect(plan).not_to_contain_text("noxbot requests tick")
    expect(page.get_by_role("button", name="Approve version 1")).to_be_disabled()

    # A tick without a word of what was done is refused, and ticks nothing.
    csrf = page.locator("input[name=csrf]").first.input_value()
    empty = page.request.post(
        f"{site.url}/cases/{site.overdue_reference}/tick",
        form={"csrf": csrf, "item": str(item_id), "note": "   "},
        max_redirects=0,
    )
    assert empty.status == 400 and "say what was done" in empty.text()
    with site.database.session() as session:
        assert session.get(ChecklistItem, item_id).done_at is None
    page.get_by_label(f"What was done (item {item_id}").fill("Två fakturor i Fortnox, sparas 7 år")
    page.get_by_role("button", name=f"Tick off item {item_id}").click()
    expect(page.get_by_role("status")).to_have_text(
        "Checklist item ticked off; your note stays on the case."
    )
    expect(page.locator(".checklist-item")).to_contain_text("done by staff:alice")
    expect(page.locator(".checklist-item")).to_contain_text("Två fakturor i Fortnox, sparas 7 år")
    page.get_by_role("button", name="Approve version 1").click()
    expect(page.get_by_role("status")).to_have_text("Approved: the reply is queued to be sent.")
    with site.database.session() as session:
        ticked = session.get(ChecklistItem, item_id)
        assert ticked is not None and ticked.done_by == "staff:alice"
        assert get_case(session, site.overdue_reference).status == "approved"
    # The case file for an inspection keeps what was done by hand, and by whom.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export case file (HTML, for an inspection)").click()
    html = Path(download.value.path()).read_text(encoding="utf-8")
    assert f"Checklist item {item_id}: Fortnox: search for invoices — done" in html
    assert "by staff:alice: Två fakturor i Fortnox, sparas 7 år" in html


def test_staff_record_a_complaints_outcome_and_approve_its_reply_which_withdraws_the_ack(
    site: ConsoleSite, browser: Browser
) -> None:
    with site.database.session() as session:
        reference = process_inbound(
            session,
            site.services,
            InboundMessage(
                ChannelName.EMAIL,
                "klagande@example.se",
                sender_name="Karin Klagande",
                subject="Klagomål",
                text="Jag är mycket missnöjd med hur ni har hanterat mina personuppgifter: ni "
                "skickade mitt CV till en kund utan att fråga. Jag anmäler er till IMY.",
                message_id="<web-complaint@example.se>",
            ),
        ).reference
    page = browser.new_page()
    log_in(page, site)
    page.goto(f"{site.url}/cases/{reference}")
    reply_plan = page.locator(".plan").filter(has_text="send this reply")
    expect(reply_plan).to_contain_text("the complaint's outcome is not recorded")
    expect(reply_plan).to_contain_text('press "Record outcome"')
    expect(reply_plan).not_to_contain_text("noxbot requests outcome")
    expect(reply_plan.get_by_role("button")).to_be_disabled()

    page.get_by_label("What was found and what NOX will do").fill(
        "Vi skickade ditt CV utan samtycke. Kunden har raderat det."
    )
    page.get_by_role("button", name="Record outcome").click()
    expect(page.get_by_role("status")).to_have_text(
        "Outcome recorded; the reply is drafted again with it, for approval."
    )
    reply_plan = page.locator(".plan").filter(has_text="send this reply")
    expect(reply_plan).to_contain_text("withdraw the acknowledgment still waiting for approval")
    expect(page.locator("details[open]").filter(has_text="Kunden har raderat det")).to_have_count(1)
    reply_plan.get_by_role("button").click()
    expect(page.get_by_role("status")).to_have_text("Approved: the reply is queued to be sent.")
    expect(page.locator("section").filter(has_text="acknowledgment to")).to_contain_text(
        "superseded"
    )
    outcome_card = page.locator("#complaint-outcome")  # recorded; no longer a form to change
    expect(outcome_card).to_contain_text("Kunden har raderat det.")
    expect(outcome_card.get_by_role("button", name="Record outcome")).to_have_count(0)
    assert site.send_outbox() == ["klagande@example.se"]
    with site.database.session() as session:
        case = get_case(session, reference or "")
        assert (
            case.complaint_outcome == "Vi skickade ditt CV utan samtycke. Kunden har raderat det."
        )
        sent = session.exec(select(Outbox).where(Outbox.request_id == case.id)).all()
        assert [o.purpose for o in sent] == ["reply"]


def test_staff_draft_again_a_reply_the_register_changed_under_and_approve_the_new_one(
    site: ConsoleSite, browser: Browser
) -> None:
    with site.database.session() as session:  # a re-import changes what the reply shows
        person = subject_of(session, get_case(session, site.overdue_reference))
        assert person is not None
        person.company = "Nya Bolaget AB"
        session.add(person)
    page = browser.new_page()
    log_in(page, site)
    page.goto(f"{site.url}/cases/{site.overdue_reference}")
    plan = page.locator(".plan")
    expect(plan).to_contain_text("the register data it shows changed since it was drafted")
    expect(plan).to_contain_text('the button "Draft the reply again" on this page')
    expect(plan).not_to_contain_text("noxbot requests redraft")
    expect(page.get_by_role("button", name="Approve version 1")).to_be_disabled()

    page.get_by_role("button", name="Draft the reply again").click()
    expect(page.get_by_role("status")).to_have_text(
        "The reply is drafted again from what is on file now; review it and approve."
    )
    expect(page.locator(".plan")).to_have_count(1)
    expect(page.locator(".plan")).not_to_contain_text("It cannot be approved yet")
    page.get_by_role("button", name="Approve version 1").click()
    expect(page.get_by_role("status")).to_have_text("Approved: the reply is queued to be sent.")
    expect(page.locator("table").last).to_contain_text("reply redrafted")
    with site.database.session() as session:  # what goes out shows the register as it is now
        case = get_case(session, site.overdue_reference)
        [queued] = session.exec(
            select(Outbox).where(Outbox.request_id == case.id, Outbox.purpose == "reply")
        ).all()
        assert "Nya Bolaget AB" in queued.text + json.dumps(queued.attachments)


def test_a_case_page_and_the_reports_fit_a_phone_screen(
    site: ConsoleSite, browser: Browser
) -> None:
    """At 390 px a case's history and the reports' tables scroll inside the page instead of
    widening it (before: 518 and 600 px, the whole page scrolled sideways)."""
    page = browser.new_page(viewport={"width": 390, "height": 800})
    log_in(page, site)
    for path in (f"/cases/{site.overdue_reference}", "/reports", "/outbox", "/alerts"):
        page.goto(site.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)


#: The darkness (255 - the mean of red, green and blue) of the pixel `inset` px in from
#: the left or right edge of a screenshot, half-way down: read by the browser itself.
_EDGE_DARKNESS = """async ([png, inset]) => {
  const image = new Image();
  image.src = "data:image/png;base64," + png;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const y = Math.floor(image.height / 2);
  const at = (x) => { const [r, g, b] = context.getImageData(x, y, 1, 1).data;
                      return 255 - (r + g + b) / 3; };
  return [at(inset), at(image.width - 1 - inset)];
}"""


def test_a_table_cut_off_on_a_phone_shows_a_shadow_where_more_columns_are(
    site: ConsoleSite, browser: Browser
) -> None:
    """At 390 px the reports' table scrolls inside the page, and nothing said so: it looked
    like the whole table, its last kinds' columns simply missing. A shadow now stands at
    the edge beyond which there is more, and goes once the table is scrolled to that end."""
    page = browser.new_page(viewport={"width": 390, "height": 800})
    log_in(page, site)
    page.goto(site.url + "/reports")
    table = page.locator("table").first
    assert table.evaluate("t => t.scrollWidth > t.clientWidth + 50")  # it is cut off
    reader = browser.new_page()  # (the console's policy allows no data: images)

    def edges() -> tuple[float, float]:
        png = base64.b64encode(table.screenshot()).decode()
        left, right = reader.evaluate(_EDGE_DARKNESS, [png, 2])
        return left, right

    left, right = edges()
    assert right > left + 20, (left, right)  # more to the right: a shadow there only
    table.evaluate("t => { t.scrollLeft = t.scrollWidth; }")
    left, right = edges()
    assert left > right + 20, (left, right)  # at the end: the shadow moved to the left


def test_a_case_history_on_a_phone_breaks_no_name_and_no_date(
    site: ConsoleSite, browser: Browser
) -> None:
    """At 390 px the history read "noxb / ot" and "2026-12- / 07": a name and a date are
    kept whole, the date over its clock (DPO review)."""
    page = browser.new_page(viewport={"width": 390, "height": 800})
    log_in(page, site)
    page.goto(f"{site.url}/cases/{site.overdue_reference}")
    whole = page.evaluate(
        """() => Array.from(document.querySelectorAll("td.who, td.when span")).map(cell => {
             const range = document.createRange();
             range.selectNodeContents(cell);
             return [cell.textContent, range.getClientRects().length];
           })"""
    )
    assert whole and all(lines == 1 for _, lines in whole), whole
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_one_senders_long_display_name_leaves_every_cases_due_date_on_the_screen(
    site: ConsoleSite, browser: Browser
) -> None:
    """Before, one mail whose display name was a 300-letter word widened the queue to
    about 5,000 px: every case's kinds, status, waiting on and legal due date (OVERDUE too)
    were off the screen to the right, and the case page's title ran off it as well. Now the
    name breaks inside its cell and the page keeps the window's width."""
    with site.database.session() as session:
        reference = process_inbound(
            session,
            site.services,
            InboundMessage(
                ChannelName.EMAIL,
                "long-name@example.org",
                sender_name="W" * 300,
                subject="Radera",
                text="Radera alla mina uppgifter.",
                message_id="<web-long-name@example.org>",
            ),
        ).reference
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, site)
    for path in ("/", f"/cases/{reference}"):
        page.goto(site.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, path
    page.goto(site.url + "/")
    due = page.get_by_role("columnheader", name="Legal due date")
    assert due.bounding_box()["x"] + due.bounding_box()["width"] <= 1280
