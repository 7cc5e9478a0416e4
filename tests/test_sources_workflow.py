"""Sources in a case's life: the access reply names what each source holds and attaches it;
an approved erasure moves the CV and the mail; a manual system is a checklist item that
blocks approval until ticked; a source failing mid-erasure leaves the case saying exactly
what was and was not done."""

from __future__ import annotations

import base64
import imaplib
import re
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.config import DocumentsSource, ImapSettings, MailboxSource, ManualSource, SqlTable
from bot.errors import CaseError
from bot.store.register import find_subject
from bot.workflow.cases import set_requested_changes
from bot.workflow.checklist import sources_json, tick
from tests import dovecot
from tests.sources_kit import write_pdf
from tests.test_sources import EVIL, crm, crm_rows, fill_mailbox, sql_url
from tests.workflow_kit import ANNA_EMAIL, ANNA_TELEGRAM, World, make_world


def sourced_world(
    tmp_path: Path, imap_server, folder: str, *, manual: bool = False, sql: bool = False
) -> World:
    cv = tmp_path / "cv"
    cv.mkdir()
    write_pdf(cv / "cv-anna.pdf", ["CV", "Anna Lindqvist", "070-123 45 67"])
    write_pdf(cv / "cv-john.pdf", ["CV", "John Carter"])
    (cv / "anteckning.txt").write_text("Träffade anna.lindqvist@example.se i höstas.\n")
    fill_mailbox(imap_server, folder)
    sources = [
        DocumentsSource(
            type="documents",
            name="CV-arkiv",
            folder=str(cv),
            holding_folder=str(tmp_path / "raderat"),
        ),
        MailboxSource(
            type="mailbox", name="info@", folders=[folder], erase_folder=f"{folder}-raderat"
        ),
    ]
    if manual:
        sources.append(ManualSource(type="manual", name="Fortnox", task="search for invoices"))
    if sql:
        sources.append(crm(f"sqlite:///{tmp_path / 'crm.db'}").config)
    imap = ImapSettings(
        host="127.0.0.1",
        port=imap_server.port,
        tls="none",
        username=dovecot.USER,
        password_env="NOXBOT_TEST_SOURCE_IMAP",
    )
    return make_world(tmp_path, sources=sources, imap=imap)


@pytest.fixture(autouse=True)
def imap_password(monkeypatch):
    monkeypatch.setenv("NOXBOT_TEST_SOURCE_IMAP", dovecot.PASSWORD)


def verified(world: World, text: str, subject: str) -> str:
    outcome = world.email(ANNA_EMAIL, text, subject)
    world.press(ANNA_TELEGRAM, world.verification(outcome.reference).id, yes=True)
    return outcome.reference


def test_access_reply_for_a_person_in_every_source_lists_them_all(tmp_path, imap_server):
    world = sourced_world(tmp_path, imap_server, "Access", sql=True)
    reference = verified(world, "Jag vill ha ett registerutdrag, artikel 15.", "Utdrag")
    draft = world.reply_draft(reference)
    text = draft.text
    assert "CV-arkiv" in text and "- Dokument: cv-anna.pdf" in text
    assert "- Dokument: anteckning.txt" in text and "cv-john.pdf" not in text
    assert "- E-post från dig: 2026-11-02: Mitt CV" in text
    assert "- E-post till dig: 2026-11-03: Uppdrag i Göteborg" in text
    assert "- E-post som nämner dig: 2026-11-04: Konsult?" in text
    assert "Other" not in text  # John's mail
    assert "Vårt konsultregister" in text and "\nCRM\n" in text
    assert "- Rate (Konsult i CRM): 950" in text and "- Name (Konsult i CRM): A. Lindqvist" in text
    assert "John Carter" not in text
    assert "Korrespondens med oss" in text and "Tre år efter att ärendet avslutats" in text
    names = [a["filename"] for a in draft.attachments]
    assert "cv-anna.pdf" in names and sum(n.endswith(".eml") for n in names) == 2
    world.approve(draft.id)


