"""Each source against the real thing: files in a temp folder, Dovecot for the mailbox,
SQLite and PostgreSQL for SQL."""

from __future__ import annotations

import imaplib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.config import (
    ConfigError,
    DocumentsSource,
    ImapSettings,
    MailboxSource,
    SqlSource,
    SqlTable,
    parse_settings,
)
from bot.sources import Person, SourceError
from bot.sources.documents import DocumentsFolder
from bot.sources.mailbox import Mailbox
from bot.sources.sql import SqlDatabase
from tests import dovecot
from tests.sources_kit import write_docx, write_odt, write_pdf

ANNA = Person("Anna Lindqvist", ("anna.lindqvist@example.se",), ("+46701234567",))


def cv_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "cv"
    folder.mkdir()
    write_pdf(folder / "cv-anna.pdf", ["Curriculum vitae", "Anna  Lindqvist", "Systemutvecklare"])
    write_docx(folder / "profil.docx", ["Konsultprofil", "E-post: anna.lindqvist@example.se"])
    write_odt(folder / "referens.odt", ["Referens", "Ring 070-123 45 67 för frågor"])
    (folder / "notes.txt").write_text("Anna Lindqvist, tillgänglig i januari\n")
    write_pdf(folder / "cv-john.pdf", ["John Carter", "Project manager", "070-999 99 99"])
    (folder / "other.txt").write_text("Annan Lindqvistsson och anna.l@example.org\n")
    return folder


def test_documents_are_found_by_name_email_and_phone_in_pdf_docx_odt_and_text(tmp_path):
    source = DocumentsFolder(
        DocumentsSource(
            type="documents", name="CV-arkiv", folder=str(cv_folder(tmp_path)), erase="delete"
        )
    )
    found = source.find(ANNA)
    assert sorted(f.ref for f in found) == [
        "cv-anna.pdf",
        "notes.txt",
        "profil.docx",
        "referens.odt",
    ]
    copy = source.attachment("cv-anna.pdf")
    assert copy is not None and copy.content_type == "application/pdf"
    assert copy.data().startswith(b"%PDF")


def test_erasing_a_document_moves_it_to_the_holding_folder_and_it_is_no_longer_found(tmp_path):
    folder = cv_folder(tmp_path)
    holding = tmp_path / "raderat"
    source = DocumentsFolder(
        DocumentsSource(
            type="documents",
            name="CV-arkiv",
            folder=str(folder),
            holding_folder=str(holding),
        )
    )
    assert source.erase("cv-anna.pdf") == f"cv-anna.pdf moved to {holding}"
    assert not (folder / "cv-anna.pdf").exists() and (holding / "cv-anna.pdf").exists()
    assert "cv-anna.pdf" not in [f.ref for f in source.find(ANNA)]
    with pytest.raises(SourceError, match="no longer there"):
        source.erase("cv-anna.pdf")


def test_erasing_by_delete_removes_the_file(tmp_path):
    folder = cv_folder(tmp_path)
    source = DocumentsFolder(
        DocumentsSource(type="documents", name="CV", folder=str(folder), erase="delete")
    )
    assert source.erase("notes.txt") == "notes.txt deleted"
    assert not (folder / "notes.txt").exists()


def test_a_missing_or_unreadable_document_folder_is_reported_not_skipped(tmp_path):
    missing = DocumentsFolder(
        DocumentsSource(type="documents", name="CV", folder=str(tmp_path / "none"), erase="delete")
    )
    with pytest.raises(SourceError, match=r"CV: the folder .* is not there"):
        missing.find(ANNA)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "trasig.pdf").write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(SourceError, match=r"trasig\.pdf cannot be read"):
        DocumentsFolder(
            DocumentsSource(type="documents", name="CV", folder=str(broken), erase="delete")
        ).find(ANNA)


# --- mailbox ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imap_server():
    if not dovecot.available():
        pytest.skip("dovecot is not installed")
    server = dovecot.start()
    yield server
    server.stop()


