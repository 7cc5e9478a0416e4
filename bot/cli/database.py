"""`noxbot db upgrade` and `noxbot check`: schema and configuration."""

from __future__ import annotations

import asyncio

import typer
from rich.text import Text

from bot.cli.app import ConfigOption, app, console
from bot.cli.helptext import NoxTyper
from bot.config import load_settings
from bot.runtime.reach import (
    Probe,
    check_database,
    check_records,
    check_servers,
    check_sources,
    check_templates,
    check_verification_secret,
)
from bot.store.database import Database, current_revision, upgrade

db_app = NoxTyper(help="The database schema.", no_args_is_help=True)
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


@app.command("check", short_help="Check the config, the database and every server.")
def check(config: ConfigOption = None) -> None:
    """Validate the config, reach the database and each configured server; say clearly what
    is wrong, one line each (exit status 1). Nothing is created or changed."""
    settings = load_settings(config)
    console.print(f"Config: OK ({settings.source})")
    probes = [
        check_database(settings),
        check_verification_secret(settings),
        check_records(settings),
        *check_sources(settings),
    ]
    if (templates := check_templates(settings)) is not None:
        probes.append(templates)
    for probe in probes:
        _print_probe(probe)
    servers = iter(asyncio.run(check_servers(settings)))  # the configured ones, in this order
    for section, name in (("imap", "IMAP"), ("smtp", "SMTP"), ("telegram", "Telegram")):
        if getattr(settings, section) is None:
            console.print(f"{name}: not configured")
        else:
            probes.append(probe := next(servers))
            _print_probe(probe)
    if not all(p.ok for p in probes):
        raise typer.Exit(1)


def _print_probe(probe: Probe) -> None:
    mark = Text("OK") if probe.ok else Text("FAILED", style="red")
    # One line per problem, however long: soft_wrap leaves the wrapping to the terminal.
    console.print(Text.assemble(f"{probe.name}: ", mark, f" ({probe.detail})"), soft_wrap=True)
