"""The database: engine, sessions, and schema migrations (Alembic) applied on every start.

Alembic itself (about 9 MiB of a worker's memory) is imported only when the schema is not
already at the newest revision: the revision the database is at and the newest one this code
knows are read without it."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, event, inspect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, create_engine

from bot.config import redact_url, without_passwords
from bot.errors import ChangedMeanwhile, DoneOutsideNotRecorded, NoxbotError
from bot.store.search import sqlite_fold
from bot.store.wakeup import Wakeup, wants_wakeup

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: The kinds of database error a worker's loop waits out (backoff) rather than dying of.
#: Which of them will pass by themselves — so that the message in hand is read again rather
#: than quarantined — `is_transient` says.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    ChangedMeanwhile,  # (a race lost to another writer: read again, as for a deadlock)
)

# SQLSTATE classes and codes of errors that pass (PostgreSQL, appendix A): connection
# exceptions, insufficient resources, operator intervention, system errors; serialisation
# failure, deadlock, lock not available.
_PASSING_CLASSES = ("08", "53", "57", "58")
_PASSING_CODES = frozenset({"40001", "40P01", "55P03"})
_PASSING_SQLITE = ("database is locked", "database table is locked", "disk i/o error")


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE PostgreSQL gave for a database error (psycopg's `sqlstate`); None for
    any other error, and for one the driver raised before the server answered."""
    cause = error.orig if isinstance(error, sa_exc.DBAPIError) else None
    return getattr(cause, "sqlstate", None)


def sqlite_error_name(error: BaseException) -> str | None:
    """SQLite's name for a database error ("SQLITE_FULL", "SQLITE_READONLY_DBMOVED", ...);
    None for any other error."""
    cause = error.orig if isinstance(error, sa_exc.DBAPIError) else None
    return getattr(cause, "sqlite_errorname", None) if isinstance(cause, sqlite3.Error) else None


def is_transient(error: BaseException) -> bool:
    """True for a database error that passes by itself: the server down or unreachable, a
    timeout, a lock, a serialisation conflict. False for one that a statement would meet
    again (too many parameters, a value refused): retrying that would block for ever."""
    if isinstance(error, sa_exc.InterfaceError | sa_exc.TimeoutError | ChangedMeanwhile):
        return True
    if not isinstance(error, sa_exc.OperationalError):
        return False
    if error.connection_invalidated:
        return True
    cause = error.orig
    sqlstate = sqlstate_of(error)
    if sqlstate is not None:
        return sqlstate.startswith(_PASSING_CLASSES) or sqlstate in _PASSING_CODES
    message = str(cause).lower()
    if type(cause).__module__.startswith("psycopg"):
        # No SQLSTATE: libpq itself failed — to connect (transient), or to send a statement
        # it refuses on its own, such as one with too many parameters (not transient).
        return "connection" in message or "timeout" in message or "timed out" in message
    return message.startswith(_PASSING_SQLITE)


def is_refused_conflict(error: BaseException) -> bool:
    """The database refused a transaction because another held what it needed - a deadlock,
    a serialisation conflict, a lock not granted in time, SQLite's busy lock - and rolled
    it back whole: run again, it is as if it came a moment later. Unlike `is_transient`,
    not a lost connection: whether a COMMIT whose answer was lost went through is unknown,
    and running the action again could do it twice."""
    if not isinstance(error, sa_exc.OperationalError) or error.connection_invalidated:
        return False
    sqlstate = sqlstate_of(error)
    if sqlstate is not None:
        return sqlstate in _PASSING_CODES
    message = str(error.orig).lower()
    return message.startswith(("database is locked", "database table is locked"))


#: session.info key: this transaction has changed something outside the database (a file
#: moved, a row of a configured source changed), which rolling it back does not undo.
CHANGED_OUTSIDE = "noxbot.changed_outside"


def mark_changed_outside(session: Session) -> None:
    """Say, before doing it, that this transaction changes something outside the database:
    whoever would run it again after a failure must not (`Database.session`). A commit
    records what was done (an erasure that stops part-way commits its findings first)."""
    session.info[CHANGED_OUTSIDE] = True


