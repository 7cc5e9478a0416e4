"""Rows written later, many to one INSERT: the audit trail's events and ordinary mail while
a batch of inbound messages is written (bot.runtime.intake.handle_batch).

On PostgreSQL each statement is a round trip, and a batch of the bench's mail made 3.6 a
message: an INSERT for every ordinary mail, four audit events for every new request. Rows
that nothing refers to and nothing reads back at once can wait and go together, one
multi-row INSERT for the consecutive rows of a table (bench mix: 363 statements per 100
messages → 243). What must still hold, and how:

- Whatever reads the database sees them: they are written before any statement sent on
  the transaction's connection (`before_cursor_execute`: every query and flush, ORM or
  Core, the audit chain's lock and head), before an INSERT into their table through
  bot.store.rows (ids follow the order rows were given in: message ids keep the order
  mail was read in), and before the commit.
- A savepoint that rolls back takes only what was done inside it: waiting rows are written
  before its SAVEPOINT is sent (`savepoint`, Session's or Core's), and inside one nothing
  waits (a row is written at once). A transaction that rolls back drops what still waits.
- A row the database refuses fails the statement that writes the waiting rows, whichever
  message's it was, and those given after it are not written: the transaction may then
  never commit (it raises that error again), even on SQLite, where it could go on.
  handle_batch rolls it back and writes the batch again message by message, in
  savepoints, with nothing waiting, so that the message it belongs to alone is
  quarantined.

Only a caller that can live with that last point turns it on (`writing_later`); anywhere
else `insert_later` inserts at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Table, bindparam, event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from bot.store.rows import WAITING as _WAITING
from bot.store.rows import (
    CompiledInsert,
    execute_compiled,
    insert_returning_id,
    require_columns,
)

#: Rows of one table written by one INSERT at most (PostgreSQL and SQLite take thousands of
#: parameters; a message row has twenty).
MAX_ROWS = 50


@dataclass
class _Waiting:
    """The rows waiting, the connection of the transaction they belong to (the session's,
    taken when the first was given), and the error that ended a write of them, if one did
    (the transaction must then roll back)."""

    connection: Connection | None = None
    rows: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)
    failed: BaseException | None = None

    def holds(self, table: Table) -> bool:
        return any(waiting is table for waiting, _ in self.rows)

    def write(self) -> None:
        """Write the rows waiting, the consecutive ones of a table by one INSERT."""
        if self.failed is not None:
            raise self.failed
        rows, self.rows = self.rows, []
        if not rows:
            return
        assert self.connection is not None  # (taken with the first row)
        try:
            self._write(self.connection, rows)
        except BaseException as exc:
            self.failed = exc
            raise

    def forget(self) -> None:
        self.rows.clear()
        self.failed = None
        if self.connection is not None:
            _BY_CONNECTION.pop(self.connection, None)
        self.connection = None

    @staticmethod
    def _write(connection: Connection, rows: list[tuple[Table, dict[str, Any]]]) -> None:
        start = 0
        while start < len(rows):
            table, first = rows[start]
            names = tuple(first)
            end = start + 1
            while (
                end < len(rows)
                and end - start < MAX_ROWS
                and rows[end][0] is table
                and tuple(rows[end][1]) == names
            ):
                end += 1
            batch = [values for _, values in rows[start:end]]
            _insert_many(connection, table, names, batch)
            start = end


#: The rows waiting on each connection a session's transaction holds (for the connection's
#: own events: they know no session).
_BY_CONNECTION: WeakKeyDictionary[Connection, _Waiting] = WeakKeyDictionary()


@contextmanager
def writing_later(session: Session) -> Iterator[None]:
    """Within the block, `insert_later` lets rows wait (see the module's docstring); what
    still waits at its end is written then."""
    waiting = session.info.setdefault(_WAITING, _Waiting())
    try:
        yield
        write_waiting(session)
    finally:
        waiting.forget()
        session.info.pop(_WAITING, None)


def insert_later(session: Session, table: Table, values: dict[str, Any]) -> int | None:
    """Insert a row of `table` (`values` by column name: every column but the key) in the
    session's transaction: at once, returning its key, or with the next statement when
    `writing_later` is on (None: nothing may refer to it)."""
    waiting: _Waiting | None = session.info.get(_WAITING)
    if waiting is None:
        return insert_returning_id(session, table, values)
    if waiting.failed is not None:
        raise waiting.failed
    connection = session.connection()  # (in a savepoint of the session: sends its SAVEPOINT)
    if session.in_nested_transaction() or connection.in_nested_transaction():
        return insert_returning_id(session, table, values)  # (what waits goes first)
    if waiting.connection is None:
        waiting.connection = connection
        _BY_CONNECTION[connection] = waiting
    waiting.rows.append((table, values))
    if len(waiting.rows) >= MAX_ROWS:
        write_waiting(session)
    return None


def write_waiting(session: Session) -> None:
    """Write the rows waiting now (the consecutive ones of a table by one INSERT)."""
    waiting: _Waiting | None = session.info.get(_WAITING)
    if waiting is not None:
        waiting.write()


#: Multi-row INSERTs compiled per dialect (an engine's), then by table, columns and rows.
_COMPILED: WeakKeyDictionary[Dialect, dict[tuple[Table, tuple[str, ...], int], CompiledInsert]] = (
    WeakKeyDictionary()
)


def _insert_many(
    connection: Connection, table: Table, names: tuple[str, ...], rows: list[dict[str, Any]]
) -> None:
    dialect = connection.dialect
    known = _COMPILED.setdefault(dialect, {})
    compiled = known.get((table, names, len(rows)))
    if compiled is None:
        compiled = known[table, names, len(rows)] = _compiled_many(table, dialect, names, len(rows))
    params = {f"{name}_{i}": row[name] for i, row in enumerate(rows) for name in names}
    execute_compiled(connection, compiled, params)


def _compiled_many(
    table: Table, dialect: Dialect, names: tuple[str, ...], count: int
) -> CompiledInsert:
    require_columns(table, names)
    statement = table.insert().values(
        [
            {table.c[name]: bindparam(f"{name}_{i}", type_=table.c[name].type) for name in names}
            for i in range(count)
        ]
    )
    return CompiledInsert.of(statement.compile(dialect=dialect), dialect)


def _waiting_on(connection: Connection) -> _Waiting | None:
    waiting = _BY_CONNECTION.get(connection)
    return waiting if waiting is not None and waiting.rows else None


@event.listens_for(Engine, "before_cursor_execute")
def _before_a_statement(connection: Connection, *_: object) -> None:
    waiting = _waiting_on(connection)
    if waiting is not None and waiting.failed is None:
        waiting.write()  # (its INSERTs go to the driver: no event, no recursion)


@event.listens_for(Engine, "savepoint")
def _before_a_savepoint(connection: Connection, _name: str | None) -> None:
    waiting = _waiting_on(connection)
    if waiting is not None and waiting.failed is None:
        waiting.write()


@event.listens_for(Engine, "commit")
def _before_the_commit(connection: Connection) -> None:
    waiting = _BY_CONNECTION.get(connection)
    if waiting is not None:
        waiting.write()  # raises the error of a write that failed: no commit after it


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_at_end(session: OrmSession, transaction: SessionTransaction) -> None:
    waiting: _Waiting | None = session.info.get(_WAITING)
    if waiting is not None and transaction.parent is None:  # rolled back, or committed
        waiting.forget()
