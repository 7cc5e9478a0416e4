"""Who received a person's data: imported from CSV, named in an access reply when asked,
and told of an erasure by an Art. 19 notice staff approve (or a checklist item)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.errors import CaseError
from bot.store.disclosures import DisclosureImportError, import_disclosures
from bot.store.tables import Disclosure, Draft
from bot.workflow.checklist import sources_json, tick
from tests.workflow_kit import ANNA_EMAIL, ANNA_TELEGRAM, EXAMPLES, World

BANK = "rekrytering@exempelbanken.example"


@pytest.fixture
def disclosed(world: World) -> World:
    with world.database.session() as session:
        result = import_disclosures(
            session, (EXAMPLES / "disclosures.csv").read_bytes(), now=world.clock()
        )
    assert (result.added, result.already) == (3, 0)
    return world


def cli_on(world, tmp_path, monkeypatch) -> None:
    """The CLI (tests.cli_kit's run) pointed at `world`'s database."""
    config = tmp_path / "cli.toml"
    config.write_text(f'[database]\nurl = "{world.database.engine.url}"\n')
    monkeypatch.setenv("NOXBOT_CONFIG", str(config))


def verified(world: World, text: str, subject: str) -> str:
    outcome = world.email(ANNA_EMAIL, text, subject)
    world.press(ANNA_TELEGRAM, world.verification(outcome.reference).id, yes=True)
    return outcome.reference


def test_an_access_reply_names_the_recipients_when_the_person_asks_who_received_their_data(
    disclosed,
):
    reference = verified(
        disclosed,
        "Jag vill ha ett registerutdrag. Vilka har fått mina uppgifter av er?",
        "Utdrag",
    )
    text = disclosed.reply_draft(reference).text
    assert "Vilka som har fått dina uppgifter av oss:" in text
    assert "- Exempelbanken AB, 2026-10-01: CV och konsultprofil" in text
    assert "- Kund Två AB, 2026-10-20: CV" in text
    assert "Fintech" not in text  # John's


def test_without_the_question_the_reply_gives_categories_of_recipients_only(disclosed):
    reference = verified(disclosed, "Jag vill ha ett registerutdrag enligt artikel 15.", "Utdrag")
    text = disclosed.reply_draft(reference).text
    assert "Exempelbanken AB" not in text and "Vilka som har fått" not in text
    assert "Vilka som kan få dem: Kunder, när vi förmedlar ett uppdrag till dem" in text


async def test_erasure_tells_each_recipient_by_an_art19_notice_or_a_checklist_item(disclosed):
    world = disclosed
    reference = verified(world, "Radera alla mina uppgifter, artikel 17.", "Radering")
    reply = world.reply_draft(reference)
    assert (
        "Vi meddelar också dem som har fått dina uppgifter av oss (artikel 19 GDPR): "
        "Exempelbanken AB och Kund Två AB." in reply.text
    )
    with pytest.raises(CaseError, match=r"Kund Två AB: tell Kund Två AB \(no address on file\)"):
        world.approve(reply.id)
    with world.database.session() as session:
        [item] = sources_json(session, world.case(reference))["checklist"]
        tick(
            session,
            reference,
            item["id"],
            "Ringde Kund Två, de raderar",
            actor="staff:eva",
            now=world.clock(),
        )
    world.approve(reply.id)
    await world.deliver()
    assert world.case(reference).status == "done"  # the notice waits for staff all the same
    with world.session() as session:
        [notice] = session.exec(select(Draft).where(Draft.purpose == "art19_notice")).all()
        assert session.exec(select(Disclosure)).all()[0].recipient == "Fintech Ltd"  # John's
    assert notice.to_address == BANK and notice.status == "awaiting_approval"
    assert "Anna Lindqvist" in notice.text and "2026-10-01: CV och konsultprofil" in notice.text
    assert "artikel 19" in notice.text and "radera" in notice.text
    outbox = world.approve(notice.id)
    assert (outbox.channel, outbox.address, outbox.purpose) == ("email", BANK, "art19_notice")


async def test_an_answered_erasure_whose_notice_waits_stays_on_staffs_list(
    disclosed, tmp_path, monkeypatch
):
    """Before, once the reply went the case was "done · waiting on nobody": the console's
    queue and `requests list` left it out, and only `drafts list` showed the notice to the
    bank, which nobody working in the console would ever send."""
    from bot.workflow.views import case_waits_on
    from tests.cli_kit import run
    from tests.web_kit import console_client

    world = disclosed
    reference = verified(world, "Radera alla mina uppgifter, artikel 17.", "Radering")
    with world.database.session() as session:
        [item] = sources_json(session, world.case(reference))["checklist"]
        tick(session, reference, item["id"], "Ringde Kund Två", actor="eva", now=world.clock())
    world.approve(world.reply_draft(reference).id)
    await world.deliver()
    assert world.case(reference).status == "done"
    with world.session() as session:
        waits = case_waits_on(session, world.services, world.case(reference), in_console=True)
    assert waits == (
        f"staff: approve the Art. 19 notice to {BANK}, or edit or reject it (on the case page)"
    )
    cli_on(world, tmp_path, monkeypatch)
    async with console_client(world) as (http, csrf):
        queue = (await http.get("/")).text
        assert reference in queue and "approve the Art. 19 notice" in queue
        # The reports count it apart, and say why the queue lists one more.
        reports = (await http.get("/reports")).text
        assert "Open cases: <strong>0</strong>" in reports
        assert "Art. 19 notice still to go to a recipient: 1 (the queue lists 1 open)" in reports
        monkeypatch.setenv("COLUMNS", "80")  # a plain terminal: its status says why it is listed
        code, listed = run("requests", "list")
        assert code == 0 and reference in listed
        assert "(Art. 19" in listed and "notice to" in listed
        [notice] = world.drafts(reference, "art19_notice")
        form = {"csrf": csrf, "draft": str(notice.id), "version": str(notice.version)}
        approved = await http.post(f"/cases/{reference}/approve", data=form)
        page = (await http.get(approved.headers["location"])).text
    assert "Approved: the notice is queued to be sent." in page  # not "the reply"
    # Approved, the notice is on its way: the case stays listed until it has gone (a
    # notice that cannot be sent would otherwise be lost from sight; DPO review).
    with world.session() as session:
        assert case_waits_on(session, world.services, world.case(reference)) == (
            f"the outbox: sending the Art. 19 notice to {BANK}"
        )
    assert reference in run("requests", "list")[1]
    await world.deliver()
    with world.session() as session:
        assert case_waits_on(session, world.services, world.case(reference)) == "nobody"
    assert reference not in run("requests", "list")[1]


def test_a_disclosures_file_with_a_bad_row_imports_nothing(world):
    data = (
        "person,recipient,recipient_email,date,what\n"
        f"{ANNA_EMAIL},Kund AB,,2026-10-01,CV\n"
        f"{ANNA_EMAIL},Kund AB,inte-en-adress,2026-10-01,CV\n"
        "070-000 00 00,Kund AB,,1 oktober,CV\n"
    ).encode()
    with world.database.session() as session:
        with pytest.raises(DisclosureImportError) as caught:
            import_disclosures(session, data, now=world.clock())
        assert session.exec(select(Disclosure)).all() == []
    assert str(caught.value) == (
        "nothing imported; 2 row(s) to fix: line 3: recipient_email is not an email address; "
        "line 4: person is not the email address or phone number of anyone on file"
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_disclosures_are_imported_from_an_sql_source_by_the_command(backend, request, tmp_path):
    from sqlalchemy import create_engine, text

    from tests.test_cli import run

    url = (
        f"sqlite:///{tmp_path / 'crm.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url").replace(
            "postgresql://", "postgresql+psycopg://"
        )
    )
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE sent_cv (email TEXT, client TEXT, client_email TEXT, sent DATE)")
        )
        connection.execute(
            text(
                "INSERT INTO sent_cv VALUES ('anna.lindqvist@example.se', 'Exempelbanken AB', "
                "'rekrytering@exempelbanken.example', '2026-10-01'), "
                "('john.carter@example.com', 'Fintech Ltd', NULL, '2026-09-15')"
            )
        )
    engine.dispose()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "n.db"}"\n\n[[sources]]\ntype = "sql"\n'
        f'name = "CRM"\nurl = "{url}"\ndisclosures = "SELECT email AS person, client AS '
        "recipient, client_email AS recipient_email, sent AS date, 'CV' AS what FROM sent_cv\"\n"
    )
    from tests.workflow_kit import EXAMPLES as examples

    c = str(config)
    assert run("subjects", "import", str(examples / "register.csv"), "-c", c)[0] == 0
    code, output = run("disclosures", "import", "--source", "CRM", "-c", c)
    assert (code, output.strip()) == (0, "2 disclosure(s) imported, 0 already on record")
    code, output = run("disclosures", "import", "--source", "CRM", "-c", c)
    assert output.strip() == "0 disclosure(s) imported, 2 already on record"


async def test_a_row_about_someone_erased_is_skipped_not_a_reason_to_import_nothing(disclosed):
    """The CRM still lists whom Anna's CV went to after her erasure: importing its
    disclosures again refused every row. Her row is skipped and counted; the rest go in."""
    world = disclosed
    reference = verified(world, "Radera alla mina uppgifter, artikel 17.", "Radering")
    with world.database.session() as session:
        for item in sources_json(session, world.case(reference))["checklist"]:
            tick(session, reference, item["id"], "Ringde dem", actor="eva", now=world.clock())
    world.approve(world.reply_draft(reference).id)
    data = (
        "person,recipient,recipient_email,date,what\n"
        f"{ANNA_EMAIL},Exempelbanken AB,{BANK},2026-10-01,CV\n"
        "john.carter@example.com,Kund Tre AB,,2026-11-02,CV\n"
    ).encode()
    with world.database.session() as session:
        result = import_disclosures(
            session, data, now=world.clock(), hash_key=world.services.hash_key
        )
    assert (result.added, result.erased) == (1, 1)
    with world.database.session() as session, pytest.raises(DisclosureImportError):
        import_disclosures(session, data, now=world.clock())  # without the key: as before


async def test_a_notice_that_could_not_be_sent_keeps_its_case_on_staffs_list(disclosed):
    """Approved, the notice left the lists at once: when the bank's server refused it,
    nothing but the outbox said so (DPO review)."""
    from bot.workflow.views import case_waits_on

    world = disclosed
    reference = verified(world, "Radera alla mina uppgifter, artikel 17.", "Radering")
    with world.database.session() as session:
        [item] = sources_json(session, world.case(reference))["checklist"]
        tick(session, reference, item["id"], "Ringde Kund Två", actor="eva", now=world.clock())
    world.approve(world.reply_draft(reference).id)
    await world.deliver()
    [notice] = world.drafts(reference, "art19_notice")
    queued = world.approve(notice.id)
    await world.refused_until_given_up()
    with world.session() as session:
        said = case_waits_on(session, world.services, world.case(reference))
    assert said == (
        f"staff: the Art. 19 notice to {BANK} could not be sent: retry it (noxbot outbox "
        f"retry {queued.id})"
    )


def test_the_open_list_query_with_notices_on_their_way_runs_on_both_databases(any_world):
    """The open cases include those whose notice waits or is on its way: one query (a
    union in a subquery) that each database must take."""
    from sqlmodel import col, or_, select

    from bot.store.tables import Request
    from bot.workflow.views import waiting_notices

    reference = any_world.email(ANNA_EMAIL, "Radera mina uppgifter.").reference
    with any_world.session() as session:
        listed = session.exec(
            select(Request.reference).where(
                or_(col(Request.closed_at).is_(None), col(Request.id).in_(waiting_notices()))
            )
        ).all()
        assert reference in listed
        assert list(session.scalars(waiting_notices())) == []


async def test_the_approval_plan_names_the_recipients_that_will_get_an_art19_notice(
    disclosed, tmp_path, monkeypatch
):
    """Before, "Approving will" named the erasure and the reply only: which recipients
    approving would draft an Art. 19 notice to (and that each waits for its own approval),
    and which had no address to send one to, was learnt only after (DPO review)."""
    from tests.cli_kit import run, run_json
    from tests.web_kit import console_client

    world = disclosed
    reference = verified(world, "Radera alla mina uppgifter, artikel 17.", "Radering")
    reply = world.reply_draft(reference)
    cli_on(world, tmp_path, monkeypatch)
    monkeypatch.setenv("COLUMNS", "200")
    approval = run_json("drafts", "show", str(reply.id))["approval"]
    assert approval["notices"] == [
        {"recipient": "Exempelbanken AB", "address": BANK},
        {"recipient": "Kund Två AB", "address": None},
    ]
    code, shown = run("drafts", "show", str(reply.id))
    assert code == 0
    assert f"draft an Art. 19 notice to each recipient of the data: Exempelbanken AB ({BANK})" in (
        shown
    )
    assert "each notice is held for staff's approval" in shown
    assert "draft no Art. 19 notice to Kund Två AB: no address on file" in shown
    async with console_client(world) as (http, _):
        page = (await http.get(f"/cases/{reference}")).text
    assert "draft an Art. 19 notice to each recipient of the data: Exempelbanken AB" in page
    assert "staff must tell them another way" in page
    # An access reply tells no one: its plan names no notice.
    access = verified(world, "Jag vill ha ett registerutdrag enligt artikel 15.", "Utdrag")
    approval = run_json("drafts", "show", str(world.reply_draft(access).id))["approval"]
    assert approval["notices"] == [] and "Art. 19" not in " ".join(approval["will"])


async def test_drafts_list_shows_a_reply_approval_would_refuse_as_blocked_with_why(
    disclosed, tmp_path, monkeypatch
):
    """Before, `drafts list` said "to approve" of an erasure reply that `drafts approve`
    refuses until the checklist item (a recipient with no address) is ticked off (DPO
    review), and so did the console's queue ("staff: approve, edit or reject the draft")."""
    from tests.cli_kit import run, run_json
    from tests.web_kit import console_client

    world = disclosed
    reference = verified(world, "Radera alla mina uppgifter, artikel 17.", "Radering")
    reply = world.reply_draft(reference)
    cli_on(world, tmp_path, monkeypatch)
    monkeypatch.setenv("COLUMNS", "200")
    [listed] = [d for d in run_json("drafts", "list") if d["id"] == reply.id]
    assert listed["status"] == "awaiting_approval"  # (the name scripts read stays)
    assert listed["blocked"] == ["checklist not ticked off"]
    assert listed["status_words"] == "blocked: checklist not ticked off"
    code, shown = run("drafts", "list")
    assert code == 0 and "blocked: checklist not ticked off" in shown
    assert "to approve" not in shown
    shown = run("drafts", "show", str(reply.id))[1]
    assert "reply, blocked: checklist not ticked off" in shown.splitlines()[0]
    # The case, as `requests list` and `requests show` say whom it waits on.
    blocked = (
        "staff: the reply cannot be approved yet (checklist not ticked off): "
        f"noxbot drafts show {reply.id} says what holds it"
    )
    [case] = [c for c in run_json("requests", "list") if c["reference"] == reference]
    assert case["waiting_on"] == blocked and case["blocked"] == ["checklist not ticked off"]
    [row] = [line for line in run("requests", "list")[1].splitlines() if reference in line]
    assert "draft blocked:" in row and "draft to approve" not in row
    assert run_json("requests", "show", reference)["waiting_on"] == blocked
    async with console_client(world) as (http, _):  # the console's queue and case page
        for page in ("/", f"/cases/{reference}"):
            text = (await http.get(page)).text
            assert "the reply cannot be approved yet (checklist not ticked off)" in text
            assert "approve, edit or reject the draft" not in text
    with world.database.session() as session:
        [item] = sources_json(session, world.case(reference))["checklist"]
        tick(session, reference, item["id"], "Ringde Kund Två", actor="eva", now=world.clock())
    [listed] = [d for d in run_json("drafts", "list") if d["id"] == reply.id]
    assert listed["blocked"] == [] and listed["status_words"] == "to approve"


def test_once_staff_tick_off_telling_a_recipient_with_no_address_the_plan_says_they_did(
    disclosed,
):
    """The plan still said "staff must tell them another way" after the checklist item was
    ticked off, and the item said the erased person's data "is changed by this case"
    (DPO review)."""
    from bot.workflow.approval import approval_plan

    world = disclosed
    reference = verified(world, "Radera alla mina uppgifter, artikel 17.", "Radering")
    with world.database.session() as session:
        [item] = sources_json(session, world.case(reference))["checklist"]
    assert "is erased by this case" in item["task"]
    with world.database.session() as session:
        tick(session, reference, item["id"], "Ringde Kund Två", actor="eva", now=world.clock())
    with world.database.session() as session:
        will = " ".join(approval_plan(session, world.services, world.reply_draft(reference)).will)
    assert "staff must tell them another way" not in will
    assert "draft no Art. 19 notice to Kund Två AB: no address on file; staff told them" in will
