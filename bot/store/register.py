"""The register of people on file: import, lookup by any contact point, and the record shown.

Contact points are normalised once, here, so a lookup finds a person however the address
or number was written: email case-insensitively, phone numbers as E.164 (Swedish national
and international formats alike), Telegram ids as decimal strings.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from bot.errors import NoxbotError
from bot.files import read_named_file
from bot.store import audit
from bot.store.tables import (
    ContactKind,
    ContactPoint,
    Subject,
    Suppression,
    Verification,
    VerificationStatus,
)

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")

#: Register fields with their own column, in the order a record shows them.
SUBJECT_FIELDS: tuple[str, ...] = (
    "name",
    "company",
    "org_number",
    "roles",
    "competences",
    "availability",
    "cv_text",
)
#: Columns an import understands besides SUBJECT_FIELDS; anything else goes to `extra`.
CONTACT_COLUMNS = ("email", "phone", "telegram_user_id")
#: Other names a column is read under: the obvious Swedish headers of a register kept in
#: Excel ("namn;e-post;telefon") among them.
_COLUMN_ALIASES = {
    "cv": "cv_text",
    "telegram": "telegram_user_id",
    "telegram_id": "telegram_user_id",
    "namn": "name",
    "e-post": "email",
    "epost": "email",
    "telefon": "phone",
    "mobil": "phone",
    "bolag": "company",
    "företag": "company",
}
#: The columns an import names when a file has none it can find people by.
EXPECTED_COLUMNS = "name, email, phone, telegram_user_id, company, org_number, roles, " + (
    "competences, availability, cv (Swedish namn, e-post, telefon, mobil, bolag also read)"
)


def _unknown_columns(columns: list[str]) -> list[str] | None:
    """None when the columns hold a contact column (people can be found again by it); else
    the columns an import does not know (kept as `extra` otherwise), to name in the error."""
    read = [_COLUMN_ALIASES.get(c, c) for c in columns]
    if any(c in CONTACT_COLUMNS for c in read):
        return None
    known = {*SUBJECT_FIELDS, *CONTACT_COLUMNS}
    return [c for c, r in zip(columns, read, strict=True) if r not in known]


FIELD_LABELS: dict[str, dict[str, str]] = {
    "sv": {
        "name": "Namn",
        "email": "E-post",
        "phone": "Telefon",
        "telegram": "Telegram-användar-id",
        "company": "Bolag",
        "org_number": "Organisationsnummer",
        "roles": "Roller",
        "competences": "Kompetenser",
        "availability": "Tillgänglighet",
        "cv_text": "CV / meritförteckning",
        "restricted": "Behandling begränsad",
        "objected": "Invändning mot behandling",
        "marketing_suppressed": "Marknadsföring avstängd",
    },
    "en": {
        "name": "Name",
        "email": "Email",
        "phone": "Phone",
        "telegram": "Telegram user id",
        "company": "Company",
        "org_number": "Organisation number",
        "roles": "Roles",
        "competences": "Competences",
        "availability": "Availability",
        "cv_text": "CV",
        "restricted": "Processing restricted",
        "objected": "Objection to processing",
        "marketing_suppressed": "Marketing switched off",
    },
}


class InvalidContact(NoxbotError):
    """A contact point that cannot be normalised; the message says which and why."""


def normalise_email(value: str) -> str:
    address = value.strip().strip("<>").strip().lower()
    if not _EMAIL.match(address):
        raise InvalidContact(f"{value!r} is not an email address")
    return address


def normalise_phone(value: str, region: str = "SE") -> str:
    """E.164 ('+46701234567') from '070-123 45 67', '+46 70 123 45 67', '0046701234567'; a
    number written without its country code is read as one of `region`'s."""
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidContact(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidContact(f"{value!r} is not a phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(e164: str | None) -> str:
    """The country a stored number is of ("GB" for +44…), Sweden when unknown: a person's
    new number written without its country code ("07700 900456") is most likely of the
    country their number on file is of."""
    if not e164:
        return "SE"
    try:
        number = phonenumbers.parse(e164, None)
        # By the country code alone: a number of a range not (yet) valid is still of it.
        region = phonenumbers.region_code_for_country_code(number.country_code)
    except phonenumbers.NumberParseException:
        return "SE"
    return region if region and region != "ZZ" else "SE"


def as_written(value: str | None, field: str, language: str) -> str:
    """A stored value as a letter writes it: a phone number is stored as +46701234567, and a
    Swedish reply writes a Swedish number the Swedish way ("070-123 45 67"), an English one
    the international way ("+46 70 123 45 67"); anything else as stored. Approval reads
    the number back however it is written (drafts._says_new_value). The approval plan
    writes it this way too (in the letter's language), so staff compare like with like."""
    if not value or field != "phone":
        return value or ""
    try:
        number = phonenumbers.parse(value, "SE")
    except phonenumbers.NumberParseException:
        return value
    national = language == "sv" and number.country_code == 46
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(number, style.NATIONAL if national else style.INTERNATIONAL)


def normalise_telegram(value: str | int) -> str:
    text = str(value).strip()
    if not text.isdigit():
        raise InvalidContact(f"{value!r} is not a Telegram user id (digits only)")
    return str(int(text))


NORMALISERS = {
    ContactKind.EMAIL: normalise_email,
    ContactKind.PHONE: normalise_phone,
    ContactKind.TELEGRAM: normalise_telegram,
}


def normalise(kind: ContactKind | str, value: str) -> str:
    return NORMALISERS[ContactKind(kind)](value)


def find_subject(session: Session, kind: ContactKind | str, value: str) -> Subject | None:
    """The person on file with this contact point, or None (also for an invalid value)."""
    try:
        normalised = normalise(kind, value)
    except InvalidContact:
        return None
    if session.autoflush:
        session.flush()  # (as the ORM's query would: a contact point added is found)
    # A Core query for the id: a fifth of what the ORM's query for the whole row costs, and
    # every new request asks it (bot.workflow.cases.open_case).
    subject_id = (
        session.connection()
        .execute(_SUBJECT_OF_CONTACT, {"kind": ContactKind(kind), "value": normalised})
        .scalar()
    )
    return session.get(Subject, subject_id) if subject_id is not None else None


_SUBJECT_OF_CONTACT = (
    select(ContactPoint.subject_id)
    .where(ContactPoint.kind == bindparam("kind"), ContactPoint.value == bindparam("value"))
    .limit(1)
)


def contacts_of(session: Session, subject: Subject) -> list[ContactPoint]:
    return list(
        session.exec(
            select(ContactPoint)
            .where(ContactPoint.subject_id == subject.id)
            .order_by(ContactPoint.kind, ContactPoint.id)
        )
    )


# --- What a person's record shows (access and portability) -------------------------------


@dataclass(frozen=True)
class RecordItem:
    key: str
    label: str
    value: str


def subject_record(session: Session, subject: Subject, language: str) -> list[RecordItem]:
    """Everything the register holds on the person, labelled in the reply's language."""
    labels = FIELD_LABELS.get(language, FIELD_LABELS["en"])
    items: list[RecordItem] = []

    def add(key: str, value: Any) -> None:
        if value not in (None, "", [], {}):
            items.append(RecordItem(key, labels.get(key, key), str(value)))

    add("name", subject.name)
    for contact in contacts_of(session, subject):
        add(contact.kind, contact.value)
    for key in SUBJECT_FIELDS[1:]:
        add(key, getattr(subject, key))
    for key, value in sorted(subject.extra.items()):
        add(key, value)
    for flag in ("restricted", "objected", "marketing_suppressed"):
        if getattr(subject, flag):
            add(flag, "ja" if language == "sv" else "yes")
    return items


def subject_export(session: Session, subject: Subject) -> dict[str, Any]:
    """The machine-readable export (Art. 20): field names stable, values as held."""
    contacts = contacts_of(session, subject)
    return {
        "name": subject.name,
        "email": [c.value for c in contacts if c.kind == ContactKind.EMAIL],
        "phone": [c.value for c in contacts if c.kind == ContactKind.PHONE],
        "telegram_user_id": [c.value for c in contacts if c.kind == ContactKind.TELEGRAM],
        **{key: getattr(subject, key) for key in SUBJECT_FIELDS[1:]},
        **subject.extra,
    }


def export_csv(export: dict[str, Any]) -> str:
    """The same export as a two-row CSV (header, values); lists joined with ';'."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(export.keys())
    writer.writerow(
        ";".join(v) if isinstance(v, list) else ("" if v is None else v) for v in export.values()
    )
    return buffer.getvalue()


def subject_data_values(session: Session, subject: Subject) -> set[str]:
    """The register values that would identify this person's data in a message (for checks)."""
    values = {item.value for item in subject_record(session, subject, "en")}
    return {v for v in values if len(v) >= 4 and v not in ("yes", "ja")}


# --- Erasure and suppression ---------------------------------------------------------------


def contact_hash(key: bytes, kind: str, value: str) -> str:
    """Keyed hash of a normalised contact point: lets us honour an opt-out without the data."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def is_suppressed(session: Session, key: bytes, kind: str, value: str) -> bool:
    try:
        normalised = normalise(kind, value)
    except InvalidContact:
        return False
    digest = contact_hash(key, kind, normalised)
    return (
        session.exec(select(Suppression).where(Suppression.contact_hash == digest)).first()
        is not None
    )


def suppress_contacts(
    session: Session, key: bytes, subject: Subject, reason: str, *, now: datetime
) -> int:
    """Record a minimal suppression entry per contact point; returns how many were added."""
    added = 0
    for contact in contacts_of(session, subject):
        digest = contact_hash(key, contact.kind, contact.value)
        exists = session.exec(select(Suppression).where(Suppression.contact_hash == digest)).first()
        if exists is None:
            session.add(Suppression(contact_hash=digest, reason=reason, created_at=now))
            added += 1
    return added


def erase_subject(session: Session, subject: Subject) -> list[str]:
    """Delete the person and their contact points from the register; returns what went."""
    removed = [item.key for item in subject_record(session, subject, "en")]
    for contact in contacts_of(session, subject):
        session.delete(contact)
    session.delete(subject)
    session.flush()
    return removed


# --- Import --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportProblem:
    line: int
    message: str
    #: "line" in a CSV file (as an editor numbers them), "item" in a JSON list (from 1).
    unit: str = "line"

    @property
    def where(self) -> str:
        return f"{self.unit} {self.line}"


@dataclass(frozen=True)
class ImportChange:
    """A change staff should check, told by where it stands in the file and whose it is;
    never by the values (they are in the file, and this may end up in a log)."""

    line: int
    subject_id: int
    #: "renamed" (matched by `matched_by`), "changed" (the `fields`), or the contact kind
    #: retired: "email", "phone", …
    what: str
    matched_by: tuple[str, ...] = ()
    unit: str = "line"
    fields: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.unit} {self.line}"

    def describe(self) -> str:
        if self.what == "renamed":
            return (
                f"the name of person {self.subject_id} changed (matched by "
                f"{', '.join(self.matched_by)}); check that it is the same person"
            )
        if self.what == "changed":
            return (
                f"{', '.join(self.fields)} of person {self.subject_id} changed by the file "
                "(check that it does not undo a correction made since the file was written)"
            )
        return f"{self.what} of person {self.subject_id} retired (no longer in the file)"


@dataclass
class ImportReport:
    created: int = 0
    #: People already on file whose record a row changed (name, fields or contact points).
    updated: int = 0
    #: People already on file whose row held nothing new.
    unchanged: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    #: Names changed on people already on file: a row matched by a contact point renames.
    renamed: list[ImportChange] = field(default_factory=list)
    #: Contact points the file no longer has (its column says otherwise): deleted.
    retired: list[ImportChange] = field(default_factory=list)
    #: Register fields of people already on file that the file changed (or emptied).
    changed: list[ImportChange] = field(default_factory=list)
    #: What staff should know about the file as a whole (e.g. how it was decoded).
    notes: list[str] = field(default_factory=list)
    #: Rows whose columns held a personal identity number, masked (the columns named).
    masked: list[ImportProblem] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, Any]
    unit: str = "line"

    def problem(self, message: str) -> ImportProblem:
        return ImportProblem(self.line, message, self.unit)

    def change(
        self,
        subject: Subject,
        what: str,
        matched_by: tuple[str, ...] = (),
        fields: tuple[str, ...] = (),
    ) -> ImportChange:
        return ImportChange(self.line, subject.id or 0, what, matched_by, self.unit, fields)

    @property
    def where(self) -> str:
        return f"{self.unit} {self.line}"


#: Separators a spreadsheet may save a CSV with: Swedish Excel uses ";", "Unicode text" tabs.
CSV_DELIMITERS = (",", ";", "\t")


def _decode(raw: bytes, path: Path, notes: list[str]) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252 as Excel on Windows
    saves a CSV — said in a note, since the guess may be wrong."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        raise NoxbotError(
            f"{path}: not UTF-8 text (byte {utf8_error.start}); re-save it as UTF-8 (Excel: "
            "CSV UTF-8)"
        ) from None
    notes.append(
        f"{path.name} is not UTF-8: read as Windows-1252 (cp1252); check that å, ä and ö look "
        "right in noxbot subjects list, or re-save the file as UTF-8"
    )
    return text


def _read_rows(path: Path, text: str) -> Iterator[_Row]:
    """Rows of a CSV (header row; line numbers as in the file; comma, semicolon or tab as
    the header shows) or a JSON list of objects (numbered as items from 1)."""
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NoxbotError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(data, list):
            raise NoxbotError(f"{path}: expected a JSON list of objects")
        for index, item in enumerate(data, start=1):
            yield _Row(index, item if isinstance(item, dict) else {"__invalid__": item}, "item")
        return
    header = text.lstrip("\ufeff").partition("\n")[0]
    delimiter = max(CSV_DELIMITERS, key=header.count)  # ties (none in the header): comma
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames:
        raise NoxbotError(f"{path}: empty file, expected a CSV header row")
    unknown = _unknown_columns([c.strip().lower() for c in reader.fieldnames if c])
    if unknown is not None:  # every row would be rejected: say once why, import nothing
        raise NoxbotError(
            f"{path.name}: no email, phone or telegram_user_id column, so nobody could be "
            "found again"
            + (f"; unknown columns {', '.join(unknown)}" if unknown else "")
            + f"; expected {EXPECTED_COLUMNS}"
        )
    for row in reader:
        if None in row or None in row.values():
            # A value with the separator in it, unquoted, shifts every column after it.
            cells = len(row.get(None) or []) + sum(
                1 for k, v in row.items() if k is not None and v is not None
            )
            yield _Row(
                reader.line_num,
                {
                    "__invalid__": f"has {cells} cells, the header {len(reader.fieldnames)} "
                    "(is a value holding the separator without quotes?)"
                },
            )
            continue
        yield _Row(reader.line_num, {k.strip().lower(): v for k, v in row.items() if k})


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(";") if part.strip()]


def _contacts_of_row(values: dict[str, Any]) -> list[tuple[ContactKind, str]]:
    contacts: list[tuple[ContactKind, str]] = []
    for column, kind in (
        ("email", ContactKind.EMAIL),
        ("phone", ContactKind.PHONE),
        ("telegram_user_id", ContactKind.TELEGRAM),
    ):
        for raw in _split(values.get(column)):
            try:
                contacts.append((kind, normalise(kind, raw)))
            except InvalidContact as exc:
                raise InvalidContact(f"column {column}: {exc}") from None
    return contacts


#: The import column a contact kind comes from, for messages.
_CONTACT_COLUMN = {
    ContactKind.EMAIL: "email",
    ContactKind.PHONE: "phone",
    ContactKind.TELEGRAM: "telegram_user_id",
}


def _merged_aliases(found: dict[str, Any]) -> dict[str, Any]:
    """A row's values under our column names. Two columns meaning the same ("telefon" and
    "mobil", "email" and "e-post"): the first that holds a value counts, so an empty second
    column never hides the first's number (nor retires it on a re-import)."""
    values: dict[str, Any] = {}
    for column, value in found.items():
        name = _COLUMN_ALIASES.get(column, column)
        if name not in values or (_blank(values[name]) and not _blank(value)):
            values[name] = value
    return values


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


#: Rows of an import written per transaction. SQLite lets one transaction write at a time,
#: and one holding it for a whole file of tens of thousands of people (40 s for 30,000)
#: stopped mail intake, the chat and the console as long. A file that fails part-way
#: leaves the rows before that chunk imported: importing the same file again finishes it
#: (an import of a row already imported changes nothing).
IMPORT_CHUNK = 500
#: The pause after each chunk: SQLite hands its write lock to no one in particular, and a
#: writer waiting for it looks again only every 0.1 s at most, so an import that began its
#: next chunk at once kept the lock for itself all the same.
IMPORT_PAUSE_SECONDS = 0.12


def import_rows(
    session: Session,
    rows: Iterable[_Row],
    *,
    now: datetime,
    actor: str = "noxbot",
    hash_key: bytes | None = None,
    masked: Callable[[str], str] | None = None,
) -> ImportReport:
    """Create or update one person per row; a bad row is reported and the rest kept.
    `masked` (bot.reading.identity_numbers' masking, which this layer cannot import) is
    applied to every value but the contact points: a register export with a personnummer
    column, or a CV that holds one, keeps none (the policy needs none).

    A contact point may stand on one row of a file only: a later row with the same email,
    phone or Telegram id would otherwise be merged silently into the earlier person, so it
    is reported and the first row kept. A row replaces the contact points of each kind its
    file has a column for (see `_replace_contacts`); a name it changes is reported.
    """
    report = ImportReport()
    taken: dict[tuple[ContactKind, str], _Row] = {}  # contact point → the row that has it
    for number, row in enumerate(rows, 1):
        if number % IMPORT_CHUNK == 0:
            session.commit()  # (see IMPORT_CHUNK)
            time.sleep(IMPORT_PAUSE_SECONDS)
        if "__invalid__" in row.values:
            why = row.values["__invalid__"]
            report.problems.append(row.problem(why if row.unit == "line" else "expected an object"))
            continue
        values = _merged_aliases(row.values)
        if masked is not None:
            values, hidden = _masked_values(values, masked)
            if hidden:
                report.masked.append(row.problem(", ".join(hidden)))
        try:
            contacts = _contacts_of_row(values)
        except InvalidContact as exc:
            report.problems.append(row.problem(str(exc)))
            continue
        name = str(values.get("name") or "").strip()
        if not contacts:
            unknown = _unknown_columns(list(row.values))
            report.problems.append(
                row.problem(
                    "no email, phone or telegram_user_id: cannot be found again"
                    + (
                        f" (unknown keys {', '.join(unknown)}; expected {EXPECTED_COLUMNS})"
                        if unknown
                        else ""
                    )
                )
            )
            continue
        if hash_key is not None and (erased := _erased_before(session, hash_key, contacts)):
            # An erasure is for good: a routine re-import of an old file must not undo it.
            report.problems.append(
                row.problem(
                    f"its {' and '.join(erased)} belonged to someone who asked to be erased; "
                    "not imported (take the row out of the file; if this is another person, "
                    "import them without it)"
                )
            )
            continue
        clash = next(((k, v) for k, v in contacts if (k, v) in taken), None)
        if clash is not None:
            kind, value = clash
            report.problems.append(
                row.problem(
                    f"{_CONTACT_COLUMN[kind]} {value} is also on {taken[clash].where}, which "
                    "was kept; one person per row"
                )
            )
            continue
        owners = {
            c.subject_id
            for kind, value in contacts
            if (
                c := session.exec(
                    select(ContactPoint).where(
                        ContactPoint.kind == kind, ContactPoint.value == value
                    )
                ).first()
            )
        }
        if len(owners) > 1:
            report.problems.append(
                row.problem("its contact points belong to different people on file")
            )
            continue
        with session.begin_nested():
            subject = session.get(Subject, owners.pop()) if owners else None
            if subject is None:
                if not name:
                    report.problems.append(row.problem("a new person needs a name"))
                    continue
                subject = Subject(name=name, created_at=now, updated_at=now)
                report.created += 1
            held_before = _held(session, subject) if subject.id is not None else None
            renamed = subject.id is not None and bool(name) and name != subject.name
            if renamed:
                held = _held(session, subject)
                matched = sorted({_CONTACT_COLUMN[k] for k, v in contacts if (k, v) in held})
                report.renamed.append(row.change(subject, "renamed", tuple(matched)))
            fields = _apply_row(subject, values, name, now)
            if fields and subject.id is not None:  # a new person has nothing to change
                report.changed.append(row.change(subject, "changed", fields=tuple(fields)))
            session.add(subject)
            session.flush()
            _replace_contacts(session, subject, row, values, contacts, report, actor, now)
            if held_before is not None:
                if fields or renamed or _held(session, subject) != held_before:
                    report.updated += 1
                else:
                    report.unchanged += 1
        taken.update(dict.fromkeys(contacts, row))
    return report


def _held(session: Session, subject: Subject) -> set[tuple[str, str]]:
    return {(c.kind, c.value) for c in contacts_of(session, subject)}


def _replace_contacts(
    session: Session,
    subject: Subject,
    row: _Row,
    values: dict[str, Any],
    contacts: list[tuple[ContactKind, str]],
    report: ImportReport,
    actor: str,
    now: datetime,
) -> None:
    """For each contact kind the row has a column for, the person keeps exactly the row's
    values; the others are retired (an old number left on file could still verify someone)."""
    stated = {kind for kind, column in _CONTACT_COLUMN.items() if column in values}
    wanted = set(contacts)
    for contact in contacts_of(session, subject):
        if contact.kind in stated and (contact.kind, contact.value) not in wanted:
            session.delete(contact)
            report.retired.append(row.change(subject, contact.kind))
            # The kind only: the audit trail never holds register values.
            audit.record(
                session,
                at=now,
                actor=actor,
                action="contact_retired",
                detail=f"person {subject.id}: a {contact.kind} contact point retired by "
                f"register import ({row.where})",
            )
            _end_challenges_to(session, contact.value, now)
    session.flush()
    known = _held(session, subject)
    for kind, value in contacts:
        if (kind, value) not in known:
            session.add(ContactPoint(subject_id=subject.id, kind=kind, value=value))
            known.add((kind, value))
    session.flush()


def _erased_before(
    session: Session, key: bytes, contacts: list[tuple[ContactKind, str]]
) -> list[str]:
    """The kinds of the row's contact points that belong to someone erased before (empty
    when none): a shared number is told as such, so staff can tell another person apart."""
    digests = {contact_hash(key, kind, value): kind for kind, value in contacts}
    erased = session.exec(
        select(Suppression.contact_hash).where(
            col(Suppression.contact_hash).in_(list(digests)), Suppression.reason == "erasure"
        )
    ).all()
    return sorted({str(digests[digest]) for digest in erased})


def _end_challenges_to(session: Session, value: str, now: datetime) -> None:
    """A challenge still waiting at a retired contact point proves nothing any more: it is
    made due now, so the scheduler ends it and hands its case to staff as any expiry does."""
    for verification in session.exec(
        select(Verification).where(
            Verification.address == value, Verification.status == VerificationStatus.PENDING
        )
    ):
        verification.expires_at = now - timedelta(seconds=1)
        verification.note = "the contact point it went to was retired by a register import"
        session.add(verification)


def _apply_row(subject: Subject, values: dict[str, Any], name: str, now: datetime) -> list[str]:
    """The row's values on the person: a column the file has decides (an empty cell empties
    the field — the file says nothing is held); one it lacks leaves the field alone.
    Returns the fields (besides the name) whose value changed."""
    if name:
        subject.name = name
    changed = []
    for key in SUBJECT_FIELDS[1:]:
        if key not in values:
            continue
        value = values[key]
        new = "; ".join(value) if isinstance(value, list) else str(value or "").strip()
        if (getattr(subject, key) or "") != new:
            changed.append(key)
        setattr(subject, key, new or None)
    extra = dict(subject.extra)
    for key, value in values.items():
        if key in SUBJECT_FIELDS or key in CONTACT_COLUMNS:
            continue
        if value in (None, "", []):
            if key in extra:
                changed.append(key)
                del extra[key]
        elif extra.get(key) != value:
            if key in extra:
                changed.append(key)
            extra[key] = value
    subject.extra = extra
    subject.updated_at = now
    return changed


def _masked_values(
    values: dict[str, Any], masked: Callable[[str], str]
) -> tuple[dict[str, Any], list[str]]:
    """The row's values with `masked` applied to each text (or list of texts) that is not a
    contact point, and the columns it changed."""
    result: dict[str, Any] = {}
    hidden: list[str] = []
    for key, value in values.items():
        new = value
        if key not in CONTACT_COLUMNS:
            if isinstance(value, str):
                new = masked(value)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                new = [masked(v) for v in value]
        if new != value:
            hidden.append(key)
        result[key] = new
    return result, hidden


def import_file(
    session: Session,
    path: Path,
    *,
    now: datetime,
    actor: str = "noxbot",
    hash_key: bytes | None = None,
    masked: Callable[[str], str] | None = None,
) -> ImportReport:
    raw = read_named_file(path, "a CSV or JSON file")
    notes: list[str] = []
    rows = list(_read_rows(path, _decode(raw, path, notes)))
    report = import_rows(session, rows, now=now, actor=actor, hash_key=hash_key, masked=masked)
    report.notes.extend(notes)
    return report
