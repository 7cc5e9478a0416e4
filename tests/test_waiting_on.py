"""`requests show` (and the console) say whom a case waits on and what they are to do:
staff's phone call, a complaint's outcome, linking a requester not on file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.store.records import get_case
from bot.workflow.views import case_waits_on
from tests.cli_kit import run, run_main, write_config
from tests.workflow_kit import ANNA_EMAIL, ERIK_EMAIL, World

ROOT = Path(__file__).resolve().parent.parent
ERASE = "Please delete all personal data you hold about me."
COMPLAINT = (
    "Jag är mycket missnöjd med hur ni har hanterat mina personuppgifter: ni skickade "
    "mitt CV till en kund utan att fråga. Jag kommer att anmäla er till IMY."
)


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """The CLI's config with the example register imported, wide enough not to wrap."""
    path = write_config(tmp_path, monkeypatch)
    monkeypatch.setenv("COLUMNS", "200")
    assert run("subjects", "import", str(ROOT / "examples" / "register.csv"))[0] == 0
    return path


def new_case(tmp_path: Path, sender: str, text: str) -> str:
    note = tmp_path / "note.txt"
    note.write_text(text)
    code, output = run(
        "requests", "new", "--channel", "email", "--from", sender, "--text-file", str(note),
        "--format", "json",
    )  # fmt: skip
    assert code == 0, output
    return json.loads(output)["reference"]


def waiting_on(reference: str) -> str:
    code, output = run("requests", "show", reference)
    assert code == 0, output
    [line] = [line for line in output.splitlines() if line.startswith("waiting on: ")]
    return line.removeprefix("waiting on: ")


def test_requests_show_says_staff_make_the_phone_call_not_the_requester(config, tmp_path):
    reference = new_case(tmp_path, ERIK_EMAIL, ERASE)  # Erik: only a phone besides this mail
    _, output = run("requests", "show", reference, "--format", "json")
    shown = json.loads(output)
    assert (shown["status"], shown["verification"]["method"]) == (
        "awaiting_verification",
        "phone_call",
    )
    assert waiting_on(reference) == (
        "staff: call the number on file and record the answer (noxbot requests verify "
        f'{reference} --by phone --note "…")'
    )
    assert shown["waiting_on"] == waiting_on(reference)


def test_requests_show_says_the_requester_answers_a_challenge_sent_to_them(config, tmp_path):
    reference = new_case(tmp_path, ANNA_EMAIL, ERASE)  # Anna: a Telegram id on file
    assert waiting_on(reference) == "the requester: answer the verification challenge"


def test_a_complaint_without_its_outcome_waits_on_staff_to_record_it(config, tmp_path):
    reference = new_case(tmp_path, ANNA_EMAIL, COMPLAINT)
    assert waiting_on(reference) == (
        f"staff: record the complaint's outcome (noxbot requests outcome {reference} "
        "--text-file FILE)"
    )
    outcome = tmp_path / "outcome.txt"
    outcome.write_text("The CV was sent by mistake; it has been deleted at the client.")
    code, output = run("requests", "outcome", reference, "--text-file", str(outcome))
    assert code == 0, output
    assert waiting_on(reference) == "staff: approve, edit or reject the draft"


def test_a_requester_not_on_file_waits_on_staff_to_link_or_answer_no_data(config, tmp_path):
    reference = new_case(tmp_path, "stranger@example.org", ERASE)
    then = (
        f"link it to the person it is about (noxbot requests link {reference} --subject ID), "
        f"or, when nobody matches, answer that no data is held (noxbot requests no-data "
        f"{reference})"
    )
    assert waiting_on(reference) == f"staff: {then}"
    code, err = run_main("requests", "challenge", reference)
    assert (code, err) == (1, f"noxbot: {reference} is not linked to anyone on file: {then}\n")
    code, err = run_main("requests", "verify", reference, "--by", "phone", "--note", "called")
    assert code == 1 and err.endswith(f"cannot be recorded. First {then}\n")