def mail(sender: str, to: str, subject: str, body: str, date: str, cc: str = "") -> bytes:
    head = f"From: {sender}\r\nTo: {to}\r\n" + (f"Cc: {cc}\r\n" if cc else "")
    return (
        f"{head}Subject: {subject}\r\nDate: {date}\r\nMessage-ID: <{subject}@t>\r\n\r\n{body}\r\n"
    ).encode()


def fill_mailbox(server, folder: str) -> None:
    client = imaplib.IMAP4("127.0.0.1", server.port)
    client.login(dovecot.USER, dovecot.PASSWORD)
    client.create(folder)
    for message in (
        mail(
            "anna.lindqvist@example.se",
            "info@nox.test",
            "Mitt CV",
            "Här är mitt CV.",
            "Mon, 02 Nov 2026 10:00:00 +0100",
        ),
        mail(
            "info@nox.test",
            "anna.lindqvist@example.se",
            "Uppdrag i Göteborg",
            "Hej Anna!",
            "Tue, 03 Nov 2026 10:00:00 +0100",
        ),
        mail(
            "kund@example.com",
            "info@nox.test",
            "Konsult?",
            "Vi såg anna.lindqvist@example.se i er lista.",
            "Wed, 04 Nov 2026 10:00:00 +0100",
        ),
        mail(
            "john.carter@example.com",
            "info@nox.test",
            "Other",
            "Nothing about her.",
            "Thu, 05 Nov 2026 10:00:00 +0100",
        ),
    ):
        client.append(folder, None, None, message)
    client.logout()


def mailbox(server, folder: str) -> Mailbox:
    imap = ImapSettings(host="127.0.0.1", port=server.port, tls="none", username=dovecot.USER)
    config = MailboxSource(
        type="mailbox", name="info@", folders=[folder], erase_folder=f"{folder}-raderat"
    )
    return Mailbox(config, imap, dovecot.PASSWORD)


def test_mailbox_finds_mail_from_to_and_mentioning_the_person_on_the_server(imap_server):
    fill_mailbox(imap_server, "Find")
    found = mailbox(imap_server, "Find").find(ANNA)
    assert [(f.summary, dict(f.details)["direction"], f.erasable) for f in found] == [
        ("2026-11-02: Mitt CV", "from", True),
        ("2026-11-03: Uppdrag i Göteborg", "to", True),
        ("2026-11-04: Konsult?", "mentions", False),
    ]
    copy = mailbox(imap_server, "Find").attachment(found[0].ref)
    assert copy is not None and b"Subject: Mitt CV" in copy.data()


def test_mailbox_erasure_moves_only_the_persons_mail(imap_server):
    fill_mailbox(imap_server, "Erase")
    source = mailbox(imap_server, "Erase")
    found = source.find(ANNA)
    for finding in found:
        if finding.erasable:
            assert source.erase(finding.ref) == "a mail moved from Erase to Erase-raderat"
    left = source.find(ANNA)
    assert [f.summary for f in left] == ["2026-11-04: Konsult?"]  # only a mention stays
    client = imaplib.IMAP4("127.0.0.1", imap_server.port)
    client.login(dovecot.USER, dovecot.PASSWORD)
    client.select('"Erase"')
    assert len(client.search(None, "ALL")[1][0].split()) == 2  # hers gone, John's kept
    client.select('"Erase-raderat"')
    assert len(client.search(None, "ALL")[1][0].split()) == 2
    client.logout()
    with pytest.raises(SourceError, match="no longer there"):
        source.erase(found[0].ref)


def test_a_mailbox_that_refuses_the_login_is_a_source_error(imap_server):
    imap = ImapSettings(host="127.0.0.1", port=imap_server.port, tls="none", username="info")
    source = Mailbox(MailboxSource(type="mailbox", name="info@"), imap, "wrong")
    with pytest.raises(SourceError, match="info@: the mail server cannot be reached"):
        source.find(ANNA)


# --- SQL ----------------------------------------------------------------------------------