def test_erasure_moves_the_cv_and_the_persons_mail_and_says_so(tmp_path, imap_server):
    from bot.workflow.approval import plan_for

    world = sourced_world(tmp_path, imap_server, "Erasure")
    reference = verified(world, "Radera alla mina uppgifter, artikel 17.", "Radering")
    draft = world.reply_draft(reference)
    assert "Vi har också tagit bort det vi hade om dig på andra ställen:" in draft.text
    assert "- CV-arkiv: anteckning.txt; cv-anna.pdf" in draft.text
    assert "- info@: 2026-11-02: Mitt CV; 2026-11-03: Uppdrag i Göteborg" in draft.text
    assert "Konsult?" not in draft.text  # a client's mail that only mentions her stays
    with world.database.session() as session:
        will = " ".join(plan_for(session, world.services, draft.id).will)
    assert "left in place, as they only mention the person" in will
    assert "info@: 2026-11-04: Konsult?" in will.split("left in place")[1]
    world.approve(draft.id)
    assert (tmp_path / "raderat" / "cv-anna.pdf").exists()
    assert not (tmp_path / "cv" / "cv-anna.pdf").exists()
    assert (tmp_path / "cv" / "cv-john.pdf").exists()
    client = imaplib.IMAP4("127.0.0.1", imap_server.port)
    client.login(dovecot.USER, dovecot.PASSWORD)
    client.select('"Erasure-raderat"')
    assert len(client.search(None, "ALL")[1][0].split()) == 2
    client.logout()
    with world.session() as session:
        assert find_subject(session, "email", ANNA_EMAIL) is None
        states = {
            f["summary"]: f["state"]
            for f in sources_json(session, world.case(reference))["findings"]
        }
    assert states["cv-anna.pdf"] == "erased" and states["2026-11-04: Konsult?"] == "found"
    # What is kept of the reply once sent says where it held her data (before: "fields:
    # none recorded", as if it had held nothing).
    import asyncio

    from bot.store.tables import Outbox

    asyncio.run(world.deliver())
    with world.session() as session:
        texts = [o.text for o in session.exec(select(Outbox).where(Outbox.address == ANNA_EMAIL))]
    [record] = [t for t in texts if t.startswith("[reply sent")]
    assert "none recorded" not in record
    assert "in its sections: erasure." in record


def test_a_manual_system_is_a_checklist_item_that_blocks_approval_until_ticked(
    tmp_path, imap_server
):
    world = sourced_world(tmp_path, imap_server, "Manual", manual=True)
    reference = verified(world, "Jag vill ha ett registerutdrag, artikel 15.", "Utdrag")
    draft = world.reply_draft(reference)
    with pytest.raises(CaseError, match=r"checklist item .* \(Fortnox: search for invoices\)"):
        world.approve(draft.id)
    with world.database.session() as session:
        item = sources_json(session, world.case(reference))["checklist"][0]
        tick(
            session,
            reference,
            item["id"],
            "Två fakturor, sparas 7 år",
            actor="staff:eva",
            now=world.clock(),
        )
    world.approve(draft.id)
    assert world.case(reference).status == "approved"


def test_a_source_failing_mid_erasure_leaves_the_case_saying_what_was_and_was_not_done(
    tmp_path, imap_server
):
    world = sourced_world(tmp_path, imap_server, "Fails")
    reference = verified(world, "Radera alla mina uppgifter, artikel 17.", "Radering")
    draft = world.reply_draft(reference)
    (tmp_path / "cv" / "anteckning.txt").unlink()  # gone before approval: cannot be moved
    with pytest.raises(CaseError) as stopped:
        world.approve(draft.id)
    message = str(stopped.value)
    assert "Done: CV-arkiv: cv-anna.pdf moved to" in message
    assert "info@: a mail moved from Fails to Fails-raderat" in message
    assert (
        "Not done: CV-arkiv: 'anteckning.txt' (CV-arkiv: anteckning.txt is no longer there)"
        in message
    )
    with world.session() as session:
        case = world.case(reference)
        result = sources_json(session, case)
        assert find_subject(session, "email", ANNA_EMAIL) is not None  # register not touched
    states = {f["summary"]: (f["state"], f["outcome"]) for f in result["findings"]}
    assert states["cv-anna.pdf"][0] == "erased"
    assert states["anteckning.txt"] == ("failed", "CV-arkiv: anteckning.txt is no longer there")
    assert case.status == "awaiting_approval" and world.alerts("erasure_failed")
    [item] = [i for i in result["checklist"] if not i["done"]]
    assert "could not be erased" in item["task"]
    with world.database.session() as session:
        tick(
            session, reference, item["id"], "Fanns inte kvar", actor="staff:eva", now=world.clock()
        )
    world.approve(draft.id)  # what was done is not done twice; the register goes now
    with world.session() as session:
        assert find_subject(session, "email", ANNA_EMAIL) is None


