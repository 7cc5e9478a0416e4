"""Rows the pipeline writes at once: made and inserted without the ORM's per-row overhead.

Opening a case writes a case, its first message and a draft on every new request. Made the
usual way, an SQLModel table object sets each field through pydantic's `__setattr__` and
SQLAlchemy's attribute events (~0.1 ms a row; table models do not validate either way), and
the unit of work's flush that inserts it costs a few tenths of a millisecond more. Here a row
is made as SQLAlchemy makes one it loads (its fields put in place, no events), inserted by one
Core INSERT that returns its id, and then kept in the session as if it had been loaded: what
changes it afterwards is written by the next flush, as for any stored row. What the flush's
hooks do for a new row is done here too (bot.store.wakeup: a queued message or a new draft
wakes the senders).

The INSERTs themselves (`insert_returning_id`: these rows, the audit trail's events, ordinary
mail) go to the database driver directly, with the SQL SQLAlchemy compiled for them once:
SQLAlchemy's execution of an already compiled statement costs ~60-80 µs more than the
statement itself (its result objects, its parameter checks), which was a fifth of an
ordinary mail's database work on PostgreSQL and more of a new request's nine INSERTs.
(bot.store.later writes rows nothing refers to several at a time, the same way.) On
psycopg the SQL is handed over with PostgreSQL's own numbered placeholders ($1, $2, …)
through a RawCursor: psycopg otherwise rewrites `%(name)s` on every execution and keeps the
result only for statements under 4 KiB and 50 parameters, so a multi-row INSERT of 50 mails
was parsed afresh each time (2.3 ms of CPU against 0.18 ms for the statement itself).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple, TypeVar
from weakref import WeakKeyDictionary

from pydantic_core import PydanticUndefined
from sqlalchemy import Table, bindparam, inspect
from sqlalchemy.engine import Compiled, Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.base import manager_of_class
from sqlmodel import Session, SQLModel

from bot.store.wakeup import note_inserted

T = TypeVar("T", bound=SQLModel)


@cache
def _fields(model: type[SQLModel]) -> tuple[tuple[str, Any, Callable[[], Any] | None], ...]:
    """Each field of the model with its default (or default factory); a required field has
    PydanticUndefined and must be given. (First use: the mappers are made ready, as the
    model's constructor would.)"""
    configure_mappers()
    return tuple(
        (name, info.default, info.default_factory)  # type: ignore[misc]
        for name, info in model.model_fields.items()
    )


def new_row(model: type[T], **values: Any) -> T:
    """A `model` object (not in any session) with these values and the model's defaults for
    the rest, as the model's constructor would make it, without its per-field bookkeeping."""
    row = manager_of_class(model).new_instance()
    fields = row.__dict__
    for name, default, factory in _fields(model):
        if name in values:
            fields[name] = values.pop(name)
        elif factory is not None:
            fields[name] = factory()
        elif default is PydanticUndefined:
            raise TypeError(f"{model.__name__}: {name} is required")
        else:
            fields[name] = default
    if values:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(values))}")
    return row  # type: ignore[no-any-return]


@cache
def _insert_of(model: type[SQLModel]) -> tuple[Table, tuple[Any, ...], str]:
    table = model.__table__  # type: ignore[attr-defined]
    (key,) = [c for c in table.columns if c.primary_key]
    columns = tuple(c for c in table.columns if not c.primary_key)
    return table, columns, key.key


