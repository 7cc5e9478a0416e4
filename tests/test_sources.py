"""Each source against the real thing: files in a temp folder, Dovecot for the mailbox,
SQLite and PostgreSQL for SQL."""

from __future__ import annotations

import imaplib
import tracemalloc
import zipfile
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


def test_an_erasure_never_moves_mail_of_someone_whose_address_merely_contains_hers(imap_server):
    """The server's SEARCH matches substrings of whole headers: Johanna's address contains
    Anna's, and anyone may put Anna's address in a display name. Neither mail is Anna's;
    a mail whose body names Anna's address whole is listed as a mention, never erased."""
    client = imaplib.IMAP4("127.0.0.1", imap_server.port)
    client.login(dovecot.USER, dovecot.PASSWORD)
    client.create("Others")
    date = "Mon, 02 Nov 2026 10:00:00 +0100"
    for message in (
        mail("johanna.lindqvist@example.se", "info@nox.test", "Johannas CV", "Hej", date),
        mail('"anna.lindqvist@example.se" <kund@example.com>', "info@nox.test", "Avtal", "-", date),
        mail(
            "kund@example.com",
            "info@nox.test",
            "Fråga",
            "Skriv till xanna.lindqvist@example.se",
            date,
        ),
        mail("kund@example.com", "info@nox.test", "Tips", "Anna.Lindqvist@example.se svarar", date),
        mail("Anna <ANNA.lindqvist@example.se>", "info@nox.test", "Hennes", "-", date),
    ):
        client.append("Others", None, None, message)
    client.logout()
    source = mailbox(imap_server, "Others")
    found = source.find(ANNA)
    assert [(f.summary, dict(f.details)["direction"], f.erasable) for f in found] == [
        ("2026-11-02: Tips", "mentions", False),
        ("2026-11-02: Hennes", "from", True),
    ]
    source.erase(found[1].ref)
    client = imaplib.IMAP4("127.0.0.1", imap_server.port)
    client.login(dovecot.USER, dovecot.PASSWORD)
    client.select('"Others"')
    assert len(client.search(None, "ALL")[1][0].split()) == 4  # only hers moved
    client.logout()


def test_a_cv_of_someone_else_is_never_erased_for_her_and_one_naming_her_only_mentions_her(
    tmp_path,
):
    """Johanna Lindqvist's CV and a CV with 'xanna.lindqvist@…' are not Anna's; Per
    Olsson's CV that names Anna as a reference only mentions her: listed, not erasable."""
    folder = tmp_path / "cv"
    folder.mkdir()
    (folder / "johanna.txt").write_text("CV: Johanna Lindqvist, johanna.lindqvist@example.se\n")
    (folder / "other.txt").write_text("CV: Per Olsson, reach me at xanna.lindqvist@example.se\n")
    (folder / "per.txt").write_text("CV: Per Olsson. References: Anna Lindqvist (ex-boss)\n")
    (folder / "both.txt").write_text("Anna Lindqvist anna.lindqvist@example.se, per@example.se\n")
    (folder / "annas.txt").write_text("Anna Lindqvist\nanna.lindqvist@example.se\n")
    source = DocumentsFolder(
        DocumentsSource(type="documents", name="cv", folder=str(folder), erase="delete")
    )
    found = {f.ref: f.erasable for f in source.find(ANNA)}
    assert found == {"annas.txt": True, "both.txt": False, "per.txt": False}


def test_a_cv_with_her_number_beside_someone_elses_number_only_mentions_her(tmp_path):
    """Per's CV gives Anna as a referee by name and number, and has no email address at
    all; a note holds only her number. Before, either counted as hers — attached to her
    access reply (Per's salary and home address with it) and erased for her. A number
    alone, or beside another person's, only mentions her; dates, amounts and organisation
    numbers are no one's number, so her own CV with them stays hers."""
    folder = tmp_path / "cv"
    folder.mkdir()
    (folder / "per.txt").write_text(
        "CV Per Olsson\nTel 070-555 12 12\nLön 78 000 kr\nReferens: Anna Lindqvist, 070-123 45 67\n"
    )
    (folder / "number-only.txt").write_text("Ring upp 070-123 45 67 om offerten.\n")
    (folder / "annas.txt").write_text(
        "Anna Lindqvist\n070-123 45 67\nLindqvist Data AB, org.nr 559123-4567\n"
        "Anställd 2019-03-01 till 2024-05-31, lön 65 000 kr\n"
    )
    source = DocumentsFolder(
        DocumentsSource(type="documents", name="cv", folder=str(folder), erase="delete")
    )
    found = {f.ref: f.erasable for f in source.find(ANNA)}
    assert found == {"annas.txt": True, "per.txt": False, "number-only.txt": False}


def test_a_long_list_of_figures_with_someone_elses_number_at_its_end_only_mentions_her(
    tmp_path,
):
    """Before, the phone-number search gave up after 2,000 number-like strings and took the
    rest for hers: a timesheet with Per's number and salary at its end counted as Anna's."""
    folder = tmp_path / "cv"
    folder.mkdir()
    rows = "\n".join(f"{i};{(i * 37) % 900 + 100} kr" for i in range(2100))
    (folder / "timesheet.csv").write_text(
        f"Anna Lindqvist;anna.lindqvist@example.se\n{rows}\nKontakt: Per 070-555 12 12\n"
    )
    source = DocumentsFolder(
        DocumentsSource(type="documents", name="cv", folder=str(folder), erase="delete")
    )
    found = {f.ref: f.erasable for f in source.find(ANNA)}
    assert found == {"timesheet.csv": False}