def test_the_demo_shows_an_access_reply_from_the_sources_and_an_erasure_moving_a_cv_and_mail(
    tmp_path,
):
    from rich.console import Console

    from bot.cli.demo import demo

    console = Console(record=True, width=140)
    result = demo(tmp_path / "demo", console)
    shown = console.export_text()
    john = next(m for m in result.sent if m.address == "5550002" and m.attachments)
    # On Telegram a long reply is its opening plus the whole text as a document.
    [whole] = [a for a in john.attachments if a.filename.startswith("DSR-")]
    answer = whole.data().decode()
    assert "- Document: cv-john-carter.docx" in answer
    assert "- Email from you: 2026-11-02: Availability in December" in answer
    assert "- Email to you: 2026-11-10: Assignment in London" in answer
    assert "- Fintech Ltd, 2026-09-15: CV" in answer
    assert "cv-john-carter.docx" in [a.filename for a in john.attachments]
    assert sum(a.filename.endswith(".eml") for a in john.attachments) == 2
    to_anna = [m for m in result.sent if m.address == "anna.lindqvist@example.se"]
    anna = next(m for m in to_anna if "artikel 19" in m.text)  # not the acknowledgement
    # The sources' names read the same in Swedish: no "CV folder" in Anna's Swedish reply.
    assert "- CV: cv-anna-lindqvist.docx" in anna.text
    assert "- info@noxconsulting.se: 2026-11-04: Mitt CV" in anna.text
    assert not re.search(r"\b(?:folder|archive)\b", anna.text, re.IGNORECASE)
    assert "(artikel 19 GDPR): Exempelbanken AB." in anna.text
    assert (tmp_path / "demo" / "cv-erased" / "cv-anna-lindqvist.docx").exists()
    assert not (tmp_path / "demo" / "cv" / "cv-anna-lindqvist.docx").exists()
    assert "Art. 19 notice drafted for staff to approve" in shown
    assert "to rekrytering@exempelbanken.example" in shown


async def test_an_erasure_clears_what_the_sources_found_in_the_persons_earlier_cases(
    tmp_path, imap_server
):
    world = sourced_world(tmp_path, imap_server, "Earlier")
    access = verified(world, "Jag vill ha ett registerutdrag, artikel 15.", "Utdrag")
    world.approve(world.reply_draft(access).id)
    await world.deliver()
    assert world.case(access).status == "done"
    erasure = verified(world, "Radera alla mina uppgifter, artikel 17.", "Radering")
    world.approve(world.reply_draft(erasure).id)
    with world.session() as session:
        earlier = sources_json(session, world.case(access))["findings"]
        this = sources_json(session, world.case(erasure))["findings"]
    assert earlier == []  # file names and mail subjects of hers are gone from the old case
    assert {f["state"] for f in this if f["erasable"]} == {"erased"}  # the record of this one


def test_an_erasure_reply_edited_to_keep_the_cv_moves_only_what_its_text_still_names(
    tmp_path, imap_server
):
    from bot.workflow.approval import edit_draft, plan_for

    world = sourced_world(tmp_path, imap_server, "Edited")
    reference = verified(world, "Radera alla mina uppgifter, artikel 17.", "Radering")
    draft = world.reply_draft(reference)
    kept_cv = "\n".join(
        line for line in draft.text.splitlines() if not line.startswith("- CV-arkiv:")
    )
    with world.database.session() as session:
        edited = edit_draft(session, world.services, draft.id, kept_cv, actor="staff:eva")
        will = " ".join(plan_for(session, world.services, edited.id).will)
    assert "info@: 2026-11-02: Mitt CV" in will and "cv-anna.pdf" not in will
    world.approve(edited.id)
    assert (tmp_path / "cv" / "cv-anna.pdf").exists()  # the approved text does not name it
    with world.session() as session:
        states = {
            f["summary"]: f["state"]
            for f in sources_json(session, world.case(reference))["findings"]
        }
    assert states["cv-anna.pdf"] == "found" and states["2026-11-02: Mitt CV"] == "erased"


# --- SQL: rectification and restriction carried out in the source -------------------------


def sql_world(
    tmp_path: Path, *more: SqlTable, url: str | None = None, **statements: Any
) -> tuple[World, str]:
    url = url or f"sqlite:///{tmp_path / 'crm.db'}"
    return make_world(tmp_path, sources=[crm(url, *more, **statements).config]), url


