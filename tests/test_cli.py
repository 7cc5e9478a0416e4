"""The command line as staff and scripts use it: the design's contracts and clear errors."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli import app
from bot.store.database import Database
from tests.cli_kit import run, run_json, run_main, runner, write_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    return write_config(tmp_path, monkeypatch)


def noxbot(*args: str) -> subprocess.CompletedProcess[str]:
    """The command as a person runs it: errors are one line on stderr, exit status 1."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=60
    )


def test_version_and_a_command_list_that_is_not_cut_off():
    code, shown = run("--version")
    assert code == 0 and re.fullmatch(r"noxbot \d+\.\d+\.\d+\S*\n", shown)
    code, shown = run("--help")
    commands = shown.split("Commands:")[1]
    assert code == 0 and "..." not in commands  # each command's line said in full


def test_every_command_has_help():
    for args in (
        ["--help"],
        ["requests", "--help"],
        ["requests", "new", "--help"],
        ["drafts", "approve", "--help"],
        ["subjects", "import", "--help"],
        ["classify", "--help"],
        ["audit", "verify", "--help"],
        ["demo", "--help"],
    ):
        code, output = run(*args)
        assert code == 0 and "Usage" in output, args


def test_help_at_80_columns_shows_what_to_type_and_never_breaks_a_word(monkeypatch):
    import typer.main

    monkeypatch.setenv("COLUMNS", "80")
    problems = []

    def walk(command, path: list[str]) -> None:
        code, output = run(*path, "--help")
        assert code == 0, path
        lines = output.splitlines()
        for line, after in zip(lines, [*lines[1:], ""], strict=True):
            if len(line) > 80 or re.search(r"<\w[\w\[\]|]*>", line) or "\\[" in line:
                problems.append((path, line))  # wide, a Python type (<str>), a Rich escape
            if re.search(r"\w-$", line) and after.strip()[:1].islower():
                problems.append((path, line, after))  # a word broken at its hyphen
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    assert problems == []
    lines = run("requests", "new", "--help")[1].splitlines()
    assert "Usage: noxbot requests new [OPTIONS] [EML]" in lines
    assert "  --channel [email|telegram|phone|post]" in lines
    assert any(line.startswith("  -c, --config FILE ") for line in lines)
    assert any(line.startswith("  --from TEXT ") for line in lines)
    assert any(re.fullmatch(r"  --help +Show this message and exit\.", line) for line in lines)
    assert "Usage: noxbot classify [OPTIONS] PATHS..." in run("classify", "--help")[1]
    assert "  --keep FOLDER " in run("demo", "--help")[1]
    listed = run("requests", "--help")[1]
    assert "Extend the deadline by two months (Art. 12(3))" in listed  # "Art." ends no sentence


def test_classify_jsonl_gives_one_object_per_input_in_order_and_goes_on_after_errors(tmp_path):
    chat = tmp_path / "chat.txt"
    chat.write_text("Radera alla mina personuppgifter, tack!", encoding="utf-8")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Ta bort mina uppgifter, tack så mycket".encode("latin-1"))
    missing = tmp_path / "missing.eml"
    code, output = run("classify", "--format", "jsonl", str(chat), str(missing), str(latin1))
    assert code == 0
    lines = [json.loads(line) for line in output.splitlines()]
    assert [line["path"] for line in lines] == [str(chat), str(missing), str(latin1)]
    assert lines[0]["kinds"] == ["erasure"] and lines[0]["language"] == "sv"
    assert set(lines[0]) >= {"path", "kinds", "language", "confidence", "evidence"}
    assert "error" in lines[1] and "error" in lines[2]


def test_classify_reads_the_shipped_example_mail():
    files = sorted((EXAMPLES / "mail").glob("*.eml")) + sorted((EXAMPLES / "chat").glob("*.txt"))
    assert len(files) >= 8
    code, output = run("classify", "--format", "jsonl", *map(str, files))
    assert code == 0
    results = [json.loads(line) for line in output.splitlines()]
    assert len(results) == len(files)
    assert all("error" not in r for r in results), results
    assert any(r["kinds"] != ["none"] for r in results)
    assert any(r["kinds"] == ["none"] for r in results)


def test_classify_shows_each_file_name_whole_on_one_line(monkeypatch):
    files = sorted((EXAMPLES / "mail").glob("*.eml"))
    monkeypatch.setenv("COLUMNS", "80")
    code, output = run("classify", *map(str, files))
    assert code == 0
    for path in files:  # a name to copy or grep, never broken across lines
        assert sum(str(path) in line for line in output.splitlines()) == 1, output
    assert "marketing opt-out" in output  # a kind whole on its line


def test_a_config_mistake_is_one_line_without_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[imap]\nhost = "h"\nusername = "u"\nport = "abc"\n')
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check", "-c", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "[imap] port = 'abc'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgres://nox:S3cretPW@db.example.se/noxbot",  # not a scheme we take
        "postgresql://nox:S3cretPW@db.example.se:abc/noxbot",  # a port that is no number
        "postgresql://nox@db.example.se:5432x/noxbot?password=S3cretPW",
        # libpq's passphrase for the client's TLS key
        "postgresql://nox@db.example.se:5432x/noxbot?sslkey=/k&sslpassword=S3cretPW",
    ],
    ids=["unsupported-scheme", "port-not-a-number", "password-in-query", "key-passphrase"],
)
def test_check_never_prints_a_database_password_and_says_what_is_wrong_in_one_line(tmp_path, url):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[database]\nurl = "{url}"\n')
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check", "-c", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    assert "S3cretPW" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith(f"noxbot: {bad}: [database] url = 'postgres")
    assert "***" in result.stderr and "db.example.se" in result.stderr


