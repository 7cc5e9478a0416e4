"""What a newcomer sees at the command line: empty results in words, the words the lists
show accepted back as option values, and errors that say what was expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import app
from tests.cli_kit import run, run_json, runner, write_config


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    return write_config(tmp_path, monkeypatch)


def test_requests_list_on_a_fresh_database_says_no_requests_not_a_bare_header(config):
    code, output = run("requests", "list")
    assert code == 0
    assert output.strip() == "No requests."
    code, output = run("requests", "list", "--status", "done")
    assert output.strip() == "No requests with that status."
    code, output = run("requests", "list", "--format", "json")
    assert json.loads(output) == []
    assert run("drafts", "list")[1].strip() == "No drafts waiting for approval."
    assert json.loads(run("drafts", "list", "--format", "json")[1]) == []


def test_subjects_search_without_a_match_says_no_one_found(config, tmp_path):
    register = tmp_path / "reg.csv"
    register.write_text("name,email\nAnna Berg,anna@example.se\n")
    assert run("subjects", "import", str(register))[0] == 0
    code, output = run("subjects", "search", "karin")
    assert code == 0 and output.strip() == "No one found."
    assert "Anna Berg" in run("subjects", "search", "anna")[1]
    code, output = run("subjects", "search", "karin", "--format", "json")
    assert json.loads(output) == []


def test_a_register_with_swedish_headers_imports_and_is_found(config, tmp_path):
    register = tmp_path / "reg.csv"
    register.write_text(
        "namn;e-post;telefon\nKarin Lund;karin@example.se;070-123 45 67\n", encoding="utf-8"
    )
    code, output = run("subjects", "import", str(register))
    assert code == 0, output
    assert "1 new, 0 updated, 0 rejected" in output
    [karin] = json.loads(run("subjects", "search", "karin", "--format", "json")[1])
    assert karin["name"] == "Karin Lund"
    assert karin["email"] == ["karin@example.se"]
    assert karin["phone"] == ["+46701234567"]
    assert karin["extra"] == {}


def test_an_empty_mobile_column_keeps_the_phone_number_beside_it(config, tmp_path):
    """'telefon' and 'mobil' both mean phone: an empty one must not hide the other, nor
    retire the number on file when the register is imported again."""
    first = tmp_path / "reg.csv"
    first.write_text("name,email,phone\nKarin Lund,karin@example.se,070-123 45 67\n")
    assert run("subjects", "import", str(first))[0] == 0
    again = tmp_path / "reg2.csv"
    again.write_text("namn;e-post;telefon;mobil\nKarin Lund;karin@example.se;070-123 45 67;\n")
    code, output = run("subjects", "import", str(again))
    assert code == 0 and "retired" not in output
    [karin] = json.loads(run("subjects", "search", "karin", "--format", "json")[1])
    assert karin["phone"] == ["+46701234567"]


def test_a_register_without_a_contact_column_names_the_unknown_and_expected_columns(
    config, tmp_path
):
    register = tmp_path / "reg.csv"
    register.write_text("navn;epostadresse\nKari Nordmann;kari@example.no\n", encoding="utf-8")
    result = runner.invoke(app, ["subjects", "import", str(register)])
    assert result.exit_code == 1
    message = str(result.exception)
    assert "unknown columns navn, epostadresse" in message
    assert "expected name, email, phone" in message
    assert "line 2" not in message
    assert json.loads(run("subjects", "list", "--format", "json")[1]) == []


@pytest.mark.parametrize(
    ("web", "link"),
    [
        ("", "http://127.0.0.1:8470/setup/"),
        ("[web]\nport = 9000\n", "http://127.0.0.1:9000/setup/"),
        ('[web]\nhost = "0.0.0.0"\nport = 8080\n', "http://127.0.0.1:8080/setup/"),
        ('[web]\nhost = "::1"\nport = 8471\n', "http://[::1]:8471/setup/"),
        (
            '[web]\nport = 9000\nbase_url = "https://console.nox.example/"\n',
            "https://console.nox.example/setup/",
        ),
    ],
)
def test_staff_add_prints_a_setup_link_to_where_the_console_is_configured(config, web, link):
    config.write_text(config.read_text() + web)
    code, output = run("staff", "add", "maria")
    assert code == 0, output
    assert f"  {link}" in output
    code, output = run("staff", "reset", "maria")
    assert f"  {link}" in output


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_requests_new_takes_kinds_in_the_words_lists_show(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Ringde och bad oss sluta skicka nyhetsbrev till honom.")
    case = run_json(
        "requests", "new", "--channel", "phone", "--from", "073-987 65 43",
        "--text-file", str(note), "--kinds", "Marketing opt-out",
    )  # fmt: skip
    assert case["kinds"] == ["marketing_optout"]
    reference = case["reference"]
    assert run("requests", "kinds", reference, "--kinds", "consent withdrawal")[1].strip() == (
        f"{reference} now covers consent withdrawal"
    )
    code, output = run("requests", "kinds", reference, "--kinds", "unsubscribe")
    assert code != 0
    assert "'unsubscribe': expected some of access" in output
    assert "marketing opt-out, consent withdrawal" in output


def test_requests_list_status_takes_the_words_the_list_shows(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Sluta skicka nyhetsbrev och reklam till mig.")
    reference = run_json(
        "requests", "new", "--channel", "phone", "--from", "073-987 65 43",
        "--text-file", str(note), "--kinds", "marketing_optout",
    )["reference"]  # fmt: skip
    [case] = run_json("requests", "list", "--status", "draft to approve")
    assert case["reference"] == reference and case["status"] == "awaiting_approval"
    assert run_json("requests", "list", "--status", "awaiting_approval") == [case]
    assert run_json("requests", "list", "--status", "answered") == []
    code, output = run("requests", "list", "--status", "finished")
    assert code != 0
    assert "expected open, all or one of received; checking identity" in output


def test_help_lists_the_values_options_take_in_words(config, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, output = run("requests", "list", "--help")
    words = " ".join(output.split())
    assert code == 0
    assert "draft to approve" in words and "answered" in words
    code, output = run("triage", "decide", "--help")
    words = " ".join(output.split())
    assert (
        "--not-a-request It asks for none of these (a newsletter, a sales mail): no case" in words
    )
    assert "marketing opt-out" in words
    for command in (("requests", "new"), ("drafts", "edit"), ("requests", "kinds")):
        assert "consent withdrawal" in " ".join(run(*command, "--help")[1].split()), command


def test_requests_show_and_verify_say_status_kinds_and_verification_in_words(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Hej, jag vill ha ett registerutdrag över mina personuppgifter.")
    reference = run_json(
        "requests", "new", "--channel", "email", "--from", "erik.svensson@example.se",
        "--text-file", str(note), "--kinds", "access",
    )["reference"]  # fmt: skip
    code, output = run("requests", "verify", reference, "--by", "phone", "--note", "called")
    assert code == 0, output
    assert output.strip() == (
        f"{reference}: verified by phone; reply drafted; waiting on staff: approve, edit or "
        "reject the draft"
    )
    code, output = run("requests", "show", reference)
    lines = output.splitlines()
    assert "status: draft to approve" in lines
    assert "kinds: access" in lines
    assert "verification: phone call: confirmed" in lines
    assert not [line for line in lines if line.startswith("status words:")]
    drafts = lines[lines.index("Drafts") :]
    assert any(" reply to erik.svensson@example.se, awaiting approval " in line for line in drafts)
    assert run_json("requests", "show", reference)["status"] == "awaiting_approval"


@pytest.mark.parametrize(
    ("channel", "sender", "said"),
    [
        ("email", "notanemail", "'notanemail' is not an email address (--channel email: --from)"),
        ("phone", "ring mig", "'ring mig' is not a phone number (--channel phone: --from)"),
        ("telegram", "@anna", "'@anna' is not a Telegram user id"),
    ],
)
def test_a_manual_request_from_no_address_of_its_channel_is_refused(
    config, tmp_path, channel, sender, said
):
    """Before, the case opened, and its acknowledgment failed only when it was sent, with
    staff told to `outbox retry` what could never go."""
    note = tmp_path / "note.txt"
    note.write_text("Radera mina uppgifter.")
    result = runner.invoke(
        app, ["requests", "new", "--channel", channel, "--from", sender, "--text-file", str(note)]
    )
    assert result.exit_code == 2 and said in " ".join(result.output.split())
    assert json.loads(run("requests", "list", "--format", "json")[1]) == []
    post = ["requests", "new", "--channel", "post", "--from", "Storgatan 1, Malmö"]
    assert runner.invoke(app, [*post, "--text-file", str(note)]).exit_code == 0


def test_a_forwarded_mail_taken_in_as_a_chat_needs_the_chat_user(config):
    """Its sender is a mail address, which no chat answer can reach."""
    eml = Path(__file__).parent.parent / "examples" / "mail" / "03-portability-html-only.eml"
    result = runner.invoke(app, ["requests", "new", "--channel", "telegram", str(eml)])
    assert result.exit_code == 2
    assert "(--channel telegram: the mail's sender; give --from)" in (
        " ".join(result.output.split())
    )


def test_requests_show_gives_times_as_a_clock_in_stockholm_reads_them(tmp_path, monkeypatch):
    """Before: "2026-12-07T15:36" (UTC, unnamed) beside the console's "16:36 CET"."""
    write_config(tmp_path, monkeypatch)
    note = tmp_path / "note.txt"
    note.write_text("Please delete all personal data you hold about me.")
    case = run_json(
        "requests", "new", "--channel", "email", "--from", "x@example.org",
        "--text-file", str(note),
    )  # fmt: skip
    shown = run_json("requests", "show", case["reference"])
    code, output = run("requests", "show", case["reference"])
    assert code == 0 and "T" in shown["received_at"]  # the JSON keeps UTC
    from bot.cli.output import iso_as_local

    local = iso_as_local(shown["received_at"], "Europe/Stockholm")
    assert local.endswith((" CET", " CEST"))
    assert f"received at: {local}" in output
    assert shown["received_at"][:16] not in output