def rectify_name(world: World, name: str) -> str:
    reference = verified(world, "Mitt namn är fel i ert register, rätta det.", "Rättelse")
    with world.database.session() as session:
        set_requested_changes(session, world.services, reference, {"name": name}, actor="staff:eva")
    return reference


def plan(world: World, draft_id: int) -> str:
    from bot.workflow.approval import plan_for

    with world.database.session() as session:
        return " ".join(plan_for(session, world.services, draft_id).will)


def findings(world: World, reference: str) -> list[tuple[str, str, str]]:
    with world.session() as session:
        result = sources_json(session, world.case(reference))["findings"]
    return [(f["summary"], f["state"], f["outcome"]) for f in result]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_approved_rectification_updates_the_crm_rows_storing_an_sql_shaped_name_as_a_value(
    backend, request, tmp_path
):
    world, url = sql_world(
        tmp_path,
        url=sql_url(backend, request, tmp_path),
        update={"name": "UPDATE consultant SET name = :new WHERE id = :id"},
    )
    reference = rectify_name(world, EVIL)
    draft = world.reply_draft(reference)
    assert "Vi har också gjort rättelsen i:\n- CRM: Konsult i CRM\n" in draft.text
    assert "the sources, on each row found there: CRM: Konsult i CRM" in plan(world, draft.id)
    world.approve(draft.id)
    rows = crm_rows(url)
    assert [rows[i]["name"] for i in (1, 2, 3)] == [EVIL, "John Carter", EVIL]
    assert (
        findings(world, reference)
        == [("Konsult i CRM", "rectified", "Konsult i CRM: name updated")] * 2
    )
    with world.session() as session:
        assert find_subject(session, "email", ANNA_EMAIL).name == EVIL


def test_a_refused_update_leaves_the_case_saying_what_was_and_was_not_updated(tmp_path):
    assignments = SqlTable(
        label="Uppdrag i CRM",
        lookup="SELECT id FROM consultant WHERE lower(email) IN :emails",
        update={"name": "UPDATE uppdrag SET namn = :new WHERE konsult = :id"},  # no such table
    )
    world, url = sql_world(
        tmp_path, assignments, update={"name": "UPDATE consultant SET name = :new WHERE id = :id"}
    )
    reference = rectify_name(world, "Anna Berg")
    draft = world.reply_draft(reference)
    assert "- CRM: Konsult i CRM; Uppdrag i CRM\n" in draft.text
    with pytest.raises(CaseError) as stopped:
        world.approve(draft.id)
    message = str(stopped.value)
    assert "rectification stopped. Done: CRM: Konsult i CRM: name updated; CRM: Konsult" in message
    assert "Not done: CRM: 'Uppdrag i CRM' (CRM: the database failed (" in message
    assert [crm_rows(url)[i]["name"] for i in (1, 3)] == ["Anna Berg", "Anna Berg"]
    with world.session() as session:
        assert find_subject(session, "email", ANNA_EMAIL).name == "Anna Lindqvist"
        result = sources_json(session, world.case(reference))
    assert world.case(reference).status == "awaiting_approval"
    assert world.alerts("rectification_failed")
    assert [s for _, s, _ in findings(world, reference)] == ["rectified", "rectified", "failed"]
    [item] = [i for i in result["checklist"] if not i["done"]]
    assert item["task"].startswith("'Uppdrag i CRM' could not be updated (CRM: the database")
    with world.database.session() as session:
        tick(
            session, reference, item["id"], "Rättat för hand", actor="staff:eva", now=world.clock()
        )
    world.approve(draft.id)  # what was done is not done again; the register changes now
    assert [s for _, s, _ in findings(world, reference)] == ["rectified", "rectified", "failed"]
    with world.session() as session:
        assert find_subject(session, "email", ANNA_EMAIL).name == "Anna Berg"
    assert world.case(reference).status == "approved"


def test_an_approved_restriction_runs_the_restrict_statement_on_the_persons_rows(tmp_path):
    world, url = sql_world(tmp_path, restrict="UPDATE consultant SET restricted = 1 WHERE id = :id")
    reference = verified(
        world,
        "Jag vill att ni begränsar behandlingen av mina uppgifter, artikel 18.",
        "Begränsning",
    )
    draft = world.reply_draft(reference)
    assert "Vi har också begränsat behandlingen i:\n- CRM: Konsult i CRM\n" in draft.text
    assert "the sources, on each row found there: CRM: Konsult i CRM" in plan(world, draft.id)
    world.approve(draft.id)
    rows = crm_rows(url)
    assert [rows[i]["restricted"] for i in (1, 2, 3, 4)] == [1, 0, 1, 0]
    assert (
        findings(world, reference)
        == [("Konsult i CRM", "restricted", "Konsult i CRM: 1 row(s) restricted")] * 2
    )