def test_the_console_names_its_own_forms_for_the_outcome_and_the_link(world: World):
    complaint = world.email(ANNA_EMAIL, COMPLAINT, "Klagomål").reference
    stranger = world.email("stranger@example.org", ERASE, "Delete").reference
    with world.session() as session:
        assert case_waits_on(
            session, world.services, get_case(session, complaint), in_console=True
        ) == ("staff: record the complaint's outcome (Complaint outcome, on the case page)")
        assert case_waits_on(
            session, world.services, get_case(session, stranger), in_console=True
        ) == (
            "staff: link it to the person on file, or, when nobody matches, draft the "
            '"no data held" answer (Requester not on file, on the case page)'
        )


def test_a_drafted_no_data_answer_waits_on_staff_to_approve_it(tmp_path):
    """Once the "no data held" answer is drafted, the next step is approving it, not
    drafting it again."""
    from bot.store.records import get_case
    from bot.workflow.linking import draft_no_data
    from bot.workflow.views import case_waits_on
    from tests.workflow_kit import make_world

    world = make_world(tmp_path)
    opened = world.email(
        "stranger@example.net", "Hej, jag vill ha en kopia av mina personuppgifter.", "Utdrag"
    )
    with world.database.session() as session:
        draft_no_data(session, world.services, opened.reference, actor="staff:eva")
    with world.session() as session:
        case = get_case(session, opened.reference)
        said = case_waits_on(session, world.services, case)
        assert "approve" in said and "no data held" in said and "requests no-data" not in said
        assert "case page" in case_waits_on(session, world.services, case, in_console=True)


def test_a_new_challenge_that_cannot_be_sent_is_refused_not_reported_as_sent(config, tmp_path):
    """Lena is on file with her email address only and asks from it: no other channel may
    verify her. Before, `requests challenge` printed a line and exited 0, and the console
    said "A new verification challenge is on its way" while nothing was sent."""
    people = tmp_path / "people.csv"
    people.write_text("name,email\nLena Öhrn,lena.ohrn@example.se\n")
    assert run("subjects", "import", str(people))[0] == 0
    reference = new_case(tmp_path, "lena.ohrn@example.se", ERASE)
    code, err = run_main("requests", "challenge", reference)
    assert code == 1 and "no challenge was sent" in err
    assert "Add one staff know is theirs to the register" in err
    code, err = run_main("requests", "challenge", reference, "--to", "lena.ohrn@example.se")
    assert code == 1 and "is where the request came from; a challenge there proves nothing" in err


async def test_the_console_says_no_challenge_was_sent_when_none_could_be(world: World):
    from bot.store.register import _Row, import_rows
    from tests.web_kit import console_client

    with world.database.session() as session:
        import_rows(session, [_Row(2, {"name": "Lena Öhrn", "email": "lena@example.se"})],
                    now=world.clock())  # fmt: skip
    reference = world.email("lena@example.se", ERASE).reference
    assert world.case(reference).status == "unverified"
    async with console_client(world) as (http, csrf):
        answer = await http.post(f"/cases/{reference}/challenge", data={"csrf": csrf})
        page = (
            answer.text
            if answer.status_code != 303
            else (await http.get(answer.headers["location"])).text
        )
    assert "no challenge was sent" in page and "on its way" not in page


async def test_an_email_change_waits_on_the_codes_that_confirm_it_not_on_staff(world: World):
    """Anna asks by email to change her address. First she is to answer the challenge on
    Telegram and the code mailed to her old address; once she is confirmed, a code goes to
    the new address too, and the draft cannot be approved before both are answered — it
    said "staff: approve, edit or reject the draft", and "the verification challenge" as
    if there were one."""
    from tests.workflow_kit import ANNA_TELEGRAM

    reference = world.email(
        ANNA_EMAIL, "Hej, ändra min e-postadress till anna.ny@example.org, tack.", "Ny adress"
    ).reference

    def waiting() -> str:
        with world.session() as session:
            return case_waits_on(session, world.services, get_case(session, reference))

    assert waiting() == (
        "the requester: answer the verification challenge, and confirm the change with the "
        "code mailed to the old email address"
    )
    world.press(ANNA_TELEGRAM, world.verification(reference).id, True)
    assert world.case(reference).status == "awaiting_approval"
    assert waiting() == (
        "the requester: confirm the change with the code mailed to the old email address and "
        "the code mailed to the new email address; then staff approve the draft"
    )
    await world.deliver()
    world.email(ANNA_EMAIL, world.code_mailed_to(ANNA_EMAIL), f"Re: [{reference}]")
    new = "anna.ny@example.org"
    world.email(new, world.code_mailed_to(new), f"Re: [{reference}]")
    assert waiting() == "staff: approve, edit or reject the draft"


