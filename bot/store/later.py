"""Rows written later, many to one INSERT: the audit trail's events and ordinary mail while
a batch of inbound messages is written (bot.runtime.intake.handle_batch).

On PostgreSQL each statement is a round trip, and a batch of the bench's mail made 3.6 a
message: an INSERT for every ordinary mail, four audit events for every new request. Rows
that nothing refers to and nothing reads back at once can wait and go together, one
multi-row INSERT for the consecutive rows of a table (bench mix: 363 statements per 100
messages → 243). What must still hold, and how:

- Whatever reads the database sees them: they are written before any statement the
  session executes (`do_orm_execute`: every query, `session.get`, a lazy load, the audit
  chain's lock and head) and before the commit. A Core statement run on
  `session.connection()` does not trigger it: none of those reads ordinary mail or the
  audit trail (bot.store.register, .records, bot.workflow.cases, .outbox).
- A savepoint that rolls back takes only what was done inside it: waiting rows are written
  as a savepoint is begun, before its SAVEPOINT, and inside one nothing waits (a row is
  written at once). A transaction that rolls back drops what still waits.
- Order: rows are written in the order they were given (the audit chain's ids follow its
  hashes); a row inserted at once into a table some of whose rows wait, and any flush of
  the session, goes after them (message ids follow the order mail was read in).
- A row the database refuses fails the statement that writes the waiting rows, whichever
  message's it was: handle_batch then writes the batch again message by message, in
  savepoints, with nothing waiting, and the message it belongs to alone is quarantined.

Only a caller that can live with that last point turns it on (`writing_later`); anywhere
else `insert_later` inserts at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Table, bindparam
from sqlalchemy import event as orm_event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import ORMExecuteState, SessionTransaction
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from bot.store.rows import WAITING as _WAITING
from bot.store.rows import CompiledInsert, execute_compiled, insert_returning_id

#: Rows of one table written by one INSERT at most (PostgreSQL and SQLite take thousands of
#: parameters; a message row has twenty).
MAX_ROWS = 50


@dataclass
class _Waiting:
    """The rows waiting, and the connection of the transaction they belong to (the
    session's, taken when the first was given: never a savepoint's)."""

    connection: Connection | None = None
    rows: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)

    def holds(self, table: Table) -> bool:
        return any(waiting is table for waiting, _ in self.rows)

    def write(self) -> None:
        """Write the rows waiting, the consecutive ones of a table by one INSERT."""
        rows, self.rows = self.rows, []
        if not rows:
            return
        assert self.connection is not None  # (taken with the first row)
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
            _insert_many(self.connection, table, names, batch)
            start = end


@contextmanager
def writing_later(session: Session) -> Iterator[None]:
    """Within the block, `insert_later` lets rows wait (see the module's docstring); what
    still waits at its end is written then."""
    waiting = session.info.setdefault(_WAITING, _Waiting())
    try:
        yield
        write_waiting(session)
    finally:
        waiting.rows.clear()
        session.info.pop(_WAITING, None)


def insert_later(session: Session, table: Table, values: dict[str, Any]) -> int | None:
    """Insert a row of `table` (`values` by column name: every column but the key) in the
    session's transaction: at once, returning its key, or with the next statement when
    `writing_later` is on (None: nothing may refer to it)."""
    waiting: _Waiting | None = session.info.get(_WAITING)
    if waiting is None or session.in_nested_transaction():
        if waiting is not None and waiting.rows:
            write_waiting(session)
        return insert_returning_id(session, table, values)
    if waiting.connection is None:
        waiting.connection = session.connection()
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
    missing = {c.name for c in table.columns if not c.primary_key} - set(names)
    if missing:  # (SQLAlchemy would fill in a default the driver never hears of)
        raise TypeError(f"an INSERT into {table.name} needs {', '.join(sorted(missing))}")
    statement = table.insert().values(
        [
            {table.c[name]: bindparam(f"{name}_{i}", type_=table.c[name].type) for name in names}
            for i in range(count)
        ]
    )
    return CompiledInsert.of(statement.compile(dialect=dialect), dialect)


def _rows_wait(session: OrmSession) -> bool:
    waiting: _Waiting | None = session.info.get(_WAITING)
    return waiting is not None and bool(waiting.rows)


@orm_event.listens_for(OrmSession, "do_orm_execute")
def _before_a_statement(state: ORMExecuteState) -> None:
    if _rows_wait(state.session):
        write_waiting(state.session)  # type: ignore[arg-type]


@orm_event.listens_for(OrmSession, "before_flush")
def _before_a_flush(session: OrmSession, _context: object, _instances: object) -> None:
    # (Ids follow the order rows were given in: a message flushed after ordinary mail that
    # waits gets the higher id, as it would have.)
    if _rows_wait(session):
        write_waiting(session)  # type: ignore[arg-type]


@orm_event.listens_for(OrmSession, "before_commit")
def _before_commit(session: OrmSession) -> None:
    if _rows_wait(session):
        write_waiting(session)  # type: ignore[arg-type]


@orm_event.listens_for(OrmSession, "after_transaction_create")
def _before_a_savepoint(session: OrmSession, transaction: SessionTransaction) -> None:
    # (Its SAVEPOINT is not yet sent: the waiting rows go on the transaction's connection
    # before it, so that rolling back to it cannot take them.)
    if transaction.nested and _rows_wait(session):
        write_waiting(session)  # type: ignore[arg-type]


@orm_event.listens_for(OrmSession, "after_transaction_end")
def _forget_at_end(session: OrmSession, transaction: SessionTransaction) -> None:
    waiting: _Waiting | None = session.info.get(_WAITING)
    if waiting is not None and transaction.parent is None:  # rolled back, or committed
        waiting.rows.clear()
        waiting.connection = None
