"""The Typer application, its consoles and options shared by several commands."""

from __future__ import annotations

import getpass
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from bot.cli.helptext import NoxTyper
from bot.cli.output import SafeConsole
from bot.clock import Clock, utcnow
from bot.config import (
    CONFIG_ENV,
    Settings,
    config_path,
    load_settings,
    redact_url,
    without_passwords,
)
from bot.errors import NoxbotError
from bot.files import read_named_file
from bot.reading.safe_text import printable_json
from bot.rules.deadlines import stockholm_date
from bot.rules.kinds import RequestKind
from bot.store.database import Database, DatabaseError, current_revision, head_revision, make_engine
from bot.store.tables import RequestStatus
from bot.workflow.services import Services
from bot.workflow.words import name_words, status_words

app = NoxTyper(
    name="noxbot",
    help="GDPR data-subject rights requests for NOX Consulting AB: recognise, verify, draft, "
    "hold for staff approval, carry out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
#: Our words and people's words print as written: never read as Rich markup ("[imap]",
#: "[DSR-…]" in a subject), and a line is never broken by Rich — the terminal wraps it, a
#: pipe gets one line. Tables lay out to the width themselves; a panel asks for wrapping.
#: Text from outside never prints raw: control, escape and bidi characters show as escapes.
console = SafeConsole(highlight=False, markup=False, soft_wrap=True)
err_console = SafeConsole(stderr=True, highlight=False, markup=False, soft_wrap=True)


def _show_version(shown: bool) -> None:
    if shown:
        console.print(f"noxbot {importlib.metadata.version('noxbot')}")
        raise typer.Exit()


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $NOXBOT_CONFIG, else ./config.toml, else built-in defaults).",
        show_default=False,
    ),
]


@app.callback()
def _noxbot(
    context: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file for the command that follows (`noxbot -c FILE requests list` is "
            "`noxbot requests list -c FILE`; the command's own -c wins).",
            show_default=False,
        ),
    ] = None,
) -> None:
    if config is not None:  # as $NOXBOT_CONFIG would, for this command only
        before = os.environ.get(CONFIG_ENV)
        os.environ[CONFIG_ENV] = str(config)
        context.call_on_close(lambda: _restore_environment(CONFIG_ENV, before))


def _restore_environment(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="text: a table for people; json: for scripts.")
]


def open_database(
    settings: Settings, config: Path | None = None, *, upgrade_apart: bool = False
) -> Database:
    """The configured database, migrated to the newest schema. Without a config file the
    built-in default (./noxbot.db) is used; making a new one says so, since the usual cause
    is a forgotten -c in another folder. `upgrade_apart`: see upgrade_in_a_child."""
    url = settings.database.url
    if config_path(config) is None and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            err_console.print(
                f"noxbot: no config file (-c, $NOXBOT_CONFIG or ./config.toml): using the "
                f"built-in defaults, a new database {path.resolve()}"
            )
    if upgrade_apart:
        upgrade_in_a_child(url)
    return Database(url)


_UPGRADE = (
    "import sys\n"
    "from bot.store.database import Database, DatabaseError\n"
    "try:\n"
    "    Database(sys.stdin.read()).dispose()\n"
    "except DatabaseError as exc:\n"
    "    print(exc, end='')\n"
    "    sys.exit(1)\n"
)


def upgrade_in_a_child(url: str) -> None:
    """Bring the schema up to date in a short-lived child process when it is behind (a new
    database, a new release), so that a long-running process never holds Alembic and what
    the migrations loaded: about 11 MiB of `noxbot run`'s memory on SQLite and 10 MiB on
    PostgreSQL, for as long as it runs. A database already up to date costs one query here;
    one in memory (nothing another process could upgrade) and one that cannot be asked are
    left to Database, which upgrades in this process or says what is wrong as before. The
    URL goes to the child on its standard input, not on its command line (anyone on the
    machine can read that)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory":
            return
        behind = not Path(parsed.database).exists()  # the child makes it, owner-only
    else:
        behind = False
    if not behind:
        engine = make_engine(url)
        try:
            behind = current_revision(engine) != head_revision()
        except Exception:  # cannot be asked: Database says why
            return
        finally:
            engine.dispose()
    if not behind:
        return
    done = subprocess.run(
        [sys.executable, "-c", _UPGRADE], input=url, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        if done.stdout:  # the DatabaseError it met, said as in this process
            raise DatabaseError(done.stdout)
        said = done.stderr.strip().splitlines()
        raise DatabaseError(
            without_passwords(
                f"cannot upgrade the database at {redact_url(url)}: the upgrade process ended"
                f" with status {done.returncode}" + (f" ({said[-1]})" if said else ""),
                url,
            )
        )


def settings_and_database(
    config: Path | None, *, upgrade_apart: bool = False
) -> tuple[Settings, Database]:
    settings = load_settings(config)
    return settings, open_database(settings, config, upgrade_apart=upgrade_apart)


def staff_actor() -> str:
    """Who is acting at this terminal, for the audit trail ($NOXBOT_STAFF, else the login)."""
    name = os.environ.get("NOXBOT_STAFF") or getpass.getuser()
    return f"staff:{name}"


def print_json(value: object) -> None:
    """JSON for scripts; characters that could hide text on a terminal as \\u escapes."""
    typer.echo(printable_json(json.dumps(value, ensure_ascii=False, indent=2, default=_json_value)))


def _json_value(value: object) -> str:
    """Dates and times as ISO 8601 ("2026-11-25T01:54:31+00:00"), anything else as text."""
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


def services_for(
    config: Path | None, *, upgrade_apart: bool = False
) -> tuple[Settings, Database, Services]:
    settings, database = settings_and_database(config, upgrade_apart=upgrade_apart)
    return settings, database, Services.from_settings(settings)


def today(settings: Settings, clock: Clock = utcnow) -> date:  # wall clock: a person asks now
    """Today in the organisation's time zone (deadlines count in Stockholm days), by the
    workflow's clock (`services.clock`) where the command has one."""
    return stockholm_date(clock(), settings.organisation.timezone)