def test_an_access_reply_never_attaches_a_mail_or_file_that_only_mentions_the_person(
    tmp_path, imap_server
):
    """A client's mail that names Anna's address, and Per's CV that names her as a
    reference, hold other people's data: the reply lists them, staff are told to quote
    what concerns her, and neither is attached whole."""
    from bot.workflow.approval import plan_for

    world = sourced_world(tmp_path, imap_server, "Mentions")
    write_pdf(tmp_path / "cv" / "cv-per.pdf", ["CV Per Olsson", "Referens: Anna Lindqvist"])
    reference = verified(world, "Jag vill ha ett registerutdrag, artikel 15.", "Utdrag")
    draft = world.reply_draft(reference)
    assert "- E-post som nämner dig: 2026-11-04: Konsult?" in draft.text
    assert "- Dokument som nämner dig: cv-per.pdf" in draft.text
    names = [a["filename"] for a in draft.attachments]
    assert "cv-per.pdf" not in names and "cv-anna.pdf" in names
    assert sum(n.endswith(".eml") for n in names) == 2  # her own two mails, not the client's
    for copy in draft.attachments:
        assert b"Konsult?" not in base64.b64decode(copy["content"])
    with world.database.session() as session:
        will = " ".join(plan_for(session, world.services, draft.id).will)
    assert "NOT attached" in will and "info@: 2026-11-04: Konsult?" in will
    assert "CV-arkiv: cv-per.pdf" in will


def test_cutting_an_item_from_an_erasure_reply_keeps_that_thing_even_when_its_name_recurs(
    tmp_path,
):
    """Staff cut 'CV.pdf' (a client's file) and keep 'Anna_CV.pdf' listed: CV.pdf stays,
    though its name is part of the other's. Of two mails with one date and subject, one
    cut: which one cannot be told, so both stay. A subject holding '; ' is one item."""
    from datetime import timedelta

    from bot.store.tables import SourceFinding
    from handlers.sources_on_case import to_erase

    world = make_world(tmp_path)
    outcome = world.email(ANNA_EMAIL, "Please delete all my personal data.")
    case = world.case(outcome.reference)
    now = world.clock() - timedelta(minutes=5)
    rows = [
        ("cv", "Anna_CV.pdf", "Anna_CV.pdf"),
        ("cv", "CV.pdf", "CV.pdf"),
        ("info@", "1", "2026-11-02: Hej"),
        ("info@", "2", "2026-11-02: Hej"),
        ("info@", "3", "2026-11-03: CV; referenser"),
        ("info@", "4", "2026-11-04: Svar"),
    ]
    with world.database.session() as session:
        for source, ref, summary in rows:
            session.add(
                SourceFinding(
                    request_id=case.id,
                    source=source,
                    ref=ref,
                    category="documents",
                    summary=summary,
                    details=[] if source == "cv" else [["direction", "from"]],
                    found_at=now,
                )
            )
    approved = (
        "We have also removed what we held about you elsewhere:\n"
        "- cv: Anna_CV.pdf\n"
        "- info@: 2026-11-02: Hej; 2026-11-03: CV; referenser; 2026-11-04: Svar\n"
    )
    with world.database.session() as session:
        erased = sorted(f.ref for f in to_erase(session, case, approved))
        everything = sorted(f.ref for f in to_erase(session, case, None))
    assert erased == ["3", "4", "Anna_CV.pdf"]
    assert everything == ["1", "2", "3", "4", "Anna_CV.pdf", "CV.pdf"]
    world.database.dispose()


