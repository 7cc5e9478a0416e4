"""`noxbot db upgrade` and `noxbot check`: schema and configuration."""

from __future__ import annotations

import asyncio

import typer

from bot.cli.app import ConfigOption, app, console
from bot.config import load_settings
from bot.db import Database, current_revision, head_revision, upgrade
from bot.reach import check_servers

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply schema migrations (also done on every start)."""
    settings = load_settings(config)
    database = Database(settings.database.url, migrate=False)
    before = current_revision(database.engine)
    after = upgrade(database.engine)
    if before == after:
        console.print(f"Database is up to date (revision {after}).")
    else:
        console.print(f"Database upgraded from {before or 'empty'} to revision {after}.")
    database.dispose()


@app.command("check")
def check(config: ConfigOption = None) -> None:
    """Validate the config, reach the database and each configured server; say clearly what
    is wrong (exit status 1)."""
    settings = load_settings(config)
    console.print(f"Config: OK ({settings.source})")
    database = Database(settings.database.url, migrate=False)
    database_ok = True
    try:
        revision = current_revision(database.engine)
    except Exception as exc:  # any driver error: say which, go on checking the rest
        database_ok = False
        console.print(
            f"Database: [red]FAILED[/red] ({type(exc).__name__}: {str(exc).splitlines()[0]})",
            highlight=False,
        )
    else:
        head = head_revision()
        state = (
            "up to date"
            if revision == head
            else f"at {revision or 'empty'}, will upgrade to {head}"
        )
        console.print(f"Database: reachable, schema {state}")
    finally:
        database.dispose()
    for section in ("imap", "smtp", "telegram"):
        if getattr(settings, section) is None:
            console.print(f"{section.upper()}: not configured")
    probes = asyncio.run(check_servers(settings))
    for probe in probes:
        mark = "OK" if probe.ok else "[red]FAILED[/red]"
        console.print(f"{probe.name}: {mark} ({probe.detail})", highlight=False)
    if not database_ok or not all(p.ok for p in probes):
        raise typer.Exit(1)