def crm(url: str, *more: SqlTable, **statements: Any) -> SqlDatabase:
    """A CRM with four consultants; `statements` (update, restrict) go on its table."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE consultant (id INTEGER PRIMARY KEY, name TEXT, email TEXT, "
                "phone TEXT, rate INTEGER, restricted INTEGER NOT NULL DEFAULT 0)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO consultant (id, name, email, phone, rate) VALUES "
                "(1, 'Anna Lindqvist', 'anna.lindqvist@example.se', NULL, 950),"
                " (2, 'John Carter', 'john.carter@example.com', NULL, 900),"
                " (3, 'A. Lindqvist', NULL, '+46701234567', 800),"
                " (4, 'Robert''); DROP TABLE consultant;--', NULL, NULL, 1)"
            )
        )
    engine.dispose()
    return SqlDatabase(
        SqlSource(
            type="sql",
            name="CRM",
            url=url,
            tables=[
                SqlTable(
                    label="Konsult i CRM",
                    lookup="SELECT id, name, email, rate FROM consultant "
                    "WHERE lower(email) IN :emails OR phone IN :phones OR name = :name",
                    erase="DELETE FROM consultant WHERE id = :id",
                    **statements,
                ),
                *more,
            ],
        )
    )


def crm_rows(url: str) -> dict[int, dict[str, Any]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM consultant ORDER BY id")).mappings()
        result = {r["id"]: dict(r) for r in rows}
    engine.dispose()
    return result


def sql_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    url = request.getfixturevalue("postgres_url")
    return url.replace("postgresql://", "postgresql+psycopg://")


EVIL = "Robert'); DROP TABLE consultant;--"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sql_source_rectifies_and_restricts_a_found_row_with_bound_values(
    backend, request, tmp_path
):
    url = sql_url(backend, request, tmp_path)
    source = crm(
        url,
        update={
            "name": "UPDATE consultant SET name = :new WHERE id = :id AND name = :old",
            "email": "UPDATE consultant SET email = :new WHERE id = :id",
        },
        restrict="UPDATE consultant SET restricted = 1 WHERE id = :id",
    )
    first, _ = source.find(ANNA)
    outcome = source.rectify(
        first.ref,
        [("name", "Anna Lindqvist", EVIL), ("email", "x", "anna@ny.example"), ("rate", "", "1")],
    )
    assert outcome == "Konsult i CRM: name, email updated"  # rate has no statement: untouched
    assert source.restrict(first.ref) == "Konsult i CRM: 1 row(s) restricted"
    rows = crm_rows(url)  # the table is still there: the value was only ever a value
    assert rows[1]["name"] == EVIL and rows[1]["email"] == "anna@ny.example"
    assert rows[1]["rate"] == 950 and rows[1]["restricted"] == 1
    assert rows[3]["name"] == "A. Lindqvist" and rows[3]["restricted"] == 0
    source.dispose()


def test_a_refused_update_statement_is_a_source_error_and_changes_nothing_in_that_row(
    tmp_path,
):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    source = crm(
        url,
        update={
            "name": "UPDATE consultant SET name = :new WHERE id = :id",
            "email": "UPDATE consultant SET no_such_column = :new WHERE id = :id",
        },
    )
    first, _ = source.find(ANNA)
    with pytest.raises(SourceError, match="CRM: the database failed"):
        source.rectify(first.ref, [("name", "", "Anna Berg"), ("email", "", "a@b.example")])
    assert crm_rows(url)[1]["name"] == "Anna Lindqvist"  # one transaction per row
    with pytest.raises(SourceError, match="has no restrict statement"):
        source.restrict(first.ref)
    source.dispose()


def test_an_update_for_a_field_the_register_does_not_have_is_refused_in_one_line():
    with pytest.raises(ConfigError) as refused:
        parse_settings(
            {
                "sources": [
                    {
                        "type": "sql",
                        "name": "CRM",
                        "url": "sqlite://",
                        "tables": [
                            {
                                "label": "Konsult",
                                "lookup": "SELECT id FROM consultant",
                                "update": {"mail": "UPDATE consultant SET email = :new"},
                            }
                        ],
                    }
                ]
            }
        )
    message = str(refused.value)
    assert "\n" not in message and "tables.0.update" in message
    assert "update keys among name, company, org_number, phone, email (not mail)" in message


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sql_source_finds_by_bound_parameters_and_erases_row_by_row(backend, request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'crm.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url").replace(
            "postgresql://", "postgresql+psycopg://"
        )
    )
    source = crm(url)
    found = source.find(ANNA)
    assert [dict(f.details)["name"] for f in found] == ["Anna Lindqvist", "A. Lindqvist"]
    assert dict(found[0].details)["rate"] == "950"
    # a name that is SQL is only ever a value
    evil = Person("Robert'); DROP TABLE consultant;--")
    assert [dict(f.details)["rate"] for f in source.find(evil)] == ["1"]
    assert source.erase(found[0].ref) == "Konsult i CRM: 1 row(s) erased"
    assert [dict(f.details)["name"] for f in source.find(ANNA)] == ["A. Lindqvist"]
    source.dispose()


def test_sql_source_that_is_down_says_so_without_its_password(tmp_path):
    source = SqlDatabase(
        SqlSource(
            type="sql",
            name="CRM",
            url="postgresql+psycopg://crm:hemligt@127.0.0.1:1/crm",
            tables=[SqlTable(label="x", lookup="SELECT 1 AS id")],
        )
    )
    with pytest.raises(SourceError, match="CRM: the database failed") as caught:
        source.find(ANNA)
    assert "hemligt" not in str(caught.value)


def test_a_documents_source_that_would_move_files_nowhere_is_refused_in_config():
    with pytest.raises(ValueError, match="needs holding_folder"):
        DocumentsSource(type="documents", name="CV", folder="/srv/cv")


# --- Maildir ------------------------------------------------------------------------------


def test_a_maildir_archive_finds_and_moves_only_the_persons_mail(tmp_path):
    import mailbox as stdlib_mailbox

    from bot.config import MaildirSource
    from bot.sources.maildir import MaildirArchive

    box = stdlib_mailbox.Maildir(tmp_path / "arkiv", create=True)
    for message in (
        mail(
            "anna.lindqvist@example.se",
            "info@nox.test",
            "Mitt CV",
            "CV",
            "Mon, 02 Nov 2026 10:00:00 +0100",
        ),
        mail(
            "info@nox.test",
            "x@y.se",
            "Kopia",
            "Hej",
            "Tue, 03 Nov 2026 10:00:00 +0100",
            cc="Anna.Lindqvist@example.se",
        ),
        mail(
            "kund@example.com",
            "info@nox.test",
            "Konsult?",
            "Ring anna.lindqvist@example.se",
            "Wed, 04 Nov 2026 10:00:00 +0100",
        ),
        mail(
            "john.carter@example.com",
            "info@nox.test",
            "Other",
            "-",
            "Thu, 05 Nov 2026 10:00:00 +0100",
        ),
    ):
        box.add(message)
    source = MaildirArchive(
        MaildirSource(
            type="maildir",
            name="Arkiv",
            path=str(tmp_path / "arkiv"),
            erase_folder=str(tmp_path / "raderat"),
        )
    )
    found = source.find(ANNA)
    assert sorted((f.summary, dict(f.details)["direction"]) for f in found) == [
        ("2026-11-02: Mitt CV", "from"),
        ("2026-11-03: Kopia", "to"),
        ("2026-11-04: Konsult?", "mentions"),
    ]
    for finding in found:
        if finding.erasable:
            source.erase(finding.ref)
    assert [f.summary for f in source.find(ANNA)] == ["2026-11-04: Konsult?"]
    assert len(stdlib_mailbox.Maildir(tmp_path / "raderat")) == 2 and len(box) == 2


def test_a_mailbox_source_without_imap_and_two_sources_of_one_name_are_refused():
    from bot.config import ConfigError, parse_settings

    with pytest.raises(ConfigError, match=r"expected an \[imap\] section"):
        parse_settings({"sources": [{"type": "mailbox", "name": "info@"}]})
    manual = {"type": "manual", "name": "Fortnox", "task": "look"}
    with pytest.raises(ConfigError, match="Fortnox is used twice"):
        parse_settings({"sources": [manual, manual]})
