"""The register of people on file: import, re-import, lookup by any contact point."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.store.register import (
    InvalidContact,
    export_csv,
    find_subject,
    import_file,
    normalise_phone,
    subject_export,
    subject_record,
)

CSV = """name,email,phone,telegram_user_id,company,org_number,roles,competences,availability,linkedin
Anna Lindqvist,Anna.Lindqvist@Example.se;anna@lindqvistdata.se,070-123 45 67,5550001,Lindqvist Data AB,559123-4567,Tech lead,Python,2027-01-15,https://linkedin.example/anna
John Carter,john@example.com,+44 7700 900123,,Carter Ltd,,PM,Agile,,
"""

#: When the imports in these tests happen (a fixed instant: nothing here depends on today).
IMPORTED_AT = datetime(2026, 11, 24, 9, tzinfo=UTC)


def _import(database, tmp_path, text: str, name: str = "people.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with database.session() as session:
        return import_file(session, path, now=IMPORTED_AT)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("070-123 45 67", "+46701234567"),
        ("0701234567", "+46701234567"),
        ("+46 70 123 45 67", "+46701234567"),
        ("0046701234567", "+46701234567"),
        ("08-123 456 78", "+46812345678"),
        ("+44 7700 900123", "+447700900123"),
    ],
)
def test_phone_numbers_are_found_however_they_are_written(written, expected):
    assert normalise_phone(written) == expected


def test_a_phone_number_that_is_not_one_is_refused():
    with pytest.raises(InvalidContact):
        normalise_phone("call me maybe")


def test_imported_people_are_found_by_any_contact_point(database, tmp_path):
    report = _import(database, tmp_path, CSV)
    assert (report.created, report.updated, report.problems) == (2, 0, [])
    with database.session() as session:
        by_email = find_subject(session, "email", "ANNA.LINDQVIST@example.SE")
        by_second_email = find_subject(session, "email", "anna@lindqvistdata.se")
        by_phone = find_subject(session, "phone", "+46 70-123 45 67")
        by_telegram = find_subject(session, "telegram", "5550001")
        assert by_email is not None and by_email.name == "Anna Lindqvist"
        assert by_email.id == by_second_email.id == by_phone.id == by_telegram.id
        assert find_subject(session, "email", "nobody@example.se") is None
        assert by_email.extra == {"linkedin": "https://linkedin.example/anna"}


def test_reimport_updates_and_never_duplicates(database, tmp_path):
    _import(database, tmp_path, CSV)
    changed = CSV.replace("Lindqvist Data AB", "Lindqvist Konsult AB")
    report = _import(database, tmp_path, changed)
    # Anna's company changed; John's row holds nothing new (before: "2 updated")
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    again = _import(database, tmp_path, changed)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    with database.session() as session:
        anna = find_subject(session, "email", "anna.lindqvist@example.se")
        assert anna.company == "Lindqvist Konsult AB"
        from sqlmodel import select

        from bot.store.tables import Subject

        assert len(session.exec(select(Subject)).all()) == 2


def test_bad_rows_are_reported_with_line_numbers_and_good_rows_kept(database, tmp_path):
    text = (
        "name,email,phone,telegram_user_id\n"
        "Good One,good@example.se,,\n"
        "Bad Mail,not-an-address,,\n"
        "No Contact,,,\n"
        "Bad Telegram,,,@handle\n"
        "Good Two,,0731234567,\n"
    )
    report = _import(database, tmp_path, text)
    assert report.created == 2
    assert [(p.line, p.message.split(":")[0]) for p in report.problems] == [
        (3, "column email"),
        (4, "no email, phone or telegram_user_id"),
        (5, "column telegram_user_id"),
    ]


def test_json_import_takes_a_list_of_objects(database, tmp_path):
    people = [
        {"name": "Eva Ek", "email": ["eva@example.se"], "competences": "Java", "shoe_size": 38},
        "not an object",
    ]
    report = _import(database, tmp_path, json.dumps(people), "people.json")
    assert report.created == 1
    assert [(p.where, p.message) for p in report.problems] == [("item 2", "expected an object")]
    with database.session() as session:
        eva = find_subject(session, "email", "eva@example.se")
        assert eva.competences == "Java" and eva.extra == {"shoe_size": 38}


def test_record_and_export_show_everything_held(database, tmp_path):
    _import(database, tmp_path, CSV)
    with database.session() as session:
        anna = find_subject(session, "email", "anna.lindqvist@example.se")
        record = {item.key: item.value for item in subject_record(session, anna, "sv")}
        labels = [item.label for item in subject_record(session, anna, "sv")]
        export = subject_export(session, anna)
    assert record["org_number"] == "559123-4567"
    assert record["linkedin"] == "https://linkedin.example/anna"
    assert "Organisationsnummer" in labels
    assert export["email"] == ["anna.lindqvist@example.se", "anna@lindqvistdata.se"]
    assert export["phone"] == ["+46701234567"]
    csv_text = export_csv(export)
    assert csv_text.splitlines()[0].startswith("name,email,phone")
    assert "anna.lindqvist@example.se;anna@lindqvistdata.se" in csv_text


def test_the_same_email_twice_in_one_file_is_reported_and_the_first_row_kept(database, tmp_path):
    text = (
        "name,email,phone\n"
        "Anna Lindqvist,anna.lindqvist@example.se,070-123 45 67\n"
        "John Carter,john@example.com,\n"
        "Anna L,Anna.Lindqvist@example.se,\n"
        "Someone,other@example.se,0701234567\n"
    )
    report = _import(database, tmp_path, text)
    assert (report.created, report.updated) == (2, 0)
    assert [(p.where, p.message) for p in report.problems] == [
        ("line 4", "email anna.lindqvist@example.se is also on line 2, which was kept; one "
         "person per row"),
        ("line 5", "phone +46701234567 is also on line 2, which was kept; one person per row"),
    ]  # fmt: skip
    with database.session() as session:
        assert find_subject(session, "email", "anna.lindqvist@example.se").name == "Anna Lindqvist"
        assert find_subject(session, "email", "other@example.se") is None


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_a_csv_separated_by_semicolons_or_tabs_is_read_as_the_header_shows(
    database, tmp_path, delimiter
):
    rows = [
        ["name", "email", "phone", "company", "roles"],
        ["Åsa Öberg", "asa@example.se", "070-111 22 33", "Öberg, Lund & Co AB", "Tech lead"],
    ]
    text = "".join(delimiter.join(row) + "\n" for row in rows)
    report = _import(database, tmp_path, text)
    assert (report.created, report.problems) == (1, [])
    with database.session() as session:
        asa = find_subject(session, "email", "asa@example.se")
        assert (asa.name, asa.company) == ("Åsa Öberg", "Öberg, Lund & Co AB")


def test_a_windows_1252_csv_from_excel_is_read_and_said_so(database, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes("name;email\nÅsa Öberg;asa@example.se\n".encode("cp1252"))
    with database.session() as session:
        report = import_file(session, path, now=IMPORTED_AT)
    assert (report.created, report.problems) == (1, [])
    assert "Windows-1252" in report.notes[0] and "UTF-8" in report.notes[0]
    with database.session() as session:
        assert find_subject(session, "email", "asa@example.se").name == "Åsa Öberg"


def _phones(database, email: str) -> list[str]:
    with database.session() as session:
        person = find_subject(session, "email", email)
        return subject_export(session, person)["phone"]


def test_a_reimported_changed_phone_replaces_the_old_one_with_an_audit_event_naming_no_value(
    database, tmp_path
):
    _import(database, tmp_path, CSV)
    report = _import(database, tmp_path, CSV.replace("070-123 45 67", "070-999 88 77"))
    assert (report.created, report.updated + report.unchanged, report.problems) == (0, 2, [])
    assert _phones(database, "anna.lindqvist@example.se") == ["+46709998877"]
    assert [(c.line, c.what) for c in report.retired] == [(2, "phone")]
    with database.session() as session:
        assert find_subject(session, "phone", "070-123 45 67") is None
        from sqlmodel import select

        from bot.store.tables import AuditEvent

        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "contact_retired")
        ).all()
    assert len(events) == 1 and "phone" in events[0].detail and "line 2" in events[0].detail
    assert "+4670" not in events[0].detail and "070" not in events[0].detail


def test_an_empty_phone_cell_retires_the_number_and_a_file_without_the_column_keeps_it(
    database, tmp_path
):
    _import(database, tmp_path, CSV)
    report = _import(database, tmp_path, "name,email\nAnna Lindqvist,anna.lindqvist@example.se\n")
    # No phone column: the phone stays. Both addresses were on file; the file names one.
    assert [c.what for c in report.retired] == ["email"]
    assert _phones(database, "anna.lindqvist@example.se") == ["+46701234567"]
    with database.session() as session:
        anna = find_subject(session, "email", "anna.lindqvist@example.se")
        assert subject_export(session, anna)["email"] == ["anna.lindqvist@example.se"]
    report = _import(
        database, tmp_path, "name,email,phone\nAnna Lindqvist,anna.lindqvist@example.se,\n"
    )
    assert [c.what for c in report.retired] == ["phone"]
    assert _phones(database, "anna.lindqvist@example.se") == []


def test_a_row_matched_by_phone_that_renames_the_person_is_reported_by_line(database, tmp_path):
    _import(database, tmp_path, CSV)
    text = "name,phone\nAnna Lindqvist,070-123 45 67\nJohnny Carter,+44 7700 900123\n"
    report = _import(database, tmp_path, text)
    assert (report.updated, report.unchanged) == (1, 1)  # Johnny renamed; Anna as she was
    assert [(c.where, c.subject_id, c.matched_by) for c in report.renamed] == [
        ("line 3", 2, ("phone",))
    ]
    assert "Johnny" not in report.renamed[0].describe()  # told by line and person, not value


def test_a_reimport_says_which_fields_it_changed_and_an_empty_cell_empties_one(database, tmp_path):
    _import(database, tmp_path, "name,email,company,linkedin\nÅsa Ek,asa@example.se,Ek AB,x\n")
    report = _import(database, tmp_path, "name,email,company,linkedin\nÅsa Ek,asa@example.se,,x\n")
    [change] = report.changed
    assert change.fields == ("company",) and "Ek AB" not in change.describe()
    with database.session() as session:
        assert find_subject(session, "email", "asa@example.se").company is None


def test_a_row_with_more_cells_than_the_header_is_refused_not_shifted(database, tmp_path):
    report = _import(
        database, tmp_path, "name;email;roles;cv\nÅsa Ek;asa@example.se;PM; Agile;CV text\n"
    )
    [problem] = report.problems
    assert "5 cells, the header 4" in problem.message and report.created == 0


def test_a_large_import_lets_others_write_while_it_runs(database, tmp_path):
    """SQLite lets one transaction write at a time. An import of 4,000 people held that for
    the whole file (30,000: 40 s): mail intake, the chat and the console waited, and their
    writes failed after 30 s. It is written in chunks: another writer gets in within one."""
    import sqlite3
    import threading
    import time

    rows = "".join(f"Person {i},p{i}@example.se\n" for i in range(4_000))
    (tmp_path / "many.csv").write_text("name,email\n" + rows, encoding="utf-8")
    path = str(database.engine.url.database)
    done, waits = threading.Event(), []

    def write_meanwhile() -> None:
        other = sqlite3.connect(path, timeout=30, isolation_level=None)
        other.execute("CREATE TABLE IF NOT EXISTS probe (n INTEGER)")
        while not done.is_set():
            started = time.monotonic()
            other.execute("INSERT INTO probe VALUES (1)")  # waits for the write lock
            waits.append(time.monotonic() - started)
            time.sleep(0.05)
        other.close()

    writer = threading.Thread(target=write_meanwhile)
    writer.start()
    try:
        started = time.monotonic()
        with database.session() as session:
            report = import_file(session, tmp_path / "many.csv", now=IMPORTED_AT)
        took = time.monotonic() - started
    finally:
        done.set()
        writer.join(60)
    assert report.created == 4_000
    assert len(waits) >= 3
    assert max(waits) < took / 2, (max(waits), took)
