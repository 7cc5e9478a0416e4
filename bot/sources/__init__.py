"""Sources: where a person's data lives besides the register — a documents folder, the
mailbox, an SQL database, and systems staff check by hand. Each finds what it holds about a
person by every contact point on file and the name, and erases it after approval.

Sources do I/O like channels and know only their own protocol; what is found is stored on
the case by the workflow (bot.workflow.sources).
"""

from __future__ import annotations

from bot.config import Settings
from bot.sources.base import Found, Person, Source, SourceError

__all__ = ["Found", "Person", "Source", "SourceError", "configured_sources"]


def configured_sources(settings: Settings) -> list[Source]:
    """The sources [[sources]] declares that noxbot reaches itself (manual ones are not).
    Each kind's module is imported when one is declared: a documents folder's XML and ZIP
    readers, a Maildir's mailbox module (some MiB in `noxbot run`) only where used."""
    sources: list[Source] = []
    for config in settings.sources:
        if config.type == "documents":
            from bot.sources.documents import DocumentsFolder

            sources.append(DocumentsFolder(config))
        elif config.type == "mailbox":
            from bot.sources.mailbox import Mailbox

            assert settings.imap is not None  # the config refuses a mailbox source without it
            password = settings.secret(settings.imap.password_env)
            sources.append(Mailbox(config, settings.imap, password))
        elif config.type == "maildir":
            from bot.sources.maildir import MaildirArchive

            sources.append(MaildirArchive(config))
        elif config.type == "sql":
            from bot.sources.sql import SqlDatabase

            sources.append(SqlDatabase(config))
    return sources