def test_an_unverified_case_with_no_other_contact_point_says_none_can_be_sent(config, tmp_path):
    """Lena is on file with the address she wrote from only: "resend the challenge" sent
    staff to a command that can only refuse."""
    people = tmp_path / "people.csv"
    people.write_text("name,email\nLena Öhrn,lena.ohrn@example.se\n")
    assert run("subjects", "import", str(people))[0] == 0
    reference = new_case(tmp_path, "lena.ohrn@example.se", ERASE)
    said = waiting_on(reference)
    assert said.startswith("staff: no contact point on file but the one the request came from")
    assert "resend" not in said and "noxbot subjects import" in said
    people.write_text("name,email,phone\nLena Öhrn,lena.ohrn@example.se,070-123 45 99\n")
    assert run("subjects", "import", str(people))[0] == 0
    assert waiting_on(reference) == "staff: verify another way, resend the challenge, or reply"


def test_requests_show_says_a_challenge_is_queued_while_its_message_waits(config, tmp_path):
    reference = new_case(tmp_path, ANNA_EMAIL, ERASE)  # nothing sends it: no `noxbot run`
    code, output = run("requests", "show", reference)
    assert code == 0, output
    [line] = [line for line in output.splitlines() if "Telegram confirmation to" in line]
    assert line.endswith(": pending, queued, not sent yet"), line


def test_the_history_says_a_call_is_for_staff_to_make_and_a_code_is_queued(config, tmp_path):
    """It said "verification by phone call sent" for a call nobody had made yet, and "sent"
    for a code still waiting in the outbox."""
    erik = new_case(tmp_path, ERIK_EMAIL, ERASE)  # a phone besides this mail: a call
    anna = new_case(tmp_path, ANNA_EMAIL, ERASE)  # a Telegram id on file: buttons, queued
    code, output = run("requests", "show", erik)
    assert code == 0 and "verification by phone call: staff to call the number on file" in output
    code, output = run("requests", "show", anna)
    assert code == 0 and "verification by Telegram confirmation queued" in output
    assert " sent" not in output.split("\nHistory")[1]


async def test_a_complaint_from_an_address_not_on_file_is_not_offered_for_linking(world: World):
    """Linking a complaint failed with "cannot move from awaiting_approval to
    awaiting_verification", and the console offered the form that led there."""
    from bot.errors import CaseError
    from bot.workflow.linking import link_to_subject
    from tests.web_kit import console_client

    reference = world.email("john.private@example.org", COMPLAINT, "Klagomål").reference
    with world.database.session() as session, pytest.raises(CaseError) as refused:
        link_to_subject(session, world.services, reference, 1, actor="staff:eva")
    assert "needs no verification" in str(refused.value)
    assert "noxbot requests note" in str(refused.value)
    stranger = world.email("stranger@example.org", ERASE, "Delete").reference
    async with console_client(world) as (http, _):
        page = (await http.get(f"/cases/{reference}")).text
        assert "Requester not on file" not in page
        page = (await http.get(f"/cases/{stranger}")).text
        assert "Requester not on file" in page


def test_an_imported_personnummer_is_masked_and_the_import_says_where(config, tmp_path):
    """A register export with a personnummer column (and a CV that holds one) was stored
    as it was, though the policy says NOX needs none (DPO review)."""
    people = tmp_path / "people.csv"
    people.write_text(
        "name,email,personnummer,cv\n"
        "Per Ek,per.ek@example.se,19811218-9876,Per Ek (811218-9876) systemutvecklare\n"
    )
    code, output = run("subjects", "import", str(people))
    assert code == 0, output
    assert "line 2: a personal identity number masked in personnummer, cv" in output
    [per] = json.loads(run("subjects", "search", "Per Ek", "--format", "json")[1])
    shown = run("subjects", "show", str(per["id"]), "--format", "json")[1]
    assert "9876" not in shown and "[personnummer borttaget]" in shown