def test_a_rectification_reply_edited_to_leave_out_the_crm_leaves_the_crm_as_it_was(tmp_path):
    from bot.workflow.approval import edit_draft

    world, url = sql_world(
        tmp_path, update={"name": "UPDATE consultant SET name = :new WHERE id = :id"}
    )
    reference = rectify_name(world, "Anna Berg")
    draft = world.reply_draft(reference)
    without_crm = "\n".join(
        line for line in draft.text.splitlines() if not line.startswith("- CRM:")
    )
    with world.database.session() as session:
        edited = edit_draft(session, world.services, draft.id, without_crm, actor="staff:eva")
    assert "CRM" not in plan(world, edited.id)
    world.approve(edited.id)
    assert crm_rows(url)[1]["name"] == "Anna Lindqvist"
    assert findings(world, reference) == []
    with world.session() as session:
        assert find_subject(session, "email", ANNA_EMAIL).name == "Anna Berg"


def test_a_crm_down_when_a_rectification_is_approved_stops_it_until_staff_do_it_by_hand(
    tmp_path,
):
    from sqlalchemy import create_engine, text

    world, url = sql_world(
        tmp_path, update={"name": "UPDATE consultant SET name = :new WHERE id = :id"}
    )
    reference = rectify_name(world, "Anna Berg")
    draft = world.reply_draft(reference)
    engine = create_engine(url)
    with engine.begin() as connection:  # the CRM refuses every statement from now on
        connection.execute(text("ALTER TABLE consultant RENAME TO gone"))
    engine.dispose()
    with pytest.raises(CaseError) as stopped:
        world.approve(draft.id)
    assert "rectification stopped. Done: nothing. Not done: CRM: could not be searched to " in (
        str(stopped.value)
    )
    with world.session() as session:
        assert find_subject(session, "email", ANNA_EMAIL).name == "Anna Lindqvist"
        [item] = [
            i for i in sources_json(session, world.case(reference))["checklist"] if not i["done"]
        ]
    assert item["task"].startswith("could not be searched to carry out the rectification (CRM:")
    with world.database.session() as session:
        tick(
            session, reference, item["id"], "Rättat för hand", actor="staff:eva", now=world.clock()
        )
    world.approve(draft.id)  # staff did it by hand: the CRM is not asked again
    with world.session() as session:
        assert find_subject(session, "email", ANNA_EMAIL).name == "Anna Berg"


def test_no_data_answer_is_refused_when_the_mailbox_or_cv_folder_holds_the_requester(
    tmp_path, imap_server
):
    """A requester nobody on file has, whose mail is in info@ (or whose name is on a CV):
    staff are told what was found where (counts only) and what to do, and no draft claims
    that nothing is held; a requester no source knows gets the answer once the system noxbot
    cannot search has been searched by hand."""
    from bot.workflow.approval import plan_for
    from bot.workflow.linking import draft_no_data

    world = sourced_world(tmp_path, imap_server, "NoData", manual=True)
    client = world.email("kund@example.com", "Jag vill ha ett registerutdrag.", "Utdrag")
    namesake = world.email(
        "jc@example.org", "Jag vill ha ett registerutdrag.", "Utdrag", sender_name="John Carter"
    )
    unknown = world.email(
        "okand@example.net", "Jag vill ha ett registerutdrag.", "Utdrag", sender_name="Anna"
    )  # a lone first name is no one: not searched (it is on Anna Lindqvist's CV)
    with world.session() as session, pytest.raises(CaseError) as refused:
        draft_no_data(session, world.services, client.reference, actor="staff:eva")
    message = str(refused.value)
    assert "info@: 1 by the address" in message and "cannot say that no data is held" in message
    assert f"noxbot requests link {client.reference} --subject" in message
    assert "Konsult?" not in message and "kund@example.com" not in message
    with world.session() as session, pytest.raises(CaseError, match="CV-arkiv: 1 by the name only"):
        draft_no_data(session, world.services, namesake.reference, actor="staff:eva")
    assert world.drafts(client.reference, purpose="no_data") == []
    assert world.drafts(namesake.reference, purpose="no_data") == []

    with world.database.session() as session:
        draft_id = draft_no_data(session, world.services, unknown.reference, actor="staff:eva").id
    with world.session() as session:
        plan = plan_for(session, world.services, draft_id)
    assert any("Fortnox" in b and "not ticked off" in b for b in plan.blocked)
    with pytest.raises(CaseError, match="Fortnox"):
        world.approve(draft_id)
    with world.database.session() as session:
        item = sources_json(session, world.case(unknown.reference))["checklist"][0]
        tick(
            session,
            unknown.reference,
            item["id"],
            "Inga fakturor",
            actor="staff:eva",
            now=world.clock(),
        )
    world.approve(draft_id)
    assert world.case(unknown.reference).status == "closed"


