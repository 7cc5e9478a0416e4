"""`noxbot web` and `noxbot staff`: the staff console in the browser and its accounts."""

from __future__ import annotations

import asyncio
import signal
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
from bot.cli.output import Column, print_table
from bot.config import Settings, WebSettings
from bot.web import accounts

staff_app = NoxTyper(help="Staff accounts of the web console.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")


def _web(settings: Settings) -> WebSettings:
    return settings.web or WebSettings()


@app.command("web", short_help="Serve the staff console in the browser.")
def web_command(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address (\\[web] host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (\\[web] port).")] = None,
) -> None:
    """Serve the staff console in the browser until Ctrl-C (on 127.0.0.1 unless \\[web] host
    says otherwise; put a TLS reverse proxy in front to reach it from elsewhere)."""
    from bot.web.server import serve_console

    settings, database, services = services_for(config)
    web = _web(settings)
    web = web.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v})

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve_console(database, services, web, stop, listening=say_where)

    def say_where() -> None:
        console.print(f"noxbot web console on http://{web.host}:{web.port}/ ; Ctrl-C stops it.")

    asyncio.run(main())


def _link(web: WebSettings, token: str) -> str:
    return f"{web.base_url.rstrip('/')}/setup/{token}"


@staff_app.command("add")
def staff_add(name: str, config: ConfigOption = None) -> None:
    """A new staff account; prints a one-time link where the person chooses a password."""
    settings, database, services = services_for(config)
    web = _web(settings)
    with database.session() as session:
        _, token = accounts.add_account(
            session,
            name,
            now=services.clock(),
            actor=staff_actor(),
            setup_hours=web.setup_link_hours,
        )
    console.print(
        f"Staff account {name} added. Give them this one-time link (valid "
        f"{web.setup_link_hours} hours) to choose a password:\n  {_link(web, token)}"
    )


@staff_app.command("reset")
def staff_reset(name: str, config: ConfigOption = None) -> None:
    """Forget the password, log the person out, and print a new one-time setup link (a
    disabled account is enabled again by it)."""
    settings, database, services = services_for(config)
    web = _web(settings)
    with database.session() as session:
        was_disabled = accounts.get_account(session, name).disabled
        token = accounts.reset_account(
            session,
            name,
            now=services.clock(),
            actor=staff_actor(),
            setup_hours=web.setup_link_hours,
        )
    again = " and enabled again (it was disabled)" if was_disabled else ""
    console.print(f"{name} is logged out{again}; new one-time setup link:\n  {_link(web, token)}")


@staff_app.command("disable")
def staff_disable(name: str, config: ConfigOption = None) -> None:
    """No more logins for this account; its open sessions end now (reset enables it again)."""
    _, database, services = services_for(config)
    with database.session() as session:
        accounts.disable_account(session, name, now=services.clock(), actor=staff_actor())
    console.print(f"{name} is disabled and logged out.")


@staff_app.command("list")
def staff_list(
    config: ConfigOption = None, output_format: FormatOption = OutputFormat.TEXT
) -> None:
    """The staff accounts and whether each can log in."""
    _, database, _ = services_for(config)
    with database.session() as session:
        rows = [
            {
                "name": a.name,
                "state": "disabled"
                if a.disabled
                else ("active" if a.password_hash else "waiting for password setup"),
                "created_at": a.created_at.isoformat(),
            }
            for a in accounts.list_accounts(session)
        ]
    if output_format is OutputFormat.JSON:
        print_json(rows)
        return
    print_table(
        console,
        (Column("name", key=True), Column("state"), Column("created")),
        [(r["name"], r["state"], r["created_at"][:10]) for r in rows],
    )
