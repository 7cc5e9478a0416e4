"""`noxbot subjects import|list`: the register of people on file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import col, select

from bot.cli.app import (
    ConfigOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    print_json,
    services_for,
    settings_and_database,
    staff_actor,
)
from bot.cli.helptext import NoxTyper
from bot.cli.output import Column, print_table
from bot.reading.identity_numbers import mask_identity_numbers
from bot.store import audit
from bot.store.register import as_written, import_file
from bot.store.tables import Subject
from bot.workflow.views import subject_json

subjects_app = NoxTyper(help="The register of people on file.", no_args_is_help=True)
app.add_typer(subjects_app, name="subjects")


@subjects_app.command("import")
def subjects_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with a header row (comma, semicolon or tab), or a JSON list of objects "
            "(the columns are listed above)."
        ),
    ],
    config: ConfigOption = None,
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Import people (re-import updates, never duplicates, and replaces contact points by what
    the file says; bad rows, renamed people and retired contact points are reported).

    Columns (CSV header, any case) or keys (JSON objects, lower case): name (needed for a new
    person); email, phone, telegram_user_id (each row needs at least one: that is how the
    person is found again; several separated by ";", or a JSON list); company, org_number,
    roles, competences, availability, cv. Any other column is kept as an extra field. Also
    read: namn, e-post/epost, telefon/mobil, bolag/företag, cv_text, telegram/telegram_id.
    Phone numbers Swedish or international (070-123 45 67, +44 7700 900123). A column the
    file has decides: an empty cell empties that field or removes those contact points.

    \b
    Example (CSV; a semicolon or tab separator works too):
      name,email,phone,company
      Anna Berg,anna.berg@example.se,070-555 01 99;08-555 123 45,Berg AB
    Example (JSON):
      [{"name": "Anna Berg", "email": "anna.berg@example.se",
        "phone": ["070-555 01 99", "08-555 123 45"], "company": "Berg AB"}]
    """
    _, database, services = services_for(config)
    with database.session() as session:
        report = import_file(
            session,
            file,
            now=services.clock(),
            actor=staff_actor(),
            hash_key=services.hash_key,
            masked=mask_identity_numbers,
        )
        audit.record(
            session,
            at=services.clock(),
            actor=staff_actor(),
            action="subjects_imported",
            detail=f"{file.name}: {report.created} new, {report.updated} updated, "
            f"{report.unchanged} unchanged, "
            f"{len(report.problems)} rejected, {len(report.renamed)} renamed, "
            f"{len(report.retired)} contact points retired",
        )
    if output_format is OutputFormat.JSON:
        print_json(
            {
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                # "line" in a CSV file, "item" (from 1) in a JSON list
                "problems": [{p.unit: p.line, "error": p.message} for p in report.problems],
                # Told by line and person, never by value: names and numbers stay in the file.
                "renamed": [
                    {c.unit: c.line, "subject_id": c.subject_id, "matched_by": list(c.matched_by)}
                    for c in report.renamed
                ],
                "retired": [
                    {c.unit: c.line, "subject_id": c.subject_id, "kind": c.what}
                    for c in report.retired
                ],
                "changed": [
                    {c.unit: c.line, "subject_id": c.subject_id, "fields": list(c.fields)}
                    for c in report.changed
                ],
                "notes": report.notes,
                # Where a personal identity number was masked: line or item, and columns.
                "masked": [{m.unit: m.line, "columns": m.message} for m in report.masked],
            }
        )
    else:
        for note in report.notes:
            console.print(f"note: {note}")
        console.print(
            f"{report.created} new, {report.updated} updated, "
            + (f"{report.unchanged} unchanged, " if report.unchanged else "")
            + f"{len(report.problems)} rejected"
            + (f", {len(report.renamed)} renamed" if report.renamed else "")
            + (f", {len(report.retired)} contact points retired" if report.retired else "")
            + (f", {len(report.changed)} people's fields changed" if report.changed else "")
        )
        for problem in report.problems:
            console.print(f"  {problem.where}: {problem.message}")
        for masked in report.masked:
            console.print(
                f"  {masked.where}: a personal identity number masked in {masked.message} "
                "(the privacy policy needs none)"
            )
        changes = [*report.renamed, *report.retired, *report.changed]
        for change in sorted(changes, key=lambda c: c.line):
            console.print(f"  {change.where}: {change.describe()}")
    if report.problems:
        raise typer.Exit(1)


@subjects_app.command("list")
def subjects_list(
    config: ConfigOption = None, output_format: FormatOption = OutputFormat.TEXT
) -> None:
    """People on file, with their contact points and the flags the system honours."""
    _, database = settings_and_database(config)
    with database.session() as session:
        people = [
            subject_json(session, s)
            for s in session.exec(select(Subject).order_by(col(Subject.id)))
        ]
    if output_format is OutputFormat.JSON:
        print_json(people)
        return
    columns = (
        Column("id", key=True),
        Column("name"),
        Column("email", key=True),
        Column("phone", key=True),
        Column("telegram", key=True),
        Column("company", drop_order=1),
        Column("flags"),
    )
    rows = [
        (
            str(p["id"]),
            p["name"],
            "\n".join(p["email"]),  # one address a line: each stays whole
            # Stored +46701234567; staff read (and may type back) "+46 70 123 45 67".
            "\n".join(as_written(n, "phone", "en") for n in p["phone"]),
            "\n".join(p["telegram_user_id"]),
            p["company"] or "",
            ", ".join(
                f
                for f in ("restricted", "objected", "marketing_suppressed", "consent_withdrawn")
                if p[f]
            ),
        )
        for p in people
    ]
    print_table(console, columns, rows)