@event.listens_for(OrmSession, "after_commit")
def _changes_outside_recorded(session: OrmSession) -> None:
    session.info.pop(CHANGED_OUTSIDE, None)


def is_database_wide(error: BaseException) -> bool:
    """An error the database itself reports, which no message is to blame for: a full disk,
    a read-only database or server (a standby after a failover), a permission taken away
    (from one table, too). It would meet the next message of its kind too, so a worker
    waits it out (as it does a database that is down) instead of setting the message aside.

    Only what the server said counts - on PostgreSQL an SQLSTATE outside the classes a value
    causes (22 data exception, 23 integrity, 54 a limit exceeded), on SQLite an
    OperationalError (a value too big is a DataError there); never what the driver refused
    before sending (a value it cannot adapt: that is the message's)."""
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    sqlstate = sqlstate_of(error)
    if sqlstate is not None:
        return not sqlstate.startswith(("22", "23", "54"))
    return isinstance(error.orig, sqlite3.OperationalError)


#: What a database refuses whatever the values, by a setting of its own or its host's: on
#: PostgreSQL a permission (42501), a read-only transaction or server (25006: a standby
#: after a failover), a role refused (class 28); on SQLite a read-only or full database, a
#: permission, a file it cannot open or write.
_REFUSING_CODES = frozenset({"42501", "25006"})
_REFUSING_CLASSES = ("28",)
_REFUSING_SQLITE = (
    "SQLITE_READONLY", "SQLITE_FULL", "SQLITE_PERM", "SQLITE_AUTH", "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
)  # fmt: skip


def is_refusal(error: BaseException) -> bool:
    """The database refuses the statement for a reason of its own (see _REFUSING_CODES),
    which every message that needs the same statement meets alike: a worker waits it out
    and says so, rather than setting each such message aside as if it were to blame - a
    permission taken away from the table of cases would set every request aside while
    ordinary mail went on. Narrower than is_database_wide: a statement that names what does
    not exist may be a bug one kind of message alone meets, and that message is set aside."""
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    sqlstate = sqlstate_of(error)
    if sqlstate is not None:
        return sqlstate in _REFUSING_CODES or sqlstate.startswith(_REFUSING_CLASSES)
    return (sqlite_error_name(error) or "").startswith(_REFUSING_SQLITE)


#: PostgreSQL: no call may hang for ever (a silent network must not freeze the workers).
POSTGRES_CONNECT_ARGS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,  # ms: unacknowledged data gives up after a minute
    "options": "-c statement_timeout=60000 -c lock_timeout=30000",
}


class DatabaseError(NoxbotError):
    """The database cannot be opened or upgraded; the message says which and why."""