class CompiledInsert(NamedTuple):
    """An INSERT as SQLAlchemy compiles it for one database: its SQL, the order of its
    parameters (None: they go by name), each column type's conversion of its value, and
    whether the SQL has the server's own numbered placeholders (psycopg: for a RawCursor)."""

    sql: str
    order: tuple[str, ...] | None
    convert: tuple[tuple[str, Callable[[Any], Any]], ...]
    numbered: bool = False

    @classmethod
    def of(cls, compiled: Compiled, dialect: Dialect) -> CompiledInsert:
        convert = tuple(
            (name, process)
            for name, bound in compiled.binds.items()  # type: ignore[attr-defined]
            if (process := bound.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        )
        positional = compiled.positional  # type: ignore[attr-defined]
        if dialect.driver == "psycopg" and not positional:
            sql, order = numbered_placeholders(compiled.string)
            return cls(sql, order, convert, numbered=True)
        order = tuple(compiled.positiontup or ()) if positional else None  # type: ignore[attr-defined]
        return cls(compiled.string, order, convert)


_PYFORMAT = re.compile(r"%\(([^)]+)\)s|%%")


def numbered_placeholders(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` in the pyformat style (`%(name)s`, `%%` for a percent sign) with PostgreSQL's
    numbered placeholders instead, and the names in the order of their numbers."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "%"
        order.append(match.group(1))
        return f"${len(order)}"

    return _PYFORMAT.sub(number, sql), tuple(order)


#: Compiled INSERTs per dialect (an engine's: its JSON serialiser is part of the conversion),
#: then by table and columns; an engine that is gone takes its entries with it.
_COMPILED: WeakKeyDictionary[Dialect, dict[tuple[Table, tuple[str, ...]], CompiledInsert]] = (
    WeakKeyDictionary()
)


def require_columns(table: Table, names: tuple[str, ...]) -> None:
    """Refuse an INSERT that leaves out a column but the key: SQLAlchemy would fill in a
    default the driver never hears of."""
    missing = {c.name for c in table.columns if not c.primary_key} - set(names)
    if missing:
        raise TypeError(f"an INSERT into {table.name} needs {', '.join(sorted(missing))}")


def _compiled_insert(table: Table, dialect: Dialect, names: tuple[str, ...]) -> CompiledInsert:
    """The INSERT of these columns returning the new row's key, compiled for `dialect`."""
    (key,) = [c for c in table.columns if c.primary_key]
    require_columns(table, names)
    compiled = table.insert().returning(key).compile(dialect=dialect, column_keys=list(names))
    return CompiledInsert.of(compiled, dialect)


#: session.info key of rows of some tables waiting to be written (bot.store.later): an
#: object with `holds(table)` and `write()`.
WAITING = "noxbot.rows_waiting"


def insert_returning_id(session: Session, table: Table, values: dict[str, Any]) -> int:
    """Insert one row of `table` (`values` by column name: every column but the key) in the
    session's transaction through the driver, and return its key (see execute_compiled).
    Rows of the table waiting to be written go first: keys follow the order rows were
    given in."""
    waiting = session.info.get(WAITING)
    if waiting is not None and waiting.holds(table):
        waiting.write()
    connection = session.connection()
    dialect = connection.dialect
    names = tuple(values)
    known = _COMPILED.setdefault(dialect, {})
    compiled = known.get((table, names))
    if compiled is None:
        compiled = known[table, names] = _compiled_insert(table, dialect, names)
    return int(execute_compiled(connection, compiled, dict(values), returning=True))


def execute_compiled(
    connection: Connection,
    compiled: CompiledInsert,
    params: dict[str, Any],
    *,
    returning: bool = False,
) -> Any:
    """Run `compiled` with `params` (by bind name; converted here, in place) on the
    connection's driver connection, in its transaction; with `returning`, the first value
    of the row it returns.

    Errors are SQLAlchemy's, as from any statement: a value its column's type refuses is
    a StatementError, the database's refusal a DBAPIError, parameters hidden, a lost or
    interrupted connection invalidated (a lost one counts as passing:
    bot.store.database.is_transient). SQLAlchemy's own hooks (`before_cursor_execute`,
    `handle_error`, echo) do not see these statements."""
    dialect = connection.dialect
    driver_connection = connection.connection.dbapi_connection
    cursor = None
    try:
        for name, process in compiled.convert:
            params[name] = process(params[name])
        assert driver_connection is not None  # (a connection the session holds is open)
        cursor = _raw_cursor(driver_connection) if compiled.numbered else driver_connection.cursor()
        order = compiled.order
        cursor.execute(compiled.sql, params if order is None else [params[n] for n in order])
        return cursor.fetchone()[0] if returning else None
    except Exception as exc:
        driver_error = isinstance(exc, dialect.loaded_dbapi.Error)
        lost = driver_error and dialect.is_disconnect(exc, driver_connection, cursor)
        error = DBAPIError.instance(
            compiled.sql,
            None,
            exc,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=dialect,
        )
        if lost:
            connection.invalidate(error)
        raise error from exc
    except BaseException:  # interrupted mid-statement: the connection's state is unknown
        connection.invalidate()
        raise
    finally:
        if cursor is not None:
            cursor.close()


def _raw_cursor(driver_connection: Any) -> Any:
    from psycopg import RawCursor  # (only ever on psycopg's connections)

    return RawCursor(driver_connection)


def row_values(row: SQLModel) -> dict[str, Any]:
    """The values an INSERT of `row` writes, by column name (every column but the key)."""
    _, columns, _ = _insert_of(type(row))
    made = row.__dict__  # (read in place: cheaper than through each field's descriptor)
    return {
        column.name: made[column.key] if column.key in made else getattr(row, column.key)
        for column in columns
    }


def table_of(model: type[SQLModel]) -> Table:
    return _insert_of(model)[0]


def insert_row(session: Session, row: SQLModel) -> int:
    """INSERT the values of `row` (a model object in no session) and return its key; the
    object itself is left as it is."""
    return insert_returning_id(session, table_of(type(row)), row_values(row))


def insert_now(session: Session, row: T) -> T:
    """Write a new row (made by `new_row` or the model's constructor, never added to a
    session) by one INSERT in the session's transaction, give it its id, and keep it in the
    session as a stored row. What it refers to must be written first: rows pending in the
    session are flushed before it, as the unit of work would order them (changes to stored
    rows wait for the next flush: they cannot be what a new row refers to)."""
    if session.new:
        session.flush()
    setattr(row, _insert_of(type(row))[2], insert_row(session, row))
    note_inserted(session, row)  # a queued message or a new draft wakes the senders
    make_transient_to_detached(row)  # as if loaded: its values are what is stored
    session.add(row)
    # Known to the (innermost) transaction as new, as the flush makes a row it inserted:
    # should the savepoint or the transaction roll back, the row leaves the session with
    # its INSERT, instead of staying as a stored row that is not there (whose id the next
    # INSERT may be given).
    transaction = session._transaction
    if transaction is not None:
        transaction._new[inspect(row)] = True
    return row


#: A text longer than this (characters) is written in parts on PostgreSQL, by
#: `insert_with_long_text`...
LONG_TEXT = 1024 * 1024
#: ... in at most this many statements (each appends to what is stored so far, which the
#: database rewrites: 1 + 2 + ... + n parts' worth in all).
MOST_TEXT_PARTS = 8


def in_parts(session: Session, text: str) -> bool:
    """Whether a row with `text` is written by `insert_with_long_text`: a text longer than
    LONG_TEXT, on PostgreSQL (on SQLite one INSERT of a mail of 5 MB of text took the
    watcher through hostile mail to 108 MiB, in parts to 113)."""
    return len(text) > LONG_TEXT and session.get_bind().dialect.name == "postgresql"


def insert_with_long_text(session: Session, row: T, name: str, text: str) -> T:
    """`insert_now` for a row whose field `name` holds `text`, longer than LONG_TEXT: an
    INSERT with its first part, then UPDATEs that append the rest; the row holds the whole
    text afterwards, as stored.

    Why, on PostgreSQL: psycopg copies a statement's parameters into a buffer of its own,
    and libpq that into its output buffer: a mail of 5 MB of text written by one INSERT
    held ~10 MB more while it was sent - the watcher's peak through hostile mail. In parts,
    two copies of a part; the server appends them. SQLite appends in this process (the
    text so far read and written again, part after part), which holds more than one
    INSERT does (see `in_parts`)."""
    size = max(LONG_TEXT, -(-len(text) // MOST_TEXT_PARTS))
    setattr(row, name, text[:size])
    insert_now(session, row)
    key = inspect(row).identity[0]
    for start in range(size, len(text), size):
        session.connection().execute(
            _append_to(type(row), name), {"row_key": key, "part": text[start : start + size]}
        )
    set_committed_value(row, name, text)
    return row


@cache
def _append_to(model: type[SQLModel], name: str) -> Any:
    table = model.__table__  # type: ignore[attr-defined]
    (key,) = [c for c in table.columns if c.primary_key]
    column = table.c[name]
    appended = column + bindparam("part")  # (|| on both databases)
    return table.update().where(key == bindparam("row_key")).values({column: appended})


def inserted_in_this_transaction(session: Session, row: SQLModel) -> bool:
    """Whether `row` was written by insert_now in the session's (innermost) transaction."""
    transaction = session._transaction
    return transaction is not None and inspect(row) in transaction._new


@cache
def _update_of(model: type[SQLModel], names: tuple[str, ...], checked: tuple[str, ...] = ()) -> Any:
    """UPDATE of these columns of one row by its key, where the `checked` ones still hold
    what was read (update_now_if)."""
    table = model.__table__  # type: ignore[attr-defined]
    (key,) = [c for c in table.columns if c.primary_key]
    return (
        table.update()
        .where(key == bindparam("row_key"))
        .where(*(table.c[name].is_not_distinct_from(bindparam(f"was_{name}")) for name in checked))
        .values({table.c[name]: bindparam(f"new_{name}") for name in names})
    )


def update_now_if(session: Session, row: T, was: dict[str, Any], **values: Any) -> bool:
    """update_now, only where the stored row still has the values `was` names (NULL
    included): False, and nothing written, when another transaction changed them since this
    one read the row. On PostgreSQL the UPDATE waits for a transaction that holds the row
    and then looks again; on SQLite it waits for the write lock: either way, of two that
    read the same row and both write it, the second is told."""
    return _write_now(session, row, was, values)


def _write_now(session: Session, row: Any, was: dict[str, Any], values: dict[str, Any]) -> bool:
    state = inspect(row)
    if not state.persistent or state.session is not session:
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
        return True
    names, checked = tuple(sorted(values)), tuple(sorted(was))
    params: dict[str, Any] = {f"new_{name}": values[name] for name in names}
    params.update({f"was_{name}": was[name] for name in checked})
    params["row_key"] = state.identity[0]
    result = session.connection().execute(_update_of(type(row), names, checked), params)
    if checked and result.rowcount != 1:
        return False
    for name in names:
        set_committed_value(row, name, values[name])
    transaction = session._transaction
    if transaction is not None:
        transaction._dirty[state] = True
    return True


def update_now(session: Session, row: T, **values: Any) -> T:
    """Set these fields of a stored row and write them at once, by one UPDATE in the
    session's transaction, instead of leaving the row changed for the next flush (a flush
    of the unit of work for one changed row costs several times the statement). The
    values become the row's stored ones, as if loaded: a change to these fields still
    pending is replaced by them, any other pending change still goes with the next flush.
    A row not stored yet (new, or not in this session) is simply changed and added.

    Should the savepoint or the transaction roll back, the row is expired with the others
    it changed, so that it is read again as the database has it."""
    _write_now(session, row, {}, values)
    return row
