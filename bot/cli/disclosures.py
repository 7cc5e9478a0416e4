"""`noxbot disclosures import FILE`: the record of who received a person's data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.app import (
    ConfigOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    print_json,
    services_for,
    staff_actor,
)
from bot.cli.helptext import NoxTyper
from bot.errors import NoxbotError
from bot.files import read_named_file
from bot.sources.sql import SqlDatabase
from bot.store import audit
from bot.store.disclosures import import_disclosures, import_rows

disclosures_app = NoxTyper(
    help="Who received a person's data (for access replies and Art. 19 notices).",
    short_help="Who received a person's data (Art. 15, Art. 19).",
    no_args_is_help=True,
)
app.add_typer(disclosures_app, name="disclosures")


@disclosures_app.command("import")
def disclosures_import(
    file: Annotated[
        Path | None,
        typer.Argument(help="CSV with the header person,recipient,recipient_email,date,what."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="Instead of a file: the SQL source (\\[\\[sources]]) whose disclosures "
            "statement returns those columns."
        ),
    ] = None,
    config: ConfigOption = None,
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Import disclosures: `person` is an email or phone on file, `date` is YYYY-MM-DD,
    `recipient_email` may be empty (an Art. 19 notice then becomes a checklist item). A file
    with any bad row imports nothing; importing the same row twice adds it once."""
    if (file is None) == (source is None):
        raise typer.BadParameter("give a CSV FILE or --source NAME (one of them)")
    _settings, database, services = services_for(config)
    rows = None
    if source is not None:
        sql = next(
            (s for s in services.sources or [] if s.name == source and isinstance(s, SqlDatabase)),
            None,
        )
        if sql is None:
            raise NoxbotError(f"--source {source}: no [[sources]] of type 'sql' has that name")
        rows = sql.disclosures()
        sql.dispose()
    with database.session() as session:
        if rows is not None:
            result = import_rows(session, rows, now=services.clock(), hash_key=services.hash_key)
        else:
            assert file is not None
            data = read_named_file(file, "a CSV file")
            result = import_disclosures(
                session, data, now=services.clock(), hash_key=services.hash_key
            )
        audit.record(
            session,
            at=services.clock(),
            actor=staff_actor(),
            action="disclosures_imported",
            detail=f"{file.name if file else source}: {result.added} new, "
            f"{result.already} already on record, {result.erased} of erased people",
        )
    if output_format is OutputFormat.JSON:
        print_json({"added": result.added, "already": result.already, "erased": result.erased})
        return
    erased = (
        f"; {result.erased} about people erased from the register, skipped" if result.erased else ""
    )
    console.print(
        f"{result.added} disclosure(s) imported, {result.already} already on record{erased}"
    )