def test_an_at_sign_in_a_database_password_is_refused_and_no_part_of_it_printed(tmp_path):
    """Not written %40, an @ ends the password where it stands and the rest of it becomes
    the host's name, which the driver's error then quoted ("could not translate host name
    "rd9@db.example.se""); the masked URL showed that rest too."""
    config = tmp_path / "at.toml"
    config.write_text('[database]\nurl = "postgresql://nox:S3cret@Wo4rd9@db.example.se/x"\n')
    for command in (["check"], ["requests", "list"]):
        result = subprocess.run(
            [sys.executable, "-m", "bot", *command, "-c", str(config)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
        said = result.stdout + result.stderr
        assert result.returncode == 1 and "Traceback" not in said
        assert "S3cret" not in said and "Wo4rd9" not in said
        assert "an @ in the password is written %40" in said
        assert "postgresql://nox:***@db.example.se/x" in said


def test_a_short_database_password_is_masked_without_garbling_the_message(tmp_path):
    """A password "nox" (or "p") was masked wherever its letters stood: "noxbot" became
    "***bot", "postgresql" "***ostgresql". It is masked where it stands alone."""
    config = tmp_path / "short.toml"
    config.write_text('[database]\nurl = "postgresql://nox:p@127.0.0.1:1/noxbot"\n')
    result = subprocess.run(
        [sys.executable, "-m", "bot", "requests", "list", "-c", str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "postgresql://nox:***@127.0.0.1:1/noxbot" in result.stderr
    assert "port 1 failed: Connection refused" in result.stderr
    assert result.stderr.count("***") == 1


def test_manual_intake_then_approval_from_the_terminal(config, tmp_path):
    assert run("subjects", "import", str(EXAMPLES / "register.csv"))[0] == 0
    note = tmp_path / "call.txt"
    note.write_text("Ringde och bad oss sluta skicka nyhetsbrev och reklam till honom.")
    case = run_json(
        "requests",
        "new",
        "--channel",
        "phone",
        "--from",
        "073-987 65 43",
        "--name",
        "Erik Svensson",
        "--text-file",
        str(note),
    )
    assert case["reference"].startswith("DSR-")
    assert (case["kinds"], case["status"], case["channel"]) == (
        ["marketing_optout"],
        "awaiting_approval",
        "phone",
    )
    assert case["verification"] is None and case["due_date"]
    drafts = run_json("drafts", "list")
    assert [d["reference"] for d in drafts] == [case["reference"]]
    draft = drafts[0]
    assert set(draft) >= {
        "id",
        "reference",
        "version",
        "status",
        "language",
        "to",
        "subject",
        "text",
        "attachments",
    }
    code, output = run("drafts", "approve", str(draft["id"]), "--version", "1")
    assert code == 0, output
    shown = run_json("requests", "show", case["reference"])
    assert shown["status"] == "approved"
    people = run_json("subjects", "list")
    erik = next(p for p in people if p["name"] == "Erik Svensson")
    assert erik["marketing_suppressed"] is True


def test_manual_intake_with_kinds_opens_the_case_with_exactly_those_kinds(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "call.txt"
    # Staff's own shorthand: the classifier reads no request in it; staff know better.
    note.write_text("Samtal med Erik 14.10, se anteckning i kalendern.")
    guess = json.loads(run("classify", "--format", "jsonl", str(note))[1])
    assert guess["kinds"] == ["none"]
    case = run_json(
        "requests", "new", "--channel", "phone", "--from", "073-987 65 43",
        "--kinds", "erasure", "--text-file", str(note),
    )  # fmt: skip
    assert case["kinds"] == ["erasure"]
    # Erasure needs verification; a phone request from someone on file is confirmed by email.
    assert case["status"] == "awaiting_verification"
    assert case["verification"]["channel"] == "email"
    other = tmp_path / "other.txt"
    other.write_text("Han vill inte ha fler nyhetsbrev.")
    second = run_json(
        "requests", "new", "--channel", "post", "--from", "erik.svensson@example.se",
        "--kinds", "access,objection", "--text-file", str(other),
    )  # fmt: skip
    assert second["kinds"] == ["access", "objection"]


def test_manual_intake_of_a_forwarded_eml_keeps_its_headers(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    eml = tmp_path / "fwd.eml"
    eml.write_bytes(
        b"From: Anna Lindqvist <anna.lindqvist@example.se>\r\nTo: info@noxconsulting.se\r\n"
        b"Subject: Radera mig\r\nMessage-ID: <orig-1@example.se>\r\n"
        b"Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n\r\n"
        b"Jag vill att ni raderar alla mina personuppgifter.\r\n"
    )
    case = run_json("requests", "new", "--channel", "email", str(eml))
    assert case["status"] == "awaiting_verification"
    assert case["verification"]["channel"] == "telegram"
    assert case["received_at"].startswith("2026-11-24T09:00")
    assert case["duplicate"] is False
    again = run_json("requests", "new", "--channel", "email", str(eml))
    assert again["reference"] == case["reference"] and again["duplicate"] is True  # once
    code, output = run("requests", "new", "--channel", "email", str(eml))
    assert code == 0 and output.startswith(f"Already processed ({case['reference']}), nothing new")


def test_subjects_import_reports_bad_rows_and_exits_non_zero(config, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("name,email\nGood,good@example.se\nBad,not-an-address\n")
    code, output = run("subjects", "import", str(people))
    assert code == 1
    assert "1 new" in output and "line 3" in output


def test_subjects_import_help_names_the_columns_and_its_examples_import(
    config, tmp_path, monkeypatch
):
    from bot.store.register import _COLUMN_ALIASES, CONTACT_COLUMNS, SUBJECT_FIELDS

    monkeypatch.setenv("COLUMNS", "80")
    code, output = run("subjects", "import", "--help")
    assert code == 0
    words = " ".join(output.split())
    for column in (*SUBJECT_FIELDS, *CONTACT_COLUMNS, *_COLUMN_ALIASES):
        assert re.search(rf"(?<![\w-]){re.escape(column)}(?![\w-])", words), column
    assert "name (needed for a new person)" in words
    assert 'several separated by ";", or a JSON list' in words
    # The examples, copied out of the help as a person would, import as one person with
    # both numbers.
    text = output.split("Example (CSV")[1].split("Example (JSON):")
    csv_lines = [line.strip() for line in text[0].splitlines()[1:] if line.strip()]
    json_text = text[1].split("Arguments:")[0]
    for name, content in (("people.csv", "\n".join(csv_lines) + "\n"), ("people.json", json_text)):
        (tmp_path / name).write_text(content)
        code, shown = run("subjects", "import", str(tmp_path / name))
        assert code == 0, shown
        (anna,) = run_json("subjects", "list")
        assert anna["name"] == "Anna Berg" and anna["company"] == "Berg AB"
        assert anna["email"] == ["anna.berg@example.se"]
        assert sorted(anna["phone"]) == ["+46705550199", "+46855512345"]


def test_subjects_import_of_json_numbers_problems_as_items(config, tmp_path):
    people = tmp_path / "people.json"
    people.write_text(
        json.dumps([{"name": "Eva Ek", "email": "eva@example.se"}, {"name": "No contact"}])
    )
    code, output = run("subjects", "import", str(people))
    assert code == 1
    assert "  item 2: no email, phone or telegram_user_id: cannot be found again" in output
    result = runner.invoke(app, ["subjects", "import", str(people), "--format", "json"])
    assert json.loads(result.output)["problems"][0]["item"] == 2


def test_subjects_import_names_renamed_people_and_retired_numbers_by_line_not_value(
    config, tmp_path
):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    people = tmp_path / "people.csv"
    people.write_text(
        "name,email,phone\n"
        "Erik Svensson,erik.svensson@example.se,\n"  # his number is gone
        "Bo Berg,,+44 7700 900123\n"  # John Carter's number
    )
    code, output = run("subjects", "import", str(people))
    assert code == 0
    assert output.splitlines() == [
        "0 new, 2 updated, 0 rejected, 1 renamed, 2 contact points retired",
        "  line 2: phone of person 3 retired (no longer in the file)",
        "  line 3: the name of person 2 changed (matched by phone); check that it is the same "
        "person",
        "  line 3: email of person 2 retired (no longer in the file)",
    ]
    assert "Bo Berg" not in output and "973" not in output
    people.write_text("name,phone\nBo Bergström,+44 7700 900123\n")
    report = run_json("subjects", "import", str(people))
    assert report["renamed"] == [{"line": 2, "subject_id": 2, "matched_by": ["phone"]}]
    # A number no longer on file cannot be the one staff called to verify.
    note = tmp_path / "note.txt"
    note.write_text("Please delete all personal data you hold about me.")
    erik = run_json(
        "requests", "new", "--channel", "email", "--from", "erik.svensson@example.se",
        "--text-file", str(note),
    )["reference"]  # fmt: skip
    code, err = run_main("requests", "verify", erik, "--by", "phone", "--note", "called")
    assert code == 1 and "has no phone number on file" in err


def test_subjects_list_json_holds_every_register_field_including_the_cv(config):
    from bot.store.register import SUBJECT_FIELDS

    run("subjects", "import", str(EXAMPLES / "register.csv"))
    anna = next(p for p in run_json("subjects", "list") if p["name"] == "Anna Lindqvist")
    assert set(SUBJECT_FIELDS) <= set(anna)
    assert anna["cv_text"] == "15 år som utvecklare, senast på Exempelbanken."
    assert anna["extra"] == {"linkedin": "https://www.linkedin.com/in/anna-lindqvist-example"}


def test_subjects_search_finds_a_phone_number_written_as_people_write_it(config):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    for written in ("073-987 65 43", "0739876543", "+46 73 987 65 43", "987 65 43"):
        found = run_json("subjects", "search", written)
        assert [p["name"] for p in found] == ["Erik Svensson"], written
    assert run_json("subjects", "search", "070-000 00 00") == []


def test_audit_verify_exits_non_zero_after_tampering(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    code, output = run("audit", "verify")
    assert code == 0 and "intact" in output
    database = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    with database.session() as session:
        session.execute(text("UPDATE audit_event SET actor = 'mallory'"))
    database.dispose()
    code, output = run("audit", "verify")
    assert code == 1 and "TAMPERED" in output


def test_unknown_reference_is_one_clear_line(config):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "requests", "show", "DSR-2026-9999"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "noxbot: no case with reference DSR-2026-9999"


def test_db_upgrade_says_where_the_schema_is(config):
    code, output = run("db", "upgrade")
    assert code == 0 and "revision" in output


def test_demo_runs_the_whole_flow_and_ends_with_a_sent_reply(tmp_path):
    from rich.console import Console

    from bot.cli.demo import demo

    console = Console(record=True, width=140)
    result = demo(tmp_path / "demo", console)
    states = [o.state for _, o in result.outcomes]
    assert states.count("request") == 7 and "not_a_request" in states and "automated" in states
    assert result.approved_draft_id is not None
    shown = console.export_text()
    assert "Cases" in shown and "Drafts awaiting approval" in shown
    assert "possible impersonation" in shown
    assert "is now done (answered)" in shown and "intact" in shown
    # Answered, but not finished: the notice to the bank her CV went to waits for staff.
    said = " ".join(shown.split())
    assert "one step is left: approve the Art. 19 notice to rekrytering@exempelbanken" in said


def test_a_message_that_opens_no_case_still_has_the_case_keys_in_json(config, tmp_path):
    """A script reading `requests new --format json` finds the case object's stable keys
    whatever became of the message: with no case they are empty (null, [])."""
    note = tmp_path / "t1.txt"
    note.write_text("Please stop using my data.")
    config.write_text(config.read_text() + "[classifier]\ntriage_threshold = 1.0\n")
    outcome = run_json(
        "requests", "new", "--channel", "email", "--from", "someone@example.net",
        "--text-file", str(note),
    )  # fmt: skip
    assert outcome["state"] == "triage" and outcome["reference"] is None
    assert outcome["kinds"] == [] and outcome["status"] is None
    assert outcome["channel"] == "email" and outcome["received_at"]
    assert outcome["due_date"] is None and outcome["verification"] is None


def test_kinds_none_beside_a_kind_is_refused_not_dropped(config, tmp_path):
    note = tmp_path / "call.txt"
    note.write_text("Ringde och ville bli raderad.")
    code, output = run(
        "requests", "new", "--channel", "phone", "--from", "070-111 22 44",
        "--kinds", "none,erasure", "--text-file", str(note),
    )  # fmt: skip
    assert code != 0 and "none stands alone" in output
    assert run_json("requests", "list") == []


def test_triage_export_writes_only_labelled_messages_in_the_bench_format(config, tmp_path):
    from bench.classifier_bench import evaluate, load, ours

    config.write_text(config.read_text() + "[classifier]\ntriage_threshold = 1.0\n")
    texts = {
        "post": ("x@example.se", "Radera mina uppgifter, tack."),
        "email": ("kund@example.com", "Hej, har ni en ledig konsult i februari?"),
        "telegram": ("5550009", "sluta skicka reklam till mig"),
    }
    for channel, (sender, words) in texts.items():
        note = tmp_path / f"{channel}.txt"
        note.write_text(words)
        outcome = run_json(
            "requests", "new", "--channel", channel, "--from", sender, "--text-file", str(note)
        )
        assert outcome["state"] == "triage"
    triage = {t["channel"]: t["message"] for t in run_json("triage", "list")}
    assert run("triage", "decide", str(triage["post"]), "--kinds", "erasure")[0] == 0
    assert run("triage", "decide", str(triage["telegram"]), "--not-a-request")[0] == 0
    # The mail stays undecided: no label, so it is no corpus row.
    call = tmp_path / "call.txt"
    call.write_text("Ringde och ville veta vad vi har om honom.")
    run_json(
        "requests", "new", "--channel", "phone", "--from", "070-111 22 33",
        "--kinds", "access", "--text-file", str(call),
    )  # fmt: skip
    exported = tmp_path / "labels.jsonl"
    code, output = run("triage", "export", str(exported))
    assert code == 0 and "3 labelled messages" in output and "as channel email" in output
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [(r["channel"], r["intake"], r["kinds"]) for r in rows] == [
        ("email", "post", ["erasure"]),
        ("chat", "telegram", ["none"]),
        ("email", "phone", ["access"]),
    ]
    assert rows[0]["text"] == "Radera mina uppgifter, tack."
    assert all({"id", "channel", "language", "subject", "text", "kinds"} <= set(r) for r in rows)
    _, _, accuracy, _ = evaluate(load(exported), ours)  # the bench reads it as a corpus
    assert 0.0 <= accuracy <= 1.0


def test_drafts_edit_opens_the_editor_and_makes_a_new_version(config, tmp_path, monkeypatch):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("sluta skicka nyhetsbrev till mig")
    run_json(
        "requests", "new", "--channel", "telegram", "--from", "5550001", "--text-file", str(note)
    )
    draft = run_json("drafts", "list")[0]
    monkeypatch.setenv(
        "EDITOR",
        f"{sys.executable} -c \"import sys; p=sys.argv[1]; open(p,'a').write('Hälsningar, Eva')\"",
    )
    monkeypatch.delenv("VISUAL", raising=False)
    code, output = run("drafts", "edit", str(draft["id"]))
    assert code == 0, output
    current = run_json("drafts", "list")
    assert [(d["version"], d["text"].endswith("Hälsningar, Eva")) for d in current] == [(2, True)]
    stale = subprocess.run(
        [sys.executable, "-m", "bot", "drafts", "approve", str(draft["id"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stale.returncode == 1
    assert f"draft {draft['id']} is version 1, but version 2" in stale.stderr


def test_personnummer_in_a_name_or_a_staff_note_is_never_stored(config, tmp_path):
    """--name, reasons and notes: what staff type may hold what the person said."""
    pnr = "811218\u20139876"  # as Word writes it
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Ringde och bad oss sluta skicka nyhetsbrev till honom.")
    optout = run_json(
        "requests", "new", "--channel", "phone", "--from", "073-987 65 43",
        "--name", f"Erik Svensson ({pnr})", "--text-file", str(note),
    )["reference"]  # fmt: skip
    draft = run_json("drafts", "list")[0]
    assert draft["text"].startswith("Hej Erik Svensson,")
    assert run("drafts", "reject", str(draft["id"]), "--reason", f"pnr {pnr} i texten")[0] == 0
    assert run("requests", "close", optout, "--reason", f"fel person, pnr {pnr}")[0] == 0
    note.write_text("Hej, jag vill ha ett registerutdrag över mina personuppgifter.")
    access = run_json(
        "requests", "new", "--channel", "email", "--from", "erik.svensson@example.se",
        "--text-file", str(note),
    )["reference"]  # fmt: skip
    assert run("requests", "extend", access, "--reason", f"Vi söker {pnr} i arkivet")[0] == 0
    code, output = run(
        "requests", "verify", access, "--by", "phone", "--note", f"Erik uppgav {pnr}"
    )
    assert code == 0, output
    database = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    dump = "\n".join(database.engine.raw_connection().driver_connection.iterdump())
    database.dispose()
    # (the whole number, in any of its forms: a part of it, six digits, also turns up in
    # the audit chain's hex hashes now and then)
    assert not re.search(r"811218\W?9876", dump) and "[personnummer borttaget]" in dump


def test_audit_verify_with_a_kept_head_detects_removed_newest_events(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    code, output = run("audit", "verify")
    head = re.search(r"Head: ([0-9a-f]{64})", output.replace("\n", "")).group(1)
    assert run("audit", "verify", "--head", head)[0] == 0
    assert run("audit", "verify", "--head", f" {head.upper()}\n")[0] == 0  # as pasted
    code, said = run_main("audit", "verify", "--head", head[:12])  # a copy cut short
    assert code == 1 and said.startswith("noxbot: --head: not a head this command printed")
    database = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    with database.session() as session:
        session.execute(
            text("DELETE FROM audit_event WHERE id = (SELECT max(id) FROM audit_event)")
        )
    database.dispose()
    assert run("audit", "verify")[0] == 0  # the shorter chain is still a valid chain …
    code, output = run("audit", "verify", "--head", head)
    assert code == 1 and "no longer in the chain" in output  # … but the kept head is gone


def test_check_says_which_database_cannot_be_reached(tmp_path):
    from tests.pg import free_port

    bad = tmp_path / "bad.toml"
    bad.write_text(f'[database]\nurl = "postgresql://nobody@127.0.0.1:{free_port()}/x"\n')
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check", "-c", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Database: FAILED (OperationalError" in result.stdout
    assert "Traceback" not in result.stderr


def _lines_with(output: str, needle: str) -> list[str]:
    """What `| grep needle` would show."""
    return [line for line in output.splitlines() if needle in line]


def test_requests_list_at_80_columns_keeps_references_and_due_dates_whole(
    config, tmp_path, monkeypatch
):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    for n, words in enumerate(
        ("Jag vill att ni raderar alla mina uppgifter och slutar skicka nyhetsbrev.",
         "Please send me a copy of all personal data you hold about me."),
    ):  # fmt: skip
        note = tmp_path / f"note{n}.txt"
        note.write_text(words)
        run_json(
            "requests", "new", "--channel", "email", "--from", "anna.lindqvist@example.se",
            "--text-file", str(note),
        )  # fmt: skip
    cases = run_json("requests", "list")
    monkeypatch.setenv("COLUMNS", "80")
    code, output = run("requests", "list")
    assert code == 0
    for case in cases:
        assert any(case["due_date"] in line for line in _lines_with(output, case["reference"]))
    assert "…" not in output


def test_a_telegram_requester_is_shown_as_a_telegram_user_not_a_bare_number(
    config, tmp_path, monkeypatch
):
    note = tmp_path / "note.txt"
    note.write_text("Sluta skicka nyhetsbrev och reklam till mig.")
    case = run_json(
        "requests", "new", "--channel", "telegram", "--from", "5550002", "--text-file", str(note)
    )
    assert case["from"] == "5550002"  # scripts keep the bare id
    monkeypatch.setenv("COLUMNS", "120")
    code, output = run("requests", "list")
    assert code == 0 and "Telegram user 5550002" in output
    code, output = run("requests", "show", case["reference"])
    lines = output.splitlines()
    assert "from: Telegram user 5550002" in lines
    assert any(line.endswith("from Telegram user 5550002 (telegram)") for line in lines)
    assert not [line for line in lines if re.search(r"(from|to) 5550002\b", line)]


def test_requests_show_tells_the_history_and_verification_in_staff_words(tmp_path):
    kept = tmp_path / "kept"
    assert run("demo", "--keep", str(kept))[0] == 0
    config = ("-c", str(kept / "config.toml"))
    [erik] = [
        c
        for c in run_json("requests", "list", *config)
        if c["from"] == "erik.svensson@example.se" and c["kinds"] == ["rectification"]
    ]
    assert erik["verification"]["method"] == "phone_call"  # JSON keeps the name
    code, output = run("requests", "show", erik["reference"], *config)
    assert code == 0
    history = output[output.index("\nHistory\n") :]
    assert "verification started: phone call" in history
    assert "(received -> checking identity)" in history
    for name in ("phone_call", "case_opened", "awaiting_verification", "via phone"):
        assert name not in history, name
    assert "phone call to " in output[output.index("\nVerification\n") :]


def test_drafts_list_at_80_columns_keeps_ids_references_and_recipients_whole(
    config, tmp_path, monkeypatch
):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Sluta skicka nyhetsbrev och reklam till mig.")
    run_json(
        "requests", "new", "--channel", "phone", "--from", "070-123 45 67",
        "--text-file", str(note),
    )  # fmt: skip
    run_json(
        "requests", "new", "--channel", "telegram", "--from", "5550002", "--text-file", str(note)
    )
    drafts = run_json("drafts", "list")
    monkeypatch.setenv("COLUMNS", "80")
    code, output = run("drafts", "list")
    assert code == 0 and "…" not in output
    assert {d["to"]["address"] for d in drafts} == {"anna.lindqvist@example.se", "5550002"}
    for d in drafts:
        row = _lines_with(output, d["reference"])
        assert row and row[0].split()[0] == str(d["id"])
        # "telegram 5550002": a bare number is named by its channel; an address speaks for itself.
        named = d["to"]["address"] if d["to"]["channel"] == "email" else "telegram 5550002"
        assert named in row[0]


def test_drafts_show_gives_recipient_subject_and_attachments_their_own_lines(
    config, tmp_path, monkeypatch
):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Please send me all my personal data in a machine-readable format, JSON.")
    case = run_json(
        "requests", "new", "--channel", "email", "--from", "john.carter@example.com",
        "--kinds", "portability", "--text-file", str(note),
    )  # fmt: skip
    assert run("requests", "verify", case["reference"], "--by", "phone", "--note", "called")[0] == 0
    draft = next(d for d in run_json("drafts", "list") if d["purpose"] == "reply")
    assert draft["attachments"]
    monkeypatch.setenv("COLUMNS", "80")
    code, output = run("drafts", "show", str(draft["id"]))
    assert code == 0
    lines = output.splitlines()
    assert f"to: email {draft['to']['address']}" in lines
    assert f"subject: {draft['subject']}" in lines
    assert f"attachments: {', '.join(draft['attachments'])}" in lines


def test_a_table_too_wide_for_the_terminal_wraps_text_and_drops_extras_never_references():
    import io

    from rich.console import Console

    from bot.cli.output import Column, print_table

    columns = (
        Column("reference", key=True),
        Column("what"),
        Column("address", key=True),
        Column("extra", drop_order=1),
    )
    rows = [("DSR-2026-0042", "a long free text " * 6, "someone.long@example.org", "x" * 30)]
    for width in (40, 80, 200):
        console = Console(width=width, file=io.StringIO(), record=True)
        print_table(console, columns, rows)
        shown = console.export_text()
        assert "DSR-2026-0042" in shown and "someone.long@example.org" in shown, width
        assert "a long" in shown, width
        assert ("x" * 30 in shown) == (width == 200)


def test_an_unexpected_error_in_a_staff_command_is_one_line_without_its_message(
    config, tmp_path, monkeypatch
):
    from sqlalchemy.exc import IntegrityError

    note = tmp_path / "note.txt"
    note.write_text("sluta skicka nyhetsbrev till mig")
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    run_json(
        "requests", "new", "--channel", "telegram", "--from", "5550001", "--text-file", str(note)
    )
    draft = run_json("drafts", "list")[0]

    def clash(*args, **kwargs):
        raise IntegrityError("UPDATE contact_point …", {"value": "anna@example.se"}, None)

    monkeypatch.setattr("bot.cli.drafts.approve_draft", clash)
    monkeypatch.delenv("NOXBOT_TRACEBACK", raising=False)
    code, err = run_main("drafts", "approve", str(draft["id"]))
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("noxbot: unexpected error (IntegrityError); the command did not finish")
    assert "anna" not in err and "contact_point" not in err
    assert run_json("drafts", "show", str(draft["id"]))["status"] == "awaiting_approval"


def test_an_unexpected_error_in_a_worker_of_run_names_its_kind_not_the_group(monkeypatch):
    """A worker of `noxbot run` that fails ends its TaskGroup with an ExceptionGroup: the
    line names what failed inside it."""

    def failing_worker(*args, **kwargs):
        inner = ExceptionGroup("unhandled errors in a TaskGroup", [TypeError("anna@example.se")])
        raise ExceptionGroup("unhandled errors in a TaskGroup", [inner, KeyError("x")])

    monkeypatch.setattr("bot.cli.app", failing_worker)
    monkeypatch.delenv("NOXBOT_TRACEBACK", raising=False)
    code, err = run_main("run")
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("noxbot: unexpected error (TypeError, KeyError); the command did not")
    assert "anna" not in err


def test_run_names_every_secret_that_is_not_set_before_it_says_it_runs(tmp_path, monkeypatch):
    """Before, `noxbot run` said it was running, then stopped on the first secret missing."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "run.db"}"\n'
        '[imap]\nhost = "127.0.0.1"\nusername = "info"\npassword_env = "NOX_TEST_IMAP"\n'
        '[smtp]\nhost = "127.0.0.1"\nusername = "info"\npassword_env = "NOX_TEST_SMTP"\n'
        '[telegram]\ntoken_env = "NOX_TEST_TOKEN"\n'
    )
    for name in ("NOX_TEST_IMAP", "NOX_TEST_SMTP", "NOX_TEST_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    code, err = run_main("run", "-c", str(config))
    assert code == 1 and err.count("\n") == 1
    assert err == (
        "noxbot: [imap] password_env, [smtp] password_env, [telegram] token_env: "
        "the environment variables they name are not set\n"
    )
    monkeypatch.setenv("NOX_TEST_IMAP", "s3cret")
    monkeypatch.setenv("NOX_TEST_TOKEN", "123:abc")
    code, err = run_main("run", "-c", str(config))
    assert err == "noxbot: [smtp] password_env: the environment variable it names is not set\n"
    assert "s3cret" not in err and "123:abc" not in err


def test_files_that_cannot_be_read_are_one_clear_line_naming_the_file(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    latin1 = tmp_path / "brev.txt"
    latin1.write_bytes("Ta bort mina uppgifter, tack så mycket".encode("latin-1"))
    missing = tmp_path / "missing.txt"
    intake = ("requests", "new", "--channel", "post", "--from", "anna.lindqvist@example.se")
    expected = {
        (*intake, "--text-file", str(missing)): f"noxbot: {missing}: no such file",
        (*intake, str(tmp_path / "nonexist.eml")): f"noxbot: {tmp_path}/nonexist.eml: no such file",
        (*intake, "--text-file", str(latin1)): f"noxbot: {latin1}: not UTF-8 text (byte 30)",
        ("subjects", "import", str(tmp_path)): f"noxbot: {tmp_path}: is a folder",
    }
    note = tmp_path / "note.txt"
    note.write_text("Sluta skicka nyhetsbrev till mig.")
    run_json(*intake, "--text-file", str(note))
    draft = run_json("drafts", "list")[0]["id"]
    expected[("drafts", "edit", str(draft), "--text-file", str(missing))] = (
        f"noxbot: {missing}: no such file"
    )
    expected[("drafts", "edit", str(draft), "--text-file", str(latin1))] = (
        f"noxbot: {latin1}: not UTF-8 text"
    )
    for args, start in expected.items():
        code, err = run_main(*args)
        assert code == 1, args
        assert err.startswith(start) and err.count("\n") == 1, (args, err)


def test_a_config_file_that_is_not_utf8_is_one_clear_line(tmp_path):
    for encoding in ("utf-16", "latin-1"):
        config = tmp_path / f"{encoding}.toml"
        config.write_text('[organisation]\nname = "NOX Konsult Åkesson"\n', encoding=encoding)
        code, err = run_main("check", "-c", str(config))
        assert code == 1
        assert err.startswith(f"noxbot: {config}: not UTF-8 text") and err.count("\n") == 1


def test_a_database_that_cannot_be_reached_is_one_line_without_the_driver_link(tmp_path):
    from tests.pg import free_port

    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "postgresql://nobody@127.0.0.1:{free_port()}/x"\n')
    code, err = run_main("requests", "list", "-c", str(config))
    assert code == 1
    assert err.startswith("noxbot: cannot upgrade the database at postgresql://")
    assert "Connection refused" in err and err.count("\n") == 1
    assert "sqlalche.me" not in err


def test_the_call_to_verify_alert_goes_once_staff_verify_by_phone_or_the_case_ends(
    config, tmp_path
):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Hej, jag vill ha ett registerutdrag över mina personuppgifter.")
    intake = ("requests", "new", "--channel", "email", "--from", "erik.svensson@example.se")
    first = run_json(*intake, "--text-file", str(note))["reference"]
    second = run_json(*intake, "--text-file", str(note))["reference"]

    def open_calls() -> set[str]:
        return {
            a["text"].split(":")[0]
            for a in run_json("alerts", "list")
            if a["kind"] == "call_to_verify"
        }

    assert open_calls() == {first, second}  # Erik has only a phone besides this address
    assert run("requests", "verify", first, "--by", "phone", "--note", "Erik confirmed")[0] == 0
    assert open_calls() == {second}
    assert run("requests", "close", second, "--reason", "asked twice")[0] == 0
    assert open_calls() == set()
    resolved = [a for a in run_json("alerts", "list", "--all") if a["kind"] == "call_to_verify"]
    assert len(resolved) == 2 and all(a["resolved"] for a in resolved)
    code, shown = run("alerts", "list", "--all")  # the table says which are dealt with
    assert code == 0 and "resolved" in shown.splitlines()[0]
    # When, as a clock in Stockholm reads it (the JSON keeps UTC: at 23:59 on New Year's Eve
    # UTC's date is not Stockholm's).
    from bot.cli.output import iso_as_local

    assert shown.count(iso_as_local(resolved[0]["resolved_at"], "Europe/Stockholm")[:10]) >= 2


def test_verify_by_phone_is_refused_without_a_number_on_file(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Please delete all personal data you hold about me.")
    stranger = run_json(
        "requests", "new", "--channel", "email", "--from", "stranger@example.org",
        "--text-file", str(note),
    )["reference"]  # fmt: skip
    maria = run_json(  # on file with an email and a Telegram id, no phone
        "requests", "new", "--channel", "email", "--from", "maria.berg@example.se",
        "--text-file", str(note),
    )["reference"]  # fmt: skip
    for reference, why, then in (
        (
            stranger,
            "the requester is not on file, so there is no number on file to call",
            f". First link it to the person it is about (noxbot requests link {stranger} "
            "--subject ID), or, when nobody matches, answer that no data is held (noxbot "
            f"requests no-data {stranger})",
        ),
        (maria, "the person on file has no phone number on file", ""),
    ):
        code, err = run_main("requests", "verify", reference, "--by", "phone", "--note", "called")
        assert (
            code == 1
            and err
            == f"noxbot: {reference}: {why}; a phone verification cannot be recorded{then}\n"
        )
        assert run_json("requests", "show", reference)["verified"] is False


def test_help_texts_keep_config_sections_in_square_brackets():
    import typer.main

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    checked = 0
    for path, command in walk(typer.main.get_command(app), []):
        texts = [command.help or ""] + [getattr(p, "help", "") or "" for p in command.params]
        sections = set(re.findall(r"\[[a-z_]+\]", " ".join(texts).replace("\\", "")))
        if not sections:
            continue
        code, output = run(*path, "--help")
        assert code == 0
        for section in sections:
            assert section in output, (path, section)
            checked += 1
    assert checked >= 2  # at least requests due and requests purge


def test_what_people_wrote_prints_as_written_never_as_markup(config, tmp_path):
    note = tmp_path / "letter.txt"
    note.write_text("Radera alla mina personuppgifter.")
    sender = "Box [red]12[/red], [imap] Stockholm"
    case = run_json(
        "requests", "new", "--channel", "post", "--from", sender, "--text-file", str(note)
    )
    code, output = run("requests", "show", case["reference"])
    assert code == 0 and f"from: {sender}" in output.splitlines()


def test_escape_sequences_from_outside_cannot_hide_a_draft_from_the_approver(config, tmp_path):
    note = tmp_path / "letter.txt"
    note.write_text("Radera alla mina personuppgifter.")
    sender = "Storgatan 1\x1b[8m\u202e, Lund"  # "conceal" the rest of the line, then reorder
    reference = run_json(
        "requests", "new", "--channel", "post", "--from", sender, "--text-file", str(note)
    )["reference"]  # fmt: skip
    draft = run_json("drafts", "list")[0]
    assert draft["to"]["address"] == sender  # scripts get the data as it is
    shown = "Storgatan 1\\x1b[8m\\u202e, Lund"
    for args in (
        ("drafts", "show", str(draft["id"])),
        ("drafts", "list"),
        ("requests", "show", reference),
        ("drafts", "show", str(draft["id"]), "--format", "json"),
    ):
        code, output = run(*args)
        assert code == 0, output
        assert "\x1b" not in output and "\u202e" not in output, args
        assert shown in output or "--format" in args, args
    code, output = run("drafts", "show", str(draft["id"]))
    assert f"to: post {shown}" in output.splitlines()


def test_demo_keep_writes_a_config_to_explore_and_refuses_a_folder_already_used(tmp_path):
    kept = tmp_path / "kept"
    code, output = run("demo", "--keep", str(kept))
    assert code == 0
    assert f"  noxbot requests list -c {kept / 'config.toml'}" in output.splitlines()
    assert f"  noxbot web -c {kept / 'config.toml'}" in output.splitlines()
    cases = run_json("requests", "list", "-c", str(kept / "config.toml"), "--status", "all")
    assert len(cases) == 7 and "done" in [c["status"] for c in cases]
    # By default the open cases only, the nearest due date first; and Anna's answered
    # erasure, whose Art. 19 notice to the bank waits for staff.
    listed = run_json("requests", "list", "-c", str(kept / "config.toml"))
    assert len(listed) == 6 and [c["status"] for c in listed].count("done") == 1
    assert "Art. 19 notice" in next(c for c in listed if c["status"] == "done")["waiting_on"]
    assert [c["due_date"] for c in listed] == sorted(c["due_date"] for c in listed)
    # The kept config names the demo's sources, so exploring finds what the demo found.
    code, output = run("check", "-c", str(kept / "config.toml"))
    assert "Source 1 (CV): OK" in output and "Source 2 (info@noxconsulting.se): OK" in output
    code, err = run_main("demo", "--keep", str(kept))
    assert (code, err) == (
        1,
        f"noxbot: {kept / 'demo.db'} already exists; keep the demo in a new or empty folder\n",
    )
    assert (
        len(run_json("requests", "list", "-c", str(kept / "config.toml"), "--status", "all")) == 7
    )
    code, err = run_main("demo", "--keep", str(kept / "config.toml"))
    assert (code, err) == (
        1,
        f"noxbot: {kept / 'config.toml'} is a file; --keep takes a folder (new or empty)\n",
    )


def test_drafts_that_no_longer_apply_leave_the_queue(config, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("Please delete all personal data you hold about me.")
    reference = run_json(
        "requests", "new", "--channel", "email", "--from", "stranger@example.org",
        "--text-file", str(note),
    )["reference"]  # fmt: skip

    def queue() -> list[tuple[str, str]]:
        return [(d["purpose"], d["status"]) for d in run_json("drafts", "list")]

    assert queue() == []  # the acknowledgment went out at once ([verification] default)
    assert run("requests", "extend", reference, "--reason", "many systems to search")[0] == 0
    assert run("requests", "refuse", reference, "--reason", "first reasons")[0] == 0
    assert run("requests", "refuse", reference, "--reason", "better reasons")[0] == 0
    # The second refusal replaced the first; the notice stays.
    assert queue() == [("extension", "awaiting_approval"), ("refusal", "awaiting_approval")]
    refusal = run_json("drafts", "list")[-1]
    assert "not act on it. Better reasons." in refusal["text"]
    assert run("drafts", "approve", str(refusal["id"]))[0] == 0
    assert run_json("requests", "show", reference)["status"] == "closed"
    assert queue() == []  # the case ended: its extension notice will never be sent


def test_a_rejected_draft_edited_into_a_new_version_is_no_longer_listed(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Sluta skicka nyhetsbrev till mig.")
    run_json(
        "requests", "new", "--channel", "telegram", "--from", "5550001", "--text-file", str(note)
    )
    draft = run_json("drafts", "list")[0]
    assert run("drafts", "reject", str(draft["id"]), "--reason", "too stiff")[0] == 0
    assert [(d["id"], d["status"]) for d in run_json("drafts", "list")] == [
        (draft["id"], "rejected")  # waiting for an edit
    ]
    edited = tmp_path / "edited.txt"
    edited.write_text(draft["text"] + "\nVänliga hälsningar, Eva")
    assert run("drafts", "edit", str(draft["id"]), "--text-file", str(edited))[0] == 0
    assert [(d["version"], d["status"]) for d in run_json("drafts", "list")] == [
        (2, "awaiting_approval")
    ]
    assert run_json("drafts", "show", str(draft["id"]))["status"] == "rejected"  # history kept


def test_a_chat_message_that_joins_the_open_case_says_it_was_added_to_it(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("Hi, what personal data do you hold about me? Please send me a copy.")
    second.write_text("Hello again, any news on my request?")
    chat = ("requests", "new", "--channel", "telegram", "--from", "5550002")
    case = run_json(*chat, "--text-file", str(first))
    assert (case["duplicate"], case["added_to_case"]) == (False, False)
    code, output = run(*chat, "--text-file", str(second))
    assert code == 0
    assert output.startswith(f"Added to {case['reference']}, the requester's open case: access")
    assert len(run_json("requests", "list")) == 1


def test_after_an_extension_due_date_is_the_extended_one_everywhere(config, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("Please delete all personal data you hold about me.")
    case = run_json(
        "requests", "new", "--channel", "post", "--from", "Storgatan 1, 111 22 Stockholm",
        "--text-file", str(note),
    )  # fmt: skip
    assert run("requests", "extend", case["reference"], "--reason", "many systems")[0] == 0
    assert run_json("requests", "show", case["reference"])["extended_due_date"] is None
    [notice] = [d for d in run_json("drafts", "list") if d["purpose"] == "extension"]
    # A letter staff post themselves: it holds once they have it to post.
    assert run("drafts", "approve", str(notice["id"]))[0] == 0
    shown = run_json("requests", "show", case["reference"])
    listed = run_json("requests", "list")[0]
    for view in (shown, listed):
        assert view["original_due_date"] == case["due_date"]
        assert view["due_date"] == view["extended_due_date"] > case["due_date"]
    output = run("requests", "list")[1]
    assert shown["due_date"] in _lines_with(output, case["reference"])[0]


def test_alerts_list_json_gives_times_in_iso_8601(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Please delete all personal data you hold about me.")
    run_json(
        "requests", "new", "--channel", "email", "--from", "erik.svensson@example.se",
        "--text-file", str(note),
    )  # fmt: skip
    alerts = run_json("alerts", "list", "--all")
    assert alerts
    for alert in alerts:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", alert["created_at"])


def test_demo_fits_an_80_column_terminal_and_names_each_recipients_channel(tmp_path, monkeypatch):
    import io

    from rich.console import Console

    from bot.cli.demo import demo

    # As the command line's console: no markup, Rich breaks no line (a terminal would).
    console = Console(width=80, file=io.StringIO(), record=True, markup=False, soft_wrap=True)
    monkeypatch.chdir(tmp_path)
    demo(Path("demo"), console)
    lines = console.export_text().splitlines()
    assert [line for line in lines if len(line) > 80] == []
    anna = next(line for line in lines if "email anna.lindqvist@example.se" in line)
    # The demo runs on today's clock: references carry the year it runs in.
    assert re.search(r"DSR-\d{4}-0001", anna)  # step 2: who wrote, which case it opened
    chat_reply = [line for line in lines if re.search(r"DSR-\d{4}-0006", line) and "reply" in line]
    assert chat_reply and "telegram 5550009" in chat_reply[0]


def test_drafts_show_says_what_approving_will_do_and_edit_can_narrow_it(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Skicka mig en kopia av mina personuppgifter och radera dem sedan.")
    case = run_json(
        "requests", "new", "--channel", "email", "--from", "anna.lindqvist@example.se",
        "--text-file", str(note),
    )  # fmt: skip
    run("requests", "verify", case["reference"], "--by", "phone", "--note", "Anna confirmed")
    [draft] = run_json("drafts", "list")
    code, output = run("drafts", "show", str(draft["id"]))
    assert code == 0 and "Approving will:" in output
    assert "erase Anna Lindqvist from the register" in output
    shown = run_json("drafts", "show", str(draft["id"]))
    assert shown["approval"]["blocked"] == []

    text = shown["text"]
    narrowed = tmp_path / "narrowed.txt"
    narrowed.write_text(text[: text.index("RADERING")] + "Vänliga hälsningar\nNOX\n")
    refused = noxbot("drafts", "edit", str(draft["id"]), "--text-file", str(narrowed))
    assert refused.returncode == 1 and "--kinds" in refused.stderr
    assert "Traceback" not in refused.stderr
    code, output = run(
        "drafts", "edit", str(draft["id"]), "--text-file", str(narrowed), "--kinds", "access"
    )
    assert code == 0 and "not carry out erasure" in output


def test_a_rectification_to_another_persons_address_is_one_line(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Min e-postadress är fel, rätta den.")
    case = run_json(
        "requests", "new", "--channel", "email", "--from", "anna.lindqvist@example.se",
        "--text-file", str(note),
    )  # fmt: skip
    refused = noxbot(
        "requests", "changes", case["reference"], "--set", "email=john.carter@example.com"
    )
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "noxbot: the new email is already on file for another person"
    ]


def test_a_stated_phone_change_and_the_approval_plan_write_the_number_as_the_letter(
    config, tmp_path
):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Mitt telefonnummer är fel, rätta det.")
    case = run_json(
        "requests", "new", "--channel", "email", "--from", "anna.lindqvist@example.se",
        "--text-file", str(note),
    )  # fmt: skip
    code, output = run("requests", "changes", case["reference"], "--set", "phone=+46765551234")
    assert (code, output) == (0, "Telefon: 070-123 45 67 → 076-555 12 34\n")
    run("requests", "verify", case["reference"], "--by", "phone", "--note", "called")
    [draft] = run_json("drafts", "list")
    code, shown = run("drafts", "show", str(draft["id"]))
    assert "Telefon: 070-123 45 67 → 076-555 12 34" in shown  # the letter
    assert "  - change Anna Lindqvist's phone from 070-123 45 67 to 076-555 12 34" in shown
    will = run_json("drafts", "show", str(draft["id"]))["approval"]["will"]
    assert will[0] == "change Anna Lindqvist's phone from 070-123 45 67 to 076-555 12 34"


def test_requests_show_is_the_whole_case_and_a_rejected_draft_does_not_read_as_rejected(
    tmp_path,
):
    kept = tmp_path / "kept"
    assert run("demo", "--keep", str(kept))[0] == 0
    config = ("-c", str(kept / "config.toml"))
    # Erik's rectification (the demo's references carry the year it runs in).
    [erik] = [
        c for c in run_json("requests", "list", *config) if c["from"] == "erik.svensson@example.se"
    ]
    reference = erik["reference"]
    [draft] = [d for d in run_json("drafts", "list", *config) if d["reference"] == reference]
    assert run("drafts", "reject", str(draft["id"]), "--reason", "too stiff", *config)[0] == 0
    [listed] = [c for c in run_json("requests", "list", *config) if c["status"] == "rejected"]
    assert listed["status_words"] == "draft rejected, to redraft"
    code, shown = run("requests", "show", reference, *config)
    assert code == 0
    lines = shown.splitlines()
    assert (
        "Hej, kan ni rätta mitt telefonnummer i ert register till 076-555 12 34? "
        "Det gamla säger jag upp vid månadsskiftet, till dess går det att nå mig på båda." in lines
    )
    assert any("rejected by staff:" in line and "too stiff" in line for line in lines)
    assert any("draft rejected" in line for line in lines[lines.index("History") :])
    # The facts read as words, not as Python values.
    assert "kinds: rectification" in lines and "extended due date: —" in lines
    assert not [line for line in lines if "None" in line or "['" in line or "{'" in line]
    document = run_json("requests", "show", reference, *config)
    assert document["status_words"] == "draft rejected, to redraft"
    assert document["thread"][0]["text"].startswith("Hej, kan ni rätta mitt telefonnummer")
    assert [d["decision_reason"] for d in document["drafts"] if d["id"] == draft["id"]] == [
        "too stiff"
    ]


def test_casework_from_the_command_line_link_note_kinds_changes_no_data_and_subjects(tmp_path):
    kept = tmp_path / "kept"
    assert run("demo", "--keep", str(kept))[0] == 0
    config = ("-c", str(kept / "config.toml"))
    [maria] = run_json("subjects", "search", "maria", *config)
    assert maria["name"] == "Maria Berg"
    shown = run_json("subjects", "show", str(maria["id"]), *config)
    assert [c["from"] for c in shown["cases"]] == ["maria.berg@example.se"]

    cases = {c["from"]: c for c in run_json("requests", "list", *config)}
    stranger = cases["stranger@example.org"]["reference"]
    code, output = run("requests", "no-data", stranger, *config)
    assert code == 0 and "written to stranger@example.org" in output
    code, output = run("requests", "link", stranger, "--subject", str(maria["id"]), *config)
    queued = "verification by Telegram confirmation queued for 5550004 (noxbot run sends it)"
    assert code == 0 and queued in output
    assert run_json("requests", "show", stranger, *config)["requester_name"] == "Maria Berg"
    assert run("requests", "note", stranger, "--text", "Maria called about it", *config)[0] == 0
    history = run_json("requests", "show", stranger, *config)["history"]
    assert {"actor": history[-1]["actor"], "action": "note"}.items() <= history[-1].items()
    assert history[-1]["detail"] == "Maria called about it"

    # A new challenge for Maria's own unverified case, to the contact point staff choose:
    # she said "No, it wasn't me" in the demo, so only once she has told staff it was.
    own = cases["maria.berg@example.se"]["reference"]
    code, err = run_main("requests", "challenge", own, "--to", "5550004", *config)
    assert code == 1 and "the person on file said it was not them" in err
    code, err = run_main(
        "requests", "challenge", own, "--to", "someone@example.org", "--despite-denial", *config
    )
    assert code == 1 and "not a contact point on file" in err
    code, output = run("requests", "challenge", own, "--to", "5550004", "--despite-denial", *config)
    queued = "verification by Telegram confirmation queued for 5550004 (noxbot run sends it)"
    assert code == 0 and queued in output

    optout = cases["5550009"]["reference"]
    code, output = run(
        "requests", "kinds", optout, "--kinds", "marketing_optout,objection", *config
    )
    assert code == 0 and output.strip() == f"{optout} now covers objection, marketing opt-out"
    assert run_json("requests", "show", optout, *config)["kinds"] == [
        "objection",
        "marketing_optout",
    ]

    # Changes are added to those stated before, not put in their place.
    erik = cases["erik.svensson@example.se"]["reference"]
    code, output = run("requests", "changes", erik, "--set", "company=Svensson Nät AB", *config)
    assert code == 0
    assert "→ 076-555 12 34" in output and "→ Svensson Nät AB" in output  # as the letter


def test_a_case_ended_by_mistake_is_reopened_with_its_deadline_and_the_reason_in_its_history(
    config, tmp_path
):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Sluta skicka nyhetsbrev och reklam till mig.")
    optout = run_json(
        "requests", "new", "--channel", "phone", "--from", "073-987 65 43",
        "--text-file", str(note),
    )  # fmt: skip
    reference = optout["reference"]
    code, err = run_main("requests", "reopen", reference, "--reason", "by mistake")
    assert code == 1 and "not finished: nothing to reopen" in err
    assert run("requests", "close", reference, "--reason", "thought it was spam")[0] == 0
    code, err = run_main("requests", "reopen", reference, "--reason", "  ")
    assert code == 1 and "--reason is required" in err

    code, output = run("requests", "reopen", reference, "--reason", "it was not spam")
    assert code == 0, output
    assert "reopened: draft to approve" in output and optout["due_date"] in output
    shown = run_json("requests", "show", reference)
    assert (shown["status"], shown["due_date"]) == ("awaiting_approval", optout["due_date"])
    moves = [(e["from_state"], e["to_state"], e["detail"]) for e in shown["history"]]
    assert ("closed", "awaiting_approval", "reopened: it was not spam") in moves
    assert [d["reference"] for d in run_json("drafts", "list")] == [reference]

    # Identity never confirmed: back to staff to confirm who asked, not to a reply.
    note.write_text("Please send me a copy of all personal data you hold about me.")
    access = run_json(
        "requests", "new", "--channel", "email", "--from", "anna.lindqvist@example.se",
        "--text-file", str(note),
    )["reference"]  # fmt: skip
    assert run("requests", "close", access, "--withdrawn", "--reason", "misread")[0] == 0
    assert run("requests", "reopen", access, "--reason", "she did not withdraw")[0] == 0
    assert run_json("requests", "show", access)["status"] == "unverified"
    alerts = run_json("alerts", "list")
    assert any(a["reference"] == access and a["kind"] == "unverified" for a in alerts)


def test_a_case_of_an_erased_person_cannot_be_reopened(config, tmp_path):
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text("Sluta skicka nyhetsbrev och reklam till mig.")
    optout = run_json(
        "requests", "new", "--channel", "phone", "--from", "073-987 65 43",
        "--text-file", str(note),
    )["reference"]  # fmt: skip
    assert run("requests", "close", optout, "--reason", "duplicate")[0] == 0
    note.write_text("Radera alla mina uppgifter.")
    erasure = run_json(
        "requests", "new", "--channel", "phone", "--from", "073-987 65 43",
        "--kinds", "erasure", "--text-file", str(note),
    )["reference"]  # fmt: skip
    assert run("requests", "verify", erasure, "--by", "phone", "--note", "called")[0] == 0
    draft = next(d for d in run_json("drafts", "list") if d["reference"] == erasure)
    code, output = run("drafts", "approve", str(draft["id"]), "--version", str(draft["version"]))
    assert code == 0, output
    assert run("requests", "close", erasure, "--reason", "answered by phone")[0] == 0
    for reference in (optout, erasure):
        code, err = run_main("requests", "reopen", reference, "--reason", "by mistake")
        assert code == 1 and "cannot be reopened" in err and "gone" in err, err
        assert run_json("requests", "show", reference)["status"] == "closed"


def test_every_list_at_80_columns_shows_words_whole_and_json_keeps_the_names(tmp_path, monkeypatch):
    kept = tmp_path / "kept"
    assert run("demo", "--keep", str(kept))[0] == 0
    config = ("-c", str(kept / "config.toml"))
    drafts = run_json("drafts", "list", *config)
    assert {d["status"] for d in drafts} == {"awaiting_approval"}  # the names, for scripts
    # (the demo's complaint has no outcome recorded: approval would refuse its reply)
    assert {d["status_words"] for d in drafts} == {
        "to approve",
        "blocked: complaint outcome not recorded",
    }
    assert {"acknowledgment", "art19_notice"} <= {d["purpose"] for d in drafts}
    assert any(c["kinds"] == ["marketing_optout"] for c in run_json("requests", "list", *config))

    monkeypatch.setenv("COLUMNS", "80")
    shown = {}
    for command in ("drafts", "requests", "alerts", "outbox"):
        code, output = run(command, "list", *config)
        assert code == 0, output
        assert [line for line in output.splitlines() if len(line) > 80] == [], command
        assert "_" not in output.replace("requests_", ""), output  # no enum names
        shown[command] = output
    lines = {command: output.splitlines() for command, output in shown.items()}
    for command, words in {
        "drafts": ("acknowledgment", "clarification", "Art. 19 notice", "to approve"),
        "requests": ("marketing opt-out", "rectification"),
        "alerts": ("possible impersonation", "complaint"),
        "outbox": ("acknowledgment", "verification"),
    }.items():
        for word in words:  # each on one line: never split mid-word
            assert any(word in line for line in lines[command]), (word, shown[command])
    # A status wraps between its words, never inside one.
    for word in ("identity", "confirmed", "approve"):
        parts = [line for line in lines["requests"] if word[:4] in line]
        assert parts and all(word in line for line in parts), (word, shown["requests"])
    # Whom each case is for stays in view: the name, and the address broken before its "@"
    # (each half whole, for grep) rather than the column left out.
    requests = shown["requests"]
    assert any("requester" in line for line in lines["requests"][:4])  # the header
    assert "Erik Svensson" in requests and "Telegram user" in requests
    assert "erik.svensson" in requests and "@example.se" in requests


def test_linking_a_requester_not_on_file_sends_the_challenge_to_the_contact_point_staff_choose(
    tmp_path,
):
    kept = tmp_path / "kept"
    assert run("demo", "--keep", str(kept))[0] == 0
    config = ("-c", str(kept / "config.toml"))
    [maria] = run_json("subjects", "search", "maria", *config)
    cases = {c["from"]: c for c in run_json("requests", "list", *config)}
    stranger = cases["stranger@example.org"]["reference"]
    link = ("requests", "link", stranger, "--subject", str(maria["id"]))
    code, err = run_main(*link, "--to", "stranger@example.org", *config)
    assert code == 1 and "is where the request came from" in err and "5550004" in err, err
    shown = run_json("requests", "show", stranger, *config)
    assert shown["requester_name"] is None and shown["status"] == "unverified"  # nothing kept

    code, output = run(*link, "--to", "Maria.Berg@example.se", *config)
    assert code == 0 and "verification by code by email queued for maria.berg@example.se" in output
    shown = run_json("requests", "show", stranger, *config)
    assert (shown["requester_name"], shown["status"]) == ("Maria Berg", "awaiting_verification")


def test_classify_says_when_staff_would_choose_the_kinds(tmp_path):
    sure, unsure = tmp_path / "sure.txt", tmp_path / "unsure.txt"
    sure.write_text("Sluta skicka nyhetsbrev till mig, tack.", encoding="utf-8")
    unsure.write_text(
        "Please don't delete my profile, I want to stay in your register.", encoding="utf-8"
    )
    low = json.loads(run("classify", "--format", "jsonl", str(unsure))[1])
    assert low["confidence"] < 0.6  # the shipped model is unsure of this one
    code, output = run("classify", str(sure))
    assert code == 0 and "marketing opt-out" in output and "to triage" not in output
    code, output = run("classify", str(sure), str(unsure))
    assert code == 0 and output.count("to triage") == 2  # the row, and what it means


def test_classify_marks_triage_by_the_configured_threshold(tmp_path):
    """Staff who set a stricter [classifier] triage_threshold see it in `classify` too."""
    sure = tmp_path / "sure.txt"
    sure.write_text("Sluta skicka nyhetsbrev till mig, tack.", encoding="utf-8")
    confidence = json.loads(run("classify", "--format", "jsonl", str(sure))[1])["confidence"]
    assert 0.6 <= confidence < 1.0
    strict = tmp_path / "config.toml"
    strict.write_text("[classifier]\ntriage_threshold = 1.0\n", encoding="utf-8")
    code, output = run("classify", "-c", str(strict), str(sure))
    assert code == 0 and output.count("to triage") == 2
    assert "a confidence under 1.0" in output


def _commands() -> set[str]:
    """Every command `noxbot --help` leads to: 'requests list', 'demo', …"""
    import typer.main

    found: set[str] = set()

    def walk(command, path: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])
        if not hasattr(command, "commands"):
            found.add(" ".join(path))

    walk(typer.main.get_command(app), [])
    return found


def _readme_commands() -> set[str]:
    """The commands README's "Command reference" table names. A cell may name several:
    `noxbot requests kinds REF …` / `note REF …`, `noxbot staff add|list|reset|disable`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Command reference") :]
    section = section[: section.index("\n## ")]
    named: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `noxbot"):
            continue
        group = ""
        for piece in re.findall(r"`([^`]*)`", line.split(" | ")[0]):
            words = piece.replace("\\|", "|").split()
            if words[0] == "noxbot":
                group, rest = words[1], words[2:3]
                if rest and re.fullmatch(r"[a-z-]+(\|[a-z-]+)*", rest[0]):
                    named |= {f"{group} {sub}" for sub in rest[0].split("|")}
                else:
                    named.add(group)
            elif re.fullmatch(r"[a-z-]+", words[0]):
                named.add(f"{group} {words[0]}")
    return named


def test_the_readme_command_reference_and_docs_name_every_command_help_lists():
    commands = _commands()
    assert {"requests reopen", "requests tick", "disclosures import"} <= commands
    assert sorted(commands - _readme_commands()) == []
    docs = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    index = docs[: docs.index("\n## ")]
    missing = [
        c
        for c in sorted(commands)
        if f"[`noxbot {c}`]" not in index and f"[`noxbot {c.split()[0]}`]" not in index
    ]
    assert missing == []


def test_a_requester_stays_at_80_columns_until_even_a_broken_address_cannot_fit():
    import io

    from rich.console import Console

    from bot.cli.output import print_table
    from bot.cli.requests import CASE_COLUMNS

    def listed(address: str) -> str:
        console = Console(width=80, file=io.StringIO(), markup=False, soft_wrap=True)
        row = (
            "DSR-2026-0042", f"Anna-Karin Lindqvist-Berg\n{address}",
            "marketing opt-out\nconsent withdrawal", "identity not confirmed", "sv", "email",
            "2026-12-01", "2027-01-04\n(ext.)", "-12", "—",
        )  # fmt: skip
        print_table(console, CASE_COLUMNS, [row])
        output = console.file.getvalue()
        assert max(len(line) for line in output.splitlines()) <= 80, output
        return output

    # Two kinds wrap between their words so that the requester keeps its place.
    output = listed("anna.lindqvist@example.se")
    assert "requester" in output and "Lindqvist-Berg" in output
    assert "anna.lindqvist" in output and "@example.se" in output
    assert "withdrawal" in output and "confirmed" in output and "2027-01-04" in output
    # An address whose halves cannot fit is never folded: the column is left out instead.
    output = listed("anna-karin.lindqvist-berg@consultancy-department.example.com")
    assert "requester" not in output and "anna-karin" not in output
    assert "DSR-2026-0042" in output and "2027-01-04" in output


def test_the_kept_demo_config_reads_back_with_any_folder_name():
    """A folder named with characters beyond ASCII (an emoji, å) still gives a valid config."""
    import tomllib

    from bot.cli.demo import demo_source_settings, sources_toml

    folder = Path("/tmp/demo 😀/åäö")
    sources = tomllib.loads(sources_toml(demo_source_settings(folder)))["sources"]
    assert [s["name"] for s in sources] == ["CV", "info@noxconsulting.se"]
    assert sources[0]["folder"] == str(folder / "cv")


def test_the_config_may_be_given_before_the_command_too(tmp_path, monkeypatch):
    """`noxbot -c FILE requests list` reads FILE, as `noxbot requests list -c FILE` does;
    the command's own -c wins, and nothing of it stays for the next command."""
    monkeypatch.delenv("NOXBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # (no ./config.toml here)
    kept = tmp_path / "kept"
    assert run("demo", "--keep", str(kept))[0] == 0
    config = str(kept / "config.toml")
    after = run_json("requests", "list", "-c", config)
    assert after and run_json("-c", config, "requests", "list") == after
    (tmp_path / "other").mkdir()
    other = write_config(tmp_path / "other", monkeypatch)
    monkeypatch.delenv("NOXBOT_CONFIG")
    assert run_json("-c", config, "requests", "list", "-c", str(other)) == []
    assert "NOXBOT_CONFIG" not in os.environ
    code, said = run_main("-c", str(tmp_path / "missing.toml"), "requests", "list")
    assert code == 1 and "missing.toml: no such config file" in said
    assert "NOXBOT_CONFIG" not in os.environ


def test_a_console_port_already_taken_is_said_in_one_line(config, tmp_path):
    """`noxbot web` (and `noxbot run` with [web]) where something listens already: which
    port, and how to choose another. Before, it said it was serving, then printed a
    traceback from uvicorn."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = noxbot("web", "-c", str(config), "--port", str(port))
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"noxbot: [web] cannot listen on 127.0.0.1:{port}: Address already in use "
            "(another program, perhaps another noxbot web, listens there); choose another "
            "port: [web] port in the config (noxbot web also takes --port)"
        )
        assert "console on" not in result.stdout
        config.write_text(config.read_text() + f"\n[web]\nport = {port}\n")
        ran = noxbot("run", "-c", str(config))
        assert ran.returncode == 1 and "Traceback" not in ran.stderr
        assert (
            ran.stderr.strip()
            .splitlines()[-1]
            .startswith(f"noxbot: [web] cannot listen on 127.0.0.1:{port}")
        )


def _annas_opt_out_draft(tmp_path, text: str) -> tuple[dict, dict]:
    """Anna (on file) opts out on Telegram: her case, and its draft as `drafts list` shows it."""
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    note = tmp_path / "note.txt"
    note.write_text(text)
    case = run_json(
        "requests", "new", "--channel", "telegram", "--from", "5550001", "--text-file", str(note)
    )
    return case, run_json("drafts", "list")[0]


def test_drafts_edit_keeps_the_reason_given_as_the_console_does(config, tmp_path):
    """The console asks why for every edit and keeps it; the command had no way to say."""
    case, draft = _annas_opt_out_draft(tmp_path, "sluta skicka nyhetsbrev till mig")
    text = tmp_path / "text.txt"
    text.write_text(draft["text"] + "\nHälsningar, Eva")
    code, output = run(
        "drafts", "edit", str(draft["id"]), "--text-file", str(text),
        "--reason", "Signed it; 811218-9876 was in my notes",
    )  # fmt: skip
    assert code == 0, output
    history = run_json("requests", "show", case["reference"])["history"]
    [kept] = [e["detail"] for e in history if e["action"] == "draft_edit_reason"]
    assert kept.endswith(": Signed it; [personnummer borttaget] was in my notes")


def test_subjects_list_writes_phone_numbers_with_spaces(config):
    """The table showed +447700900123 (as stored); the JSON keeps E.164 for scripts."""
    run("subjects", "import", str(EXAMPLES / "register.csv"))
    code, output = run("subjects", "list")
    assert code == 0, output
    assert "+44 7700 900123" in output and "+46 70 123 45 67" in output
    assert "+447700900123" not in output
    john = next(p for p in run_json("subjects", "list") if p["name"] == "John Carter")
    assert john["phone"] == ["+447700900123"]


def test_drafts_edit_says_which_draft_id_to_use_next_and_lists_show_what_it_replaces(
    config, tmp_path
):
    """Staff read "draft 6 → new version 2 is draft 27" and approved 6 again: the output now
    says the new draft's id first, and list and show say which draft a version replaces."""
    case, old = _annas_opt_out_draft(tmp_path, "Sluta skicka nyhetsbrev till mig.")
    edited = tmp_path / "edited.txt"
    edited.write_text(old["text"] + "\nVänliga hälsningar, Eva")
    code, output = run("drafts", "edit", str(old["id"]), "--text-file", str(edited))
    assert code == 0, output
    (new,) = run_json("drafts", "list")
    assert " ".join(output.split()).startswith(
        f"saved as draft {new['id']} (version 2 of the reply on {case['reference']}; "
        f"draft {old['id']} is replaced)"
    )
    assert f"noxbot drafts approve {new['id']}" in " ".join(output.split())
    # JSON: the old fields as before, and which versions replace which.
    assert (new["version"], new["replaces"], new["replaced_by"]) == (2, old["id"], None)
    shown_old = run_json("drafts", "show", str(old["id"]))
    assert (shown_old["version"], shown_old["replaces"], shown_old["replaced_by"]) == (
        1,
        None,
        new["id"],
    )
    listed = " ".join(run("drafts", "list")[1].split())
    assert f"replaces draft {old['id']}" in listed
    shown = " ".join(run("drafts", "show", str(new["id"]))[1].split())
    assert f"version 2 (replaces draft {old['id']})" in shown
    shown = " ".join(run("drafts", "show", str(old["id"]))[1].split())
    assert f"noxbot drafts show {new['id']}" in shown


def test_one_senders_long_display_name_does_not_take_the_requester_column_from_the_list(
    config, tmp_path, monkeypatch
):
    """Before, a mail whose display name was one 300-letter word made `requests list` leave
    out the requester column for every case (the name could never fold, so the table could
    not fit): staff saw no one's name or address. Now that name folds; the column stays."""
    mail = tmp_path / "long-name.eml"
    mail.write_text(
        f"From: {'W' * 300} <sender@example.org>\nTo: info@noxconsulting.se\n"
        "Subject: radera\nMessage-ID: <long-name@example.org>\n\n"
        "Radera alla mina uppgifter.\n"
    )
    new = ("requests", "new", "--channel", "email", "--from")
    assert run(*new, "sender@example.org", str(mail))[0] == 0
    note = tmp_path / "note.txt"
    note.write_text("Please delete all my personal data.")
    assert run(*new, "anna.lindqvist@example.se", "--text-file", str(note))[0] == 0
    for columns in (80, 120):
        monkeypatch.setenv("COLUMNS", str(columns))
        code, output = run("requests", "list")
        assert code == 0
        assert "requester" in output.split("───")[0], output  # in the header
        assert "anna.lindqvist" in output and "WWWWWWWW" in output
        assert max(len(line) for line in output.splitlines()) <= columns, output