async def test_after_the_person_said_it_was_not_them_no_new_challenge_pesters_them(
    world: World,
):
    """Maria pressed "No, it wasn't me". The case still said "resend the challenge", and
    `requests challenge` sent her another one without a word (DPO review)."""
    from bot.errors import CaseError
    from bot.workflow.linking import send_new_challenge
    from tests.web_kit import console_client
    from tests.workflow_kit import ANNA_TELEGRAM

    reference = world.email(ANNA_EMAIL, ERASE, "Delete").reference
    world.press(ANNA_TELEGRAM, world.verification(reference).id, yes=False)
    assert world.case(reference).status == "unverified"
    with world.session() as session:
        said = case_waits_on(session, world.services, get_case(session, reference))
    assert said.startswith("staff: the person on file said the request was not theirs")
    assert "resend" not in said and f"noxbot requests close {reference}" in said
    with world.database.session() as session, pytest.raises(CaseError) as refused:
        send_new_challenge(session, world.services, reference, actor="staff:eva")
    assert "said it was not them" in str(refused.value) and "--despite-denial" in str(refused.value)
    async with console_client(world) as (http, _):
        page = (await http.get(f"/cases/{reference}")).text
    assert "Send new challenge" not in page and "no new challenge is offered" in page
    with world.database.session() as session:  # she has told staff since that it was her
        again = send_new_challenge(
            session, world.services, reference, actor="staff:eva", despite_denial=True
        )
    assert again.status == "pending"


def test_one_call_that_confirms_both_who_asked_and_a_phone_change_is_named_once(world: World):
    """It read "call the number on file and the old phone number": the same number, one
    call (DPO review)."""
    reference = world.email(
        ERIK_EMAIL, "Hej, mitt telefonnummer har ändrats till 070-999 88 77. Rätta det, tack."
    ).reference
    with world.session() as session:
        said = case_waits_on(session, world.services, get_case(session, reference))
    assert said.startswith(
        "staff: call the number on file (the one call confirms the change of phone number too)"
    )
    assert " and the old phone number" not in said


def test_resolving_a_call_alert_says_the_call_itself_is_still_to_be_recorded(config, tmp_path):
    """Staff called Erik and resolved the alert: "alert 1 resolved", and the case stayed
    "checking identity" with nothing to say why (DPO review)."""
    reference = new_case(tmp_path, ERIK_EMAIL, ERASE)
    [alert] = [a for a in json.loads(run("alerts", "list", "--format", "json")[1])
               if a["kind"] == "call_to_verify"]  # fmt: skip
    code, output = run("alerts", "resolve", str(alert["id"]), "--note", "Called Erik")
    assert code == 0 and output.startswith(f"alert {alert['id']} resolved")
    assert "The call itself is not recorded by this" in output
    assert f"noxbot requests verify {reference} --by phone" in output
    assert waiting_on(reference).startswith("staff: call the number on file")


async def test_the_console_sends_a_new_challenge_where_staff_choose_after_one_expired(
    world: World,
):
    """The new challenge goes to the contact point staff pick, and the case checks identity
    again (the path a denial no longer offers)."""
    from bot.workflow.confirming import expire_verifications
    from tests.web_kit import console_client
    from tests.workflow_kit import ANNA_TELEGRAM

    reference = world.email(ANNA_EMAIL, ERASE, "Delete").reference
    world.clock.advance(days=8)
    with world.database.session() as session:
        expire_verifications(session, world.services)
    assert world.case(reference).status == "unverified"
    async with console_client(world) as (http, csrf):
        page = (await http.get(f"/cases/{reference}")).text
        assert "Send new challenge" in page
        answer = await http.post(
            f"/cases/{reference}/challenge", data={"csrf": csrf, "address": ANNA_TELEGRAM}
        )
        page = (await http.get(answer.headers["location"])).text
    assert "A new verification challenge is queued to be sent." in page
    assert world.case(reference).status == "awaiting_verification"
    assert world.verification(reference).address == ANNA_TELEGRAM


