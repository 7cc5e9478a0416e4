"""The `noxbot` command line: one Typer app, one sub-app per noun of the design's table."""

from __future__ import annotations

import os
import sys

from bot.cli.app import app
from bot.errors import NoxbotError
from bot.reading.safe_text import printable
from bot.store.database import is_refused_conflict, is_transient

# Importing the command modules registers their commands on `app`.
from bot.cli import classify as _classify  # noqa: F401  isort: skip
from bot.cli import database as _database  # noqa: F401  isort: skip
from bot.cli import subjects as _subjects  # noqa: F401  isort: skip
from bot.cli import requests as _requests  # noqa: F401  isort: skip
from bot.cli import sources as _sources  # noqa: F401  isort: skip
from bot.cli import disclosures as _disclosures  # noqa: F401  isort: skip
from bot.cli import drafts as _drafts  # noqa: F401  isort: skip
from bot.cli import staff as _staff  # noqa: F401  isort: skip
from bot.cli import demo as _demo  # noqa: F401  isort: skip
from bot.cli import run as _run  # noqa: F401  isort: skip
from bot.cli import web as _web  # noqa: F401  isort: skip
from bot.cli import casework as _casework  # noqa: F401  isort: skip
from bot.cli import classifier as _classifier  # noqa: F401  isort: skip


#: Set (to anything) to see the traceback of an unexpected error instead of its one line.
TRACEBACK_ENV = "NOXBOT_TRACEBACK"


def main() -> None:
    """Run the command line; a NoxbotError becomes one clear line and exit status 1, and so
    does any other error: its kind only (its message may quote personal data), never a
    traceback unless $NOXBOT_TRACEBACK asks for one."""
    try:
        app()
    except NoxbotError as exc:
        print(f"noxbot: {printable(one_line(str(exc)))}", file=sys.stderr)  # never wrapped
        sys.exit(1)
    except Exception as exc:
        if os.environ.get(TRACEBACK_ENV):
            raise
        if said := _refusals_in(exc):  # a worker of `noxbot run` refused to go on (a port taken)
            for refusal in said:
                print(f"noxbot: {printable(one_line(refusal))}", file=sys.stderr)
            sys.exit(1)
        if is_refused_conflict(exc):  # a deadlock, a lock: another action at the same time
            print(
                f"noxbot: the database refused this just now ({kinds_of(exc)}: another action "
                "held what it needed); the command did not finish and its unfinished change "
                "was rolled back: run it again",
                file=sys.stderr,
            )
            sys.exit(1)
        if is_transient(exc):  # a COMMIT whose answer was lost may have gone through
            print(
                f"noxbot: the database could not be reached, or its answer was lost "
                f"({kinds_of(exc)}): whether the command's change was made is not known; "
                "look (requests show, drafts list) before running it again",
                file=sys.stderr,
            )
            sys.exit(1)
        print(
            f"noxbot: unexpected error ({kinds_of(exc)}); the command did not finish and "
            f"its unfinished change was rolled back ({TRACEBACK_ENV}=1 shows where)",
            file=sys.stderr,
        )
        sys.exit(1)


def _refusals_in(exc: BaseException) -> list[str]:
    """The messages of a group of errors that are all NoxbotErrors (a TaskGroup of `noxbot
    run` ends with every worker's error in one group); [] when any is something else."""
    if isinstance(exc, NoxbotError):
        return [str(exc)]
    if not isinstance(exc, BaseExceptionGroup):
        return []
    found = [_refusals_in(inner) for inner in exc.exceptions]
    return [m for messages in found for m in messages] if all(found) else []


def kinds_of(exc: BaseException) -> str:
    """An error's kind; for a group (a worker of `noxbot run` failed, and its TaskGroup
    says only "ExceptionGroup") the kinds of the errors in it."""
    if not isinstance(exc, BaseExceptionGroup):
        return type(exc).__name__
    kinds = dict.fromkeys(kinds_of(inner) for inner in exc.exceptions)
    return ", ".join(kinds) or type(exc).__name__


def one_line(message: str) -> str:
    """A message as one line: a driver's multi-line text (SQLAlchemy adds a line pointing
    at its website, psycopg a hint on the next line) is joined, the link left out."""
    lines = [line.strip() for line in message.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith("(Background on"))
