"""`noxbot check`: reach each configured server and say in one line what is wrong.

Every probe has a timeout and logs in the way the workers will, so a wrong password or a
closed port shows here, not at three in the morning in the mail watcher. What a later
command would refuse (a missing secret, a template folder that is not there) is reported
here too. Checking changes nothing: no database file is created, no key generated.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import aioimaplib
import aiosmtplib
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.config import (
    DocumentsSource,
    ImapSettings,
    MailboxSource,
    MaildirSource,
    Settings,
    SmtpSettings,
    SourceSettings,
    SqlSource,
    TelegramSettings,
    without_passwords,
)
from bot.errors import NoxbotError
from bot.sources import SourceError
from bot.sources.mailbox import Mailbox
from bot.store.database import Database, current_revision, head_revision
from bot.workflow.rendering import LANGUAGES
from bot.workflow.services import load_records


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    detail: str


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "no answer before the timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


def _driver_error(exc: BaseException, url: str) -> str:
    """A driver's error in one line, without the URL's password."""
    first = (str(exc).splitlines() or [""])[0]
    return without_passwords(f"{type(exc).__name__}: {first}".rstrip(": "), url)


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None for PostgreSQL or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def check_database(settings: Settings) -> Probe:
    """Reach the database and compare its schema with this code's; a SQLite file that is not
    there yet is said so, not created (a mistyped path would otherwise look fine)."""
    url = settings.database.url
    path = sqlite_path(url)
    if path is not None and not path.exists():
        if not path.parent.is_dir():
            return Probe("Database", False, f"{path}: the folder {path.parent} does not exist")
        return Probe(
            "Database", True, f"{path} does not exist yet; it will be created on first start"
        )
    try:
        database = Database(url, migrate=False)
    except Exception as exc:  # a driver that is not installed, say
        return Probe("Database", False, _driver_error(exc, url))
    try:
        revision = current_revision(database.engine)
    except Exception as exc:  # any driver error: say which, in one line
        return Probe("Database", False, _driver_error(exc, url))
    finally:
        database.dispose()
    head = head_revision()
    state = (
        "up to date" if revision == head else f"at {revision or 'empty'}, will upgrade to {head}"
    )
    if make_url(url).password:
        # A secret in the file: it works, but it should live where secrets live.
        state += (
            "; the URL holds a password — keep it out of the file (PostgreSQL reads "
            "PGPASSWORD or ~/.pgpass)"
        )
    return Probe("Database", True, f"reachable, schema {state}")


#: A verification secret shorter than this is reported as weak (`noxbot check`).
MIN_SECRET_CHARACTERS = 32


def check_verification_secret(settings: Settings) -> Probe:
    """The key for verification codes: from the environment, or (SQLite only) a key file."""
    env_name = settings.verification.secret_env
    if (secret := settings.secret(env_name)) is not None:
        short = (
            f"; but it is only {len(secret)} characters: a key that can be guessed lets anyone "
            "check a guessed address against the hashes kept after an erasure — use a long "
            'random one (python3 -c "import secrets; print(secrets.token_hex(32))")'
            if len(secret) < MIN_SECRET_CHARACTERS
            else ""
        )
        return Probe(
            "Verification secret",
            True,
            f"from the variable [verification] secret_env names{short}",
        )
    if settings.database.url.startswith("sqlite"):
        return Probe(
            "Verification secret",
            True,
            "kept in a key file next to the database, made on first use; the variable "
            "[verification] secret_env names would be used instead, but is not set",
        )
    return Probe(
        "Verification secret",
        False,
        "the environment variable [verification] secret_env names is not set; "
        "required with PostgreSQL",
    )


def check_records(settings: Settings) -> Probe:
    """The records-of-processing file access replies are written from."""
    try:
        records = load_records(settings)
    except NoxbotError as exc:
        return Probe("Records of processing", False, str(exc))
    where = settings.processing.records or "the shipped default"
    return Probe("Records of processing", True, f"{len(records.categories)} categories, {where}")


def check_sources(settings: Settings) -> list[Probe]:
    """Each [[sources]] entry as the drafting will use it: its folder or archive is there and
    readable, its category is declared in the records of processing, its database answers.
    (A mailbox source is the [imap] account, probed with the servers.)"""
    try:
        categories = {c.key for c in load_records(settings).categories}
    except NoxbotError:
        categories = None  # the records probe says what is wrong with the file
    probes = []
    for number, source in enumerate(settings.sources, start=1):
        name = f"Source {number} ({source.name})"
        problem = _source_problem(source)
        category = getattr(source, "category", None)
        if problem is None and categories is not None and category not in (None, *categories):
            known = ", ".join(sorted(categories))
            problem = (
                f"category {category!r} is not in the records of processing (declared: {known})"
            )
        ready = f"{source.type} ready"
        if isinstance(source, MailboxSource) and problem is None:
            problem, ready = _mailbox_problem(settings, source)
        probes.append(Probe(name, problem is None, problem or ready))
    return probes


def _mailbox_problem(settings: Settings, source: MailboxSource) -> tuple[str | None, str]:
    """Whether each of a mailbox source's folders opens on the [imap] account (one that does
    not would stop every search of the source: named as the server has it, "Sent Items" on
    Microsoft 365, "[Gmail]/Sent Mail" on Gmail). Not reached, or no password: the IMAP
    probe says why."""
    ready = f"searched through the [imap] account, folders {', '.join(source.folders)}"
    password = settings.secret(settings.imap.password_env) if settings.imap else None
    if settings.imap is None or password is None:
        return None, "searched through the [imap] account: see IMAP below"
    try:
        missing = Mailbox(source, settings.imap, password).unopenable_folders()
    except SourceError:
        return None, "searched through the [imap] account: see IMAP below"
    if missing:
        named = ", ".join(repr(folder) for folder in missing)
        return (
            f"the folder(s) {named} cannot be opened on {settings.imap.host}, so the source "
            "cannot be searched; write each folder's name as the mail server has it",
            ready,
        )
    return None, ready


def _source_problem(source: SourceSettings) -> str | None:
    """What would stop this source from being searched, or None."""
    if isinstance(source, DocumentsSource):
        folder = Path(source.folder)
        if not folder.is_dir():
            return f"the folder {folder} is not there"
        if not os.access(folder, os.R_OK | os.X_OK):
            return f"the folder {folder} cannot be read"
        if source.erase == "move" and source.holding_folder:
            holding = Path(source.holding_folder)
            if not (holding.is_dir() or holding.parent.is_dir()):
                return f"the holding folder {holding} cannot be made (its parent is not there)"
        return None
    if isinstance(source, MaildirSource):
        path = Path(source.path)
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            return f"{path} is not a Maildir (no cur/ and new/ in it)"
        return None
    if isinstance(source, SqlSource):
        database_file = sqlite_path(source.url)
        if database_file is not None and not database_file.is_file():
            return f"the database file {database_file} is not there"  # checking creates none
        try:
            engine = create_engine(source.url, connect_args=_connect_timeout(source.url))
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            finally:
                engine.dispose()
        except Exception as exc:  # any driver's refusal, said in one line
            return _driver_error(exc, source.url)
        return None
    return None


def _connect_timeout(url: str) -> dict[str, object]:
    """A short connect timeout for the drivers that take one (SQLite needs none)."""
    backend = make_url(url).get_backend_name()
    return {"connect_timeout": 5} if backend == "postgresql" else {}


def check_templates(settings: Settings) -> Probe | None:
    """The folder of template overrides, when one is configured."""
    directory = settings.templates.directory
    if directory is None:
        return None
    folder = Path(directory)
    where = f"[templates] directory = {directory!r}"
    if not folder.is_dir():
        return Probe("Templates", False, f"{where}: no such folder")
    languages = [lang for lang in LANGUAGES if (folder / lang).is_dir()]
    if not languages:
        return Probe(
            "Templates",
            False,
            f"{where}: has no {' or '.join(f'{lang}/' for lang in LANGUAGES)} folder; "
            "nothing in it would be used",
        )
    return Probe("Templates", True, f"overrides for {', '.join(languages)} in {folder}")


async def check_imap(imap: ImapSettings, password: str | None) -> Probe:
    where = f"{imap.host}:{imap.port}"
    if password is None:
        return Probe(
            "IMAP",
            False,
            f"{where}: the environment variable [imap] password_env names is not set",
        )
    cls = aioimaplib.IMAP4_SSL if imap.tls == "ssl" else aioimaplib.IMAP4
    client = cls(host=imap.host, port=imap.port, timeout=imap.timeout_seconds)
    try:
        await asyncio.wait_for(client.wait_hello_from_server(), imap.timeout_seconds)
        if imap.tls == "starttls":
            await asyncio.wait_for(client.starttls(), imap.timeout_seconds)
        login = await asyncio.wait_for(client.login(imap.username, password), imap.timeout_seconds)
        if login.result != "OK":
            return Probe("IMAP", False, f"{where}: login as {imap.username} refused")
        select = await asyncio.wait_for(client.select(imap.mailbox), imap.timeout_seconds)
        if select.result != "OK":
            return Probe("IMAP", False, f"{where}: mailbox {imap.mailbox!r} cannot be opened")
        await asyncio.wait_for(client.logout(), imap.timeout_seconds)
    except Exception as exc:  # any failure is the answer we came for
        return Probe("IMAP", False, f"{where}: {_describe(exc)}")
    return Probe("IMAP", True, f"{where}: logged in as {imap.username}, {imap.mailbox} opened")


async def check_smtp(smtp: SmtpSettings, password: str | None) -> Probe:
    where = f"{smtp.host}:{smtp.port}"
    if smtp.username and password is None:
        return Probe(
            "SMTP",
            False,
            f"{where}: the environment variable [smtp] password_env names is not set",
        )
    client = aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.port,
        timeout=smtp.timeout_seconds,
        use_tls=smtp.tls == "ssl",
        start_tls=smtp.tls == "starttls",
    )
    try:
        await client.connect()
        if smtp.username:
            await client.login(smtp.username, password or "")
        await client.quit()
    except Exception as exc:
        return Probe("SMTP", False, f"{where}: {_describe(exc)}")
    who = f" as {smtp.username}" if smtp.username else ""
    return Probe("SMTP", True, f"{where}: connected{who}")


async def check_telegram(telegram: TelegramSettings, token: str | None) -> Probe:
    if token is None:
        return Probe(
            "Telegram",
            False,
            "the environment variable [telegram] token_env names is not set",
        )
    import httpx  # ~15 MiB: imported by the one check that needs it, not by `noxbot run`

    try:
        async with httpx.AsyncClient(timeout=15) as client:
            response = await client.post(f"{telegram.base_url}{token}/getMe")
        body = response.json()
    except Exception as exc:  # an HTTP library's message may hold the URL, token and all
        described = _describe(exc).replace(token, "<token>")
        return Probe("Telegram", False, f"{telegram.base_url}: {described}")
    if not body.get("ok"):
        return Probe("Telegram", False, f"getMe refused: {body.get('description', 'no reason')}")
    name = f"@{body['result'].get('username', '?')}"
    try:
        problem = await _staff_chat_problem(telegram, token, name)
    except Exception as exc:
        problem = f"the staff chat could not be checked: {_describe(exc).replace(token, '<token>')}"
    if problem:
        return Probe("Telegram", False, f"bot {name} answers, but {problem}")
    members = len(telegram.staff_user_ids)
    if telegram.staff_chat_id is not None:
        staff = f"staff chat {telegram.staff_chat_id} with {members} staff member(s) in it"
    elif members:
        staff = "no staff chat: staff_user_ids has no use without [telegram] staff_chat_id"
    else:
        staff = "no staff chat ([telegram] staff_chat_id is not set)"
    return Probe("Telegram", True, f"bot {name} answers; {staff}")


#: Staff user ids checked for membership of the staff chat at most (one call each).
_MEMBERS_CHECKED = 20


async def _staff_chat_problem(telegram: TelegramSettings, token: str, bot: str) -> str | None:
    """What keeps the staff chat from working, in words, or None: a chat the bot is not
    in (nothing would be posted there), nobody allowed to press its buttons, or a staff user
    id that is not in it (a typo'd id presses nothing)."""
    import httpx

    chat_id = telegram.staff_chat_id
    if chat_id is None:
        return None
    async with httpx.AsyncClient(timeout=15) as client:

        async def call(method: str, **fields: object) -> dict:
            response = await client.post(f"{telegram.base_url}{token}/{method}", data=fields)
            return response.json()

        chat = await call("getChat", chat_id=chat_id)
        if not chat.get("ok"):
            why = chat.get("description", "no reason")
            return (
                f"the staff chat {chat_id} cannot be reached ({why}): add {bot} to the group "
                "and check [telegram] staff_chat_id"
            )
        if not telegram.staff_user_ids:
            return (
                "[telegram] staff_user_ids is empty: nobody can press Approve or Reject in the "
                "staff chat"
            )
        outside = []
        for user_id in telegram.staff_user_ids[:_MEMBERS_CHECKED]:
            member = await call("getChatMember", chat_id=chat_id, user_id=user_id)
            result = member.get("result") if member.get("ok") else None
            status = result.get("status") if isinstance(result, dict) else None
            if status in (None, "left", "kicked"):
                outside.append(str(user_id))
        if outside:
            return (
                f"staff user id(s) {', '.join(outside)} in [telegram] staff_user_ids are not "
                f"members of the staff chat {chat_id}"
            )
    return None


async def check_servers(settings: Settings) -> list[Probe]:
    probes = []
    if settings.imap is not None:
        probes.append(check_imap(settings.imap, settings.secret(settings.imap.password_env)))
    if settings.smtp is not None:
        probes.append(check_smtp(settings.smtp, settings.secret(settings.smtp.password_env)))
    if settings.telegram is not None:
        probes.append(
            check_telegram(settings.telegram, settings.secret(settings.telegram.token_env))
        )
    return list(await asyncio.gather(*probes))