def _word_key(text: str) -> str:
    """A value as typed, made comparable: "Marketing opt-out", "marketing_optout" and
    "draft to approve" match their names whatever the case, spaces, hyphens or commas."""
    return re.sub(r"[\s_,-]+", "", text.strip().lower())


#: Every way of writing a kind: its name ("marketing_optout") and its words as lists show
#: them ("marketing opt-out").
_KINDS_BY_KEY: dict[str, RequestKind] = {
    **{_word_key(k.value): k for k in RequestKind},
    **{_word_key(name_words(k.value)): k for k in RequestKind},
}
#: The kinds in words, for --help and errors.
KIND_WORDS = ", ".join(name_words(k.value) for k in RequestKind if k is not RequestKind.NONE)
KINDS_HELP = f"Comma-separated kinds, as lists show them or by name: {KIND_WORDS}."


def parse_kinds(text: str) -> list[RequestKind]:
    """Kinds from "--kinds erasure,access" or "--kinds 'marketing opt-out'"; "none" alone
    gives no kind (it is no rights request), and beside a kind is refused."""
    kinds = []
    for piece in text.split(","):
        if not piece.strip():
            continue
        kind = _KINDS_BY_KEY.get(_word_key(piece))
        if kind is None:
            raise typer.BadParameter(f"--kinds {piece.strip()!r}: expected some of {KIND_WORDS}")
        kinds.append(kind)
    if RequestKind.NONE in kinds and len(set(kinds)) > 1:
        raise typer.BadParameter(
            f"--kinds {text.strip()!r}: none stands alone (it says the message asks for "
            "nothing); give the kinds it asks for, or none by itself"
        )
    return [k for k in kinds if k is not RequestKind.NONE]


#: Every way of writing a status: its name ("awaiting_approval") and its words in the list's
#: status column ("draft to approve").
_STATUS_BY_KEY: dict[str, str] = {
    **{_word_key(s.value): s.value for s in RequestStatus},
    **{_word_key(status_words(s.value)): s.value for s in RequestStatus},
}
STATUS_HELP = (
    "open (cases not finished), all, or one status as the list shows it: "
    + "; ".join(status_words(s.value) for s in RequestStatus)
    + " (or its name, e.g. awaiting_approval)."
)


def parse_status(text: str) -> str:
    """`open`, `all` or a status name, from its name or the words the list shows ("draft to
    approve", "answered")."""
    key = _word_key(text)
    if key in ("open", "all"):
        return key
    status = _STATUS_BY_KEY.get(key)
    if status is None:
        raise typer.BadParameter(
            f"--status {text!r}: expected open, all or one of "
            + "; ".join(status_words(s.value) for s in RequestStatus)
        )
    return status


def parse_settings(items: list[str]) -> dict[str, str]:
    """FIELD=VALUE pairs from repeated --set options."""
    pairs = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field.strip() or not value.strip():
            raise typer.BadParameter(f"--set {item!r}: expected FIELD=VALUE")
        pairs[field.strip()] = value
    return pairs


def read_text_file(path: Path) -> str:
    """A UTF-8 text file staff named on the command line (a BOM is allowed)."""
    raw = read_named_file(path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NoxbotError(
            f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again"
        ) from None


def write_text_file(path: Path, text: str) -> None:
    """Write UTF-8 text; a folder that does not exist or a read-only place is one line."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise NoxbotError(f"{path}: cannot write ({exc.strerror or exc})") from None