def test_linking_a_case_after_a_no_data_draft_drops_the_manual_search_it_waited_for(
    tmp_path, imap_server
):
    from bot.store.tables import Subject
    from bot.workflow.linking import draft_no_data, link_to_subject
    from handlers.sources_on_case import open_checklist

    world = sourced_world(tmp_path, imap_server, "NoDataLinked", manual=True)
    stranger = world.email("ny.adress@example.net", "Jag vill ha ett registerutdrag.", "Utdrag")
    with world.database.session() as session:
        draft_no_data(session, world.services, stranger.reference, actor="staff:eva")
        [item] = open_checklist(session, world.case(stranger.reference))
        assert item.source == "Fortnox" and "no data is held" in item.task
    with world.database.session() as session:
        maria = session.exec(select(Subject).where(Subject.name == "Maria Berg")).one().id
        link_to_subject(session, world.services, stranger.reference, maria, actor="staff:eva")
    with world.session() as session:
        assert open_checklist(session, world.case(stranger.reference)) == []
        done = sources_json(session, world.case(stranger.reference))["checklist"]
    assert [i["note"] for i in done] == ["not needed: the case was linked to a person on file"]
    assert world.drafts(stranger.reference, purpose="no_data") == []


def test_the_request_itself_in_the_mailbox_is_no_data_held(tmp_path, imap_server):
    """A stranger's request came to info@, which the mailbox source searches (as in
    config.example.toml): their own mail, and what was sent back about it, are the case's
    correspondence, not data held about them. Before, "no data held" could then never be
    answered to anyone who wrote by email."""
    import imaplib

    from bot.workflow.linking import draft_no_data

    world = sourced_world(tmp_path, imap_server, "Inkorg")
    request = (
        b"From: okand@example.net\r\nTo: info@nox.test\r\nSubject: Utdrag\r\n"
        b"Message-ID: <own-request@example.net>\r\nDate: Mon, 07 Dec 2026 10:00:00 +0100\r\n"
        b"\r\nJag vill ha ett registerutdrag.\r\n"
    )
    client = imaplib.IMAP4("127.0.0.1", imap_server.port)
    client.login(dovecot.USER, dovecot.PASSWORD)
    client.append("Inkorg", None, None, request)
    client.logout()
    outcome = world.email(
        "okand@example.net",
        "Jag vill ha ett registerutdrag.",
        "Utdrag",
        message_id="<own-request@example.net>",
    )
    with world.database.session() as session:
        draft = draft_no_data(session, world.services, outcome.reference, actor="staff:eva")
    assert draft.purpose == "no_data" and draft.to_address == "okand@example.net"


def test_staff_are_told_when_the_mailbox_holds_an_address_the_message_names(tmp_path, imap_server):
    """ "Search my old address kund@example.com": before, only the sender's new address was
    searched. Now the mailbox is searched for it too, and staff read what it holds before
    approving; the answer is not refused for it (whether it comes must not tell an
    unverified sender that the address they named is held: attacker review)."""
    from bot.workflow.approval import approval_plan
    from bot.workflow.linking import draft_no_data

    world = sourced_world(tmp_path, imap_server, "NoDataNamed")
    case = world.email(
        "ny.adress@example.net",
        "Jag vill ha ett registerutdrag. Förut skrev jag från kund@example.com.",
        "Utdrag",
    )
    with world.session() as session:
        draft = draft_no_data(session, world.services, case.reference, actor="staff:eva")
        heed = approval_plan(session, world.services, draft).heed
    assert any("the sources hold something for an address or number" in h for h in heed)
    assert any("info@: 1" in h for h in heed)
    assert not any("kund@example.com" in h for h in heed)


def test_the_demo_calls_erik_on_a_number_his_message_says_still_reaches_him(tmp_path):
    """Erik wrote that his old number was no longer used, and the demo then verified him by
    calling that number (DPO review): his message now says it reaches him till the month's
    end, and the call to it is what staff record."""
    from rich.console import Console

    from bot.cli.demo import demo

    console = Console(record=True, width=140)
    result = demo(tmp_path / "demo", console)
    shown = console.export_text()
    [erik] = [m for m, _ in result.outcomes if m.sender == "erik.svensson@example.se"]
    assert "används inte" not in erik.text
    assert "säger jag upp vid månadsskiftet" in erik.text and "nå mig på båda" in erik.text
    assert "staff call him on the number on file (his until the" in shown