async def test_a_case_whose_draft_an_erasure_withdrew_says_so_not_approve_the_draft(
    world: World,
):
    """Erik's access request waited for approval when his erasure was approved: its draft
    went with his data, and the case still said "approve, edit or reject the draft" for a
    draft that no longer existed (DPO review)."""
    access = world.email(ERIK_EMAIL, "Jag vill ha en kopia av alla personuppgifter ni har om mig.")
    world.call_confirms(access.reference)
    erase = world.email(ERIK_EMAIL, "Radera alla mina personuppgifter, artikel 17.", "Radering")
    world.call_confirms(erase.reference)
    world.approve(world.reply_draft(erase.reference).id)
    await world.deliver()
    with world.session() as session:
        said = case_waits_on(session, world.services, get_case(session, access.reference))
    assert said.startswith("staff: its draft was withdrawn")
    assert f'noxbot requests close {access.reference} --reason "…"' in said


async def test_an_erasure_resolves_the_call_alerts_of_the_persons_other_cases(world: World):
    """The call alert of Erik's other case stayed open after his erasure, naming his
    number: staff would have called an erased person (DPO review)."""
    from sqlmodel import select

    from bot.store.tables import StaffAlert

    other = world.email(ERIK_EMAIL, "Jag vill ha en kopia av alla personuppgifter ni har om mig.")
    erase = world.email(ERIK_EMAIL, "Radera alla mina personuppgifter, artikel 17.", "Radering")
    world.call_confirms(erase.reference)
    world.approve(world.reply_draft(erase.reference).id)
    with world.session() as session:
        case = get_case(session, other.reference)
        [alert] = session.exec(
            select(StaffAlert).where(
                StaffAlert.request_id == case.id, StaffAlert.kind == "call_to_verify"
            )
        ).all()
    assert alert.resolved_at is not None
    assert "+46739876543" not in alert.text and erase.reference in alert.text


def test_drafts_edit_of_a_blocked_reply_says_it_is_blocked_not_approve_it(config, tmp_path):
    """Editing a complaint's reply before its outcome was recorded said 'awaiting approval:
    approve it with noxbot drafts approve N', while drafts list said 'blocked: complaint
    outcome not recorded' and approving it was refused."""
    reference = new_case(tmp_path, ANNA_EMAIL, COMPLAINT)
    _, output = run("drafts", "list", "--format", "json")
    [reply] = [d for d in json.loads(output) if d["purpose"] == "reply"]
    edited = tmp_path / "edited.txt"
    edited.write_text(reply["text"] + "\nVänliga hälsningar, Eva")
    code, output = run("drafts", "edit", str(reply["id"]), "--text-file", str(edited))
    assert code == 0, output
    said = " ".join(output.split())
    new_id = reply["id"] + 1
    assert said.startswith(
        f"saved as draft {new_id} (version 2 of the reply on {reference}; draft {reply['id']} "
        f"is replaced), blocked: complaint outcome not recorded; noxbot drafts show {new_id} "
        "says what holds it"
    )
    assert "drafts approve" not in said and "Once it can, approving it will: " in said


def test_a_held_acknowledgment_is_said_to_go_when_the_identity_is_confirmed_as_it_does(
    config, tmp_path
):
    """'waiting on' said 'leave it: approving the reply withdraws it', but the held
    acknowledgment was withdrawn (superseded) as soon as staff confirmed the identity by
    phone, before any reply was approved."""
    new_case(tmp_path, ERIK_EMAIL, ERASE)
    second = new_case(tmp_path, ERIK_EMAIL, "Jag vill ha en kopia av mina personuppgifter.")
    said = waiting_on(second)
    assert "held by the one-a-day limit" in said
    assert "approving the reply withdraws it" not in said
    assert said.endswith(
        "it is withdrawn unsent when the case moves on (the identity check ends, a "
        "no-data answer is drafted, or the reply is approved)"
    )
    code, output = run("requests", "verify", second, "--by", "phone", "--note", "called")
    assert code == 0, output
    _, output = run("requests", "show", second, "--format", "json")
    [ack] = [d for d in json.loads(output)["drafts"] if d["purpose"] == "acknowledgment"]
    assert ack["status"] == "superseded"