def make_engine(url: str) -> Engine:
    """An engine for the URL; SQLite gets foreign keys and a busy timeout, PostgreSQL
    timeouts and keepalives. Statement parameters (personal data) never appear in errors."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # Searches fold Swedish letters too (bot.store.search).
            dbapi_connection.create_function("noxbot_fold", 1, sqlite_fold, deterministic=True)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return _plain_savepoints(engine)
    return _plain_savepoints(
        create_engine(
            url, pool_pre_ping=True, hide_parameters=True, connect_args=POSTGRES_CONNECT_ARGS
        )
    )


_SAVEPOINT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _begin_before_savepoint(connection: Connection) -> None:
    """On SQLite, a savepoint taken before the transaction has written anything is begun
    inside a transaction of its own first (BEGIN IMMEDIATE: the write lock, waited for as
    any write's). pysqlite begins a transaction only before a write, and SQLite makes a
    SAVEPOINT outside one the transaction itself, so its RELEASE committed it, halfway
    through the work of the session: what followed was no longer undone with the rest, the
    write lock was let go, and the audit chain's head this transaction had read went stale
    (a second staff listing that expired two challenges failed on the head's key when
    anyone wrote in between)."""
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is not None and not dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _plain_savepoints(engine: Engine) -> Engine:
    """SAVEPOINT and RELEASE SAVEPOINT sent as the text SQLAlchemy compiles them to, without
    compiling them each time: a batch written again after a failure gives every message a
    savepoint (bot.runtime.intake), as do other workflows, and compiling the two statements
    anew (the name differs, so they are never cached) cost about an eighth of an ordinary
    mail's CPU in the pipeline when every message had one. A name that would need quoting
    (SQLAlchemy's own, sa_savepoint_N, never does) is left to SQLAlchemy."""
    dialect = engine.dialect
    compiled_savepoint, compiled_release = dialect.do_savepoint, dialect.do_release_savepoint
    sqlite = dialect.name == "sqlite"

    def do_savepoint(connection: Connection, name: str) -> None:
        if sqlite:
            _begin_before_savepoint(connection)
        if _SAVEPOINT_NAME.fullmatch(name):
            connection.exec_driver_sql(f"SAVEPOINT {name}")
        else:
            compiled_savepoint(connection, name)

    def do_release_savepoint(connection: Connection, name: str) -> None:
        if _SAVEPOINT_NAME.fullmatch(name):
            connection.exec_driver_sql(f"RELEASE SAVEPOINT {name}")
        else:
            compiled_release(connection, name)

    dialect.do_savepoint = do_savepoint  # type: ignore[method-assign]
    dialect.do_release_savepoint = do_release_savepoint  # type: ignore[method-assign]
    return engine


def _create_private(url: str) -> None:
    """A new SQLite file readable by its owner only (it holds personal data); SQLite gives
    its -wal and -shm files the same permissions."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    if path.exists() or not path.parent.is_dir():
        return  # an existing file keeps the permissions its owner chose
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None for an empty database): Alembic's
    version table, read directly."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return rows[0][0] if len(rows) == 1 else None


_REVISION = re.compile(r"^revision\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(?:None|[\"']([^\"']+)[\"'])", re.MULTILINE)


@cache
def head_revision() -> str:
    """The newest schema revision this code knows: the one no migration builds on. Read
    from the migration files' `revision`/`down_revision` lines (a test checks it against
    Alembic's own answer); Alembic decides when the files do not name exactly one head."""
    revisions: set[str] = set()
    built_on: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return _alembic_head()
        revisions.add(revision.group(1))
        if down.group(1):
            built_on.add(down.group(1))
    heads = revisions - built_on
    return heads.pop() if len(heads) == 1 else _alembic_head()


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(make_engine("sqlite://"))).get_current_head()
    assert head is not None
    return head


def upgrade(engine: Engine) -> str:
    """Bring the schema up to date; returns the revision it is now at."""
    try:
        revision = current_revision(engine)
        if revision is not None and revision == head_revision():
            return revision
        from alembic import command

        command.upgrade(_alembic_config(engine), "head")
    except Exception as exc:  # any driver error, reported as one line
        url = engine.url.render_as_string(hide_password=False)
        raise DatabaseError(
            without_passwords(f"cannot upgrade the database at {redact_url(url)}: {exc}", url)
        ) from exc
    return current_revision(engine) or ""


class Database:
    """An upgraded database and the sessions that work on it."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        _create_private(url)
        self.engine = make_engine(url)
        self.wakeup = Wakeup()
        if migrate:
            upgrade(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on error. An error
        after the transaction changed something outside the database (`mark_changed_outside`)
        and before a commit recorded it - the database refusing it, a case changed meanwhile
        - becomes DoneOutsideNotRecorded: whoever would run it again (a worker re-reading a
        press, the console, staff told to retry) must not."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                wake = wants_wakeup(session)
                session.commit()
            except BaseException as exc:
                session.rollback()
                if session.info.get(CHANGED_OUTSIDE) and isinstance(exc, Exception):
                    raise DoneOutsideNotRecorded() from exc  # (refused for any reason)
                raise
            if wake:
                self.wakeup.notify()

    def dispose(self) -> None:
        self.engine.dispose()
