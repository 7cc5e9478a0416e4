"""Disclosures: who received a person's data, imported from CSV. Each row names the person
by a contact point on file (email or phone), the recipient, the recipient's address for an
Art. 19 notice (may be empty), the date and what was sent. A file with any bad row imports
nothing and says which rows and why (never their values)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.errors import NoxbotError
from bot.store.register import InvalidContact, find_subject, is_suppressed, normalise_email
from bot.store.tables import Disclosure, Subject

COLUMNS = ("person", "recipient", "recipient_email", "date", "what")
#: Most rows one file may hold: a bounded import.
MAX_ROWS = 100_000


class DisclosureImportError(NoxbotError):
    """A disclosures file that cannot be imported; nothing was imported."""


@dataclass(frozen=True)
class DisclosureImport:
    added: int
    already: int
    #: Rows about people erased from the register (their contact points are suppressed):
    #: nothing to record, and no reason to refuse the rest.
    erased: int = 0


def import_disclosures(
    session: Session, data: bytes, *, now: datetime, hash_key: bytes | None = None
) -> DisclosureImport:
    """From a CSV file's bytes (`hash_key`: see import_rows)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DisclosureImportError(
            f"not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DisclosureImportError(
            f"the header lacks {', '.join(missing)} (expected columns: {', '.join(COLUMNS)})"
        )
    return import_rows(session, reader, now=now, first_line=2, unit="line", hash_key=hash_key)


def import_rows(
    session: Session,
    source: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    first_line: int = 1,
    unit: str = "row",
    hash_key: bytes | None = None,
) -> DisclosureImport:
    """From rows with the COLUMNS as keys (a CSV file's, or an SQL source's query's). With
    `hash_key` (the verification secret), a row about someone erased from the register is
    skipped and counted, not refused: the system it comes from may still hold it."""
    rows: list[Disclosure] = []
    problems: list[str] = []
    erased = 0
    for number, raw in enumerate(source, start=first_line):
        row = {k: _cell(v) for k, v in raw.items()}
        if number > MAX_ROWS + first_line:
            raise DisclosureImportError(f"more than {MAX_ROWS} rows; split the file")
        person = (row.get("person") or "").strip()
        subject = _person(session, person)
        if subject is None and hash_key is not None and _erased(session, hash_key, person):
            erased += 1
            continue
        if subject is None:
            problems.append(
                f"{unit} {number}: person is not the email address or phone number of anyone "
                "on file"
            )
            continue
        recipient = (row.get("recipient") or "").strip()
        if not recipient:
            problems.append(f"{unit} {number}: recipient is empty")
            continue
        address = (row.get("recipient_email") or "").strip() or None
        if address is not None:
            try:
                address = normalise_email(address)
            except InvalidContact:
                problems.append(f"{unit} {number}: recipient_email is not an email address")
                continue
        try:
            when = date.fromisoformat((row.get("date") or "").strip())
        except ValueError:
            problems.append(f"{unit} {number}: date is not YYYY-MM-DD")
            continue
        rows.append(
            Disclosure(
                subject_id=subject.id or 0,
                recipient=recipient,
                recipient_email=address,
                disclosed_on=when,
                what=(row.get("what") or "").strip(),
                created_at=now,
            )
        )
    if problems:
        raise DisclosureImportError(
            f"nothing imported; {len(problems)} row(s) to fix: " + "; ".join(problems[:10])
        )
    added = already = 0
    for row in rows:
        exists = session.exec(
            select(Disclosure).where(
                Disclosure.subject_id == row.subject_id,
                Disclosure.recipient == row.recipient,
                Disclosure.disclosed_on == row.disclosed_on,
                Disclosure.what == row.what,
            )
        ).first()
        if exists is not None:
            already += 1
            continue
        session.add(row)
        added += 1
    session.flush()
    return DisclosureImport(added, already, erased)


def _cell(value: Any) -> str:
    """A value as text: a database's date or timestamp as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, date):  # a datetime is a date too
        return value.isoformat()[:10]
    return str(value)


def _erased(session: Session, hash_key: bytes, value: str) -> bool:
    """Whether `value` is a contact point of someone erased (kept only as a keyed hash)."""
    return bool(value) and is_suppressed(
        session, hash_key, "email" if "@" in value else "phone", value
    )


def _person(session: Session, value: str) -> Subject | None:
    kind = "email" if "@" in value else "phone"
    return find_subject(session, kind, value) if value else None


def disclosures_of(session: Session, subject: Subject) -> list[Disclosure]:
    return list(
        session.exec(
            select(Disclosure)
            .where(Disclosure.subject_id == subject.id)
            .order_by(col(Disclosure.disclosed_on), col(Disclosure.id))
        )
    )


def forget_disclosures(session: Session, subject: Subject) -> int:
    """Delete the person's disclosure records (with the person, on erasure)."""
    rows = disclosures_of(session, subject)
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)
