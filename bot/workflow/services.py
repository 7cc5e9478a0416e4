"""What the workflow needs besides a database session: settings, templates, keys, a clock."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.clock import utcnow
from bot.config import Settings
from bot.errors import NoxbotError
from bot.files import read_named_file
from bot.rules.processing import DEFAULT_RECORDS, Records, RecordsError, parse_records
from bot.sources import Source, configured_sources
from bot.workflow.rendering import Drafter


def load_hash_key(settings: Settings) -> bytes:
    """The HMAC key for codes and suppression hashes.

    From the environment variable `[verification] secret_env` names; in the embedded mode
    (SQLite file) a key is generated once and kept next to the database, readable by its
    owner only. PostgreSQL deployments must set the variable.
    """
    env_name = settings.verification.secret_env
    value = os.environ.get(env_name)
    if value:
        return value.encode()
    url = settings.database.url
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        key_path = Path(url.removeprefix("sqlite:///") + ".key")
        if not key_path.exists():
            key_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return key_path.read_text().strip().encode()
    if url.startswith("sqlite"):
        return secrets.token_bytes(32)  # in-memory database: the key lives as long as it
    raise NoxbotError(
        "[verification] secret_env: the environment variable it names is not set; "
        "expected a secret key (required with PostgreSQL)"
    )


def load_records(settings: Settings) -> Records:
    """The records of processing `[processing] records` names, else the shipped default."""
    path = Path(settings.processing.records) if settings.processing.records else DEFAULT_RECORDS
    data = read_named_file(path, "a records-of-processing TOML file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordsError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    return parse_records(text, f"[processing] records = {str(path)!r}")


@dataclass
class Services:
    settings: Settings
    drafter: Drafter
    hash_key: bytes
    clock: Callable[[], datetime] = field(default=utcnow)  # wall clock: production's time
    #: The records of processing replies are written from (loaded from settings if not given).
    records: Records | None = None
    #: Where else a person's data lives ([[sources]]; built from settings if not given).
    sources: list[Source] | None = None

    def __post_init__(self) -> None:
        if self.records is None:
            self.records = load_records(self.settings)
        if self.sources is None:
            self.sources = configured_sources(self.settings)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> Services:
        drafter = Drafter(settings.organisation, settings.templates.directory)
        return cls(
            settings=settings, drafter=drafter, hash_key=load_hash_key(settings), **overrides
        )  # type: ignore[arg-type]