def test_drafts_approve_names_the_art19_notice_it_drafted_and_its_id(config, tmp_path):
    """Approving a rectification or erasure drafts an Art. 19 notice for its own approval, but
    drafts approve said only 'draft N approved; queued as outbox M': the notice waiting
    appeared nowhere in its output."""
    assert run("disclosures", "import", str(ROOT / "examples" / "disclosures.csv"))[0] == 0
    reference = new_case(tmp_path, "john.carter@example.com", ERASE)
    code, output = run("requests", "verify", reference, "--by", "phone", "--note", "called")
    assert code == 0, output
    _, output = run("drafts", "list", "--format", "json")
    [reply] = [d for d in json.loads(output) if d["reference"] == reference]
    code, output = run("drafts", "approve", str(reply["id"]))
    assert code == 0, output
    _, listed = run("drafts", "list", "--format", "json")
    [notice] = [d for d in json.loads(listed) if d["purpose"] == "art19_notice"]
    assert (
        f"Art. 19 notice drafted to hr@fintech.example, for staff to approve: draft "
        f"{notice['id']} (noxbot drafts show {notice['id']})"
    ) in " ".join(output.split())


async def test_cases_of_an_erased_person_say_with_which_erasure_not_name_unknown(
    world: World, tmp_path, monkeypatch
):
    """After Erik's erasure his cases read "(name unknown)" and "not linked to anyone in the
    register" on the console, and the CLI showed only his address: staff could not tell an
    erased person from a stranger (DPO review)."""
    from tests.cli_kit import run, run_json
    from tests.web_kit import console_client

    other = world.email(ERIK_EMAIL, "Jag vill ha en kopia av alla personuppgifter ni har om mig.")
    erase = world.email(ERIK_EMAIL, "Radera alla mina personuppgifter, artikel 17.", "Radering")
    world.call_confirms(erase.reference)
    world.approve(world.reply_draft(erase.reference).id)
    config = tmp_path / "cli.toml"
    config.write_text(f'[database]\nurl = "{world.database.engine.url}"\n')
    monkeypatch.setenv("NOXBOT_CONFIG", str(config))
    monkeypatch.setenv("COLUMNS", "200")
    for reference in (erase.reference, other.reference):
        assert run_json("requests", "show", reference)["erased_with"] == erase.reference
        shown = run("requests", "show", reference)[1]
        assert f"erased with: {erase.reference}" in shown
    history = run_json("requests", "show", other.reference)["history"]
    assert any(e["action"] == "person_erased" and erase.reference in e["detail"] for e in history)
    async with console_client(world) as (http, _):
        page = (await http.get(f"/cases/{other.reference}")).text
        queue = (await http.get("/?status=")).text
    assert "erased from the register with" in page and "not linked to anyone" not in page
    assert f"(erased with {erase.reference})" in queue
    # A stranger's case says neither.
    stranger = world.email("okand@example.org", "Radera mig.", "Radera")
    assert run_json("requests", "show", stranger.reference)["erased_with"] is None
    assert "erased with" not in run("requests", "show", stranger.reference)[1]


def test_the_call_alert_writes_the_number_as_staff_dial_it(world: World):
    """Alerts wrote "+46739876543" where letters and the register show the number
    readably (DPO review)."""
    from sqlmodel import select

    from bot.store.tables import StaffAlert

    case = world.email(ERIK_EMAIL, "Jag vill ha en kopia av alla personuppgifter ni har om mig.")
    with world.session() as session:
        [alert] = session.exec(select(StaffAlert).where(StaffAlert.kind == "call_to_verify")).all()
    assert f"{case.reference}: call the number on file (+46 73 987 65 43)" in alert.text
