"""The console's queue and case page say whom a case waits on as `requests show` does."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from bot.channels.messages import InboundMessage
from bot.rules.channels import ChannelName
from bot.store.records import get_case
from bot.workflow.pipeline import process_inbound
from tests.test_web import browser, log_in, site  # noqa: F401  (fixtures)
from tests.web_kit import ConsoleSite


def test_the_queue_says_staff_make_the_phone_call_and_link_a_requester_not_on_file(
    site: ConsoleSite,  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    with site.database.session() as session:  # Erik: only a phone besides his mail
        call = process_inbound(
            session,
            site.services,
            InboundMessage(
                ChannelName.EMAIL,
                "erik.svensson@example.se",
                subject="Radera",
                text="Please delete all personal data you hold about me.",
                message_id="<waiting-1@example.se>",
            ),
        ).reference
    with site.database.session() as session:
        assert get_case(session, call).status == "awaiting_verification"
    page = browser.new_page()
    log_in(page, site)
    row = page.locator("table.queue tr", has=page.get_by_role("link", name=call))
    expect(row).to_contain_text("staff: call the number on file and record the answer")
    expect(row).not_to_contain_text("the requester: answer the verification challenge")
    stranger = page.locator(
        "table.queue tr", has=page.get_by_role("link", name=site.stranger_reference)
    )
    expect(stranger).to_contain_text(
        "staff: link it to the person on file, or, when nobody matches, draft the "
        '"no data held" answer (Requester not on file, on the case page)'
    )
    page.goto(f"{site.url}/cases/{site.stranger_reference}")
    expect(page.locator("section").first).to_contain_text(
        "waiting on staff: link it to the person on file"
    )
