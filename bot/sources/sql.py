"""An SQL database reachable by an SQLAlchemy URL, with statements declared per table in
config. Parameters are always bound (:name, :emails, :phones — the lists expand to IN
lists), never formatted into the statement; erase, update (rectification, also binding :new
and :old) and restrict run per row found with that row's key bound."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import String, bindparam, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.messages import Attachment
from bot.config import SqlSource, SqlTable, without_passwords
from bot.sources.base import Found, Person, SourceError


def _statement(sql: str):  # type: ignore[no-untyped-def]
    statement = text(sql)
    expanding = [
        bindparam(n, expanding=True, type_=String)  # an empty list is an empty text set
        for n in ("emails", "phones")
        if f":{n}" in sql
    ]
    return statement.bindparams(*expanding) if expanding else statement


class SqlDatabase:
    def __init__(self, config: SqlSource):
        self.config = config
        self.name = config.name
        self._engine: Engine | None = None

    def _connect(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.config.url, pool_pre_ping=True)
        return self._engine

    def _failed(self, exc: Exception) -> SourceError:
        detail = without_passwords(str(exc).splitlines()[0], self.config.url)
        return SourceError(f"{self.name}: the database failed ({detail})")

    def find(self, person: Person) -> list[Found]:
        params: dict[str, Any] = {
            "name": person.name or "",
            "emails": list(person.emails),
            "phones": list(person.phones),
        }
        found = []
        try:
            with self._connect().connect() as connection:
                for index, table in enumerate(self.config.tables):
                    statement = _statement(table.lookup)
                    used = {k: v for k, v in params.items() if f":{k}" in table.lookup}
                    for row in connection.execute(statement, used).mappings():
                        found.append(self._found(index, table, dict(row)))
        except SQLAlchemyError as exc:
            raise self._failed(exc) from None
        return found

    def _found(self, index: int, table: SqlTable, row: dict[str, Any]) -> Found:
        if table.key not in row:
            raise SourceError(f"{self.name}: {table.label}: lookup returns no {table.key} column")
        shown = table.show or [c for c in row if c != table.key]
        return Found(
            ref=json.dumps([index, row[table.key]], default=str),
            summary=table.label,
            category=self.config.category,
            erasable=table.erase is not None,
            details=tuple((c, str(row[c])) for c in shown if row.get(c) not in (None, "")),
        )

    def _run(self, ref: str, which: str) -> str:
        index, key = json.loads(ref)
        table = self.config.tables[index]
        sql = getattr(table, which)
        if sql is None:
            raise SourceError(f"{self.name}: {table.label} has no {which} statement")
        try:
            with self._connect().begin() as connection:
                result = connection.execute(text(sql), {table.key: key})
        except SQLAlchemyError as exc:
            raise self._failed(exc) from None
        done = {"erase": "erased", "restrict": "restricted"}[which]
        return f"{table.label}: {result.rowcount} row(s) {done}"

    def erase(self, ref: str) -> str:
        return self._run(ref, "erase")

    def table_of(self, ref: str) -> SqlTable:
        """The configured table a found row is in."""
        return self.config.tables[json.loads(ref)[0]]

    def rectify(self, ref: str, changes: list[tuple[str, str, str]]) -> str:
        """Run the table's `update` statement for each (field, old, new) it has one for, on
        the row found, in one transaction: the row is changed wholly or not at all."""
        index, key = json.loads(ref)
        table = self.config.tables[index]
        wanted = [(f, old, new) for f, old, new in changes if f in table.update]
        if not wanted:
            raise SourceError(f"{self.name}: {table.label} has no update statement for these")
        try:
            with self._connect().begin() as connection:
                for field, old, new in wanted:
                    sql = table.update[field]
                    values = {"new": new, "old": old, table.key: key}
                    connection.execute(
                        text(sql), {k: v for k, v in values.items() if f":{k}" in sql}
                    )
        except SQLAlchemyError as exc:
            raise self._failed(exc) from None
        return f"{table.label}: {', '.join(f for f, _, _ in wanted)} updated"

    def restrict(self, ref: str) -> str:
        return self._run(ref, "restrict")

    def attachment(self, ref: str) -> Attachment | None:
        return None

    def disclosures(self) -> list[dict[str, Any]]:
        """The rows of the configured `disclosures` query (person, recipient, ...)."""
        if self.config.disclosures is None:
            raise SourceError(f"{self.name}: no disclosures statement is configured")
        try:
            with self._connect().connect() as connection:
                return [
                    dict(r) for r in connection.execute(text(self.config.disclosures)).mappings()
                ]
        except SQLAlchemyError as exc:
            raise self._failed(exc) from None

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