def test_a_history_entry_names_the_kind_it_carried_out_as_lists_do():
    """Before: "carried out marketing optout", the internal name with its underscore gone."""
    from bot.workflow.words import action_words

    assert action_words("carried_out_marketing_optout") == "carried out marketing opt-out"
    assert action_words("carried_out_access") == "carried out access"
    assert action_words("verification_started") == "verification started"


async def test_requests_show_says_which_verification_button_was_pressed(tmp_path, monkeypatch):
    """A press of "Yes, that was me" is kept in the thread as a message without text: it
    printed as an empty entry after the challenge."""
    from tests.workflow_kit import (
        ANNA_EMAIL,
        ANNA_TELEGRAM,
        JOHN_EMAIL,
        JOHN_TELEGRAM,
        make_world,
    )

    world = make_world(tmp_path, url=f"sqlite:///{tmp_path / 'cli.db'}")
    anna = world.email(ANNA_EMAIL, "Jag vill att ni raderar alla mina personuppgifter.").reference
    john = world.email(JOHN_EMAIL, "Please delete all my personal data.").reference
    await world.deliver()
    world.press(ANNA_TELEGRAM, world.verification(anna).id, yes=True)
    world.press(ANNA_TELEGRAM, world.verification(anna).id, yes=True)  # pressed again
    world.press(JOHN_TELEGRAM, world.verification(john).id, yes=False)
    world.database.dispose()
    write_config(tmp_path, monkeypatch)

    code, shown = run("requests", "show", anna)
    thread = shown.split("\nThread\n")[1].split("\nDrafts\n")[0].splitlines()
    assert code == 0
    pressed = '(pressed "Yes, that was me" on the verification challenge)'
    assert thread[-4:] == [thread[-4], pressed, thread[-2], pressed]
    assert thread[-4].endswith("from Telegram user 5550001 (telegram)")
    shown = run("requests", "show", john)[1]
    assert '(pressed "No, it wasn\'t me" on the verification challenge)' in shown
    [press] = [m for m in run_json("requests", "show", john)["thread"] if m["button"]]
    assert (press["button"], press["text"]) == ("no", "")


def test_requests_list_says_the_day_a_request_came_in_stockholm_not_utc(
    config, tmp_path, monkeypatch
):
    """A mail that came at 00:30 Stockholm time was listed as received the day before (UTC's
    date), while requests show said 00:30 and the due date counted from the Stockholm day."""
    monkeypatch.setenv("COLUMNS", "200")
    eml = tmp_path / "late.eml"
    eml.write_bytes(
        b"From: Someone <someone@example.org>\r\nTo: info@noxconsulting.se\r\n"
        b"Subject: Radera mig\r\nMessage-ID: <late-1@example.org>\r\n"
        b"Date: Tue, 24 Nov 2026 00:30:00 +0100\r\n\r\n"
        b"Jag vill att ni raderar alla mina personuppgifter.\r\n"
    )
    case = run_json("requests", "new", "--channel", "email", str(eml))
    assert case["received_at"].startswith("2026-11-23T23:30")  # (the JSON keeps UTC)
    code, output = run("requests", "list")
    assert code == 0, output
    [row] = [line for line in output.splitlines() if case["reference"] in line]
    assert "2026-11-24" in row and "2026-11-23" not in row