def test_a_maildir_mail_naming_a_longer_address_that_contains_hers_is_not_found(tmp_path):
    """A client's mail that names 'Johanna.Lindqvist@…' is not about Anna: not found, so
    neither listed nor attached to her access reply."""
    import mailbox as stdlib_mailbox

    from bot.config import MaildirSource
    from bot.sources.maildir import MaildirArchive

    box = stdlib_mailbox.Maildir(tmp_path / "arkiv", create=True)
    date = "Mon, 02 Nov 2026 10:00:00 +0100"
    box.add(mail("kund@example.com", "s@nox.test", "Offert", "Johanna.Lindqvist@example.se", date))
    box.add(mail("kund@example.com", "s@nox.test", "Ring", "Ring anna.lindqvist@example.se.", date))
    source = MaildirArchive(
        MaildirSource(
            type="maildir",
            name="Arkiv",
            path=str(tmp_path / "arkiv"),
            erase_folder=str(tmp_path / "raderat"),
        )
    )
    assert [(f.summary, f.erasable) for f in source.find(ANNA)] == [("2026-11-02: Ring", False)]


def _zip_bomb(path: Path, member: str, megabytes: int) -> None:
    """A small DOCX/ODT whose XML part unpacks to `megabytes` MB (a comment of spaces)."""
    with zipfile.ZipFile(path) as original:
        parts = {n: original.read(n) for n in original.namelist()}
    head, _, tail = parts[member].partition(b"?>")
    parts[member] = head + b"?><!--" + b" " * (megabytes << 20) + b"-->" + tail
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for name, data in parts.items():
            bomb.writestr(name, data)


@pytest.mark.parametrize(
    ("name", "member", "write"),
    [("cv.docx", "word/document.xml", write_docx), ("cv.odt", "content.xml", write_odt)],
)
def test_a_tiny_document_that_unpacks_into_gigabytes_is_refused_unread(
    tmp_path, name, member, write
):
    """max_bytes bounds the packed file only: a ~60 KB DOCX or ODT of 60 MB XML is refused
    before it is inflated (bounded memory), and staff are told to check it by hand."""
    folder = tmp_path / "cv"
    folder.mkdir()
    write(folder / name, ["Anna Lindqvist", "anna.lindqvist@example.se"])
    _zip_bomb(folder / name, member, 60)
    assert (folder / name).stat().st_size < 200_000
    source = DocumentsFolder(
        DocumentsSource(type="documents", name="CV", folder=str(folder), erase="delete")
    )
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match=rf"{name} cannot be read \(.*zip bomb.*by hand"):
            source.find(ANNA)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20


def test_an_odt_of_millions_of_tiny_elements_is_refused_unread(tmp_path):
    """10 MB of '<a/>' packs into ~10 KB and would parse into hundreds of MiB."""
    folder = tmp_path / "cv"
    folder.mkdir()
    xml = b'<?xml version="1.0"?><r>' + b"<a/>" * (10 * 1024 * 1024 // 4) + b"</r>"
    with zipfile.ZipFile(folder / "cv.odt", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as odt:
        odt.writestr("content.xml", xml)
    source = DocumentsFolder(
        DocumentsSource(type="documents", name="CV", folder=str(folder), erase="delete")
    )
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match=r"cv\.odt cannot be read \(.*zip bomb"):
            source.find(ANNA)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20


def _without(source: Mailbox, *capabilities: str) -> None:
    """The source's connections as to a server that lacks the capabilities."""
    connect = source._connect

    def lacking() -> imaplib.IMAP4:
        client = connect()
        client.capabilities = tuple(c for c in client.capabilities if c not in capabilities)
        return client

    source._connect = lacking  # type: ignore[method-assign]


def _count(server, folder: str) -> int:
    client = imaplib.IMAP4("127.0.0.1", server.port)
    client.login(dovecot.USER, dovecot.PASSWORD)
    client.select(f'"{folder}"')
    count = len(client.search(None, "ALL")[1][0].split())
    client.logout()
    return count


def _with_a_colleagues_deleted_mail(server, folder: str) -> None:
    client = imaplib.IMAP4("127.0.0.1", server.port)
    client.login(dovecot.USER, dovecot.PASSWORD)
    client.create(folder)
    date = "Mon, 02 Nov 2026 10:00:00 +0100"
    client.append(folder, None, None, mail(ANNA.emails[0], "info@nox.test", "Annas", "-", date))
    client.append(folder, None, None, mail("bob@example.com", "info@nox.test", "Bobs", "-", date))
    client.select(f'"{folder}"')
    client.store("2", "+FLAGS", r"(\Deleted)")  # Bob's: marked, not yet expunged
    client.logout()


def test_an_erasure_without_move_keeps_a_colleagues_mail_marked_for_deletion(imap_server):
    _with_a_colleagues_deleted_mail(imap_server, "NoMove")
    source = mailbox(imap_server, "NoMove")
    _without(source, "MOVE")
    (anna,) = source.find(ANNA)
    source.erase(anna.ref)
    assert _count(imap_server, "NoMove") == 1  # Bob's, still recoverable
    assert _count(imap_server, "NoMove-raderat") == 1


def test_a_server_without_move_or_uidplus_refuses_the_erasure_and_moves_nothing(imap_server):
    _with_a_colleagues_deleted_mail(imap_server, "Plain")
    source = mailbox(imap_server, "Plain")
    _without(source, "MOVE", "UIDPLUS")
    (anna,) = source.find(ANNA)
    with pytest.raises(SourceError, match=r"neither MOVE nor UIDPLUS.*move it by hand"):
        source.erase(anna.ref)
    assert _count(imap_server, "Plain") == 2
