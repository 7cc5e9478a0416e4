"""The records of processing (Art. 30) as replies use them: categories with human labels,
purposes and their legal basis, retention per category, recipients, transfers, the source
of the data and automated decisions — read from the TOML file the DPO edits.

Pure: `parse_records` takes the file's text; the workflow reads the file. A mistake in the
file is one line naming the key and what was expected.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import NoxbotError

#: The shipped default, written from NOX's privacy policy.
DEFAULT_RECORDS = Path(__file__).resolve().parent / "data" / "processing.toml"
LANGUAGES = ("sv", "en")


class RecordsError(NoxbotError):
    """A records-of-processing file that cannot be used."""


@dataclass(frozen=True)
class Text:
    """One text in both languages."""

    sv: str
    en: str

    def __call__(self, language: str) -> str:
        return self.sv if language == "sv" else self.en


@dataclass(frozen=True)
class Purpose:
    key: str
    text: Text
    legal_basis: Text


@dataclass(frozen=True)
class Category:
    key: str
    label: Text
    fields: tuple[str, ...]
    purposes: tuple[Purpose, ...]
    recipients: tuple[str, ...]
    retention: Text


@dataclass(frozen=True)
class Records:
    categories: tuple[Category, ...]
    recipients: dict[str, Text]
    field_labels: dict[str, Text]
    transfers: Text
    source: Text
    automated_decisions: Text

    def category(self, key: str) -> Category | None:
        return next((c for c in self.categories if c.key == key), None)

    def category_of_field(self, field: str) -> Category | None:
        """The category a register field belongs to (None: not declared in the file)."""
        return next((c for c in self.categories if field in c.fields), None)


def _text(data: Any, where: str, sv: str = "sv", en: str = "en") -> Text:
    if not isinstance(data, dict):
        raise RecordsError(f"{where}: expected a table with {sv} and {en}")
    values = []
    for key in (sv, en):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise RecordsError(f"{where}.{key} is missing (a text is needed in sv and en)")
        values.append(value.strip())
    return Text(*values)


def _texts(data: Any, where: str) -> dict[str, Text]:
    if not isinstance(data, dict):
        raise RecordsError(f"[{where}] is missing (expected tables such as [{where}.key])")
    return {key: _text(value, f"[{where}.{key}]") for key, value in data.items()}


def _keys(value: Any, where: str, known: dict[str, Any]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordsError(f"{where}: expected a list of keys")
    for key in value:
        if key not in known:
            raise RecordsError(f"{where}: {key!r} is not declared (known: {', '.join(known)})")
    return tuple(value)


def parse_records(text: str, source: str = "records") -> Records:
    """The records from a TOML document, every reference checked."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecordsError(f"{source}: not valid TOML ({exc})") from None
    try:
        bases = _texts(data.get("legal_bases"), "legal_bases")
        purposes: dict[str, Purpose] = {}
        for key, value in (data.get("purposes") or {}).items():
            basis = value.get("legal_basis") if isinstance(value, dict) else None
            if basis not in bases:
                raise RecordsError(
                    f"[purposes.{key}] legal_basis = {basis!r}: expected one of {', '.join(bases)}"
                )
            purposes[key] = Purpose(key, _text(value, f"[purposes.{key}]"), bases[basis])
        if not purposes:
            raise RecordsError("[purposes] is missing (expected tables such as [purposes.key])")
        recipients = _texts(data.get("recipients", {}), "recipients")
        categories = []
        for index, value in enumerate(data.get("categories") or []):
            where = f"[[categories]] #{index + 1}"
            key = value.get("key")
            if not isinstance(key, str) or not key:
                raise RecordsError(f"{where}: key is missing")
            where = f"[[categories]] {key}"
            fields = value.get("fields", [])
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                raise RecordsError(f"{where}: fields: expected a list of field names")
            categories.append(
                Category(
                    key=key,
                    label=_text(value, where),
                    fields=tuple(fields),
                    purposes=tuple(
                        purposes[p] for p in _keys(value.get("purposes"), where, purposes)
                    ),
                    recipients=_keys(value.get("recipients", []), where, recipients),
                    retention=_text(value, where, "retention_sv", "retention_en"),
                )
            )
        if not categories:
            raise RecordsError("[[categories]] is missing: at least one category is needed")
        return Records(
            categories=tuple(categories),
            recipients=recipients,
            field_labels=_texts(data.get("field_labels", {}), "field_labels"),
            transfers=_text(data.get("transfers"), "[transfers]"),
            source=_text(data.get("source"), "[source]"),
            automated_decisions=_text(data.get("automated_decisions"), "[automated_decisions]"),
        )
    except RecordsError as exc:
        raise RecordsError(f"{source}: {exc}") from None
