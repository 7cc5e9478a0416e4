"""`noxbot demo`: the whole flow on embedded defaults, no accounts needed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.app import app, console


@app.command("demo")
def demo_command(
    keep: Annotated[
        Path | None,
        typer.Option(
            help="A new or empty folder: the demo database is kept there, with a config.toml "
            "to explore it (noxbot requests list -c FOLDER/config.toml)."
        ),
    ] = None,
) -> None:
    """Run the whole flow on embedded defaults (SQLite, in-memory channels) and show it."""
    from bot.cli.demo_story import demo

    demo(keep, console)
